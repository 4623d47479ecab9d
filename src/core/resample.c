/* SPDX-License-Identifier: BSD-3-Clause */
/* Counter-based Poisson resampling of count histograms, and order-free summaries of replicates. */
#include "core/resample.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <Random123/philox.h>
#include <gsl/gsl_cdf.h>

#include "core/acc.h"

/* The random numbers of one bin b: first word (b mod 4) of the Philox4x64-10
 * block at counter (b div 4, replicate, input, 0), which four neighbouring
 * bins share (most draws need one number, so a block serves four bins),
 * then the bin's own blocks of four 64-bit words at counters (b,
 * replicate, input, 1), (..., 2), ... taken in order, all under the key
 * (seed, stream). The counters differ in their last word or their first,
 * so no block is used twice; a bin's stream is as long as any draw needs
 * (2^66 words), so how many numbers a draw consumes changes nothing for
 * the other bins. */
typedef struct rs_state {
    philox4x64_ctr_t ctr;
    philox4x64_key_t key;
    philox4x64_ctr_t out;
    uint64_t first; /* the bin's word of its group's block */
    unsigned next;  /* next word of out; 4: out is used up; 5: first not yet taken */
} rs_state;

/* The block of bins 4 g .. 4 g + 3 of one replicate of one input. */
static philox4x64_ctr_t rs_group(const h5div_rs_key *k, uint64_t input, uint64_t g)
{
    philox4x64_ctr_t c = {{g, k->replicate, input, 0}};
    philox4x64_key_t key = {{k->seed, k->stream}};
    return philox4x64(c, key);
}

/* The state of bin `bin` whose group block is blk. */
static void rs_start(rs_state *st, const h5div_rs_key *k, uint64_t input, uint64_t bin,
                     const philox4x64_ctr_t *blk)
{
    st->key.v[0] = k->seed;
    st->key.v[1] = k->stream;
    st->ctr.v[0] = bin;
    st->ctr.v[1] = k->replicate;
    st->ctr.v[2] = input;
    st->ctr.v[3] = 1;
    st->first = blk->v[bin & 3u];
    st->next = 5;
}

static uint64_t rs_word(rs_state *st)
{
    if (st->next == 5) {
        st->next = 4;
        return st->first;
    }
    if (st->next == 4) {
        st->out = philox4x64(st->ctr, st->key);
        st->ctr.v[3]++;
        st->next = 0;
    }
    return st->out.v[st->next++];
}

/* A mean hi + lo in [0, 2^64), both finite. */
static int rs_valid(double hi, double lo)
{
    if (!isfinite(hi) || !isfinite(lo) || !(hi >= 0.0) || !(fabs(lo) < 0x1p62))
        return 0;
    if (hi + lo < 0.0)
        return 0;
    return hi < 0x1p64 || (hi == 0x1p64 && lo < 0.0);
}

/* Poisson(hi + lo) for means above H5DIV_RS_EXACT_MAX.
 *
 * Why not GSL here: gsl_ran_poisson returns an unsigned int, and its
 * recursion converts 7/8 of the mean to unsigned int and hands the
 * binomial step an int count, so beyond about 2^32 it wraps or worse (GSL
 * 2.7.1: gsl_ran_poisson(5e9) gave 704893790, 5e9 - 2^32 plus noise, and
 * the next call did not return); and its gamma step (gamma_large)
 * evaluates (a - 1) log(x / (a - 1)) with an absolute error of about
 * a * 1e-16, 0.1 in an exponent near 2^60. GSL has no 64-bit Poisson
 * generator, and a sum of 2^31-sized pieces costs up to 2^32 draws. Why
 * not PTRS (below): it computes its candidate k in double, so beyond 2^53
 * it could not return most integers; 2^31 keeps it far from that.
 *
 * So: Y = lambda + sqrt(lambda) w with the Cornish-Fisher expansion of the
 * Poisson quantile (cumulants all lambda: skewness lambda^-1/2, excess
 * kurtosis 1/lambda),
 *   sqrt(lambda) w = s z + (z^2 - 1) / 6 + (z - z^3) / (72 s),  s = sqrt(lambda),
 * z a standard normal from one uniform (the inverse normal CDF), and the
 * lattice rule X = ceil(Y - 1/2), i.e. X <= k exactly when Y <= k + 1/2
 * (the continuity correction). The expansion's CDF error is O(1/lambda),
 * below 5e-10 here: no sample of feasible size tells X from a Poisson
 * variate (the test suite checks the fit at 2^60 against scipy).
 *
 * The mean is split exactly into an integer N and a fraction f in [0, 1),
 * and only the deviation ceil(f - 1/2 + s z + ...) is computed in double
 * (magnitude below 9 s < 2^36, so its ulp is below 1e-5): X = N + that,
 * in integer arithmetic, so every integer near a mean of 2^60 can come
 * out, not just multiples of the doubles' spacing there (256). */
static uint64_t rs_normal(rs_state *st, double hi, double lo)
{
    double nh = floor(hi), nl = floor(lo);
    double f = (hi - nh) + (lo - nl); /* both parts exact; f in [0, 2) */
    int64_t carry = 0;
    if (f >= 1.0) {
        f -= 1.0;
        carry = 1;
    }
    /* N = nh + nl + carry modulo 2^64 (hi may be 2^64 with lo < 0). */
    uint64_t n = hi >= 0x1p63 ? (uint64_t)(nh - 0x1p63) + (UINT64_C(1) << 63) : (uint64_t)nh;
    n += (uint64_t)((int64_t)nl + carry);

    double s = sqrt(hi + lo);
    double u = ((double)(rs_word(st) >> 11) + 0.5) * 0x1p-53; /* in (0, 1) */
    double z = gsl_cdf_ugaussian_Pinv(u);
    double z2 = z * z;
    double y = (f - 0.5) + s * z + (z2 - 1.0) / 6.0 + z * (1.0 - z2) / (72.0 * s);
    double d = ceil(y);
    if (d >= 0.0) {
        uint64_t x = n + (uint64_t)d;
        return x < n ? UINT64_MAX : x;
    }
    /* |d| < 9 s + 1 < N for a mean above 2^31. */
    return n - (uint64_t)(-d);
}

/* A uniform double in [0, 1) with 53 random bits. */
static double rs_uniform(rs_state *st)
{
    return (double)(rs_word(st) >> 11) * 0x1p-53;
}

/* Loader's deviance term x log(x / m) + m - x, without the cancellation of
 * that formula for x near m (C. Loader, Fast and accurate computation of
 * binomial probabilities, 2000; R's bd0). */
static double rs_bd0(double x, double m)
{
    if (fabs(x - m) < 0.1 * (x + m)) {
        double v = (x - m) / (x + m), s = (x - m) * v, ej = 2.0 * x * v;
        v *= v;
        for (int j = 1; j < 1000; j++) {
            ej *= v;
            double s1 = s + ej / (2 * j + 1);
            if (s1 == s)
                return s1;
            s = s1;
        }
    }
    return x * log(x / m) + m - x;
}

/* log k! - log(sqrt(2 pi k) (k / e)^k) for k > 15: the Stirling series. */
static double rs_stirlerr(double k)
{
    const double s0 = 1.0 / 12, s1 = 1.0 / 360, s2 = 1.0 / 1260, s3 = 1.0 / 1680, s4 = 1.0 / 1188;
    double kk = k * k;
    if (k > 500)
        return (s0 - s1 / kk) / k;
    if (k > 80)
        return (s0 - (s1 - s2 / kk) / kk) / k;
    if (k > 35)
        return (s0 - (s1 - (s2 - s3 / kk) / kk) / kk) / k;
    return (s0 - (s1 - (s2 - (s3 - s4 / kk) / kk) / kk) / kk) / k;
}

/* log P(X = k) for X ~ Poisson(lambda), to about 1e-15 relative even
 * where lambda and k are 2^31: -lambda + k log lambda - log k! cancels
 * there to the last 5 digits, so k > 15 uses Loader's saddle-point form
 * -stirlerr(k) - bd0(k, lambda) - log(2 pi k) / 2. */
static double rs_log_pmf(double k, double lambda, double loglam)
{
    static const double fact[16] = {1.0,         1.0,          2.0,           6.0,
                                    24.0,        120.0,        720.0,         5040.0,
                                    40320.0,     362880.0,     3628800.0,     39916800.0,
                                    479001600.0, 6227020800.0, 87178291200.0, 1307674368000.0};
    if (k <= 15)
        return -lambda + k * loglam - log(fact[(int)k]);
    const double ln_2pi = 1.8378770664093454836; /* log(2 pi) */
    return -rs_stirlerr(k) - rs_bd0(k, lambda) - 0.5 * (ln_2pi + log(k));
}

/* Poisson(lambda) for 10 <= lambda <= H5DIV_RS_EXACT_MAX (but integer means
 * up to H5DIV_RS_TABLE_MAX: rs_tabled below): Hoermann's
 * transformed rejection with squeeze, PTRS (W. Hoermann, The transformed
 * rejection method for generating Poisson random variables, Insurance:
 * Mathematics and Economics 12, 1993; numpy's generator for lambda >= 10),
 * exact in distribution, two uniforms a trial, about 1.1 trials a draw.
 *
 * Why not gsl_ran_poisson here: its recursion (a gamma variate of order
 * 7/8 lambda by the tangent method, then a binomial, repeated) took 164,
 * 314, 630 and 928 ns of CPU a draw at means 30, 1e3, 1e6 and 1e9 even
 * with GSL's fast mt19937, against 55, 40, 36 and 36 ns for PTRS on the
 * Philox stream (resample_draws time, 1e6 draws, on a quiet machine, when
 * PTRS still drew the integer means that rs_tabled draws now, in 11 to 13
 * ns where PTRS took 52 to 65 on the same loaded machine); B replicates of
 * every bin make the draws the bootstrap's main cost. */
static uint64_t rs_ptrs(rs_state *st, double lambda)
{
    double slam = sqrt(lambda), loglam = log(lambda);
    double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2.0);
    for (;;) {
        double u = rs_uniform(st) - 0.5, v = rs_uniform(st);
        double us = 0.5 - fabs(u);
        double k = floor((2.0 * a / us + b) * u + lambda + 0.43);
        if (us >= 0.07 && v <= vr)
            return (uint64_t)k;
        if (k < 0.0 || (us < 0.013 && v > us))
            continue;
        if (log(v) + log(invalpha) - log(a / (us * us) + b) <= rs_log_pmf(k, lambda, loglam))
            return (uint64_t)k;
    }
}

/* Poisson(lambda) for non-integer 0 < lambda < 10 (integer means:
 * rs_tabled below) by inversion with one uniform u:
 * the least k with u < F(k), F summed from p(0) = exp(-lambda) by
 * p(k) = p(k-1) lambda / k. The sums carry a relative error of a few
 * 1e-16, a change of the probabilities far below anything a sample can
 * show; past k = 200 (probability below 1e-250) the search stops.
 *
 * Why not gsl_ran_poisson here: below 10 it multiplies uniforms until the
 * product falls below exp(-lambda), lambda + 1 of them a draw; with
 * GSL's mt19937 that took 46 and 99 ns of CPU at means 3 and 9.99, this
 * inversion on the Philox stream 38 and 45 ns (mean 3 is drawn from its
 * table now). */
static uint64_t rs_inversion(rs_state *st, double lambda)
{
    double u = rs_uniform(st), p = exp(-lambda), f = p;
    uint64_t k = 0;
    while (u >= f && k < 200) {
        k++;
        p *= lambda / (double)k;
        f += p;
    }
    return k;
}

/* Poisson(m) for integer means 1 <= m <= H5DIV_RS_TABLE_MAX (every
 * bootstrap mean of a count up to it) by inversion with one 64-bit word w
 * against a table of the CDF in units of 2^-64:
 *   X = k0 + the least i with w < T[i],  T[i] = round(2^64 P(X <= k0 + i)),
 * so P(X = k) is the Poisson probability to within 2e-15 (tests: every
 * table against mpmath; the computed probabilities sum to 1 within about
 * 1e-15 and the value where the table's two halves meet takes the
 * difference), each threshold rounded to 2^-64. The probabilities are
 * Loader's (rs_log_pmf); the lower half of the table sums them from the
 * lower tail up, the upper half P(X > k) from the upper tail down, so each
 * entry is accurate relative to its own tail; values whose probability
 * rounds to 0 are left out (k0 is the least with T > 0, the last value has
 * no threshold). A guide table of
 * 2^b >= 2 n entries (the least i with T[i] > j 2^(64 - b), indexed by the
 * top b bits of w) starts the search where one step more, taken without a
 * branch, nearly always ends it.
 *
 * Why a table: the draws are the bootstrap's main cost and a count's mean
 * is an integer, so one table per mean serves every bin of that count; a
 * draw is then a quarter of a Philox block and a lookup: 11 to 13 ns of
 * CPU at means 3, 100 and 1000 against 52 to 65 ns for the inversion above
 * and PTRS (two logarithms and a square root a draw) on the same loaded
 * machine (resample_draws time, 2e6 draws, the fastest of three). The tables
 * are built on first use and kept for the process: from 21 values (mean 1)
 * to 586 (mean 1024), 8 bytes each plus the guide, at most 5.4 MiB for all
 * 1024 means. */
typedef struct rs_table {
    uint64_t k0;
    uint32_t n;         /* values k0 .. k0 + n - 1 */
    unsigned shift;     /* guide index: w >> shift */
    const uint64_t *t;  /* [n]: t[i] = threshold - 1, t[n - 1] = UINT64_MAX */
    const uint16_t *gd; /* [2^(64 - shift)] guide */
} rs_table;

/* Values a table may span before trimming (k in [lo, hi] of
 * rs_table_fill at m = 1024: 2 ceil(14 sqrt(m)) + 51 = 947), and guide
 * entries (a power of two >= twice that). */
#define RS_TABLE_SPAN 1024
#define RS_GUIDE_MAX 2048

/* The table of mean m into t, gd (RS_TABLE_SPAN and RS_GUIDE_MAX entries). */
static void rs_table_fill(uint64_t m, rs_table *tb, uint64_t *t, uint16_t *gd)
{
    const double lam = (double)m, loglam = log(lam), w = ceil(14.0 * sqrt(lam));
    /* Chernoff: P(X <= m - d) <= exp(-d^2 / 2m) and P(X >= m + d) <=
     * exp(-d^2 / (2 (m + d / 3))): below 2^-100 outside [lo, hi]. */
    const uint64_t lo = lam > w + 10.0 ? m - (uint64_t)w - 10 : 0, hi = m + (uint64_t)w + 40;
    double p[RS_TABLE_SPAN];
    uint64_t thr[RS_TABLE_SPAN];
    for (uint64_t k = lo; k <= hi; k++)
        p[k - lo] = exp(rs_log_pmf((double)k, lam, loglam));
    /* P(X <= k) for k < m, summed upwards (Neumaier's compensation). */
    double s = 0.0, c = 0.0;
    for (uint64_t k = lo; k < m; k++) {
        double x = p[k - lo], u = s + x;
        c += fabs(s) >= fabs(x) ? (s - u) + x : (x - u) + s;
        s = u;
        thr[k - lo] = (uint64_t)nearbyint((s + c) * 0x1p64);
    }
    /* 2^64 - round(2^64 P(X > k)) for k >= m, summed downwards; `end` is
     * the least k whose upper tail rounds to 0 (no threshold). */
    uint64_t end = hi;
    s = c = 0.0;
    for (uint64_t k = hi + 1; k-- > m;) {
        const double r = nearbyint((s + c) * 0x1p64);
        if (r == 0.0)
            end = k;
        thr[k - lo] = UINT64_C(0) - (uint64_t)r;
        double x = p[k - lo], u = s + x;
        c += fabs(s) >= fabs(x) ? (s - u) + x : (x - u) + s;
        s = u;
    }
    uint64_t k0 = lo;
    while (k0 < m && thr[k0 - lo] == 0)
        k0++;
    const uint32_t n = (uint32_t)(end - k0 + 1);
    for (uint32_t i = 0; i + 1 < n; i++)
        t[i] = thr[k0 - lo + i] - 1; /* >= 0: the thresholds from k0 on are positive */
    t[n - 1] = UINT64_MAX;
    unsigned b = 2;
    while ((UINT32_C(1) << b) < 2 * n)
        b++;
    tb->k0 = k0;
    tb->n = n;
    tb->shift = 64 - b;
    uint32_t i = 0;
    for (uint64_t j = 0; j < (UINT64_C(1) << b); j++) {
        while (t[i] < j << tb->shift)
            i++;
        gd[j] = (uint16_t)i;
    }
    tb->t = t;
    tb->gd = gd;
}

static _Atomic(rs_table *) rs_tables[H5DIV_RS_TABLE_MAX + 1];

static uint64_t rs_table_draw(const rs_table *tb, uint64_t w)
{
    uint32_t i = tb->gd[w >> tb->shift];
    i += w > tb->t[i]; /* without a branch: rarely more than one step */
    while (w > tb->t[i])
        i++;
    return tb->k0 + i;
}

/* Out of memory for a table: the same table on the stack, for this draw. */
static __attribute__((noinline)) uint64_t rs_table_draw_once(uint64_t m, uint64_t w)
{
    rs_table tb;
    uint64_t t[RS_TABLE_SPAN];
    uint16_t gd[RS_GUIDE_MAX];
    rs_table_fill(m, &tb, t, gd);
    return rs_table_draw(&tb, w);
}

/* Build the shared table of mean m (by whichever thread gets there first;
 * another thread's copy is the same and freed); NULL when out of memory.
 * Out of line: its stack arrays stay out of the draw loops' frames. */
static __attribute__((noinline)) const rs_table *rs_table_build(uint64_t m)
{
    rs_table *tb;
    uint64_t t[RS_TABLE_SPAN];
    uint16_t gd[RS_GUIDE_MAX];
    rs_table tmp;
    rs_table_fill(m, &tmp, t, gd);
    const size_t nt = tmp.n, ng = (size_t)1 << (64 - tmp.shift);
    tb = malloc(sizeof *tb + nt * sizeof *t + ng * sizeof *gd);
    if (!tb)
        return NULL;
    uint64_t *tt = (uint64_t *)(tb + 1);
    uint16_t *tg = (uint16_t *)(tt + nt);
    memcpy(tt, t, nt * sizeof *t);
    memcpy(tg, gd, ng * sizeof *gd);
    *tb = tmp;
    tb->t = tt;
    tb->gd = tg;
    rs_table *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(&rs_tables[m], &none, tb, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        free(tb);
        return none;
    }
    return tb;
}

/* The shared table of mean m, built on first use; NULL when out of memory. */
static inline const rs_table *rs_table_get(uint64_t m)
{
    const rs_table *tb = atomic_load_explicit(&rs_tables[m], memory_order_acquire);
    return tb ? tb : rs_table_build(m);
}

size_t h5div_rs_table(uint64_t m, uint64_t *k0, uint64_t *thr, size_t cap)
{
    if (m < 1 || m > H5DIV_RS_TABLE_MAX)
        return 0;
    const rs_table *tb = rs_table_get(m);
    rs_table tmp;
    uint64_t t[RS_TABLE_SPAN];
    uint16_t gd[RS_GUIDE_MAX];
    if (!tb) {
        rs_table_fill(m, &tmp, t, gd);
        tb = &tmp;
    }
    *k0 = tb->k0;
    for (size_t i = 0; i + 1 < tb->n && i < cap; i++)
        thr[i] = tb->t[i] + 1;
    return tb->n;
}

/* An integer mean 1 .. H5DIV_RS_TABLE_MAX (so also a valid one). */
static inline int rs_is_tabled(double hi, double lo)
{
    return hi >= 1.0 && hi <= H5DIV_RS_TABLE_MAX && lo == 0.0 && (double)(int32_t)hi == hi;
}

static uint64_t rs_tabled(rs_state *st, uint64_t m)
{
    const uint64_t w = rs_word(st);
    const rs_table *tb = rs_table_get(m);
    return tb ? rs_table_draw(tb, w) : rs_table_draw_once(m, w);
}

static uint64_t rs_draw(rs_state *st, double hi, double lo)
{
    if (hi == 0.0 && lo == 0.0)
        return 0; /* Poisson(0); gsl_ran_poisson would give 0 too */
    double lambda = hi + lo;
    if (rs_is_tabled(hi, lo))
        return rs_tabled(st, (uint64_t)hi);
    if (lambda < 10.0)
        return rs_inversion(st, lambda);
    if (hi <= H5DIV_RS_EXACT_MAX)
        return rs_ptrs(st, lambda);
    return rs_normal(st, hi, lo);
}

/* x as the double nearest to it and the exact remainder. */
static void rs_split(uint64_t x, double *hi, double *lo)
{
    double h = (double)x;
    *hi = h;
    if (!lo)
        return;
    if (x <= (UINT64_C(1) << 53))
        *lo = 0.0;
    else if (h >= 0x1p64)
        *lo = -(double)(UINT64_C(0) - x); /* 2^64 - x */
    else {
        uint64_t hu = (uint64_t)h;
        *lo = x >= hu ? (double)(x - hu) : -(double)(hu - x);
    }
}

uint64_t h5div_rs_poisson1(const h5div_rs_key *key, uint64_t bin, double lambda_hi,
                           double lambda_lo, int *bad)
{
    if (bad)
        *bad = 0;
    if (!rs_valid(lambda_hi, lambda_lo)) {
        if (bad)
            *bad = 1;
        return UINT64_MAX;
    }
    rs_state st;
    const philox4x64_ctr_t blk = rs_group(key, key->input, bin >> 2);
    rs_start(&st, key, key->input, bin, &blk);
    return rs_draw(&st, lambda_hi, lambda_lo);
}

/* The draws of bins first .. first + n - 1 into out_u, or (out_u NULL)
 * split into a double and its remainder (see rs_split). */
static int rs_poisson_n(const h5div_rs_key *key, uint64_t first, const double *restrict lam,
                        const double *restrict lam_lo, size_t n, uint64_t *restrict out_u,
                        double *restrict out, double *restrict out_lo)
{
    rs_state st;
    philox4x64_ctr_t blk;
    const rs_table *tb = NULL;
    uint64_t tm = 0; /* the mean of tb; 0: none */
    for (size_t i = 0; i < n; i++) {
        double hi = lam[i], lo = lam_lo ? lam_lo[i] : 0.0;
        const uint64_t bin = first + i;
        if (i == 0 || (bin & 3u) == 0)
            blk = rs_group(key, key->input, bin >> 2);
        uint64_t k;
        if (rs_is_tabled(hi, lo)) { /* the common case, without the state */
            const uint64_t m = (uint64_t)hi, w = blk.v[bin & 3u];
            if (m != tm) {
                tm = m;
                tb = rs_table_get(m);
            }
            k = tb ? rs_table_draw(tb, w) : rs_table_draw_once(m, w);
        } else {
            if (!rs_valid(hi, lo))
                return -1;
            rs_start(&st, key, key->input, bin, &blk);
            k = rs_draw(&st, hi, lo);
        }
        if (out_u)
            out_u[i] = k;
        else
            rs_split(k, &out[i], out_lo ? &out_lo[i] : NULL);
    }
    return 0;
}

int h5div_rs_poisson_u64(const h5div_rs_key *key, uint64_t first, const double *restrict lam,
                         const double *restrict lam_lo, size_t n, uint64_t *restrict out)
{
    return rs_poisson_n(key, first, lam, lam_lo, n, out, NULL, NULL);
}

int h5div_rs_poisson(const h5div_rs_key *key, uint64_t first, const double *restrict lam,
                     const double *restrict lam_lo, size_t n, double *restrict out,
                     double *restrict out_lo)
{
    return rs_poisson_n(key, first, lam, lam_lo, n, NULL, out, out_lo);
}

int h5div_rs_null(const h5div_rs_key *key, uint64_t input_p, uint64_t input_q, uint64_t first,
                  const double *restrict p, const double *restrict p_lo, const double *restrict q,
                  const double *restrict q_lo, size_t n, double a, double b, double *restrict outp,
                  double *restrict outp_lo, double *restrict outq, double *restrict outq_lo)
{
    if (!(a > 0.0) || !(b > 0.0) || !isfinite(a) || !isfinite(b) || !isfinite(a + b))
        return -1;
    double wa = a / (a + b), wb = b / (a + b);
    rs_state st;
    philox4x64_ctr_t bp, bq;
    for (size_t i = 0; i < n; i++) {
        double ph = p[i], pl = p_lo ? p_lo[i] : 0.0;
        double qh = q[i], ql = q_lo ? q_lo[i] : 0.0;
        if (!rs_valid(ph, pl) || !rs_valid(qh, ql))
            return -1;
        double pool = (ph + pl) + (qh + ql);
        double mp = pool * wa, mq = pool * wb;
        if (!rs_valid(mp, 0.0) || !rs_valid(mq, 0.0))
            return -1; /* pooled mean at 2^64 */
        const uint64_t bin = first + i;
        if (i == 0 || (bin & 3u) == 0) {
            bp = rs_group(key, input_p, bin >> 2);
            bq = rs_group(key, input_q, bin >> 2);
        }
        rs_start(&st, key, input_p, bin, &bp);
        rs_split(rs_draw(&st, mp, 0.0), &outp[i], outp_lo ? &outp_lo[i] : NULL);
        rs_start(&st, key, input_q, bin, &bq);
        rs_split(rs_draw(&st, mq, 0.0), &outq[i], outq_lo ? &outq_lo[i] : NULL);
    }
    return 0;
}

double h5div_rs_stderr(const double *x, size_t n)
{
    if (n < 2)
        return NAN;
    int inf = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]))
            return NAN;
        inf |= isinf(x[i]);
    }
    if (inf)
        return INFINITY;
    /* The mean as the rounded exact sum of x / n (no overflow near the
     * largest doubles); its rounding is undone by the correction term
     * (sum d)^2 / n of the corrected two-pass formula. */
    double dn = (double)n;
    h5div_acc s, s1, s2;
    h5div_acc_init(&s);
    for (size_t i = 0; i < n; i++)
        h5div_acc_add(&s, x[i] / dn);
    double m = h5div_acc_round(&s);
    h5div_acc_init(&s1);
    h5div_acc_init(&s2);
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - m;
        h5div_acc_add(&s1, d);
        h5div_acc_add(&s2, d * d);
    }
    double sd = h5div_acc_round(&s1), sd2 = h5div_acc_round(&s2);
    double var = (sd2 - sd * sd / dn) / (dn - 1.0);
    return sqrt(var > 0.0 ? var : 0.0);
}

/* A total order: -inf < ... < -0 < +0 < ... < +inf (no NaN here), so the
 * sorted array, and so every quantile, is the same for any input order. */
static int rs_cmp(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    if (a < b)
        return -1;
    if (a > b)
        return 1;
    return (signbit(b) != 0) - (signbit(a) != 0);
}

/* numpy's _lerp: a + (b - a) t, or b - (b - a) (1 - t) for t >= 0.5. */
static double rs_lerp(double a, double b, double t)
{
    if (isfinite(a) && isfinite(b)) {
        double diff = b - a;
        return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
    }
    if (a == b || t == 0.0)
        return a;
    if (isinf(a) && isinf(b))
        return NAN; /* between -inf and +inf */
    return isinf(a) ? a : b;
}

/* Quantile q of the sorted s[0..n), n >= 1, q in [0, 1], as numpy's
 * _quantile with method "linear": the index (n - 1) q, and above n - 2
 * the last value with weight (n - 1) q + 1 (numpy's index -1). */
static double rs_quantile_sorted(const double *s, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    if (h >= (double)(n - 1))
        return rs_lerp(s[n - 1], s[n - 1], h + 1.0);
    double j = floor(h);
    size_t k = (size_t)j;
    return rs_lerp(s[k], s[k + 1], h - j);
}

/* Sorted copy of x into work (or a new array, *owned set); NULL when x
 * holds a NaN (*nan set) or out of memory. */
static double *rs_sorted(const double *x, size_t n, double *work, double **owned, int *nan)
{
    *owned = NULL;
    *nan = 0;
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i])) {
            *nan = 1;
            return NULL;
        }
    double *s = work;
    if (!s) {
        s = malloc(n * sizeof *s);
        if (!s)
            return NULL;
        *owned = s;
    }
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, rs_cmp);
    return s;
}

double h5div_rs_quantile(const double *x, size_t n, double q, double *work)
{
    if (n == 0 || !(q >= 0.0 && q <= 1.0))
        return NAN;
    double *owned;
    int nan;
    double *s = rs_sorted(x, n, work, &owned, &nan);
    if (!s)
        return NAN;
    double r = rs_quantile_sorted(s, n, q);
    free(owned);
    return r;
}

int h5div_rs_summary(const double *reps, size_t n, size_t B, double c, double *se, double *ci)
{
    double *work = malloc((B ? B : 1) * sizeof *work);
    if (!work)
        return -1;
    for (size_t i = 0; i < n; i++) {
        se[i] = h5div_rs_stderr(reps + i * B, B);
        (void)h5div_rs_interval(reps + i * B, B, c, work, &ci[2 * i]);
    }
    free(work);
    return 0;
}

int h5div_rs_interval(const double *x, size_t n, double c, double *work, double ci[2])
{
    ci[0] = ci[1] = NAN;
    if (!(c > 0.0 && c < 1.0))
        return -1;
    if (n == 0)
        return 0;
    double *owned;
    int nan;
    double *s = rs_sorted(x, n, work, &owned, &nan);
    if (!s)
        return nan ? 0 : -1;
    ci[0] = rs_quantile_sorted(s, n, (1.0 - c) / 2.0);
    ci[1] = rs_quantile_sorted(s, n, (1.0 + c) / 2.0);
    free(owned);
    return 0;
}

double h5div_rs_pvalue(const double *x, size_t n, double t)
{
    if (isnan(t))
        return NAN;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += isnan(x[i]) || x[i] >= t;
    return (double)(k + 1) / ((double)n + 1.0);
}

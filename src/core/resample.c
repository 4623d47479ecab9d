/* SPDX-License-Identifier: BSD-3-Clause */
/* Counter-based Poisson resampling of count histograms, and order-free summaries of replicates. */
#include "core/resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <Random123/philox.h>
#include <gsl/gsl_cdf.h>

#include "core/acc.h"

/* The random numbers of one bin: Philox4x64-10 blocks of four 64-bit words
 * at counters (bin, replicate, input, 0), (..., 1), ... under the key
 * (seed, stream), taken in order. The stream of a bin is as long as any
 * draw needs (2^66 words), so how many numbers a draw consumes changes
 * nothing for the other bins. */
typedef struct rs_state {
    philox4x64_ctr_t ctr;
    philox4x64_key_t key;
    philox4x64_ctr_t out;
    unsigned next; /* next word of out; 4: out is used up */
} rs_state;

static void rs_start(rs_state *st, const h5div_rs_key *k, uint64_t input, uint64_t bin)
{
    st->key.v[0] = k->seed;
    st->key.v[1] = k->stream;
    st->ctr.v[0] = bin;
    st->ctr.v[1] = k->replicate;
    st->ctr.v[2] = input;
    st->ctr.v[3] = 0;
    st->next = 4;
}

static uint64_t rs_word(rs_state *st)
{
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

/* Poisson(lambda) for 10 <= lambda <= H5DIV_RS_EXACT_MAX: Hoermann's
 * transformed rejection with squeeze, PTRS (W. Hoermann, The transformed
 * rejection method for generating Poisson random variables, Insurance:
 * Mathematics and Economics 12, 1993; numpy's generator for lambda >= 10),
 * exact in distribution, two uniforms a trial, about 1.1 trials a draw.
 *
 * Why not gsl_ran_poisson here: its recursion (a gamma variate of order
 * 7/8 lambda by the tangent method, then a binomial, repeated) took 164,
 * 314, 630 and 928 ns of CPU a draw at means 30, 1e3, 1e6 and 1e9 even
 * with GSL's fast mt19937, against 55, 40, 36 and 36 ns for PTRS on the
 * Philox stream (resample_draws time, 1e6 draws); B replicates of every
 * bin make the draws the bootstrap's main cost. */
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

/* Poisson(lambda) for 0 < lambda < 10 by inversion with one uniform u:
 * the least k with u < F(k), F summed from p(0) = exp(-lambda) by
 * p(k) = p(k-1) lambda / k. The sums carry a relative error of a few
 * 1e-16, a change of the probabilities far below anything a sample can
 * show; past k = 200 (probability below 1e-250) the search stops.
 *
 * Why not gsl_ran_poisson here: below 10 it multiplies uniforms until the
 * product falls below exp(-lambda), lambda + 1 of them a draw; with
 * GSL's mt19937 that took 46 and 99 ns of CPU at means 3 and 9.99, this
 * inversion on the Philox stream 38 and 45 ns. */
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

static uint64_t rs_draw(rs_state *st, double hi, double lo)
{
    if (hi == 0.0 && lo == 0.0)
        return 0; /* Poisson(0); gsl_ran_poisson would give 0 too */
    double lambda = hi + lo;
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
    rs_start(&st, key, key->input, bin);
    return rs_draw(&st, lambda_hi, lambda_lo);
}

/* The draws of bins first .. first + n - 1 into out_u, or (out_u NULL)
 * split into a double and its remainder (see rs_split). */
static int rs_poisson_n(const h5div_rs_key *key, uint64_t first, const double *restrict lam,
                        const double *restrict lam_lo, size_t n, uint64_t *restrict out_u,
                        double *restrict out, double *restrict out_lo)
{
    rs_state st;
    for (size_t i = 0; i < n; i++) {
        double hi = lam[i], lo = lam_lo ? lam_lo[i] : 0.0;
        if (!rs_valid(hi, lo))
            return -1;
        rs_start(&st, key, key->input, first + i);
        const uint64_t k = rs_draw(&st, hi, lo);
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
    for (size_t i = 0; i < n; i++) {
        double ph = p[i], pl = p_lo ? p_lo[i] : 0.0;
        double qh = q[i], ql = q_lo ? q_lo[i] : 0.0;
        if (!rs_valid(ph, pl) || !rs_valid(qh, ql))
            return -1;
        double pool = (ph + pl) + (qh + ql);
        double mp = pool * wa, mq = pool * wb;
        if (!rs_valid(mp, 0.0) || !rs_valid(mq, 0.0))
            return -1; /* pooled mean at 2^64 */
        rs_start(&st, key, input_p, first + i);
        rs_split(rs_draw(&st, mp, 0.0), &outp[i], outp_lo ? &outp_lo[i] : NULL);
        rs_start(&st, key, input_q, first + i);
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

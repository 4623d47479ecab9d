/* SPDX-License-Identifier: BSD-3-Clause */
/* Accurate per-bin terms of the compare measures, summed in global-index blocks. */
#include "core/terms.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/series.h"
#include "h5div_types.h"

#define SERIES_LIMIT H5DIV_SERIES_LIMIT

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(H5DIV_NO_CLONES)
/* One clone per instruction set, picked when the library loads; the bits
 * are the same in each (no contraction: ISO C mode keeps a*b+c unfused). */
#define H5DIV_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define H5DIV_CLONES
#endif

#define LN2 0.693147180559945309417232121458176568
#define LN10 2.30258509299404568401799145468436421

/* 2^k with total * 2^k in [1, 2), k limited to [-1000, 1000] so that the
 * factor itself is a normal double. */
static double unit_scale(double total)
{
    int e;
    frexp(total, &e);
    int k = 1 - e;
    k = k < -1000 ? -1000 : (k > 1000 ? 1000 : k);
    return ldexp(1.0, k);
}

void h5div_norm_init(h5div_norm *nm, double a_hi, double a_lo, double b_hi, double b_lo,
                     double alpha)
{
    /* Each histogram is scaled by a power of two (exact) so its total lies
     * near 1: the cross products x*B and y*A below then neither overflow
     * for huge counts nor underflow for tiny ones. */
    nm->log_a = log(a_hi);
    nm->log_b = log(b_hi);
    nm->scale_a = unit_scale(a_hi);
    nm->scale_b = unit_scale(b_hi);
    a_hi *= nm->scale_a;
    a_lo *= nm->scale_a;
    b_hi *= nm->scale_b;
    b_lo *= nm->scale_b;
    nm->a_hi = a_hi;
    nm->a_lo = a_lo;
    nm->b_hi = b_hi;
    nm->b_lo = b_lo;
    /* 1/(hi + lo) to within one rounding: lo is below an ulp of hi. */
    nm->inv_a = (1.0 / a_hi) * (1.0 - a_lo / a_hi);
    nm->inv_b = (1.0 / b_hi) * (1.0 - b_lo / b_hi);
    nm->alpha = alpha;
}

/* Index of the first negative, NaN or infinite value of x[0..e), or e: a
 * flag for the whole block first (a loop the compiler vectorises), the
 * index only in a block that has a bad value. */
static inline size_t block_first_invalid(const double *restrict x, size_t e)
{
    int bad = 0;
    for (size_t i = 0; i < e; i++)
        bad |= !(x[i] >= 0.0) | (x[i] == INFINITY);
    if (bad)
        for (size_t i = 0; i < e; i++)
            if (!(x[i] >= 0.0) || x[i] == INFINITY)
                return i;
    return e;
}

H5DIV_CLONES
size_t h5div_first_invalid(const double *restrict x, size_t n)
{
    for (size_t b = 0; b < n; b += H5DIV_BLOCK_BINS) {
        size_t e = n - b < H5DIV_BLOCK_BINS ? n - b : H5DIV_BLOCK_BINS;
        size_t i = block_first_invalid(x + b, e);
        if (i < e)
            return b + i;
    }
    return n;
}

/* Knuth's TwoSum: *s + v exactly as a new *s plus an error added to *err. */
static inline void two_sum_add(double *s, double *err, double v)
{
    double t = *s + v;
    double bp = t - *s;
    *err += (*s - (t - bp)) + (v - bp);
    *s = t;
}

/* One block's contribution to a total: Knuth's TwoSum in four lanes by
 * index (each lane's s + err tracks its sum to about 2^-106), and all eight
 * parts enter acc exactly. */
static inline void total_block(const double *restrict x, size_t e, double alpha, h5div_acc *acc)
{
    double s[4] = {0.0, 0.0, 0.0, 0.0}, err[4] = {0.0, 0.0, 0.0, 0.0};
    size_t k = 0;
    for (; k + 4 <= e; k += 4)
        for (int l = 0; l < 4; l++)
            two_sum_add(&s[l], &err[l], x[k + (size_t)l] + alpha);
    for (int l = 0; k < e; k++, l++)
        two_sum_add(&s[l], &err[l], x[k] + alpha);
    int finite = 1;
    for (int l = 0; l < 4; l++)
        finite &= isfinite(s[l]) && isfinite(err[l]);
    if (finite) {
        for (int l = 0; l < 4; l++) {
            h5div_acc_add(acc, s[l]);
            h5div_acc_add(acc, err[l]);
        }
    } else {
        /* A lane overflowed: add the block's values exactly instead. */
        for (size_t i = 0; i < e; i++)
            h5div_acc_add(acc, x[i] + alpha);
    }
}

H5DIV_CLONES
void h5div_total_block(const double *restrict x, size_t e, double alpha, h5div_acc *acc)
{
    total_block(x, e, alpha, acc);
}

H5DIV_CLONES
size_t h5div_total_add_valid(const double *restrict x, size_t n, double alpha, h5div_acc *acc)
{
    for (size_t b = 0; b < n; b += H5DIV_BLOCK_BINS) {
        size_t e = n - b < H5DIV_BLOCK_BINS ? n - b : H5DIV_BLOCK_BINS;
        /* The block is checked and summed while it sits in L1: one trip
         * through memory for both. */
        size_t i = block_first_invalid(x + b, e);
        if (i < e)
            return b + i;
        total_block(x + b, e, alpha, acc);
    }
    return n;
}

void h5div_total_add(const double *restrict x, size_t n, double alpha, h5div_acc *acc)
{
    /* Valid values are the caller's promise here; the scan costs little. */
    (void)h5div_total_add_valid(x, n, alpha, acc);
}

void h5div_compare_partial_init(h5div_compare_partial *part, uint32_t mask)
{
    part->p_without_q = part->q_without_p = 0;
    part->ks = 0.0;
    for (int t = 0; t < H5DIV_T_COUNT; t++)
        if (mask & (1u << t))
            h5div_acc_init(&part->acc[t]);
}

/* (1+t) log1p(t) + (1-t) log1p(-t) for |t| < 1/32: sum_{j>=1} t^2j / (j (2j-1)). */
static inline double js_series(double t)
{
    double t2 = t * t;
    double s = 1.0 / 120;
    s = s * t2 + 1.0 / 91;
    s = s * t2 + 1.0 / 66;
    s = s * t2 + 1.0 / 45;
    s = s * t2 + 1.0 / 28;
    s = s * t2 + 1.0 / 15;
    s = s * t2 + 1.0 / 6;
    s = s * t2 + 1.0;
    return s * t2;
}

/* x*B - y*A with A = a_hi + a_lo, B = b_hi + b_lo, accurate even when the
 * two products agree to many digits (exact products via fma; their leading
 * parts then differ exactly by Sterbenz's lemma). */
static inline double cross_diff(double x, double y, const h5div_norm *nm)
{
    double h1 = x * nm->b_hi, h2 = y * nm->a_hi;
    double e1 = fma(x, nm->b_hi, -h1), e2 = fma(y, nm->a_hi, -h2);
    return (h1 - h2) + ((e1 - e2) + (x * nm->b_lo - y * nm->a_lo));
}

/* Terms computed bin by bin into arrays: all but W1 and the Renyi terms. */
#define NT_BIN (H5DIV_T_CHI2_QP + 1)

/* Ratios below this are subnormal or close to it: their logarithms are
 * taken as differences of logarithms, which are then large and accurate. */
#define TINY 0x1p-960

/* log(v / T) for 0 < v <= T; near 1 through log1p of (v - T) / T, which is
 * exact to a rounding because T - v is computed from the two-part total. */
static inline double log_ratio(double v, double v_raw, double t_hi, double t_lo, double inv_t,
                               double log_t_raw)
{
    double r = v * inv_t;
    if (r > 0.5)
        return log1p(-((t_hi - v) + t_lo) * inv_t);
    if (r < TINY) /* from the unscaled value: the scaled one may underflow */
        return log(v_raw) - log_t_raw;
    return log(r);
}

/* Unscaled values of a bin and the logarithms of their totals, for the
 * logarithms of ratios too small or large for doubles. */
typedef struct raw_bin {
    double x, y, log_x, log_y;
} raw_bin;

/* log(p / q) = log((x / y) (Y / X)) for a bin with x, y > 0 (scaled) and
 * scaled totals X, Y, used where p / q is not close to 1 (|u| >= SERIES_LIMIT).
 * Ignoring the low parts of the totals costs at most half an ulp each. */
static inline double log_pq(double x, double y, double tot_x, double tot_y, raw_bin raw)
{
    double xy = x / y, yx = tot_y / tot_x, r = xy * yx;
    if (r > TINY && r < 1.0 / TINY && xy > TINY && xy < 1.0 / TINY)
        return log(r);
    return (log(raw.x) - log(raw.y)) + (raw.log_y - raw.log_x);
}

/* KL term of bin (x, y): p log(p/q) - p + q >= 0, with p = x/X, q = y/Y and
 * d = x*Y - y*X. Returns 0 when p > 0 = q (counted separately as infinite). */
static inline double kl_term(double x, double y, double d, double x_hi, double x_lo,
                             double y_hi, double inv_x, double inv_y, raw_bin raw)
{
    if (raw.y == 0.0)
        return 0.0;
    double q = y * inv_y;
    if (raw.x == 0.0)
        return q;
    double u = d / (y * x_hi + y * x_lo); /* p/q - 1 */
    if (fabs(u) < SERIES_LIMIT)
        return q * h5div_kl_series(u);
    double lr = u > -0.5 && u < 1e300 ? log1p(u) : log_pq(x, y, x_hi, y_hi, raw);
    double t = (x * inv_x) * lr - d * inv_x * inv_y;
    return t > 0.0 ? t : 0.0;
}

/* log1p(t) with t = (p - q)/(p + q), i.e. log(2 x Y / s) with s = x*Y + y*X,
 * for the JS term; direct where 1 + t is small and would round away. */
static inline double log_mix(double x, double tot_y, double s, double t)
{
    if (t > -0.5)
        return log1p(t);
    double n = x * tot_y;
    if (n > TINY && s < 1.0 / TINY)
        return log(2.0 * n / s);
    return LN2 + (log(x) + log(tot_y)) - log(s);
}

/* Sum of v[0..e) in four lanes by index, combined in a fixed tree: the same
 * order wherever the block sits in a piece or on a rank. */
static double block_sum(const double *restrict v, size_t e)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t k = 0;
    for (; k + 4 <= e; k += 4) {
        s0 += v[k];
        s1 += v[k + 1];
        s2 += v[k + 2];
        s3 += v[k + 3];
    }
    if (k < e)
        s0 += v[k];
    if (k + 1 < e)
        s1 += v[k + 1];
    if (k + 2 < e)
        s2 += v[k + 2];
    return (s0 + s1) + (s2 + s3);
}

/* The careful path: every bin through libm with the fallbacks for
 * probabilities near 1, below 2^-960 and ratios beyond the double range.
 * Writes the terms of bins [0, e) of one block into t. */
static void block_terms_careful(const double *restrict xs, const double *restrict ys, size_t e,
                                const h5div_norm *nm, unsigned mask, double (*t)[H5DIV_BLOCK_BINS],
                                int64_t *p_without_q, int64_t *q_without_p)
{
    const double alpha = nm->alpha, inv_a = nm->inv_a, inv_b = nm->inv_b;
    const double scale_a = nm->scale_a, scale_b = nm->scale_b;
    for (size_t k = 0; k < e; k++) {
        for (int m = 0; m < NT_BIN; m++)
            t[m][k] = 0.0;
        const double xr = xs[k] + alpha, yr = ys[k] + alpha;
        if (xr == 0.0 && yr == 0.0)
            continue;
        if (xr > 0.0 && yr == 0.0)
            ++*p_without_q;
        if (yr > 0.0 && xr == 0.0)
            ++*q_without_p;
        /* Zero tests use the raw values: a scaled value may underflow. */
        const raw_bin rpq = {xr, yr, nm->log_a, nm->log_b};
        const raw_bin rqp = {yr, xr, nm->log_b, nm->log_a};
        const double x = xr * scale_a, y = yr * scale_b;
        const double p = x * inv_a, q = y * inv_b;
        if (mask & (1u << H5DIV_T_ENTROPY_P) && xr > 0.0)
            t[H5DIV_T_ENTROPY_P][k] = -(p * log_ratio(x, xr, nm->a_hi, nm->a_lo, inv_a, nm->log_a));
        if (mask & (1u << H5DIV_T_ENTROPY_Q) && yr > 0.0)
            t[H5DIV_T_ENTROPY_Q][k] = -(q * log_ratio(y, yr, nm->b_hi, nm->b_lo, inv_b, nm->log_b));
        if (mask & (1u << H5DIV_T_CROSS_PQ) && xr > 0.0 && yr > 0.0)
            t[H5DIV_T_CROSS_PQ][k] = -(p * log_ratio(y, yr, nm->b_hi, nm->b_lo, inv_b, nm->log_b));
        if (mask & (1u << H5DIV_T_CROSS_QP) && xr > 0.0 && yr > 0.0)
            t[H5DIV_T_CROSS_QP][k] = -(q * log_ratio(x, xr, nm->a_hi, nm->a_lo, inv_a, nm->log_a));
        const double d = cross_diff(x, y, nm); /* (p - q) * A * B */
        const double diff = d * inv_a * inv_b; /* p - q */
        if (mask & (1u << H5DIV_T_KL_PQ))
            t[H5DIV_T_KL_PQ][k] = kl_term(x, y, d, nm->a_hi, nm->a_lo, nm->b_hi, inv_a, inv_b, rpq);
        if (mask & (1u << H5DIV_T_KL_QP))
            t[H5DIV_T_KL_QP][k] = kl_term(y, x, -d, nm->b_hi, nm->b_lo, nm->a_hi, inv_b, inv_a, rqp);
        if (mask & (1u << H5DIV_T_JS)) {
            double js;
            if (x == 0.0 || y == 0.0) {
                js = 0.5 * LN2 * (p + q); /* half of the lone mass times log 2 */
            } else {
                double sum = x * nm->b_hi + y * nm->a_hi + (x * nm->b_lo + y * nm->a_lo);
                double tt = d / sum; /* (p - q) / (p + q) */
                double m = 0.5 * (p + q);
                if (fabs(tt) < SERIES_LIMIT)
                    js = 0.5 * m * js_series(tt);
                else
                    js = 0.5 * (p * log_mix(x, nm->b_hi, sum, tt) + q * log_mix(y, nm->a_hi, sum, -tt));
                js = js > 0.0 ? js : 0.0;
            }
            t[H5DIV_T_JS][k] = js;
        }
        if (mask & (1u << H5DIV_T_TV))
            t[H5DIV_T_TV][k] = fabs(diff);
        /* (p - q)^2 / q as (p - q) * u with u = p/q - 1: no square to
         * underflow, and u overflows only where the term does. */
        if (mask & (1u << H5DIV_T_CHI2_PQ) && yr > 0.0 && diff != 0.0)
            t[H5DIV_T_CHI2_PQ][k] = diff * (d / (y * nm->a_hi + y * nm->a_lo));
        if (mask & (1u << H5DIV_T_CHI2_QP) && xr > 0.0 && diff != 0.0)
            t[H5DIV_T_CHI2_QP][k] = diff * (d / (x * nm->b_hi + x * nm->b_lo));
        if (mask & (1u << H5DIV_T_HELLINGER)) {
            /* (sqrt p - sqrt q)^2 without cancellation. */
            double h = diff / (sqrt(p) + sqrt(q));
            t[H5DIV_T_HELLINGER][k] = h * h;
        }
    }
}

/* The fast path. log_fast is fdlibm's log (error below 1 ulp) written with
 * plain IEEE operations and no branches, so the compiler vectorises the
 * loops below and every lane, vector or scalar, gives the same bits. It is
 * used only for arguments in [2^-960, 2^960]. */
static inline double log_fast(double x)
{
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double lg1 = 6.666666666666735130e-01, lg2 = 3.999999999940941908e-01;
    const double lg3 = 2.857142874366239149e-01, lg4 = 2.222219843214978396e-01;
    const double lg5 = 1.818357216161805012e-01, lg6 = 1.531383769920937332e-01;
    const double lg7 = 1.479819860511658591e-01;
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    uint64_t hx = (b >> 32) & 0x000fffffu;
    uint64_t i = (hx + 0x95f64u) & 0x100000u; /* mantissa above sqrt(2): halve it */
    uint64_t k = (b >> 52) + (i >> 20);       /* biased exponent, + 1 if halved */
    uint64_t mb = (b & 0x000fffffffffffffu) | ((i ^ 0x3ff00000u) << 32);
    double m;
    memcpy(&m, &mb, sizeof m);
    /* k - 1023 as a double without an int64 conversion (2^52 trick). */
    uint64_t kb = 0x4330000000000000u | k;
    double dk;
    memcpy(&dk, &kb, sizeof dk);
    dk -= 4503599627370496.0 + 1023.0;
    double f = m - 1.0;
    double hfsq = 0.5 * f * f;
    double s = f / (2.0 + f);
    double z = s * s, w = z * z;
    double t1 = w * (lg2 + w * (lg4 + w * lg6));
    double t2 = z * (lg1 + w * (lg3 + w * (lg5 + w * lg7)));
    double r = t2 + t1;
    return dk * ln2_hi - ((hfsq - (s * (hfsq + r) + dk * ln2_lo)) - f);
}

/* log1p(u) for 1 + u in [2^-960, 2^960]: log of the rounded 1 + u plus the
 * first-order correction for that rounding (the classic log1p device), so
 * an accurate u keeps its digits. */
static inline double log1p_fast(double u)
{
    double w = 1.0 + u;
    return log_fast(w) + (u - (w - 1.0)) / w;
}


/* Terms of one block when every nonzero p and q lies in [2^-960, 1/2] (so
 * no fallback of the careful path is needed); returns 0, having written
 * nothing, for any other block. */
H5DIV_CLONES
static int block_terms_fast(const double *restrict xs, const double *restrict ys, size_t e,
                            const h5div_norm *restrict nm, unsigned mask,
                            double (*restrict t)[H5DIV_BLOCK_BINS], int64_t *p_without_q,
                            int64_t *q_without_p)
{
    const double alpha = nm->alpha, inv_a = nm->inv_a, inv_b = nm->inv_b;
    const double scale_a = nm->scale_a, scale_b = nm->scale_b;
    const double a_hi = nm->a_hi, a_lo = nm->a_lo, b_hi = nm->b_hi, b_lo = nm->b_lo;
    double x[H5DIV_BLOCK_BINS], y[H5DIV_BLOCK_BINS], p[H5DIV_BLOCK_BINS], q[H5DIV_BLOCK_BINS];
    double d[H5DIV_BLOCK_BINS];
    int bad = 0;
    int64_t pwq = 0, qwp = 0;
    for (size_t k = 0; k < e; k++) {
        double xr = xs[k] + alpha, yr = ys[k] + alpha;
        x[k] = xr * scale_a;
        y[k] = yr * scale_b;
        p[k] = x[k] * inv_a;
        q[k] = y[k] * inv_b;
        bad |= (xr != 0.0) & ((p[k] < 0x1p-960) | (p[k] > 0.5));
        bad |= (yr != 0.0) & ((q[k] < 0x1p-960) | (q[k] > 0.5));
        pwq += (xr != 0.0) & (yr == 0.0);
        qwp += (yr != 0.0) & (xr == 0.0);
    }
    if (bad)
        return 0;
    *p_without_q += pwq;
    *q_without_p += qwp;
    if (mask & ((1u << H5DIV_T_ENTROPY_P) | (1u << H5DIV_T_ENTROPY_Q) | (1u << H5DIV_T_CROSS_PQ) |
                (1u << H5DIV_T_CROSS_QP))) {
        for (size_t k = 0; k < e; k++) {
            double pk = p[k], qk = q[k];
            double lp = log_fast(pk > 0.0 ? pk : 1.0), lq = log_fast(qk > 0.0 ? qk : 1.0);
            int both = (pk > 0.0) & (qk > 0.0);
            t[H5DIV_T_ENTROPY_P][k] = -(pk * lp);
            t[H5DIV_T_ENTROPY_Q][k] = -(qk * lq);
            t[H5DIV_T_CROSS_PQ][k] = both ? -(pk * lq) : 0.0;
            t[H5DIV_T_CROSS_QP][k] = both ? -(qk * lp) : 0.0;
        }
    }
    if (!(mask & ((1u << H5DIV_T_KL_PQ) | (1u << H5DIV_T_KL_QP) | (1u << H5DIV_T_JS) |
                  (1u << H5DIV_T_TV) | (1u << H5DIV_T_HELLINGER) | (1u << H5DIV_T_CHI2_PQ) |
                  (1u << H5DIV_T_CHI2_QP))))
        return 1;
    for (size_t k = 0; k < e; k++) {
        /* x*B - y*A with the exact product errors (fma is exact). */
        double h1 = x[k] * b_hi, h2 = y[k] * a_hi;
        double e1 = fma(x[k], b_hi, -h1), e2 = fma(y[k], a_hi, -h2);
        d[k] = (h1 - h2) + ((e1 - e2) + (x[k] * b_lo - y[k] * a_lo));
    }
    if (mask & ((1u << H5DIV_T_KL_PQ) | (1u << H5DIV_T_KL_QP))) {
        for (size_t k = 0; k < e; k++) {
            double xk = x[k], yk = y[k], pk = p[k], qk = q[k], dk = d[k];
            int xz = xk == 0.0, yz = yk == 0.0;
            double diff = dk * inv_a * inv_b;
            double u = dk / (yk * a_hi + yk * a_lo);  /* p/q - 1 */
            double v = -dk / (xk * b_hi + xk * b_lo); /* q/p - 1 */
            double lr = log1p_fast(xz | yz ? 0.0 : u); /* log(p/q) */
            double kpq = fabs(u) < SERIES_LIMIT ? qk * h5div_kl_series(u) : pk * lr - diff;
            double kqp = fabs(v) < SERIES_LIMIT ? pk * h5div_kl_series(v) : diff - qk * lr;
            kpq = kpq > 0.0 ? kpq : 0.0;
            kqp = kqp > 0.0 ? kqp : 0.0;
            t[H5DIV_T_KL_PQ][k] = yz ? 0.0 : (xz ? qk : kpq);
            t[H5DIV_T_KL_QP][k] = xz ? 0.0 : (yz ? pk : kqp);
        }
    }
    if (mask & (1u << H5DIV_T_JS)) {
        for (size_t k = 0; k < e; k++) {
            double xk = x[k], yk = y[k], pk = p[k], qk = q[k];
            int lone = (xk == 0.0) | (yk == 0.0);
            double sum = xk * b_hi + yk * a_hi + (xk * b_lo + yk * a_lo);
            double tt = d[k] / sum; /* (p - q) / (p + q) */
            double m = 0.5 * (pk + qk);
            double lpm = log1p_fast(lone ? 0.0 : tt), lqm = log1p_fast(lone ? 0.0 : -tt);
            double js = fabs(tt) < SERIES_LIMIT ? 0.5 * m * js_series(tt)
                                                : 0.5 * (pk * lpm + qk * lqm);
            js = js > 0.0 ? js : 0.0;
            js = lone ? 0.5 * LN2 * (pk + qk) : js;
            t[H5DIV_T_JS][k] = (xk == 0.0) & (yk == 0.0) ? 0.0 : js;
        }
    }
    if (mask & ((1u << H5DIV_T_TV) | (1u << H5DIV_T_HELLINGER))) {
        for (size_t k = 0; k < e; k++) {
            double pk = p[k], qk = q[k];
            double diff = d[k] * inv_a * inv_b;
            double sq = sqrt(pk) + sqrt(qk);
            double h = diff / (sq > 0.0 ? sq : 1.0);
            t[H5DIV_T_TV][k] = fabs(diff);
            t[H5DIV_T_HELLINGER][k] = h * h;
        }
    }
    if (mask & ((1u << H5DIV_T_CHI2_PQ) | (1u << H5DIV_T_CHI2_QP))) {
        for (size_t k = 0; k < e; k++) {
            double xk = x[k], yk = y[k], dk = d[k];
            double diff = dk * inv_a * inv_b;
            /* (p - q) * (p/q - 1) and (p - q) * (p - q)/p; zero bins masked. */
            double c1 = diff * (dk / (yk * a_hi + yk * a_lo));
            double c2 = diff * (dk / (xk * b_hi + xk * b_lo));
            t[H5DIV_T_CHI2_PQ][k] = (yk == 0.0) | (diff == 0.0) ? 0.0 : c1;
            t[H5DIV_T_CHI2_QP][k] = (xk == 0.0) | (diff == 0.0) ? 0.0 : c2;
        }
    }
    return 1;
}

/* 1/j! for j = 0..20. */
static const double inv_fact[21] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
    1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0,
    1.0 / 87178291200.0, 1.0 / 1307674368000.0, 1.0 / 20922789888000.0,
    1.0 / 355687428096000.0, 1.0 / 6402373705728000.0, 1.0 / 121645100408832000.0,
    1.0 / 2432902008176640000.0};

/* e^w - 1 - w >= 0 without cancellation. */
static double em1mw(double w)
{
    if (fabs(w) <= 1.0) {
        double s = inv_fact[20]; /* sum_{j>=2} w^j / j!, to j = 20 */
        for (int j = 19; j >= 2; j--)
            s = s * w + inv_fact[j];
        return s * w * w;
    }
    return w < 0.0 ? exp(w) + (-1.0 - w) : expm1(w) - w;
}

/* u - log1p(u) >= 0 (L = log1p(u) given), by its series for |u| < 1/4. */
static double u_minus_log1p(double u, double L)
{
    if (fabs(u) < 0.25) {
        double s = 1.0 / 30; /* sum_{j>=2} (-u)^j / j, to j = 30 */
        for (int j = 29; j >= 2; j--)
            s = s * -u + 1.0 / j;
        return s * u * u;
    }
    return u - L;
}

/* One bin of a Renyi sum of order A: p^A q^(1-A) - q - A (p - q). The
 * terms sum to S_A - 1 (sum p = sum q = 1) and all have the sign of A - 1,
 * so the sum does not cancel. u = p/q - 1 and v = q/p - 1 (from the exact
 * cross difference), diff = p - q, L = log(p/q), lp, lq the logarithms of
 * p and q (used only where p^A q^(1-A) leaves the double range). */
static double renyi_bin(double A, double p, double q, int p_zero, int q_zero, double u, double v,
                        double diff, double L, double lp, double lq)
{
    if (p_zero)
        return (A - 1.0) * q;
    if (q_zero)
        return A < 1.0 ? -A * p : 0.0; /* A > 1: infinite, counted apart */
    if (A < 1.0 && A > 0.5) /* the same sum in the order 1 - A < 1/2 */
        return renyi_bin(1.0 - A, q, p, q_zero, p_zero, v, u, -diff, -L, lq, lp);
    double kl = fabs(u) < SERIES_LIMIT ? q * h5div_kl_series(u) : p * L - diff;
    if (A > 1.0) {
        /* p (e^w - 1 - w) + (A - 1) (p log(p/q) - p + q), w = (A - 1) L:
         * two terms >= 0. */
        const double B = A - 1.0, w = B * L;
        double pe = w > 700.0 ? exp(lp + w) - p * w : p * em1mw(w);
        return pe + B * (kl > 0.0 ? kl : 0.0);
    }
    /* 0 < A <= 1/2: q (e^z - 1 - z) - A q (u - log1p u), z = A L; the first
     * part is at most A/(1 - A) <= 1 times the second, so at most one bit
     * cancels; near u = 0 the binomial series, near p = 0 the direct form. */
    const double z = A * L;
    if (!isfinite(u))
        return -A * p;
    if (u < -0.9)
        return q * expm1(z) - A * diff;
    if (fabs(u) < SERIES_LIMIT) {
        double c = 0.5, s = 0.0, uk = 1.0; /* sum_{j>=2} C(A, j) u^j / (A (A - 1) u^2) */
        for (int j = 2; j <= 16; j++) {
            s += c * uk;
            c *= (A - j) / (j + 1);
            uk *= u;
        }
        return q * (A * (A - 1.0)) * (u * u) * s;
    }
    if (z > 700.0)
        return exp(lq + z) - q - A * diff;
    return q * em1mw(z) - A * (q * u_minus_log1p(u, L));
}

/* Block sums of the Renyi terms of every order in tp. */
static void block_renyi(const double *restrict xs, const double *restrict ys, size_t e,
                        const h5div_norm *nm, const h5div_term_params *tp, double *sums)
{
    double t[2 * H5DIV_RENYI_MAX][H5DIV_BLOCK_BINS];
    int orders[2 * H5DIV_RENYI_MAX], no = 0;
    for (int i = 0; i < 2 * H5DIV_RENYI_MAX; i++)
        if (tp->mask & (1u << (H5DIV_T_RENYI + i)))
            orders[no++] = i;
    for (size_t k = 0; k < e; k++) {
        const double xr = xs[k] + nm->alpha, yr = ys[k] + nm->alpha;
        if (xr == 0.0 && yr == 0.0) {
            for (int o = 0; o < no; o++)
                t[o][k] = 0.0;
            continue;
        }
        const double x = xr * nm->scale_a, y = yr * nm->scale_b;
        const double p = x * nm->inv_a, q = y * nm->inv_b;
        const double d = cross_diff(x, y, nm), diff = d * nm->inv_a * nm->inv_b;
        const int xz = xr == 0.0, yz = yr == 0.0;
        double u = yz ? INFINITY : d / (y * nm->a_hi + y * nm->a_lo);
        double v = xz ? INFINITY : -d / (x * nm->b_hi + x * nm->b_lo);
        double L = 0.0, lp = 0.0, lq = 0.0;
        if (!xz && !yz) {
            const raw_bin raw = {xr, yr, nm->log_a, nm->log_b};
            L = u > -0.5 && u < 1e300 ? log1p(u) : log_pq(x, y, nm->a_hi, nm->b_hi, raw);
            lp = log(xr) - nm->log_a;
            lq = log(yr) - nm->log_b;
        }
        for (int o = 0; o < no; o++) {
            int i = orders[o];
            double A = tp->order[i];
            t[o][k] = i < H5DIV_RENYI_MAX
                          ? renyi_bin(A, p, q, xz, yz, u, v, diff, L, lp, lq)
                          : renyi_bin(A, q, p, yz, xz, v, u, -diff, -L, lq, lp);
        }
    }
    for (int o = 0; o < no; o++)
        sums[H5DIV_T_RENYI + orders[o]] = block_sum(t[o], e);
}

void h5div_compare_block(const double *restrict xs, const double *restrict ys, size_t e,
                         const h5div_norm *nm, const h5div_term_params *tp, double *sums,
                         int64_t counts[2])
{
    double t[NT_BIN][H5DIV_BLOCK_BINS];
    const unsigned mask = tp->mask & ((1u << NT_BIN) - 1u);
    /* Which path a block takes depends only on its own data, and a block
     * never straddles ranks or pieces: the same bits anywhere. */
    int64_t pwq = 0, qwp = 0;
    if (!block_terms_fast(xs, ys, e, nm, mask, t, &pwq, &qwp))
        block_terms_careful(xs, ys, e, nm, mask, t, &pwq, &qwp);
    counts[0] += pwq;
    counts[1] += qwp;
    for (int m = 0; m < NT_BIN; m++)
        if (mask & (1u << m))
            sums[m] = block_sum(t[m], e);
    if (tp->mask >> H5DIV_T_RENYI)
        block_renyi(xs, ys, e, nm, tp, sums);
}

double h5div_w1_block(const double *restrict xs, const double *restrict ys, size_t e, size_t nw,
                      const h5div_norm *nm, const double pfx_x[2], const double pfx_y[2],
                      double *ks)
{
    return h5div_w1_block_gap(xs, ys, e, nw, nm, pfx_x, pfx_y, ks, NULL);
}

double h5div_w1_block_gap(const double *restrict xs, const double *restrict ys, size_t e, size_t nw,
                          const h5div_norm *nm, const double pfx_x[2], const double pfx_y[2],
                          double *ks, const double *restrict gap)
{
    (void)e; /* the bins past nw only carry the prefix on, and nothing follows them */
    double t[H5DIV_BLOCK_BINS];
    double xh = pfx_x[0], xl = pfx_x[1], yh = pfx_y[0], yl = pfx_y[1];
    const double a_hi = nm->a_hi, a_lo = nm->a_lo, b_hi = nm->b_hi, b_lo = nm->b_lo;
    double mx = *ks;
    for (size_t k = 0; k < nw; k++) {
        two_sum_add(&xh, &xl, xs[k] + nm->alpha);
        two_sum_add(&yh, &yl, ys[k] + nm->alpha);
        /* F_p - F_q = (X B - Y A) / (A B) for the scaled prefix sums X, Y
         * and totals A, B, with the exact product errors: prefix sums that
         * agree to many digits keep their difference. */
        double sxh = xh * nm->scale_a, sxl = xl * nm->scale_a;
        double syh = yh * nm->scale_b, syl = yl * nm->scale_b;
        double h1 = sxh * b_hi, h2 = syh * a_hi;
        double e1 = fma(sxh, b_hi, -h1), e2 = fma(syh, a_hi, -h2);
        double num = (h1 - h2) + ((e1 - e2) + ((sxh * b_lo + sxl * b_hi) - (syh * a_lo + syl * a_hi)));
        double dd = fabs(num * nm->inv_a * nm->inv_b);
        t[k] = gap ? dd * gap[k] : dd;
        mx = dd > mx ? dd : mx;
    }
    *ks = mx;
    return block_sum(t, nw);
}

void h5div_compare_add(const double *restrict xs, const double *restrict ys, size_t n,
                       const h5div_norm *nm, const h5div_term_params *tp,
                       h5div_compare_partial *part)
{
    double sums[H5DIV_T_COUNT];
    int64_t counts[2] = {0, 0};
    const uint32_t mask = tp->mask & ~(1u << H5DIV_T_W1);
    for (size_t b = 0; b < n; b += H5DIV_BLOCK_BINS) {
        size_t e = n - b < H5DIV_BLOCK_BINS ? n - b : H5DIV_BLOCK_BINS;
        h5div_compare_block(xs + b, ys + b, e, nm, tp, sums, counts);
        for (int m = 0; m < H5DIV_T_COUNT; m++)
            if (mask & (1u << m))
                h5div_acc_add(&part->acc[m], sums[m]);
    }
    part->p_without_q += counts[0];
    part->q_without_p += counts[1];
}

void h5div_term_params_init(h5div_term_params *tp, const h5div_options *opt)
{
    memset(tp, 0, sizeof *tp);
    tp->mask = h5div_terms_for_measures(opt->measures);
    for (int i = 0; i < opt->n_renyi_pq && i < H5DIV_RENYI_MAX; i++) {
        tp->mask |= 1u << (H5DIV_T_RENYI + i);
        tp->order[i] = opt->renyi_pq[i];
    }
    for (int i = 0; i < opt->n_renyi_qp && i < H5DIV_RENYI_MAX; i++) {
        tp->mask |= 1u << (H5DIV_T_RENYI + H5DIV_RENYI_MAX + i);
        tp->order[H5DIV_RENYI_MAX + i] = opt->renyi_qp[i];
    }
}

unsigned h5div_terms_for_measures(unsigned measures)
{
    unsigned t = 0;
    if (measures & H5DIV_MEASURE_BIT(H5DIV_ENTROPY_P))
        t |= 1u << H5DIV_T_ENTROPY_P;
    if (measures & H5DIV_MEASURE_BIT(H5DIV_ENTROPY_Q))
        t |= 1u << H5DIV_T_ENTROPY_Q;
    if (measures & H5DIV_MEASURE_BIT(H5DIV_CROSS_ENTROPY_PQ))
        t |= 1u << H5DIV_T_CROSS_PQ;
    if (measures & H5DIV_MEASURE_BIT(H5DIV_CROSS_ENTROPY_QP))
        t |= 1u << H5DIV_T_CROSS_QP;
    if (measures & H5DIV_MEASURE_BIT(H5DIV_KL_PQ))
        t |= 1u << H5DIV_T_KL_PQ;
    if (measures & H5DIV_MEASURE_BIT(H5DIV_KL_QP))
        t |= 1u << H5DIV_T_KL_QP;
    if (measures & (H5DIV_MEASURE_BIT(H5DIV_JS_DIVERGENCE) | H5DIV_MEASURE_BIT(H5DIV_JS_DISTANCE)))
        t |= 1u << H5DIV_T_JS;
    if (measures & H5DIV_MEASURE_BIT(H5DIV_TOTAL_VARIATION))
        t |= 1u << H5DIV_T_TV;
    if (measures & (H5DIV_MEASURE_BIT(H5DIV_HELLINGER) | H5DIV_MEASURE_BIT(H5DIV_BHATTACHARYYA)))
        t |= 1u << H5DIV_T_HELLINGER;
    if (measures & H5DIV_MEASURE_BIT(H5DIV_CHI2_PQ))
        t |= 1u << H5DIV_T_CHI2_PQ;
    if (measures & H5DIV_MEASURE_BIT(H5DIV_CHI2_QP))
        t |= 1u << H5DIV_T_CHI2_QP;
    if (measures & (H5DIV_MEASURE_BIT(H5DIV_WASSERSTEIN1) | H5DIV_MEASURE_BIT(H5DIV_KS)))
        t |= 1u << H5DIV_T_W1;
    return t;
}

static double clamp01(double v) { return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v); }

/* Renyi divergence in nats from S - 1, the sum of its terms. */
static double renyi_value(double A, double s1, int64_t infinite_bins)
{
    if (A > 1.0 && infinite_bins)
        return INFINITY;
    /* The terms all have the sign of A - 1 and S lies in [0, 1] for A < 1. */
    if (A > 1.0)
        s1 = s1 > 0.0 ? s1 : 0.0;
    else
        s1 = s1 < -1.0 ? -1.0 : (s1 > 0.0 ? 0.0 : s1);
    double r = log1p(s1) / (A - 1.0); /* S = 0: +inf */
    return r > 0.0 ? r : 0.0;
}

void h5div_compare_finish_sums(const double *nats, const int64_t counts[2], double ks,
                               const h5div_options *opt, h5div_compare_result *res)
{
    /* Dividing by ln b (rather than multiplying by 1/ln b) maps ln 2 to
     * exactly 1 bit, so the JS bound holds exactly in base 2. */
    const int base = (int)opt->base;
    const double ln_b = base == H5DIV_BASE_2 ? LN2 : base == H5DIV_BASE_10 ? LN10 : 1.0;
    const int64_t p_without_q = counts[0], q_without_p = counts[1];
    const unsigned measures = opt->measures;
    double *value = res->value;
    for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++) {
        if (!(measures & H5DIV_MEASURE_BIT(m)))
            continue;
        double v = 0.0;
        switch ((h5div_measure)m) {
        case H5DIV_ENTROPY_P: v = nats[H5DIV_T_ENTROPY_P] / ln_b; break;
        case H5DIV_ENTROPY_Q: v = nats[H5DIV_T_ENTROPY_Q] / ln_b; break;
        case H5DIV_CROSS_ENTROPY_PQ:
            v = p_without_q ? INFINITY : nats[H5DIV_T_CROSS_PQ] / ln_b;
            break;
        case H5DIV_CROSS_ENTROPY_QP:
            v = q_without_p ? INFINITY : nats[H5DIV_T_CROSS_QP] / ln_b;
            break;
        case H5DIV_KL_PQ: v = p_without_q ? INFINITY : nats[H5DIV_T_KL_PQ] / ln_b; break;
        case H5DIV_KL_QP: v = q_without_p ? INFINITY : nats[H5DIV_T_KL_QP] / ln_b; break;
        case H5DIV_JS_DIVERGENCE:
        case H5DIV_JS_DISTANCE: {
            double js = nats[H5DIV_T_JS];
            js = js > LN2 ? LN2 : js;
            js /= ln_b;
            v = m == H5DIV_JS_DIVERGENCE ? js : sqrt(js);
            break;
        }
        case H5DIV_TOTAL_VARIATION: v = clamp01(0.5 * nats[H5DIV_T_TV]); break;
        case H5DIV_HELLINGER: v = sqrt(clamp01(0.5 * nats[H5DIV_T_HELLINGER])); break;
        case H5DIV_BHATTACHARYYA: {
            /* sum sqrt(p q) = 1 - H^2 with H^2 = sum (sqrt p - sqrt q)^2 / 2,
             * accurate where the coefficient is near 1. */
            double h2 = clamp01(0.5 * nats[H5DIV_T_HELLINGER]);
            v = h2 >= 1.0 ? INFINITY : -log1p(-h2) / ln_b;
            break;
        }
        case H5DIV_CHI2_PQ: v = p_without_q ? INFINITY : nats[H5DIV_T_CHI2_PQ]; break;
        case H5DIV_CHI2_QP: v = q_without_p ? INFINITY : nats[H5DIV_T_CHI2_QP]; break;
        case H5DIV_RENYI_PQ:
        case H5DIV_RENYI_QP: {
            int qp = m == H5DIV_RENYI_QP;
            int n = qp ? opt->n_renyi_qp : opt->n_renyi_pq;
            for (int i = 0; i < n && i < H5DIV_RENYI_MAX; i++) {
                double A = qp ? opt->renyi_qp[i] : opt->renyi_pq[i];
                double r = renyi_value(A, nats[H5DIV_T_RENYI + (qp ? H5DIV_RENYI_MAX : 0) + i],
                                       qp ? q_without_p : p_without_q) / ln_b;
                (qp ? res->renyi_qp : res->renyi_pq)[i] = r;
                if (i == 0)
                    v = r;
            }
            break;
        }
        case H5DIV_WASSERSTEIN1: v = nats[H5DIV_T_W1] * opt->bin_width; break;
        case H5DIV_KS: v = ks > 1.0 ? 1.0 : ks; break;
        case H5DIV_COMPARE_NMEASURES: break;
        }
        value[m] = v;
    }
    res->computed = measures;
}

void h5div_compare_finish(const h5div_compare_partial *part, const h5div_options *opt,
                          h5div_compare_result *res)
{
    h5div_term_params tp;
    h5div_term_params_init(&tp, opt);
    double nats[H5DIV_T_COUNT] = {0};
    for (int t = 0; t < H5DIV_T_COUNT; t++)
        if (tp.mask & (1u << t))
            nats[t] = h5div_acc_round(&part->acc[t]);
    int64_t counts[2] = {part->p_without_q, part->q_without_p};
    h5div_compare_finish_sums(nats, counts, part->ks, opt, res);
}

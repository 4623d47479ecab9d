/* SPDX-License-Identifier: BSD-3-Clause */
/* Accurate per-bin terms of the compare measures, summed in global-index blocks. */
#include "core/terms.h"

#include <math.h>
#include <string.h>

#include "h5div_types.h"

/* Below this |u| the divergence terms use their series: the closed forms
 * cancel to first order there. At the switch the closed forms lose at most
 * a factor 64 to cancellation (about 1.4e-14 relative). */
#define SERIES_LIMIT 0.03125

#define LN2 0.693147180559945309417232121458176568
#define LN10 2.30258509299404568401799145468436421

void h5div_norm_init(h5div_norm *nm, double a_hi, double a_lo, double b_hi, double b_lo,
                     double alpha)
{
    nm->a_hi = a_hi;
    nm->a_lo = a_lo;
    nm->b_hi = b_hi;
    nm->b_lo = b_lo;
    /* 1/(hi + lo) to within one rounding: lo is below an ulp of hi. */
    nm->inv_a = (1.0 / a_hi) * (1.0 - a_lo / a_hi);
    nm->inv_b = (1.0 / b_hi) * (1.0 - b_lo / b_hi);
    nm->alpha = alpha;
}

size_t h5div_first_invalid(const double *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(x[i] >= 0.0) || x[i] == INFINITY)
            return i;
    return n;
}

void h5div_total_add(const double *restrict x, size_t n, double alpha, h5div_acc *acc)
{
    for (size_t b = 0; b < n; b += H5DIV_BLOCK_BINS) {
        size_t e = n - b < H5DIV_BLOCK_BINS ? n - b : H5DIV_BLOCK_BINS;
        double s = 0.0, err = 0.0;
        for (size_t i = b; i < b + e; i++) {
            /* Knuth's TwoSum: s + err tracks the block sum to about 2^-106. */
            double v = x[i] + alpha;
            double t = s + v;
            double bp = t - s;
            err += (s - (t - bp)) + (v - bp);
            s = t;
        }
        h5div_acc_add(acc, s);
        h5div_acc_add(acc, err);
    }
}

void h5div_compare_partial_init(h5div_compare_partial *part)
{
    memset(part, 0, sizeof *part);
    for (int t = 0; t < H5DIV_T_COUNT; t++)
        h5div_acc_init(&part->acc[t]);
}

/* (1+u) log1p(u) - u, the generalised KL term divided by q; >= 0. */
static inline double kl_series(double u)
{
    /* sum_{k>=2} (-1)^k u^k / (k (k-1)); |u| < 1/32 needs terms to k = 14. */
    double s = 1.0 / 182;
    s = s * u - 1.0 / 156;
    s = s * u + 1.0 / 132;
    s = s * u - 1.0 / 110;
    s = s * u + 1.0 / 90;
    s = s * u - 1.0 / 72;
    s = s * u + 1.0 / 56;
    s = s * u - 1.0 / 42;
    s = s * u + 1.0 / 30;
    s = s * u - 1.0 / 20;
    s = s * u + 1.0 / 12;
    s = s * u - 1.0 / 6;
    s = s * u + 0.5;
    return s * u * u;
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

/* log(v / T) for 0 < v <= T; near 1 through log1p of (v - T) / T, which is
 * exact to a rounding because T - v is computed from the two-part total. */
static inline double log_ratio(double v, double t_hi, double t_lo, double inv_t)
{
    double r = v * inv_t;
    if (r > 0.5)
        return log1p(-((t_hi - v) + t_lo) * inv_t);
    return log(r);
}

/* KL term of bin (x, y): p log(p/q) - p + q with p = x/A, q = y/B and
 * d = x*B - y*A. Returns -1 when p > 0 = q (infinite divergence). */
static inline double kl_term(double x, double y, double d, double a_hi, double a_lo, double inv_a,
                             double inv_b)
{
    if (y == 0.0)
        return x == 0.0 ? 0.0 : -1.0;
    double q = y * inv_b;
    if (x == 0.0)
        return q;
    double u = d / (y * a_hi + y * a_lo); /* p/q - 1 */
    if (fabs(u) < SERIES_LIMIT)
        return q * kl_series(u);
    double p = x * inv_a;
    double t = p * log1p(u) - d * inv_a * inv_b;
    return t > 0.0 ? t : 0.0;
}

void h5div_compare_add(const double *restrict xs, const double *restrict ys, size_t n,
                       const h5div_norm *nm, unsigned mask, h5div_compare_partial *part)
{
    const double alpha = nm->alpha, inv_a = nm->inv_a, inv_b = nm->inv_b;
    for (size_t b = 0; b < n; b += H5DIV_BLOCK_BINS) {
        size_t e = n - b < H5DIV_BLOCK_BINS ? n - b : H5DIV_BLOCK_BINS;
        /* Four lanes by bin index within the block, combined in a fixed
         * tree: the same order wherever the block sits in a piece or rank. */
        double s[H5DIV_T_COUNT][4] = {{0}};
        for (size_t k = 0; k < e; k++) {
            const size_t i = b + k, lane = k & 3;
            const double x = xs[i] + alpha, y = ys[i] + alpha;
            if (x == 0.0 && y == 0.0)
                continue;
            const double p = x * inv_a, q = y * inv_b;
            if (x > 0.0 && y == 0.0)
                part->p_without_q++;
            if (y > 0.0 && x == 0.0)
                part->q_without_p++;
            if (mask & (1u << H5DIV_T_ENTROPY_P) && x > 0.0)
                s[H5DIV_T_ENTROPY_P][lane] -= p * log_ratio(x, nm->a_hi, nm->a_lo, inv_a);
            if (mask & (1u << H5DIV_T_ENTROPY_Q) && y > 0.0)
                s[H5DIV_T_ENTROPY_Q][lane] -= q * log_ratio(y, nm->b_hi, nm->b_lo, inv_b);
            if (mask & (1u << H5DIV_T_CROSS_PQ) && x > 0.0 && y > 0.0)
                s[H5DIV_T_CROSS_PQ][lane] -= p * log_ratio(y, nm->b_hi, nm->b_lo, inv_b);
            if (mask & (1u << H5DIV_T_CROSS_QP) && x > 0.0 && y > 0.0)
                s[H5DIV_T_CROSS_QP][lane] -= q * log_ratio(x, nm->a_hi, nm->a_lo, inv_a);
            if (!(mask & ((1u << H5DIV_T_KL_PQ) | (1u << H5DIV_T_KL_QP) | (1u << H5DIV_T_JS) |
                          (1u << H5DIV_T_TV) | (1u << H5DIV_T_HELLINGER))))
                continue;
            const double d = cross_diff(x, y, nm); /* (p - q) * A * B */
            const double diff = d * inv_a * inv_b; /* p - q */
            if (mask & (1u << H5DIV_T_KL_PQ)) {
                double t = kl_term(x, y, d, nm->a_hi, nm->a_lo, inv_a, inv_b);
                s[H5DIV_T_KL_PQ][lane] += t > 0.0 ? t : 0.0;
            }
            if (mask & (1u << H5DIV_T_KL_QP)) {
                double t = kl_term(y, x, -d, nm->b_hi, nm->b_lo, inv_b, inv_a);
                s[H5DIV_T_KL_QP][lane] += t > 0.0 ? t : 0.0;
            }
            if (mask & (1u << H5DIV_T_JS)) {
                double js;
                if (x == 0.0 || y == 0.0) {
                    js = 0.5 * LN2 * (p + q); /* half of the lone mass times log 2 */
                } else {
                    double sum = x * nm->b_hi + y * nm->a_hi + (x * nm->b_lo + y * nm->a_lo);
                    double t = d / sum;          /* (p - q) / (p + q) */
                    double m = 0.5 * (p + q);
                    if (fabs(t) < SERIES_LIMIT)
                        js = 0.5 * m * js_series(t);
                    else
                        js = 0.5 * (p * log1p(t) + q * log1p(-t));
                    js = js > 0.0 ? js : 0.0;
                }
                s[H5DIV_T_JS][lane] += js;
            }
            if (mask & (1u << H5DIV_T_TV))
                s[H5DIV_T_TV][lane] += fabs(diff);
            if (mask & (1u << H5DIV_T_HELLINGER)) {
                /* (sqrt p - sqrt q)^2 without cancellation. */
                double h = diff / (sqrt(p) + sqrt(q));
                s[H5DIV_T_HELLINGER][lane] += h * h;
            }
        }
        for (int t = 0; t < H5DIV_T_COUNT; t++)
            if (mask & (1u << t))
                h5div_acc_add(&part->acc[t], (s[t][0] + s[t][1]) + (s[t][2] + s[t][3]));
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
    if (measures & H5DIV_MEASURE_BIT(H5DIV_HELLINGER))
        t |= 1u << H5DIV_T_HELLINGER;
    return t;
}

static double clamp01(double v) { return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v); }

void h5div_compare_finish(const h5div_compare_partial *part, unsigned measures, int base,
                          double *value)
{
    /* Dividing by ln b (rather than multiplying by 1/ln b) maps ln 2 to
     * exactly 1 bit, so the JS bound holds exactly in base 2. */
    const double ln_b = base == H5DIV_BASE_2 ? LN2 : base == H5DIV_BASE_10 ? LN10 : 1.0;
    double nats[H5DIV_T_COUNT];
    for (int t = 0; t < H5DIV_T_COUNT; t++)
        nats[t] = h5div_acc_round(&part->acc[t]);
    for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++) {
        if (!(measures & H5DIV_MEASURE_BIT(m)))
            continue;
        double v = 0.0;
        switch ((h5div_measure)m) {
        case H5DIV_ENTROPY_P: v = nats[H5DIV_T_ENTROPY_P] / ln_b; break;
        case H5DIV_ENTROPY_Q: v = nats[H5DIV_T_ENTROPY_Q] / ln_b; break;
        case H5DIV_CROSS_ENTROPY_PQ:
            v = part->p_without_q ? INFINITY : nats[H5DIV_T_CROSS_PQ] / ln_b;
            break;
        case H5DIV_CROSS_ENTROPY_QP:
            v = part->q_without_p ? INFINITY : nats[H5DIV_T_CROSS_QP] / ln_b;
            break;
        case H5DIV_KL_PQ: v = part->p_without_q ? INFINITY : nats[H5DIV_T_KL_PQ] / ln_b; break;
        case H5DIV_KL_QP: v = part->q_without_p ? INFINITY : nats[H5DIV_T_KL_QP] / ln_b; break;
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
        case H5DIV_COMPARE_NMEASURES: break;
        }
        value[m] = v;
    }
}

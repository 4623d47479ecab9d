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
        if (isfinite(s) && isfinite(err)) {
            h5div_acc_add(acc, s);
            h5div_acc_add(acc, err);
        } else {
            /* The block sum overflowed: add its values exactly instead. */
            for (size_t i = b; i < b + e; i++)
                h5div_acc_add(acc, x[i] + alpha);
        }
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
        return q * kl_series(u);
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

void h5div_compare_add(const double *restrict xs, const double *restrict ys, size_t n,
                       const h5div_norm *nm, unsigned mask, h5div_compare_partial *part)
{
    const double alpha = nm->alpha, inv_a = nm->inv_a, inv_b = nm->inv_b;
    const double scale_a = nm->scale_a, scale_b = nm->scale_b;
    for (size_t b = 0; b < n; b += H5DIV_BLOCK_BINS) {
        size_t e = n - b < H5DIV_BLOCK_BINS ? n - b : H5DIV_BLOCK_BINS;
        /* Four lanes by bin index within the block, combined in a fixed
         * tree: the same order wherever the block sits in a piece or rank. */
        double s[H5DIV_T_COUNT][4] = {{0}};
        for (size_t k = 0; k < e; k++) {
            const size_t i = b + k, lane = k & 3;
            const double xr = xs[i] + alpha, yr = ys[i] + alpha;
            if (xr == 0.0 && yr == 0.0)
                continue;
            if (xr > 0.0 && yr == 0.0)
                part->p_without_q++;
            if (yr > 0.0 && xr == 0.0)
                part->q_without_p++;
            /* Zero tests use the raw values: a scaled value may underflow. */
            const raw_bin rpq = {xr, yr, nm->log_a, nm->log_b};
            const raw_bin rqp = {yr, xr, nm->log_b, nm->log_a};
            const double x = xr * scale_a, y = yr * scale_b;
            const double p = x * inv_a, q = y * inv_b;
            if (mask & (1u << H5DIV_T_ENTROPY_P) && xr > 0.0)
                s[H5DIV_T_ENTROPY_P][lane] -=
                    p * log_ratio(x, xr, nm->a_hi, nm->a_lo, inv_a, nm->log_a);
            if (mask & (1u << H5DIV_T_ENTROPY_Q) && yr > 0.0)
                s[H5DIV_T_ENTROPY_Q][lane] -=
                    q * log_ratio(y, yr, nm->b_hi, nm->b_lo, inv_b, nm->log_b);
            if (mask & (1u << H5DIV_T_CROSS_PQ) && xr > 0.0 && yr > 0.0)
                s[H5DIV_T_CROSS_PQ][lane] -=
                    p * log_ratio(y, yr, nm->b_hi, nm->b_lo, inv_b, nm->log_b);
            if (mask & (1u << H5DIV_T_CROSS_QP) && xr > 0.0 && yr > 0.0)
                s[H5DIV_T_CROSS_QP][lane] -=
                    q * log_ratio(x, xr, nm->a_hi, nm->a_lo, inv_a, nm->log_a);
            if (!(mask & ((1u << H5DIV_T_KL_PQ) | (1u << H5DIV_T_KL_QP) | (1u << H5DIV_T_JS) |
                          (1u << H5DIV_T_TV) | (1u << H5DIV_T_HELLINGER))))
                continue;
            const double d = cross_diff(x, y, nm); /* (p - q) * A * B */
            const double diff = d * inv_a * inv_b; /* p - q */
            if (mask & (1u << H5DIV_T_KL_PQ))
                s[H5DIV_T_KL_PQ][lane] +=
                    kl_term(x, y, d, nm->a_hi, nm->a_lo, nm->b_hi, inv_a, inv_b, rpq);
            if (mask & (1u << H5DIV_T_KL_QP))
                s[H5DIV_T_KL_QP][lane] +=
                    kl_term(y, x, -d, nm->b_hi, nm->b_lo, nm->a_hi, inv_b, inv_a, rqp);
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
                        js = 0.5 * (p * log_mix(x, nm->b_hi, sum, t) +
                                    q * log_mix(y, nm->a_hi, sum, -t));
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

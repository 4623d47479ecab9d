/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-bin terms of the entropy estimators and of self-information, summed in global-index blocks.
 */
#include "core/entropy.h"
#include "core/measures.h"

#include <math.h>
#include <string.h>

#define LN2 0.693147180559945309417232121458176568
#define LN10 2.30258509299404568401799145468436421

/* Ratios below this are subnormal or close to it: their logarithms are
 * taken as differences of logarithms of the unscaled values. */
#define TINY 0x1p-960

static const char *const entropy_names[H5DIV_ENTROPY_NMEASURES] = {
    "entropy", "perplexity", "total_count", "nonzero_bins", "shrinkage_lambda"};

const char *h5div_entropy_measure_name(h5div_entropy_measure m)
{
    if ((int)m < 0 || m >= H5DIV_ENTROPY_NMEASURES)
        return NULL;
    return entropy_names[m];
}

const char *h5div_entropy_measure_units(h5div_entropy_measure m, h5div_base base)
{
    if (m != H5DIV_ENTROPY)
        return "1";
    return h5div_base_units(base);
}

const char *h5div_estimator_name(h5div_estimator e)
{
    switch (e) {
    case H5DIV_ESTIMATOR_PLUGIN: return "plugin";
    case H5DIV_ESTIMATOR_MILLER_MADOW: return "miller-madow";
    case H5DIV_ESTIMATOR_CHAO_SHEN: return "chao-shen";
    case H5DIV_ESTIMATOR_SHRINK: return "shrink";
    case H5DIV_ESTIMATOR_DIRICHLET: return "dirichlet";
    }
    return NULL;
}

double h5div_ln_base(h5div_base base)
{
    return base == H5DIV_BASE_2 ? LN2 : base == H5DIV_BASE_10 ? LN10 : 1.0;
}

void h5div_entropy_stats_init(h5div_entropy_stats *st)
{
    memset(st, 0, sizeof *st);
    h5div_acc_init(&st->raw);
    h5div_acc_init(&st->total);
}

size_t h5div_first_fraction(const double *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] != floor(x[i]))
            return i;
    return n;
}

/* The rounding error of s = a + b (Knuth's TwoSum): with it a pseudocount
 * is added to every value exactly. */
static inline double add_err(double a, double b, double s)
{
    double bp = s - a;
    return (a - (s - bp)) + (b - bp);
}

/* Block sums with error-free transformations, as h5div_total_add does. */
static void block_total(const double *restrict x, size_t n, double alpha, h5div_acc *acc)
{
    for (size_t b = 0; b < n; b += H5DIV_BLOCK_BINS) {
        size_t e = n - b < H5DIV_BLOCK_BINS ? n - b : H5DIV_BLOCK_BINS;
        double s = 0.0, err = 0.0;
        for (size_t i = b; i < b + e; i++) {
            double v = x[i] + alpha, t = s + v, bp = t - s;
            err += (s - (t - bp)) + (v - bp);
            s = t;
        }
        if (alpha != 0.0) /* what rounding x + alpha dropped */
            for (size_t i = b; i < b + e; i++)
                err += add_err(x[i], alpha, x[i] + alpha);
        if (isfinite(s) && isfinite(err)) {
            h5div_acc_add(acc, s);
            h5div_acc_add(acc, err);
        } else {
            for (size_t i = b; i < b + e; i++) {
                h5div_acc_add(acc, x[i] + alpha);
                if (alpha != 0.0)
                    h5div_acc_add(acc, add_err(x[i], alpha, x[i] + alpha));
            }
        }
    }
}

void h5div_entropy_stats_add_lo(const double *restrict x, const double *restrict lo, size_t n,
                                double alpha, h5div_entropy_stats *st)
{
    h5div_entropy_stats_add(x, n, alpha, st);
    if (lo)
        for (size_t i = 0; i < n; i++)
            if (lo[i] != 0.0) {
                h5div_acc_add(&st->raw, lo[i]);
                h5div_acc_add(&st->total, lo[i]);
            }
}

void h5div_entropy_stats_add(const double *restrict x, size_t n, double alpha,
                             h5div_entropy_stats *st)
{
    block_total(x, n, 0.0, &st->raw);
    block_total(x, n, alpha, &st->total);
    for (size_t i = 0; i < n; i++) {
        st->nonzero += x[i] > 0.0;
        st->singletons += x[i] == 1.0;
    }
}

void h5div_entropy_norm_init(h5div_entropy_norm *nm, double hi, double lo, double alpha)
{
    const h5div_unit_total u = h5div_unit_total_of(hi, lo);
    *nm = (h5div_entropy_norm){
        .t_hi = u.hi, .t_lo = u.lo, .inv = u.inv, .scale = u.scale, .log_t = u.log, .alpha = alpha};
}

/* log p of a bin whose value plus pseudocount is xr + xl exactly (xl the
 * part rounding dropped). */
static double log_p2(double xr, double xl, const h5div_entropy_norm *nm)
{
    double v = xr * nm->scale, r = v * nm->inv;
    /* Near 1 through log1p of (T - v) / T, exact to a rounding because T is
     * held as two parts. */
    if (r > 0.5)
        return log1p(-(((nm->t_hi - v) + nm->t_lo) - xl * nm->scale) * nm->inv);
    if (r < TINY)
        return log(xr) - nm->log_t;
    return log(r);
}

void h5div_entropy_plugin_add(const double *restrict x, size_t n, const h5div_entropy_norm *nm,
                              h5div_acc *acc)
{
    h5div_entropy_plugin_add_lo(x, NULL, n, nm, acc);
}

void h5div_entropy_plugin_add_lo(const double *restrict x, const double *restrict lo, size_t n,
                                 const h5div_entropy_norm *nm, h5div_acc *acc)
{
    for (size_t b = 0; b < n; b += H5DIV_BLOCK_BINS) {
        size_t e = n - b < H5DIV_BLOCK_BINS ? n - b : H5DIV_BLOCK_BINS;
        /* Four lanes by index within the block, combined in a fixed tree. */
        double s[4] = {0, 0, 0, 0};
        for (size_t k = 0; k < e; k++) {
            double xr = x[b + k] + nm->alpha;
            double xl = add_err(x[b + k], nm->alpha, xr);
            if (lo)
                xl += lo[b + k];
            if (xr > 0.0)
                s[k & 3] -= (xr * nm->scale * nm->inv) * log_p2(xr, xl, nm);
        }
        h5div_acc_add(acc, (s[0] + s[1]) + (s[2] + s[3]));
    }
}

void h5div_entropy_chao_shen_add(const double *restrict x, size_t n_bins, double n, double coverage,
                                 double log_coverage, h5div_acc *acc)
{
    h5div_entropy_chao_shen_add_lo(x, NULL, n_bins, n, 0.0, coverage, log_coverage, acc);
}

/* n - c of the total n + n_lo and the value c + lo[j] (lo may be NULL). */
static inline double rest(double n, double n_lo, double c, const double *restrict lo, size_t j)
{
    return lo ? ((n - c) + n_lo) - lo[j] : (n - c) + n_lo;
}

/* What the Chao-Shen term of a bin needs besides its value. */
typedef struct chao_shen_ctx {
    const double *lo;
    double n, n_lo, coverage, log_coverage;
} chao_shen_ctx;

/* The Chao-Shen term of bin j of value c > 0 (terms below 0 count as 0). */
static double chao_shen_term(const void *ctx, double c, size_t j)
{
    const chao_shen_ctx *cs = ctx;
    const double n = cs->n;
    double u = c / n;
    /* log(u) near 1 from the exact n - c. */
    double lu = u > 0.5 ? log1p(-rest(n, cs->n_lo, c, cs->lo, j) / n) : log(u);
    double pa = cs->coverage * u;
    double la = -expm1(n * log1p(-pa)); /* 1 - (1 - pa)^n */
    double t = la > 0.0 ? -pa * (cs->log_coverage + lu) / la : 0.0;
    return t > 0.0 ? t : 0.0;
}

void h5div_entropy_chao_shen_add_lo(const double *restrict x, const double *restrict lo,
                                    size_t n_bins, double n, double n_lo, double coverage,
                                    double log_coverage, h5div_acc *acc)
{
    const chao_shen_ctx cs = {lo, n, n_lo, coverage, log_coverage};
    h5div_acc_add_block_terms(acc, x, n_bins, chao_shen_term, &cs);
}

void h5div_entropy_shrink_sums_add(const double *restrict x, size_t n_bins, double n, double k,
                                   h5div_acc acc[2])
{
    h5div_entropy_shrink_sums_add_lo(x, NULL, n_bins, n, 0.0, k, acc);
}

void h5div_entropy_shrink_sums_add_lo(const double *restrict x, const double *restrict lo,
                                      size_t n_bins, double n, double n_lo, double k,
                                      h5div_acc acc[2])
{
    const double nk = n * k;
    for (size_t b = 0; b < n_bins; b += H5DIV_BLOCK_BINS) {
        size_t e = n_bins - b < H5DIV_BLOCK_BINS ? n_bins - b : H5DIV_BLOCK_BINS;
        double s2[4] = {0, 0, 0, 0}, m2[4] = {0, 0, 0, 0};
        for (size_t j = 0; j < e; j++) {
            double c = x[b + j], u = c / n;
            /* u - 1/K = (c K - n) / (n K) without cancellation; u (1 - u)
             * >= 0 with 1 - u = (n - c) / n, summing to 1 - sum u^2
             * without the cancellation of 1 minus that sum. */
            double d = fma(c, k, -n);
            if (lo || n_lo != 0.0)
                d += (lo ? lo[b + j] * k : 0.0) - n_lo;
            d /= nk;
            s2[j & 3] += u * (rest(n, n_lo, c, lo, b + j) / n);
            m2[j & 3] += d * d;
        }
        h5div_acc_add(&acc[0], (s2[0] + s2[1]) + (s2[2] + s2[3]));
        h5div_acc_add(&acc[1], (m2[0] + m2[1]) + (m2[2] + m2[3]));
    }
}

double h5div_entropy_shrink_lambda(double n, double one_minus_u2, double msp)
{
    if (n <= 1.0 || msp == 0.0)
        return 1.0;
    double lambda = one_minus_u2 / ((n - 1.0) * msp);
    return lambda > 1.0 ? 1.0 : (lambda < 0.0 ? 0.0 : lambda);
}

void h5div_entropy_shrink_add(const double *restrict x, size_t n_bins, double n, double k,
                              double lambda, h5div_acc *acc)
{
    h5div_entropy_shrink_add_lo(x, NULL, n_bins, n, 0.0, k, lambda, acc);
}

void h5div_entropy_shrink_add_lo(const double *restrict x, const double *restrict lo, size_t n_bins,
                                 double n, double n_lo, double k, double lambda, h5div_acc *acc)
{
    const double target = 1.0 / k, keep = 1.0 - lambda;
    for (size_t b = 0; b < n_bins; b += H5DIV_BLOCK_BINS) {
        size_t e = n_bins - b < H5DIV_BLOCK_BINS ? n_bins - b : H5DIV_BLOCK_BINS;
        double s[4] = {0, 0, 0, 0};
        for (size_t j = 0; j < e; j++) {
            double c = x[b + j];
            double ps = lambda * target + keep * (c / n);
            if (!(ps > 0.0))
                continue;
            /* 1 - ps as a sum of non-negative parts, for log(ps) near 1. */
            double lp =
                ps > 0.5
                    ? log1p(-(lambda * (1.0 - target) + keep * (rest(n, n_lo, c, lo, b + j) / n)))
                    : log(ps);
            s[j & 3] -= ps * lp;
        }
        h5div_acc_add(acc, (s[0] + s[1]) + (s[2] + s[3]));
    }
}

void h5div_surprisal_values(const double *restrict x, size_t n, const h5div_entropy_norm *nm,
                            double ln_b, double *restrict out)
{
    h5div_surprisal_values_lo(x, NULL, n, nm, ln_b, out);
}

void h5div_surprisal_values_lo(const double *restrict x, const double *restrict lo, size_t n,
                               const h5div_entropy_norm *nm, double ln_b, double *restrict out)
{
    for (size_t i = 0; i < n; i++) {
        double xr = x[i] + nm->alpha;
        double xl = add_err(x[i], nm->alpha, xr);
        if (lo)
            xl += lo[i];
        /* -log p >= 0 always; + 0.0 turns -0.0 (p = 1) into +0.0. */
        out[i] = xr > 0.0 ? -log_p2(xr, xl, nm) / ln_b + 0.0 : INFINITY;
    }
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-cell terms of joint entropies and mutual information, summed in global-index blocks. */
#include "core/joint.h"

#include <math.h>

#include "core/series.h"

#define LN2 0.693147180559945309417232121458176568
#define LN10 2.30258509299404568401799145468436421
#define TINY 0x1p-960
/* Below this |u| the mutual-information term uses its series. */
#define SERIES_LIMIT H5DIV_SERIES_LIMIT

static const char *const joint_names[H5DIV_JOINT_NMEASURES] = {
    "entropy_x",
    "entropy_y",
    "joint_entropy",
    "conditional_entropy_x_given_y",
    "conditional_entropy_y_given_x",
    "mutual_information",
    "normalized_mutual_information",
    "variation_of_information"};

const char *h5div_joint_measure_name(h5div_joint_measure m)
{
    if ((int)m < 0 || m >= H5DIV_JOINT_NMEASURES)
        return NULL;
    return joint_names[m];
}

const char *h5div_joint_measure_units(h5div_joint_measure m, h5div_base base)
{
    if (m == H5DIV_NORMALIZED_MUTUAL_INFORMATION)
        return "1";
    return base == H5DIV_BASE_2 ? "bits" : base == H5DIV_BASE_E ? "nats" : "hartleys";
}

void h5div_joint_norm_init(h5div_joint_norm *nm, double hi, double lo)
{
    int e;
    frexp(hi, &e);
    int k = 1 - e;
    k = k < -1000 ? -1000 : (k > 1000 ? 1000 : k);
    nm->scale = ldexp(1.0, k);
    nm->log_n = log(hi);
    nm->n_hi = hi * nm->scale;
    nm->n_lo = lo * nm->scale;
    nm->inv_n = (1.0 / nm->n_hi) * (1.0 - nm->n_lo / nm->n_hi);
}

/* log(v / T) for 0 < v <= T (both scaled, T = t_hi + t_lo); near 1 through
 * log1p of the exactly computed (T - v) / T. */
static inline double log_ratio(double v, double t_hi, double t_lo, double inv_t)
{
    double r = v * inv_t;
    if (r > 0.5)
        return log1p(-((t_hi - v) + t_lo) * inv_t);
    if (r < TINY || !(r > 0.0))
        return log(v) - log(t_hi);
    return log(r);
}

void h5div_joint_marginal_add(const double *restrict m_hi, size_t n, const h5div_joint_norm *nm,
                              h5div_acc *acc)
{
    for (size_t b = 0; b < n; b += H5DIV_BLOCK_BINS) {
        size_t e = n - b < H5DIV_BLOCK_BINS ? n - b : H5DIV_BLOCK_BINS;
        double s[4] = {0, 0, 0, 0};
        for (size_t k = 0; k < e; k++) {
            double m = m_hi[b + k];
            if (!(m > 0.0))
                continue;
            double v = m * nm->scale;
            double lr = v * nm->inv_n < TINY ? log(m) - nm->log_n
                                             : log_ratio(v, nm->n_hi, nm->n_lo, nm->inv_n);
            s[k & 3] -= (v * nm->inv_n) * lr;
        }
        h5div_acc_add(acc, (s[0] + s[1]) + (s[2] + s[3]));
    }
}

/* The mutual-information term p log(p/q) - p + q >= 0 of one cell, with
 * p = v/N and q = r c / N^2 (all scaled). d = v N - r c is formed from
 * exact products, so u = p/q - 1 keeps its digits when X and Y are nearly
 * independent. */
static inline double mi_term(double v, double r_hi, double r_lo, double c_hi, double c_lo,
                             const h5div_joint_norm *nm, double raw_v)
{
    const double inv = nm->inv_n;
    double q = (r_hi * inv) * (c_hi * inv);
    if (v == 0.0)
        return q;
    double h1 = v * nm->n_hi, h2 = r_hi * c_hi;
    double e1 = fma(v, nm->n_hi, -h1), e2 = fma(r_hi, c_hi, -h2);
    double d = (h1 - h2) + ((e1 - e2) + (v * nm->n_lo - (r_hi * c_lo + r_lo * c_hi)));
    double rc = h2 + (r_hi * c_lo + r_lo * c_hi);
    double u = d / rc;
    if (fabs(u) < SERIES_LIMIT)
        return q * h5div_kl_series(u);
    double p = v * inv, lr;
    if (u > -0.5 && isfinite(u) && rc > TINY)
        lr = log1p(u);
    else /* log(p/q) = log(v N / (r c)) from the logarithms */
        lr = (log(raw_v) + nm->log_n) - (log(r_hi / nm->scale) + log(c_hi / nm->scale));
    double t = p * lr - (p - q);
    return t > 0.0 ? t : 0.0;
}

void h5div_joint_cells_add(const double *restrict cells, size_t nrows, size_t ncols, size_t ld,
                           const double *restrict r_hi, const double *restrict r_lo,
                           const double *restrict c_hi, const double *restrict c_lo,
                           const h5div_joint_norm *nm, h5div_acc acc[H5DIV_J_COUNT])
{
    const double sc = nm->scale, inv = nm->inv_n;
    for (size_t i = 0; i < nrows; i++) {
        const double *row = cells + i * ld;
        const double ri = r_hi[i] * sc, ril = r_lo[i] * sc;
        const double inv_r = (1.0 / ri) * (1.0 - ril / ri);
        for (size_t b = 0; b < ncols; b += H5DIV_BLOCK_BINS) {
            size_t e = ncols - b < H5DIV_BLOCK_BINS ? ncols - b : H5DIV_BLOCK_BINS;
            double s[4][4] = {{0}};
            for (size_t k = 0; k < e; k++) {
                const size_t j = b + k, lane = k & 3;
                const double x = row[j];
                const double cj = c_hi[j] * sc, cjl = c_lo[j] * sc;
                if (ri == 0.0 || cj == 0.0)
                    continue; /* an empty row or column: every term is 0 */
                const double v = x * sc;
                s[3][lane] += mi_term(v, ri, ril, cj, cjl, nm, x);
                if (x == 0.0)
                    continue;
                const double p = v * inv;
                const double inv_c = (1.0 / cj) * (1.0 - cjl / cj);
                s[0][lane] -= p * (p < TINY ? log(x) - nm->log_n
                                            : log_ratio(v, nm->n_hi, nm->n_lo, inv));
                s[1][lane] -= p * log_ratio(v, cj, cjl, inv_c);
                s[2][lane] -= p * log_ratio(v, ri, ril, inv_r);
            }
            for (int t = 0; t < 4; t++) {
                /* -p log(ratio <= 1) is >= 0 term by term; + 0.0 drops -0. */
                double sum = (s[t][0] + s[t][1]) + (s[t][2] + s[t][3]) + 0.0;
                h5div_acc_add(&acc[H5DIV_J_HXY + t], sum > 0.0 ? sum : 0.0);
            }
        }
    }
}

void h5div_joint_finish(const h5div_acc acc[H5DIV_J_COUNT], unsigned measures, h5div_base base,
                        double *value)
{
    const double ln_b = base == H5DIV_BASE_2 ? LN2 : base == H5DIV_BASE_10 ? LN10 : 1.0;
    double nats[H5DIV_J_COUNT];
    for (int t = 0; t < H5DIV_J_COUNT; t++) {
        double v = h5div_acc_round(&acc[t]);
        nats[t] = v > 0.0 ? v : 0.0;
    }
    double hx = nats[H5DIV_J_HX], hy = nats[H5DIV_J_HY], mi = nats[H5DIV_J_MI];
    /* I <= min(H(X), H(Y)) in exact arithmetic. */
    double mi_max = hx < hy ? hx : hy;
    mi = mi < mi_max ? mi : mi_max;
    double v[H5DIV_JOINT_NMEASURES];
    v[H5DIV_ENTROPY_X] = hx / ln_b;
    v[H5DIV_ENTROPY_Y] = hy / ln_b;
    v[H5DIV_JOINT_ENTROPY] = nats[H5DIV_J_HXY] / ln_b;
    v[H5DIV_COND_ENTROPY_X_GIVEN_Y] = nats[H5DIV_J_HX_GIVEN_Y] / ln_b;
    v[H5DIV_COND_ENTROPY_Y_GIVEN_X] = nats[H5DIV_J_HY_GIVEN_X] / ln_b;
    v[H5DIV_MUTUAL_INFORMATION] = mi / ln_b;
    double nmi = hx + hy > 0.0 ? 2.0 * mi / (hx + hy) : 0.0;
    v[H5DIV_NORMALIZED_MUTUAL_INFORMATION] = nmi > 1.0 ? 1.0 : nmi;
    v[H5DIV_VARIATION_OF_INFORMATION] =
        (nats[H5DIV_J_HX_GIVEN_Y] + nats[H5DIV_J_HY_GIVEN_X]) / ln_b;
    for (int m = 0; m < H5DIV_JOINT_NMEASURES; m++)
        if (measures & H5DIV_MEASURE_BIT(m))
            value[m] = v[m];
}

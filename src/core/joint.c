/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-cell terms of joint entropies and mutual information, summed in global-index blocks. */
#include "core/joint.h"
#include "core/measures.h"

#include <math.h>

#include "core/series.h"

#define LN2 0.693147180559945309417232121458176568
#define LN10 2.30258509299404568401799145468436421
#define TINY 0x1p-960
/* Below this |u| the mutual-information term uses its series. */
#define SERIES_LIMIT H5DIV_SERIES_LIMIT

static const char *const joint_names[H5DIV_JOINT_NMEASURES] = {"entropy_x",
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
    return h5div_base_units(base);
}

void h5div_joint_norm_init(h5div_joint_norm *nm, double hi, double lo)
{
    const h5div_unit_total u = h5div_unit_total_of(hi, lo);
    *nm = (h5div_joint_norm){
        .scale = u.scale, .n_hi = u.hi, .n_lo = u.lo, .inv_n = u.inv, .log_n = u.log, .n_lo2 = 0.0};
}

/* log(x / T) for 0 < x <= T = t_hi + t_lo, all unscaled, with x = x_hi +
 * x_lo: near 1 through log1p of the exactly computed (T - x) / T, below
 * 2^-960 from the logarithms, else the log of the ratio. The values are
 * brought near 1 by one power of two first, so none is subnormal. */
static inline double log_frac(double x_hi, double x_lo, double t_hi, double t_lo)
{
    const int e = ilogb(t_hi);
    const double th = ldexp(t_hi, -e), tl = ldexp(t_lo, -e);
    const double v = ldexp(x_hi, -e), vl = ldexp(x_lo, -e);
    const double inv = (1.0 / th) * (1.0 - tl / th);
    const double r = v * inv;
    if (r > 0.5) /* th - v is exact (Sterbenz) */
        return log1p(-(((th - v) + tl) - vl) * inv);
    if (r >= TINY)
        return log(r);
    return log(x_hi) - log(t_hi);
}

/* Every sum of the joint kernel is held times 2^J_SCALE_EXP (an exact
 * scaling wherever the sums are normal), so tables of subnormal cells keep
 * their digits and normalized_mutual_information, a ratio, keeps its. */
#define J_SCALE_EXP 1000

/* 2^J_SCALE_EXP v / T rounded for an unscaled v > 0 and T = t_hi + t_lo, without an
 * intermediate underflow: correct also where the result is subnormal. */
static inline double frac(double v, double t_hi, double t_lo)
{
    const int e = ilogb(v), f = ilogb(t_hi);
    const double th = ldexp(t_hi, -f), tl = ldexp(t_lo, -f);
    return ldexp(ldexp(v, -e) * ((1.0 / th) * (1.0 - tl / th)), e - f + J_SCALE_EXP);
}

/* -p log p for p = 1 - c/N > 1/2, scaled by 2^J_SCALE_EXP, from the
 * complement c (unscaled): p log1p(-c/N), or p c/N where c/N is so small
 * that the rest of the series is below the last bit. */
static double big_term(double m, double c, double n_hi, double n_lo)
{
    if (!(c > 0.0))
        return 0.0;
    const double p = frac(m, n_hi, n_lo), eps_s = frac(c, n_hi, n_lo);
    if (eps_s >= 0x1p100) /* c/N >= 2^-900 */
        return -p * log1p(-ldexp(eps_s, -J_SCALE_EXP));
    return ldexp(p, -J_SCALE_EXP) * eps_s;
}

/* Does the complement log_frac takes from the rounded parts, N - m, agree
 * with the exact one c to 2^-50? Then its term is kept as it is. */
static int complement_holds(double m, double m_lo, double n_hi, double n_lo, double c)
{
    const int e = ilogb(n_hi);
    const double th = ldexp(n_hi, -e), tl = ldexp(n_lo, -e);
    const double v = ldexp(m, -e), vl = ldexp(m_lo, -e);
    const double cp = ldexp(((th - v) + tl) - vl, e);
    return fabs(cp - c) <= 0x1p-50 * c;
}

/* What the term of a marginal's bin needs besides its value. */
typedef struct marginal_ctx {
    const double *m_lo;
    size_t big;
    double big_c, n_hi, n_lo;
} marginal_ctx;

/* -p log p of bin j of the marginal, m > 0 (its big bin from the exact
 * complement big_c where the rounded one does not hold). */
static double marginal_term(const void *ctx, double m, size_t j)
{
    const marginal_ctx *mc = ctx;
    const double n_hi = mc->n_hi, n_lo = mc->n_lo;
    if (j == mc->big && !complement_holds(m, mc->m_lo[j], n_hi, n_lo, mc->big_c))
        return big_term(m, mc->big_c, n_hi, n_lo);
    return -(frac(m, n_hi, n_lo) * log_frac(m, mc->m_lo[j], n_hi, n_lo));
}

void h5div_joint_marginal_add_big(const double *restrict m_hi, const double *restrict m_lo,
                                  size_t n, size_t big, double big_c, const h5div_joint_norm *nm,
                                  h5div_acc *acc)
{
    const marginal_ctx mc = {m_lo, big, big_c, nm->n_hi / nm->scale, nm->n_lo / nm->scale};
    h5div_acc_add_block_terms(acc, m_hi, n, marginal_term, &mc);
}

void h5div_joint_marginal_add(const double *restrict m_hi, const double *restrict m_lo, size_t n,
                              const h5div_joint_norm *nm, h5div_acc *acc)
{
    h5div_joint_marginal_add_big(m_hi, m_lo, n, n, 0.0, nm, acc);
}

double h5div_joint_complement(const h5div_acc *total, const h5div_acc *m)
{
    h5div_acc c = *total;
    h5div_acc_sub(&c, m);
    const double v = h5div_acc_round(&c), mv = h5div_acc_round(m);
    return mv > v ? v : -1.0;
}

/* The mutual-information term of a cell whose p = x/N and q = r c / N^2
 * are more than 2^900 apart: from the logarithms. */
static double mi_far(double x, double r_hi, double c_hi, const h5div_joint_norm *nm)
{
    const int K = ilogb(nm->scale);
    const int er = ilogb(r_hi) + K, ec = ilogb(c_hi) + K;
    double p = frac(x, nm->n_hi / nm->scale, nm->n_lo / nm->scale);
    double R = ldexp(r_hi, -er + K), C = ldexp(c_hi, -ec + K);
    double q = ldexp((R * nm->inv_n) * (C * nm->inv_n), er + ec + J_SCALE_EXP);
    double lr = (log(x) + nm->log_n) - (log(r_hi) + log(c_hi)); /* log(x N / (r c)) */
    double t = p * (lr - 1.0) + q;
    return t > 0.0 ? t : 0.0;
}

/* x N - r c of all three parts of each (x = a, r = ra, c = cb, N from nm),
 * exactly, rounded once. */
static double cross_diff(const double a[3], const double ra[3], const double cb[3],
                         const h5div_joint_norm *nm)
{
    const double bn[3] = {nm->n_hi, nm->n_lo, nm->n_lo2};
    h5div_acc s;
    h5div_acc_init(&s);
    for (int i = 0; i < 3; i++)
        for (int m = 0; m < 3; m++) {
            double p = a[i] * bn[m], pr = ra[i] * cb[m];
            h5div_acc_add(&s, p);
            h5div_acc_add(&s, fma(a[i], bn[m], -p));
            h5div_acc_add(&s, -pr);
            h5div_acc_add(&s, -fma(ra[i], cb[m], -pr));
        }
    return h5div_acc_round(&s);
}

/* The mutual-information term p log(p/q) - p + q >= 0 of one cell with
 * p = x/N and q = r c / N^2 (x, r, c unscaled, r and c as hi + lo). The
 * term is homogeneous of degree 1 in (p, q): the cell's values are brought
 * near 1 by powers of two (x by 2^(K+k), r by 2^(K+k1), c by 2^(K+k-k1)),
 * so the cross difference d = x N - r c keeps its digits (exact products)
 * and nothing underflows; the term is scaled back by 2^-k at the end. A
 * cell whose p and q are more than 2^900 apart takes the logarithms. */
static inline double mi_term(double x, double xl_raw, double xl2_raw, int exact, double r_hi,
                             double r_lo, double r_lo2, double c_hi, double c_lo, double c_lo2,
                             const h5div_joint_norm *nm)
{
    const int K = ilogb(nm->scale);
    const int er = ilogb(r_hi) + K, ec = ilogb(c_hi) + K; /* q ~ 2^(er + ec) */
    const int eq = er + ec;
    if (x == 0.0) {
        /* q itself: r c / N^2 rounded from the scaled mantissas. */
        double R = ldexp(r_hi, -er + K), C = ldexp(c_hi, -ec + K);
        return ldexp((R * nm->inv_n) * (C * nm->inv_n), eq + J_SCALE_EXP);
    }
    const int ex = ilogb(x) + K; /* p ~ 2^ex */
    const int hi = ex > eq ? ex : eq, lo = ex > eq ? eq : ex;
    if (lo - hi < -900)
        return mi_far(x, r_hi, c_hi, nm);
    const int k = -hi, k1 = -er;
    const double v = ldexp(x, K + k);
    const double R = ldexp(r_hi, K + k1), Rl = ldexp(r_lo, K + k1);
    const double C = ldexp(c_hi, K + k - k1), Cl = ldexp(c_lo, K + k - k1);
    const double inv = nm->inv_n;
    double q = (R * inv) * (C * inv);
    double h1 = v * nm->n_hi, h2 = R * C;
    double e1 = fma(v, nm->n_hi, -h1), e2 = fma(R, C, -h2);
    double d = (h1 - h2) + ((e1 - e2) + (v * nm->n_lo - (R * Cl + Rl * C)));
    /* x N - r c of all parts exactly, rounded once: where the cell has
     * remainders, and where the rounded products cancel (a cell of an
     * independent table whose sums carry low parts: exactly zero). */
    if (xl_raw != 0.0 || exact || fabs(d) < 0x1p-40 * h1) {
        const double vl = ldexp(xl_raw, K + k);
        const double a[3] = {v, vl, ldexp(xl2_raw, K + k)};
        const double ra[3] = {R, Rl, ldexp(r_lo2, K + k1)};
        const double cb[3] = {C, Cl, ldexp(c_lo2, K + k - k1)};
        d = cross_diff(a, ra, cb, nm);
        h1 = v * nm->n_hi + (v * nm->n_lo + vl * nm->n_hi);
    }
    double rc = h2 + (R * Cl + Rl * C);
    double u = d / rc;
    double t;
    if (fabs(u) < SERIES_LIMIT) {
        t = q * h5div_kl_series(u);
    } else {
        /* log1p(u) where p/q = 1 + u is not small; else the ratio itself. */
        double lr = u >= -0.5 ? log1p(u) : log((exact ? h1 : v * nm->n_hi + v * nm->n_lo) / rc);
        double p = v * inv;
        t = p * lr - (p - q);
    }
    return ldexp(t > 0.0 ? t : 0.0, J_SCALE_EXP - k);
}

void h5div_joint_cells_add(const double *restrict cells, size_t nrows, size_t ncols, size_t ld,
                           const double *restrict r_hi, const double *restrict r_lo,
                           const double *restrict c_hi, const double *restrict c_lo,
                           const h5div_joint_norm *nm, h5div_acc acc[H5DIV_J_COUNT])
{
    h5div_joint_cells_add_lo(cells, NULL, nrows, ncols, ld, r_hi, r_lo, c_hi, c_lo, nm, acc);
}

void h5div_joint_cells_add_lo(const double *restrict cells, const double *restrict lo, size_t nrows,
                              size_t ncols, size_t ld, const double *restrict r_hi,
                              const double *restrict r_lo, const double *restrict c_hi,
                              const double *restrict c_lo, const h5div_joint_norm *nm,
                              h5div_acc acc[H5DIV_J_COUNT])
{
    h5div_joint_cells_add_lo3(cells, lo, NULL, nrows, ncols, ld, r_hi, r_lo, NULL, c_hi, c_lo, NULL,
                              nm, acc);
}

void h5div_joint_cells_add_lo3(const double *restrict cells, const double *restrict lo,
                               const double *restrict lo2, size_t nrows, size_t ncols, size_t ld,
                               const double *restrict r_hi, const double *restrict r_lo,
                               const double *restrict r_lo2, const double *restrict c_hi,
                               const double *restrict c_lo, const double *restrict c_lo2,
                               const h5div_joint_norm *nm, h5div_acc acc[H5DIV_J_COUNT])
{
    const double n_hi = nm->n_hi / nm->scale, n_lo = nm->n_lo / nm->scale;
    for (size_t i = 0; i < nrows; i++) {
        const double *row = cells + i * ld;
        const double *rlo = lo ? lo + i * ld : NULL;
        const double *rlo2 = lo && lo2 ? lo2 + i * ld : NULL;
        const double ri = r_hi[i], ril = r_lo[i], ril2 = r_lo2 ? r_lo2[i] : 0.0;
        for (size_t b = 0; b < ncols; b += H5DIV_BLOCK_BINS) {
            size_t e = ncols - b < H5DIV_BLOCK_BINS ? ncols - b : H5DIV_BLOCK_BINS;
            int exact = 0;
            if (rlo)
                for (size_t k = 0; k < e; k++)
                    exact |= rlo[b + k] != 0.0;
            double s[4][4] = {{0}};
            for (size_t k = 0; k < e; k++) {
                const size_t j = b + k, lane = k & 3;
                const double x = row[j], xl = exact ? rlo[j] : 0.0;
                const double xl2 = exact && rlo2 ? rlo2[j] : 0.0;
                const double cj = c_hi[j], cjl = c_lo[j], cjl2 = c_lo2 ? c_lo2[j] : 0.0;
                if (ri == 0.0 || cj == 0.0)
                    continue; /* an empty row or column: every term is 0 */
                s[3][lane] += mi_term(x, xl, xl2, exact, ri, ril, ril2, cj, cjl, cjl2, nm);
                if (x == 0.0)
                    continue;
                const double p = frac(x, n_hi, n_lo);
                s[0][lane] -= p * log_frac(x, xl, n_hi, n_lo);
                s[1][lane] -= p * log_frac(x, xl, cj, cjl);
                s[2][lane] -= p * log_frac(x, xl, ri, ril);
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
#define UNSCALED(s) (ldexp((s), -J_SCALE_EXP) / ln_b)
    v[H5DIV_ENTROPY_X] = UNSCALED(hx);
    v[H5DIV_ENTROPY_Y] = UNSCALED(hy);
    v[H5DIV_JOINT_ENTROPY] = UNSCALED(nats[H5DIV_J_HXY]);
    v[H5DIV_COND_ENTROPY_X_GIVEN_Y] = UNSCALED(nats[H5DIV_J_HX_GIVEN_Y]);
    v[H5DIV_COND_ENTROPY_Y_GIVEN_X] = UNSCALED(nats[H5DIV_J_HY_GIVEN_X]);
    v[H5DIV_MUTUAL_INFORMATION] = UNSCALED(mi);
    /* A ratio of two sums held at the same scale. */
    double nmi = hx + hy > 0.0 ? 2.0 * mi / (hx + hy) : 0.0;
    v[H5DIV_NORMALIZED_MUTUAL_INFORMATION] = nmi > 1.0 ? 1.0 : nmi;
    v[H5DIV_VARIATION_OF_INFORMATION] =
        UNSCALED(nats[H5DIV_J_HX_GIVEN_Y] + nats[H5DIV_J_HY_GIVEN_X]);
#undef UNSCALED
    for (int m = 0; m < H5DIV_JOINT_NMEASURES; m++)
        if (measures & H5DIV_MEASURE_BIT(m))
            value[m] = v[m];
}

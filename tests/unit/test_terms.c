/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the compare terms on hand-derived cases (long double closed forms). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/terms.h"
#include "h5div_types.h"

/* Serial compare of raw histograms x, y of n bins, split into pieces of
 * `piece` bins (a multiple of the block size) to mimic any decomposition. */
static void compare_opts(const double *x, const double *y, size_t n, size_t piece,
                         const h5div_options *opt, h5div_compare_result *res);

static void compare(const double *x, const double *y, size_t n, size_t piece, double alpha,
                    int base, double *value)
{
    h5div_options opt;
    h5div_options_init(&opt);
    opt.base = (h5div_base)base;
    opt.pseudocount = alpha;
    h5div_compare_result res;
    compare_opts(x, y, n, piece, &opt, &res);
    for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++)
        value[m] = res.value[m];
}

/* The same with any options (measures, Renyi orders). */
static void compare_opts(const double *x, const double *y, size_t n, size_t piece,
                         const h5div_options *opt, h5div_compare_result *res)
{
    const double alpha = opt->pseudocount;
    memset(res, 0, sizeof *res); /* measures not asked for read as 0 */
    h5div_acc tot[2];
    h5div_acc_init(&tot[0]);
    h5div_acc_init(&tot[1]);
    for (size_t s = 0; s < n; s += piece) {
        size_t m = n - s < piece ? n - s : piece;
        h5div_total_add(x + s, m, alpha, &tot[0]);
        h5div_total_add(y + s, m, alpha, &tot[1]);
    }
    double ah, al, bh, bl;
    h5div_acc_round2(&tot[0], &ah, &al);
    h5div_acc_round2(&tot[1], &bh, &bl);
    h5div_norm nm;
    h5div_norm_init(&nm, ah, al, bh, bl, alpha);
    h5div_term_params tp;
    h5div_term_params_init(&tp, opt);
    static h5div_compare_partial part;
    h5div_compare_partial_init(&part, tp.mask);
    for (size_t s = 0; s < n; s += piece) {
        size_t m = n - s < piece ? n - s : piece;
        h5div_compare_add(x + s, y + s, m, &nm, &tp, &part);
    }
    h5div_compare_finish(&part, opt, res);
}

/* p = (1/2, 1/2), q = (1/4, 3/4), from counts (1, 1) and (1, 3). */
static void test_half_quarter(void)
{
    double x[] = {1, 1}, y[] = {1, 3}, v[H5DIV_COMPARE_NMEASURES];
    compare(x, y, 2, 256, 0.0, H5DIV_BASE_E, v);
    long double p0 = 0.5L, p1 = 0.5L, q0 = 0.25L, q1 = 0.75L, m0 = 0.375L, m1 = 0.625L;
    long double hp = -(p0 * logl(p0) + p1 * logl(p1));
    long double hq = -(q0 * logl(q0) + q1 * logl(q1));
    long double cpq = -(p0 * logl(q0) + p1 * logl(q1));
    long double cqp = -(q0 * logl(p0) + q1 * logl(p1));
    long double klpq = p0 * logl(p0 / q0) + p1 * logl(p1 / q1);
    long double klqp = q0 * logl(q0 / p0) + q1 * logl(q1 / p1);
    long double js = 0.5L * (p0 * logl(p0 / m0) + p1 * logl(p1 / m1)) +
                     0.5L * (q0 * logl(q0 / m0) + q1 * logl(q1 / m1));
    long double hel = sqrtl(1.0L - (sqrtl(p0 * q0) + sqrtl(p1 * q1)));
    CHECK_REL(v[H5DIV_ENTROPY_P], (double)hp, 1e-15);
    CHECK_REL(v[H5DIV_ENTROPY_Q], (double)hq, 1e-15);
    CHECK_REL(v[H5DIV_CROSS_ENTROPY_PQ], (double)cpq, 1e-15);
    CHECK_REL(v[H5DIV_CROSS_ENTROPY_QP], (double)cqp, 1e-15);
    CHECK_REL(v[H5DIV_KL_PQ], (double)klpq, 1e-14);
    CHECK_REL(v[H5DIV_KL_QP], (double)klqp, 1e-14);
    CHECK_REL(v[H5DIV_JS_DIVERGENCE], (double)js, 1e-14);
    CHECK_REL(v[H5DIV_JS_DISTANCE], (double)sqrtl(js), 1e-14);
    CHECK_BITS(v[H5DIV_TOTAL_VARIATION], 0.25);
    CHECK_REL(v[H5DIV_HELLINGER], (double)hel, 1e-14);
    /* In bits: H(p) = 1 exactly, KL(p||q) = 1 - log2(3)/2. */
    compare(x, y, 2, 256, 0.0, H5DIV_BASE_2, v);
    CHECK_BITS(v[H5DIV_ENTROPY_P], 1.0);
    CHECK_REL(v[H5DIV_KL_PQ], (double)(1.0L - 0.5L * log2l(3.0L)), 1e-14);
}

static void test_disjoint(void)
{
    double x[] = {3, 0, 5, 0}, y[] = {0, 2, 0, 7}, v[H5DIV_COMPARE_NMEASURES];
    compare(x, y, 4, 256, 0.0, H5DIV_BASE_2, v);
    CHECK_BITS(v[H5DIV_KL_PQ], INFINITY);
    CHECK_BITS(v[H5DIV_KL_QP], INFINITY);
    CHECK_BITS(v[H5DIV_CROSS_ENTROPY_PQ], INFINITY);
    CHECK_BITS(v[H5DIV_JS_DIVERGENCE], 1.0);
    CHECK_BITS(v[H5DIV_JS_DISTANCE], 1.0);
    CHECK_BITS(v[H5DIV_TOTAL_VARIATION], 1.0);
    CHECK_BITS(v[H5DIV_HELLINGER], 1.0);
    /* A pseudocount makes everything finite. */
    compare(x, y, 4, 256, 1.0, H5DIV_BASE_2, v);
    CHECK(isfinite(v[H5DIV_KL_PQ]) && v[H5DIV_KL_PQ] > 0);
}

static uint64_t rng = 12345;
static double rnd_count(void)
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (double)((rng >> 33) % 1000);
}

static void test_identical_and_pieces(void)
{
    enum { N = 3000 };
    static double x[N], y[N];
    for (int i = 0; i < N; i++) {
        x[i] = rnd_count();
        y[i] = 2.0 * x[i]; /* same distribution, different total */
    }
    double v[H5DIV_COMPARE_NMEASURES], w[H5DIV_COMPARE_NMEASURES];
    compare(x, y, N, 1 << 20, 0.0, H5DIV_BASE_2, v);
    CHECK_BITS(v[H5DIV_KL_PQ], 0.0);
    CHECK_BITS(v[H5DIV_KL_QP], 0.0);
    CHECK_BITS(v[H5DIV_JS_DIVERGENCE], 0.0);
    CHECK_BITS(v[H5DIV_TOTAL_VARIATION], 0.0);
    CHECK_BITS(v[H5DIV_HELLINGER], 0.0);
    CHECK_BITS(v[H5DIV_ENTROPY_P], v[H5DIV_ENTROPY_Q]);
    /* Different piece sizes (multiples of the block) give the same bits. */
    for (int i = 0; i < N; i++)
        y[i] = rnd_count() + 1;
    compare(x, y, N, 1 << 20, 0.0, H5DIV_BASE_2, v);
    size_t pieces[] = {256, 512, 768, 2816};
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        compare(x, y, N, pieces[k], 0.0, H5DIV_BASE_2, w);
        for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++)
            CHECK_BITS(w[m], v[m]);
    }
}

/* Near-identical pair p = (1+d, 1-d)/2 against uniform, on both sides of the
 * series switch; the long double closed form is accurate to ~1e-16 here. */
static void test_near_identical(void)
{
    double ds[] = {1e-3, 0.02, 0.0312, 0.0313, 0.05, 0.3};
    for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++) {
        long double d = ds[k];
        double x[] = {(double)(1.0L + d), (double)(1.0L - d)}, y[] = {1.0, 1.0};
        long double a = (long double)x[0], b = (long double)x[1], s = a + b;
        long double p0 = a / s, p1 = b / s;
        long double kl = p0 * logl(2 * p0) + p1 * logl(2 * p1);
        long double klqp = -0.5L * (logl(2 * p0) + logl(2 * p1));
        long double m0 = (p0 + 0.5L) / 2, m1 = (p1 + 0.5L) / 2;
        long double js = 0.5L * (p0 * logl(p0 / m0) + p1 * logl(p1 / m1)) +
                         0.5L * (0.5L * logl(0.5L / m0) + 0.5L * logl(0.5L / m1));
        double v[H5DIV_COMPARE_NMEASURES];
        compare(x, y, 2, 256, 0.0, H5DIV_BASE_E, v);
        CHECK_REL(v[H5DIV_KL_PQ], (double)kl, 1e-12);
        CHECK_REL(v[H5DIV_KL_QP], (double)klqp, 1e-12);
        CHECK_REL(v[H5DIV_JS_DIVERGENCE], (double)js, 1e-12);
        CHECK_REL(v[H5DIV_TOTAL_VARIATION], (double)fabsl(p0 - 0.5L), 1e-14);
    }
}

/* Options with every measure and Renyi orders 1/2 (pq) and 2 (qp), base 2. */
static void all_measures(h5div_options *opt)
{
    h5div_options_init(opt);
    opt->measures = H5DIV_COMPARE_ALL;
    opt->n_renyi_pq = opt->n_renyi_qp = 1;
    opt->renyi_pq[0] = 0.5;
    opt->renyi_qp[0] = 2.0;
}

/* The classes of issue 11, against mpmath at 50 digits from exact rationals
 * of the stored values (KL, JS as sums of terms >= 0; Renyi via expm1). */
static void test_far_ratios(void)
{
    h5div_options opt;
    all_measures(&opt);
    h5div_compare_result r;
    /* Mode dropping: one bin 1e17 times lighter in p. */
    double x1[] = {1, 1, 1e-17}, y1[] = {1, 1, 1};
    compare_opts(x1, y1, 3, 256, &opt, &r);
    CHECK_REL(r.value[H5DIV_KL_PQ], 0.58496250072115589188, 1e-14);
    CHECK_REL(r.value[H5DIV_KL_QP], 18.239296703640563763, 1e-14);
    CHECK_REL(r.value[H5DIV_JS_DIVERGENCE], 0.19087450462110932602, 1e-14);
    CHECK_REL(r.value[H5DIV_BHATTACHARYYA], 0.29248124807947694702, 1e-14);
    CHECK_REL(r.value[H5DIV_CHI2_QP], 22222222222222220.188, 1e-14);
    CHECK_REL(r.renyi_pq[0], 0.58496249615895389404, 1e-14);
    CHECK_REL(r.renyi_qp[0], 54.302852611642847484, 1e-14);
    /* 64-bit counts near 2^62 beside counts of 3 and 1 (all exact in doubles). */
    double x2[] = {0x1p62, 0x1p62, 3, 0x1p61}, y2[] = {0x1p60, 0x1p62, 0x1p62, 1};
    compare_opts(x2, y2, 4, 256, &opt, &r);
    CHECK_REL(r.value[H5DIV_KL_PQ], 12.847996906554949996, 1e-14);
    CHECK_REL(r.value[H5DIV_KL_QP], 26.780908648680091674, 1e-14);
    CHECK_REL(r.value[H5DIV_JS_DIVERGENCE], 0.38558146582155286609, 1e-14);
    CHECK_REL(r.value[H5DIV_HELLINGER], 0.60625445770519480751, 1e-14);
    CHECK_REL(r.value[H5DIV_CHI2_PQ], 415051741658464911.98, 1e-14);
    CHECK_REL(r.renyi_qp[0], 59.397115591281581442, 1e-14);
    /* Values six hundred decades apart: every ratio beyond the double range. */
    double x3[] = {1e-300, 1, 1e300}, y3[] = {1e300, 1e-200, 1};
    compare_opts(x3, y3, 3, 256, &opt, &r);
    CHECK_REL(r.value[H5DIV_KL_PQ], 996.57842846620870444, 1e-14);
    CHECK_REL(r.value[H5DIV_KL_QP], 1993.1568569324174088, 1e-14);
    CHECK_REL(r.value[H5DIV_BHATTACHARYYA], 498.28921423310435222, 1e-14);
    CHECK_REL(r.value[H5DIV_CHI2_PQ], 1.0000000000000000525e+300, 1e-14);
    CHECK_BITS(r.value[H5DIV_CHI2_QP], INFINITY); /* 1e600: beyond the range */
    CHECK_REL(r.value[H5DIV_HELLINGER], 1.0, 1e-15);
    CHECK_REL(r.renyi_pq[0], 996.57842846620870444, 1e-14);
    CHECK_REL(r.renyi_qp[0], 1993.1568569324174088, 1e-14);
    /* Supports that meet only in a bin of p = q = 1e-600. */
    double x4[] = {1e-300, 1e300, 0}, y4[] = {1e-300, 0, 1e300};
    compare_opts(x4, y4, 3, 256, &opt, &r);
    CHECK_REL(r.value[H5DIV_BHATTACHARYYA], 1993.1568569324174088, 1e-14);
    CHECK_REL(r.renyi_pq[0], 3986.3137138648348175, 1e-14);
    CHECK_BITS(r.renyi_qp[0], INFINITY);
    CHECK(!isnan(r.value[H5DIV_HELLINGER]) && r.value[H5DIV_HELLINGER] <= 1.0);
    /* Disjoint supports: the closed forms exactly, Renyi below 1 infinite. */
    double x5[] = {3, 0, 5, 0}, y5[] = {0, 2, 0, 7};
    compare_opts(x5, y5, 4, 256, &opt, &r);
    CHECK_BITS(r.value[H5DIV_BHATTACHARYYA], INFINITY);
    CHECK_BITS(r.renyi_pq[0], INFINITY);
    CHECK_BITS(r.value[H5DIV_JS_DIVERGENCE], 1.0);
    /* Identical inputs: +0 for every divergence. */
    compare_opts(x2, x2, 4, 256, &opt, &r);
    CHECK_BITS(r.value[H5DIV_KL_PQ], 0.0);
    CHECK_BITS(r.value[H5DIV_BHATTACHARYYA], 0.0);
    CHECK_BITS(r.value[H5DIV_CHI2_PQ], 0.0);
    CHECK_BITS(r.renyi_pq[0], 0.0);
    CHECK_BITS(r.renyi_qp[0], 0.0);
}

/* A pseudocount is added exactly: Q = 3 P, alpha = 0.001 (the double),
 * so p and q differ only through alpha; mpmath at 50 digits from exact
 * rationals of 1116 + alpha etc. */
static void test_exact_pseudocount(void)
{
    double x[] = {1116, 688, 725}, y[] = {3348, 2064, 2175}, v[H5DIV_COMPARE_NMEASURES];
    compare(x, y, 3, 256, 0.001, H5DIV_BASE_2, v);
    CHECK_REL(v[H5DIV_KL_PQ], 2.1568062061090791619e-14, 1e-13);
    CHECK_REL(v[H5DIV_KL_QP], 2.15680623123615192e-14, 1e-13);
    CHECK_REL(v[H5DIV_JS_DIVERGENCE], 5.3920155466815315573e-15, 1e-13);
    CHECK_REL(v[H5DIV_TOTAL_VARIATION], 8.5367840823226553018e-8, 1e-13);
    CHECK_REL(v[H5DIV_HELLINGER], 6.1134772214490979479e-8, 1e-13);
}

int main(void)
{
    test_far_ratios();
    test_exact_pseudocount();
    test_half_quarter();
    test_disjoint();
    test_identical_and_pieces();
    test_near_identical();
    return check_report("test_terms");
}

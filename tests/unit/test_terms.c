/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the compare terms on hand-derived cases (long double closed forms). */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "core/terms.h"
#include "h5div_types.h"

/* Serial compare of raw histograms x, y of n bins, split into pieces of
 * `piece` bins (a multiple of the block size) to mimic any decomposition. */
static void compare(const double *x, const double *y, size_t n, size_t piece, double alpha,
                    int base, double *value)
{
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
    h5div_options opt;
    h5div_options_init(&opt);
    opt.base = (h5div_base)base;
    h5div_term_params tp;
    h5div_term_params_init(&tp, &opt);
    static h5div_compare_partial part;
    h5div_compare_partial_init(&part, tp.mask);
    for (size_t s = 0; s < n; s += piece) {
        size_t m = n - s < piece ? n - s : piece;
        h5div_compare_add(x + s, y + s, m, &nm, &tp, &part);
    }
    h5div_compare_result res;
    h5div_compare_finish(&part, &opt, &res);
    for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++)
        value[m] = res.value[m];
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

int main(void)
{
    test_half_quarter();
    test_disjoint();
    test_identical_and_pieces();
    test_near_identical();
    return check_report("test_terms");
}

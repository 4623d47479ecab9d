/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the entropy estimators' core terms on hand-derived cases. */
#include <math.h>

#include "check.h"
#include "core/entropy.h"

/* Plugin entropy (nats) of raw counts x[0..n) with pseudocount alpha. */
static double plugin(const double *x, size_t n, double alpha)
{
    h5div_entropy_stats st;
    h5div_entropy_stats_init(&st);
    h5div_entropy_stats_add(x, n, alpha, &st);
    double hi, lo;
    h5div_acc_round2(&st.total, &hi, &lo);
    h5div_entropy_norm nm;
    h5div_entropy_norm_init(&nm, hi, lo, alpha);
    h5div_acc acc;
    h5div_acc_init(&acc);
    h5div_entropy_plugin_add(x, n, &nm, &acc);
    return h5div_acc_round(&acc);
}

static void test_plugin(void)
{
    double half[] = {1, 1};
    CHECK_REL(plugin(half, 2, 0.0), (double)logl(2.0L), 1e-15);
    double quarter[] = {1, 3, 0};
    long double h = -(0.25L * logl(0.25L) + 0.75L * logl(0.75L));
    CHECK_REL(plugin(quarter, 3, 0.0), (double)h, 1e-15);
    /* A pseudocount of 1 turns (1, 3, 0) into (2, 4, 1) / 7. */
    long double a = 2.0L / 7, b = 4.0L / 7, c = 1.0L / 7;
    CHECK_REL(plugin(quarter, 3, 1.0), (double)-(a * logl(a) + b * logl(b) + c * logl(c)), 1e-15);
    static double uniform[1000];
    for (int i = 0; i < 1000; i++)
        uniform[i] = 7.0;
    CHECK_REL(plugin(uniform, 1000, 0.0), (double)logl(1000.0L), 4e-15);
    double one[] = {0, 5, 0};
    CHECK_BITS(plugin(one, 3, 0.0), 0.0);
}

static void test_stats(void)
{
    double x[] = {0, 1, 2, 1, 0, 7};
    h5div_entropy_stats st;
    h5div_entropy_stats_init(&st);
    h5div_entropy_stats_add(x, 6, 0.0, &st);
    CHECK(st.nonzero == 4);
    CHECK(st.singletons == 2);
    CHECK_BITS(h5div_acc_round(&st.raw), 11.0);
    double frac[] = {1, 2, 2.5};
    CHECK(h5div_first_fraction(frac, 3) == 2);
    CHECK(h5div_first_fraction(frac, 2) == 2);
}

static void test_shrink_lambda(void)
{
    /* u = (3/4, 1/4), K = 2: 1 - sum u^2 = 3/8, sum (u - 1/2)^2 = 1/8. */
    CHECK_REL(h5div_entropy_shrink_lambda(8.0, 0.375, 0.125), 3.0 / 7.0, 1e-15);
    CHECK_BITS(h5div_entropy_shrink_lambda(4.0, 0.375, 0.125), 1.0); /* 1 exactly, not above */
    /* One count far above the other: 1 - sum u^2 = 2 a b / (a + b)^2 with
     * a = 2^50, b = 1 (about 1.8e-15) keeps its digits (1 minus the sum
     * of squares would keep none). */
    double x[] = {0x1p50, 1.0};
    h5div_acc acc[2];
    h5div_acc_init(&acc[0]);
    h5div_acc_init(&acc[1]);
    h5div_entropy_shrink_sums_add(x, 2, 0x1p50 + 1.0, 2.0, acc);
    CHECK_REL(h5div_acc_round(&acc[0]), 2.0 * 0x1p50 / ((0x1p50 + 1.0) * (0x1p50 + 1.0)), 1e-15);
    CHECK_BITS(h5div_entropy_shrink_lambda(1.0, 1.0, 0.5), 1.0);     /* n <= 1 */
    CHECK_BITS(h5div_entropy_shrink_lambda(10.0, 0.5, 0.0), 1.0);    /* uniform */
}

static void test_chao_shen(void)
{
    /* No singletons: coverage 1, pa = x / n = 1/2 each, n = 4:
     * 2 * (-(1/2) log(1/2)) / (1 - (1/2)^4) = log 2 / (15/16). */
    double x[] = {2, 2};
    h5div_acc acc;
    h5div_acc_init(&acc);
    h5div_entropy_chao_shen_add(x, 2, 4.0, 1.0, 0.0, &acc);
    CHECK_REL(h5div_acc_round(&acc), (double)(logl(2.0L) * 16.0L / 15.0L), 1e-15);
}

static void test_surprisal(void)
{
    double x[] = {1, 3, 0};
    h5div_entropy_norm nm;
    h5div_entropy_norm_init(&nm, 4.0, 0.0, 0.0);
    double out[3];
    h5div_surprisal_values(x, 3, &nm, h5div_ln_base(H5DIV_BASE_2), out);
    CHECK_BITS(out[0], 2.0); /* -log2(1/4) */
    CHECK_REL(out[1], (double)-log2l(0.75L), 1e-15);
    CHECK_BITS(out[2], INFINITY);
}

int main(void)
{
    test_plugin();
    test_stats();
    test_shrink_lambda();
    test_chao_shen();
    test_surprisal();
    return check_report("test_entropy");
}

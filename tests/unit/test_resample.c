/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of src/core/resample.c: summaries against hand derivations and numpy, and the draws' keying. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "core/resample.h"

/* A fixed pseudo-random sequence for permutations and test data. */
static uint64_t lcg = 88172645463325252ULL;
static uint64_t next_u64(void)
{
    lcg ^= lcg << 13;
    lcg ^= lcg >> 7;
    lcg ^= lcg << 17;
    return lcg;
}

static void shuffle(double *x, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(next_u64() % i);
        double t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}

static void test_stderr(void)
{
    /* {1, 2, 3, 4}: mean 5/2, sum of squared deviations 5, variance 5/3. */
    double a[4] = {1, 2, 3, 4};
    double want = sqrt(5.0 / 3.0);
    CHECK_BITS(h5div_rs_stderr(a, 4), want);
    /* The same spread far from zero: exact deviations, so the same bits (a
     * one-pass sum of squares loses every digit at 1e15). */
    double b[4] = {1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4};
    CHECK_BITS(h5div_rs_stderr(b, 4), want);
    double c[4] = {1e15 + 1, 1e15 + 2, 1e15 + 3, 1e15 + 4};
    CHECK_BITS(h5div_rs_stderr(c, 4), want);
    /* {x, x}: no spread. */
    double d[2] = {0.1, 0.1};
    CHECK_BITS(h5div_rs_stderr(d, 2), 0.0);
    /* 1 + i h, i = 0 .. n-1 (exact doubles): variance h^2 n (n + 1) / 12. */
    enum { N = 1000 };
    static double e[N];
    const double h = 0x1p-30;
    for (int i = 0; i < N; i++)
        e[i] = 1.0 + i * h;
    CHECK_REL(h5div_rs_stderr(e, N), h * sqrt(N * (N + 1.0) / 12.0), 4e-16);
    /* Any order: the same bits. */
    static double f[N];
    for (int i = 0; i < N; i++)
        f[i] = (double)(next_u64() >> 11) * 0x1p-53 * 3.0 + 1e6;
    double s0 = h5div_rs_stderr(f, N);
    for (int k = 0; k < 5; k++) {
        shuffle(f, N);
        CHECK_BITS(h5div_rs_stderr(f, N), s0);
    }
    /* Undefined and unbounded cases. */
    CHECK(isnan(h5div_rs_stderr(a, 1)));
    CHECK(isnan(h5div_rs_stderr(a, 0)));
    double g[3] = {1, NAN, INFINITY};
    CHECK(isnan(h5div_rs_stderr(g, 3)));
    double i3[3] = {1, 2, INFINITY};
    CHECK_BITS(h5div_rs_stderr(i3, 3), INFINITY);
    double j2[2] = {-INFINITY, -INFINITY};
    CHECK_BITS(h5div_rs_stderr(j2, 2), INFINITY);
}

static void test_quantile(void)
{
    /* numpy 1.24 (Debian 12), method "linear":
     *   x = [3.5, -1.25, 7.0, 0.1, 2.2, 9.75, -4.0, 5.5, 0.3, 6.6, 1e-3, 2/3]
     *   [float(np.quantile(np.array(x), q)).hex() for q in qs]
     *   np.quantile(np.array(x), [(1 - 0.95) / 2, (1 + 0.95) / 2]) */
    double x[12] = {3.5, -1.25, 7.0, 0.1, 2.2, 9.75, -4.0, 5.5, 0.3, 6.6, 1e-3, 2.0 / 3.0};
    static const double qs[11][2] = {
        {0x0.0p+0, -0x1.0000000000000p+2},
        {0x1.999999999999ap-6, -0x1.9f33333333333p+1},
        {0x1.999999999999ap-5, -0x1.3e66666666666p+1},
        {0x1.999999999999ap-4, -0x1.1ff972474538ep+0},
        {0x1.0000000000000p-2, 0x1.34395810624dep-4},
        {0x1.5555555555555p-2, 0x1.ddddddddddddcp-3},
        {0x1.0000000000000p-1, 0x1.6eeeeeeeeeeefp+0},
        {0x1.8000000000000p-1, 0x1.719999999999ap+2},
        {0x1.ccccccccccccdp-1, 0x1.bd70a3d70a3d7p+2},
        {0x1.f333333333333p-1, 0x1.1fcccccccccccp+3},
        {0x1.0000000000000p+0, 0x1.3800000000000p+3},
    };
    double work[12];
    for (int k = 0; k < 11; k++) {
        CHECK_BITS(h5div_rs_quantile(x, 12, qs[k][0], work), qs[k][1]);
        CHECK_BITS(h5div_rs_quantile(x, 12, qs[k][0], NULL), qs[k][1]);
    }
    double ci[2];
    CHECK(h5div_rs_interval(x, 12, 0.95, NULL, ci) == 0);
    CHECK_BITS(ci[0], -0x1.9f33333333332p+1); /* (1 - c) / 2 is 0.025000000000000022 */
    CHECK_BITS(ci[1], 0x1.1fcccccccccccp+3);
    shuffle(x, 12);
    CHECK(h5div_rs_interval(x, 12, 0.95, work, ci) == 0);
    CHECK_BITS(ci[0], -0x1.9f33333333332p+1);
    CHECK_BITS(ci[1], 0x1.1fcccccccccccp+3);

    /* By hand, {10, 20, 30, 40}: median at h = 1.5 is 30 - 10 * 0.5 = 25;
     * level 0.5: h = 0.75 gives 20 - 10 * 0.25, h = 2.25 gives 30 + 10 * 0.25. */
    double y[4] = {40, 10, 30, 20};
    CHECK_BITS(h5div_rs_quantile(y, 4, 0.5, NULL), 25.0);
    CHECK(h5div_rs_interval(y, 4, 0.5, NULL, ci) == 0);
    CHECK_BITS(ci[0], 17.5);
    CHECK_BITS(ci[1], 32.5);
    /* One value: every quantile is it. */
    CHECK_BITS(h5div_rs_quantile(y, 1, 0.3, NULL), 40.0);

    /* Infinite replicates sort to their end. */
    double z[3] = {INFINITY, 1, 2};
    CHECK_BITS(h5div_rs_quantile(z, 3, 1.0, NULL), INFINITY);
    CHECK_BITS(h5div_rs_quantile(z, 3, 0.75, NULL), INFINITY); /* between 2 and inf */
    CHECK_BITS(h5div_rs_quantile(z, 3, 0.5, NULL), 2.0);       /* t = 0: s[1] */
    CHECK_BITS(h5div_rs_quantile(z, 3, 0.25, NULL), 1.5);
    double w[2] = {1, -INFINITY};
    CHECK_BITS(h5div_rs_quantile(w, 2, 0.5, NULL), -INFINITY);
    double v[2] = {INFINITY, -INFINITY};
    CHECK(isnan(h5div_rs_quantile(v, 2, 0.5, NULL)));
    CHECK_BITS(h5div_rs_quantile(v, 2, 0.0, NULL), -INFINITY);
    /* NaN anywhere: NaN, as numpy. Bad q or level, no values: NaN. */
    double u[3] = {1, NAN, 2};
    CHECK(isnan(h5div_rs_quantile(u, 3, 0.5, NULL)));
    CHECK(h5div_rs_interval(u, 3, 0.9, NULL, ci) == 0 && isnan(ci[0]) && isnan(ci[1]));
    CHECK(isnan(h5div_rs_quantile(y, 4, 1.5, NULL)));
    CHECK(isnan(h5div_rs_quantile(y, 4, -0.1, NULL)));
    CHECK(isnan(h5div_rs_quantile(y, 0, 0.5, NULL)));
    CHECK(h5div_rs_interval(y, 4, 1.0, NULL, ci) == -1 && isnan(ci[0]));
    CHECK(h5div_rs_interval(y, 4, 0.0, NULL, ci) == -1);
    /* -0 and +0 in either order: the same bits. */
    double z0[2] = {0.0, -0.0}, z1[2] = {-0.0, 0.0};
    for (int k = 0; k <= 4; k++) {
        double q = k / 4.0;
        CHECK_BITS(h5div_rs_quantile(z0, 2, q, NULL), h5div_rs_quantile(z1, 2, q, NULL));
    }
}

static void test_pvalue(void)
{
    double x[5] = {5, 1, 4, 2, 3};
    CHECK_BITS(h5div_rs_pvalue(x, 5, 3.0), 4.0 / 6.0); /* 3, 4, 5 >= 3 */
    CHECK_BITS(h5div_rs_pvalue(x, 5, 6.0), 1.0 / 6.0);
    CHECK_BITS(h5div_rs_pvalue(x, 5, -1.0), 1.0);
    CHECK_BITS(h5div_rs_pvalue(x, 0, 1.0), 1.0);
    double y[3] = {NAN, 1, INFINITY};
    CHECK_BITS(h5div_rs_pvalue(y, 3, 2.0), 3.0 / 4.0); /* NaN counts, inf >= 2 */
    CHECK_BITS(h5div_rs_pvalue(y, 3, INFINITY), 3.0 / 4.0);
    CHECK(isnan(h5div_rs_pvalue(y, 3, NAN)));
}

static void test_keys(void)
{
    h5div_rs_key k = {12345, H5DIV_RS_BOOTSTRAP, 7, 1};
    enum { N = 64 };
    double lam[N];
    uint64_t all[N], part[N];
    for (int i = 0; i < N; i++)
        lam[i] = i % 5 == 0 ? 0.0 : 0.5 * i;
    CHECK(h5div_rs_poisson_u64(&k, 1000, lam, NULL, N, all) == 0);
    /* Bins drawn one at a time, last first: the same numbers. */
    for (int i = N - 1; i >= 0; i--) {
        CHECK(h5div_rs_poisson_u64(&k, 1000 + (uint64_t)i, lam + i, NULL, 1, part + i) == 0);
        CHECK(h5div_rs_poisson1(&k, 1000 + (uint64_t)i, lam[i], 0.0, NULL) == all[i]);
    }
    for (int i = 0; i < N; i++) {
        CHECK(part[i] == all[i]);
        if (lam[i] == 0.0)
            CHECK(all[i] == 0);
    }
    /* Another seed, replicate, input or stream: other numbers. */
    h5div_rs_key other[4] = {k, k, k, k};
    other[0].seed++;
    other[1].replicate++;
    other[2].input++;
    other[3].stream = H5DIV_RS_NULL;
    for (int j = 0; j < 4; j++) {
        CHECK(h5div_rs_poisson_u64(&other[j], 1000, lam, NULL, N, part) == 0);
        int differ = 0;
        for (int i = 0; i < N; i++)
            differ += part[i] != all[i];
        CHECK(differ > N / 4);
    }
    /* Invalid means. */
    int bad;
    double badl[5] = {-1.0, NAN, INFINITY, 0x1p64, -0.0};
    for (int i = 0; i < 4; i++) {
        CHECK(h5div_rs_poisson_u64(&k, 0, badl + i, NULL, 1, part) == -1);
        (void)h5div_rs_poisson1(&k, 0, badl[i], 0.0, &bad);
        CHECK(bad == 1);
    }
    CHECK(h5div_rs_poisson1(&k, 0, badl[4], 0.0, &bad) == 0 && bad == 0);
    CHECK(h5div_rs_poisson1(&k, 0, 0.0, -1.0, &bad) == UINT64_MAX && bad == 1);
    /* The double output holds the draw exactly as value + remainder, and
     * is the u64 draw. 2^63 + 1 and 2^64 - 1 are taken exactly as hi + lo. */
    double big[3][2] = {{0x1p60, 0.0}, {0x1p63, 1.0}, {0x1p64, -1.0}};
    for (int i = 0; i < 3; i++) {
        uint64_t u;
        double hi, lo;
        CHECK(h5div_rs_poisson_u64(&k, 5, &big[i][0], &big[i][1], 1, &u) == 0);
        CHECK(h5div_rs_poisson(&k, 5, &big[i][0], &big[i][1], 1, &hi, &lo) == 0);
        uint64_t back = hi >= 0x1p64 ? (uint64_t)0 - (uint64_t)(-lo)
                                     : (uint64_t)hi + (uint64_t)(int64_t)lo;
        CHECK(back == u);
        /* Within 10 standard deviations (2^32 at most) of the mean. */
        double mean = big[i][0] + big[i][1];
        CHECK(fabs((double)u - mean) < 10.0 * sqrt(mean));
    }
    /* The pooled null: P and Q of one bin from inputs 0 and 1 of the stream. */
    double p[3] = {10, 0, 3}, q[3] = {20, 5, 0}, op[3], oq[3];
    h5div_rs_key kn = {99, H5DIV_RS_NULL, 3, 0};
    CHECK(h5div_rs_null(&kn, 0, 1, 40, p, NULL, q, NULL, 3, 13.0, 25.0, op, NULL, oq, NULL) == 0);
    for (int i = 0; i < 3; i++) {
        double pool = p[i] + q[i];
        kn.input = 0;
        CHECK(h5div_rs_poisson1(&kn, 40 + (uint64_t)i, pool * (13.0 / 38.0), 0.0, NULL) ==
              (uint64_t)op[i]);
        kn.input = 1;
        CHECK(h5div_rs_poisson1(&kn, 40 + (uint64_t)i, pool * (25.0 / 38.0), 0.0, NULL) ==
              (uint64_t)oq[i]);
    }
    CHECK(h5div_rs_null(&kn, 0, 1, 0, p, NULL, q, NULL, 3, 0.0, 25.0, op, NULL, oq, NULL) == -1);
    CHECK(h5div_rs_null(&kn, 0, 1, 0, badl, NULL, q, NULL, 1, 1.0, 2.0, op, NULL, oq, NULL) == -1);
}

int main(void)
{
    test_stderr();
    test_quantile();
    test_pvalue();
    test_keys();
    return check_report("test_resample");
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the exact accumulator against integer arithmetic and hand cases. */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "core/acc.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double sum_of(const double *v, size_t n)
{
    h5div_acc a;
    h5div_acc_init(&a);
    for (size_t i = 0; i < n; i++)
        h5div_acc_add(&a, v[i]);
    return h5div_acc_round(&a);
}

/* Random values m * 2^e with |m| < 2^40, e in [-30, 30]: their exact sum in
 * units of 2^-30 fits an __int128, and GCC converts that correctly rounded. */
static void test_against_int128(void)
{
    enum { N = 5000 };
    static double v[N];
    for (int trial = 0; trial < 20; trial++) {
        __int128 exact = 0;
        for (int i = 0; i < N; i++) {
            int64_t m = (int64_t)(next_u64() >> 24) - ((int64_t)1 << 39);
            int e = (int)(next_u64() % 61) - 30;
            v[i] = ldexp((double)m, e);
            exact += (__int128)m * ((__int128)1 << (e + 30));
        }
        double want = ldexp((double)exact, -30);
        CHECK_BITS(sum_of(v, N), want);
        /* Any order gives the same bits. */
        for (int i = N - 1; i > 0; i--) {
            int j = (int)(next_u64() % (uint64_t)(i + 1));
            double t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
        CHECK_BITS(sum_of(v, N), want);
        /* Split into two accumulators and merged. */
        h5div_acc a, b;
        h5div_acc_init(&a);
        h5div_acc_init(&b);
        for (int i = 0; i < N; i++)
            h5div_acc_add(i % 3 ? &a : &b, v[i]);
        h5div_acc_merge(&a, &b);
        CHECK_BITS(h5div_acc_round(&a), want);
    }
}

static void test_hand_cases(void)
{
    double c1[] = {1e100, 1.0, -1e100};
    CHECK_BITS(sum_of(c1, 3), 1.0);
    double c2[] = {DBL_MAX, DBL_MAX, -DBL_MAX, -DBL_MAX, 0.5};
    CHECK_BITS(sum_of(c2, 5), 0.5);
    double c3[] = {DBL_MAX, DBL_MAX};
    CHECK_BITS(sum_of(c3, 2), INFINITY);
    double c3n[] = {-DBL_MAX, -DBL_MAX};
    CHECK_BITS(sum_of(c3n, 2), -INFINITY);
    /* Ties round to even. */
    double t1[] = {1.0, ldexp(1, -53)};
    CHECK_BITS(sum_of(t1, 2), 1.0);
    double t2[] = {1.0, ldexp(1, -53), ldexp(1, -200)};
    CHECK_BITS(sum_of(t2, 3), 1.0 + ldexp(1, -52));
    double t3[] = {1.0, ldexp(3, -53)};
    CHECK_BITS(sum_of(t3, 2), 1.0 + ldexp(1, -51));
    double t4[] = {-1.0, -ldexp(1, -53), -ldexp(1, -1000)};
    CHECK_BITS(sum_of(t4, 3), -(1.0 + ldexp(1, -52)));
    /* Subnormals are exact. */
    double s1[] = {ldexp(1, -1074), ldexp(1, -1074), ldexp(1, -1074)};
    CHECK_BITS(sum_of(s1, 3), ldexp(3, -1074));
    double s2[] = {DBL_MIN, -ldexp(1, -1074)};
    CHECK_BITS(sum_of(s2, 2), DBL_MIN - ldexp(1, -1074));
    /* Empty and cancelling sums are +0. */
    CHECK_BITS(sum_of(NULL, 0), 0.0);
    double z[] = {3.5, -3.5};
    CHECK_BITS(sum_of(z, 2), 0.0);
    /* Non-finite inputs. */
    double n1[] = {1.0, INFINITY};
    CHECK_BITS(sum_of(n1, 2), INFINITY);
    double n2[] = {INFINITY, -INFINITY};
    CHECK(isnan(sum_of(n2, 2)));
    /* Two-part rounding. */
    h5div_acc a;
    h5div_acc_init(&a);
    h5div_acc_add(&a, 1.0);
    h5div_acc_add(&a, ldexp(1, -80));
    double hi, lo;
    h5div_acc_round2(&a, &hi, &lo);
    CHECK_BITS(hi, 1.0);
    CHECK_BITS(lo, ldexp(1, -80));
}

/* Many additions cross the normalisation threshold without losing carries. */
static void test_many_adds(void)
{
    h5div_acc a;
    h5div_acc_init(&a);
    const long n = 3000000;
    for (long i = 0; i < n; i++)
        h5div_acc_add(&a, 4294967295.0); /* 2^32 - 1: fills limbs quickly */
    CHECK_BITS(h5div_acc_round(&a), 4294967295.0 * (double)n);
}

/* Subnormals and the smallest normals, of either sign: their exact sum in
 * units of 2^-1074 fits an __int128 (values below 2^-1000, 5000 of them),
 * and the sum is normal, so ldexp of the rounded integer is exact. */
static void test_subnormal_int128(void)
{
    enum { N = 5000 };
    static double v[N];
    for (int trial = 0; trial < 20; trial++) {
        __int128 exact = 0;
        for (int i = 0; i < N; i++) {
            /* m 2^e with m < 2^53 and e in [-1074, -1053]: subnormal up to
             * about 2^-1000 (e = -1074 with m < 2^52 is subnormal). */
            int64_t m = (int64_t)(next_u64() >> (11 + next_u64() % 40));
            int e = -1074 + (int)(next_u64() % 22);
            if (next_u64() & 1)
                m = -m;
            v[i] = ldexp((double)m, e);
            exact += (__int128)m * ((__int128)1 << (e + 1074));
        }
        exact += (__int128)1 << 60; /* keeps the sum normal (2^-1014) */
        double want = ldexp((double)exact, -1074);
        h5div_acc a;
        h5div_acc_init(&a);
        for (int i = 0; i < N; i++)
            h5div_acc_add(&a, v[i]);
        h5div_acc_add(&a, ldexp(1.0, -1014));
        CHECK_BITS(h5div_acc_round(&a), want);
    }
    /* Signed zeros add nothing; the signs of infinities are kept. */
    double z[] = {-0.0, 0.0, DBL_TRUE_MIN, -0.0};
    CHECK_BITS(sum_of(z, 4), DBL_TRUE_MIN);
    double ni[] = {-INFINITY, -1.0};
    CHECK_BITS(sum_of(ni, 2), -INFINITY);
    double nn[] = {-NAN, 1.0};
    CHECK(isnan(sum_of(nn, 2)));
}

int main(void)
{
    test_against_int128();
    test_subnormal_int128();
    test_hand_cases();
    test_many_adds();
    return check_report("test_acc");
}

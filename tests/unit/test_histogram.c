/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the binning and quantile selection of h5div histogram, against closed forms. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/histogram.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Order statistics by sorting, the oracle of the radix selection. */
static void sorted_quantiles(const double *x, uint64_t n, uint64_t k, double *e)
{
    double *s = malloc(n * sizeof *s);
    for (uint64_t i = 0; i < n; i++)
        s[i] = x[i];
    qsort(s, n, sizeof *s, cmp_double);
    for (uint64_t j = 0; j <= k; j++)
        e[j] = s[h5div_hist_quantile_rank(n, j, k)];
    free(s);
}

/* Select over x split into `parts` pieces whose partial histograms are summed. */
static void select_split(const double *x, uint64_t n, uint64_t d, uint64_t k, int parts,
                         size_t budget, double *e)
{
    h5div_qsel q;
    CHECK(h5div_qsel_init(&q, d, k, budget) == 0);
    int more;
    while ((more = h5div_qsel_begin(&q)) == 1) {
        size_t nh = (size_t)(q.ng << q.bits);
        h5div_qsel_cell *sum = malloc(nh * sizeof *sum), *empty = malloc(nh * sizeof *empty);
        memcpy(empty, q.cell, nh * sizeof *empty);
        memcpy(sum, q.cell, nh * sizeof *sum);
        for (int p = 0; p < parts; p++) {
            uint64_t a = n * (uint64_t)p / (uint64_t)parts,
                     b = n * (uint64_t)(p + 1) / (uint64_t)parts;
            memcpy(q.cell, empty, nh * sizeof *empty);
            h5div_qsel_add(&q, x + a, (size_t)(b - a), a);
            h5div_qsel_merge(sum, q.cell, nh);
        }
        memcpy(q.cell, sum, nh * sizeof *sum);
        free(sum);
        free(empty);
        CHECK(h5div_qsel_end(&q) == 0);
    }
    CHECK(more == 0);
    for (uint64_t f = 0; f < d; f++)
        h5div_qsel_edges(&q, f, e + f * (k + 1));
    h5div_qsel_free(&q);
}

int main(void)
{
    /* numpy.linspace(0, 1, 5) and the values on its edges. */
    double e[5];
    h5div_hist_linspace(0.0, 1.0, 4, e);
    CHECK_BITS(e[1], 0.25);
    CHECK_BITS(e[4], 1.0);
    /* numpy.linspace(0, 0.3, 4): 0.1 * 1 = 0.1, 0.1 * 2 = 0.2,
     * 0.30000000000000004 replaced by the end point 0.3. */
    double u[4];
    h5div_hist_linspace(0.0, 0.3, 3, u);
    CHECK_BITS(u[1], 0.3 / 3.0);
    CHECK_BITS(u[2], 2.0 * (0.3 / 3.0));
    CHECK_BITS(u[3], 0.3);
    h5div_hist_edges ed = {3, 1, u, 1, NULL};
    CHECK(h5div_hist_edges_prepare(&ed) == 0);
    for (int i = 0; i < 3; i++) /* a value on an edge opens its bin */
        CHECK(h5div_hist_bin(u, 3, ed.norm[0], u[i]) == i);
    CHECK(h5div_hist_bin(u, 3, ed.norm[0], 0.3) == 2); /* the last edge: closed */
    CHECK(h5div_hist_bin(u, 3, ed.norm[0], nextafter(0.3, 1)) == 3);
    CHECK(h5div_hist_bin(u, 3, ed.norm[0], nextafter(u[1], 0)) == 0);
    CHECK(h5div_hist_bin(u, 3, ed.norm[0], nextafter(u[2], 0)) == 1);
    CHECK(h5div_hist_bin(u, 3, ed.norm[0], -0.0) == 0); /* -0 == 0 == e[0] */
    CHECK(h5div_hist_bin(u, 3, ed.norm[0], -DBL_TRUE_MIN) == -1);
    CHECK(h5div_hist_bin(u, 3, ed.norm[0], DBL_TRUE_MIN) == 0);
    CHECK(h5div_hist_bin(u, 3, ed.norm[0], INFINITY) == 3);
    CHECK(h5div_hist_bin(u, 3, ed.norm[0], -INFINITY) == -1);
    /* Binary search on irregular edges, the same rule. */
    double v[4] = {-1.0, 0.0, 10.0, 11.0};
    CHECK(h5div_hist_bin(v, 3, 0.0, -1.0) == 0);
    CHECK(h5div_hist_bin(v, 3, 0.0, 0.0) == 1);
    CHECK(h5div_hist_bin(v, 3, 0.0, 9.999) == 1);
    CHECK(h5div_hist_bin(v, 3, 0.0, 10.0) == 2);
    CHECK(h5div_hist_bin(v, 3, 0.0, 11.0) == 2);
    CHECK(h5div_hist_bin(v, 3, 0.0, 11.5) == 3);
    CHECK(h5div_hist_increasing(v, 4) == 1);
    v[2] = 0.0;
    CHECK(h5div_hist_increasing(v, 4) == 0);

    /* Counts, outside and NaN rules, weights exact, two features. */
    {
        double x[8] = {0.0, 5.0, 0.1, NAN, 0.3, -1.0, 7.0, 0.2};
        double w[4] = {1e16, 1.0, -1e16, 3.0};
        h5div_hist_counts c;
        CHECK(h5div_hist_counts_init(&c, 2, 3, 1) == 0);
        h5div_hist_rules r = {0, 1};
        CHECK(h5div_hist_add(&ed, &r, x, 8, 0, w, 0, &c) == 8);
        /* feature 0: 0.0 (b0, w 1e16), 0.1 (b1, w 1), 0.3 (b2, w -1e16), 7 (over) */
        CHECK(c.count[0] == 1 && c.count[1] == 1 && c.count[2] == 1 && c.over[0] == 1);
        CHECK(c.under[0] == 0 && c.nan[0] == 0);
        /* feature 1: 5 (over), NaN, -1 (under), 0.2 (b1... 0.2 >= u[2]? ) */
        CHECK(c.over[1] == 1 && c.nan[1] == 1 && c.under[1] == 1);
        CHECK_BITS(h5div_acc_round(&c.sumw[0]), 1e16);
        CHECK_BITS(h5div_acc_round(&c.sumw[2]), -1e16);
        CHECK_BITS(h5div_acc_round(&c.sumw2[2]), 1e32);
        h5div_hist_counts_free(&c);
        h5div_hist_rules stop = {1, 0};
        CHECK(h5div_hist_counts_init(&c, 2, 3, 0) == 0);
        CHECK(h5div_hist_add(&ed, &stop, x, 8, 0, NULL, 0, &c) == 3);
        CHECK(c.count[3 + 2] == 1); /* feature 1's 5.0 went into its last bin */
        h5div_hist_counts_free(&c);
    }

    /* Keys keep the order of the doubles; -0 is +0. */
    const double ord[] = {-INFINITY,    -DBL_MAX, -1.0, -DBL_MIN, -DBL_TRUE_MIN, 0.0,
                          DBL_TRUE_MIN, DBL_MIN,  1.0,  DBL_MAX,  INFINITY};
    for (size_t i = 0; i + 1 < sizeof ord / sizeof ord[0]; i++) {
        CHECK(h5div_hist_key(ord[i]) < h5div_hist_key(ord[i + 1]));
        CHECK_BITS(h5div_hist_unkey(h5div_hist_key(ord[i])), ord[i]);
    }
    CHECK(h5div_hist_key(-0.0) == h5div_hist_key(0.0));

    /* numpy.quantile(arange(10), [0, .25, .5, .75, 1], method="inverted_cdf")
     * = [0, 2, 4, 7, 9]; n = 2: [0, 0, 0, 1, 1]; n = 1: all 0. */
    const uint64_t r10[5] = {0, 2, 4, 7, 9}, r2[5] = {0, 0, 0, 1, 1};
    for (uint64_t j = 0; j <= 4; j++) {
        CHECK(h5div_hist_quantile_rank(10, j, 4) == r10[j]);
        CHECK(h5div_hist_quantile_rank(2, j, 4) == r2[j]);
        CHECK(h5div_hist_quantile_rank(1, j, 4) == 0);
    }

    /* Radix selection equals sorting, split in any number of parts, with
     * ties, both zeros, subnormals and infinities; a small budget forces
     * narrow digits and more passes. */
    {
        enum { N = 3000, K = 7 };
        double *x = malloc(N * sizeof *x);
        srand(7);
        for (int i = 0; i < N; i++) {
            int t = rand() % 10;
            x[i] = t == 0   ? (double)(rand() % 5)
                   : t == 1 ? -0.0
                   : t == 2 ? DBL_TRUE_MIN * (rand() % 4)
                   : t == 3 ? (rand() % 50 == 0 ? INFINITY : -3.5)
                            : ldexp((double)rand() / RAND_MAX - 0.5, rand() % 40 - 20);
        }
        double want[K + 1], got[K + 1];
        sorted_quantiles(x, N, K, want);
        const size_t budgets[3] = {(size_t)32 << 20, 4096, 200};
        for (int p = 1; p <= 4; p++)
            for (int b = 0; b < 3; b++) {
                select_split(x, N, 1, K, p, budgets[b], got);
                for (int j = 0; j <= K; j++)
                    CHECK(got[j] == want[j]);
            }
        /* Two features interleaved: each its own order statistics. */
        double *f0 = malloc(N / 2 * sizeof *f0), *f1 = malloc(N / 2 * sizeof *f1);
        for (int i = 0; i < N / 2; i++) {
            f0[i] = x[2 * i];
            f1[i] = x[2 * i + 1];
        }
        double w0[K + 1], w1[K + 1], g2[2 * (K + 1)];
        sorted_quantiles(f0, N / 2, K, w0);
        sorted_quantiles(f1, N / 2, K, w1);
        select_split(x, N, 2, K, 3, (size_t)1 << 20, g2);
        for (int j = 0; j <= K; j++) {
            CHECK(g2[j] == w0[j]);
            CHECK(g2[K + 1 + j] == w1[j]);
        }
        free(f0);
        free(f1);
        free(x);
    }
    /* N = 1: every edge is the one value. */
    {
        double one = 2.5, got[4];
        select_split(&one, 1, 1, 3, 1, (size_t)1 << 20, got);
        for (int j = 0; j < 4; j++)
            CHECK_BITS(got[j], 2.5);
    }
    /* Ties merge; all equal leaves one closed bin. */
    {
        double t[6] = {0, 1, 1, 2, 2, 3};
        CHECK(h5div_hist_merge_ties(t, 5) == 3);
        CHECK(t[1] == 1 && t[2] == 2 && t[3] == 3);
        double s[3] = {4, 4, 4};
        CHECK(h5div_hist_merge_ties(s, 2) == 1);
        CHECK(s[0] == 4 && s[1] == 4);
    }
    free(ed.norm);
    return check_report("test_histogram");
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the joint kernel (src/core/joint.c) against hand-derived closed forms: the
 * steps of `h5div joint` (exact sums, marginal terms, cell terms, finish) on small tables. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/joint.h"

#define NM H5DIV_JOINT_NMEASURES
#define BB H5DIV_BLOCK_BINS

/* Splits of an index range [0, n): cut[0] = 0 < cut[1] < ... < cut[k] = n. */
typedef struct cuts {
    int k;
    size_t cut[8];
} cuts;

static const cuts *whole(size_t n, cuts *c)
{
    c->k = 1;
    c->cut[0] = 0;
    c->cut[1] = n;
    return c;
}

/* The measures of the table x (+ xl, the exact remainders, or NULL) of nr
 * rows and nc columns, as the joint command computes them: exact total,
 * row and column sums; the dominant marginal (> N/2) through its exact
 * complement; the cell terms piece by piece over row cuts rc x column cuts
 * cc (column cuts on block boundaries), fed last piece first; the row
 * marginal in the pieces of rm (block boundaries) and the column marginal
 * in the pieces of cc. */
static void joint_eval(const double *x, const double *xl, size_t nr, size_t nc, const cuts *rc,
                       const cuts *cc, const cuts *rm, h5div_base base, double v[NM])
{
    h5div_acc total, *racc = malloc(nr * sizeof *racc), *cacc = malloc(nc * sizeof *cacc);
    double *r_hi = malloc(nr * sizeof(double)), *r_lo = malloc(nr * sizeof(double));
    double *c_hi = malloc(nc * sizeof(double)), *c_lo = malloc(nc * sizeof(double));
    h5div_acc_init(&total);
    for (size_t i = 0; i < nr; i++)
        h5div_acc_init(&racc[i]);
    for (size_t j = 0; j < nc; j++)
        h5div_acc_init(&cacc[j]);
    for (size_t i = 0; i < nr; i++)
        for (size_t j = 0; j < nc; j++) {
            double parts[2] = {x[i * nc + j], xl ? xl[i * nc + j] : 0.0};
            for (int t = 0; t < 2; t++) {
                h5div_acc_add(&total, parts[t]);
                h5div_acc_add(&racc[i], parts[t]);
                h5div_acc_add(&cacc[j], parts[t]);
            }
        }
    double hi, lo;
    h5div_acc_round2(&total, &hi, &lo);
    h5div_joint_norm nm;
    h5div_joint_norm_init(&nm, hi, lo);
    for (size_t i = 0; i < nr; i++)
        h5div_acc_round2(&racc[i], &r_hi[i], &r_lo[i]);
    for (size_t j = 0; j < nc; j++)
        h5div_acc_round2(&cacc[j], &c_hi[j], &c_lo[j]);

    h5div_acc acc[H5DIV_J_COUNT];
    for (int t = 0; t < H5DIV_J_COUNT; t++)
        h5div_acc_init(&acc[t]);
    /* Marginals in pieces; each piece looks for its own dominant entry. */
    const struct {
        const cuts *c;
        const double *hi, *lo;
        const h5div_acc *a;
        int term;
    } marg[2] = {{rm, r_hi, r_lo, racc, H5DIV_J_HX}, {cc, c_hi, c_lo, cacc, H5DIV_J_HY}};
    for (int m = 0; m < 2; m++)
        for (int p = marg[m].c->k - 1; p >= 0; p--) {
            size_t b = marg[m].c->cut[p], n = marg[m].c->cut[p + 1] - b, big = n;
            double comp = -1.0;
            for (size_t i = 0; i < n && comp < 0.0; i++) {
                comp = h5div_joint_complement(&total, &marg[m].a[b + i]);
                big = comp >= 0.0 ? i : n;
            }
            h5div_joint_marginal_add_big(marg[m].hi + b, marg[m].lo + b, n, big, comp, &nm,
                                         &acc[marg[m].term]);
        }
    for (int p = rc->k - 1; p >= 0; p--)
        for (int q = cc->k - 1; q >= 0; q--) {
            size_t r0 = rc->cut[p], h = rc->cut[p + 1] - r0;
            size_t c0 = cc->cut[q], w = cc->cut[q + 1] - c0;
            const double *cell = x + r0 * nc + c0;
            if (xl)
                h5div_joint_cells_add_lo(cell, xl + r0 * nc + c0, h, w, nc, r_hi + r0, r_lo + r0,
                                         c_hi + c0, c_lo + c0, &nm, acc);
            else
                h5div_joint_cells_add(cell, h, w, nc, r_hi + r0, r_lo + r0, c_hi + c0, c_lo + c0,
                                      &nm, acc);
        }
    for (int m = 0; m < NM; m++)
        v[m] = NAN;
    h5div_joint_finish(acc, H5DIV_JOINT_ALL, base, v);
    free(racc);
    free(cacc);
    free(r_hi);
    free(r_lo);
    free(c_hi);
    free(c_lo);
}

static void joint_whole(const double *x, const double *xl, size_t nr, size_t nc, h5div_base base,
                        double v[NM])
{
    cuts r, c;
    joint_eval(x, xl, nr, nc, whole(nr, &r), whole(nc, &c), &r, base, v);
}

/* An independent table x(i, j) = a(i) b(j) (whole numbers, exact) has
 * p(x, y) = p(x) p(y): every mutual-information term is exactly 0 (the
 * kernel's cross difference x N - r c is 0), so I = 0 and NMI = 0 as bits,
 * H(X|Y) = H(X), H(Y|X) = H(Y), H(X,Y) = H(X) + H(Y) = VI.
 * a = (1, 2, 5): A = 8, H(X) = -(1/8 log 1/8 + 2/8 log 2/8 + 5/8 log 5/8)
 *   = 3/8 + 1/4 * 2 + 5/8 (3 - log2 5) = 2.75 - 5/8 log2 5 bits;
 * b = (1, 1, 2): B = 4, H(Y) = 1/4 * 2 * 2 + 1/2 * 1 = 1.5 bits. */
static void test_independent(void)
{
    const double a[3] = {1, 2, 5}, b[3] = {1, 1, 2};
    double x[9], v[NM];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            x[i * 3 + j] = a[i] * b[j];
    joint_whole(x, NULL, 3, 3, H5DIV_BASE_2, v);
    const double hx = (double)(2.75L - 0.625L * log2l(5.0L)), hy = 1.5;
    CHECK_BITS(v[H5DIV_MUTUAL_INFORMATION], 0.0);
    CHECK_BITS(v[H5DIV_NORMALIZED_MUTUAL_INFORMATION], 0.0);
    CHECK_REL(v[H5DIV_ENTROPY_X], hx, 1e-15);
    CHECK_REL(v[H5DIV_ENTROPY_Y], hy, 1e-15);
    CHECK_REL(v[H5DIV_JOINT_ENTROPY], hx + hy, 1e-15);
    CHECK_REL(v[H5DIV_COND_ENTROPY_X_GIVEN_Y], hx, 1e-15);
    CHECK_REL(v[H5DIV_COND_ENTROPY_Y_GIVEN_X], hy, 1e-15);
    CHECK_REL(v[H5DIV_VARIATION_OF_INFORMATION], hx + hy, 1e-15);

    /* 64-bit counts above 2^53 given as double + exact remainder: a =
     * (2^30 + 1, 3), b = (2^30 + 3, 5), so x(0,0) = 2^60 + 2^32 + 3 is not a
     * double; with its remainder the table is still exactly independent. */
    const double a2[2] = {0x1p30 + 1, 3}, b2[2] = {0x1p30 + 3, 5};
    double y[4], yl[4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            y[i * 2 + j] = a2[i] * b2[j]; /* rounded */
            yl[i * 2 + j] = fma(a2[i], b2[j], -y[i * 2 + j]);
        }
    CHECK(yl[0] != 0.0);
    joint_whole(y, yl, 2, 2, H5DIV_BASE_E, v);
    CHECK_BITS(v[H5DIV_MUTUAL_INFORMATION], 0.0);
    /* H(X) in nats of (A - 3, 3) / A with A = 2^30 + 4. */
    long double A = 0x1p30L + 4, pa = 3 / A;
    CHECK_REL(v[H5DIV_ENTROPY_X], (double)-(pa * logl(pa) + (1 - pa) * log1pl(-pa)), 1e-14);
}

/* Y = f(X): each row has one nonzero cell. Counts of x = 0..3: (1, 2, 3, 2),
 * N = 8, f = (0, 1, 0, 2), so Y has counts (4, 2, 2):
 * H(Y) = 1/2 * 1 + 2 * 1/4 * 2 = 1.5 bits; H(Y|X) = 0 (exactly: each term
 * is log(x / r) with x = r); I = H(Y) - H(Y|X) = 1.5;
 * H(X) = 1/8 * 3 + 2 * 1/4 * 2 + 3/8 log2(8/3) = 2.5 - 3/8 log2 3 = H(X,Y);
 * H(X|Y) = H(X) - I = 1 - 3/8 log2 3; NMI = 2 I / (H(X) + H(Y)) = 3 / (4 - 3/8 log2 3). */
static void test_function(void)
{
    const double x[4 * 3] = {1, 0, 0, /**/ 0, 2, 0, /**/ 3, 0, 0, /**/ 0, 0, 2};
    double v[NM];
    joint_whole(x, NULL, 4, 3, H5DIV_BASE_2, v);
    const long double l3 = log2l(3.0L);
    CHECK_BITS(v[H5DIV_COND_ENTROPY_Y_GIVEN_X], 0.0);
    CHECK_REL(v[H5DIV_ENTROPY_Y], 1.5, 1e-15);
    CHECK_REL(v[H5DIV_MUTUAL_INFORMATION], 1.5, 1e-15);
    CHECK_REL(v[H5DIV_ENTROPY_X], (double)(2.5L - 0.375L * l3), 1e-15);
    CHECK_REL(v[H5DIV_JOINT_ENTROPY], (double)(2.5L - 0.375L * l3), 1e-15);
    CHECK_REL(v[H5DIV_COND_ENTROPY_X_GIVEN_Y], (double)(1.0L - 0.375L * l3), 1e-14);
    CHECK_REL(v[H5DIV_VARIATION_OF_INFORMATION], (double)(1.0L - 0.375L * l3), 1e-14);
    CHECK_REL(v[H5DIV_NORMALIZED_MUTUAL_INFORMATION], (double)(3.0L / (4.0L - 0.375L * l3)), 1e-15);
    /* The transposed table: X = f(Y), so H(X|Y) = 0 and I = H(X) = 1.5. */
    double t[3 * 4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            t[j * 4 + i] = x[i * 3 + j];
    joint_whole(t, NULL, 3, 4, H5DIV_BASE_2, v);
    CHECK_BITS(v[H5DIV_COND_ENTROPY_X_GIVEN_Y], 0.0);
    CHECK_REL(v[H5DIV_MUTUAL_INFORMATION], 1.5, 1e-15);
}

/* The 2x2 table [[1, 1], [0, 2]] (rows x, columns y), N = 4:
 * p(x) = (1/2, 1/2): H(X) = 1 bit; p(y) = (1/4, 3/4): H(Y) = 2 - 3/4 log2 3;
 * p(x,y) = (1/4, 1/4, 0, 1/2): H(X,Y) = 2/4 + 2/4 + 1/2 = 1.5;
 * H(X|Y) = H(X,Y) - H(Y) = 3/4 log2 3 - 1/2; H(Y|X) = H(X,Y) - H(X) = 1/2;
 * I = H(X) + H(Y) - H(X,Y) = 3/2 - 3/4 log2 3 (= 0.311278...);
 * NMI = 2 I / (H(X) + H(Y)) = (3 - 3/2 log2 3) / (3 - 3/4 log2 3);
 * VI = H(X|Y) + H(Y|X) = 3/4 log2 3. In base e every entropy is times ln 2
 * (NMI unchanged), in base 10 times log10 2. */
static void test_2x2(void)
{
    const double x[4] = {1, 1, 0, 2};
    const long double l3 = log2l(3.0L);
    const long double want[NM] = {1.0L,
                                  2.0L - 0.75L * l3,
                                  1.5L,
                                  0.75L * l3 - 0.5L,
                                  0.5L,
                                  1.5L - 0.75L * l3,
                                  (3.0L - 1.5L * l3) / (3.0L - 0.75L * l3),
                                  0.75L * l3};
    const h5div_base bases[3] = {H5DIV_BASE_2, H5DIV_BASE_E, H5DIV_BASE_10};
    const long double factor[3] = {1.0L, logl(2.0L), log10l(2.0L)};
    for (int b = 0; b < 3; b++) {
        double v[NM];
        joint_whole(x, NULL, 2, 2, bases[b], v);
        for (int m = 0; m < NM; m++) {
            long double f = m == H5DIV_NORMALIZED_MUTUAL_INFORMATION ? 1.0L : factor[b];
            CHECK_REL(v[m], (double)(want[m] * f), 4e-15);
        }
    }
}

/* A table spanning several summation blocks gives the same bits whichever
 * pieces it is fed in, as long as column pieces (and marginal pieces)
 * start on block boundaries: the rows of the cells in any split, the
 * pieces in reverse order. Cells from a fixed linear congruential sequence
 * (not whole numbers, so that the rounding of a block's sums shows: a
 * column piece starting at 100 instead of 256 changes the bits of
 * entropy_y), some zero, some rows and columns empty. */
static void test_block_order(void)
{
    const size_t nr = 300, nc = 600;
    double *x = malloc(nr * nc * sizeof *x), *xl = calloc(nr * nc, sizeof *xl);
    uint64_t s = 12345;
    for (size_t k = 0; k < nr * nc; k++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned r = (unsigned)(s >> 40);
        x[k] = (r % 5 == 0) ? 0.0 : (double)(r % 1000) + 1.0 / (1 + r % 7);
    }
    for (size_t j = 0; j < nc; j++)
        x[7 * nc + j] = 0.0; /* an empty row */
    for (size_t i = 0; i < nr; i++)
        x[i * nc + 300] = 0.0; /* an empty column */
    double ref[NM], v[NM];
    cuts r1, c1;
    joint_eval(x, NULL, nr, nc, whole(nr, &r1), whole(nc, &c1), &r1, H5DIV_BASE_2, ref);
    const cuts rows = {4, {0, 1, 100, 256, 300}}, cols = {3, {0, BB, 2 * BB, 600}};
    const cuts rows2 = {2, {0, BB, 300}}, cols2 = {2, {0, 2 * BB, 600}};
    joint_eval(x, NULL, nr, nc, &rows, &cols, &rows2, H5DIV_BASE_2, v);
    for (int m = 0; m < NM; m++)
        CHECK_BITS(v[m], ref[m]);
    joint_eval(x, NULL, nr, nc, &rows2, &cols2, &rows2, H5DIV_BASE_2, v);
    for (int m = 0; m < NM; m++)
        CHECK_BITS(v[m], ref[m]);
    /* All-zero remainders give the bits of the plain kernel. */
    joint_eval(x, xl, nr, nc, &rows, &cols, &rows2, H5DIV_BASE_2, v);
    for (int m = 0; m < NM; m++)
        CHECK_BITS(v[m], ref[m]);
    /* Sanity of the values: entropies positive, I = H(X) + H(Y) - H(X,Y). */
    CHECK(ref[H5DIV_ENTROPY_X] > 8.0 && ref[H5DIV_ENTROPY_Y] > 9.0);
    CHECK_REL(ref[H5DIV_MUTUAL_INFORMATION],
              ref[H5DIV_ENTROPY_X] + ref[H5DIV_ENTROPY_Y] - ref[H5DIV_JOINT_ENTROPY], 1e-9);
    free(x);
    free(xl);
}

/* A dominant marginal whose complement is below its own rounding. Rows
 * (2^100, 1, 0) and (0, 0, 2^-80): N = 2^100 + 1 + 2^-80 is held as
 * 2^100 + 1 (the 2^-80 is lost in two doubles), and the first row sum is
 * 2^100 + 1 exactly, so N - m from the rounded parts is 0, while the exact
 * complement is 2^-80. With e = 2^-80 / N = 2^-180 (to 2^-280):
 * H(X) = -(1 - e) log(1 - e) - e log e = e (1 + 180 ln 2) + O(e^2) nats.
 * Without the complement the first term is lost: e 180 ln 2 only. */
static void test_dominant(void)
{
    const double x[6] = {0x1p100, 1.0, 0.0, 0.0, 0.0, 0x1p-80};
    double v[NM];
    joint_whole(x, NULL, 2, 3, H5DIV_BASE_E, v);
    const double e = 0x1p-180, want = e * (double)(1.0L + 180.0L * logl(2.0L));
    CHECK_REL(v[H5DIV_ENTROPY_X], want, 1e-15);

    /* The complement itself: exact, rounded once; -1 for a marginal not
     * above N / 2. */
    h5div_acc total, m0, m1;
    h5div_acc_init(&total);
    h5div_acc_init(&m0);
    h5div_acc_init(&m1);
    for (int k = 0; k < 6; k++) {
        h5div_acc_add(&total, x[k]);
        h5div_acc_add(k < 3 ? &m0 : &m1, x[k]);
    }
    CHECK_BITS(h5div_joint_complement(&total, &m0), 0x1p-80);
    CHECK_BITS(h5div_joint_complement(&total, &m1), -1.0);

    /* The marginal term without the complement (what the rounded parts
     * give), and with it, through h5div_joint_finish alone. */
    double hi, lo, r_hi[2], r_lo[2];
    h5div_acc_round2(&total, &hi, &lo);
    CHECK_BITS(hi, 0x1p100);
    CHECK_BITS(lo, 1.0);
    h5div_acc_round2(&m0, &r_hi[0], &r_lo[0]);
    h5div_acc_round2(&m1, &r_hi[1], &r_lo[1]);
    h5div_joint_norm nm;
    h5div_joint_norm_init(&nm, hi, lo);
    h5div_acc acc[H5DIV_J_COUNT];
    for (int t = 0; t < H5DIV_J_COUNT; t++)
        h5div_acc_init(&acc[t]);
    h5div_joint_marginal_add(r_hi, r_lo, 2, &nm, &acc[H5DIV_J_HX]);
    h5div_joint_finish(acc, H5DIV_MEASURE_BIT(H5DIV_ENTROPY_X), H5DIV_BASE_E, v);
    CHECK_REL(v[H5DIV_ENTROPY_X], e * (double)(180.0L * logl(2.0L)), 1e-15);
    h5div_acc_init(&acc[H5DIV_J_HX]);
    h5div_joint_marginal_add_big(r_hi, r_lo, 2, 0, 0x1p-80, &nm, &acc[H5DIV_J_HX]);
    h5div_joint_finish(acc, H5DIV_MEASURE_BIT(H5DIV_ENTROPY_X), H5DIV_BASE_E, v);
    CHECK_REL(v[H5DIV_ENTROPY_X], want, 1e-15);
    /* finish writes only the measures asked for. */
    v[H5DIV_ENTROPY_Y] = 42.0;
    h5div_joint_finish(acc, H5DIV_MEASURE_BIT(H5DIV_ENTROPY_X), H5DIV_BASE_E, v);
    CHECK_BITS(v[H5DIV_ENTROPY_Y], 42.0);
}

/* The total's scale: the power of two bringing it into [1, 2), exact. */
static void test_norm(void)
{
    h5div_joint_norm nm;
    h5div_joint_norm_init(&nm, 12.0, 0.0);
    CHECK_BITS(nm.scale, 0x1p-3);
    CHECK_BITS(nm.n_hi, 1.5);
    CHECK_BITS(nm.inv_n, 1.0 / 1.5);
    CHECK_REL(nm.log_n, (double)logl(12.0L), 1e-16);
    CHECK_BITS(nm.n_lo2, 0.0);
    /* A table of subnormal cells keeps its digits: the 2x2 table above
     * scaled by 2^-1070 has the same measures up to the last bits. */
    const double x[4] = {0x1p-1070, 0x1p-1070, 0.0, 0x1p-1069};
    double v[NM], w[NM];
    const double y[4] = {1, 1, 0, 2};
    joint_whole(x, NULL, 2, 2, H5DIV_BASE_2, v);
    joint_whole(y, NULL, 2, 2, H5DIV_BASE_2, w);
    for (int m = 0; m < NM; m++)
        CHECK_REL(v[m], w[m], 1e-15);
}

int main(void)
{
    test_independent();
    test_function();
    test_2x2();
    test_block_order();
    test_dominant();
    test_norm();
    return check_report("test_joint");
}

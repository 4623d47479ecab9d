/* SPDX-License-Identifier: BSD-3-Clause */
/* Exact accumulator of doubles: every global sum in h5div goes through it. */
#ifndef H5DIV_CORE_ACC_H
#define H5DIV_CORE_ACC_H

#include <stddef.h>
#include <stdint.h>

#include "h5div_types.h"

/* A fixed-point superaccumulator covering the whole double range: the value
 * is sum(limb[k] * 2^(32*k + H5DIV_ACC_EMIN)). Additions are exact, so the
 * result does not depend on the order in which values are added, and two
 * accumulators combine exactly (limb-wise integer addition), which is what
 * makes reductions over any number of ranks give the same bits. */
#define H5DIV_ACC_LIMBS 70
#define H5DIV_ACC_EMIN (-1152) /* below 2^-1074 * 2^-53, a multiple of 32 */

typedef struct h5div_acc {
    int64_t limb[H5DIV_ACC_LIMBS];
    int64_t pending;   /* additions since the last normalisation */
    int64_t nonfinite; /* bit 0: +inf added, bit 1: -inf, bit 2: nan */
} h5div_acc;

void h5div_acc_init(h5div_acc *a);
/* Add x exactly. */
void h5div_acc_add(h5div_acc *a, double x);
/* Add another accumulator exactly. */
void h5div_acc_merge(h5div_acc *a, const h5div_acc *b);
/* Propagate carries so every limb but the top one lies in [0, 2^32). After
 * this, up to 2^30 normalised accumulators can be merged limb by limb with
 * plain integer addition. */
void h5div_acc_normalize(h5div_acc *a);
/* Subtract another accumulator exactly. */
void h5div_acc_sub(h5div_acc *a, const h5div_acc *b);
/* The sum rounded to the nearest double (ties to even); +-inf on overflow. */
double h5div_acc_round(const h5div_acc *a);
/* The sum as an unevaluated pair hi + lo, hi = round(sum), lo = round(sum - hi). */
void h5div_acc_round2(const h5div_acc *a, double *hi, double *lo);
/* The sum as hi + lo + lo2, each the rounded rest of the sum (about 159 bits). */
void h5div_acc_round3(const h5div_acc *a, double *hi, double *lo, double *lo2);

/* The most parts h5div_acc_parts gives: each part after the first is below
 * 2^-52 of the one before, and an exact sum of doubles spans about 2100 bits. */
#define H5DIV_ACC_PARTS 48
/* The sum as parts[0] + parts[1] + ..., each the rounded rest of the sum
 * (the first three are h5div_acc_round3's), up to the first zero rest;
 * returns their number, at least 1 (parts[0] is 0 for a zero sum, the only
 * part for a non-finite one). The parts add up to the sum exactly. */
int h5div_acc_parts(const h5div_acc *a, double parts[H5DIV_ACC_PARTS]);

/* A total hi + lo > 0 brought near 1 by a power of two (exact), so neither
 * huge nor tiny values overflow or underflow once scaled. */
typedef struct h5div_unit_total {
    double scale;  /* 2^k, total 2^k in [1, 2) where k lies in [-1000, 1000] */
    double hi, lo; /* the scaled total */
    double inv;    /* 1 / (hi + lo) to within one rounding (lo is below an ulp of hi) */
    double log;    /* log of the unscaled total */
} h5div_unit_total;
h5div_unit_total h5div_unit_total_of(double hi, double lo);

/* Add to acc the terms term(ctx, x[j], j) of the bins j < n with x[j] > 0
 * (x from a block boundary), summed block by block (H5DIV_BLOCK_BINS bins)
 * in four lanes by index within the block, combined in the fixed tree
 * (s0 + s1) + (s2 + s3): the order that gives a block's sum the same bits
 * on any decomposition. Inline, so that a constant term is inlined too. */
static inline void h5div_acc_add_block_terms(h5div_acc *acc, const double *restrict x, size_t n,
                                             double (*term)(const void *ctx, double v, size_t j),
                                             const void *ctx)
{
    for (size_t b = 0; b < n; b += H5DIV_BLOCK_BINS) {
        size_t e = n - b < H5DIV_BLOCK_BINS ? n - b : H5DIV_BLOCK_BINS;
        double s[4] = {0, 0, 0, 0};
        for (size_t k = 0; k < e; k++)
            if (x[b + k] > 0.0)
                s[k & 3] += term(ctx, x[b + k], b + k);
        h5div_acc_add(acc, (s[0] + s[1]) + (s[2] + s[3]));
    }
}

#endif

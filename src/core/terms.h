/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-bin terms of the compare measures and their block-ordered partial sums. */
#ifndef H5DIV_CORE_TERMS_H
#define H5DIV_CORE_TERMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/acc.h"

/* Sums accumulated by the compare kernel, all in nats. */
enum h5div_term {
    H5DIV_T_ENTROPY_P = 0,
    H5DIV_T_ENTROPY_Q,
    H5DIV_T_CROSS_PQ,
    H5DIV_T_CROSS_QP,
    H5DIV_T_KL_PQ,
    H5DIV_T_KL_QP,
    H5DIV_T_JS,
    H5DIV_T_TV,
    H5DIV_T_HELLINGER,
    H5DIV_T_COUNT
};

/* Partial sums of one rank, combined across ranks exactly. */
typedef struct h5div_compare_partial {
    h5div_acc acc[H5DIV_T_COUNT];
    int64_t p_without_q; /* bins with p > 0 and q = 0: kl_pq, cross_entropy_pq infinite */
    int64_t q_without_p; /* bins with q > 0 and p = 0 */
} h5div_compare_partial;

/* Totals of the two histograms as unevaluated sums hi + lo (about 106 bits),
 * so normalisation adds no error that matters even when p and q agree to
 * many digits. */
typedef struct h5div_norm {
    double a_hi, a_lo, b_hi, b_lo; /* totals times scale_a, scale_b */
    double inv_a, inv_b;           /* 1 / (a_hi + a_lo), 1 / (b_hi + b_lo) */
    double scale_a, scale_b; /* powers of two that bring the totals near 1 */
    double log_a, log_b;     /* log of the unscaled totals */
    double alpha;            /* pseudocount added to every raw value */
} h5div_norm;

void h5div_norm_init(h5div_norm *nm, double a_hi, double a_lo, double b_hi, double b_lo,
                     double alpha);

/* Index of the first value that is negative, NaN or infinite, or n if none. */
size_t h5div_first_invalid(const double *restrict x, size_t n);

/* Add sum(x[i] + alpha) to acc. x starts on a global block boundary; the
 * values are summed in blocks of H5DIV_BLOCK_BINS in a fixed order with
 * error-free transformations, and each block's sum and error enter acc, so
 * the total is independent of how the bins are split into pieces. */
void h5div_total_add(const double *restrict x, size_t n, double alpha, h5div_acc *acc);

/* h5div_total_add that also checks the values block by block in the same
 * trip through memory: returns n, or the index of the first negative, NaN
 * or infinite value (acc then holds a partial sum and is to be dropped). */
size_t h5div_total_add_valid(const double *restrict x, size_t n, double alpha, h5div_acc *acc);

/* Add the per-bin terms of bins x[0..n), y[0..n) (raw values; the
 * pseudocount and totals are in nm) to the sums selected by term_mask
 * (bits 1 << enum h5div_term). x starts on a global block boundary. */
void h5div_compare_add(const double *restrict x, const double *restrict y, size_t n,
                       const h5div_norm *nm, unsigned term_mask, h5div_compare_partial *part);

void h5div_compare_partial_init(h5div_compare_partial *part);

/* Terms needed for a set of measures (H5DIV_MEASURE_BIT bits). */
unsigned h5div_terms_for_measures(unsigned measures);

/* Turn reduced sums into measure values in the requested base.
 * value[] is indexed by h5div_measure; only bits of `measures` are set. */
void h5div_compare_finish(const h5div_compare_partial *part, unsigned measures, int base,
                          double *value);

#endif

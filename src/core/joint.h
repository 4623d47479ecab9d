/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-cell terms of joint entropies and mutual information, summed in global-index blocks. */
#ifndef H5DIV_CORE_JOINT_H
#define H5DIV_CORE_JOINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/acc.h"
#include "h5div_types.h"

/* Sums of the joint kernel, in nats. */
enum h5div_joint_term {
    H5DIV_J_HX = 0,     /* -sum p(x) log p(x) */
    H5DIV_J_HY,         /* -sum p(y) log p(y) */
    H5DIV_J_HXY,        /* -sum p(x,y) log p(x,y) */
    H5DIV_J_HX_GIVEN_Y, /* -sum p(x,y) log (n(x,y) / n(y)), each term >= 0 */
    H5DIV_J_HY_GIVEN_X, /* -sum p(x,y) log (n(x,y) / n(x)), each term >= 0 */
    H5DIV_J_MI,         /* sum p log(p/q) - p + q, q = p(x) p(y); each term >= 0 */
    H5DIV_J_COUNT
};

/* The total N of the table as an unevaluated sum, scaled by a power of two
 * so that it lies near 1; marginals and cells are scaled by the same factor. */
typedef struct h5div_joint_norm {
    double scale, n_hi, n_lo, inv_n, log_n; /* log_n: log of the unscaled total */
    double n_lo2; /* a third part of the scaled total (0 unless set after init) */
} h5div_joint_norm;

void h5div_joint_norm_init(h5div_joint_norm *nm, double hi, double lo);

/* Add -sum (m/N) log(m/N) of marginal counts m_hi[i] + m_lo[i] (unscaled),
 * i in [0, n), to acc; index 0 lies on a global block boundary. */
void h5div_joint_marginal_add(const double *restrict m_hi, const double *restrict m_lo, size_t n,
                              const h5div_joint_norm *nm, h5div_acc *acc);
/* The same where entry `big` (n or more: none) holds more than half of N
 * and big_c = N - m_big exactly, rounded once: its term comes from that
 * complement, which the rounded marginal cannot hold when it is below the
 * marginal's own rounding (a marginal summing values of many decades). */
void h5div_joint_marginal_add_big(const double *restrict m_hi, const double *restrict m_lo,
                                  size_t n, size_t big, double big_c, const h5div_joint_norm *nm,
                                  h5div_acc *acc);
/* The complement N - m rounded once, from the exact total and the exact
 * marginal, where m > N / 2 (else -1). */
double h5div_joint_complement(const h5div_acc *total, const h5div_acc *m);

/* Add the per-cell terms of a [nrows, ncols] piece of the table (row-major,
 * leading dimension ld; unscaled counts) to acc[H5DIV_J_HXY..H5DIV_J_MI].
 * Its rows have sums r_hi + r_lo and its columns c_hi + c_lo (unscaled);
 * the first column lies on a global block boundary, so each row's cells are
 * summed in the same blocks of H5DIV_BLOCK_BINS whatever the piece. */
void h5div_joint_cells_add(const double *restrict cells, size_t nrows, size_t ncols, size_t ld,
                           const double *restrict r_hi, const double *restrict r_lo,
                           const double *restrict c_hi, const double *restrict c_lo,
                           const h5div_joint_norm *nm, h5div_acc acc[H5DIV_J_COUNT]);
/* The same for cells x + lo (lo: the exact remainders of 64-bit integers
 * and of the pseudocount, same layout; NULL: none). A block of a row whose
 * remainders are all zero gives the bits of h5div_joint_cells_add; one with
 * some takes x N - r c from exact products (zero for an independent table). */
void h5div_joint_cells_add_lo(const double *restrict cells, const double *restrict lo, size_t nrows,
                              size_t ncols, size_t ld, const double *restrict r_hi,
                              const double *restrict r_lo, const double *restrict c_hi,
                              const double *restrict c_lo, const h5div_joint_norm *nm,
                              h5div_acc acc[H5DIV_J_COUNT]);
/* The same with third parts: cells x + lo + lo2, rows r_hi + r_lo + r_lo2,
 * columns c_hi + c_lo + c_lo2 and the total (nm->n_lo2), any of the arrays
 * NULL for none. 64-bit integers with a pseudocount need three parts to be
 * exact; x N - r c then comes from all of them. */
void h5div_joint_cells_add_lo3(const double *restrict cells, const double *restrict lo,
                               const double *restrict lo2, size_t nrows, size_t ncols, size_t ld,
                               const double *restrict r_hi, const double *restrict r_lo,
                               const double *restrict r_lo2, const double *restrict c_hi,
                               const double *restrict c_lo, const double *restrict c_lo2,
                               const h5div_joint_norm *nm, h5div_acc acc[H5DIV_J_COUNT]);

/* Measures from the reduced sums (value[] indexed by h5div_joint_measure). */
void h5div_joint_finish(const h5div_acc acc[H5DIV_J_COUNT], unsigned measures, h5div_base base,
                        double *value);

#endif

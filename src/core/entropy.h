/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-bin terms of the entropy estimators and of self-information, summed in global-index blocks.
 */
#ifndef H5DIV_CORE_ENTROPY_H
#define H5DIV_CORE_ENTROPY_H

#include <stddef.h>
#include <stdint.h>

#include "core/acc.h"
#include "h5div_types.h"

/* Global quantities of one histogram, gathered in the first pass. */
typedef struct h5div_entropy_stats {
    h5div_acc raw;      /* sum of the raw counts */
    h5div_acc total;    /* sum of the counts plus the pseudocount */
    int64_t nonzero;    /* bins with a raw count > 0 (m) */
    int64_t singletons; /* bins with a raw count of exactly 1 (f1) */
} h5div_entropy_stats;

void h5div_entropy_stats_init(h5div_entropy_stats *st);

/* Index of the first value that is not a whole number, or n if none. */
size_t h5div_first_fraction(const double *restrict x, size_t n);

/* Add the first-pass quantities of bins x[0..n) (raw values). */
void h5div_entropy_stats_add(const double *restrict x, size_t n, double alpha,
                             h5div_entropy_stats *st);

/* A total as an unevaluated sum hi + lo, scaled by a power of two so it lies
 * near 1, with what the per-bin terms need. */
typedef struct h5div_entropy_norm {
    double t_hi, t_lo; /* total * scale */
    double inv;        /* 1 / (t_hi + t_lo) */
    double scale;      /* power of two */
    double log_t;      /* log of the unscaled total */
    double alpha;      /* pseudocount added to every raw value */
} h5div_entropy_norm;

void h5div_entropy_norm_init(h5div_entropy_norm *nm, double hi, double lo, double alpha);

/* Add -sum p log p (nats) of bins x[0..n) to acc, p = (x + alpha) / total.
 * x starts on a global block boundary: each block of H5DIV_BLOCK_BINS is
 * summed in a fixed order and its sum enters acc. */
void h5div_entropy_plugin_add(const double *restrict x, size_t n, const h5div_entropy_norm *nm,
                              h5div_acc *acc);

/* Chao-Shen terms -pa log(pa) / (1 - (1 - pa)^n) over bins with x > 0,
 * pa = coverage * x / n; n = total count, log_coverage = log(coverage). */
void h5div_entropy_chao_shen_add(const double *restrict x, size_t n_bins, double n, double coverage,
                                 double log_coverage, h5div_acc *acc);

/* Shrinkage sums: acc[0] += sum u (1 - u) (that is 1 - sum u^2, without
 * cancellation), acc[1] += sum (u - 1/K)^2 with u = x / n (the plain
 * relative frequencies). */
void h5div_entropy_shrink_sums_add(const double *restrict x, size_t n_bins, double n, double k,
                                   h5div_acc acc[2]);

/* The shrinkage intensity of Hausser & Strimmer (2009), clipped to [0, 1]:
 * (1 - sum u^2) / ((n - 1) sum (u - 1/K)^2), given 1 - sum u^2 as
 * one_minus_u2; 1 when n <= 1 or the frequencies are uniform. */
double h5div_entropy_shrink_lambda(double n, double one_minus_u2, double msp);

/* -sum ps log ps with ps = lambda / K + (1 - lambda) x / n. */
void h5div_entropy_shrink_add(const double *restrict x, size_t n_bins, double n, double k,
                              double lambda, h5div_acc *acc);

/* The same for values x + lo, lo the exact remainders of 64-bit integers
 * (NULL: none), with the total count n + n_lo: n - x is then exact to a
 * rounding where one count holds nearly all. */
void h5div_entropy_stats_add_lo(const double *restrict x, const double *restrict lo, size_t n,
                                double alpha, h5div_entropy_stats *st);
void h5div_entropy_plugin_add_lo(const double *restrict x, const double *restrict lo, size_t n,
                                 const h5div_entropy_norm *nm, h5div_acc *acc);
void h5div_entropy_chao_shen_add_lo(const double *restrict x, const double *restrict lo,
                                    size_t n_bins, double n, double n_lo, double coverage,
                                    double log_coverage, h5div_acc *acc);
void h5div_entropy_shrink_sums_add_lo(const double *restrict x, const double *restrict lo,
                                      size_t n_bins, double n, double n_lo, double k,
                                      h5div_acc acc[2]);
void h5div_entropy_shrink_add_lo(const double *restrict x, const double *restrict lo, size_t n_bins,
                                 double n, double n_lo, double k, double lambda, h5div_acc *acc);

/* Self-information -log(p) / ln_b of each bin into out[0..n) (inf where
 * x + alpha = 0). */
void h5div_surprisal_values(const double *restrict x, size_t n, const h5div_entropy_norm *nm,
                            double ln_b, double *restrict out);
/* The same for values x + lo (the exact remainders of 64-bit integers;
 * NULL: none). */
void h5div_surprisal_values_lo(const double *restrict x, const double *restrict lo, size_t n,
                               const h5div_entropy_norm *nm, double ln_b, double *restrict out);

/* ln b of a base; dividing nats by it maps ln 2 to exactly 1 bit. */
double h5div_ln_base(h5div_base base);

#endif

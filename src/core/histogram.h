/* SPDX-License-Identifier: BSD-3-Clause */
/* Binning of samples with shared edges, and exact order statistics by radix selection. */
#ifndef H5DIV_CORE_HISTOGRAM_H
#define H5DIV_CORE_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "core/acc.h"

/* Edges of K bins for each of `rows` features (rows 1: every feature uses
 * the same edges). Bin i holds e[i] <= x < e[i+1], the last bin also x ==
 * e[K], as numpy.histogram with the same edges array. With `uniform` set
 * the edges are numpy.linspace(e[0], e[K], K + 1) and the bin is found by
 * arithmetic, then corrected against the stored edges so that it is always
 * the one the rule above gives. */
typedef struct h5div_hist_edges {
    uint64_t k, rows;
    double *e; /* [rows][k + 1] */
    int uniform;
    double *norm; /* [rows]: k / (e[k] - e[0]) when uniform, else 0 (see prepare) */
} h5div_hist_edges;

/* Set ed->norm from ed->e (malloc'ed; free it with the edges). Returns 0,
 * or -1 out of memory. Call after the edges are final. */
int h5div_hist_edges_prepare(h5div_hist_edges *ed);

/* numpy.linspace(lo, hi, k + 1) into e[0..k]: e[i] = i * ((hi - lo) / k) + lo,
 * e[k] = hi. Not collective. */
void h5div_hist_linspace(double lo, double hi, uint64_t k, double *e);

/* Log-spaced edges lo * (hi/lo)^(i/k) as numpy.geomspace: e[0] = lo,
 * e[k] = hi (lo > 0). */
void h5div_hist_geomspace(double lo, double hi, uint64_t k, double *e);

/* The range numpy.histogram uses when the data's min equals its max
 * (lo - 0.5, hi + 0.5), and for log edges (lo / 2, hi * 2). */
void h5div_hist_widen(int log_edges, double *lo, double *hi);

/* 1 when e[0..n) is finite and strictly increasing, else 0. */
int h5div_hist_increasing(const double *e, uint64_t n);

/* Bin of x among e[0..k] (see h5div_hist_edges): 0..k-1, -1 below e[0],
 * k above e[k] (x not NaN). `norm` = k / (e[k] - e[0]) for uniform edges,
 * 0 for a binary search. */
int64_t h5div_hist_bin(const double *e, uint64_t k, double norm, double x);

/* Counts (and with weights, exact sums) of every bin of d features. */
typedef struct h5div_hist_counts {
    uint64_t d, k;
    uint64_t *count;              /* [d][k] */
    uint64_t *under, *over, *nan; /* [d] */
    h5div_acc *sumw, *sumw2;      /* [d][k], or NULL without weights */
} h5div_hist_counts;

/* Allocate zeroed counts; weighted adds the accumulators. Returns 0, or -1
 * out of memory. */
int h5div_hist_counts_init(h5div_hist_counts *c, uint64_t d, uint64_t k, int weighted);
void h5div_hist_counts_free(h5div_hist_counts *c);

/* What binning does with values outside the edges and with NaN. */
typedef struct h5div_hist_rules {
    int outside_bins; /* 1: into the first/last bin (still counted in under/over) */
    int nan_skip;     /* 1: count NaN in nan; 0: stop at the first NaN */
} h5div_hist_rules;

/* Bin the samples x[0..n) whose flat indices (row * d + column) start at
 * `first`; with weights, w[row - w_row0] weighs every column of a row.
 * Returns n, or with nan_skip 0 the index in x of the first NaN (nothing
 * after it is added). */
size_t h5div_hist_add(const h5div_hist_edges *ed, const h5div_hist_rules *r, const double *x,
                      size_t n, uint64_t first, const double *w, uint64_t w_row0,
                      h5div_hist_counts *c);

/* Order-preserving map of doubles (not NaN; -0 taken as +0) to uint64 keys,
 * and back. */
uint64_t h5div_hist_key(double x);
double h5div_hist_unkey(uint64_t u);

/* Rank (0-based) of order statistic j of k of n values that
 * numpy.quantile(x, j / k, method="inverted_cdf") returns. */
uint64_t h5div_hist_quantile_rank(uint64_t n, uint64_t j, uint64_t k);

/* Exact selection of the order statistics j/k, j = 0..k, of each of d
 * features by refining histograms of the values' keys, top bits first.
 * Each pass: h5div_qsel_begin plans it (0 when all are found), the caller
 * feeds every value with h5div_qsel_add, combines the cells of all
 * processes with h5div_qsel_merge (sums of n, min of mn, max of mx)
 * and the max of mx over all processes, and calls h5div_qsel_end. The
 * answer depends only on the multiset of values, so it is the same however
 * they are split. */
typedef struct h5div_qsel_cell {
    uint64_t n, mn, mx; /* values in the bucket, their least and greatest key */
} h5div_qsel_cell;

typedef struct h5div_qsel {
    uint64_t d, k, nt;              /* nt = d * (k + 1) targets */
    uint64_t *n;                    /* [d] values per feature (after pass 1) */
    uint64_t *rank, *base, *prefix; /* [nt] */
    int *done;                      /* [nt] */
    uint64_t *key;                  /* [nt] the answers */
    int res;                        /* bits of the prefix resolved */
    int bits;                       /* digit width of the pass */
    uint64_t ng;                    /* groups (feature, prefix) of the pass */
    uint64_t *gfeat, *gprefix;      /* [ng] sorted */
    uint64_t *gfirst;               /* [d + 1] group range of each feature */
    h5div_qsel_cell *cell;          /* [ng << bits] */
    size_t budget;                  /* bytes of the cells at most */
    int bits0;                      /* digit width of the first pass */
    uint32_t *tlo, *thi;            /* [d << bits0]: groups [tlo, thi) under each first digit */
    int passes;
} h5div_qsel;

int h5div_qsel_init(h5div_qsel *q, uint64_t d, uint64_t k, size_t budget);
void h5div_qsel_free(h5div_qsel *q);
/* Plan the next pass: returns 1 when one is needed, 0 when done, -1 out of
 * memory. q->cell then holds ng << bits empty cells (n 0, mn UINT64_MAX, mx 0). */
int h5div_qsel_begin(h5div_qsel *q);
/* Values x[0..n) of features (first + i) % d; NaN values are skipped. */
void h5div_qsel_add(h5div_qsel *q, const double *x, size_t n, uint64_t first);
/* Combine the cells of another process into `into` (exact, in any order). */
void h5div_qsel_merge(h5div_qsel_cell *restrict into, const h5div_qsel_cell *restrict from,
                      size_t n);
/* After the global combination of the cells: choose the digits. Returns 0,
 * or -1 when a feature has no values. */
int h5div_qsel_end(h5div_qsel *q);

/* The found edges of feature f: e[j] = value of target j. */
void h5div_qsel_edges(const h5div_qsel *q, uint64_t f, double *e);

/* Merge tied neighbours of e[0..k] in place; returns the new k. */
uint64_t h5div_hist_merge_ties(double *e, uint64_t k);

#endif

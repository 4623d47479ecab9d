/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div public API: distances between histograms evaluated in parallel with MPI. */
#ifndef H5DIV_H
#define H5DIV_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "h5div_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Compare two histograms held as shards in memory.
 * Collective over `comm`: every rank passes its shard p[0..count), q[0..count)
 * of global bins [offset, offset + count) of `bins` bins in all; shards must
 * tile [0, bins) without overlap. Empty shards (count 0, NULL pointers) are
 * allowed. With offsets from h5div_partition() (or any multiples of
 * H5DIV_BLOCK_BINS) the result has the same bits on any number of ranks.
 * On an input error (negative, NaN or infinite value, all-zero histogram)
 * returns H5DIV_EINPUT on every rank and, when errmsg is not NULL, writes a
 * one-line description to errmsg[0..errlen). Returns the same status on
 * every rank. */
H5DIV_API int h5div_compare_shards(MPI_Comm comm, const double *restrict p,
                                   const double *restrict q, uint64_t offset, size_t count,
                                   uint64_t bins, const h5div_options *opt,
                                   h5div_compare_result *result, char *errmsg, size_t errlen);

/* Compare two 1-D histograms stored in HDF5 datasets named "FILE:/path".
 * Collective over `comm`: every rank reads its block of bins through the
 * MPI-IO driver in pieces of at most opt->piece_bytes and the partial sums
 * are reduced. Returns the same status on every rank; on failure errmsg
 * holds one line "<what is wrong> (<where>)". */
H5DIV_API int h5div_compare_files(MPI_Comm comm, const char *p_ref, const char *q_ref,
                                  const h5div_options *opt, h5div_compare_result *result,
                                  char *errmsg, size_t errlen);

/* Results with one value per (candidate, row, column): compare of one
 * reference against k candidates, or entropy, for 1-D input (one row) or
 * 2-D input [rows, bins] (one histogram per row). Each rank holds the
 * values of rows [row_begin, row_begin + row_count); together the ranks
 * hold every row once, in rank order. */
typedef struct h5div_batch {
    const char *command; /* "compare" or "entropy" */
    int candidates;      /* k (1 for entropy) */
    int two_d;           /* 2-D input: a result per row */
    uint64_t rows, bins; /* rows (1 for 1-D input) and bins per row */
    int ncolumns;
    h5div_column columns[H5DIV_COMPARE_MAX_COLUMNS];
    uint64_t row_begin, row_count;
    double *values; /* [candidate][column][row - row_begin] */
    /* With opt->bootstrap = B > 0 (else 0 and NULL): the standard error
     * [candidate][column][row - row_begin], the percentile interval
     * [candidate][column][row - row_begin][2], and with keep_replicates the
     * replicate values [candidate][column][row - row_begin][B]. */
    uint64_t nrep;
    double ci_level; /* the interval's level, opt->ci */
    double *se, *ci, *reps;
    /* With opt->null = B > 0 (compare; else 0 and NULL): bit i of `tested`
     * set for each column i with a p-value (every measure, not its parts),
     * the p-values [candidate][column][row - row_begin] (NaN for the other
     * columns) and with keep_replicates the null replicate values
     * [candidate][column][row - row_begin][B]. */
    uint64_t nnull, tested;
    double *p_value, *null_reps;
} h5div_batch;
typedef h5div_batch h5div_compare_batch;

/* Compare reference P against candidates q_refs[0..k) (k <=
 * H5DIV_CANDIDATES_MAX), all of P's shape, reading P once. Collective over
 * `comm`; rows are split over ranks in whole blocks (a row may span ranks)
 * and every (row, candidate) has the bits of a 1-D compare of that row
 * alone, on any number of ranks. Free with h5div_batch_free. Same
 * status on every rank. */
H5DIV_API int h5div_compare_batch_files(MPI_Comm comm, const char *p_ref, const char *const *q_refs,
                                        int k, const h5div_options *opt, h5div_compare_batch *out,
                                        char *errmsg, size_t errlen);
H5DIV_API void h5div_batch_free(h5div_batch *b);

/* Collective: the values of (candidate, column) for every row, in row order,
 * into out[0..rows) on rank `root` (out unused elsewhere). */
H5DIV_API int h5div_compare_batch_gather(MPI_Comm comm, const h5div_compare_batch *b, int candidate,
                                         int column, int root, double *out);

/* Metadata written with a result group (see h5div_write_joint_result). */
typedef struct h5div_result_info {
    const char *command; /* full command line */
    const char *p_ref;   /* "FILE:/dataset" of P */
    const char *q_ref;   /* "FILE:/dataset" of Q */
    int ranks;           /* number of ranks that evaluated */
    double elapsed_seconds;
} h5div_result_info;

/* What a batch result group records besides its values. */
typedef struct h5div_batch_inputs {
    const char *command;       /* full command line */
    const char *p_ref;         /* attribute `p` */
    const char *const *q_refs; /* attribute `q` (compare: `candidates` of them), or NULL */
    const char *estimator;     /* attribute `estimator` (entropy), or NULL */
    double dirichlet_a;        /* attribute `dirichlet_a` with estimator "dirichlet" */
    double elapsed_seconds;
} h5div_batch_inputs;

/* Write a batch result as group `group` of HDF5 file `path`: one float64
 * dataset per column, of shape (), (rows,), (k,) or (k, rows) (leading axis
 * only for k > 1), with `units` (and `order` for Renyi columns); group
 * attributes as h5div_write_joint_result plus `q` a string or, for
 * k > 1, an array of the k references, and `bin_width` with wasserstein1.
 * Collective over `comm`: rank 0 makes a locked temporary copy of `path`,
 * every rank writes its rows with collective parallel writes, and the copy
 * is renamed into place only when complete. Same status on every rank. */
H5DIV_API int h5div_write_batch(MPI_Comm comm, const char *path, const char *group, int overwrite,
                                const h5div_options *opt, const h5div_batch *b,
                                const h5div_batch_inputs *in, char *errmsg, size_t errlen);

/* Check, before a long evaluation, that the result group could be written:
 * the directory is writable, `path` (if it exists) is an HDF5 file, and the
 * group does not exist unless `overwrite` is set. Not collective. */
H5DIV_API int h5div_check_output(const char *path, const char *group, int overwrite, char *errmsg,
                                 size_t errlen);

/* Entropy of the 1-D histogram stored in dataset "FILE:/path".
 * Collective over `comm`: ranks read block-aligned shards in bounded pieces
 * (opt->memory_per_rank, opt->piece_bytes); the global quantities the
 * estimator needs (total, non-empty bins, singletons, sums of squares) are
 * reduced exactly, never by gathering the histogram, so the result has the
 * same bits on any number of ranks. `estimator` chooses the estimator;
 * dirichlet_a is the pseudocount of H5DIV_ESTIMATOR_DIRICHLET. Estimators
 * other than the plugin need whole-number counts (H5DIV_EINPUT otherwise)
 * and no opt->pseudocount (H5DIV_EUSAGE). opt->measures holds
 * H5DIV_MEASURE_BIT(h5div_entropy_measure) bits. Returns the same status on
 * every rank; on failure errmsg holds one line. */
H5DIV_API int h5div_entropy_files(MPI_Comm comm, const char *p_ref, const h5div_options *opt,
                                  h5div_estimator estimator, double dirichlet_a,
                                  h5div_entropy_result *result, char *errmsg, size_t errlen);

/* Entropy of a 1-D histogram, or of each row of a 2-D dataset [rows, bins],
 * as h5div_entropy_files computes it for one histogram: columns are the
 * measures of opt->measures; every row has the bits of the row evaluated
 * alone, on any number of ranks. With opt->bootstrap = B > 0 (integer
 * counts only, H5DIV_EINPUT otherwise) the batch also holds each value's
 * standard error and interval from B Poisson replicates, each the
 * estimator evaluated afresh. Free with h5div_batch_free. Collective;
 * same status on every rank. */
H5DIV_API int h5div_entropy_batch_files(MPI_Comm comm, const char *p_ref, const h5div_options *opt,
                                        h5div_estimator estimator, double dirichlet_a,
                                        h5div_batch *out, char *errmsg, size_t errlen);

/* Entropies and mutual information of the 2-D joint histogram [nx, ny] of
 * counts of (x, y) stored in "FILE:/path". Collective over `comm`: rows are
 * split over ranks in blocks, the column marginal is reduced exactly in
 * chunks of columns (no rank holds the table or, when ny is large, the
 * whole marginal). Mutual information and the conditional entropies are
 * sums of non-negative per-cell terms. opt->measures holds
 * H5DIV_MEASURE_BIT(h5div_joint_measure) bits. With opt->bootstrap = B > 0
 * (integer counts only, H5DIV_EINPUT otherwise) result->se and result->ci
 * come from B Poisson replicates of the table (and result->reps, to free,
 * with opt->keep_replicates). Same status on every rank. */
H5DIV_API int h5div_joint_files(MPI_Comm comm, const char *pxy_ref, const h5div_options *opt,
                                h5div_joint_result *result, char *errmsg, size_t errlen);

/* Write the self-information -log_b p(i) of every bin of the 1-D histogram
 * "FILE:/path" (inf for empty bins) as a chunked float64 dataset of P's
 * shape at `out_path` in HDF5 file `out_file`, with attributes `units`,
 * `base`, `p`, `h5div_version`, `command` (info->command) and `created`.
 * Collective over `comm`: each rank writes its hyperslab with collective
 * parallel writes into a temporary copy of `out_file` that is renamed into
 * place only when complete, so a failed or killed run leaves `out_file` as
 * it was. An existing dataset is an H5DIV_EOUTPUT error unless `overwrite`.
 * Returns the same status on every rank. */
H5DIV_API int h5div_surprisal_files(MPI_Comm comm, const char *p_ref, const char *out_file,
                                    const char *out_path, int overwrite, const char *command,
                                    const h5div_options *opt, uint64_t *bins, char *errmsg,
                                    size_t errlen);

/* Write a joint result as group `group` of HDF5 file `path`: a float64
 * dataset of shape () with attribute `units` per computed measure, and the
 * group attributes `h5div_version`, `command`, `created`, `ranks`, `base`,
 * `pseudocount`, `elapsed_seconds` and `pxy` (info->p_ref).
 * The file is written to a temporary file in the same directory and renamed
 * into place, so an interrupted write never damages `path`; groups already
 * in `path` are kept. Writers of the same file take turns: an exclusive
 * flock(2) on the side file "path.lock" is held from before `path` is read
 * until the rename (skipped where the file system has no locks). An existing
 * group is an H5DIV_EOUTPUT error unless `overwrite` is set. Not collective:
 * call it on one rank. */
H5DIV_API int h5div_write_joint_result(const char *path, const char *group, int overwrite,
                                       const h5div_options *opt, const h5div_joint_result *result,
                                       const h5div_result_info *info, char *errmsg, size_t errlen);

/* Check, before a long evaluation, that dataset `dset` could be written to
 * HDF5 file `path`: the directory is writable, `path` (if it exists) is an
 * HDF5 file, and `dset` does not exist unless `overwrite`. Not collective. */
H5DIV_API int h5div_check_output_dataset(const char *path, const char *dset, int overwrite,
                                         char *errmsg, size_t errlen);

/* ---- h5div histogram: samples to histograms with shared edges ---- */

/* How the edges of `h5div histogram` are chosen (group attribute edge_mode:
 * "uniform", "log", "file", "quantile"). */
typedef enum h5div_edge_mode {
    H5DIV_EDGES_UNIFORM = 0, /* K equal bins over the range */
    H5DIV_EDGES_LOG,         /* K log-spaced bins over a positive range */
    H5DIV_EDGES_FILE,        /* explicit edges read from a dataset */
    H5DIV_EDGES_QUANTILE     /* K equal-frequency bins of the first input */
} h5div_edge_mode;

#define H5DIV_HISTOGRAM_INPUTS_MAX 64

/* What to bin and where to write it. */
typedef struct h5div_histogram_spec {
    int n;                      /* inputs, 1..H5DIV_HISTOGRAM_INPUTS_MAX */
    const char *const *refs;    /* "FILE:/X" samples (N,) or (N, d) */
    const char *const *names;   /* output dataset names, distinct */
    const char *const *weights; /* NULL, or n "FILE:/W" of shape (N,) */
    h5div_edge_mode mode;
    uint64_t bins;  /* K (not for H5DIV_EDGES_FILE) */
    int have_range; /* lo < hi given (uniform, log) */
    double lo, hi;
    const char *edges_ref; /* H5DIV_EDGES_FILE: (K+1,) or (d, K+1) */
    int outside_bins;      /* values outside into the first/last bin */
    int nan_skip;          /* count NaN instead of failing */
    const char *out_file, *out_group;
    int overwrite;
    const char *command; /* full command line, for the attributes */
} h5div_histogram_spec;

/* What a histogram run found (every rank gets the same). */
typedef struct h5div_histogram_info {
    int two_d;
    uint64_t features, bins; /* d (1 for 1-D input) and the final K */
    uint64_t merged;         /* quantile edges merged because tied (1-D input) */
    uint64_t tied_features;  /* 2-D input: features whose tied quantile edges
                              * were kept as empty zero-width bins */
    uint64_t n_samples[H5DIV_HISTOGRAM_INPUTS_MAX];
    uint64_t underflow[H5DIV_HISTOGRAM_INPUTS_MAX], overflow[H5DIV_HISTOGRAM_INPUTS_MAX];
    uint64_t nan[H5DIV_HISTOGRAM_INPUTS_MAX]; /* summed over features */
} h5div_histogram_info;

/* Bin every input with the same edges and write one histogram per input to
 * group s->out_group of s->out_file. Collective over `comm`: samples are
 * split over the ranks by rows and read in pieces bounded by
 * opt->memory_per_rank and opt->piece_bytes; counts are reduced as exact
 * integers and weights as exact sums, so the output has the same bits on
 * any number of ranks. The file is written through a temporary copy
 * renamed into place. Returns the same status on every rank; on failure
 * errmsg holds one line. */
H5DIV_API int h5div_histogram_files(MPI_Comm comm, const h5div_histogram_spec *s,
                                    const h5div_options *opt, h5div_histogram_info *info,
                                    char *errmsg, size_t errlen);
/* ---- end of h5div histogram ---- */

#ifdef __cplusplus
}
#endif

#endif /* H5DIV_H */

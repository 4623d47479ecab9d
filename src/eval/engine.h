/* SPDX-License-Identifier: BSD-3-Clause */
/* The row-pass engine: the row-wise commands plug their measures into one sweep over rows. */
#ifndef H5DIV_EVAL_ENGINE_H
#define H5DIV_EVAL_ENGINE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "io/io.h"

/* The input is rows of bins (a 1-D dataset is one row), split over the
 * ranks by whole blocks (see h5div_grid_split), so a rank holds whole rows
 * plus at most a partial first and last one, and reads them in pieces (see
 * h5div_sweep). The engine cuts each piece into row segments and keeps the
 * state of the row in progress; when the row changes it is "flushed":
 * finished where it lies, or, for a row that spans ranks (a shared row), put
 * aside until the end of the pass, when the states of the ranks that hold
 * it are combined over the row's communicator and the row is finished on
 * each of them. A family of measures supplies only the per-row math through
 * a table of callbacks. */

/* One row segment of a piece: bins [c0, c0 + n) of row `row`, c0 on a block
 * boundary of the row. x[d] are dataset d's values; lo[d] the exact
 * remainders of 64-bit integers (x + lo is the stored value), or NULL where
 * all are zero. off is the segment's position in the piece. */
typedef struct h5div_row_seg {
    uint64_t row, c0;
    size_t n, off;
    const double *x[H5DIV_SWEEP_MAX];
    const double *lo[H5DIV_SWEEP_MAX];
} h5div_row_seg;

typedef struct h5div_eval h5div_eval;

/* A family of row-wise measures. `state` is the family's per-row state of
 * one pass (state_size bytes, the most any pass needs; the engine copies it
 * as bytes). Status-returning callbacks return an h5div status and write
 * their error line to msg. Callbacks marked optional may be NULL. The
 * callbacks run on every rank; ctx is the family's own job. */
typedef struct h5div_row_family {
    const char *name;  /* for messages */
    int npasses;       /* passes h5div_eval_rows runs: 0 .. npasses - 1 */
    size_t state_size; /* bytes of one row's state */
    /* For 2-D input: bytes the family keeps per row this rank touches and
     * per row it owns, which must fit in half of --memory-per-rank (see
     * h5div_rows_memory_check; ref is named in the message). Both 0: no
     * check. */
    uint64_t row_bytes, owned_row_bytes;
    const char *ref;
    unsigned collective_passes; /* bit p: piece_end of pass p makes collective calls */
    /* Optional. Not collective (the engine agrees on the status): once the
     * rows of this rank are known (e->rows stays valid until the engine is
     * freed), allocate the family's per-row arrays. */
    int (*setup)(void *ctx, const h5div_eval *e, char *msg, size_t len);
    /* A new row begins on this rank: initialise its state. */
    void (*row_start)(void *ctx, int pass, uint64_t row, void *state);
    /* Add one segment of the current row to its state. An error stops the pass. */
    int (*segment)(void *ctx, int pass, const h5div_row_seg *seg, void *state, char *msg,
                   size_t len);
    /* Optional. After the segments of each piece (bins [first_bin, first_bin
     * + n), n may be 0). Not called after a segment's error. */
    int (*piece_end)(void *ctx, int pass, uint64_t first_bin, size_t n, char *msg, size_t len);
    /* Collective over c, the ranks that hold shared row `row` in rank order:
     * combine their states exactly, in place, so every one holds the row's
     * whole state. Returns an h5div status (MPI failures). */
    int (*state_reduce)(MPI_Comm c, void *ctx, int pass, uint64_t row, void *state);
    /* The row's complete state: on the rank that holds the row, or for a
     * shared row on every rank that holds part of it; `owned` is set on
     * the rank that owns the row (holds its first block). */
    void (*row_finish)(void *ctx, int pass, uint64_t row, int owned, const void *state);
    /* Optional. The total of dataset d of a row after pass 0 has finished
     * it, on every rank that holds the row: a total that is zero ("histogram
     * is all zeros") or not finite ("total overflows a double") is an
     * H5DIV_EINPUT error naming the dataset and, for 2-D input, the row
     * (the lowest such row). */
    double (*row_total)(const void *ctx, uint64_t row, int d);
} h5div_row_family;

/* An engine running one family over one sweep. */
struct h5div_eval {
    h5div_sweep *sw;
    const h5div_row_family *f;
    void *ctx;
    const h5div_options *opt;
    h5div_rows rows;  /* rows touched, owned and shared */
    uint64_t cur_row; /* row in progress, or UINT64_MAX */
    void *cur;        /* its state */
    void *slot[2];    /* states of this rank's shared rows, by index parity */
};

/* Collective: the rows of sw on this rank, the memory check, the state
 * buffers and f->setup. Returns an agreed status; free e with
 * h5div_eval_free even on failure. f, ctx and opt must outlive e. */
int h5div_eval_init(MPI_Comm comm, h5div_eval *e, h5div_sweep *sw, const h5div_row_family *f,
                    void *ctx, const h5div_options *opt, char *msg, size_t len);

/* Collective: pass `pass` of the family over every piece (opt's progress
 * and collective I/O apply), then the shared rows are settled (and after
 * pass 0 the rows' totals checked). Returns an agreed status (or the status
 * of a failed reduction). */
int h5div_eval_pass(MPI_Comm comm, h5div_eval *e, int pass, char *msg, size_t len);

void h5div_eval_free(h5div_eval *e);

/* Collective: h5div_eval_init, passes 0 .. f->npasses - 1, h5div_eval_free. */
int h5div_eval_rows(MPI_Comm comm, h5div_sweep *sw, const h5div_row_family *f, void *ctx,
                    const h5div_options *opt, char *msg, size_t len);

/* A batch's shape (rows and bins of the input, 1-D or 2-D) and the rows of
 * e this rank finishes, row_begin and row_count. Not collective. */
void h5div_eval_batch_rows(const h5div_eval *e, h5div_batch *b);

/* --bootstrap B, shared by the commands that resample counts (compare,
 * entropy, joint): replicate r = 1 .. B of every input is drawn bin by
 * bin, X*_i ~ Poisson(X_i), keyed by (opt->seed, H5DIV_RS_BOOTSTRAP,
 * r - 1, input d, global flat bin) (core/resample.h), so its bits do not
 * depend on the decomposition; replicate 0 is the data itself. */

/* The bootstrap options: B at most H5DIV_BOOTSTRAP_MAX and, with B > 0,
 * opt->ci in (0, 1); H5DIV_EUSAGE otherwise. Not collective. */
int h5div_eval_bootstrap_args(const h5div_options *opt, char *msg, size_t len);

/* Every value of inputs 0 .. nd - 1 of segment s must be a whole number
 * (counts); the first that is not is an H5DIV_EINPUT error naming refs[d]
 * and the bin (cols: the row length for 2-D input, else 0). Not
 * collective. */
int h5div_eval_check_counts(const h5div_row_seg *s, int nd, const char *const *refs, uint64_t cols,
                            char *msg, size_t len);

/* Replicate rep >= 1 of bins [first, first + n) (n <= H5DIV_BLOCK_BINS)
 * of nd inputs, drawn from the checked counts x[d] + off (remainders
 * lo[d] + off, lo[d] may be NULL): input d into draw + 2 d
 * H5DIV_BLOCK_BINS (value, then remainder), and dx[d], dl[d] pointed at
 * it. Not collective. */
void h5div_eval_draw(const h5div_options *opt, int rep, int nd, uint64_t first,
                     const double *const *x, const double *const *lo, size_t off, size_t n,
                     double *draw, const double **dx, const double **dl);

/* The replicates' state on a rank, once its rows are known: the engine's
 * three row states plus the family's per-row arrays (e->f's state_size,
 * row_bytes, owned_row_bytes) must fit in half of opt->memory_per_rank,
 * else H5DIV_EINPUT saying how much to give (ref names the input). Not
 * collective (the engine agrees on the setup's status). */
int h5div_eval_bootstrap_memory(const h5div_eval *e, const h5div_options *opt, const char *ref,
                                char *msg, size_t len);
/* The same for `need` bytes of replicate state counted by the caller,
 * against `share` (0.5 or 0.25) of opt->memory_per_rank. */
int h5div_bootstrap_fits(double need, double share, const h5div_options *opt, const char *ref,
                         char *msg, size_t len);

/* The standard errors and percentile intervals (level opt->ci) of b's
 * values from their replicates *reps ([candidate][column][row - row_begin]
 * [B], B = opt->bootstrap) into b->se, b->ci, with b->nrep and b->ci_level;
 * with opt->keep_replicates *reps moves to b->reps (and *reps is NULL).
 * Not collective. */
int h5div_eval_bootstrap_summary(h5div_batch *b, double **reps, const h5div_options *opt, char *msg,
                                 size_t len);

#endif

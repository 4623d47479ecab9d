/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal parallel layer: decomposition, exact reductions, error agreement. */
#ifndef H5DIV_PAR_H
#define H5DIV_PAR_H

#include <mpi.h>
#include <stddef.h>

#include "core/acc.h"
#include "core/check.h"
#include "core/terms.h"
#include "h5div.h"

/* Record an MPI failure as "<what> failed: <MPI_Error_string(rc)>
 * (<file>:<line>)" (printed at once when H5DIV_DEBUG is set) and return
 * H5DIV_EINTERNAL. The thread keeps the first failure recorded since
 * h5div_mpi_error_clear (later ones may be its consequences);
 * h5div_par_agree and h5div_par_collective give it as the message of an
 * H5DIV_EINTERNAL failure that has none. */
int h5div_mpi_failed(int rc, const char *what, const char *file, int line);
/* The recorded MPI failure ("" when none). Not collective. */
const char *h5div_mpi_error(void);
void h5div_mpi_error_clear(void);

/* Formats into a caller's error buffer; NULL buffers are ignored. */
void h5div_set_error(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Collective: every rank passes its own status and message; all ranks
 * return the status of the lowest-numbered rank that failed (H5DIV_OK if
 * none) and receive that rank's message in msg. Because the lowest rank
 * holds the lowest bins, a data error names the first bad bin. */
int h5div_par_agree(MPI_Comm comm, int status, char *msg, size_t len);

/* Collective: exact in-place sum of n accumulators over comm. */
int h5div_par_sum_acc(MPI_Comm comm, h5div_acc *acc, int n);

/* Collective: exclusive prefix sum of n accumulators over comm (exact;
 * rank 0 gets zeros). */
int h5div_par_exscan_acc(MPI_Comm comm, h5div_acc *acc, int n);

/* Collective: reduce n compare partials over comm (exact sums of the
 * accumulators of the terms in tp->mask, windowed sums at their global
 * top windows, bin counts summed, ks maximum). */
int h5div_par_sum_compare(MPI_Comm comm, h5div_compare_partial *part, int n,
                          const h5div_term_params *tp);

/* Renyi orders and the bin width of compare options (H5DIV_EUSAGE). */
int h5div_check_compare_extras(const h5div_options *opt, char *errmsg, size_t errlen);

/* Collective: reduce the totals of P and Q, refuse all-zero histograms
 * (H5DIV_EINPUT naming p_name or q_name) and set up the normalisation; nm
 * refers to `parts`, the totals' parts, which must outlive it. */
int h5div_par_totals(MPI_Comm comm, h5div_acc tot[2], double alpha, const char *p_name,
                     const char *q_name, h5div_norm *nm, double parts[2][H5DIV_ACC_PARTS],
                     h5div_compare_result *result, char *errmsg, size_t errlen);

/* Collective: reduce the partial sums and compute the measures of opt. */
int h5div_par_finish(MPI_Comm comm, h5div_compare_partial *part, const h5div_options *opt,
                     h5div_compare_result *result);

/* Collective: every rank's mine[0..row_count) (rows in rank order, rows in
 * all) into out[0..rows) on rank root. */
int h5div_par_gather_rows(MPI_Comm comm, const double *mine, uint64_t row_count, uint64_t rows,
                          int root, double *out);

/* The communicators of the rows a rank shares with other ranks. A rank
 * holds at most two such rows (its first and its last), and they are
 * neighbours in the ascending list of shared rows, so one has an even
 * index there and the other an odd one: c[p] joins the ranks that hold
 * part of shared row slot[p] (index parity p), ordered by rank, or is
 * MPI_COMM_NULL. Reductions of a row's partial sums then involve only the
 * ranks that hold it; do parity 0 before parity 1 on every rank. */
typedef struct h5div_slot_comms {
    MPI_Comm c[2];
    int slot[2];
} h5div_slot_comms;

/* Collective: slot_first / slot_last are the shared-row indices of this
 * rank's first and last row, or -1. */
int h5div_slot_comms_init(MPI_Comm comm, int slot_first, int slot_last, h5div_slot_comms *sc);
void h5div_slot_comms_free(h5div_slot_comms *sc);

/* The block grid of a dataset: rows of `cols` bins (a 1-D dataset is one
 * row), `nb` summation blocks a row, the last one possibly short. */
typedef struct h5div_grid {
    uint64_t rows, cols, nb;
} h5div_grid;

/* The grid of `rows` rows (>= 1) of `cols` bins. */
h5div_grid h5div_grid_make(uint64_t rows, uint64_t cols);
/* First bin of block b of the grid (b = rows * nb gives the end). */
uint64_t h5div_grid_bin(const h5div_grid *g, uint64_t b);
/* The blocks [*b0, *b1) of rank `rank` of `size`: the blocks of all rows
 * split evenly, so a row may span ranks. */
void h5div_grid_split(const h5div_grid *g, int size, int rank, uint64_t *b0, uint64_t *b1);

/* The rows of a rank's blocks: those it touches, those it finishes (a
 * row's first block lies on its owner), and the rows that span ranks
 * ("shared" rows, ascending; at most ranks - 1) with the
 * sub-communicators of this rank's shared rows (see h5div_slot_comms). */
typedef struct h5div_rows {
    uint64_t lo, hi;     /* rows touched: [lo, hi) */
    uint64_t own0, own1; /* rows owned: [own0, own1) */
    uint64_t *shared;
    int nshared;
    h5div_slot_comms sc;
} h5div_rows;

/* Collective: the rows of blocks [blk0, blk1) of g (this rank's part, from
 * h5div_grid_split). Agreed status. */
int h5div_par_rows_init(MPI_Comm comm, const h5div_grid *g, uint64_t blk0, uint64_t blk1,
                        h5div_rows *r, char *msg, size_t len);
/* Collective: for 2-D input (g->rows > 1), the state a command keeps per
 * row (per_row bytes for each row this rank touches, per_owned_row more
 * for each it owns) must fit in half of opt->memory_per_rank; otherwise an
 * H5DIV_EINPUT error, before any data is read, naming the memory needed
 * (ref for the message). Agreed. */
int h5div_par_rows_memory_check(MPI_Comm comm, const h5div_grid *g, const h5div_rows *r,
                                uint64_t per_row, uint64_t per_owned_row, const h5div_options *opt,
                                const char *ref, char *msg, size_t len);
/* Index of row `row` among the shared rows, or -1 when it lies on one rank. */
int h5div_rows_shared(const h5div_rows *r, uint64_t row);
void h5div_rows_free(h5div_rows *r);

/* Collective: run body(c, arg, msg, len) on a duplicate c of comm whose MPI
 * errors return; the message (or the status text) goes to errmsg. Returns
 * body's status. */
int h5div_par_collective(MPI_Comm comm, int (*body)(MPI_Comm c, void *arg, char *msg, size_t len),
                         void *arg, char *errmsg, size_t errlen);

/* A user-defined reduction: a datatype of `words` values of one MPI type and
 * a commutative op on it, made on first use and kept until MPI_Finalize
 * (so a reduction does not create and free them each time). Keep it in a
 * static variable, zero-initialised. */
typedef struct h5div_par_op {
    MPI_Datatype type;
    MPI_Op op;
    int ready;
} h5div_par_op;

/* Not collective: make o (op fn on `words` values of type `word`) unless it
 * is made already; at most 8 per process. Call from one thread at a time. */
int h5div_par_op_get(h5div_par_op *o, MPI_User_function *fn, int words, MPI_Datatype word);

/* Collective: the values of the one row of a 1-D, one-candidate batch into
 * v[0..ncolumns) on every rank (H5DIV_EINPUT for 2-D input, naming ref and
 * the batch function to use instead). Frees b. */
int h5div_par_batch_single(MPI_Comm comm, h5div_batch *b, const char *ref, const char *batch_fn,
                           double *v, char *errmsg, size_t errlen);

/* Validate options shared by every entry point (H5DIV_EUSAGE). */
int h5div_check_options(const h5div_options *opt, char *errmsg, size_t errlen);

/* Collective: h5div_check_options on every rank, agreed. */
int h5div_agree_options(MPI_Comm comm, const h5div_options *opt, char *errmsg, size_t errlen);

#endif

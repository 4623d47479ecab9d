/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal parallel HDF5 layer: dataset references, shard reads, result files. */
#ifndef H5DIV_IO_H
#define H5DIV_IO_H

#include <hdf5.h>
#include <mpi.h>

#include "core/measures.h"
#include "h5div.h"
#include "par/par.h"

#define H5DIV_REF_MAX 4096

/* An open 1-D input dataset. */
typedef struct h5div_dset {
    hid_t file, dset, filespace, memtype;
    uint64_t bins;
    uint64_t rows, cols;     /* of a 2-D dataset (bins = rows * cols); 0 for 1-D */
    int wide;                /* integers of more than 53 bits (read with their remainders) */
    char ref[H5DIV_REF_MAX]; /* "FILE:/path" as given, for messages */
} h5div_dset;

/* Split "FILE:/path" at the last ':' followed by '/'. Not collective.
 * Returns H5DIV_EUSAGE when there is no such ':'. */
int h5div_ref_split(const char *ref, char *file, size_t file_len, char *path, size_t path_len);

/* Collective: open and validate a 1-D numeric dataset through the MPI-IO
 * driver. Returns the same status on every rank. */
int h5div_dset_open(MPI_Comm comm, const char *ref, h5div_dset *d, char *errmsg, size_t errlen);

/* Collective: open a 1-D histogram or a 2-D dataset [rows, cols] of one
 * histogram per row (rows and cols set; bins = rows * cols). */
int h5div_dset_open_batch(MPI_Comm comm, const char *ref, h5div_dset *d, char *errmsg,
                          size_t errlen);

/* Collective: as h5div_dset_open, for a 2-D dataset [rows, cols]. */
int h5div_dset_open_2d(MPI_Comm comm, const char *ref, h5div_dset *d, char *errmsg, size_t errlen);

/* Read bins [offset, offset + count) as doubles into buf (for a 2-D dataset
 * the bins of the rows in row-major order, any range of them). With collective
 * set every rank of the file's communicator must call it (count may be 0).
 * Not agreed: callers agree on the status afterwards. */
int h5div_dset_read(h5div_dset *d, uint64_t offset, size_t count, double *buf, int collective,
                    char *errmsg, size_t errlen);
/* h5div_dset_read that also keeps what the doubles of 64-bit integers
 * lose: lo[i] = x[i] - buf[i] exactly (|lo| <= 2^10, zero wherever
 * |x| <= 2^53). lo may be NULL; *any_lo (if not NULL) is set to whether
 * some lo[i] is nonzero. */
int h5div_dset_read_lo(h5div_dset *d, uint64_t offset, size_t count, double *buf, double *lo,
                       int *any_lo, int collective, char *errmsg, size_t errlen);
/* Read cells [row, row + h) x [col, col + w) of a 2-D dataset as doubles
 * into buf (row-major, w per row) and the remainders of 64-bit integers
 * into lo (may be NULL). Every rank calls it when collective (h or w may
 * be 0). */
int h5div_dset_read_box(h5div_dset *d, uint64_t row, uint64_t h, uint64_t col, uint64_t w,
                        double *buf, double *lo, int collective, char *errmsg, size_t errlen);
/* Is d of an integer type wide enough for values above 2^53? */
int h5div_dset_is_int64(const h5div_dset *d);

void h5div_dset_close(h5div_dset *d);

/* Run HDF5 calls without its error stack printing; restores the previous
 * handler. */
typedef struct h5div_h5_quiet {
    H5E_auto2_t func;
    void *data;
} h5div_h5_quiet;
void h5div_h5_quiet_begin(h5div_h5_quiet *q);
void h5div_h5_quiet_end(const h5div_h5_quiet *q);

/* A failed HDF5 call `what` at file:line (H5DIV_H5_TRY): printed with
 * HDF5's error stack when H5DIV_DEBUG is set. Returns -1. Not collective. */
int h5div_h5_failed(const char *what, const char *file, int line);

/* Does every component of `path` exist in `loc`? 1 yes, 0 no, <0 error. */
int h5div_h5_path_exists(hid_t loc, const char *path);

/* Called by h5div_h5_path_walk with each leading part of the path ("/a",
 * "/a/b", ...; "." components and repeated slashes skipped), `last` set for
 * the whole path. Returns 0 to go on; anything else stops the walk. */
typedef int (*h5div_h5_path_fn)(void *ctx, hid_t loc, const char *prefix, int last);

/* fn over the leading parts of `path` in loc: returns fn's first nonzero
 * value, 0 when fn went through the whole path, or -1 for a path longer
 * than H5DIV_REF_MAX - 1. Not collective. */
int h5div_h5_path_walk(hid_t loc, const char *path, h5div_h5_path_fn fn, void *ctx);

/* A sweep over this rank's part of the bins of up to H5DIV_SWEEP_MAX
 * datasets of the same shape, in pieces of whole summation blocks. Blocks
 * are aligned to the start of each row (a 1-D dataset is one row), and the
 * rows' blocks are split evenly over the ranks, so a row may span ranks.
 * The shards are kept in memory between passes when they fit
 * opt->memory_per_rank; otherwise every pass reads them again in pieces. */
#define H5DIV_SWEEP_MAX (H5DIV_CANDIDATES_MAX + 1)

/* The grid of an open dataset (a 1-D one is a single row). */
h5div_grid h5div_grid_of(const h5div_dset *d);

typedef struct h5div_sweep {
    h5div_dset *d[H5DIV_SWEEP_MAX];
    int nd, nscratch;
    h5div_grid grid;
    uint64_t blk0, blk1;              /* this rank's blocks */
    uint64_t offset, count;           /* this rank's bins */
    uint64_t piece_blocks;            /* blocks per piece */
    uint64_t piece_bins;              /* bins per piece at most */
    uint64_t rounds;                  /* pieces per pass, the same on every rank */
    int cached, loaded;               /* whole shard in memory; already read */
    double *buf[H5DIV_SWEEP_MAX];     /* whole shard when cached, else one piece */
    double *scratch[H5DIV_SWEEP_MAX]; /* piece-sized buffers for the callback */
    /* 64-bit integer datasets: the exact remainders x - (double)x, laid out
     * as buf (NULL for other datasets), and per piece in the callback
     * lo_of[k]: the remainders of v[k], or NULL where all are zero. */
    double *lo[H5DIV_SWEEP_MAX];
    unsigned char *lo_any; /* [rounds * nd] when cached: piece r of dataset k has some */
    const double *lo_of[H5DIV_SWEEP_MAX];
    /* When cached (the buffers are the size of the shard): pieces [0, kept)
     * are kept in memory after the first pass, and later passes read the
     * others again into the buffers from bin `slot` on. While `measure` is
     * set, the first pass decides `kept` piece by piece, from what the
     * first touch of fresh memory and the reads cost. */
    uint64_t kept, slot;
    int measure;
    /* Reads of contiguous datasets through MPI-IO, the next piece's started
     * before this one is evaluated (src/io/prefetch.h), or NULL. */
    struct h5div_prefetch *pf;
} h5div_sweep;

/* Called for every piece: bins [first_bin, first_bin + n) of dataset k are
 * v[k][0..n). n may be 0 (a rank with nothing left still takes part in the
 * round). Returns an h5div status; msg receives the error line. */
typedef int (*h5div_sweep_fn)(void *ctx, int pass, uint64_t first_bin, size_t n, double *const *v,
                              char *msg, size_t len);

/* The callback makes collective calls (e.g. parallel writes): agree on the
 * read status before calling it, and after it in every round. */
#define H5DIV_SWEEP_COLLECTIVE_FN 1u

/* Collective: plan the pieces of d[0..nd) (all of d[0]->bins bins) and
 * allocate the buffers plus `scratch` piece-sized ones. Agreed status. */
int h5div_sweep_init(MPI_Comm comm, h5div_sweep *sw, h5div_dset *const *d, int nd, int scratch,
                     const h5div_options *opt, char *msg, size_t len);

/* Collective: one pass; calls fn for each piece in bin order. Every rank runs
 * the same number of read rounds and errors are agreed, so the returned
 * status is the same on every rank. */
int h5div_sweep_run(MPI_Comm comm, h5div_sweep *sw, int pass, unsigned flags,
                    const h5div_options *opt, h5div_sweep_fn fn, void *ctx, char *msg, size_t len);

void h5div_sweep_free(h5div_sweep *sw);

/* Collective: the rows of sw on this rank. Agreed status. */
int h5div_rows_init(MPI_Comm comm, const h5div_sweep *sw, h5div_rows *r, char *msg, size_t len);
/* Collective: h5div_par_rows_memory_check for the rows of sw (the sweep's
 * buffers keep to the other half of opt->memory_per_rank). Agreed. */
int h5div_rows_memory_check(MPI_Comm comm, const h5div_sweep *sw, const h5div_rows *r,
                            uint64_t per_row, uint64_t per_owned_row, const h5div_options *opt,
                            const char *ref, char *msg, size_t len);

/* Where bin `bin` (flat index) is, for messages: "bin N", or for a 2-D
 * dataset of `cols` columns (cols > 0) "row R, bin C". Not collective. */
void h5div_where(uint64_t bin, uint64_t cols, char *buf, size_t len);

/* The value v[i] of flat bin first_bin + i is negative, NaN or infinite:
 * an H5DIV_EINPUT error naming ref and where the bin is (cols as for
 * h5div_where). Not collective. */
int h5div_bad_value(double x, uint64_t bin, uint64_t cols, const char *ref, char *msg, size_t len);

/* The first negative, NaN or infinite value of v[0..n) as h5div_bad_value,
 * or H5DIV_OK. Not collective. */
int h5div_check_values(const double *v, size_t n, uint64_t first_bin, uint64_t cols,
                       const char *ref, char *msg, size_t len);

/* Attributes and scalar float64 measure datasets with a `units` attribute
 * (< 0 on failure), shared by every result writer. Not collective. */
herr_t h5div_put_string_attr(hid_t loc, const char *name, const char *value);
herr_t h5div_put_scalar_attr(hid_t loc, const char *name, hid_t type, const void *value);

/* What one result group holds besides the attributes every group has. */
typedef struct h5div_group_spec {
    const h5div_options *opt;
    const h5div_result_info *info;
    const char *input_attr[2]; /* "p", "q", "pxy" or NULL */
    const char *input_ref[2];  /* their FILE:/dataset references */
    const char *estimator;     /* string attribute `estimator`, or NULL */
    double dirichlet_a;        /* attribute `dirichlet_a` when estimator is dirichlet */
    int n;
    const char *names[H5DIV_GROUP_MAX_MEASURES], *units[H5DIV_GROUP_MAX_MEASURES];
    double values[H5DIV_GROUP_MAX_MEASURES];
    /* With --bootstrap (nrep > 0): datasets NAME_se, NAME_ci (2,) and, where
     * reps[i] is not NULL, NAME_replicates (nrep,); attributes bootstrap,
     * seed and ci (from opt). */
    uint64_t nrep;
    double se[H5DIV_GROUP_MAX_MEASURES], ci[H5DIV_GROUP_MAX_MEASURES][2];
    const double *reps[H5DIV_GROUP_MAX_MEASURES];
} h5div_group_spec;

/* Before a long run: the directory of `path` (of the file a symbolic link
 * points at) is writable, `path` (if it exists) is an HDF5 file, and `obj`
 * (a group, or with `dataset` set a dataset) may be written there, as
 * h5div_check_target says. Not collective. */
int h5div_check_output_object(const char *path, const char *obj, int dataset, int overwrite,
                              char *errmsg, size_t errlen);

/* May `obj` (a result group, or with `dataset` set a dataset) be written in
 * the open file f (named `file` in messages)? Every existing component
 * above it must be a group; an existing obj is an H5DIV_EOUTPUT error
 * unless `overwrite`, and even then a group is replaced only when it is a
 * result group (attribute h5div_version) or empty, never a group of other
 * runs, and a dataset only by a dataset. Not collective (each rank of a
 * parallel file reads the same metadata). */
int h5div_check_target(hid_t f, const char *file, const char *obj, int dataset, int overwrite,
                       char *msg, size_t len);

/* h5div_check_target, then the existing obj (if any) is unlinked. */
int h5div_replace_target(hid_t f, const char *file, const char *obj, int dataset, int overwrite,
                         char *msg, size_t len);

/* Collective over comm (the ranks that have f open; MPI_COMM_SELF for a
 * file of one rank): h5div_replace_target, then result group `group` of f
 * created with any missing parents, its id in *g. Returns an agreed status
 * (on failure *g is negative on every rank). */
int h5div_result_group_create(MPI_Comm comm, hid_t f, const char *file, const char *group,
                              int overwrite, hid_t *g, char *msg, size_t len);

/* The provenance every result group carries in its attributes. */
typedef struct h5div_run_attrs {
    const char *command; /* NULL: "" */
    const char *created; /* ISO 8601 UTC */
    const char *base;    /* the name of the logarithm's base */
    int64_t ranks;
    double pseudocount, elapsed_seconds;
} h5div_run_attrs;

/* Write a's attributes h5div_version, command, created, ranks, base,
 * pseudocount and elapsed_seconds on g (< 0 on failure). Not collective
 * (every rank of a parallel file writes the same values). */
herr_t h5div_put_run_attrs(hid_t g, const h5div_run_attrs *a);

/* Convert n 64-bit integers read into buf (by d's memory type) to doubles
 * in place (float data is left as it is), writing the exact remainders
 * x - (double)x to lo (when not NULL); returns whether any is nonzero. */
int h5div_dset_to_double_lo(const h5div_dset *d, double *buf, double *lo, size_t n);

/* Write gs as group `group` of `path`: the file is copied to a temporary
 * file in the same directory under the lock on path.lock, the group is
 * added there, and the copy is renamed over `path` once it is on disk.
 * Not collective. */
int h5div_write_result_group(const char *path, const char *group, int overwrite,
                             const h5div_group_spec *gs, char *errmsg, size_t errlen);

/* A temporary copy of an output file in the directory of the file it names
 * (through symbolic links), written by every rank through the MPI-IO driver
 * and renamed over that file when complete. */
typedef struct h5div_temp_out {
    int status, existing, lock;      /* lock: rank 0's descriptor */
    char target[H5DIV_REF_MAX + 64]; /* the file replaced (links resolved) */
    char tmp[H5DIV_REF_MAX + 64];
    char msg[1024];
    char created[32]; /* ISO 8601 UTC, the same on every rank */
    /* Set by h5div_temp_open_group for a results file that is an index (or
     * large enough to become one): tmp is then a new run file in the
     * directory "target.runs", and group is linked into the index. */
    int linked;
    char group[H5DIV_REF_MAX];
} h5div_temp_out;

/* Results files of at least this size (and index files of any size) get
 * each new result group as a run file of its own, linked into the file
 * with an HDF5 external link, instead of a copy of the whole file. */
#define H5DIV_LINK_MIN_BYTES ((uint64_t)16 << 20)

/* Collective: rank 0 takes the lock on "target.lock" (waiting as
 * h5div_io_set_lock_wait says), removes temporary files that dead runs
 * left for this target, copies the file (or makes an empty HDF5 file) to a
 * new temporary file with room reserved for data_bytes more (a full disk
 * is an error here, before any HDF5 write), known to the signal handler
 * of h5div_io_catch_signals (which removes it); every
 * rank opens it as *f. Agreed status. */
int h5div_temp_open(MPI_Comm comm, const char *out_file, uint64_t data_bytes, h5div_temp_out *t,
                    hid_t *f, char *msg, size_t len);

/* Collective: h5div_temp_open for writing result group `group` (and only
 * that object) of out_file. When out_file is an index of runs (root
 * attribute h5div_index) or at least H5DIV_LINK_MIN_BYTES large, *f is a
 * new, empty run file in the directory "out_file.runs" instead of a copy
 * of out_file (so the cost does not grow with out_file), with `group` and
 * `overwrite` checked against out_file under the lock; h5div_temp_close
 * then moves the run file into place before it links it into a small copy
 * of the index, renamed over out_file. Agreed status. */
int h5div_temp_open_group(MPI_Comm comm, const char *out_file, const char *group, int overwrite,
                          uint64_t data_bytes, h5div_temp_out *t, hid_t *f, char *msg, size_t len);

/* Collective: flush and close f (a failed flush is agreed, never left to
 * H5Fclose) and, when every rank has status OK, move the copy over the
 * target (after an fsync); otherwise remove it. Releases the lock.
 * Returns the agreed status. */
int h5div_temp_close(MPI_Comm comm, const char *out_file, h5div_temp_out *t, hid_t f, int status,
                     char *msg, size_t len);

/* h5div_par_collective with HDF5's error printing off. Collective;
 * returns body's status. */
int h5div_io_collective(MPI_Comm comm, int (*body)(MPI_Comm c, void *arg, char *msg, size_t len),
                        void *arg, char *errmsg, size_t errlen);

/* h5div histogram's edges for compare: when d[0] has edges attached to its
 * last dimension (an HDF5 dimension scale of shape (K+1,) or (rows, K+1)),
 * *gap = the distances between neighbouring bin centres, [gap_rows][K-1]
 * (malloc'ed), else NULL. Attached edges of the other datasets must equal
 * them (H5DIV_EINPUT). Collective; agreed status. */
int h5div_w1_positions(MPI_Comm comm, h5div_dset *const *d, int nd, double **gap,
                       uint64_t *gap_rows, char *msg, size_t len);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-bin self-information of a histogram or of each row of a 2-D dataset, written with collective
 * parallel HDF5 writes into a temporary file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/entropy.h"
#include "eval/engine.h"
#include "io/io.h"
#include "par/par.h"

/* Output chunks of 1 MiB of float64. */
#define OUT_CHUNK_BINS ((hsize_t)1 << 17)

/* Each row (a 1-D histogram is one row) is normalised by its own total: a
 * family of the row-pass engine (src/eval/engine.h), whose pass of totals
 * reduces the total of a row that spans ranks exactly among just the ranks
 * that hold it, so every row's total, and each bin's value, has the same
 * bits on any number of ranks; the second pass writes the values. */
typedef struct surprisal_job {
    const char *p_ref, *out_file, *out_path, *command;
    int overwrite, same_file; /* same_file: the output file is P's file (--in-place) */
    const h5div_options *opt;
    uint64_t *bins;
    h5div_grid g;
    int two_d;
    const h5div_rows *rw;    /* the engine's rows: touched, owned and shared */
    double *tot_hi, *tot_lo; /* [row - rw->lo]: each touched row's total */
    h5div_entropy_norm nm;   /* of the row in progress */
    double ln_b;
    hid_t dset, space; /* output dataset and its file space */
    double *out;       /* piece-sized buffer of the values */
} surprisal_job;

enum { PASS_TOTAL = 0, PASS_WRITE };

/* Select the flat bins [first, first + n) of the output: one hyperslab of a
 * 1-D dataset; of a 2-D one the rest of the first row, the whole rows
 * between, and the start of the last row (row-major, as the values are). */
static herr_t select_bins(const surprisal_job *j, uint64_t first, size_t n)
{
    if (!j->two_d) {
        hsize_t off = first, cnt = n;
        return H5Sselect_hyperslab(j->space, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
    }
    const uint64_t cols = j->g.cols, last = first + n - 1;
    const uint64_t r0 = first / cols, c0 = first % cols, r1 = last / cols, c1 = last % cols;
    hsize_t off[2] = {r0, c0}, cnt[2] = {1, r0 == r1 ? n : cols - c0};
    herr_t rc = H5Sselect_hyperslab(j->space, H5S_SELECT_SET, off, NULL, cnt, NULL);
    if (rc >= 0 && r1 > r0 + 1) {
        hsize_t o[2] = {r0 + 1, 0}, c[2] = {r1 - r0 - 1, cols};
        rc = H5Sselect_hyperslab(j->space, H5S_SELECT_OR, o, NULL, c, NULL);
    }
    if (rc >= 0 && r1 > r0) {
        hsize_t o[2] = {r1, 0}, c[2] = {1, c1 + 1};
        rc = H5Sselect_hyperslab(j->space, H5S_SELECT_OR, o, NULL, c, NULL);
    }
    return rc;
}

static int write_slab(surprisal_job *j, uint64_t first, size_t n, const double *v, char *msg,
                      size_t len)
{
    hsize_t one = n ? (hsize_t)n : 1;
    hid_t mspace = H5Screate_simple(1, &one, NULL);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    herr_t rc = mspace >= 0 && dxpl >= 0 ? 0 : -1;
    if (rc >= 0)
        rc = n ? select_bins(j, first, n)
               : (H5Sselect_none(j->space) < 0 ? -1 : H5Sselect_none(mspace));
    if (dxpl >= 0 && H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0)
        rc = -1;
    /* The write is collective: a rank whose own selection failed still
     * takes part, with nothing selected, and reports the failure after. */
    if (rc < 0 && mspace >= 0) {
        H5Sselect_none(j->space);
        H5Sselect_none(mspace);
    }
    if (mspace >= 0 && dxpl >= 0 &&
        H5Dwrite(j->dset, H5T_NATIVE_DOUBLE, mspace, j->space, dxpl, v) < 0)
        rc = -1;
    if (dxpl >= 0)
        H5Pclose(dxpl);
    if (mspace >= 0)
        H5Sclose(mspace);
    if (rc < 0) {
        h5div_set_error(msg, len, "cannot write bins %llu..%llu of the output (%s:%s)",
                        (unsigned long long)first, (unsigned long long)(first + n), j->out_file,
                        j->out_path);
        return H5DIV_EOUTPUT;
    }
    return H5DIV_OK;
}

/* Row state: the total h5div_acc of the row in the first pass, none in the second. */
static void sp_row_start(void *ctx, int pass, uint64_t row, void *state)
{
    surprisal_job *j = ctx;
    if (pass == PASS_TOTAL)
        h5div_acc_init(state);
    else
        h5div_entropy_norm_init(&j->nm, j->tot_hi[row - j->rw->lo], j->tot_lo[row - j->rw->lo],
                                j->opt->pseudocount);
}

static int sp_segment(void *ctx, int pass, const h5div_row_seg *s, void *state, char *msg,
                      size_t len)
{
    surprisal_job *j = ctx;
    if (pass == PASS_WRITE) {
        h5div_surprisal_values_lo(s->x[0], s->lo[0], s->n, &j->nm, j->ln_b, j->out + s->off);
        return H5DIV_OK;
    }
    const uint64_t cols = j->g.cols;
    H5DIV_CHECK(h5div_check_values(s->x[0], s->n, s->row * cols + s->c0, j->two_d ? cols : 0,
                                   j->p_ref, msg, len));
    (void)h5div_total_add_valid_lo(s->x[0], s->lo[0], s->n, j->opt->pseudocount, state);
    return H5DIV_OK;
}

/* The values of a piece, written collectively. */
static int sp_piece_end(void *ctx, int pass, uint64_t first_bin, size_t n, char *msg, size_t len)
{
    surprisal_job *j = ctx;
    return pass == PASS_WRITE ? write_slab(j, first_bin, n, j->out, msg, len) : H5DIV_OK;
}

static int sp_reduce(MPI_Comm c, void *ctx, int pass, uint64_t row, void *state)
{
    (void)ctx;
    (void)row;
    return pass == PASS_TOTAL ? h5div_par_sum_acc(c, state, 1) : H5DIV_OK;
}

/* Each touched row's total, on every rank that holds it. */
static void sp_row_finish(void *ctx, int pass, uint64_t row, int owned, const void *state)
{
    surprisal_job *j = ctx;
    (void)owned;
    if (pass == PASS_TOTAL)
        h5div_acc_round2(state, &j->tot_hi[row - j->rw->lo], &j->tot_lo[row - j->rw->lo]);
}

/* The total of a row (the engine refuses zero and overflow). */
static double sp_total(const void *ctx, uint64_t row, int d)
{
    const surprisal_job *j = ctx;
    (void)d;
    return j->tot_hi[row - j->rw->lo];
}

static int sp_setup(void *ctx, const h5div_eval *e, char *msg, size_t len)
{
    surprisal_job *j = ctx;
    j->rw = &e->rows;
    size_t nrows = (size_t)(j->rw->hi - j->rw->lo);
    int ok = (j->tot_hi = calloc(nrows ? nrows : 1, sizeof *j->tot_hi)) != NULL &&
             (j->tot_lo = calloc(nrows ? nrows : 1, sizeof *j->tot_lo)) != NULL;
    if (ok)
        return H5DIV_OK;
    h5div_set_error(msg, len, "out of memory for the totals of %zu rows", nrows);
    return H5DIV_EINTERNAL;
}

static const h5div_row_family surprisal_family = {
    .name = "surprisal",
    .npasses = 2,
    .state_size = sizeof(h5div_acc),
    .collective_passes = 1u << PASS_WRITE,
    .setup = sp_setup,
    .row_start = sp_row_start,
    .segment = sp_segment,
    .piece_end = sp_piece_end,
    .state_reduce = sp_reduce,
    .row_finish = sp_row_finish,
    .row_total = sp_total,
};

/* The input dataset is never replaced, even with --in-place (a copy of
 * the input file keeps the object addresses, also of hard links). */
static int refuse_input(const surprisal_job *j, hid_t f, char *msg, size_t len)
{
    char pfile[H5DIV_REF_MAX], ppath[H5DIV_REF_MAX];
    H5O_info_t oi, pi;
    if (j->same_file &&
        h5div_ref_split(j->p_ref, pfile, sizeof pfile, ppath, sizeof ppath) == H5DIV_OK &&
        h5div_h5_path_exists(f, j->out_path) > 0 &&
        H5Oget_info_by_name(f, j->out_path, &oi, H5P_DEFAULT) >= 0 &&
        H5Oget_info_by_name(f, ppath, &pi, H5P_DEFAULT) >= 0 && oi.addr == pi.addr) {
        h5div_set_error(msg, len,
                        "output dataset is the input dataset; surprisal never replaces its "
                        "input (%s:%s)",
                        j->out_file, j->out_path);
        return H5DIV_EOUTPUT;
    }
    return H5DIV_OK;
}

/* Collective: the chunked dataset of P's shape; chunks of about
 * OUT_CHUNK_BINS values, whole rows of a 2-D output when they fit. */
static int make_dataset(MPI_Comm comm, surprisal_job *j, hid_t f, char *msg, size_t len)
{
    const int rank = j->two_d ? 2 : 1;
    hsize_t dims[2] = {j->g.rows, j->g.cols}, chunk[2];
    chunk[1] = j->g.cols < OUT_CHUNK_BINS ? j->g.cols : OUT_CHUNK_BINS;
    chunk[0] = OUT_CHUNK_BINS / chunk[1] < j->g.rows ? OUT_CHUNK_BINS / chunk[1] : j->g.rows;
    if (!j->two_d)
        dims[0] = j->g.cols, chunk[0] = chunk[1];
    j->space = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (j->space >= 0 && dcpl >= 0 && lcpl >= 0 && H5Pset_chunk(dcpl, rank, chunk) >= 0 &&
        H5Pset_create_intermediate_group(lcpl, 1) >= 0)
        j->dset = H5Dcreate2(f, j->out_path, H5T_IEEE_F64LE, j->space, lcpl, dcpl, H5P_DEFAULT);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    /* H5Dcreate2 is collective: the dataset exists on every rank or on none. */
    int bad = j->dset < 0;
    H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, comm));
    if (bad) {
        if (j->dset >= 0)
            H5Dclose(j->dset);
        j->dset = H5I_INVALID_HID;
        h5div_set_error(msg, len, "cannot create the output dataset (%s:%s)", j->out_file,
                        j->out_path);
        return H5DIV_EOUTPUT;
    }
    return H5DIV_OK;
}

/* Attributes are metadata: every rank writes the same values. */
static int put_attrs(MPI_Comm comm, surprisal_job *j, const char *created, char *msg, size_t len)
{
    int size;
    H5DIV_MPI_CHECK(MPI_Comm_size(comm, &size));
    int64_t ranks = size;
    herr_t rc = 0;
    H5DIV_H5_TRY(rc, h5div_put_string_attr(j->dset, "units", h5div_base_units(j->opt->base)));
    H5DIV_H5_TRY(rc, h5div_put_string_attr(j->dset, "base", h5div_base_name(j->opt->base)));
    H5DIV_H5_TRY(rc, h5div_put_string_attr(j->dset, "p", j->p_ref));
    H5DIV_H5_TRY(rc, h5div_put_string_attr(j->dset, "h5div_version", h5div_version_string()));
    H5DIV_H5_TRY(rc, h5div_put_string_attr(j->dset, "command", j->command ? j->command : ""));
    H5DIV_H5_TRY(rc, h5div_put_string_attr(j->dset, "created", created));
    H5DIV_H5_TRY(rc, h5div_put_scalar_attr(j->dset, "ranks", H5T_NATIVE_INT64, &ranks));
    H5DIV_H5_TRY(
        rc, h5div_put_scalar_attr(j->dset, "pseudocount", H5T_NATIVE_DOUBLE, &j->opt->pseudocount));
    if (rc < 0) {
        h5div_set_error(msg, len, "cannot write the output attributes (%s:%s)", j->out_file,
                        j->out_path);
        return H5DIV_EOUTPUT;
    }
    return H5DIV_OK;
}

/* Collective: create the output dataset (and its groups) in the open
 * temporary file, replacing an existing one only with overwrite. */
static int create_output(MPI_Comm comm, surprisal_job *j, hid_t f, const char *created, char *msg,
                         size_t len)
{
    int st = refuse_input(j, f, msg, len);
    if (st == H5DIV_OK)
        st = h5div_replace_target(f, j->out_file, j->out_path, 1, j->overwrite, msg, len);
    H5DIV_CHECK(h5div_par_agree(comm, st, msg, len));
    H5DIV_CHECK(make_dataset(comm, j, f, msg, len));
    return put_attrs(comm, j, created, msg, len);
}

/* Is the output file P's file? */
static int output_is_input(const surprisal_job *j)
{
    struct stat ps, os;
    char pfile[H5DIV_REF_MAX], ppath[H5DIV_REF_MAX];
    return h5div_ref_split(j->p_ref, pfile, sizeof pfile, ppath, sizeof ppath) == H5DIV_OK &&
           stat(pfile, &ps) == 0 && stat(j->out_file, &os) == 0 && ps.st_dev == os.st_dev &&
           ps.st_ino == os.st_ino;
}

/* Collective: the second pass into the output dataset of a temporary copy
 * of the output file (made by rank 0 and opened by all), moved into place
 * when every rank succeeded. */
static int write_pass(MPI_Comm comm, surprisal_job *j, h5div_eval *e, uint64_t bins, char *msg,
                      size_t len)
{
    /* The values, and a chunk index entry per chunk of 1 MiB. */
    uint64_t bytes = bins * sizeof(double) + (bins / OUT_CHUNK_BINS + 1) * 64;
    h5div_temp_out t;
    hid_t f = H5I_INVALID_HID;
    j->same_file = output_is_input(j);
    int st = h5div_temp_open(comm, j->out_file, bytes, &t, &f, msg, len);
    j->dset = j->space = H5I_INVALID_HID;
    if (st == H5DIV_OK) {
        st = create_output(comm, j, f, t.created, msg, len);
        st = h5div_par_agree(comm, st, msg, len);
    }
    if (st == H5DIV_OK)
        st = h5div_eval_pass(comm, e, PASS_WRITE, msg, len);
    if (j->dset >= 0 && H5Dclose(j->dset) < 0 && st == H5DIV_OK) {
        h5div_set_error(msg, len, "cannot close the output dataset (%s)", j->out_file);
        st = H5DIV_EOUTPUT;
    }
    if (j->space >= 0)
        H5Sclose(j->space);
    return h5div_temp_close(comm, j->out_file, &t, f, st, msg, len);
}

static int surprisal_body(MPI_Comm comm, void *arg, char *msg, size_t len)
{
    surprisal_job *j = arg;
    H5DIV_CHECK(h5div_agree_options(comm, j->opt, msg, len));
    h5div_dset d;
    H5DIV_CHECK(h5div_dset_open_batch(comm, j->p_ref, &d, msg, len));
    *j->bins = d.bins;
    h5div_dset *ds[1] = {&d};
    h5div_sweep sw;
    int st = h5div_sweep_init(comm, &sw, ds, 1, 1, j->opt, msg, len);
    if (st == H5DIV_OK) {
        j->out = sw.scratch[0];
        j->g = sw.grid;
        j->two_d = d.rows > 0;
        j->ln_b = h5div_ln_base(j->opt->base);
        h5div_eval e;
        st = h5div_eval_init(comm, &e, &sw, &surprisal_family, j, j->opt, msg, len);
        if (st == H5DIV_OK)
            st = h5div_eval_pass(comm, &e, PASS_TOTAL, msg, len);
        if (st == H5DIV_OK)
            st = write_pass(comm, j, &e, d.bins, msg, len);
        h5div_eval_free(&e);
        h5div_sweep_free(&sw);
    }
    free(j->tot_hi);
    free(j->tot_lo);
    h5div_dset_close(&d);
    return st;
}

int h5div_surprisal_files(MPI_Comm comm, const char *p_ref, const char *out_file,
                          const char *out_path, int overwrite, const char *command,
                          const h5div_options *opt, uint64_t *bins, char *errmsg, size_t errlen)
{
    surprisal_job j;
    memset(&j, 0, sizeof j);
    uint64_t dummy = 0;
    j.p_ref = p_ref;
    j.out_file = out_file;
    j.out_path = out_path;
    j.command = command;
    j.overwrite = overwrite;
    j.opt = opt;
    j.bins = bins ? bins : &dummy;
    return h5div_io_collective(comm, surprisal_body, &j, errmsg, errlen);
}

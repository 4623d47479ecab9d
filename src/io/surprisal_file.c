/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-bin self-information of a histogram or of each row of a 2-D dataset, written with collective
 * parallel HDF5 writes into a temporary file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/entropy.h"
#include "io/io.h"
#include "par/par.h"

/* Output chunks of 1 MiB of float64. */
#define OUT_CHUNK_BINS ((hsize_t)1 << 17)

#define NO_ROW UINT64_MAX

/* Each row (a 1-D histogram is one row) is normalised by its own total.
 * Rows are split over the ranks by whole blocks as in entropy: the total of
 * a row that spans ranks is reduced exactly among just the ranks that hold
 * it, so every row's total, and each bin's value, has the same bits on any
 * number of ranks. */
typedef struct surprisal_job {
    const char *p_ref, *out_file, *out_path, *command;
    int overwrite, same_file; /* same_file: the output file is P's file (--in-place) */
    const h5div_options *opt;
    const h5div_sweep *sw; /* its lo_of: remainders of 64-bit integers of the piece */
    uint64_t *bins;
    h5div_grid g;
    int two_d;
    h5div_rows rw;    /* rows touched, owned and shared */
    uint64_t cur_row; /* row in progress */
    h5div_acc cur_tot, slot_tot[2];
    double *tot_hi, *tot_lo; /* [row - rw.lo]: each touched row's total */
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

/* The total of the row in progress is complete here, or (a row shared with
 * other ranks) waits in its slot for the reduction. */
static void flush_total(surprisal_job *j)
{
    if (j->cur_row == NO_ROW)
        return;
    int s = h5div_rows_shared(&j->rw, j->cur_row);
    if (s >= 0)
        j->slot_tot[s % 2] = j->cur_tot;
    else
        h5div_acc_round2(&j->cur_tot, &j->tot_hi[j->cur_row - j->rw.lo],
                         &j->tot_lo[j->cur_row - j->rw.lo]);
    j->cur_row = NO_ROW;
}

static int surprisal_piece(void *ctx, int pass, uint64_t first_bin, size_t n, double *const *v,
                           char *msg, size_t len)
{
    surprisal_job *j = ctx;
    const uint64_t cols = j->g.cols, end = first_bin + n;
    /* Segments of one row each; a piece starts on a block boundary of its
     * row and rows start on one, so every segment does too. */
    for (uint64_t pos = first_bin; pos < end;) {
        const uint64_t row = pos / cols;
        const uint64_t seg_end = (row + 1) * cols < end ? (row + 1) * cols : end;
        const double *x = v[0] + (pos - first_bin);
        const double *xl = j->sw->lo_of[0] ? j->sw->lo_of[0] + (pos - first_bin) : NULL;
        const size_t m = (size_t)(seg_end - pos);
        if (row != j->cur_row) {
            if (pass == PASS_TOTAL) {
                flush_total(j);
                h5div_acc_init(&j->cur_tot);
            } else {
                h5div_entropy_norm_init(&j->nm, j->tot_hi[row - j->rw.lo],
                                        j->tot_lo[row - j->rw.lo], j->opt->pseudocount);
            }
            j->cur_row = row;
        }
        if (pass == PASS_TOTAL) {
            H5DIV_CHECK(h5div_check_values(x, m, pos, j->two_d ? cols : 0, j->p_ref, msg, len));
            (void)h5div_total_add_valid_lo(x, xl, m, j->opt->pseudocount, &j->cur_tot);
        } else {
            h5div_surprisal_values_lo(x, xl, m, &j->nm, j->ln_b, j->out + (pos - first_bin));
        }
        pos = seg_end;
    }
    if (pass == PASS_TOTAL)
        return H5DIV_OK;
    return write_slab(j, first_bin, n, j->out, msg, len);
}

/* After the total pass: reduce the shared rows' totals among the ranks
 * that hold them (parity 0 first on every rank), refuse empty rows and
 * totals that overflow. Agreed status. */
static int settle_totals(MPI_Comm comm, surprisal_job *j, char *msg, size_t len)
{
    flush_total(j);
    for (int p = 0; p < 2; p++) {
        if (j->rw.sc.c[p] == MPI_COMM_NULL)
            continue;
        H5DIV_CHECK(h5div_par_sum_acc(j->rw.sc.c[p], &j->slot_tot[p], 1));
        uint64_t row = j->rw.shared[j->rw.sc.slot[p]];
        h5div_acc_round2(&j->slot_tot[p], &j->tot_hi[row - j->rw.lo], &j->tot_lo[row - j->rw.lo]);
    }
    int st = H5DIV_OK;
    for (uint64_t row = j->rw.lo; row < j->rw.hi && st == H5DIV_OK; row++) {
        double hi = j->tot_hi[row - j->rw.lo];
        if (hi > 0.0 && isfinite(hi))
            continue;
        const char *what = hi == 0.0 ? "is all zeros" : "total overflows a double";
        if (j->two_d)
            h5div_set_error(msg, len, "histogram %s (%s, row %llu)", what, j->p_ref,
                            (unsigned long long)row);
        else
            h5div_set_error(msg, len, "histogram %s (%s)", what, j->p_ref);
        st = H5DIV_EINPUT;
    }
    return h5div_par_agree(comm, st, msg, len);
}

/* Collective: create the output dataset (and its groups) in the open
 * temporary file, replacing an existing one only with overwrite. */
static int create_output(MPI_Comm comm, surprisal_job *j, hid_t f, const char *created, char *msg,
                         size_t len)
{
    int st = H5DIV_OK;
    /* The input dataset is never replaced, even with --in-place (a copy of
     * the input file keeps the object addresses, also of hard links). */
    if (st == H5DIV_OK && j->same_file) {
        char pfile[H5DIV_REF_MAX], ppath[H5DIV_REF_MAX];
        H5O_info_t oi, pi;
        if (h5div_ref_split(j->p_ref, pfile, sizeof pfile, ppath, sizeof ppath) == H5DIV_OK &&
            h5div_h5_path_exists(f, j->out_path) > 0 &&
            H5Oget_info_by_name(f, j->out_path, &oi, H5P_DEFAULT) >= 0 &&
            H5Oget_info_by_name(f, ppath, &pi, H5P_DEFAULT) >= 0 && oi.addr == pi.addr) {
            h5div_set_error(msg, len,
                            "output dataset is the input dataset; surprisal never replaces its "
                            "input (%s:%s)",
                            j->out_file, j->out_path);
            st = H5DIV_EOUTPUT;
        }
    }
    if (st == H5DIV_OK)
        st = h5div_replace_target(f, j->out_file, j->out_path, 1, j->overwrite, msg, len);
    H5DIV_CHECK(h5div_par_agree(comm, st, msg, len));
    /* P's shape; chunks of about OUT_CHUNK_BINS values, whole rows of a
     * 2-D output when they fit. */
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
    /* Attributes are metadata: every rank writes the same values. */
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

static int surprisal_body(MPI_Comm comm, void *arg, char *msg, size_t len)
{
    surprisal_job *j = arg;
    const h5div_options *opt = j->opt;
    int rank;
    H5DIV_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    H5DIV_CHECK(h5div_agree_options(comm, opt, msg, len));
    h5div_dset d;
    H5DIV_CHECK(h5div_dset_open_batch(comm, j->p_ref, &d, msg, len));
    *j->bins = d.bins;
    h5div_dset *ds[1] = {&d};
    h5div_sweep sw;
    int st = h5div_sweep_init(comm, &sw, ds, 1, 1, opt, msg, len);
    if (st != H5DIV_OK) {
        h5div_dset_close(&d);
        return st;
    }
    j->out = sw.scratch[0];
    j->sw = &sw;
    j->g = sw.grid;
    j->two_d = d.rows > 0;
    j->cur_row = NO_ROW;
    j->ln_b = h5div_ln_base(opt->base);
    st = h5div_rows_init(comm, &sw, &j->rw, msg, len);
    if (st == H5DIV_OK) {
        size_t nrows = (size_t)(j->rw.hi - j->rw.lo);
        int ok = (j->tot_hi = calloc(nrows ? nrows : 1, sizeof *j->tot_hi)) != NULL &&
                 (j->tot_lo = calloc(nrows ? nrows : 1, sizeof *j->tot_lo)) != NULL;
        if (!ok)
            h5div_set_error(msg, len, "out of memory for the totals of %zu rows", nrows);
        st = h5div_par_agree(comm, ok ? H5DIV_OK : H5DIV_EINTERNAL, msg, len);
    }
    h5div_acc_init(&j->slot_tot[0]);
    h5div_acc_init(&j->slot_tot[1]);
    if (st == H5DIV_OK)
        st = h5div_sweep_run(comm, &sw, PASS_TOTAL, 0, opt, surprisal_piece, j, msg, len);
    if (st == H5DIV_OK)
        st = settle_totals(comm, j, msg, len);
    /* The temporary copy, made by rank 0 and opened by all. */
    h5div_temp_out t;
    hid_t f = H5I_INVALID_HID;
    if (st == H5DIV_OK) {
        /* The values, and a chunk index entry per chunk of 1 MiB. */
        uint64_t bytes = d.bins * sizeof(double) + (d.bins / OUT_CHUNK_BINS + 1) * 64;
        struct stat ps, os;
        char pfile[H5DIV_REF_MAX], ppath[H5DIV_REF_MAX];
        j->same_file = h5div_ref_split(j->p_ref, pfile, sizeof pfile, ppath, sizeof ppath) ==
                           H5DIV_OK &&
                       stat(pfile, &ps) == 0 && stat(j->out_file, &os) == 0 &&
                       ps.st_dev == os.st_dev && ps.st_ino == os.st_ino;
        st = h5div_temp_open(comm, j->out_file, bytes, &t, &f, msg, len);
        j->dset = j->space = H5I_INVALID_HID;
        if (st == H5DIV_OK) {
            st = create_output(comm, j, f, t.created, msg, len);
            st = h5div_par_agree(comm, st, msg, len);
        }
        j->cur_row = NO_ROW;
        if (st == H5DIV_OK)
            st = h5div_sweep_run(comm, &sw, PASS_WRITE, H5DIV_SWEEP_COLLECTIVE_FN, opt,
                                 surprisal_piece, j, msg, len);
        if (j->dset >= 0 && H5Dclose(j->dset) < 0 && st == H5DIV_OK) {
            h5div_set_error(msg, len, "cannot close the output dataset (%s)", j->out_file);
            st = H5DIV_EOUTPUT;
        }
        if (j->space >= 0)
            H5Sclose(j->space);
        st = h5div_temp_close(comm, j->out_file, &t, f, st, msg, len);
    }
    free(j->tot_hi);
    free(j->tot_lo);
    h5div_rows_free(&j->rw);
    h5div_sweep_free(&sw);
    h5div_dset_close(&d);
    return st;
}

int h5div_surprisal_files(MPI_Comm comm, const char *p_ref, const char *out_file,
                          const char *out_path, int overwrite, const char *command,
                          const h5div_options *opt, uint64_t *bins, char *errmsg,
                          size_t errlen)
{
    surprisal_job j;
    memset(&j, 0, sizeof j);
    j.rw.sc.c[0] = j.rw.sc.c[1] = MPI_COMM_NULL;
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

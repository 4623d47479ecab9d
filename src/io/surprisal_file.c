/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-bin self-information written with collective parallel HDF5 writes into a temporary file. */
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

typedef struct surprisal_job {
    const char *p_ref, *out_file, *out_path, *command;
    int overwrite, same_file; /* same_file: the output file is P's file (--in-place) */
    const h5div_options *opt;
    uint64_t *bins;
    h5div_acc tot;
    h5div_entropy_norm nm;
    double ln_b;
    hid_t dset, space; /* output dataset and its file space */
    double *out;       /* piece-sized buffer of the values */
} surprisal_job;

enum { PASS_TOTAL = 0, PASS_WRITE };

static int write_slab(surprisal_job *j, uint64_t first, size_t n, const double *v, char *msg,
                      size_t len)
{
    hsize_t off = first, cnt = n, one = n ? cnt : 1;
    hid_t mspace = H5Screate_simple(1, &one, NULL);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    herr_t rc = mspace >= 0 && dxpl >= 0 ? 0 : -1;
    if (rc >= 0)
        rc = n ? H5Sselect_hyperslab(j->space, H5S_SELECT_SET, &off, NULL, &cnt, NULL)
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

static int surprisal_piece(void *ctx, int pass, uint64_t first_bin, size_t n, double *const *v,
                           char *msg, size_t len)
{
    surprisal_job *j = ctx;
    if (pass == PASS_TOTAL) {
        H5DIV_CHECK(h5div_check_values(v[0], n, first_bin, 0, j->p_ref, msg, len));
        h5div_total_add(v[0], n, j->opt->pseudocount, &j->tot);
        return H5DIV_OK;
    }
    h5div_surprisal_values(v[0], n, &j->nm, j->ln_b, j->out);
    return write_slab(j, first_bin, n, j->out, msg, len);
}

/* Collective: create the output dataset (and its groups) in the open
 * temporary file, replacing an existing one only with overwrite. */
static int create_output(MPI_Comm comm, surprisal_job *j, hid_t f, uint64_t bins,
                         const char *created, char *msg, size_t len)
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
    hsize_t dims = bins, chunk = bins < OUT_CHUNK_BINS ? bins : OUT_CHUNK_BINS;
    j->space = H5Screate_simple(1, &dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (j->space >= 0 && dcpl >= 0 && lcpl >= 0 && H5Pset_chunk(dcpl, 1, &chunk) >= 0 &&
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
    const char *units = j->opt->base == H5DIV_BASE_2   ? "bits"
                        : j->opt->base == H5DIV_BASE_E ? "nats"
                                                       : "hartleys";
    const char *base = j->opt->base == H5DIV_BASE_2 ? "2" : j->opt->base == H5DIV_BASE_E ? "e" : "10";
    int size;
    H5DIV_MPI_CHECK(MPI_Comm_size(comm, &size));
    int64_t ranks = size;
    herr_t rc = 0;
    rc |= h5div_put_string_attr(j->dset, "units", units);
    rc |= h5div_put_string_attr(j->dset, "base", base);
    rc |= h5div_put_string_attr(j->dset, "p", j->p_ref);
    rc |= h5div_put_string_attr(j->dset, "h5div_version", h5div_version_string());
    rc |= h5div_put_string_attr(j->dset, "command", j->command ? j->command : "");
    rc |= h5div_put_string_attr(j->dset, "created", created);
    rc |= h5div_put_scalar_attr(j->dset, "ranks", H5T_NATIVE_INT64, &ranks);
    rc |= h5div_put_scalar_attr(j->dset, "pseudocount", H5T_NATIVE_DOUBLE,
                                &j->opt->pseudocount);
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
    H5DIV_CHECK(h5div_dset_open(comm, j->p_ref, &d, msg, len));
    *j->bins = d.bins;
    h5div_dset *ds[1] = {&d};
    h5div_sweep sw;
    int st = h5div_sweep_init(comm, &sw, ds, 1, 1, opt, msg, len);
    if (st != H5DIV_OK) {
        h5div_dset_close(&d);
        return st;
    }
    j->out = sw.scratch[0];
    h5div_acc_init(&j->tot);
    st = h5div_sweep_run(comm, &sw, PASS_TOTAL, 0, opt, surprisal_piece, j, msg, len);
    if (st == H5DIV_OK)
        st = h5div_par_sum_acc(comm, &j->tot, 1);
    if (st == H5DIV_OK) {
        double hi, lo;
        h5div_acc_round2(&j->tot, &hi, &lo);
        if (hi == 0.0) {
            h5div_set_error(msg, len, "histogram is all zeros (%s)", j->p_ref);
            st = H5DIV_EINPUT;
        } else if (!isfinite(hi)) {
            h5div_set_error(msg, len, "histogram total overflows a double (%s)", j->p_ref);
            st = H5DIV_EINPUT;
        } else {
            h5div_entropy_norm_init(&j->nm, hi, lo, opt->pseudocount);
            j->ln_b = h5div_ln_base(opt->base);
        }
    }
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
            st = create_output(comm, j, f, d.bins, t.created, msg, len);
            st = h5div_par_agree(comm, st, msg, len);
        }
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

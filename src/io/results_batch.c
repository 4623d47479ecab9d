/* SPDX-License-Identifier: BSD-3-Clause */
/* Batch results ((), (rows,), (k,), (k, rows) datasets) written with collective parallel writes. */
#include <string.h>

#include "io/io.h"
#include "par/par.h"

/* A 1-D attribute of n variable-length UTF-8 strings. */
static herr_t put_string_array_attr(hid_t loc, const char *name, const char *const *v, int n)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    herr_t rc = -1;
    hsize_t dims = (hsize_t)n;
    if (type >= 0 && H5Tset_size(type, H5T_VARIABLE) >= 0 &&
        H5Tset_cset(type, H5T_CSET_UTF8) >= 0) {
        hid_t space = H5Screate_simple(1, &dims, NULL);
        hid_t attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        if (attr >= 0) {
            rc = H5Awrite(attr, type, v);
            H5Aclose(attr);
        }
        H5Sclose(space);
    }
    if (type >= 0)
        H5Tclose(type);
    return rc;
}

typedef struct batch_out {
    const char *path, *group;
    int overwrite;
    double elapsed;
    const h5div_options *opt;
    const h5div_batch *b;
    const h5div_batch_inputs *in;
} batch_out;

/* Collective: one flag over comm, set when any rank set it. */
static int any_failed(MPI_Comm comm, int failed)
{
    if (MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
        return 1;
    return failed;
}

/* What write_column writes of a column: its value, or with --bootstrap its
 * standard error, interval (last axis 2) or replicates (last axis B), or
 * with --null its p-value or null replicates (last axis B). */
enum { COL_VALUE = 0, COL_SE, COL_CI, COL_REPS, COL_P, COL_NULL_REPS, COL_KINDS };
static const char *const col_suffix[COL_KINDS] = {
    "", "_se", "_ci", "_replicates", "_p_value", "_null_replicates"};

/* Whether the batch has `kind` of column i. */
static int col_has(const h5div_batch *b, int i, int kind)
{
    switch (kind) {
    case COL_VALUE: return 1;
    case COL_SE:
    case COL_CI: return b->nrep > 0;
    case COL_REPS: return b->reps != NULL;
    case COL_P: return (b->tested >> i & 1u) && b->p_value;
    default: return (b->tested >> i & 1u) && b->null_reps;
    }
}

/* A p-value says how it was made (string attribute `method`): "asymptotic"
 * for the chi-square p-values of chi2_test and g_test, "null B=..." for
 * those of --null; "" for a dataset that is not a p-value. */
static void p_method(const h5div_batch *b, const h5div_column *col, int kind, char *buf, size_t len)
{
    buf[0] = '\0';
    if (kind == COL_P)
        snprintf(buf, len, "null B=%llu", (unsigned long long)b->nnull);
    else if (kind == COL_VALUE && !strcmp(b->command, "compare") &&
             (h5div_compare_measures(NULL)[col->measure].flags & H5DIV_MEASURE_ASYMPTOTIC_P))
        snprintf(buf, len, "asymptotic");
}

/* This rank's rows of column i of every candidate (w values each) in the
 * memory space (data[c][i][row][0..w) for c < k) and the file space (nd
 * dimensions: candidates, rows, w, as the dataset has them). */
static herr_t select_rows(const h5div_compare_batch *b, int i, hsize_t w, int nd, hid_t mspace,
                          hid_t fspace)
{
    const hsize_t k = (hsize_t)b->candidates, nrow = b->row_count;
    hsize_t mstart = (hsize_t)i * nrow * w, mstride = (hsize_t)b->ncolumns * nrow * w;
    hsize_t mcount = k, mblock = nrow * w;
    herr_t rc = H5Sselect_hyperslab(mspace, H5S_SELECT_SET, &mstart, &mstride, &mcount, &mblock);
    if (rc < 0 || !nd)
        return rc;
    hsize_t start[3] = {0, 0, 0}, count[3] = {k, nrow, w};
    if (k > 1 && b->two_d)
        start[1] = b->row_begin;
    else if (b->two_d)
        start[0] = b->row_begin, count[0] = nrow, count[1] = w;
    else if (k == 1)
        count[0] = w; /* (2,) or (B,) */
    else
        count[1] = w;
    return H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
}

/* The width *w of a row of a column of this kind (2 for an interval, B
 * for replicates, else 1) and the dimensions of its dataset: candidates,
 * rows, w, as the batch has them; returns their number. */
static int column_dims(const h5div_compare_batch *b, int kind, hsize_t *w, hsize_t dims[3])
{
    const int k = b->candidates;
    *w = kind == COL_CI          ? 2
         : kind == COL_REPS      ? (hsize_t)b->nrep
         : kind == COL_NULL_REPS ? (hsize_t)b->nnull
                                 : 1;
    int nd = 0;
    if (k > 1)
        dims[nd++] = (hsize_t)k;
    if (b->two_d)
        dims[nd++] = (hsize_t)b->rows;
    if (kind == COL_CI || kind == COL_REPS || kind == COL_NULL_REPS)
        dims[nd++] = *w;
    return nd;
}

/* The attributes of column col's dataset d: units, the method of a
 * p-value, the order of a Renyi divergence. Returns nonzero on failure. */
static int put_column_attrs(hid_t d, const h5div_compare_batch *b, const h5div_column *col,
                            int kind)
{
    char method[48];
    p_method(b, col, kind, method, sizeof method);
    int failed = h5div_put_string_attr(d, "units", kind == COL_P ? "1" : col->units) < 0;
    if (method[0])
        failed |= h5div_put_string_attr(d, "method", method) < 0;
    if (col->order >= 0)
        failed |= h5div_put_scalar_attr(d, "order", H5T_NATIVE_DOUBLE, &col->A) < 0;
    return failed;
}

/* Collective: write this rank's rows of column i of every candidate into
 * dataset d (file space fspace of nd dimensions, rows w wide); with failed
 * set, or when its own selection fails, the rank still takes part with
 * nothing selected. Returns nonzero on failure. */
static int write_column_rows(hid_t d, hid_t fspace, const h5div_compare_batch *b, int i, int kind,
                             hsize_t w, int nd, int failed)
{
    const int k = b->candidates;
    const double *const data_of[COL_KINDS] = {b->values, b->se,      b->ci,
                                              b->reps,   b->p_value, b->null_reps};
    /* Memory: data[c][i][0..row_count)[0..w) for c < k, a strided selection. */
    hsize_t nrow = b->row_count, total = (hsize_t)k * (hsize_t)b->ncolumns * (nrow ? nrow : 1) * w;
    hid_t mspace = H5Screate_simple(1, &total, NULL);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (mspace < 0 || dxpl < 0 || H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0)
        failed = 1;
    herr_t rc = !failed && nrow ? select_rows(b, i, w, nd, mspace, fspace) : 0;
    if (failed || !nrow || rc < 0) {
        failed |= rc < 0;
        if (mspace >= 0)
            H5Sselect_none(mspace);
        H5Sselect_none(fspace);
    }
    if (mspace < 0 || dxpl < 0 ||
        H5Dwrite(d, H5T_NATIVE_DOUBLE, mspace, fspace, dxpl, data_of[kind]) < 0)
        failed = 1;
    if (dxpl >= 0)
        H5Pclose(dxpl);
    if (mspace >= 0)
        H5Sclose(mspace);
    return failed;
}

/* Collective: write column i of every candidate, this rank's rows. The
 * dataset exists on every rank or on none before anything is written, and
 * a rank whose own selection failed still takes part in the write (with
 * nothing selected): the others wait for it inside H5Dwrite. */
static int write_column(MPI_Comm comm, hid_t g, const batch_out *o, int i, int kind)
{
    const h5div_compare_batch *b = o->b;
    hsize_t w, dims[3];
    const int nd = column_dims(b, kind, &w, dims);
    const h5div_column *col = &b->columns[i];
    char name[80];
    snprintf(name, sizeof name, "%s%s", col->name, col_suffix[kind]);
    hid_t fspace = nd ? H5Screate_simple(nd, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = fspace >= 0 ? H5Dcreate2(g, name, H5T_IEEE_F64LE, fspace, H5P_DEFAULT, H5P_DEFAULT,
                                       H5P_DEFAULT)
                          : H5I_INVALID_HID;
    if (any_failed(comm, d < 0)) {
        if (d >= 0)
            H5Dclose(d);
        if (fspace >= 0)
            H5Sclose(fspace);
        return -1;
    }
    int failed = put_column_attrs(d, b, col, kind);
    failed = write_column_rows(d, fspace, b, i, kind, w, nd, failed);
    if (H5Dclose(d) < 0)
        failed = 1;
    H5Sclose(fspace);
    return failed ? -1 : 0;
}

/* The attributes of a batch's group beyond the run's: its inputs, the
 * estimator, W1's bin width, the bootstrap's settings. */
static herr_t put_batch_attrs(hid_t g, const batch_out *o)
{
    const h5div_options *opt = o->opt;
    const h5div_batch_inputs *in = o->in;
    herr_t rc = 0;
    H5DIV_H5_TRY(rc, h5div_put_string_attr(g, "p", in->p_ref));
    if (in->q_refs && o->b->candidates > 1)
        H5DIV_H5_TRY(rc, put_string_array_attr(g, "q", in->q_refs, o->b->candidates));
    else if (in->q_refs)
        H5DIV_H5_TRY(rc, h5div_put_string_attr(g, "q", in->q_refs[0]));
    if (in->estimator) {
        H5DIV_H5_TRY(rc, h5div_put_string_attr(g, "estimator", in->estimator));
        if (!strcmp(in->estimator, "dirichlet"))
            H5DIV_H5_TRY(
                rc, h5div_put_scalar_attr(g, "dirichlet_a", H5T_NATIVE_DOUBLE, &in->dirichlet_a));
    }
    if (!strcmp(o->b->command, "compare") &&
        (opt->measures & H5DIV_MEASURE_BIT(H5DIV_WASSERSTEIN1)))
        H5DIV_H5_TRY(rc, h5div_put_scalar_attr(g, "bin_width", H5T_NATIVE_DOUBLE, &opt->bin_width));
    uint64_t boot = o->b->nrep, null = o->b->nnull, seed = opt->seed;
    if (boot) {
        H5DIV_H5_TRY(rc, h5div_put_scalar_attr(g, "bootstrap", H5T_NATIVE_UINT64, &boot));
        H5DIV_H5_TRY(rc, h5div_put_scalar_attr(g, "ci", H5T_NATIVE_DOUBLE, &opt->ci));
    }
    if (null)
        H5DIV_H5_TRY(rc, h5div_put_scalar_attr(g, "null", H5T_NATIVE_UINT64, &null));
    if (boot || null)
        H5DIV_H5_TRY(rc, h5div_put_scalar_attr(g, "seed", H5T_NATIVE_UINT64, &seed));
    return rc;
}

/* Every call below is collective (metadata and data of a parallel file):
 * every rank makes each one whatever its own earlier calls returned, and
 * the ranks agree before a step that depends on the one before. */
static int fill_batch_group(MPI_Comm comm, hid_t f, const batch_out *o, const char *created,
                            char *msg, size_t len)
{
    hid_t g;
    H5DIV_CHECK(h5div_result_group_create(comm, f, o->path, o->group, o->overwrite, &g, msg, len));
    int size;
    MPI_Comm_size(comm, &size);
    const h5div_run_attrs ra = {o->in->command,      created,   h5div_base_name(o->opt->base), size,
                                o->opt->pseudocount, o->elapsed};
    /* Attributes are metadata: every rank writes the same values. */
    herr_t rc = h5div_put_run_attrs(g, &ra);
    H5DIV_H5_TRY(rc, put_batch_attrs(g, o));
    /* A column's write may fail on one rank only (its own part of the data). */
    int failed = any_failed(comm, rc < 0);
    for (int i = 0; i < o->b->ncolumns && !failed; i++)
        for (int kind = 0; kind < COL_KINDS && !failed; kind++)
            if (col_has(o->b, i, kind))
                failed = any_failed(comm, write_column(comm, g, o, i, kind) < 0);
    if (H5Gclose(g) < 0)
        failed = 1;
    if (any_failed(comm, failed)) {
        h5div_set_error(msg, len, "cannot write the result datasets (%s:%s)", o->path, o->group);
        return H5DIV_EOUTPUT;
    }
    return H5DIV_OK;
}

static int batch_write_body(MPI_Comm comm, void *arg, char *msg, size_t len)
{
    batch_out *o = arg;
    /* Metadata must be the same on every rank: rank 0's clock decides. */
    H5DIV_MPI_CHECK(MPI_Bcast(&o->elapsed, 1, MPI_DOUBLE, 0, comm));
    h5div_temp_out t;
    hid_t f;
    const h5div_batch *b = o->b;
    uint64_t bytes = (uint64_t)b->candidates * (b->two_d ? b->rows : 1) * sizeof(double);
    const uint64_t per = 1 + (b->nrep ? 2 + (b->reps ? b->nrep : 0) : 0) +
                         (b->nnull ? 1 + (b->null_reps ? b->nnull : 0) : 0);
    bytes = (bytes * per + 4096) * (uint64_t)b->ncolumns;
    H5DIV_CHECK(
        h5div_temp_open_group(comm, o->path, o->group, o->overwrite, bytes, &t, &f, msg, len));
    int st = fill_batch_group(comm, f, o, t.created, msg, len);
    return h5div_temp_close(comm, o->path, &t, f, st, msg, len);
}

int h5div_write_batch(MPI_Comm comm, const char *path, const char *group, int overwrite,
                      const h5div_options *opt, const h5div_batch *b, const h5div_batch_inputs *in,
                      char *errmsg, size_t errlen)
{
    batch_out o = {path, group, overwrite, in->elapsed_seconds, opt, b, in};
    return h5div_io_collective(comm, batch_write_body, &o, errmsg, errlen);
}

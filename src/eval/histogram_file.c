/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div histogram: samples read in parallel by rows, binned with shared edges, reduced exactly and
 * written with the edges attached as an HDF5 dimension scale. */
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/histogram.h"
#include "io/io.h"
#include "par/par.h"

/* The cells (count, min, max) of one quantile selection pass on each rank. */
#define QSEL_BUDGET ((size_t)24 << 20)

enum { PASS_RANGE = 0, PASS_QSEL, PASS_BIN };

typedef struct hist_job {
    const h5div_histogram_spec *s;
    const h5div_options *opt;
    h5div_histogram_info *info;
    double t0;
    int n, opened, wopened, swept;
    h5div_dset d[H5DIV_HISTOGRAM_INPUTS_MAX], w[H5DIV_HISTOGRAM_INPUTS_MAX];
    h5div_sweep sw[H5DIV_HISTOGRAM_INPUTS_MAX];
    uint64_t nf; /* features d */
    int two_d;
    int cur;         /* input of the pass */
    int per_feature; /* edges (d, K+1) rather than (K+1,) */
    double *mn, *mx; /* [nf] range pass */
    h5div_qsel q;
    h5div_hist_edges ed;
    h5div_hist_rules rules;
    h5div_hist_counts c[H5DIV_HISTOGRAM_INPUTS_MAX];
    double *wbuf;
    size_t wcap;
} hist_job;

static const char *const mode_names[] = {"uniform", "log", "file", "quantile"};

static int nan_error(const hist_job *j, uint64_t flat, char *msg, size_t len)
{
    const char *ref = j->s->refs[j->cur];
    if (j->two_d)
        h5div_set_error(
            msg, len,
            "NaN in the samples; use --nan skip to count them (%s, row %llu, column %llu)", ref,
            (unsigned long long)(flat / j->nf), (unsigned long long)(flat % j->nf));
    else
        h5div_set_error(msg, len, "NaN in the samples; use --nan skip to count them (%s, row %llu)",
                        ref, (unsigned long long)flat);
    return H5DIV_EINPUT;
}

/* Read the weights of rows [r0, r1) of the current input into j->wbuf. */
static int read_weights(hist_job *j, uint64_t r0, uint64_t r1, char *msg, size_t len)
{
    size_t n = (size_t)(r1 - r0);
    if (n > j->wcap) {
        double *b = realloc(j->wbuf, n * sizeof *b);
        if (!b) {
            h5div_set_error(msg, len, "out of memory for %zu weights", n);
            return H5DIV_EINTERNAL;
        }
        j->wbuf = b;
        j->wcap = n;
    }
    h5div_dset *w = &j->w[j->cur];
    H5DIV_CHECK(h5div_dset_read(w, r0, n, j->wbuf, 0, msg, len));
    for (size_t i = 0; i < n; i++)
        if (!isfinite(j->wbuf[i])) {
            h5div_set_error(msg, len, "%s weight %g (%s, row %llu)",
                            isnan(j->wbuf[i]) ? "NaN" : "infinite", j->wbuf[i], w->ref,
                            (unsigned long long)(r0 + i));
            return H5DIV_EINPUT;
        }
    return H5DIV_OK;
}

static int hist_piece(void *ctx, int pass, uint64_t first, size_t n, double *const *v, char *msg,
                      size_t len)
{
    hist_job *j = ctx;
    const double *x = v[0];
    if (n == 0)
        return H5DIV_OK;
    if (pass == PASS_QSEL && (j->s->nan_skip || j->q.passes > 0)) {
        /* NaN is skipped by the selection, or was looked for in pass 1 */
        h5div_qsel_add(&j->q, x, n, first);
        return H5DIV_OK;
    }
    if (pass == PASS_RANGE || pass == PASS_QSEL) {
        const int log_edges = j->s->mode == H5DIV_EDGES_LOG;
        uint64_t col = first % j->nf;
        for (size_t i = 0; i < n; i++) {
            const uint64_t f = col;
            if (++col == j->nf)
                col = 0;
            const double y = x[i];
            if (isnan(y)) {
                if (!j->s->nan_skip)
                    return nan_error(j, first + i, msg, len);
                continue;
            }
            if (pass == PASS_RANGE && isfinite(y) && (!log_edges || y > 0.0)) {
                if (y < j->mn[f])
                    j->mn[f] = y;
                if (y > j->mx[f])
                    j->mx[f] = y;
            }
        }
        if (pass == PASS_QSEL)
            h5div_qsel_add(&j->q, x, n, first);
        return H5DIV_OK;
    }
    const double *w = NULL;
    uint64_t r0 = first / j->nf;
    if (j->s->weights) {
        uint64_t r1 = (first + n - 1) / j->nf + 1;
        H5DIV_CHECK(read_weights(j, r0, r1, msg, len));
        w = j->wbuf;
    }
    size_t i = h5div_hist_add(&j->ed, &j->rules, x, n, first, w, r0, &j->c[j->cur]);
    return i < n ? nan_error(j, first + i, msg, len) : H5DIV_OK;
}

/* Every input's pass, in input order; a NaN stops at the first input holding one. */
static int run_pass(MPI_Comm comm, hist_job *j, int pass, int only_first, char *msg, size_t len)
{
    for (int i = 0; i < (only_first ? 1 : j->n); i++) {
        j->cur = i;
        H5DIV_CHECK(h5div_sweep_run(comm, &j->sw[i], pass, 0, j->opt, hist_piece, j, msg, len));
    }
    return H5DIV_OK;
}

static int open_inputs(MPI_Comm comm, hist_job *j, char *msg, size_t len)
{
    const h5div_histogram_spec *s = j->s;
    for (int i = 0; i < j->n; i++) {
        H5DIV_CHECK(h5div_dset_open_batch(comm, s->refs[i], &j->d[i], msg, len));
        j->opened = i + 1;
        const h5div_dset *d = &j->d[i];
        int two_d = d->rows > 0;
        uint64_t nf = two_d ? d->cols : 1;
        if (i == 0) {
            j->two_d = two_d;
            j->nf = nf;
        } else if (two_d != j->two_d || nf != j->nf) {
            h5div_set_error(msg, len,
                            "inputs differ in their number of features: %llu%s vs %llu%s (%s, %s)",
                            (unsigned long long)j->nf, j->two_d ? "" : " (1-D)",
                            (unsigned long long)nf, two_d ? "" : " (1-D)", s->refs[0], s->refs[i]);
            return H5DIV_EINPUT;
        }
        j->info->n_samples[i] = two_d ? d->rows : d->bins;
    }
    for (int i = 0; s->weights && i < j->n; i++) {
        H5DIV_CHECK(h5div_dset_open(comm, s->weights[i], &j->w[i], msg, len));
        j->wopened = i + 1;
        if (j->w[i].bins != j->info->n_samples[i]) {
            h5div_set_error(msg, len, "weights have %llu values for %llu samples (%s, %s)",
                            (unsigned long long)j->w[i].bins,
                            (unsigned long long)j->info->n_samples[i], s->weights[i], s->refs[i]);
            return H5DIV_EINPUT;
        }
    }
    /* The memory bound is shared by the inputs' sweeps, which stay open
     * (and keep their shards when they fit) from the first pass to the last. */
    h5div_options o = *j->opt;
    o.memory_per_rank = j->opt->memory_per_rank / (size_t)j->n;
    if (o.memory_per_rank < 8 * sizeof(double))
        o.memory_per_rank = 8 * sizeof(double);
    for (int i = 0; i < j->n; i++) {
        h5div_dset *ds[1] = {&j->d[i]};
        H5DIV_CHECK(h5div_sweep_init(comm, &j->sw[i], ds, 1, 0, &o, msg, len));
        j->swept = i + 1;
    }
    return H5DIV_OK;
}

/* Edges from the global per-feature range (or --range). */
static int range_edges(MPI_Comm comm, hist_job *j, char *msg, size_t len)
{
    const h5div_histogram_spec *s = j->s;
    const int log_edges = s->mode == H5DIV_EDGES_LOG;
    const uint64_t k = s->bins;
    if (s->have_range) {
        j->ed.rows = 1;
    } else {
        j->per_feature = 1;
        j->ed.rows = j->nf;
        for (uint64_t f = 0; f < j->nf; f++) {
            j->mn[f] = INFINITY;
            j->mx[f] = -INFINITY;
        }
        H5DIV_CHECK(run_pass(comm, j, PASS_RANGE, 0, msg, len));
        H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, j->mn, (int)j->nf, MPI_DOUBLE, MPI_MIN, comm));
        H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, j->mx, (int)j->nf, MPI_DOUBLE, MPI_MAX, comm));
    }
    j->ed.k = k;
    j->ed.e = malloc(j->ed.rows * (k + 1) * sizeof(double));
    if (!j->ed.e) {
        h5div_set_error(msg, len, "out of memory for the edges");
        return H5DIV_EINTERNAL;
    }
    for (uint64_t r = 0; r < j->ed.rows; r++) {
        double lo = s->have_range ? s->lo : j->mn[r], hi = s->have_range ? s->hi : j->mx[r];
        if (!(lo <= hi)) {
            h5div_set_error(
                msg, len,
                "no finite%s values to take the range from; give --range (%s, feature %llu)",
                log_edges ? " positive" : "", s->refs[0], (unsigned long long)r);
            return H5DIV_EINPUT;
        }
        if (lo == hi)
            h5div_hist_widen(log_edges, &lo, &hi);
        double *e = j->ed.e + r * (k + 1);
        if (log_edges)
            h5div_hist_geomspace(lo, hi, k, e);
        else
            h5div_hist_linspace(lo, hi, k, e);
        if (!h5div_hist_increasing(e, k + 1)) {
            h5div_set_error(msg, len,
                            "range %.17g:%.17g is too narrow for %llu distinct bins (feature %llu)",
                            lo, hi, (unsigned long long)k, (unsigned long long)r);
            return H5DIV_EINPUT;
        }
    }
    j->ed.uniform = !log_edges;
    return H5DIV_OK;
}

/* Explicit edges (K+1,) or (d, K+1), read whole by every rank. */
static int file_edges(MPI_Comm comm, hist_job *j, char *msg, size_t len)
{
    h5div_dset e;
    H5DIV_CHECK(h5div_dset_open_batch(comm, j->s->edges_ref, &e, msg, len));
    uint64_t rows = e.rows ? e.rows : 1, cols = e.rows ? e.cols : e.bins;
    int st = H5DIV_OK;
    if (cols < 2) {
        h5div_set_error(msg, len, "edges need at least 2 values per row, got %llu (%s)",
                        (unsigned long long)cols, e.ref);
        st = H5DIV_EINPUT;
    } else if (e.rows && rows != j->nf) {
        h5div_set_error(msg, len, "edges have %llu rows for %llu features (%s)",
                        (unsigned long long)rows, (unsigned long long)j->nf, e.ref);
        st = H5DIV_EINPUT;
    }
    if (st == H5DIV_OK) {
        j->per_feature = e.rows > 0;
        j->ed.rows = rows;
        j->ed.k = cols - 1;
        j->ed.e = malloc(rows * cols * sizeof(double));
        if (!j->ed.e) {
            h5div_set_error(msg, len, "out of memory for the edges (%s)", e.ref);
            st = H5DIV_EINTERNAL;
        }
    }
    if (st == H5DIV_OK)
        st = h5div_dset_read(&e, 0, (size_t)(rows * cols), j->ed.e, 0, msg, len);
    for (uint64_t r = 0; st == H5DIV_OK && r < rows; r++)
        if (!h5div_hist_increasing(j->ed.e + r * cols, cols)) {
            h5div_set_error(msg, len, "edges must be finite and strictly increasing (%s%s%llu)",
                            e.ref, e.rows ? ", row " : "", (unsigned long long)(e.rows ? r : 0));
            if (!e.rows)
                h5div_set_error(msg, len, "edges must be finite and strictly increasing (%s)",
                                e.ref);
            st = H5DIV_EINPUT;
        }
    h5div_dset_close(&e);
    j->ed.uniform = 0;
    return h5div_par_agree(comm, st, msg, len);
}

static void cell_op(void *in, void *inout, int *n, MPI_Datatype *type)
{
    (void)type;
    h5div_qsel_merge(inout, in, (size_t)*n);
}

/* Collective: the cells of every rank combined (sums of counts, min and
 * max of keys; exact, so any reduction order gives the same). */
static int reduce_cells(MPI_Comm comm, h5div_qsel_cell *cell, int n)
{
    static h5div_par_op cells;
    H5DIV_CHECK(h5div_par_op_get(&cells, cell_op, 3, MPI_UINT64_T));
    H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, cell, n, cells.type, cells.op, comm));
    return H5DIV_OK;
}

/* Equal-frequency edges of the first input by radix selection: each pass
 * reduces a histogram of the next bits of the values' keys. */
static int quantile_edges(MPI_Comm comm, hist_job *j, char *msg, size_t len)
{
    const uint64_t k = j->s->bins, nf = j->nf;
    if (h5div_qsel_init(&j->q, nf, k, QSEL_BUDGET) != 0) {
        h5div_set_error(msg, len, "out of memory for the quantile selection");
        return H5DIV_EINTERNAL;
    }
    for (;;) {
        int more = h5div_qsel_begin(&j->q);
        H5DIV_CHECK(h5div_par_agree(comm, more < 0 ? H5DIV_EINTERNAL : H5DIV_OK, msg, len));
        if (!more)
            break;
        H5DIV_CHECK(run_pass(comm, j, PASS_QSEL, 1, msg, len));
        H5DIV_CHECK(reduce_cells(comm, j->q.cell, (int)(j->q.ng << j->q.bits)));
        if (h5div_qsel_end(&j->q) != 0) {
            uint64_t f = 0;
            while (f + 1 < nf && j->q.n[f])
                f++;
            h5div_set_error(msg, len, "no values (all NaN) to take quantile edges from (%s%s%llu)",
                            j->s->refs[0], j->two_d ? ", column " : "", (unsigned long long)f);
            if (!j->two_d)
                h5div_set_error(msg, len, "no values (all NaN) to take quantile edges from (%s)",
                                j->s->refs[0]);
            return H5DIV_EINPUT;
        }
    }
    j->per_feature = 1;
    j->ed.rows = nf;
    j->ed.k = k;
    j->ed.uniform = 0;
    j->ed.e = malloc(nf * (k + 1) * sizeof(double));
    if (!j->ed.e) {
        h5div_set_error(msg, len, "out of memory for the edges");
        return H5DIV_EINTERNAL;
    }
    for (uint64_t f = 0; f < nf; f++)
        h5div_qsel_edges(&j->q, f, j->ed.e + f * (k + 1));
    if (nf == 1) {
        j->ed.k = h5div_hist_merge_ties(j->ed.e, k);
        j->info->merged = k - j->ed.k;
    } else {
        for (uint64_t f = 0; f < nf; f++) {
            const double *e = j->ed.e + f * (k + 1);
            for (uint64_t i = 0; i < k; i++)
                if (e[i] == e[i + 1]) {
                    j->info->tied_features++;
                    break;
                }
        }
    }
    return H5DIV_OK;
}

static int reduce_counts(MPI_Comm comm, hist_job *j, h5div_hist_counts *c)
{
    const uint64_t nb = c->d * c->k;
    H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, c->count, (int)nb, MPI_UINT64_T, MPI_SUM, comm));
    H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, c->under, (int)c->d, MPI_UINT64_T, MPI_SUM, comm));
    H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, c->over, (int)c->d, MPI_UINT64_T, MPI_SUM, comm));
    H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, c->nan, (int)c->d, MPI_UINT64_T, MPI_SUM, comm));
    if (c->sumw) {
        H5DIV_CHECK(h5div_par_sum_acc(comm, c->sumw, (int)nb));
        H5DIV_CHECK(h5div_par_sum_acc(comm, c->sumw2, (int)nb));
    }
    (void)j;
    return H5DIV_OK;
}

/* ---- writing ---- */

/* A dataset of `rank` dims written whole by rank 0 in one collective call. */
static hid_t put_dataset(hid_t g, const char *name, hid_t ftype, hid_t mtype, int rank,
                         const hsize_t *dims, const void *buf, int me)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t d = space >= 0 ? H5Dcreate2(g, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                         : H5I_INVALID_HID;
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    herr_t rc = d >= 0 && dxpl >= 0 ? H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) : -1;
    hid_t mspace = rc >= 0 ? H5Scopy(space) : H5I_INVALID_HID;
    if (mspace >= 0 && me != 0) {
        H5Sselect_none(space);
        H5Sselect_none(mspace);
    }
    if (mspace >= 0)
        rc = H5Dwrite(d, mtype, mspace, space, dxpl, buf);
    else
        rc = -1;
    if (mspace >= 0)
        H5Sclose(mspace);
    if (dxpl >= 0)
        H5Pclose(dxpl);
    if (space >= 0)
        H5Sclose(space);
    if (rc < 0 && d >= 0) {
        H5Dclose(d);
        return H5I_INVALID_HID;
    }
    return d;
}

/* Attribute of uint64 counts: a scalar for 1-D input, else (d,). */
static herr_t put_counts_attr(hid_t loc, const char *name, const uint64_t *v, uint64_t n, int array)
{
    hsize_t dim = n;
    hid_t space = array ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, H5T_STD_U64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a >= 0 ? H5Awrite(a, H5T_NATIVE_UINT64, v) : -1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    return rc;
}

/* The edges: (K+1,) shared, or (d, K+1) per feature, as the dimension scale
 * of the histograms. */
static herr_t write_edges(hid_t g, const hist_job *j, int me, hid_t *ed)
{
    const uint64_t k = j->ed.k;
    hsize_t edims[2] = {j->ed.rows, k + 1};
    int erank = j->two_d && j->per_feature ? 2 : 1;
    if (erank == 1)
        edims[0] = k + 1;
    *ed = put_dataset(g, "edges", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, erank, edims, j->ed.e, me);
    herr_t rc = *ed >= 0 ? 0 : -1;
    if (rc >= 0)
        rc = H5DSset_scale(*ed, "edges");
    if (rc >= 0)
        rc = h5div_put_string_attr(*ed, "edge_mode", mode_names[j->s->mode]);
    return rc;
}

/* The result group's attributes: the run's, then the binning's. */
static herr_t put_group_attrs(hid_t g, const hist_job *j, const char *created, int size)
{
    const h5div_histogram_spec *s = j->s;
    const h5div_run_attrs ra = {s->command, created, "2", size, 0.0, MPI_Wtime() - j->t0};
    int64_t kk = (int64_t)j->ed.k;
    herr_t rc = h5div_put_run_attrs(g, &ra);
    H5DIV_H5_TRY(rc, h5div_put_string_attr(g, "edge_mode", mode_names[s->mode]));
    H5DIV_H5_TRY(rc, h5div_put_scalar_attr(g, "bins", H5T_NATIVE_INT64, &kk));
    H5DIV_H5_TRY(rc, h5div_put_string_attr(g, "outside", s->outside_bins ? "bins" : "count"));
    H5DIV_H5_TRY(rc, h5div_put_string_attr(g, "nan", s->nan_skip ? "skip" : "error"));
    if (s->mode == H5DIV_EDGES_FILE)
        H5DIV_H5_TRY(rc, h5div_put_string_attr(g, "edges_source", s->edges_ref));
    if (s->mode == H5DIV_EDGES_QUANTILE)
        H5DIV_H5_TRY(rc, h5div_put_string_attr(g, "quantile_source", s->refs[0]));
    return rc;
}

/* Dataset `name` of the histograms' shape, float64 v (weighted) or uint64
 * counts, with edges ed attached; its id, or a negative one. */
static hid_t put_hist(hid_t g, hid_t ed, const hist_job *j, const char *name, const double *v,
                      const uint64_t *counts, int me)
{
    const int hrank = j->two_d ? 2 : 1;
    hsize_t hdims[2] = {j->two_d ? j->nf : j->ed.k, j->ed.k};
    hid_t h = v ? put_dataset(g, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, hrank, hdims, v, me)
                : put_dataset(g, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, hrank, hdims, counts, me);
    if (h >= 0 && H5DSattach_scale(h, ed, (unsigned)(hrank - 1)) < 0) {
        H5Dclose(h);
        return H5I_INVALID_HID;
    }
    return h;
}

/* Input i's histogram (with its attributes) and, when weighted, its sum of
 * squared weights NAME_sumw2; buf holds nf * k doubles when weighted. */
static herr_t write_hist(hid_t g, hid_t ed, const hist_job *j, int i, double *buf, int me)
{
    const h5div_histogram_spec *s = j->s;
    const h5div_hist_counts *c = &j->c[i];
    const uint64_t nb = j->nf * j->ed.k, nf = j->nf;
    for (uint64_t b = 0; s->weights && b < nb; b++)
        buf[b] = h5div_acc_round(&c->sumw[b]);
    hid_t h = put_hist(g, ed, j, s->names[i], s->weights ? buf : NULL, c->count, me);
    if (h < 0)
        return -1;
    uint64_t ns = j->info->n_samples[i];
    herr_t rc = 0;
    H5DIV_H5_TRY(rc, h5div_put_string_attr(h, "source", s->refs[i]));
    H5DIV_H5_TRY(rc, h5div_put_scalar_attr(h, "n_samples", H5T_NATIVE_UINT64, &ns));
    H5DIV_H5_TRY(rc, put_counts_attr(h, "underflow", c->under, nf, j->two_d));
    H5DIV_H5_TRY(rc, put_counts_attr(h, "overflow", c->over, nf, j->two_d));
    H5DIV_H5_TRY(rc, put_counts_attr(h, "nan", c->nan, nf, j->two_d));
    if (s->weights)
        H5DIV_H5_TRY(rc, h5div_put_string_attr(h, "weights", s->weights[i]));
    H5Dclose(h);
    if (rc < 0 || !s->weights)
        return rc;
    char name[H5DIV_REF_MAX];
    snprintf(name, sizeof name, "%s_sumw2", s->names[i]);
    for (uint64_t b = 0; b < nb; b++)
        buf[b] = h5div_acc_round(&c->sumw2[b]);
    if ((h = put_hist(g, ed, j, name, buf, NULL, me)) < 0)
        return -1;
    H5DIV_H5_TRY(rc, h5div_put_string_attr(h, "source", s->refs[i]));
    H5DIV_H5_TRY(rc, h5div_put_string_attr(h, "weights", s->weights[i]));
    H5Dclose(h);
    return rc;
}

static int write_output(MPI_Comm comm, hist_job *j, char *msg, size_t len)
{
    const h5div_histogram_spec *s = j->s;
    int me, size;
    H5DIV_MPI_CHECK(MPI_Comm_rank(comm, &me));
    H5DIV_MPI_CHECK(MPI_Comm_size(comm, &size));
    h5div_temp_out t;
    hid_t f, g, ed = H5I_INVALID_HID;
    /* Room for the edges and every histogram (with sumw2 when weighted),
     * reserved before any HDF5 write. */
    const uint64_t nb = j->nf * j->ed.k;
    uint64_t vals = j->ed.rows * (j->ed.k + 1) + (uint64_t)j->n * nb * (s->weights ? 2u : 1u);
    H5DIV_CHECK(h5div_temp_open_group(comm, s->out_file, s->out_group, s->overwrite,
                                      vals * sizeof(double), &t, &f, msg, len));
    /* Only a result group (or an empty one) is replaced, and only with --overwrite. */
    int st =
        h5div_result_group_create(comm, f, s->out_file, s->out_group, s->overwrite, &g, msg, len);
    herr_t rc = 0;
    double *buf = NULL;
    if (st == H5DIV_OK) {
        rc = write_edges(g, j, me, &ed);
        H5DIV_H5_TRY(rc, put_group_attrs(g, j, t.created, size));
    }
    if (rc >= 0 && st == H5DIV_OK && s->weights &&
        !(buf = malloc((size_t)(nb > 0 ? nb : 1) * sizeof *buf))) {
        h5div_set_error(msg, len, "out of memory for the output");
        st = H5DIV_EINTERNAL;
    }
    for (int i = 0; rc >= 0 && st == H5DIV_OK && i < j->n; i++)
        rc = write_hist(g, ed, j, i, buf, me);
    free(buf);
    if (rc < 0 && st == H5DIV_OK) {
        h5div_set_error(msg, len, "cannot write the histograms (%s:%s)", s->out_file, s->out_group);
        st = H5DIV_EOUTPUT;
    }
    if (ed >= 0)
        H5Dclose(ed);
    if (g >= 0)
        H5Gclose(g);
    return h5div_temp_close(comm, s->out_file, &t, f, st, msg, len);
}

static int histogram_body(MPI_Comm comm, void *arg, char *msg, size_t len)
{
    hist_job *j = arg;
    const h5div_histogram_spec *s = j->s;
    H5DIV_CHECK(h5div_agree_options(comm, j->opt, msg, len));
    H5DIV_CHECK(open_inputs(comm, j, msg, len));
    j->mn = malloc(j->nf * sizeof *j->mn);
    j->mx = malloc(j->nf * sizeof *j->mx);
    int ok = j->mn && j->mx;
    if (!ok)
        h5div_set_error(msg, len, "out of memory for %llu features", (unsigned long long)j->nf);
    H5DIV_CHECK(h5div_par_agree(comm, ok ? H5DIV_OK : H5DIV_EINTERNAL, msg, len));
    int st;
    switch (s->mode) {
    case H5DIV_EDGES_FILE: st = file_edges(comm, j, msg, len); break;
    case H5DIV_EDGES_QUANTILE: st = quantile_edges(comm, j, msg, len); break;
    default: st = range_edges(comm, j, msg, len); break;
    }
    H5DIV_CHECK(st);
    if (h5div_hist_edges_prepare(&j->ed) != 0)
        ok = 0;
    for (int i = 0; ok && i < j->n; i++)
        ok = h5div_hist_counts_init(&j->c[i], j->nf, j->ed.k, s->weights != NULL) == 0;
    if (!ok)
        h5div_set_error(msg, len, "out of memory for %llu x %llu bins", (unsigned long long)j->nf,
                        (unsigned long long)j->ed.k);
    H5DIV_CHECK(h5div_par_agree(comm, ok ? H5DIV_OK : H5DIV_EINTERNAL, msg, len));
    j->rules.outside_bins = s->outside_bins;
    j->rules.nan_skip = s->nan_skip;
    H5DIV_CHECK(run_pass(comm, j, PASS_BIN, 0, msg, len));
    for (int i = 0; i < j->n; i++) {
        H5DIV_CHECK(reduce_counts(comm, j, &j->c[i]));
        for (uint64_t f = 0; f < j->nf; f++) {
            j->info->underflow[i] += j->c[i].under[f];
            j->info->overflow[i] += j->c[i].over[f];
            j->info->nan[i] += j->c[i].nan[f];
        }
    }
    j->info->two_d = j->two_d;
    j->info->features = j->nf;
    j->info->bins = j->ed.k;
    return write_output(comm, j, msg, len);
}

int h5div_histogram_files(MPI_Comm comm, const h5div_histogram_spec *s, const h5div_options *opt,
                          h5div_histogram_info *info, char *errmsg, size_t errlen)
{
    hist_job *j = calloc(1, sizeof *j);
    if (!j) {
        h5div_set_error(errmsg, errlen, "out of memory");
        return H5DIV_EINTERNAL;
    }
    memset(info, 0, sizeof *info);
    j->s = s;
    j->opt = opt;
    j->info = info;
    j->n = s->n;
    j->t0 = MPI_Wtime();
    int st;
    if (s->n < 1 || s->n > H5DIV_HISTOGRAM_INPUTS_MAX) {
        h5div_set_error(errmsg, errlen, "between 1 and %d inputs can be binned at once (%d given)",
                        H5DIV_HISTOGRAM_INPUTS_MAX, s->n);
        st = H5DIV_EUSAGE;
    } else {
        st = h5div_io_collective(comm, histogram_body, j, errmsg, errlen);
    }
    for (int i = 0; i < j->swept; i++)
        h5div_sweep_free(&j->sw[i]);
    for (int i = 0; i < j->opened; i++)
        h5div_dset_close(&j->d[i]);
    for (int i = 0; i < j->wopened; i++)
        h5div_dset_close(&j->w[i]);
    for (int i = 0; i < j->n && i < H5DIV_HISTOGRAM_INPUTS_MAX; i++)
        h5div_hist_counts_free(&j->c[i]);
    h5div_qsel_free(&j->q);
    free(j->ed.e);
    free(j->ed.norm);
    free(j->mn);
    free(j->mx);
    free(j->wbuf);
    free(j);
    return st;
}

/* ---- edges attached to histograms, for compare's wasserstein1 ---- */

typedef struct scale_read {
    double *e;
    uint64_t rows, cols;
    int st;
} scale_read;

static herr_t read_scale(hid_t did, unsigned dim, hid_t sid, void *arg)
{
    (void)did;
    (void)dim;
    scale_read *r = arg;
    hid_t space = H5Dget_space(sid);
    int nd = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    hsize_t dims[2] = {0, 0};
    if (nd == 1 || nd == 2)
        H5Sget_simple_extent_dims(space, dims, NULL);
    if (space >= 0)
        H5Sclose(space);
    if (nd != 1 && nd != 2) {
        r->st = -1;
        return 1;
    }
    r->rows = nd == 2 ? dims[0] : 1;
    r->cols = nd == 2 ? dims[1] : dims[0];
    r->e = malloc((size_t)(r->rows * r->cols > 0 ? r->rows * r->cols : 1) * sizeof *r->e);
    if (!r->e || H5Dread(sid, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, r->e) < 0)
        r->st = -1;
    return 1; /* the first scale of the dimension */
}

/* The edges attached to the last dimension of d as a dimension scale:
 * *e NULL when there are none. Not collective (the same on every rank). */
static int attached_edges(const h5div_dset *d, scale_read *r, char *msg, size_t len)
{
    memset(r, 0, sizeof *r);
    int rank = d->rows ? 2 : 1;
    htri_t has = H5Aexists(d->dset, "DIMENSION_LIST");
    if (has <= 0 || H5DSget_num_scales(d->dset, (unsigned)(rank - 1)) <= 0)
        return H5DIV_OK;
    int idx = 0;
    if (H5DSiterate_scales(d->dset, (unsigned)(rank - 1), &idx, read_scale, r) < 0 || r->st) {
        free(r->e);
        r->e = NULL;
        h5div_set_error(msg, len, "cannot read the edges attached to the histogram (%s)", d->ref);
        return H5DIV_EINPUT;
    }
    const uint64_t rows = d->rows ? d->rows : 1, bins = d->rows ? d->cols : d->bins;
    if (r->e && (r->cols != bins + 1 || (r->rows != 1 && r->rows != rows))) {
        h5div_set_error(
            msg, len, "attached edges of shape (%llu, %llu) do not fit %llu rows of %llu bins (%s)",
            (unsigned long long)r->rows, (unsigned long long)r->cols, (unsigned long long)rows,
            (unsigned long long)bins, d->ref);
        free(r->e);
        r->e = NULL;
        return H5DIV_EINPUT;
    }
    return H5DIV_OK;
}

int h5div_w1_positions(MPI_Comm comm, h5div_dset *const *d, int nd, double **gap,
                       uint64_t *gap_rows, char *msg, size_t len)
{
    *gap = NULL;
    *gap_rows = 0;
    scale_read r0, r;
    int st = attached_edges(d[0], &r0, msg, len);
    for (int i = 1; st == H5DIV_OK && r0.e && i < nd; i++) {
        st = attached_edges(d[i], &r, msg, len);
        if (st == H5DIV_OK && r.e &&
            (r.rows != r0.rows || memcmp(r.e, r0.e, r.rows * r.cols * sizeof(double)) != 0)) {
            h5div_set_error(msg, len, "histograms have different attached edges (%s, %s)",
                            d[0]->ref, d[i]->ref);
            st = H5DIV_EINPUT;
        }
        free(r.e);
    }
    if (st == H5DIV_OK && r0.e) {
        /* positions: the bin centres (e[i] + e[i+1]) / 2; gaps between them */
        const uint64_t k = r0.cols - 1, ng = k > 1 ? k - 1 : 1;
        *gap = malloc((size_t)(r0.rows * ng) * sizeof **gap);
        if (!*gap) {
            h5div_set_error(msg, len, "out of memory for the bin positions");
            st = H5DIV_EINTERNAL;
        }
        for (uint64_t row = 0; st == H5DIV_OK && row < r0.rows; row++) {
            const double *e = r0.e + row * r0.cols;
            for (uint64_t i = 0; i + 1 < k; i++)
                (*gap)[row * ng + i] = (e[i + 1] + e[i + 2]) / 2 - (e[i] + e[i + 1]) / 2;
        }
        *gap_rows = r0.rows;
    }
    free(r0.e);
    st = h5div_par_agree(comm, st, msg, len);
    if (st != H5DIV_OK) {
        free(*gap);
        *gap = NULL;
    }
    return st;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* File-level compare of one reference against k candidates, 1-D or one histogram per row. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "par/par.h"

void h5div_where(uint64_t bin, uint64_t cols, char *buf, size_t len)
{
    if (cols)
        snprintf(buf, len, "row %llu, bin %llu", (unsigned long long)(bin / cols),
                 (unsigned long long)(bin % cols));
    else
        snprintf(buf, len, "bin %llu", (unsigned long long)bin);
}

int h5div_bad_value(double x, uint64_t bin, uint64_t cols, const char *ref, char *msg, size_t len)
{
    char where[96];
    h5div_where(bin, cols, where, sizeof where);
    const char *what = isnan(x) ? "NaN" : isinf(x) ? "infinite" : "negative";
    h5div_set_error(msg, len, "%s value %g in histogram (%s, %s)", what, x, ref, where);
    return H5DIV_EINPUT;
}

int h5div_check_values(const double *v, size_t n, uint64_t first_bin, uint64_t cols,
                       const char *ref, char *msg, size_t len)
{
    size_t i = h5div_first_invalid(v, n);
    return i == n ? H5DIV_OK : h5div_bad_value(v[i], first_bin + i, cols, ref, msg, len);
}

#define NO_ROW UINT64_MAX

/* One evaluation: P = dataset 0 against candidates 1..k, row by row. The
 * rows are split over the ranks by whole blocks (see h5div_grid_split), so
 * a rank holds whole rows plus at most a partial first and last one. Rows
 * that span ranks ("slot" rows, at most ranks - 1 of them) have their sums
 * combined among the ranks that hold them; every other row is finished
 * where it lies. */
typedef struct cmp_job {
    const h5div_options *opt;
    const h5div_sweep *sw; /* its lo_of: remainders of 64-bit integers of the piece */
    const char *ref[H5DIV_SWEEP_MAX];
    int k, nd, two_d;
    h5div_term_params tp;
    int w1;
    const double *gap; /* distances between attached bin centres, or NULL */
    uint64_t gap_rows; /* 1: shared by every row */
    h5div_grid g;
    h5div_rows rw;           /* rows touched, owned and shared */
    /* pass 0: totals */
    uint64_t cur_row;
    h5div_acc *cur_tot; /* [nd] */
    double *row_tot;    /* [row - rw.lo][nd][3]: total as hi + lo + lo2 */
    h5div_acc *slot_tot; /* [parity][nd]: totals of this rank's shared rows */
    h5div_acc *pfx0;     /* [nd]: sums of the first row on the ranks before this one */
    /* pass 1: terms */
    h5div_norm *nm;                /* [k] of the row in progress */
    h5div_compare_partial *part;   /* [k] of the row in progress */
    h5div_compare_partial *slot_part; /* [parity][k] */
    h5div_acc *pfx;                /* [nd]: prefix sums of the row in progress */
    /* results */
    int ncols;
    h5div_column cols[H5DIV_COMPARE_MAX_COLUMNS];
    double *values; /* [k][ncols][row - own0] */
} cmp_job;

static void flush_totals(cmp_job *j)
{
    if (j->cur_row == NO_ROW)
        return;
    int s = h5div_rows_shared(&j->rw, j->cur_row);
    double *t = j->row_tot + (j->cur_row - j->rw.lo) * (uint64_t)j->nd * 3;
    for (int d = 0; d < j->nd; d++) {
        if (s >= 0)
            j->slot_tot[(size_t)(s % 2) * (size_t)j->nd + (size_t)d] = j->cur_tot[d];
        else
            h5div_acc_round3(&j->cur_tot[d], &t[3 * d], &t[3 * d + 1], &t[3 * d + 2]);
    }
    j->cur_row = NO_ROW;
}

/* Store the finished measures of (row, candidate c) in the result columns. */
static void put_values(cmp_job *j, uint64_t row, int c, const h5div_compare_result *res)
{
    uint64_t nown = j->rw.own1 - j->rw.own0;
    for (int i = 0; i < j->ncols; i++) {
        const h5div_column *col = &j->cols[i];
        double v = col->order < 0 ? res->value[col->measure]
                   : col->measure == H5DIV_RENYI_PQ ? res->renyi_pq[col->order]
                                                    : res->renyi_qp[col->order];
        j->values[((uint64_t)c * (uint64_t)j->ncols + (uint64_t)i) * nown + (row - j->rw.own0)] = v;
    }
}

static void finish_partial(cmp_job *j, uint64_t row, int c, const h5div_compare_partial *part)
{
    double nats[H5DIV_T_COUNT] = {0};
    for (int t = 0; t < H5DIV_T_COUNT; t++)
        if (j->tp.mask & H5DIV_TBIT(t))
            nats[t] = h5div_acc_round(&part->acc[t]);
    int64_t counts[2] = {part->p_without_q, part->q_without_p};
    h5div_compare_result res;
    h5div_compare_finish_sums(nats, part->win, counts, part->ks, j->opt, &res);
    put_values(j, row, c, &res);
}

static void flush_terms(cmp_job *j)
{
    if (j->cur_row == NO_ROW)
        return;
    int s = h5div_rows_shared(&j->rw, j->cur_row);
    for (int c = 0; c < j->k; c++) {
        if (s >= 0)
            j->slot_part[(size_t)(s % 2) * (size_t)j->k + (size_t)c] = j->part[c];
        else
            finish_partial(j, j->cur_row, c, &j->part[c]);
    }
    j->cur_row = NO_ROW;
}

static void start_row_terms(cmp_job *j, uint64_t row, int partials)
{
    const double *t = j->row_tot + (row - j->rw.lo) * (uint64_t)j->nd * 3;
    for (int c = 0; c < j->k; c++) {
        h5div_norm_init3(&j->nm[c], t[0], t[1], t[2], t[3 * (c + 1)], t[3 * (c + 1) + 1],
                         t[3 * (c + 1) + 2], j->opt->pseudocount);
        if (partials)
            h5div_compare_partial_init(&j->part[c], j->tp.mask);
    }
    if (j->w1 && partials)
        for (int d = 0; d < j->nd; d++) {
            /* A row that began on an earlier rank continues its prefix sums. */
            if (row == j->rw.lo && h5div_rows_shared(&j->rw, row) >= 0)
                j->pfx[d] = j->pfx0[d];
            else
                h5div_acc_init(&j->pfx[d]);
        }
    j->cur_row = row;
}

/* The gaps of row `row` from column c, or NULL for bare histograms. */
static const double *row_gap(const cmp_job *j, uint64_t row, uint64_t c)
{
    if (!j->gap)
        return NULL;
    const uint64_t ng = j->g.cols > 1 ? j->g.cols - 1 : 1;
    return j->gap + (j->gap_rows > 1 ? row : 0) * ng + c;
}

/* A row of a single block: its block sums are the sums, no accumulator. */
/* The remainders of dataset d's values from v[d] + off, or NULL. */
static const double *lo_at(const cmp_job *j, int d, size_t off)
{
    return j->sw->lo_of[d] ? j->sw->lo_of[d] + off : NULL;
}

static void short_row(cmp_job *j, uint64_t row, double *const *v, size_t off, size_t e)
{
    start_row_terms(j, row, 0);
    static const double zero[2] = {0.0, 0.0};
    for (int c = 0; c < j->k; c++) {
        double sums[H5DIV_T_COUNT] = {0};
        int32_t win[2 * H5DIV_RENYI_MAX];
        int64_t counts[2] = {0, 0};
        double ks = 0.0;
        const double *xl = lo_at(j, 0, off), *yl = lo_at(j, 1 + c, off);
        h5div_compare_block_lo(v[0] + off, v[1 + c] + off, xl, yl, e, &j->nm[c], &j->tp, sums,
                               win, counts);
        if (j->w1)
            sums[H5DIV_T_W1] = h5div_w1_block_gap_lo(v[0] + off, v[1 + c] + off, xl, yl, e, e - 1,
                                                     &j->nm[c], zero, zero, NULL, &ks,
                                                     row_gap(j, row, 0));
        h5div_compare_result res;
        h5div_compare_finish_sums(sums, win, counts, ks, j->opt, &res);
        put_values(j, row, c, &res);
    }
    j->cur_row = NO_ROW;
}

/* The blocks of one row segment [c0, c0 + n) of `row` (c0 on a block boundary). */
static void segment_terms(cmp_job *j, uint64_t row, uint64_t c0, double *const *v, size_t off,
                          size_t n)
{
    const double alpha = j->opt->pseudocount;
    if (row != j->cur_row) {
        flush_terms(j);
        start_row_terms(j, row, 1);
    }
    for (size_t b = 0; b < n; b += H5DIV_BLOCK_BINS) {
        size_t e = n - b < H5DIV_BLOCK_BINS ? n - b : H5DIV_BLOCK_BINS;
        size_t nw = c0 + b + e == j->g.cols ? e - 1 : e; /* not the row's last bin */
        const double *x = v[0] + off + b, *xl = lo_at(j, 0, off + b);
        double px[2] = {0.0, 0.0};
        if (j->w1)
            h5div_acc_round2(&j->pfx[0], &px[0], &px[1]);
        for (int c = 0; c < j->k; c++) {
            const double *y = v[1 + c] + off + b, *yl = lo_at(j, 1 + c, off + b);
            h5div_compare_partial *part = &j->part[c];
            double sums[H5DIV_T_COUNT];
            int32_t win[2 * H5DIV_RENYI_MAX];
            int64_t counts[2] = {0, 0};
            h5div_compare_block_lo(x, y, xl, yl, e, &j->nm[c], &j->tp, sums, win, counts);
            h5div_compare_partial_add(part, &j->tp, sums, win, counts);
            if (j->w1) {
                double py[2], dp = 0.0;
                h5div_acc_round2(&j->pfx[1 + c], &py[0], &py[1]);
                if (j->nm[c].near_eq) { /* the prefix sums' difference exactly, rounded once */
                    h5div_acc t = j->pfx[0];
                    h5div_acc_sub(&t, &j->pfx[1 + c]);
                    dp = h5div_acc_round(&t);
                }
                h5div_acc_add(&part->acc[H5DIV_T_W1],
                              h5div_w1_block_gap_lo(x, y, xl, yl, e, nw, &j->nm[c], px, py, &dp,
                                                    &part->ks, row_gap(j, row, c0 + b)));
                h5div_total_block_lo(y, yl, e, alpha, &j->pfx[1 + c]);
            }
        }
        if (j->w1)
            h5div_total_block_lo(x, xl, e, alpha, &j->pfx[0]);
    }
}

enum { PASS_TOTALS = 0, PASS_TERMS };

static int compare_piece(void *ctx, int pass, uint64_t first_bin, size_t n, double *const *v,
                         char *msg, size_t len)
{
    cmp_job *j = ctx;
    const uint64_t cols = j->g.cols, end = first_bin + n;
    for (uint64_t pos = first_bin; pos < end;) {
        uint64_t row = pos / cols, c0 = pos % cols;
        uint64_t seg_end = (row + 1) * cols < end ? (row + 1) * cols : end;
        size_t off = (size_t)(pos - first_bin), m = (size_t)(seg_end - pos);
        if (pass == PASS_TOTALS) {
            if (row != j->cur_row) {
                flush_totals(j);
                for (int d = 0; d < j->nd; d++)
                    h5div_acc_init(&j->cur_tot[d]);
                j->cur_row = row;
            }
            for (int d = 0; d < j->nd; d++) {
                size_t i = h5div_total_add_valid_lo(v[d] + off, lo_at(j, d, off), m,
                                                    j->opt->pseudocount, &j->cur_tot[d]);
                if (i < m)
                    return h5div_bad_value(v[d][off + i], pos + i, j->two_d ? cols : 0, j->ref[d],
                                           msg, len);
            }
        } else if (j->g.nb == 1) {
            short_row(j, row, v, off, m);
        } else {
            segment_terms(j, row, c0, v, off, m);
        }
        pos = seg_end;
    }
    return H5DIV_OK;
}

/* After pass 0: combine the totals of the shared rows among the ranks that
 * hold them (and, for W1/KS, the sums before this rank's part of its first
 * row), then refuse all-zero or overflowing histograms. */
static int settle_totals(MPI_Comm comm, cmp_job *j, char *msg, size_t len)
{
    flush_totals(j);
    const size_t nd = (size_t)j->nd;
    for (int p = 0; p < 2; p++) {
        if (j->rw.sc.c[p] == MPI_COMM_NULL)
            continue;
        h5div_acc *t = j->slot_tot + (size_t)p * nd;
        uint64_t row = j->rw.shared[j->rw.sc.slot[p]];
        if (j->w1) {
            /* The lowest rank of the row gets zeros: the row starts there.
             * (j->pfx is free until the terms pass.) */
            memcpy(j->pfx, t, nd * sizeof *t);
            H5DIV_CHECK(h5div_par_exscan_acc(j->rw.sc.c[p], j->pfx, j->nd));
            if (row == j->rw.lo)
                memcpy(j->pfx0, j->pfx, nd * sizeof *t);
        }
        H5DIV_CHECK(h5div_par_sum_acc(j->rw.sc.c[p], t, j->nd));
        double *rt = j->row_tot + (row - j->rw.lo) * nd * 3;
        for (size_t d = 0; d < nd; d++)
            h5div_acc_round3(&t[d], &rt[3 * d], &rt[3 * d + 1], &rt[3 * d + 2]);
    }
    int st = H5DIV_OK;
    for (uint64_t row = j->rw.lo; row < j->rw.hi && st == H5DIV_OK; row++) {
        const double *t = j->row_tot + (row - j->rw.lo) * (uint64_t)j->nd * 3;
        for (int d = 0; d < j->nd && st == H5DIV_OK; d++) {
            double hi = t[3 * d];
            if (hi > 0.0 && isfinite(hi))
                continue;
            const char *what = hi == 0.0 ? "is all zeros" : "total overflows a double";
            if (j->two_d)
                h5div_set_error(msg, len, "histogram %s (%s, row %llu)", what, j->ref[d],
                                (unsigned long long)row);
            else
                h5div_set_error(msg, len, "histogram %s (%s)", what, j->ref[d]);
            st = H5DIV_EINPUT;
        }
    }
    /* The lowest rank holds the lowest rows: the message names the first bad row. */
    return h5div_par_agree(comm, st, msg, len);
}

static int settle_terms(cmp_job *j)
{
    flush_terms(j);
    for (int p = 0; p < 2; p++) {
        if (j->rw.sc.c[p] == MPI_COMM_NULL)
            continue;
        h5div_compare_partial *part = j->slot_part + (size_t)p * (size_t)j->k;
        H5DIV_CHECK(h5div_par_sum_compare(j->rw.sc.c[p], part, j->k, &j->tp));
        uint64_t row = j->rw.shared[j->rw.sc.slot[p]];
        if (row >= j->rw.own0 && row < j->rw.own1)
            for (int c = 0; c < j->k; c++)
                finish_partial(j, row, c, &part[c]);
    }
    return H5DIV_OK;
}

static void job_free(cmp_job *j)
{
    h5div_rows_free(&j->rw);
    free(j->cur_tot);
    free(j->row_tot);
    free(j->slot_tot);
    free(j->pfx0);
    free(j->nm);
    free(j->part);
    free(j->slot_part);
    free(j->pfx);
}

/* Allocate the per-row and per-slot state once the geometry is known. */
static int job_alloc(MPI_Comm comm, cmp_job *j, const h5div_sweep *sw, char *msg, size_t len)
{
    H5DIV_CHECK(h5div_rows_init(comm, sw, &j->rw, msg, len));
    H5DIV_CHECK(h5div_rows_memory_check(comm, sw, &j->rw, (uint64_t)j->nd * 3 * sizeof(double),
                                        (uint64_t)j->k * (uint64_t)j->ncols * sizeof(double),
                                        j->opt, j->ref[0], msg, len));
    int ok = 1;
    size_t nd = (size_t)j->nd, k = (size_t)j->k, ns = 2;
    size_t nrows = (size_t)(j->rw.hi - j->rw.lo), nown = (size_t)(j->rw.own1 - j->rw.own0);
    ok &= (j->cur_tot = malloc(nd * sizeof *j->cur_tot)) != NULL;
    ok &= (j->row_tot = malloc((nrows ? nrows : 1) * nd * 3 * sizeof(double))) != NULL;
    ok &= (j->slot_tot = malloc(ns * nd * sizeof *j->slot_tot)) != NULL;
    ok &= (j->pfx0 = calloc(nd, sizeof *j->pfx0)) != NULL;
    ok &= (j->pfx = calloc(nd, sizeof *j->pfx)) != NULL;
    ok &= (j->nm = malloc(k * sizeof *j->nm)) != NULL;
    ok &= (j->part = malloc(k * sizeof *j->part)) != NULL;
    ok &= (j->slot_part = calloc(ns * k, sizeof *j->slot_part)) != NULL;
    ok &= (j->values = malloc((nown ? nown : 1) * k * (size_t)j->ncols * sizeof(double))) != NULL;
    for (size_t i = 0; ok && i < ns * nd; i++)
        h5div_acc_init(&j->slot_tot[i]);
    for (size_t i = 0; ok && i < ns * k; i++)
        h5div_compare_partial_init(&j->slot_part[i], j->tp.mask);
    if (!ok)
        h5div_set_error(msg, len,
                        "out of memory for the per-row state of %zu rows and %d candidates "
                        "(--memory-per-rank)",
                        nrows, j->k);
    return h5div_par_agree(comm, ok ? H5DIV_OK : H5DIV_EINTERNAL, msg, len);
}

typedef struct batch_args {
    const char *p_ref;
    const char *const *q_refs;
    int k;
    const h5div_options *opt;
    h5div_compare_batch *out;
} batch_args;

static int batch_body(MPI_Comm comm, void *arg, char *msg, size_t len)
{
    batch_args *ba = arg;
    const h5div_options *opt = ba->opt;
    H5DIV_CHECK(h5div_agree_options(comm, opt, msg, len));
    if (ba->k < 1 || ba->k > H5DIV_CANDIDATES_MAX) {
        h5div_set_error(msg, len, "between 1 and %d candidates can be compared at once (%d given)",
                        H5DIV_CANDIDATES_MAX, ba->k);
        return H5DIV_EUSAGE;
    }
    cmp_job j;
    memset(&j, 0, sizeof j);
    j.rw.sc.c[0] = j.rw.sc.c[1] = MPI_COMM_NULL;
    j.opt = opt;
    j.k = ba->k;
    j.nd = ba->k + 1;
    j.cur_row = NO_ROW;
    j.ref[0] = ba->p_ref;
    for (int c = 0; c < ba->k; c++)
        j.ref[1 + c] = ba->q_refs[c];
    h5div_term_params_init(&j.tp, opt);
        j.w1 = (int)((j.tp.mask >> H5DIV_T_W1) & 1u);
    j.ncols = h5div_compare_columns(opt, j.cols);
    h5div_dset d[H5DIV_SWEEP_MAX];
    h5div_dset *ds[H5DIV_SWEEP_MAX];
    int opened = 0, st = H5DIV_OK;
    for (; opened < j.nd && st == H5DIV_OK; opened++) {
        ds[opened] = &d[opened];
        st = h5div_dset_open_batch(comm, j.ref[opened], &d[opened], msg, len);
        if (st != H5DIV_OK)
            break;
        if (opened && (d[opened].rows != d[0].rows || d[opened].bins != d[0].bins)) {
            /* Same metadata on every rank: every rank takes this branch. */
            char a[64], b[64];
            snprintf(a, sizeof a, d[0].rows ? "[%llu, %llu]" : "%llu bins",
                     (unsigned long long)(d[0].rows ? d[0].rows : d[0].bins),
                     (unsigned long long)d[0].cols);
            snprintf(b, sizeof b, d[opened].rows ? "[%llu, %llu]" : "%llu bins",
                     (unsigned long long)(d[opened].rows ? d[opened].rows : d[opened].bins),
                     (unsigned long long)d[opened].cols);
            h5div_set_error(msg, len, "histograms differ in shape: %s vs %s (%s, %s)", a, b,
                            j.ref[0], j.ref[opened]);
            st = H5DIV_EINPUT;
            opened++;
            break;
        }
    }
    /* Histograms with attached edges (h5div histogram): W1 in data units,
     * the bin centres as positions. */
    double *gap = NULL;
    h5div_options wopt;
    if (st == H5DIV_OK && j.w1)
        st = h5div_w1_positions(comm, ds, j.nd, &gap, &j.gap_rows, msg, len);
    if (gap) {
        wopt = *opt;
        wopt.bin_width = 1.0;
        j.opt = &wopt;
        j.gap = gap;
    }
    h5div_sweep sw;
    int have_sweep = 0;
    if (st == H5DIV_OK) {
        j.two_d = d[0].rows > 0;
        j.g = h5div_grid_of(&d[0]);
        st = h5div_sweep_init(comm, &sw, ds, j.nd, 0, opt, msg, len);
        have_sweep = st == H5DIV_OK;
    }
    j.sw = &sw;
    if (st == H5DIV_OK)
        st = job_alloc(comm, &j, &sw, msg, len);
    if (st == H5DIV_OK)
        st = h5div_sweep_run(comm, &sw, PASS_TOTALS, 0, opt, compare_piece, &j, msg, len);
    if (st == H5DIV_OK)
        st = settle_totals(comm, &j, msg, len);
    if (st == H5DIV_OK) {
        j.cur_row = NO_ROW;
        st = h5div_sweep_run(comm, &sw, PASS_TERMS, 0, opt, compare_piece, &j, msg, len);
    }
    if (st == H5DIV_OK)
        st = settle_terms(&j);
    if (st == H5DIV_OK) {
        h5div_compare_batch *b = ba->out;
        b->command = "compare";
        b->candidates = j.k;
        b->two_d = j.two_d;
        b->rows = j.g.rows;
        b->bins = j.g.cols;
        b->ncolumns = j.ncols;
        memcpy(b->columns, j.cols, sizeof j.cols);
        b->row_begin = j.rw.own0;
        b->row_count = j.rw.own1 - j.rw.own0;
        b->values = j.values;
        j.values = NULL;
    }
    free(j.values);
    free(gap);
    job_free(&j);
    if (have_sweep)
        h5div_sweep_free(&sw);
    for (int i = 0; i < opened && i < j.nd; i++)
        h5div_dset_close(&d[i]);
    return st;
}

int h5div_compare_batch_files(MPI_Comm comm, const char *p_ref, const char *const *q_refs, int k,
                              const h5div_options *opt, h5div_compare_batch *out, char *errmsg,
                              size_t errlen)
{
    memset(out, 0, sizeof *out);
    batch_args ba = {p_ref, q_refs, k, opt, out};
    return h5div_io_collective(comm, batch_body, &ba, errmsg, errlen);
}

int h5div_compare_files(MPI_Comm comm, const char *p_ref, const char *q_ref,
                        const h5div_options *opt, h5div_compare_result *result, char *errmsg,
                        size_t errlen)
{
    h5div_compare_batch b;
    const char *q[1] = {q_ref};
    int st = h5div_compare_batch_files(comm, p_ref, q, 1, opt, &b, errmsg, errlen);
    if (st != H5DIV_OK)
        return st;
    memset(result, 0, sizeof *result);
    double v[H5DIV_COMPARE_MAX_COLUMNS];
    h5div_column cols[H5DIV_COMPARE_MAX_COLUMNS];
    int ncols = b.ncolumns;
    memcpy(cols, b.columns, sizeof cols);
    result->bins = b.bins;
    st = h5div_par_batch_single(comm, &b, p_ref, "h5div_compare_batch_files", v, errmsg, errlen);
    if (st != H5DIV_OK)
        return st;
    result->computed = opt->measures;
    for (int i = 0; i < ncols; i++) {
        const h5div_column *c = &cols[i];
        if (c->order < 0)
            result->value[c->measure] = v[i];
        else
            (c->measure == H5DIV_RENYI_PQ ? result->renyi_pq : result->renyi_qp)[c->order] = v[i];
        if (c->order == 0)
            result->value[c->measure] = v[i];
    }
    return H5DIV_OK;
}

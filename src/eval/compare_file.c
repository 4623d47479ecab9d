/* SPDX-License-Identifier: BSD-3-Clause */
/* File-level compare of one reference against k candidates, 1-D or one histogram per row. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/engine.h"
#include "io/io.h"
#include "par/par.h"

/* One evaluation: P = dataset 0 against candidates 1..k, row by row, a
 * family of the row-pass engine (src/eval/engine.h): a pass of totals, then
 * a pass of terms. */
typedef struct cmp_job {
    const h5div_options *opt;
    const char *ref[H5DIV_SWEEP_MAX];
    int k, nd, two_d;
    h5div_term_params tp;
    int w1;
    const double *gap; /* distances between attached bin centres, or NULL */
    uint64_t gap_rows; /* 1: shared by every row */
    h5div_grid g;
    const h5div_rows *rw;     /* the engine's rows: touched, owned and shared */
    h5div_compare_batch *out; /* the results; its row_begin, row_count: rows owned */
    double *row_tot;          /* [row - rw->lo][nd][3]: total as hi + lo + lo2 */
    h5div_acc *pfx0;          /* [nrep][nd]: sums of the first row on the ranks before this one */
    h5div_norm *nm;           /* [k] of the row in progress */
    h5div_acc *pfx;           /* [nrep][nd]: prefix sums of the row in progress */
    int ncols;
    h5div_column cols[H5DIV_COMPARE_MAX_COLUMNS];
    double *values; /* [k][ncols][row - row_begin] */
    /* --bootstrap B: replicate r = 1 .. B of every input is drawn bin by
     * bin, X*_i ~ Poisson(X_i), with the counter-based generator keyed by
     * (seed, replicate r - 1, input d, global bin) (core/resample.h), so a
     * replicate's bits do not depend on the decomposition; the same draws
     * are made again in each pass instead of being stored. Replicate 0 is
     * the data itself. */
    int nrep; /* 1 + B */
    uint64_t B;
    double *draw; /* [nd][2][H5DIV_BLOCK_BINS]: one block of a replicate, value and lo */
    const double *dx[H5DIV_SWEEP_MAX], *dl[H5DIV_SWEEP_MAX]; /* the block in use */
    double *reps;                                            /* [k][ncols][row - row_begin][B] */
} cmp_job;

/* Row state: pass 0 the totals h5div_acc[nrep][nd], pass 1
 * h5div_compare_partial[nrep][k]: replicate r's at offset r * nd, r * k. */
enum { PASS_TOTALS = 0, PASS_TERMS };

/* Totals of a row (of replicate rep): [nd][3]. */
static const double *row_total(const cmp_job *j, uint64_t row, int rep)
{
    const uint64_t at = (row - j->rw->lo) * (uint64_t)j->nrep + (uint64_t)rep;
    return j->row_tot + at * (uint64_t)j->nd * 3;
}

/* Draw block [first, first + n) of replicate rep (>= 1) of every input from
 * the values x, lo into j->dx, j->dl. */
static void draw_block(cmp_job *j, int rep, uint64_t first, const double *const *x,
                       const double *const *lo, size_t off, size_t n)
{
    h5div_eval_draw(j->opt, rep, j->nd, first, x, lo, off, n, j->draw, j->dx, j->dl);
}

/* Store the finished measures of (row, candidate c) of replicate rep in the
 * result columns (rep 0) or the replicates. */
static void put_values(cmp_job *j, uint64_t row, int c, int rep, const h5div_compare_result *res)
{
    const uint64_t nown = j->out->row_count, r = row - j->out->row_begin;
    for (int i = 0; i < j->ncols; i++) {
        const h5div_column *col = &j->cols[i];
        double v = col->order < 0                   ? res->value[col->measure]
                   : col->measure == H5DIV_RENYI_PQ ? res->renyi_pq[col->order]
                                                    : res->renyi_qp[col->order];
        const uint64_t at = ((uint64_t)c * (uint64_t)j->ncols + (uint64_t)i) * nown + r;
        if (rep == 0)
            j->values[at] = v;
        else
            j->reps[at * j->B + (uint64_t)rep - 1] = v;
    }
}

static void finish_partial(cmp_job *j, uint64_t row, int c, int rep,
                           const h5div_compare_partial *part)
{
    double nats[H5DIV_T_COUNT] = {0};
    for (int t = 0; t < H5DIV_T_COUNT; t++)
        if (j->tp.mask & H5DIV_TBIT(t))
            nats[t] = h5div_acc_round(&part->acc[t]);
    int64_t counts[2] = {part->p_without_q, part->q_without_p};
    h5div_compare_result res;
    h5div_compare_finish_sums(nats, part->win, counts, part->ks, j->opt, &res);
    put_values(j, row, c, rep, &res);
}

/* The normalisations of a row; with `partials` (rows of more than one
 * block) its partial sums and W1/KS prefix sums too. */
static void start_row_terms(cmp_job *j, uint64_t row, h5div_compare_partial *part, int partials)
{
    for (int rep = 0; rep < j->nrep; rep++) {
        const double *t = row_total(j, row, rep);
        for (int c = 0; c < j->k; c++) {
            const size_t at = (size_t)rep * (size_t)j->k + (size_t)c;
            h5div_norm_init3(&j->nm[at], t[0], t[1], t[2], t[3 * (c + 1)], t[3 * (c + 1) + 1],
                             t[3 * (c + 1) + 2], j->opt->pseudocount);
            if (partials)
                h5div_compare_partial_init(&part[at], j->tp.mask);
        }
    }
    if (j->w1 && partials)
        for (int d = 0; d < j->nd * j->nrep; d++) {
            /* A row that began on an earlier rank continues its prefix sums. */
            if (row == j->rw->lo && h5div_rows_shared(j->rw, row) >= 0)
                j->pfx[d] = j->pfx0[d];
            else
                h5div_acc_init(&j->pfx[d]);
        }
}

/* The gaps of row `row` from column c, or NULL for bare histograms. */
static const double *row_gap(const cmp_job *j, uint64_t row, uint64_t c)
{
    if (!j->gap)
        return NULL;
    const uint64_t ng = j->g.cols > 1 ? j->g.cols - 1 : 1;
    return j->gap + (j->gap_rows > 1 ? row : 0) * ng + c;
}

/* Remainders from position b on, or NULL. */
static const double *lo_plus(const double *lo, size_t b)
{
    return lo ? lo + b : NULL;
}

/* A row of a single block: its block sums are the sums, no accumulator. */
static void short_row(cmp_job *j, const h5div_row_seg *s)
{
    static const double zero[2] = {0.0, 0.0};
    const size_t e = s->n;
    for (int rep = 0; rep < j->nrep; rep++) {
        const double *const *xs = s->x, *const *ls = s->lo;
        if (rep) {
            draw_block(j, rep, s->row * j->g.cols + s->c0, s->x, s->lo, 0, e);
            xs = j->dx;
            ls = j->dl;
        }
        for (int c = 0; c < j->k; c++) {
            const h5div_norm *nm = &j->nm[(size_t)rep * (size_t)j->k + (size_t)c];
            double sums[H5DIV_T_COUNT] = {0};
            int32_t win[2 * H5DIV_RENYI_MAX];
            int64_t counts[2] = {0, 0};
            double ks = 0.0;
            const double *x = xs[0], *y = xs[1 + c], *xl = ls[0], *yl = ls[1 + c];
            h5div_compare_block_lo(x, y, xl, yl, e, nm, &j->tp, sums, win, counts);
            if (j->w1)
                sums[H5DIV_T_W1] = h5div_w1_block_gap_lo(x, y, xl, yl, e, e - 1, nm, zero, zero,
                                                         NULL, &ks, row_gap(j, s->row, 0));
            h5div_compare_result res;
            h5div_compare_finish_sums(sums, win, counts, ks, j->opt, &res);
            put_values(j, s->row, c, rep, &res);
        }
    }
}

/* W1/KS of one block of candidate c: the prefix sums before it, the block's
 * term into part, then Q's prefix sum moved past it. pf: the prefix sums
 * [nd] of the replicate, nm its normalisation of candidate c. */
static void block_w1(cmp_job *j, uint64_t row, uint64_t col, int c, const double *x,
                     const double *xl, const double *y, const double *yl, size_t e, size_t nw,
                     const double px[2], h5div_compare_partial *part, h5div_acc *pf,
                     const h5div_norm *nm)
{
    double py[2], dp = 0.0;
    h5div_acc_round2(&pf[1 + c], &py[0], &py[1]);
    if (nm->near_eq) { /* the prefix sums' difference exactly, rounded once */
        h5div_acc t = pf[0];
        h5div_acc_sub(&t, &pf[1 + c]);
        dp = h5div_acc_round(&t);
    }
    h5div_acc_add(&part->acc[H5DIV_T_W1],
                  h5div_w1_block_gap_lo(x, y, xl, yl, e, nw, nm, px, py, &dp, &part->ks,
                                        row_gap(j, row, col)));
    h5div_total_block_lo(y, yl, e, j->opt->pseudocount, &pf[1 + c]);
}

/* The blocks of one row segment into the partial sums of its row; with
 * --bootstrap each block's replicates too, while the block is in cache. */
static void segment_terms(cmp_job *j, const h5div_row_seg *s, h5div_compare_partial *part)
{
    for (size_t b = 0; b < s->n; b += H5DIV_BLOCK_BINS) {
        size_t e = s->n - b < H5DIV_BLOCK_BINS ? s->n - b : H5DIV_BLOCK_BINS;
        size_t nw = s->c0 + b + e == j->g.cols ? e - 1 : e; /* not the row's last bin */
        for (int rep = 1; rep < j->nrep; rep++) {
            draw_block(j, rep, s->row * j->g.cols + s->c0 + b, s->x, s->lo, b, e);
            const h5div_norm *nm = &j->nm[(size_t)rep * (size_t)j->k];
            h5div_compare_partial *pr = &part[(size_t)rep * (size_t)j->k];
            h5div_acc *pf = &j->pfx[(size_t)rep * (size_t)j->nd];
            double px[2] = {0.0, 0.0};
            if (j->w1)
                h5div_acc_round2(&pf[0], &px[0], &px[1]);
            for (int c = 0; c < j->k; c++) {
                double sums[H5DIV_T_COUNT];
                int32_t win[2 * H5DIV_RENYI_MAX];
                int64_t counts[2] = {0, 0};
                h5div_compare_block_lo(j->dx[0], j->dx[1 + c], j->dl[0], j->dl[1 + c], e, &nm[c],
                                       &j->tp, sums, win, counts);
                h5div_compare_partial_add(&pr[c], &j->tp, sums, win, counts);
                if (j->w1)
                    block_w1(j, s->row, s->c0 + b, c, j->dx[0], j->dl[0], j->dx[1 + c],
                             j->dl[1 + c], e, nw, px, &pr[c], pf, &nm[c]);
            }
            if (j->w1)
                h5div_total_block_lo(j->dx[0], j->dl[0], e, j->opt->pseudocount, &pf[0]);
        }
        const double *x = s->x[0] + b, *xl = lo_plus(s->lo[0], b);
        double px[2] = {0.0, 0.0};
        if (j->w1)
            h5div_acc_round2(&j->pfx[0], &px[0], &px[1]);
        for (int c = 0; c < j->k; c++) {
            const double *y = s->x[1 + c] + b, *yl = lo_plus(s->lo[1 + c], b);
            double sums[H5DIV_T_COUNT];
            int32_t win[2 * H5DIV_RENYI_MAX];
            int64_t counts[2] = {0, 0};
            h5div_compare_block_lo(x, y, xl, yl, e, &j->nm[c], &j->tp, sums, win, counts);
            h5div_compare_partial_add(&part[c], &j->tp, sums, win, counts);
            if (j->w1)
                block_w1(j, s->row, s->c0 + b, c, x, xl, y, yl, e, nw, px, &part[c], j->pfx,
                         &j->nm[c]);
        }
        if (j->w1)
            h5div_total_block_lo(x, xl, e, j->opt->pseudocount, &j->pfx[0]);
    }
}

static void cmp_row_start(void *ctx, int pass, uint64_t row, void *state)
{
    cmp_job *j = ctx;
    if (pass == PASS_TERMS) {
        start_row_terms(j, row, state, j->g.nb > 1);
        return;
    }
    h5div_acc *tot = state;
    for (int d = 0; d < j->nd * j->nrep; d++)
        h5div_acc_init(&tot[d]);
}

/* The totals of replicates 1 .. B of a segment, block by block. */
static void segment_rep_totals(cmp_job *j, const h5div_row_seg *s, h5div_acc *tot)
{
    for (size_t b = 0; b < s->n; b += H5DIV_BLOCK_BINS) {
        size_t e = s->n - b < H5DIV_BLOCK_BINS ? s->n - b : H5DIV_BLOCK_BINS;
        for (int rep = 1; rep < j->nrep; rep++) {
            draw_block(j, rep, s->row * j->g.cols + s->c0 + b, s->x, s->lo, b, e);
            for (int d = 0; d < j->nd; d++)
                (void)h5div_total_add_valid_lo(j->dx[d], j->dl[d], e, j->opt->pseudocount,
                                               &tot[(size_t)rep * (size_t)j->nd + (size_t)d]);
        }
    }
}

static int cmp_segment(void *ctx, int pass, const h5div_row_seg *s, void *state, char *msg,
                       size_t len)
{
    cmp_job *j = ctx;
    if (pass == PASS_TERMS) {
        if (j->g.nb == 1)
            short_row(j, s);
        else
            segment_terms(j, s, state);
        return H5DIV_OK;
    }
    h5div_acc *tot = state;
    for (int d = 0; d < j->nd; d++) {
        size_t i = h5div_total_add_valid_lo(s->x[d], s->lo[d], s->n, j->opt->pseudocount, &tot[d]);
        if (i < s->n)
            return h5div_bad_value(s->x[d][i], s->row * j->g.cols + s->c0 + i,
                                   j->two_d ? j->g.cols : 0, j->ref[d], msg, len);
    }
    if (j->nrep > 1) {
        H5DIV_CHECK(h5div_eval_check_counts(s, j->nd, j->ref, j->two_d ? j->g.cols : 0, msg, len));
        segment_rep_totals(j, s, tot);
    }
    return H5DIV_OK;
}

/* A shared row's totals (and, for W1/KS, the sums before this rank's part
 * of its first row), or its partial sums, combined over its ranks. */
static int cmp_reduce(MPI_Comm c, void *ctx, int pass, uint64_t row, void *state)
{
    cmp_job *j = ctx;
    if (pass == PASS_TERMS)
        return h5div_par_sum_compare(c, state, j->k * j->nrep, &j->tp);
    h5div_acc *t = state;
    const size_t nd = (size_t)j->nd * (size_t)j->nrep;
    if (j->w1) {
        /* The lowest rank of the row gets zeros: the row starts there.
         * (j->pfx is free until the terms pass.) */
        memcpy(j->pfx, t, nd * sizeof *t);
        H5DIV_CHECK(h5div_par_exscan_acc(c, j->pfx, j->nd * j->nrep));
        if (row == j->rw->lo)
            memcpy(j->pfx0, j->pfx, nd * sizeof *t);
    }
    return h5div_par_sum_acc(c, t, j->nd * j->nrep);
}

/* Totals on every rank that holds the row; measures on its owner. */
static void cmp_row_finish(void *ctx, int pass, uint64_t row, int owned, const void *state)
{
    cmp_job *j = ctx;
    if (pass == PASS_TOTALS) {
        const h5div_acc *tot = state;
        double *t = (double *)row_total(j, row, 0);
        for (int d = 0; d < j->nd * j->nrep; d++)
            h5div_acc_round3(&tot[d], &t[3 * d], &t[3 * d + 1], &t[3 * d + 2]);
        return;
    }
    if (j->g.nb == 1 || !owned) /* short rows are finished by their segment */
        return;
    const h5div_compare_partial *part = state;
    for (int rep = 0; rep < j->nrep; rep++)
        for (int c = 0; c < j->k; c++)
            finish_partial(j, row, c, rep, &part[(size_t)rep * (size_t)j->k + (size_t)c]);
}

/* P's or a candidate's total of a row (the engine refuses zero and overflow). */
static double cmp_total(const void *ctx, uint64_t row, int d)
{
    return row_total(ctx, row, 0)[3 * d];
}

/* The per-row state once the rows are known. */
static int cmp_setup(void *ctx, const h5div_eval *e, char *msg, size_t len)
{
    cmp_job *j = ctx;
    j->rw = &e->rows;
    h5div_eval_batch_rows(e, j->out);
    size_t nd = (size_t)j->nd, k = (size_t)j->k, nown = (size_t)j->out->row_count;
    size_t nrows = (size_t)(j->rw->hi - j->rw->lo), nrep = (size_t)j->nrep;
    /* The engine's three row states (the row in progress and two shared
     * rows) hold 1 + B sets of partial sums each. */
    if (j->B)
        H5DIV_CHECK(h5div_eval_bootstrap_memory(e, j->opt, j->ref[0], msg, len));
    int ok = (j->row_tot = malloc((nrows ? nrows : 1) * nrep * nd * 3 * sizeof(double))) != NULL;
    ok &= (j->pfx0 = calloc(nd * nrep, sizeof *j->pfx0)) != NULL;
    ok &= (j->pfx = calloc(nd * nrep, sizeof *j->pfx)) != NULL;
    ok &= (j->nm = malloc(nrep * k * sizeof *j->nm)) != NULL;
    ok &= (j->values = malloc((nown ? nown : 1) * k * (size_t)j->ncols * sizeof(double))) != NULL;
    if (j->B) {
        ok &= (j->draw = malloc(nd * 2 * H5DIV_BLOCK_BINS * sizeof(double))) != NULL;
        ok &= (j->reps = malloc((nown ? nown : 1) * k * (size_t)j->ncols * (size_t)j->B *
                                sizeof(double))) != NULL;
    }
    if (ok)
        return H5DIV_OK;
    h5div_set_error(msg, len,
                    "out of memory for the per-row state of %zu rows and %d candidates "
                    "(--memory-per-rank)",
                    nrows, j->k);
    return H5DIV_EINTERNAL;
}

static const h5div_row_family compare_family = {
    .name = "compare",
    .npasses = 2,
    .setup = cmp_setup,
    .row_start = cmp_row_start,
    .segment = cmp_segment,
    .state_reduce = cmp_reduce,
    .row_finish = cmp_row_finish,
    .row_total = cmp_total,
};

static void job_free(cmp_job *j)
{
    free(j->row_tot);
    free(j->pfx0);
    free(j->nm);
    free(j->pfx);
    free(j->values);
    free(j->draw);
    free(j->reps);
}

typedef struct batch_args {
    const char *p_ref;
    const char *const *q_refs;
    int k;
    const h5div_options *opt;
    h5div_compare_batch *out;
} batch_args;

/* "[rows, cols]" or "N bins" of a dataset, for messages. */
static void shape_text(const h5div_dset *d, char *buf, size_t len)
{
    snprintf(buf, len, d->rows ? "[%llu, %llu]" : "%llu bins",
             (unsigned long long)(d->rows ? d->rows : d->bins), (unsigned long long)d->cols);
}

/* Collective: open P and the candidates, all of one shape; *opened of them
 * are open (to close) on return. Agreed status. */
static int open_inputs(MPI_Comm comm, const cmp_job *j, h5div_dset *d, int *opened, char *msg,
                       size_t len)
{
    for (*opened = 0; *opened < j->nd;) {
        int i = *opened;
        H5DIV_CHECK(h5div_dset_open_batch(comm, j->ref[i], &d[i], msg, len));
        (*opened)++;
        if (i && (d[i].rows != d[0].rows || d[i].bins != d[0].bins)) {
            /* Same metadata on every rank: every rank takes this branch. */
            char a[64], b[64];
            shape_text(&d[0], a, sizeof a);
            shape_text(&d[i], b, sizeof b);
            h5div_set_error(msg, len, "histograms differ in shape: %s vs %s (%s, %s)", a, b,
                            j->ref[0], j->ref[i]);
            return H5DIV_EINPUT;
        }
    }
    return H5DIV_OK;
}

static int job_init(MPI_Comm comm, cmp_job *j, const batch_args *ba, char *msg, size_t len)
{
    memset(j, 0, sizeof *j);
    j->opt = ba->opt;
    j->k = ba->k;
    j->nd = ba->k + 1;
    j->out = ba->out;
    H5DIV_CHECK(h5div_agree_options(comm, ba->opt, msg, len));
    if (ba->k < 1 || ba->k > H5DIV_CANDIDATES_MAX) {
        h5div_set_error(msg, len, "between 1 and %d candidates can be compared at once (%d given)",
                        H5DIV_CANDIDATES_MAX, ba->k);
        return H5DIV_EUSAGE;
    }
    j->ref[0] = ba->p_ref;
    for (int c = 0; c < ba->k; c++)
        j->ref[1 + c] = ba->q_refs[c];
    h5div_term_params_init(&j->tp, ba->opt);
    j->w1 = (int)((j->tp.mask >> H5DIV_T_W1) & 1u);
    j->ncols = h5div_compare_columns(ba->opt, j->cols);
    j->B = ba->opt->bootstrap;
    j->nrep = 1 + (int)j->B;
    return h5div_eval_bootstrap_args(ba->opt, msg, len);
}

/* The owned rows' values into the caller's batch. */
static int batch_out(cmp_job *j, char *msg, size_t len)
{
    h5div_compare_batch *b = j->out;
    b->command = "compare";
    b->candidates = j->k;
    b->ncolumns = j->ncols;
    memcpy(b->columns, j->cols, sizeof j->cols);
    b->values = j->values;
    j->values = NULL;
    return j->B ? h5div_eval_bootstrap_summary(b, &j->reps, j->opt, msg, len) : H5DIV_OK;
}

/* Both passes over the open inputs ds. */
static int run_job(MPI_Comm comm, cmp_job *j, h5div_dset *const *ds, char *msg, size_t len)
{
    /* Histograms with attached edges (h5div histogram): W1 in data units,
     * the bin centres as positions. */
    double *gap = NULL;
    h5div_options wopt;
    const h5div_options *opt = j->opt;
    if (j->w1)
        H5DIV_CHECK(h5div_w1_positions(comm, ds, j->nd, &gap, &j->gap_rows, msg, len));
    if (gap) {
        wopt = *opt;
        wopt.bin_width = 1.0;
        j->opt = &wopt;
        j->gap = gap;
    }
    j->two_d = ds[0]->rows > 0;
    j->g = h5div_grid_of(ds[0]);
    h5div_sweep sw;
    int st = h5div_sweep_init(comm, &sw, ds, j->nd, 0, opt, msg, len);
    if (st == H5DIV_OK) {
        h5div_row_family f = compare_family;
        size_t part = (size_t)j->nrep * (size_t)j->k * sizeof(h5div_compare_partial);
        size_t tot = (size_t)j->nrep * (size_t)j->nd * sizeof(h5div_acc);
        f.state_size = part > tot ? part : tot;
        f.row_bytes = (uint64_t)j->nrep * (uint64_t)j->nd * 3 * sizeof(double);
        /* values, and with --bootstrap B replicates, se and interval */
        f.owned_row_bytes =
            (uint64_t)j->k * (uint64_t)j->ncols * sizeof(double) * (1 + (j->B ? j->B + 3 : 0));
        f.ref = j->ref[0];
        st = h5div_eval_rows(comm, &sw, &f, j, opt, msg, len);
        h5div_sweep_free(&sw);
    }
    j->opt = opt;
    j->gap = NULL;
    free(gap);
    return st;
}

static int batch_body(MPI_Comm comm, void *arg, char *msg, size_t len)
{
    batch_args *ba = arg;
    cmp_job j;
    H5DIV_CHECK(job_init(comm, &j, ba, msg, len));
    h5div_dset d[H5DIV_SWEEP_MAX];
    h5div_dset *ds[H5DIV_SWEEP_MAX];
    for (int i = 0; i < j.nd; i++)
        ds[i] = &d[i];
    int opened = 0;
    int st = open_inputs(comm, &j, d, &opened, msg, len);
    if (st == H5DIV_OK)
        st = run_job(comm, &j, ds, msg, len);
    if (st == H5DIV_OK)
        st = h5div_par_agree(comm, batch_out(&j, msg, len), msg, len);
    job_free(&j);
    for (int i = 0; i < opened; i++)
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

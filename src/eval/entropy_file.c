/* SPDX-License-Identifier: BSD-3-Clause */
/* File-level entropy of one histogram or one per row: a statistics pass, then the terms (two for
 * shrink). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/entropy.h"
#include "eval/engine.h"
#include "io/io.h"
#include "par/par.h"

/* What a row needs after the statistics pass. */
typedef struct row_param {
    double hi, lo;  /* total with pseudocount, hi + lo */
    double n, n_lo; /* total of the raw counts, n + n_lo */
    double nonzero, singletons;
    double lambda; /* shrinkage intensity (shrink only) */
} row_param;

/* The normalisation of a row in progress and its coverage (chao-shen). */
typedef struct rep_norm {
    h5div_entropy_norm nm;
    double coverage, log_coverage;
} rep_norm;

/* A family of the row-pass engine (src/eval/engine.h): a statistics pass,
 * then the terms (two passes for shrink: lambda, then the entropy). With
 * --bootstrap B (engine.h) every pass does the same for replicates 1 .. B
 * of each block while it is in cache, so each replicate is the estimator
 * evaluated afresh on the replicate's counts; replicate 0 is the data. */
typedef struct entropy_job {
    const char *p_ref;
    const h5div_options *opt;
    h5div_estimator est;
    double alpha;     /* pseudocount of the plugin or of dirichlet:A */
    h5div_batch *out; /* the results; its row_begin, row_count: rows owned */
    h5div_grid g;
    int two_d;
    const h5div_rows *rw; /* the engine's rows: touched, owned and shared */
    row_param *rp;        /* [row - rw->lo][nrep] */
    rep_norm *rn;         /* [nrep] of the row in progress */
    int ncols;
    double *values; /* [column][row - row_begin] */
    int nrep;       /* 1 + B */
    uint64_t B;
    double *draw;    /* [2][H5DIV_BLOCK_BINS]: one block of a replicate, value and lo */
    double *reps;    /* [column][row - row_begin][B] */
    h5div_acc *pack; /* [2][nrep]: the sums of a shared row, packed for the reduction */
    int64_t *ipack;  /* [2][nrep]: its bin counts */
} entropy_job;

enum { PASS_STATS = 0, PASS_TERMS, PASS_SHRINK };

/* Row state: the statistics in the first pass, two sums in the others; one
 * per replicate (row_state[nrep]). */
typedef union row_state {
    h5div_entropy_stats st;
    h5div_acc acc[2];
} row_state;

static row_param *param(const entropy_job *j, uint64_t row, int rep)
{
    return &j->rp[(row - j->rw->lo) * (uint64_t)j->nrep + (uint64_t)rep];
}

/* Per-row quantities of the finished statistics of `row` (replicate rep). */
static void set_param(entropy_job *j, uint64_t row, int rep, const h5div_entropy_stats *st)
{
    row_param *p = param(j, row, rep);
    h5div_acc_round2(&st->total, &p->hi, &p->lo);
    h5div_acc_round2(&st->raw, &p->n, &p->n_lo);
    p->nonzero = (double)st->nonzero;
    p->singletons = (double)st->singletons;
    p->lambda = 0.0;
}

/* The finished sums of a row (replicate rep): its measures, or (first
 * shrink pass) lambda. */
static void finish_row(entropy_job *j, int pass, uint64_t row, int rep, const h5div_acc acc[2])
{
    row_param *p = param(j, row, rep);
    if (pass == PASS_TERMS && j->est == H5DIV_ESTIMATOR_SHRINK) {
        p->lambda =
            h5div_entropy_shrink_lambda(p->n, h5div_acc_round(&acc[0]), h5div_acc_round(&acc[1]));
        return;
    }
    double nats = h5div_acc_round(&acc[0]);
    if (j->est == H5DIV_ESTIMATOR_MILLER_MADOW)
        nats += (p->nonzero - 1.0) / (2.0 * p->n);
    nats = nats > 0.0 ? nats : 0.0; /* an entropy is never negative (nor -0) */
    if (!(p->hi > 0.0))
        nats = NAN; /* a replicate drew no counts: no distribution */
    double v[H5DIV_ENTROPY_NMEASURES];
    v[H5DIV_ENTROPY] = nats / h5div_ln_base(j->opt->base);
    v[H5DIV_PERPLEXITY] = exp(nats);
    v[H5DIV_TOTAL_COUNT] = p->n;
    v[H5DIV_NONZERO_BINS] = p->nonzero;
    v[H5DIV_SHRINKAGE_LAMBDA] = p->lambda;
    const uint64_t nown = j->out->row_count, r = row - j->out->row_begin;
    for (int i = 0; i < j->ncols; i++) {
        const uint64_t at = (uint64_t)i * nown + r;
        if (rep == 0)
            j->values[at] = v[j->out->columns[i].measure];
        else
            j->reps[at * j->B + (uint64_t)rep - 1] = v[j->out->columns[i].measure];
    }
}

static void ent_row_start(void *ctx, int pass, uint64_t row, void *state)
{
    entropy_job *j = ctx;
    row_state *rs = state;
    for (int rep = 0; rep < j->nrep; rep++) {
        if (pass == PASS_STATS) {
            h5div_entropy_stats_init(&rs[rep].st);
            continue;
        }
        const row_param *p = param(j, row, rep);
        rep_norm *rn = &j->rn[rep];
        h5div_entropy_norm_init(&rn->nm, p->hi, p->lo, j->alpha);
        double f1 = p->singletons;
        if (f1 == p->n)
            f1 = p->n - 1.0; /* a sample of singletons only: coverage 1/n, not 0 */
        rn->coverage = 1.0 - f1 / p->n;
        rn->log_coverage = log1p(-f1 / p->n);
        h5div_acc_init(&rs[rep].acc[0]);
        h5div_acc_init(&rs[rep].acc[1]);
    }
}

/* Statistics of one segment, after its values are checked. */
static int segment_stats(entropy_job *j, const h5div_row_seg *s, h5div_entropy_stats *st, char *msg,
                         size_t len)
{
    const uint64_t pos = s->row * j->g.cols + s->c0, where_cols = j->two_d ? j->g.cols : 0;
    H5DIV_CHECK(h5div_check_values(s->x[0], s->n, pos, where_cols, j->p_ref, msg, len));
    size_t i;
    if (j->est != H5DIV_ESTIMATOR_PLUGIN && (i = h5div_first_fraction(s->x[0], s->n)) < s->n) {
        char where[96];
        h5div_where(pos + i, where_cols, where, sizeof where);
        h5div_set_error(msg, len,
                        "value %.17g is not a whole number; the %s estimator needs "
                        "counts (%s, %s)",
                        s->x[0][i], h5div_estimator_name(j->est), j->p_ref, where);
        return H5DIV_EINPUT;
    }
    h5div_entropy_stats_add_lo(s->x[0], s->lo[0], s->n, j->alpha, st);
    return H5DIV_OK;
}

/* The terms of pass `pass` (after the statistics) of bins x + xl [0, n) of
 * a row with parameters p and normalisation rn into rs. */
static void add_terms(const entropy_job *j, int pass, const row_param *p, const rep_norm *rn,
                      const double *x, const double *xl, size_t n, row_state *rs)
{
    const double k = (double)j->g.cols;
    if (pass == PASS_SHRINK)
        h5div_entropy_shrink_add_lo(x, xl, n, p->n, p->n_lo, k, p->lambda, &rs->acc[0]);
    else if (j->est == H5DIV_ESTIMATOR_CHAO_SHEN)
        h5div_entropy_chao_shen_add_lo(x, xl, n, p->n, p->n_lo, rn->coverage, rn->log_coverage,
                                       &rs->acc[0]);
    else if (j->est == H5DIV_ESTIMATOR_SHRINK)
        h5div_entropy_shrink_sums_add_lo(x, xl, n, p->n, p->n_lo, k, rs->acc);
    else
        h5div_entropy_plugin_add_lo(x, xl, n, &rn->nm, &rs->acc[0]);
}

/* Replicates 1 .. B of a segment, block by block (blocks on the row's
 * block boundaries, as the data's). */
static void segment_replicates(entropy_job *j, int pass, const h5div_row_seg *s, row_state *rs)
{
    for (size_t b = 0; b < s->n; b += H5DIV_BLOCK_BINS) {
        const size_t e = s->n - b < H5DIV_BLOCK_BINS ? s->n - b : H5DIV_BLOCK_BINS;
        for (int rep = 1; rep < j->nrep; rep++) {
            const double *dx, *dl;
            h5div_eval_draw(j->opt, rep, 1, s->row * j->g.cols + s->c0 + b, s->x, s->lo, b, e,
                            j->draw, &dx, &dl);
            if (pass == PASS_STATS)
                h5div_entropy_stats_add_lo(dx, dl, e, j->alpha, &rs[rep].st);
            else
                add_terms(j, pass, param(j, s->row, rep), &j->rn[rep], dx, dl, e, &rs[rep]);
        }
    }
}

static int ent_segment(void *ctx, int pass, const h5div_row_seg *s, void *state, char *msg,
                       size_t len)
{
    entropy_job *j = ctx;
    row_state *rs = state;
    if (pass == PASS_STATS) {
        H5DIV_CHECK(segment_stats(j, s, &rs->st, msg, len));
        if (j->B)
            H5DIV_CHECK(
                h5div_eval_check_counts(s, 1, &j->p_ref, j->two_d ? j->g.cols : 0, msg, len));
    } else {
        add_terms(j, pass, param(j, s->row, 0), &j->rn[0], s->x[0], s->lo[0], s->n, rs);
    }
    if (j->B)
        segment_replicates(j, pass, s, rs);
    return H5DIV_OK;
}

/* The states of every replicate, packed into j->pack, j->ipack for one
 * reduction each. */
static int ent_reduce(MPI_Comm c, void *ctx, int pass, uint64_t row, void *state)
{
    entropy_job *j = ctx;
    (void)row;
    row_state *rs = state;
    const int nrep = j->nrep;
    h5div_acc *a = j->pack;
    int64_t *n = j->ipack;
    for (int r = 0; r < nrep; r++) {
        const int st = pass == PASS_STATS;
        a[2 * r] = st ? rs[r].st.raw : rs[r].acc[0];
        a[2 * r + 1] = st ? rs[r].st.total : rs[r].acc[1];
        if (st)
            n[2 * r] = rs[r].st.nonzero, n[2 * r + 1] = rs[r].st.singletons;
    }
    H5DIV_CHECK(h5div_par_sum_acc(c, a, 2 * nrep));
    if (pass == PASS_STATS)
        H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, n, 2 * nrep, MPI_INT64_T, MPI_SUM, c));
    for (int r = 0; r < nrep; r++) {
        if (pass == PASS_STATS)
            rs[r].st = (h5div_entropy_stats){a[2 * r], a[2 * r + 1], n[2 * r], n[2 * r + 1]};
        else
            rs[r].acc[0] = a[2 * r], rs[r].acc[1] = a[2 * r + 1];
    }
    return H5DIV_OK;
}

/* Statistics and lambda on every rank that holds the row; measures on its owner. */
static void ent_row_finish(void *ctx, int pass, uint64_t row, int owned, const void *state)
{
    entropy_job *j = ctx;
    const row_state *rs = state;
    for (int rep = 0; rep < j->nrep; rep++) {
        if (pass == PASS_STATS)
            set_param(j, row, rep, &rs[rep].st);
        else if ((pass == PASS_TERMS && j->est == H5DIV_ESTIMATOR_SHRINK) || owned)
            finish_row(j, pass, row, rep, rs[rep].acc);
    }
}

/* The total of a row (the engine refuses zero and overflow, also of the raw counts). */
static double ent_total(const void *ctx, uint64_t row, int d)
{
    const entropy_job *j = ctx;
    const row_param *p = param(j, row, 0);
    (void)d;
    return isfinite(p->n) ? p->hi : INFINITY;
}

static int ent_setup(void *ctx, const h5div_eval *e, char *msg, size_t len)
{
    entropy_job *j = ctx;
    j->rw = &e->rows;
    h5div_eval_batch_rows(e, j->out);
    size_t nrows = (size_t)(j->rw->hi - j->rw->lo), nown = (size_t)j->out->row_count;
    const size_t nrep = (size_t)j->nrep;
    if (j->B)
        H5DIV_CHECK(h5div_eval_bootstrap_memory(e, j->opt, j->p_ref, msg, len));
    int ok = (j->rp = calloc((nrows ? nrows : 1) * nrep, sizeof *j->rp)) != NULL;
    ok &= (j->rn = calloc(nrep, sizeof *j->rn)) != NULL;
    ok &= (j->pack = calloc(2 * nrep, sizeof *j->pack)) != NULL;
    ok &= (j->ipack = calloc(2 * nrep, sizeof *j->ipack)) != NULL;
    ok &= (j->values = malloc((nown ? nown : 1) * (size_t)j->ncols * sizeof(double))) != NULL;
    if (j->B) {
        ok &= (j->draw = malloc(2 * H5DIV_BLOCK_BINS * sizeof(double))) != NULL;
        ok &= (j->reps = malloc((nown ? nown : 1) * (size_t)j->ncols * (size_t)j->B *
                                sizeof(double))) != NULL;
    }
    if (ok)
        return H5DIV_OK;
    h5div_set_error(msg, len, "out of memory for the per-row state of %zu rows (--memory-per-rank)",
                    nrows);
    return H5DIV_EINTERNAL;
}

static const h5div_row_family entropy_family = {
    .name = "entropy",
    .npasses = 2,
    .setup = ent_setup,
    .row_start = ent_row_start,
    .segment = ent_segment,
    .state_reduce = ent_reduce,
    .row_finish = ent_row_finish,
    .row_total = ent_total,
};

static int check_entropy_args(const entropy_job *j, char *msg, size_t len)
{
    const h5div_options *opt = j->opt;
    if (j->est == H5DIV_ESTIMATOR_DIRICHLET && (!(j->alpha >= 0.0) || j->alpha == INFINITY)) {
        h5div_set_error(msg, len, "dirichlet pseudocount must be a finite number >= 0 (%g)",
                        j->alpha);
        return H5DIV_EUSAGE;
    }
    if (j->est != H5DIV_ESTIMATOR_PLUGIN && opt->pseudocount != 0.0) {
        h5div_set_error(msg, len,
                        "--pseudocount applies to the plugin estimator only; use --estimator "
                        "dirichlet:A (--estimator %s)",
                        h5div_estimator_name(j->est));
        return H5DIV_EUSAGE;
    }
    if ((unsigned)j->est > H5DIV_ESTIMATOR_DIRICHLET) {
        h5div_set_error(msg, len, "unknown estimator (%d)", (int)j->est);
        return H5DIV_EUSAGE;
    }
    unsigned allowed = H5DIV_ENTROPY_ALL;
    if (j->est != H5DIV_ESTIMATOR_SHRINK)
        allowed &= ~H5DIV_MEASURE_BIT(H5DIV_SHRINKAGE_LAMBDA);
    if (opt->measures & ~allowed) {
        h5div_set_error(msg, len, "%s (measures)",
                        (opt->measures & ~H5DIV_ENTROPY_ALL)
                            ? "no such entropy measure"
                            : "shrinkage_lambda needs --estimator shrink");
        return H5DIV_EUSAGE;
    }
    return H5DIV_OK;
}

/* The columns of the measures asked for, in enum order. */
static int entropy_columns(const h5div_options *opt, h5div_column *cols)
{
    int n = 0;
    for (int m = 0; m < H5DIV_ENTROPY_NMEASURES; m++) {
        if (!(opt->measures & H5DIV_MEASURE_BIT(m)))
            continue;
        h5div_column *c = &cols[n++];
        memset(c, 0, sizeof *c);
        c->measure = m;
        c->order = -1;
        snprintf(c->name, sizeof c->name, "%s",
                 h5div_entropy_measure_name((h5div_entropy_measure)m));
        snprintf(c->units, sizeof c->units, "%s",
                 h5div_entropy_measure_units((h5div_entropy_measure)m, opt->base));
    }
    return n;
}

/* The owned rows' values (and standard errors and intervals) into the
 * caller's batch. Not collective. */
static int batch_out(entropy_job *j, char *msg, size_t len)
{
    h5div_batch *b = j->out;
    b->command = "entropy";
    b->candidates = 1;
    b->ncolumns = j->ncols;
    b->values = j->values;
    j->values = NULL;
    return j->B ? h5div_eval_bootstrap_summary(b, &j->reps, j->opt, msg, len) : H5DIV_OK;
}

static int entropy_body(MPI_Comm comm, void *arg, char *msg, size_t len)
{
    entropy_job *j = arg;
    const h5div_options *opt = j->opt;
    int st = h5div_check_options(opt, msg, len);
    if (st == H5DIV_OK)
        st = check_entropy_args(j, msg, len);
    if (st == H5DIV_OK)
        st = h5div_eval_bootstrap_args(opt, msg, len);
    j->B = st == H5DIV_OK ? opt->bootstrap : 0;
    j->nrep = 1 + (int)j->B;
    H5DIV_CHECK(h5div_par_agree(comm, st, msg, len));
    h5div_dset d;
    H5DIV_CHECK(h5div_dset_open_batch(comm, j->p_ref, &d, msg, len));
    h5div_dset *ds[1] = {&d};
    h5div_sweep sw;
    st = h5div_sweep_init(comm, &sw, ds, 1, 0, opt, msg, len);
    if (st == H5DIV_OK) {
        j->g = sw.grid;
        j->two_d = d.rows > 0;
        j->ncols = entropy_columns(opt, j->out->columns);
        h5div_row_family f = entropy_family;
        f.npasses = j->est == H5DIV_ESTIMATOR_SHRINK ? 3 : 2;
        f.state_size = (size_t)j->nrep * sizeof(row_state);
        f.row_bytes = (uint64_t)j->nrep * sizeof *j->rp;
        /* values, and with --bootstrap B replicates, se and interval */
        f.owned_row_bytes = (uint64_t)j->ncols * sizeof(double) * (1 + (j->B ? j->B + 3 : 0));
        f.ref = j->p_ref;
        st = h5div_eval_rows(comm, &sw, &f, j, opt, msg, len);
        h5div_sweep_free(&sw);
    }
    if (st == H5DIV_OK)
        st = h5div_par_agree(comm, batch_out(j, msg, len), msg, len);
    free(j->values);
    free(j->rp);
    free(j->rn);
    free(j->pack);
    free(j->ipack);
    free(j->draw);
    free(j->reps);
    h5div_dset_close(&d);
    return st;
}

int h5div_entropy_batch_files(MPI_Comm comm, const char *p_ref, const h5div_options *opt,
                              h5div_estimator estimator, double dirichlet_a, h5div_batch *out,
                              char *errmsg, size_t errlen)
{
    entropy_job j;
    memset(&j, 0, sizeof j);
    memset(out, 0, sizeof *out);
    j.p_ref = p_ref;
    j.opt = opt;
    j.est = estimator;
    j.alpha = estimator == H5DIV_ESTIMATOR_DIRICHLET ? dirichlet_a : opt ? opt->pseudocount : 0.0;
    j.out = out;
    return h5div_io_collective(comm, entropy_body, &j, errmsg, errlen);
}

int h5div_entropy_files(MPI_Comm comm, const char *p_ref, const h5div_options *opt,
                        h5div_estimator estimator, double dirichlet_a, h5div_entropy_result *result,
                        char *errmsg, size_t errlen)
{
    h5div_batch b;
    int st =
        h5div_entropy_batch_files(comm, p_ref, opt, estimator, dirichlet_a, &b, errmsg, errlen);
    if (st != H5DIV_OK)
        return st;
    memset(result, 0, sizeof *result);
    double v[H5DIV_COMPARE_MAX_COLUMNS];
    int measure[H5DIV_COMPARE_MAX_COLUMNS], ncols = b.ncolumns;
    for (int i = 0; i < ncols; i++)
        measure[i] = b.columns[i].measure;
    result->bins = b.bins;
    st = h5div_par_batch_single(comm, &b, p_ref, "h5div_entropy_batch_files", v, errmsg, errlen);
    if (st != H5DIV_OK)
        return st;
    result->estimator = estimator;
    result->dirichlet_a = estimator == H5DIV_ESTIMATOR_DIRICHLET ? dirichlet_a : 0.0;
    result->computed = opt->measures;
    for (int i = 0; i < ncols; i++)
        result->value[measure[i]] = v[i];
    return H5DIV_OK;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* File-level entropy of one histogram or one per row: a statistics pass, then the terms (two for shrink). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/entropy.h"
#include "io/io.h"
#include "par/par.h"

#define NO_ROW UINT64_MAX

/* What a row needs after the statistics pass. */
typedef struct row_param {
    double hi, lo;   /* total with pseudocount, hi + lo */
    double n, n_lo;  /* total of the raw counts, n + n_lo */
    double nonzero, singletons;
    double lambda;   /* shrinkage intensity (shrink only) */
} row_param;

/* Rows are split over ranks by whole blocks as in compare: rows that span
 * ranks ("slots") have their sums combined; the others are finished where
 * they lie, by the rank that holds their first block. */
typedef struct entropy_job {
    const char *p_ref;
    const h5div_options *opt;
    const h5div_sweep *sw; /* its lo_of: remainders of 64-bit integers of the piece */
    h5div_estimator est;
    double alpha; /* pseudocount of the plugin or of dirichlet:A */
    h5div_batch *out;
    h5div_grid g;
    int two_d;
    h5div_rows rw;                        /* rows touched, owned and shared */
    uint64_t cur_row;
    h5div_entropy_stats cur_st, *slot_st; /* pass 0; slot_st[parity] */
    row_param *rp;                        /* [row - rw.lo] */
    h5div_entropy_norm nm;                /* of the row in progress */
    double coverage, log_coverage;
    h5div_acc cur_acc[2], *slot_acc;      /* [parity][2] in the term passes */
    int ncols;
    double *values; /* [column][row - own0] */
} entropy_job;

enum { PASS_STATS = 0, PASS_TERMS, PASS_SHRINK };

/* Per-row quantities of the finished statistics of `row`. */
static void set_param(entropy_job *j, uint64_t row, const h5div_entropy_stats *st)
{
    row_param *p = &j->rp[row - j->rw.lo];
    h5div_acc_round2(&st->total, &p->hi, &p->lo);
    h5div_acc_round2(&st->raw, &p->n, &p->n_lo);
    p->nonzero = (double)st->nonzero;
    p->singletons = (double)st->singletons;
    p->lambda = 0.0;
}

static void flush_stats(entropy_job *j)
{
    if (j->cur_row == NO_ROW)
        return;
    int s = h5div_rows_shared(&j->rw, j->cur_row);
    if (s >= 0)
        j->slot_st[s % 2] = j->cur_st;
    else
        set_param(j, j->cur_row, &j->cur_st);
    j->cur_row = NO_ROW;
}

/* The finished sums of a row: its measures, or (first shrink pass) lambda. */
static void finish_row(entropy_job *j, int pass, uint64_t row, const h5div_acc acc[2])
{
    row_param *p = &j->rp[row - j->rw.lo];
    if (pass == PASS_TERMS && j->est == H5DIV_ESTIMATOR_SHRINK) {
        p->lambda = h5div_entropy_shrink_lambda(p->n, h5div_acc_round(&acc[0]),
                                                h5div_acc_round(&acc[1]));
        return;
    }
    double nats = h5div_acc_round(&acc[0]);
    if (j->est == H5DIV_ESTIMATOR_MILLER_MADOW)
        nats += (p->nonzero - 1.0) / (2.0 * p->n);
    nats = nats > 0.0 ? nats : 0.0; /* an entropy is never negative (nor -0) */
    double v[H5DIV_ENTROPY_NMEASURES];
    v[H5DIV_ENTROPY] = nats / h5div_ln_base(j->opt->base);
    v[H5DIV_PERPLEXITY] = exp(nats);
    v[H5DIV_TOTAL_COUNT] = p->n;
    v[H5DIV_NONZERO_BINS] = p->nonzero;
    v[H5DIV_SHRINKAGE_LAMBDA] = p->lambda;
    uint64_t nown = j->rw.own1 - j->rw.own0;
    for (int i = 0; i < j->ncols; i++)
        j->values[(uint64_t)i * nown + (row - j->rw.own0)] = v[j->out->columns[i].measure];
}

static void flush_terms(entropy_job *j, int pass)
{
    if (j->cur_row == NO_ROW)
        return;
    int s = h5div_rows_shared(&j->rw, j->cur_row);
    if (s >= 0) {
        j->slot_acc[2 * (s % 2)] = j->cur_acc[0];
        j->slot_acc[2 * (s % 2) + 1] = j->cur_acc[1];
    } else {
        finish_row(j, pass, j->cur_row, j->cur_acc);
    }
    j->cur_row = NO_ROW;
}

static void start_row_terms(entropy_job *j, uint64_t row)
{
    const row_param *p = &j->rp[row - j->rw.lo];
    h5div_entropy_norm_init(&j->nm, p->hi, p->lo, j->alpha);
    double f1 = p->singletons;
    if (f1 == p->n)
        f1 = p->n - 1.0; /* a sample of singletons only: coverage 1/n, not 0 */
    j->coverage = 1.0 - f1 / p->n;
    j->log_coverage = log1p(-f1 / p->n);
    h5div_acc_init(&j->cur_acc[0]);
    h5div_acc_init(&j->cur_acc[1]);
    j->cur_row = row;
}

static int entropy_piece(void *ctx, int pass, uint64_t first_bin, size_t n, double *const *v,
                         char *msg, size_t len)
{
    entropy_job *j = ctx;
    const uint64_t cols = j->g.cols, end = first_bin + n;
    for (uint64_t pos = first_bin; pos < end;) {
        uint64_t row = pos / cols;
        uint64_t seg_end = (row + 1) * cols < end ? (row + 1) * cols : end;
        const double *x = v[0] + (pos - first_bin);
        const double *xl = j->sw->lo_of[0] ? j->sw->lo_of[0] + (pos - first_bin) : NULL;
        size_t m = (size_t)(seg_end - pos);
        if (pass == PASS_STATS) {
            if (row != j->cur_row) {
                flush_stats(j);
                h5div_entropy_stats_init(&j->cur_st);
                j->cur_row = row;
            }
            const uint64_t where_cols = j->two_d ? cols : 0;
            H5DIV_CHECK(h5div_check_values(x, m, pos, where_cols, j->p_ref, msg, len));
            size_t i;
            if (j->est != H5DIV_ESTIMATOR_PLUGIN && (i = h5div_first_fraction(x, m)) < m) {
                char where[96];
                h5div_where(pos + i, where_cols, where, sizeof where);
                h5div_set_error(msg, len,
                                "value %.17g is not a whole number; the %s estimator needs "
                                "counts (%s, %s)",
                                x[i], h5div_estimator_name(j->est), j->p_ref, where);
                return H5DIV_EINPUT;
            }
            h5div_entropy_stats_add_lo(x, xl, m, j->alpha, &j->cur_st);
        } else {
            if (row != j->cur_row) {
                flush_terms(j, pass);
                start_row_terms(j, row);
            }
            const row_param *p = &j->rp[row - j->rw.lo];
            if (pass == PASS_SHRINK)
                h5div_entropy_shrink_add_lo(x, xl, m, p->n, p->n_lo, (double)cols, p->lambda,
                                            &j->cur_acc[0]);
            else if (j->est == H5DIV_ESTIMATOR_CHAO_SHEN)
                h5div_entropy_chao_shen_add_lo(x, xl, m, p->n, p->n_lo, j->coverage,
                                               j->log_coverage, &j->cur_acc[0]);
            else if (j->est == H5DIV_ESTIMATOR_SHRINK)
                h5div_entropy_shrink_sums_add_lo(x, xl, m, p->n, p->n_lo, (double)cols, j->cur_acc);
            else
                h5div_entropy_plugin_add_lo(x, xl, m, &j->nm, &j->cur_acc[0]);
        }
        pos = seg_end;
    }
    return H5DIV_OK;
}

/* After the statistics pass: combine the shared rows among the ranks that
 * hold them, refuse all-zero rows. */
static int settle_stats(MPI_Comm comm, entropy_job *j, char *msg, size_t len)
{
    flush_stats(j);
    for (int p = 0; p < 2; p++) {
        if (j->rw.sc.c[p] == MPI_COMM_NULL)
            continue;
        h5div_entropy_stats *t = &j->slot_st[p];
        h5div_acc a[2] = {t->raw, t->total};
        H5DIV_CHECK(h5div_par_sum_acc(j->rw.sc.c[p], a, 2));
        int64_t c[2] = {t->nonzero, t->singletons};
        H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, c, 2, MPI_INT64_T, MPI_SUM, j->rw.sc.c[p]));
        h5div_entropy_stats sum = {a[0], a[1], c[0], c[1]};
        set_param(j, j->rw.shared[j->rw.sc.slot[p]], &sum);
    }
    int st = H5DIV_OK;
    for (uint64_t row = j->rw.lo; row < j->rw.hi && st == H5DIV_OK; row++) {
        const row_param *p = &j->rp[row - j->rw.lo];
        if (p->hi > 0.0 && isfinite(p->hi) && isfinite(p->n))
            continue;
        const char *what = p->hi == 0.0 ? "is all zeros" : "total overflows a double";
        if (j->two_d)
            h5div_set_error(msg, len, "histogram %s (%s, row %llu)", what, j->p_ref,
                            (unsigned long long)row);
        else
            h5div_set_error(msg, len, "histogram %s (%s)", what, j->p_ref);
        st = H5DIV_EINPUT;
    }
    return h5div_par_agree(comm, st, msg, len);
}

/* After a term pass: combine the shared rows and finish the ones owned here
 * (lambda, after the first shrink pass, on every rank that holds the row). */
static int settle_terms(entropy_job *j, int pass)
{
    flush_terms(j, pass);
    for (int p = 0; p < 2; p++) {
        if (j->rw.sc.c[p] == MPI_COMM_NULL)
            continue;
        h5div_acc *a = &j->slot_acc[2 * p];
        H5DIV_CHECK(h5div_par_sum_acc(j->rw.sc.c[p], a, 2));
        uint64_t row = j->rw.shared[j->rw.sc.slot[p]];
        if ((pass == PASS_TERMS && j->est == H5DIV_ESTIMATOR_SHRINK) ||
            (row >= j->rw.own0 && row < j->rw.own1))
            finish_row(j, pass, row, a);
        h5div_acc_init(&a[0]);
        h5div_acc_init(&a[1]);
    }
    return H5DIV_OK;
}

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

static int job_alloc(MPI_Comm comm, entropy_job *j, const h5div_sweep *sw, char *msg, size_t len)
{
    H5DIV_CHECK(h5div_rows_init(comm, sw, &j->rw, msg, len));
    H5DIV_CHECK(h5div_rows_memory_check(comm, sw, &j->rw, sizeof *j->rp,
                                        (uint64_t)j->ncols * sizeof(double), j->opt, j->p_ref, msg,
                                        len));
    int ok = 1;
    size_t ns = 2, nrows = (size_t)(j->rw.hi - j->rw.lo);
    size_t nown = (size_t)(j->rw.own1 - j->rw.own0);
    ok &= (j->slot_st = malloc(ns * sizeof *j->slot_st)) != NULL;
    ok &= (j->slot_acc = malloc(ns * 2 * sizeof *j->slot_acc)) != NULL;
    ok &= (j->rp = calloc(nrows ? nrows : 1, sizeof *j->rp)) != NULL;
    ok &= (j->values = malloc((nown ? nown : 1) * (size_t)j->ncols * sizeof(double))) != NULL;
    for (size_t s = 0; ok && s < ns; s++) {
        h5div_entropy_stats_init(&j->slot_st[s]);
        h5div_acc_init(&j->slot_acc[2 * s]);
        h5div_acc_init(&j->slot_acc[2 * s + 1]);
    }
    if (!ok)
        h5div_set_error(msg, len, "out of memory for the per-row state of %zu rows (--memory-per-rank)",
                        nrows);
    return h5div_par_agree(comm, ok ? H5DIV_OK : H5DIV_EINTERNAL, msg, len);
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
        snprintf(c->name, sizeof c->name, "%s", h5div_entropy_measure_name((h5div_entropy_measure)m));
        snprintf(c->units, sizeof c->units, "%s",
                 h5div_entropy_measure_units((h5div_entropy_measure)m, opt->base));
    }
    return n;
}

static int entropy_body(MPI_Comm comm, void *arg, char *msg, size_t len)
{
    entropy_job *j = arg;
    const h5div_options *opt = j->opt;
    int st = h5div_check_options(opt, msg, len);
    if (st == H5DIV_OK)
        st = check_entropy_args(j, msg, len);
    H5DIV_CHECK(h5div_par_agree(comm, st, msg, len));
    h5div_dset d;
    H5DIV_CHECK(h5div_dset_open_batch(comm, j->p_ref, &d, msg, len));
    h5div_dset *ds[1] = {&d};
    h5div_sweep sw;
    st = h5div_sweep_init(comm, &sw, ds, 1, 0, opt, msg, len);
    if (st != H5DIV_OK) {
        h5div_dset_close(&d);
        return st;
    }
    h5div_batch *b = j->out;
    j->g = sw.grid;
    j->two_d = d.rows > 0;
    j->cur_row = NO_ROW;
    j->ncols = entropy_columns(opt, b->columns);
    j->sw = &sw;
    st = job_alloc(comm, j, &sw, msg, len);
    if (st == H5DIV_OK)
        st = h5div_sweep_run(comm, &sw, PASS_STATS, 0, opt, entropy_piece, j, msg, len);
    if (st == H5DIV_OK)
        st = settle_stats(comm, j, msg, len);
    for (int pass = PASS_TERMS; st == H5DIV_OK && pass <= PASS_SHRINK; pass++) {
        if (pass == PASS_SHRINK && j->est != H5DIV_ESTIMATOR_SHRINK)
            break;
        j->cur_row = NO_ROW;
        st = h5div_sweep_run(comm, &sw, pass, 0, opt, entropy_piece, j, msg, len);
        if (st == H5DIV_OK)
            st = settle_terms(j, pass);
    }
    if (st == H5DIV_OK) {
        b->command = "entropy";
        b->candidates = 1;
        b->two_d = j->two_d;
        b->rows = j->g.rows;
        b->bins = j->g.cols;
        b->ncolumns = j->ncols;
        b->row_begin = j->rw.own0;
        b->row_count = j->rw.own1 - j->rw.own0;
        b->values = j->values;
        j->values = NULL;
    }
    free(j->values);
    h5div_rows_free(&j->rw);
    free(j->slot_st);
    free(j->slot_acc);
    free(j->rp);
    h5div_sweep_free(&sw);
    h5div_dset_close(&d);
    return st;
}

int h5div_entropy_batch_files(MPI_Comm comm, const char *p_ref, const h5div_options *opt,
                              h5div_estimator estimator, double dirichlet_a, h5div_batch *out,
                              char *errmsg, size_t errlen)
{
    entropy_job j;
    memset(&j, 0, sizeof j);
    j.rw.sc.c[0] = j.rw.sc.c[1] = MPI_COMM_NULL;
    memset(out, 0, sizeof *out);
    j.p_ref = p_ref;
    j.opt = opt;
    j.est = estimator;
    j.alpha = estimator == H5DIV_ESTIMATOR_DIRICHLET ? dirichlet_a : opt ? opt->pseudocount : 0.0;
    j.out = out;
    return h5div_io_collective(comm, entropy_body, &j, errmsg, errlen);
}

int h5div_entropy_files(MPI_Comm comm, const char *p_ref, const h5div_options *opt,
                        h5div_estimator estimator, double dirichlet_a,
                        h5div_entropy_result *result, char *errmsg, size_t errlen)
{
    h5div_batch b;
    int st = h5div_entropy_batch_files(comm, p_ref, opt, estimator, dirichlet_a, &b, errmsg,
                                       errlen);
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

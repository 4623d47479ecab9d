/* SPDX-License-Identifier: BSD-3-Clause */
/* File-level entropy with the estimators: a statistics pass, then the terms (two for shrink). */
#include <math.h>
#include <string.h>

#include "core/entropy.h"
#include "io/io.h"
#include "par/par.h"

typedef struct entropy_job {
    const char *p_ref;
    const h5div_options *opt;
    h5div_estimator est;
    double alpha; /* pseudocount of the plugin or of dirichlet:A */
    h5div_entropy_result *res;
    /* filled as the passes go */
    h5div_entropy_stats stats;
    h5div_entropy_norm nm;
    double n, k, coverage, log_coverage, lambda;
    h5div_acc acc[2];
} entropy_job;

enum { PASS_STATS = 0, PASS_TERMS, PASS_SHRINK };

static int entropy_piece(void *ctx, int pass, uint64_t first_bin, size_t n, double *const *v,
                         char *msg, size_t len)
{
    entropy_job *j = ctx;
    const double *x = v[0];
    if (pass == PASS_STATS) {
        H5DIV_CHECK(h5div_check_values(x, n, first_bin, j->p_ref, msg, len));
        if (j->est != H5DIV_ESTIMATOR_PLUGIN) {
            size_t i = h5div_first_fraction(x, n);
            if (i < n) {
                h5div_set_error(msg, len,
                                "value %.17g is not a whole number; the %s estimator needs "
                                "counts (%s, bin %llu)",
                                x[i], h5div_estimator_name(j->est), j->p_ref,
                                (unsigned long long)(first_bin + i));
                return H5DIV_EINPUT;
            }
        }
        h5div_entropy_stats_add(x, n, j->alpha, &j->stats);
        return H5DIV_OK;
    }
    if (pass == PASS_SHRINK) {
        h5div_entropy_shrink_add(x, n, j->n, j->k, j->lambda, &j->acc[0]);
        return H5DIV_OK;
    }
    switch (j->est) {
    case H5DIV_ESTIMATOR_CHAO_SHEN:
        h5div_entropy_chao_shen_add(x, n, j->n, j->coverage, j->log_coverage, &j->acc[0]);
        break;
    case H5DIV_ESTIMATOR_SHRINK: h5div_entropy_shrink_sums_add(x, n, j->n, j->k, j->acc); break;
    default: h5div_entropy_plugin_add(x, n, &j->nm, &j->acc[0]); break;
    }
    return H5DIV_OK;
}

/* Collective: the first-pass quantities summed over ranks (exactly). */
static int reduce_stats(MPI_Comm comm, h5div_entropy_stats *st)
{
    h5div_acc a[2] = {st->raw, st->total};
    H5DIV_CHECK(h5div_par_sum_acc(comm, a, 2));
    st->raw = a[0];
    st->total = a[1];
    int64_t c[2] = {st->nonzero, st->singletons};
    H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, c, 2, MPI_INT64_T, MPI_SUM, comm));
    st->nonzero = c[0];
    st->singletons = c[1];
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

static int entropy_body(MPI_Comm comm, void *arg, char *msg, size_t len)
{
    entropy_job *j = arg;
    const h5div_options *opt = j->opt;
    int st = h5div_check_options(opt, msg, len);
    if (st == H5DIV_OK)
        st = check_entropy_args(j, msg, len);
    H5DIV_CHECK(h5div_par_agree(comm, st, msg, len));
    h5div_dset d;
    H5DIV_CHECK(h5div_dset_open(comm, j->p_ref, &d, msg, len));
    h5div_dset *ds[1] = {&d};
    h5div_sweep sw;
    st = h5div_sweep_init(comm, &sw, ds, 1, 0, opt, msg, len);
    if (st != H5DIV_OK) {
        h5div_dset_close(&d);
        return st;
    }
    memset(j->res, 0, sizeof *j->res);
    j->res->bins = d.bins;
    j->res->estimator = j->est;
    j->res->dirichlet_a = j->est == H5DIV_ESTIMATOR_DIRICHLET ? j->alpha : 0.0;
    h5div_entropy_stats_init(&j->stats);
    h5div_acc_init(&j->acc[0]);
    h5div_acc_init(&j->acc[1]);
    st = h5div_sweep_run(comm, &sw, PASS_STATS, 0, opt, entropy_piece, j, msg, len);
    if (st == H5DIV_OK)
        st = reduce_stats(comm, &j->stats);
    double hi = 0.0, lo = 0.0;
    if (st == H5DIV_OK) {
        /* Every rank holds the same reduced values: the same branch everywhere. */
        h5div_acc_round2(&j->stats.total, &hi, &lo);
        j->n = h5div_acc_round(&j->stats.raw);
        j->k = (double)d.bins;
        if (hi == 0.0) {
            h5div_set_error(msg, len, "histogram is all zeros (%s)", j->p_ref);
            st = H5DIV_EINPUT;
        } else if (!isfinite(hi) || !isfinite(j->n)) {
            h5div_set_error(msg, len, "histogram total overflows a double (%s)", j->p_ref);
            st = H5DIV_EINPUT;
        }
    }
    if (st == H5DIV_OK) {
        h5div_entropy_norm_init(&j->nm, hi, lo, j->alpha);
        double f1 = (double)j->stats.singletons;
        if (f1 == j->n)
            f1 = j->n - 1.0; /* a sample of singletons only: coverage 1/n, not 0 */
        j->coverage = 1.0 - f1 / j->n;
        j->log_coverage = log1p(-f1 / j->n);
        st = h5div_sweep_run(comm, &sw, PASS_TERMS, 0, opt, entropy_piece, j, msg, len);
    }
    if (st == H5DIV_OK && j->est == H5DIV_ESTIMATOR_SHRINK) {
        H5DIV_CHECK(h5div_par_sum_acc(comm, j->acc, 2));
        j->lambda = h5div_entropy_shrink_lambda(j->n, h5div_acc_round(&j->acc[0]),
                                                h5div_acc_round(&j->acc[1]));
        h5div_acc_init(&j->acc[0]);
        st = h5div_sweep_run(comm, &sw, PASS_SHRINK, 0, opt, entropy_piece, j, msg, len);
    }
    if (st == H5DIV_OK)
        st = h5div_par_sum_acc(comm, &j->acc[0], 1);
    if (st == H5DIV_OK) {
        double nats = h5div_acc_round(&j->acc[0]);
        if (j->est == H5DIV_ESTIMATOR_MILLER_MADOW)
            nats += ((double)j->stats.nonzero - 1.0) / (2.0 * j->n);
        nats = nats > 0.0 ? nats : 0.0; /* an entropy is never negative (nor -0) */
        double *v = j->res->value;
        v[H5DIV_ENTROPY] = nats / h5div_ln_base(opt->base);
        v[H5DIV_PERPLEXITY] = exp(nats);
        v[H5DIV_TOTAL_COUNT] = j->n;
        v[H5DIV_NONZERO_BINS] = (double)j->stats.nonzero;
        v[H5DIV_SHRINKAGE_LAMBDA] = j->lambda;
        j->res->computed = opt->measures;
    }
    h5div_sweep_free(&sw);
    h5div_dset_close(&d);
    return st;
}

int h5div_entropy_files(MPI_Comm comm, const char *p_ref, const h5div_options *opt,
                        h5div_estimator estimator, double dirichlet_a,
                        h5div_entropy_result *result, char *errmsg, size_t errlen)
{
    entropy_job j;
    memset(&j, 0, sizeof j);
    j.p_ref = p_ref;
    j.opt = opt;
    j.est = estimator;
    j.alpha = estimator == H5DIV_ESTIMATOR_DIRICHLET ? dirichlet_a : opt ? opt->pseudocount : 0.0;
    j.res = result;
    return h5div_io_collective(comm, entropy_body, &j, errmsg, errlen);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* File-level compare: block-aligned shards swept in bounded pieces, two passes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "par/par.h"

/* Report the first invalid value of a piece, naming the global bin. */
int h5div_check_values(const double *v, size_t n, uint64_t first_bin, const char *ref, char *msg,
                       size_t len)
{
    size_t i = h5div_first_invalid(v, n);
    if (i == n)
        return H5DIV_OK;
    double x = v[i];
    const char *what = isnan(x) ? "NaN" : isinf(x) ? "infinite" : "negative";
    h5div_set_error(msg, len, "%s value %g in histogram (%s, bin %llu)", what, x, ref,
                    (unsigned long long)(first_bin + i));
    return H5DIV_EINPUT;
}

typedef struct pass_state {
    double alpha;
    h5div_acc tot[2];
    const h5div_norm *nm;
    unsigned terms;
    h5div_compare_partial *part;
    const char *ref[2];
} pass_state;

/* Pass 0 checks the values and sums the totals; pass 1 adds the terms. */
static int compare_piece(void *ctx, int pass, uint64_t first_bin, size_t n, double *const *v,
                         char *msg, size_t len)
{
    pass_state *ps = ctx;
    if (pass == 1) {
        h5div_compare_add(v[0], v[1], n, ps->nm, ps->terms, ps->part);
        return H5DIV_OK;
    }
    for (int k = 0; k < 2; k++) {
        size_t i = h5div_total_add_valid(v[k], n, ps->alpha, &ps->tot[k]);
        if (i < n)
            return h5div_check_values(v[k] + i, n - i, first_bin + i, ps->ref[k], msg, len);
    }
    return H5DIV_OK;
}

static int compare_open(MPI_Comm comm, const char *p_ref, const char *q_ref,
                        const h5div_options *opt, h5div_compare_result *result, char *msg,
                        size_t len)
{
    int st = h5div_agree_options(comm, opt, msg, len);
    if (st != H5DIV_OK)
        return st;
    h5div_dset dp, dq;
    H5DIV_CHECK(h5div_dset_open(comm, p_ref, &dp, msg, len));
    st = h5div_dset_open(comm, q_ref, &dq, msg, len);
    if (st != H5DIV_OK) {
        h5div_dset_close(&dp);
        return st;
    }
    if (dp.bins != dq.bins) {
        /* Same metadata on every rank: every rank takes this branch. */
        h5div_set_error(msg, len, "histograms differ in shape: %llu vs %llu bins (%s, %s)",
                        (unsigned long long)dp.bins, (unsigned long long)dq.bins, p_ref, q_ref);
        st = H5DIV_EINPUT;
    }
    h5div_sweep sw;
    h5div_dset *ds[2] = {&dp, &dq};
    int have_sweep = 0;
    if (st == H5DIV_OK) {
        st = h5div_sweep_init(comm, &sw, ds, 2, 0, opt, msg, len);
        have_sweep = st == H5DIV_OK;
    }
    pass_state ps = {.alpha = opt->pseudocount, .ref = {p_ref, q_ref}};
    h5div_acc_init(&ps.tot[0]);
    h5div_acc_init(&ps.tot[1]);
    h5div_norm nm;
    h5div_compare_partial part;
    if (st == H5DIV_OK) {
        memset(result, 0, sizeof *result);
        result->bins = dp.bins;
        st = h5div_sweep_run(comm, &sw, 0, 0, opt, compare_piece, &ps, msg, len);
    }
    if (st == H5DIV_OK)
        st = h5div_par_totals(comm, ps.tot, opt->pseudocount, p_ref, q_ref, &nm, result, msg,
                              len);
    if (st == H5DIV_OK) {
        h5div_compare_partial_init(&part);
        ps.nm = &nm;
        ps.terms = h5div_terms_for_measures(opt->measures);
        ps.part = &part;
        st = h5div_sweep_run(comm, &sw, 1, 0, opt, compare_piece, &ps, msg, len);
    }
    if (st == H5DIV_OK)
        st = h5div_par_finish(comm, &part, opt, result);
    if (have_sweep)
        h5div_sweep_free(&sw);
    h5div_dset_close(&dq);
    h5div_dset_close(&dp);
    return st;
}

typedef struct compare_args {
    const char *p_ref, *q_ref;
    const h5div_options *opt;
    h5div_compare_result *result;
} compare_args;

static int compare_body(MPI_Comm c, void *arg, char *msg, size_t len)
{
    compare_args *ca = arg;
    return compare_open(c, ca->p_ref, ca->q_ref, ca->opt, ca->result, msg, len);
}

int h5div_compare_files(MPI_Comm comm, const char *p_ref, const char *q_ref,
                        const h5div_options *opt, h5div_compare_result *result, char *errmsg,
                        size_t errlen)
{
    compare_args ca = {p_ref, q_ref, opt, result};
    return h5div_io_collective(comm, compare_body, &ca, errmsg, errlen);
}

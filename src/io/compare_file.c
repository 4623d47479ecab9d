/* SPDX-License-Identifier: BSD-3-Clause */
/* File-level compare: block-aligned shards read in bounded pieces, two passes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "par/par.h"

/* No single read may approach the 2 GiB limit of one MPI-IO request. */
#define PIECE_BYTES_MAX ((size_t)1 << 30)

typedef struct shard_plan {
    uint64_t offset, count; /* this rank's bins */
    uint64_t piece_bins;    /* bins per read, a multiple of the block size */
    uint64_t rounds;        /* read rounds, the same on every rank */
    int cached;             /* whole shard kept in memory between the passes */
} shard_plan;

typedef struct shard_data {
    double *p, *q; /* whole shard when cached, else one piece */
} shard_data;

static int plan_shard(MPI_Comm comm, uint64_t bins, const h5div_options *opt, shard_plan *pl)
{
    int rank, size;
    H5DIV_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    H5DIV_MPI_CHECK(MPI_Comm_size(comm, &size));
    h5div_partition(bins, size, rank, &pl->offset, &pl->count);
    /* Two histograms, 8 bytes a bin once converted to double. */
    uint64_t need = pl->count * 2 * sizeof(double);
    pl->cached = need <= opt->memory_per_rank;
    size_t piece_bytes = opt->piece_bytes < PIECE_BYTES_MAX ? opt->piece_bytes : PIECE_BYTES_MAX;
    uint64_t piece = piece_bytes / sizeof(double);
    if (!pl->cached && piece > opt->memory_per_rank / (2 * sizeof(double)))
        piece = opt->memory_per_rank / (2 * sizeof(double));
    piece -= piece % H5DIV_BLOCK_BINS;
    pl->piece_bins = piece ? piece : H5DIV_BLOCK_BINS;
    uint64_t mine = (pl->count + pl->piece_bins - 1) / pl->piece_bins;
    H5DIV_MPI_CHECK(MPI_Allreduce(&mine, &pl->rounds, 1, MPI_UINT64_T, MPI_MAX, comm));
    return H5DIV_OK;
}

/* Report the first invalid value of a piece, naming the global bin. */
static int check_values(const double *v, size_t n, uint64_t first_bin, const char *ref,
                        char *msg, size_t len)
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
    int first_pass;
    double alpha;
    h5div_acc tot[2];
    const h5div_norm *nm;
    unsigned terms;
    h5div_compare_partial *part;
} pass_state;

/* One pass over the shard: every rank takes part in every read round, even
 * with nothing left to read, and the ranks agree on errors after each
 * round so a bad value or failed read stops all of them promptly. */
static int run_pass(MPI_Comm comm, h5div_dset *dp, h5div_dset *dq, const shard_plan *pl,
                    shard_data *buf, int collective, pass_state *ps, char *msg, size_t len)
{
    int from_memory = pl->cached && !ps->first_pass;
    for (uint64_t r = 0; r < pl->rounds; r++) {
        uint64_t start = r * pl->piece_bins;
        uint64_t n = start < pl->count ? pl->count - start : 0;
        if (n > pl->piece_bins)
            n = pl->piece_bins;
        double *p = pl->cached ? buf->p + start : buf->p;
        double *q = pl->cached ? buf->q + start : buf->q;
        int st = H5DIV_OK;
        if (!from_memory) {
            st = h5div_dset_read(dp, pl->offset + start, (size_t)n, n ? p : NULL, collective,
                                 msg, len);
            if (st == H5DIV_OK)
                st = h5div_dset_read(dq, pl->offset + start, (size_t)n, n ? q : NULL,
                                     collective, msg, len);
        }
        if (st == H5DIV_OK && ps->first_pass) {
            st = check_values(p, (size_t)n, pl->offset + start, dp->ref, msg, len);
            if (st == H5DIV_OK)
                st = check_values(q, (size_t)n, pl->offset + start, dq->ref, msg, len);
            if (st == H5DIV_OK) {
                h5div_total_add(p, (size_t)n, ps->alpha, &ps->tot[0]);
                h5div_total_add(q, (size_t)n, ps->alpha, &ps->tot[1]);
            }
        } else if (st == H5DIV_OK) {
            h5div_compare_add(p, q, (size_t)n, ps->nm, ps->terms, ps->part);
        }
        if (!from_memory)
            H5DIV_CHECK(h5div_par_agree(comm, st, msg, len));
        else if (st != H5DIV_OK)
            return st;
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
    shard_plan pl = {0};
    shard_data buf = {NULL, NULL};
    if (st == H5DIV_OK)
        st = plan_shard(comm, dp.bins, opt, &pl);
    if (st == H5DIV_OK) {
        size_t n = (size_t)(pl.cached ? pl.count : pl.piece_bins);
        buf.p = malloc((n ? n : 1) * sizeof(double));
        buf.q = malloc((n ? n : 1) * sizeof(double));
        int local = buf.p && buf.q ? H5DIV_OK : H5DIV_EINTERNAL;
        if (local != H5DIV_OK)
            h5div_set_error(msg, len, "out of memory for %zu bins (use --memory-per-rank)", n);
        st = h5div_par_agree(comm, local, msg, len);
    }
    pass_state ps = {.first_pass = 1, .alpha = opt->pseudocount};
    h5div_acc_init(&ps.tot[0]);
    h5div_acc_init(&ps.tot[1]);
    h5div_norm nm;
    h5div_compare_partial part;
    if (st == H5DIV_OK) {
        memset(result, 0, sizeof *result);
        result->bins = dp.bins;
        st = run_pass(comm, &dp, &dq, &pl, &buf, opt->collective_io, &ps, msg, len);
    }
    if (st == H5DIV_OK)
        st = h5div_par_totals(comm, ps.tot, opt->pseudocount, p_ref, q_ref, &nm, result, msg,
                              len);
    if (st == H5DIV_OK) {
        h5div_compare_partial_init(&part);
        ps.first_pass = 0;
        ps.nm = &nm;
        ps.terms = h5div_terms_for_measures(opt->measures);
        ps.part = &part;
        st = run_pass(comm, &dp, &dq, &pl, &buf, opt->collective_io, &ps, msg, len);
    }
    if (st == H5DIV_OK)
        st = h5div_par_finish(comm, &part, opt, result);
    free(buf.p);
    free(buf.q);
    h5div_dset_close(&dq);
    h5div_dset_close(&dp);
    return st;
}

int h5div_compare_files(MPI_Comm comm, const char *p_ref, const char *q_ref,
                        const h5div_options *opt, h5div_compare_result *result, char *errmsg,
                        size_t errlen)
{
    /* A private communicator whose errors return instead of aborting. */
    MPI_Comm c;
    if (MPI_Comm_dup(comm, &c) != MPI_SUCCESS) {
        h5div_set_error(errmsg, errlen, "MPI_Comm_dup failed (communicator)");
        return H5DIV_EINTERNAL;
    }
    MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN);
    h5div_h5_quiet q;
    h5div_h5_quiet_begin(&q);
    char msg[1024] = "";
    int st = compare_open(c, p_ref, q_ref, opt, result, msg, sizeof msg);
    h5div_h5_quiet_end(&q);
    MPI_Comm_free(&c);
    if (st != H5DIV_OK)
        h5div_set_error(errmsg, errlen, "%s", msg[0] ? msg : h5div_strerror(st));
    return st;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Compare of two histograms whose shards are already in memory. */
#include <stdlib.h>
#include <string.h>

#include "par/par.h"

/* A failed reduction: the recorded MPI failure, if any, as the message. */
static int mpi_failure(int st, char *errmsg, size_t errlen)
{
    if (h5div_mpi_error()[0])
        h5div_set_error(errmsg, errlen, "%s", h5div_mpi_error());
    return st;
}

/* The arguments of h5div_compare_shards and the values of this rank's
 * shards (not agreed). */
static int check_shards(const double *restrict p, const double *restrict q, uint64_t offset,
                        size_t count, uint64_t bins, const h5div_options *opt, char *msg,
                        size_t len)
{
    H5DIV_CHECK(h5div_check_options(opt, msg, len));
    if (count && (!p || !q)) {
        h5div_set_error(msg, len, "shard data is NULL (p or q)");
        return H5DIV_EUSAGE;
    }
    if (offset > bins || count > bins - offset) {
        h5div_set_error(msg, len, "shard [%llu, +%zu) outside the %llu bins",
                        (unsigned long long)offset, count, (unsigned long long)bins);
        return H5DIV_EUSAGE;
    }
    size_t bp = h5div_first_invalid(p, count), bq = h5div_first_invalid(q, count);
    if (bp == count && bq == count)
        return H5DIV_OK;
    int in_p = bp <= bq;
    size_t i = in_p ? bp : bq;
    double v = in_p ? p[i] : q[i];
    h5div_set_error(msg, len, "%s value %g in histogram (%s, bin %llu)",
                    v != v  ? "NaN"
                    : v < 0 ? "negative"
                            : "infinite",
                    v, in_p ? "p" : "q", (unsigned long long)(offset + i));
    return H5DIV_EINPUT;
}

/* W1 block by block from the prefix totals pfx at the shard's start
 * (advanced over it). */
static void add_w1(const double *restrict p, const double *restrict q, uint64_t offset,
                   size_t count, uint64_t bins, const h5div_options *opt, const h5div_norm *nm,
                   h5div_acc pfx[2], h5div_compare_partial *part)
{
    for (size_t b = 0; b < count; b += H5DIV_BLOCK_BINS) {
        size_t e = count - b < H5DIV_BLOCK_BINS ? count - b : H5DIV_BLOCK_BINS;
        size_t nw = offset + b + e == bins ? e - 1 : e; /* not the last bin */
        double px[2], py[2];
        h5div_acc_round2(&pfx[0], &px[0], &px[1]);
        h5div_acc_round2(&pfx[1], &py[0], &py[1]);
        h5div_acc_add(&part->acc[H5DIV_T_W1],
                      h5div_w1_block_gap_lo(p + b, q + b, NULL, NULL, e, nw, nm, px, py, NULL,
                                            &pfx[0], &pfx[1], &part->ks, NULL));
        h5div_total_block(p + b, e, opt->pseudocount, &pfx[0]);
        h5div_total_block(q + b, e, opt->pseudocount, &pfx[1]);
    }
}

int h5div_compare_shards(MPI_Comm comm, const double *restrict p, const double *restrict q,
                         uint64_t offset, size_t count, uint64_t bins, const h5div_options *opt,
                         h5div_compare_result *result, char *errmsg, size_t errlen)
{
    char msg[1024] = "";
    h5div_mpi_error_clear();
    int st = check_shards(p, q, offset, count, bins, opt, msg, sizeof msg);
    st = h5div_par_agree(comm, st, msg, sizeof msg);
    if (st != H5DIV_OK) {
        h5div_set_error(errmsg, errlen, "%s", msg);
        return st;
    }
    memset(result, 0, sizeof *result);
    result->bins = bins;
    h5div_acc tot[2], pfx[2];
    h5div_acc_init(&tot[0]);
    h5div_acc_init(&tot[1]);
    h5div_total_add(p, count, opt->pseudocount, &tot[0]);
    h5div_total_add(q, count, opt->pseudocount, &tot[1]);
    h5div_term_params tp;
    h5div_term_params_init(&tp, opt);
    const int w1 = (int)((tp.mask >> H5DIV_T_W1) & 1u);
    if (w1) { /* what the ranks before this one hold: the prefix at its start */
        pfx[0] = tot[0];
        pfx[1] = tot[1];
        st = h5div_par_exscan_acc(comm, pfx, 2);
        if (st != H5DIV_OK)
            return mpi_failure(st, errmsg, errlen);
    }
    h5div_norm nm;
    double parts[2][H5DIV_ACC_PARTS];
    st =
        h5div_par_totals(comm, tot, opt->pseudocount, "p", "q", &nm, parts, result, errmsg, errlen);
    if (st != H5DIV_OK)
        return st;
    h5div_compare_partial *part = malloc(sizeof *part);
    st = h5div_par_agree(comm, part ? H5DIV_OK : H5DIV_EINTERNAL, msg, sizeof msg);
    if (st != H5DIV_OK) {
        free(part);
        h5div_set_error(errmsg, errlen, "out of memory");
        return st;
    }
    h5div_compare_partial_init(part, tp.mask);
    h5div_compare_add(p, q, count, &nm, &tp, part);
    if (w1)
        add_w1(p, q, offset, count, bins, opt, &nm, pfx, part);
    st = h5div_par_finish(comm, part, opt, result);
    free(part);
    return st == H5DIV_OK ? st : mpi_failure(st, errmsg, errlen);
}

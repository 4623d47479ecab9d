/* SPDX-License-Identifier: BSD-3-Clause */
/* Block-aligned sweeps over the shards of 1-D datasets in bounded pieces, one or more passes. */
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "par/par.h"

/* No single read may approach the 2 GiB limit of one MPI-IO request. */
#define PIECE_BYTES_MAX ((size_t)1 << 30)

int h5div_sweep_init(MPI_Comm comm, h5div_sweep *sw, h5div_dset *const *d, int nd, int scratch,
                     const h5div_options *opt, char *msg, size_t len)
{
    memset(sw, 0, sizeof *sw);
    if (nd < 1 || nd > H5DIV_SWEEP_MAX || scratch < 0 || scratch > H5DIV_SWEEP_MAX) {
        h5div_set_error(msg, len, "sweep over %d datasets with %d scratch buffers (internal)", nd,
                        scratch);
        return H5DIV_EINTERNAL;
    }
    sw->nd = nd;
    sw->nscratch = scratch;
    for (int k = 0; k < nd; k++)
        sw->d[k] = d[k];
    int rank, size;
    H5DIV_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    H5DIV_MPI_CHECK(MPI_Comm_size(comm, &size));
    h5div_partition(d[0]->bins, size, rank, &sw->offset, &sw->count);
    /* 8 bytes a bin once converted to double; scratch buffers are piece-sized. */
    size_t piece_bytes = opt->piece_bytes < PIECE_BYTES_MAX ? opt->piece_bytes : PIECE_BYTES_MAX;
    uint64_t piece = piece_bytes / sizeof(double);
    uint64_t first = sw->count < piece ? sw->count : piece;
    sw->cached = (sw->count * (uint64_t)nd + first * (uint64_t)scratch) * sizeof(double) <=
                 opt->memory_per_rank;
    /* Cached ranks read nothing in later passes, so either every rank keeps
     * its shard or none does: the collective reads must match. */
    H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &sw->cached, 1, MPI_INT, MPI_MIN, comm));
    uint64_t bound = opt->memory_per_rank / ((uint64_t)(nd + scratch) * sizeof(double));
    if (!sw->cached && piece > bound)
        piece = bound;
    piece -= piece % H5DIV_BLOCK_BINS;
    sw->piece_bins = piece ? piece : H5DIV_BLOCK_BINS;
    uint64_t mine = (sw->count + sw->piece_bins - 1) / sw->piece_bins;
    H5DIV_MPI_CHECK(MPI_Allreduce(&mine, &sw->rounds, 1, MPI_UINT64_T, MPI_MAX, comm));
    size_t n = (size_t)(sw->cached ? sw->count : sw->piece_bins);
    size_t np = (size_t)(sw->count < sw->piece_bins ? sw->count : sw->piece_bins);
    int ok = 1;
    for (int k = 0; k < nd; k++)
        ok &= (sw->buf[k] = malloc((n ? n : 1) * sizeof(double))) != NULL;
    for (int k = 0; k < scratch; k++)
        ok &= (sw->scratch[k] = malloc((np ? np : 1) * sizeof(double))) != NULL;
    if (!ok)
        h5div_set_error(msg, len, "out of memory for %zu bins (use --memory-per-rank)", n);
    int st = h5div_par_agree(comm, ok ? H5DIV_OK : H5DIV_EINTERNAL, msg, len);
    if (st != H5DIV_OK)
        h5div_sweep_free(sw);
    return st;
}

int h5div_sweep_run(MPI_Comm comm, h5div_sweep *sw, int pass, unsigned flags,
                    const h5div_options *opt, h5div_sweep_fn fn, void *ctx, char *msg, size_t len)
{
    /* A cached shard is read in the first pass that runs and reused after. */
    int from_memory = sw->cached && sw->loaded;
    int agree_each = !from_memory || (flags & H5DIV_SWEEP_COLLECTIVE_FN);
    int st = H5DIV_OK, rank = 0;
    MPI_Comm_rank(comm, &rank);
    /* Every rank reads a round at a time, so rank 0's count of rounds is the
     * whole job's progress; bins * 8 bytes per dataset is what all read. */
    const double pass_bytes = (double)sw->d[0]->bins * sizeof(double) * sw->nd;
    for (uint64_t r = 0; r < sw->rounds; r++) {
        uint64_t start = r * sw->piece_bins;
        uint64_t n = start < sw->count ? sw->count - start : 0;
        if (n > sw->piece_bins)
            n = sw->piece_bins;
        double *v[H5DIV_SWEEP_MAX];
        for (int k = 0; k < sw->nd; k++)
            v[k] = sw->cached ? sw->buf[k] + start : sw->buf[k];
        if (!from_memory)
            for (int k = 0; k < sw->nd && st == H5DIV_OK; k++)
                st = h5div_dset_read(sw->d[k], sw->offset + start, (size_t)n, n ? v[k] : NULL,
                                     opt->collective_io, msg, len);
        /* A callback that makes collective calls runs on every rank or on none. */
        if (flags & H5DIV_SWEEP_COLLECTIVE_FN)
            H5DIV_CHECK(h5div_par_agree(comm, st, msg, len));
        if (st == H5DIV_OK)
            st = fn(ctx, pass, sw->offset + start, (size_t)n, v, msg, len);
        /* Every rank takes part in every round, even with nothing left to read,
         * and the ranks agree on errors after each round so a bad value or a
         * failed read stops all of them promptly. */
        if (agree_each)
            H5DIV_CHECK(h5div_par_agree(comm, st, msg, len));
        else if (st != H5DIV_OK)
            break;
        if (opt->progress && rank == 0) {
            double f = (double)(r + 1) / (double)sw->rounds;
            opt->progress(opt->progress_ctx, pass, f, f * pass_bytes);
        }
    }
    if (!agree_each)
        H5DIV_CHECK(h5div_par_agree(comm, st, msg, len));
    sw->loaded = 1;
    return H5DIV_OK;
}

void h5div_sweep_free(h5div_sweep *sw)
{
    for (int k = 0; k < H5DIV_SWEEP_MAX; k++) {
        free(sw->buf[k]);
        free(sw->scratch[k]);
        sw->buf[k] = sw->scratch[k] = NULL;
    }
}

int h5div_io_collective(MPI_Comm comm, int (*body)(MPI_Comm c, void *arg, char *msg, size_t len),
                        void *arg, char *errmsg, size_t errlen)
{
    MPI_Comm c;
    if (MPI_Comm_dup(comm, &c) != MPI_SUCCESS) {
        h5div_set_error(errmsg, errlen, "MPI_Comm_dup failed (communicator)");
        return H5DIV_EINTERNAL;
    }
    MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN);
    h5div_h5_quiet q;
    h5div_h5_quiet_begin(&q);
    char msg[1024] = "";
    int st = body(c, arg, msg, sizeof msg);
    h5div_h5_quiet_end(&q);
    MPI_Comm_free(&c);
    if (st != H5DIV_OK)
        h5div_set_error(errmsg, errlen, "%s", msg[0] ? msg : h5div_strerror(st));
    return st;
}

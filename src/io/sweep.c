/* SPDX-License-Identifier: BSD-3-Clause */
/* Block-aligned sweeps over the shards of 1-D datasets in bounded pieces, one or more passes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/buffer.h"
#include "io/io.h"
#include "io/prefetch.h"
#include "par/par.h"

/* No single read may approach the 2 GiB limit of one MPI-IO request. */
#define PIECE_BYTES_MAX ((size_t)1 << 30)

h5div_grid h5div_grid_of(const h5div_dset *d)
{
    return d->rows ? h5div_grid_make(d->rows, d->cols) : h5div_grid_make(1, d->bins);
}

int h5div_rows_init(MPI_Comm comm, const h5div_sweep *sw, h5div_rows *r, char *msg, size_t len)
{
    return h5div_par_rows_init(comm, &sw->grid, sw->blk0, sw->blk1, r, msg, len);
}

int h5div_rows_memory_check(MPI_Comm comm, const h5div_sweep *sw, const h5div_rows *r,
                            uint64_t per_row, uint64_t per_owned_row, const h5div_options *opt,
                            const char *ref, char *msg, size_t len)
{
    return h5div_par_rows_memory_check(comm, &sw->grid, r, per_row, per_owned_row, opt, ref, msg,
                                       len);
}

/* The datasets and scratch buffers of a sweep, this rank's blocks of the
 * grid of d[0] and the bins of its shard. */
static int sweep_shard(MPI_Comm comm, h5div_sweep *sw, h5div_dset *const *d, int nd, int scratch,
                       int *rank)
{
    sw->nd = nd;
    sw->nscratch = scratch;
    for (int k = 0; k < nd; k++)
        sw->d[k] = d[k];
    int size;
    H5DIV_MPI_CHECK(MPI_Comm_rank(comm, rank));
    H5DIV_MPI_CHECK(MPI_Comm_size(comm, &size));
    sw->grid = h5div_grid_of(d[0]);
    h5div_grid_split(&sw->grid, size, *rank, &sw->blk0, &sw->blk1);
    sw->offset = h5div_grid_bin(&sw->grid, sw->blk0);
    sw->count = h5div_grid_bin(&sw->grid, sw->blk1) - sw->offset;
    return H5DIV_OK;
}

/* Collective: whether every rank keeps its shard (sw->cached), the reads
 * ahead of contiguous datasets (sw->pf), and the pieces within the budget
 * of bytes (nlo: the datasets with 64-bit remainders): their blocks, bins
 * and the number of rounds. */
static int sweep_pieces(MPI_Comm comm, h5div_sweep *sw, int rank, int nlo, uint64_t budget,
                        const h5div_options *opt)
{
    const int nd = sw->nd, scratch = sw->nscratch;
    /* 8 bytes a bin once converted to double; scratch buffers are piece-sized. */
    size_t piece_bytes = opt->piece_bytes < PIECE_BYTES_MAX ? opt->piece_bytes : PIECE_BYTES_MAX;
    uint64_t piece = piece_bytes / sizeof(double);
    uint64_t first = sw->count < piece ? sw->count : piece;
    sw->cached =
        (sw->count * (uint64_t)(nd + nlo) + first * (uint64_t)scratch) * sizeof(double) <= budget;
    uint64_t bound = budget / ((uint64_t)(nd + nlo + scratch) * sizeof(double));
    /* Contiguous datasets are read through MPI-IO, each piece while the one
     * before is evaluated, when this rank has more than one piece. */
    const uint64_t piece_alone = sw->cached || piece < bound ? piece : bound;
    int agreed[2] = {sw->cached, 0};
    sw->pf = h5div_prefetch_open(sw->d, nd, sw->count > piece_alone, rank, &agreed[1]);
    agreed[1] &= sw->pf != NULL;
    /* Cached ranks read nothing in later passes, so either every rank keeps
     * its shard or none does: the collective reads must match. So must the
     * datasets read through HDF5 (collective H5Dread) rather than MPI-IO. */
    H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, agreed, 2, MPI_INT, MPI_MIN, comm));
    sw->cached = agreed[0];
    h5div_prefetch_agree(sw->pf, agreed[1]);
    /* A streamed shard read ahead needs a second set of piece buffers, and
     * they count against the bound. */
    int extra = !sw->cached && sw->pf ? sw->pf->non + sw->pf->lo_on : 0;
    bound = budget / ((uint64_t)(nd + nlo + scratch + extra) * sizeof(double));
    if (!sw->cached && piece > bound)
        piece = bound;
    /* A piece is whole blocks: of 256 bins, or a short row's bins. */
    uint64_t blk_bins = sw->grid.cols < H5DIV_BLOCK_BINS ? sw->grid.cols : H5DIV_BLOCK_BINS;
    sw->piece_blocks = piece / blk_bins ? piece / blk_bins : 1;
    sw->piece_bins = sw->piece_blocks * blk_bins;
    uint64_t nblk = sw->blk1 - sw->blk0;
    uint64_t mine = (nblk + sw->piece_blocks - 1) / sw->piece_blocks;
    H5DIV_MPI_CHECK(MPI_Allreduce(&mine, &sw->rounds, 1, MPI_UINT64_T, MPI_MAX, comm));
    return H5DIV_OK;
}

/* Which pieces of the shard are kept. A shard that fits is kept piece by
 * piece for as long as the pieces' measured costs say so (keep_piece). For
 * benchmarks and tests, H5DIV_SHARD=keep, =stream or =N (keep the first N
 * pieces) fixes the choice; the pieces are the same either way. */
static void sweep_keep_choice(h5div_sweep *sw)
{
    const char *how = getenv("H5DIV_SHARD");
    sw->measure = sw->cached && sw->rounds > 1;
    sw->kept = sw->cached ? sw->rounds : 0;
    sw->slot = 0;
    if (!sw->measure || !how || !*how)
        return;
    char *end;
    unsigned long long nk = strtoull(how, &end, 10);
    if (!strcmp(how, "keep") || !strcmp(how, "stream")) {
        sw->measure = 0;
        sw->cached = !strcmp(how, "keep");
        sw->kept = sw->cached ? sw->rounds : 0;
    } else if (!*end && how[0] >= '0' && how[0] <= '9') {
        sw->measure = 0;
        sw->kept = nk < sw->rounds ? (uint64_t)nk : sw->rounds;
        uint64_t b = sw->blk0 + sw->kept * sw->piece_blocks;
        sw->slot = h5div_grid_bin(&sw->grid, b < sw->blk1 ? b : sw->blk1) - sw->offset;
    }
}

/* The buffers of a sweep of n bins per dataset (nlo: the datasets with
 * 64-bit remainders; budget: the bytes they may take). Returns 0 when one
 * could not be had. */
static int sweep_alloc(h5div_sweep *sw, size_t n, int nlo, uint64_t budget)
{
    const int nd = sw->nd, scratch = sw->nscratch;
    size_t np = (size_t)(sw->count < sw->piece_bins ? sw->count : sw->piece_bins);
    /* A shard that may be kept is reserved whole: nothing is resident until
     * it is read into. */
    int ok = 1;
    for (int k = 0; k < nd; k++) {
        ok &= (sw->buf[k] = h5div_buffer_alloc(n * sizeof(double))) != NULL;
        if (h5div_dset_is_int64(sw->d[k]))
            ok &= (sw->lo[k] = h5div_buffer_alloc(n * sizeof(double))) != NULL;
    }
    if (nlo && sw->cached)
        ok &= (sw->lo_any = calloc((size_t)(sw->rounds ? sw->rounds : 1) * (size_t)nd, 1)) != NULL;
    for (int k = 0; k < scratch; k++)
        ok &= (sw->scratch[k] = h5div_buffer_alloc(np * sizeof(double))) != NULL;
    /* The second set of piece buffers, unless H5DIV_SHARD=stream streams a
     * shard whose pieces were not sized for them. */
    int extra = !sw->cached && sw->pf ? sw->pf->non + sw->pf->lo_on : 0;
    if ((uint64_t)(nd + nlo + scratch + extra) * np * sizeof(double) > budget)
        extra = 0;
    if (extra)
        sw->pf->have2 = 1;
    for (int k = 0; k < nd && extra; k++) {
        if (!sw->pf->s[k].on)
            continue;
        ok &= (sw->pf->buf2[k] = h5div_buffer_alloc(n * sizeof(double))) != NULL;
        if (h5div_dset_is_int64(sw->d[k]))
            ok &= (sw->pf->lo2[k] = h5div_buffer_alloc(n * sizeof(double))) != NULL;
    }
    return ok;
}

int h5div_sweep_init(MPI_Comm comm, h5div_sweep *sw, h5div_dset *const *d, int nd, int scratch,
                     const h5div_options *opt, char *msg, size_t len)
{
    memset(sw, 0, sizeof *sw);
    if (nd < 1 || nd > H5DIV_SWEEP_MAX || scratch < 0 || scratch > H5DIV_SWEEP_MAX) {
        h5div_set_error(msg, len, "sweep over %d datasets with %d scratch buffers (internal)", nd,
                        scratch);
        return H5DIV_EINTERNAL;
    }
    int rank;
    H5DIV_CHECK(sweep_shard(comm, sw, d, nd, scratch, &rank));
    /* For 2-D input half of the bound is left to the per-row state (see
     * h5div_rows_memory_check). */
    const uint64_t budget = sw->grid.rows > 1 ? opt->memory_per_rank / 2 : opt->memory_per_rank;
    /* 64-bit integer datasets keep a second double a bin (the remainders). */
    int nlo = 0;
    for (int k = 0; k < nd; k++)
        nlo += h5div_dset_is_int64(d[k]);
    H5DIV_CHECK(sweep_pieces(comm, sw, rank, nlo, budget, opt));
    sweep_keep_choice(sw);
    size_t n = (size_t)(sw->cached ? sw->count : sw->piece_bins);
    int ok = sweep_alloc(sw, n, nlo, budget);
    if (!ok)
        h5div_set_error(msg, len, "out of memory for %zu bins (use --memory-per-rank)", n);
    int st = h5div_par_agree(comm, ok ? H5DIV_OK : H5DIV_EINTERNAL, msg, len);
    if (st != H5DIV_OK)
        h5div_sweep_free(sw);
    return st;
}

/* Collective, in the first pass over a shard that fits (sw->measure):
 * keep piece r (bins from `start`, its buffers just touched for the first
 * time in `touch` seconds, then read in `read` seconds, on this rank) in
 * memory, or stop keeping: then piece r's buffers become the ones every
 * later piece is read into, and later passes read pieces r, r + 1, ...
 * again. Keeping a piece costs its first touch, streaming it one more read
 * in every later pass (at least one), so with the times of all ranks
 * together a piece is kept while touch < read. Deciding piece by piece
 * follows the cost of fresh memory as it changes along the shard (the
 * first pages handed out can be cheaper than the rest). */
static int keep_piece(MPI_Comm comm, h5div_sweep *sw, uint64_t r, uint64_t start, double touch,
                      double read, int rank)
{
    double t[2] = {touch, read};
    H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, t, 2, MPI_DOUBLE, MPI_SUM, comm));
    int keep = t[0] < t[1];
    if (!keep) {
        sw->kept = r;
        sw->slot = start;
        sw->measure = 0;
    }
    if (getenv("H5DIV_DEBUG") && rank == 0 && (!keep || r + 1 == sw->rounds))
        fprintf(stderr,
                "h5div: piece %llu of %llu: first touch %.4f s, read %.4f s (all ranks): "
                "%llu pieces kept in memory\n",
                (unsigned long long)r + 1, (unsigned long long)sw->rounds, t[0], t[1],
                (unsigned long long)sw->kept);
    return H5DIV_OK;
}

/* Piece r of a pass: its bins [start, start + n) of the shard, whether it
 * is in memory already, and the buffers it is (to be) read into. */
typedef struct sweep_piece {
    uint64_t start, n;
    int in_memory;
    double *v[H5DIV_SWEEP_MAX], *lo[H5DIV_SWEEP_MAX];
} sweep_piece;

static void piece_of(const h5div_sweep *sw, uint64_t r, sweep_piece *p)
{
    uint64_t b = sw->blk0 + r * sw->piece_blocks, e = b + sw->piece_blocks;
    b = b < sw->blk1 ? b : sw->blk1;
    e = e < sw->blk1 ? e : sw->blk1;
    p->start = h5div_grid_bin(&sw->grid, b) - sw->offset;
    p->n = h5div_grid_bin(&sw->grid, e) - sw->offset - p->start;
    p->in_memory = sw->loaded && r < sw->kept;
    uint64_t at = r < sw->kept ? p->start : sw->slot;
    /* Streamed pieces of datasets read ahead alternate between two sets of
     * buffers: the second follows the first inside a cached shard's
     * reservation when it fits there (else there is none, and such pieces
     * are not read ahead), and is pf->buf2 for a streamed shard. */
    const h5div_prefetch *pf = sw->pf;
    int second = pf && pf->non && r >= sw->kept && (r - sw->kept) % 2 &&
                 (sw->cached ? sw->slot + 2 * sw->piece_bins <= sw->count : pf->have2);
    for (int k = 0; k < sw->nd; k++) {
        p->v[k] = sw->buf[k] + at;
        p->lo[k] = sw->lo[k] ? sw->lo[k] + at : NULL;
        if (!second || !pf->s[k].on)
            continue;
        if (sw->cached) {
            p->v[k] += sw->piece_bins;
            p->lo[k] = p->lo[k] ? p->lo[k] + sw->piece_bins : NULL;
        } else {
            p->v[k] = pf->buf2[k];
            p->lo[k] = pf->lo2[k];
        }
    }
}

/* Start reading piece r + 1 of the datasets read through MPI-IO while
 * piece r (in `cur`) is evaluated, when its buffers are not cur's. Returns
 * whether it was started. Not collective. */
static int read_ahead(h5div_sweep *sw, uint64_t r, const sweep_piece *cur)
{
    h5div_prefetch *pf = sw->pf;
    if (!pf || !pf->non || sw->measure || r + 1 >= sw->rounds)
        return 0;
    sweep_piece nx;
    piece_of(sw, r + 1, &nx);
    if (nx.in_memory)
        return 0;
    for (int k = 0; k < sw->nd; k++)
        if (pf->s[k].on && nx.n && cur->n && nx.v[k] == cur->v[k])
            return 0;
    for (int k = 0; k < sw->nd; k++)
        if (pf->s[k].on)
            h5div_prefetch_start(pf, k, sw->offset + nx.start, (size_t)nx.n, nx.v[k], nx.lo[k], 0);
    return 1;
}

/* The first touch of piece p's buffers, timed from *t0 to *t1: what
 * keeping it costs (keep_piece). */
static void touch_piece(const h5div_sweep *sw, const sweep_piece *p, double *t0, double *t1)
{
    *t0 = MPI_Wtime();
    for (int k = 0; k < sw->nd; k++) {
        h5div_buffer_touch(p->v[k], (size_t)p->n * sizeof(double));
        h5div_buffer_touch(p->lo[k], (size_t)p->n * sizeof(double));
    }
    *t1 = MPI_Wtime();
}

/* Read piece r (p) of every dataset, noting in any[k] whether dataset k
 * has nonzero 64-bit remainders there; returns st, or the first error if
 * st was H5DIV_OK. Every dataset's read is made even after one failed:
 * with collective I/O the others wait for this rank inside H5Dread. The
 * first error is the one reported. Datasets read through MPI-IO were
 * started in the round before (ahead), or are read now. */
static int read_piece(h5div_sweep *sw, uint64_t r, const sweep_piece *p, int ahead,
                      unsigned char any[H5DIV_SWEEP_MAX], const h5div_options *opt, int st,
                      char *msg, size_t len)
{
    const uint64_t start = p->start, n = p->n;
    for (int k = 0; k < sw->nd; k++) {
        char other[256];
        char *m = st == H5DIV_OK ? msg : other;
        size_t ml = st == H5DIV_OK ? len : sizeof other;
        int a = 0, s;
        if (sw->pf && sw->pf->s[k].on) {
            if (!ahead)
                h5div_prefetch_start(sw->pf, k, sw->offset + start, (size_t)n, p->v[k], p->lo[k],
                                     1);
            s = h5div_prefetch_finish(sw->pf, k, sw->d[k], &a, m, ml);
        } else {
            s = h5div_dset_read_lo(sw->d[k], sw->offset + start, (size_t)n, n ? p->v[k] : NULL,
                                   p->lo[k], &a, opt->collective_io, m, ml);
        }
        if (st == H5DIV_OK)
            st = s;
        any[k] = (unsigned char)a;
        if (sw->lo_any)
            sw->lo_any[r * (uint64_t)sw->nd + (uint64_t)k] = (unsigned char)a;
    }
    return st;
}

static int sweep_rounds(MPI_Comm comm, h5div_sweep *sw, int pass, unsigned flags,
                        const h5div_options *opt, h5div_sweep_fn fn, void *ctx, char *msg,
                        size_t len)
{
    /* The kept pieces of a shard are read in the first pass that runs and
     * reused after; the others are read again into the buffers at sw->slot. */
    int from_memory = sw->loaded && sw->kept == sw->rounds;
    int agree_each = !from_memory || (flags & H5DIV_SWEEP_COLLECTIVE_FN);
    int st = H5DIV_OK, rank = 0;
    H5DIV_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    /* Every rank reads a round at a time, so rank 0's count of rounds is the
     * whole job's progress; bins * 8 bytes per dataset is what all read. */
    const double pass_bytes = (double)sw->d[0]->bins * sizeof(double) * sw->nd;
    int ahead = 0; /* piece r was started during round r - 1 */
    for (uint64_t r = 0; r < sw->rounds; r++) {
        sweep_piece p;
        piece_of(sw, r, &p);
        unsigned char any[H5DIV_SWEEP_MAX] = {0};
        if (p.in_memory && sw->lo_any)
            memcpy(any, sw->lo_any + r * (uint64_t)sw->nd, (size_t)sw->nd);
        int measure = sw->measure && !sw->loaded;
        double t0 = 0.0, t1 = 0.0;
        if (measure)
            touch_piece(sw, &p, &t0, &t1);
        if (!p.in_memory)
            st = read_piece(sw, r, &p, ahead, any, opt, st, msg, len);
        if (measure)
            H5DIV_CHECK(keep_piece(comm, sw, r, p.start, t1 - t0, MPI_Wtime() - t1, rank));
        for (int k = 0; k < sw->nd; k++)
            sw->lo_of[k] = any[k] ? p.lo[k] : NULL;
        ahead = st == H5DIV_OK && read_ahead(sw, r, &p);
        /* A callback that makes collective calls runs on every rank or on none. */
        if (flags & H5DIV_SWEEP_COLLECTIVE_FN)
            H5DIV_CHECK(h5div_par_agree(comm, st, msg, len));
        if (st == H5DIV_OK)
            st = fn(ctx, pass, sw->offset + p.start, (size_t)p.n, p.v, msg, len);
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
    return H5DIV_OK;
}

int h5div_sweep_run(MPI_Comm comm, h5div_sweep *sw, int pass, unsigned flags,
                    const h5div_options *opt, h5div_sweep_fn fn, void *ctx, char *msg, size_t len)
{
    int st = sweep_rounds(comm, sw, pass, flags, opt, fn, ctx, msg, len);
    /* A read started for a piece never reached (an error) is waited for. */
    h5div_prefetch_drain(sw->pf);
    if (st != H5DIV_OK)
        return st;
    sw->loaded = 1;
    sw->measure = 0;
    return H5DIV_OK;
}

void h5div_sweep_free(h5div_sweep *sw)
{
    /* First: no read may still be writing into the buffers. */
    h5div_prefetch_close(sw->pf);
    sw->pf = NULL;
    for (int k = 0; k < H5DIV_SWEEP_MAX; k++) {
        h5div_buffer_free(sw->buf[k]);
        h5div_buffer_free(sw->scratch[k]);
        h5div_buffer_free(sw->lo[k]);
        sw->buf[k] = sw->scratch[k] = sw->lo[k] = NULL;
        sw->lo_of[k] = NULL;
    }
    free(sw->lo_any);
    sw->lo_any = NULL;
}

int h5div_io_collective(MPI_Comm comm, int (*body)(MPI_Comm c, void *arg, char *msg, size_t len),
                        void *arg, char *errmsg, size_t errlen)
{
    /* h5div never uses shared file pointers, and two of Open MPI's
     * components for them do harm at every file open: lockedfile creates
     * and deletes "<file>.locktest.<rank>" beside the file (a user's file of
     * that name would be lost), sm a named semaphore "OMPIO_<file name>" in
     * /dev/shm, shared by every process on the node that opens a file of
     * that name: another user's (or a killed run's) makes the open fail. */
    setenv("OMPI_MCA_sharedfp", "^lockedfile,sm", 0);
    h5div_h5_quiet q;
    h5div_h5_quiet_begin(&q);
    int st = h5div_par_collective(comm, body, arg, errmsg, errlen);
    h5div_h5_quiet_end(&q);
    return st;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* File-level joint entropies and mutual information of a 2-D table split over ranks by rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/joint.h"
#include "io/io.h"
#include "par/par.h"

#define PIECE_BYTES_MAX ((size_t)1 << 30)
/* Columns whose sums are reduced in one MPI_Allreduce (about 2.3 MB of accumulators). */
#define CHUNK_COLS_MAX 4096

/* Read cells [row, row + h) x [col, col + w) as doubles into buf (row-major,
 * w per row). Every rank calls it when collective (h or w may be 0). */
static int read_block(h5div_dset *d, uint64_t row, uint64_t h, uint64_t col, uint64_t w,
                      double *buf, double *lo, int collective, char *msg, size_t len)
{
    int st = H5DIV_OK;
    hsize_t start[2] = {row, col}, count[2] = {h, w};
    hsize_t n = h * w, one = n ? n : 1;
    hid_t mspace = H5Screate_simple(1, &one, NULL);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    herr_t sel;
    if (n) {
        sel = H5Sselect_hyperslab(d->filespace, H5S_SELECT_SET, start, NULL, count, NULL);
    } else {
        sel = H5Sselect_none(d->filespace);
        if (sel >= 0)
            sel = H5Sselect_none(mspace);
    }
    if (mspace < 0 || dxpl < 0 || sel < 0 ||
        H5Pset_dxpl_mpio(dxpl, collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT) < 0) {
        h5div_set_error(msg, len, "cannot set up a read (%s)", d->ref);
        st = H5DIV_EINTERNAL;
    } else if ((collective || n) &&
               H5Dread(d->dset, d->memtype, mspace, d->filespace, dxpl, buf) < 0) {
        h5div_set_error(msg, len, "read failed at rows %llu..%llu, columns %llu..%llu (%s)",
                        (unsigned long long)row, (unsigned long long)(row + h),
                        (unsigned long long)col, (unsigned long long)(col + w), d->ref);
        st = H5DIV_EINPUT;
    }
    if (dxpl >= 0)
        H5Pclose(dxpl);
    if (mspace >= 0)
        H5Sclose(mspace);
    if (st != H5DIV_OK || !n)
        return st;
    (void)h5div_dset_to_double_lo(d, buf, lo, n);
    return st;
}

/* The pseudocount added to n cells, its rounding error joining their
 * remainders lo (when kept); lo2 (when kept) takes the rounding error of
 * that addition, so that cells + lo + lo2 is exact. */
static void add_alpha(double *cells, double *lo, double *lo2, size_t n, double alpha)
{
    if (alpha == 0.0)
        return;
    for (size_t k = 0; k < n; k++) {
        double s = cells[k] + alpha;
        if (lo) {
            double bp = s - cells[k];
            double e = (cells[k] - (s - bp)) + (alpha - bp);
            double t = lo[k] + e;
            if (lo2) {
                double tp = t - lo[k];
                lo2[k] = (lo[k] - (t - tp)) + (e - tp);
            }
            lo[k] = t;
        }
        cells[k] = s;
    }
}

typedef struct joint_job {
    const char *ref;
    const h5div_options *opt;
    h5div_joint_result *res;
} joint_job;

typedef struct joint_plan {
    uint64_t r0, nr;        /* this rank's rows */
    uint64_t ny, w, nchunks; /* columns, chunk width, chunks */
    uint64_t h, rounds;     /* rows per piece, pieces per column chunk (same on all ranks) */
    int cached;             /* the whole shard in memory after the first pass */
    int keep_lo;            /* exact remainders kept (64-bit integers or a pseudocount) */
    int keep_lo2;           /* third parts kept (64-bit integers and a pseudocount) */
} joint_plan;

static int plan_joint(MPI_Comm comm, const h5div_dset *d, const h5div_options *opt,
                      joint_plan *pl)
{
    int rank, size;
    H5DIV_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    H5DIV_MPI_CHECK(MPI_Comm_size(comm, &size));
    h5div_partition(d->rows, size, rank, &pl->r0, &pl->nr);
    pl->ny = d->cols;
    uint64_t mem = opt->memory_per_rank;
    /* Cells of 64-bit integers, or with a pseudocount, carry their exact
     * remainders: 16 bytes a cell in the piece and the cache. */
    pl->keep_lo = d->wide || opt->pseudocount != 0.0;
    /* 64-bit integers plus a pseudocount: a third part (24 bytes a cell). */
    pl->keep_lo2 = d->wide && opt->pseudocount != 0.0;
    const uint64_t cell = (pl->keep_lo ? 2 : 1) * sizeof(double) +
                          (pl->keep_lo2 ? sizeof(double) : 0);
    /* A quarter of the memory for the column accumulators of one chunk, in
     * whole blocks of columns (chunks start on block boundaries). */
    uint64_t per_col = sizeof(h5div_acc) + 2 * sizeof(double);
    uint64_t w = mem / 4 / per_col;
    w = w < CHUNK_COLS_MAX ? w : CHUNK_COLS_MAX;
    w -= w % H5DIV_BLOCK_BINS;
    w = w ? w : H5DIV_BLOCK_BINS;
    pl->w = w < pl->ny ? w : pl->ny;
    pl->nchunks = (pl->ny + pl->w - 1) / pl->w;
    /* Rows per piece: one read of at most piece_bytes, and half the memory
     * for the piece and the row accumulators of its rows. */
    size_t piece_bytes = opt->piece_bytes < PIECE_BYTES_MAX ? opt->piece_bytes : PIECE_BYTES_MAX;
    uint64_t h = piece_bytes / (pl->w * sizeof(double));
    uint64_t hm = mem / 2 / (pl->w * cell + sizeof(h5div_acc));
    h = h < hm ? h : hm;
    pl->h = h ? h : 1;
    pl->cached = pl->nr * pl->ny * cell <= mem / 2;
    /* Every rank or none: cached ranks make no collective reads later. */
    H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &pl->cached, 1, MPI_INT, MPI_MIN, comm));
    uint64_t mine = (pl->nr + pl->h - 1) / pl->h;
    H5DIV_MPI_CHECK(MPI_Allreduce(&mine, &pl->rounds, 1, MPI_UINT64_T, MPI_MAX, comm));
    return H5DIV_OK;
}

typedef struct joint_bufs {
    double *piece, *cache, *r_hi, *r_lo, *c_hi, *c_lo;
    double *piece_lo, *cache_lo; /* remainders (plan's keep_lo) */
    double *piece_lo2, *cache_lo2, *r_lo2, *c_lo2; /* third parts (plan's keep_lo2) */
    h5div_acc *row_acc, *col_acc;
} joint_bufs;

static void free_bufs(joint_bufs *b)
{
    free(b->piece);
    free(b->cache);
    free(b->piece_lo);
    free(b->cache_lo);
    free(b->piece_lo2);
    free(b->cache_lo2);
    free(b->r_lo2);
    free(b->c_lo2);
    free(b->r_hi);
    free(b->r_lo);
    free(b->c_hi);
    free(b->c_lo);
    free(b->row_acc);
    free(b->col_acc);
}

static void *alloc(size_t n, size_t size, int *ok)
{
    void *p = malloc((n ? n : 1) * size);
    *ok &= p != NULL;
    return p;
}

/* Rows and columns of piece (round rp, chunk cc) of this rank. */
static void piece_extent(const joint_plan *pl, uint64_t rp, uint64_t cc, uint64_t *row,
                         uint64_t *h, uint64_t *col, uint64_t *w)
{
    uint64_t start = rp * pl->h;
    *h = start < pl->nr ? pl->nr - start : 0;
    *h = *h < pl->h ? *h : pl->h;
    *row = pl->r0 + start;
    *col = cc * pl->w;
    *w = pl->ny - *col < pl->w ? pl->ny - *col : pl->w;
}

/* The piece (rp, cc): from the cache, or read (every rank, agreed). On
 * return *cells points at its first cell and *ld is its row stride. */
static int get_piece(MPI_Comm comm, h5div_dset *d, const joint_plan *pl, joint_bufs *b,
                     int from_cache, uint64_t rp, uint64_t cc, const double **cells,
                     const double **lo, const double **lo2, size_t *ld,
                     const h5div_options *opt, char *msg, size_t len)
{
    uint64_t row, h, col, w;
    piece_extent(pl, rp, cc, &row, &h, &col, &w);
    if (from_cache) {
        *cells = b->cache + (row - pl->r0) * pl->ny + col;
        *lo = b->cache_lo ? b->cache_lo + (row - pl->r0) * pl->ny + col : NULL;
        *lo2 = b->cache_lo2 ? b->cache_lo2 + (row - pl->r0) * pl->ny + col : NULL;
        *ld = (size_t)pl->ny;
        return H5DIV_OK;
    }
    int st = read_block(d, row, h, col, w, b->piece, b->piece_lo, opt->collective_io, msg, len);
    if (st == H5DIV_OK) /* as the cache holds them: the values plus the pseudocount */
        add_alpha(b->piece, b->piece_lo, b->piece_lo2, (size_t)(h * w), opt->pseudocount);
    *cells = b->piece;
    *lo = b->piece_lo;
    *lo2 = b->piece_lo2;
    *ld = (size_t)w;
    return h5div_par_agree(comm, st, msg, len);
}

static int joint_body(MPI_Comm comm, void *arg, char *msg, size_t len)
{
    joint_job *j = arg;
    const h5div_options *opt = j->opt;
    int st = h5div_check_options(opt, msg, len);
    if (st == H5DIV_OK && (opt->measures & ~(unsigned)H5DIV_JOINT_ALL)) {
        h5div_set_error(msg, len, "no such joint measure (measures)");
        st = H5DIV_EUSAGE;
    }
    H5DIV_CHECK(h5div_par_agree(comm, st, msg, len));
    int rank;
    H5DIV_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    h5div_dset d;
    H5DIV_CHECK(h5div_dset_open_2d(comm, j->ref, &d, msg, len));
    joint_plan pl;
    joint_bufs b;
    memset(&b, 0, sizeof b);
    st = plan_joint(comm, &d, opt, &pl);
    if (st == H5DIV_OK) {
        int ok = 1;
        b.piece = alloc((size_t)(pl.h * pl.w), sizeof(double), &ok);
        if (pl.cached)
            b.cache = alloc((size_t)(pl.nr * pl.ny), sizeof(double), &ok);
        if (pl.keep_lo) {
            b.piece_lo = alloc((size_t)(pl.h * pl.w), sizeof(double), &ok);
            if (pl.cached)
                b.cache_lo = alloc((size_t)(pl.nr * pl.ny), sizeof(double), &ok);
        }
        if (pl.keep_lo2) {
            b.piece_lo2 = alloc((size_t)(pl.h * pl.w), sizeof(double), &ok);
            if (pl.cached)
                b.cache_lo2 = alloc((size_t)(pl.nr * pl.ny), sizeof(double), &ok);
            b.r_lo2 = alloc((size_t)pl.nr, sizeof(double), &ok);
            b.c_lo2 = alloc((size_t)pl.w, sizeof(double), &ok);
        }
        b.r_hi = alloc((size_t)pl.nr, sizeof(double), &ok);
        b.r_lo = alloc((size_t)pl.nr, sizeof(double), &ok);
        b.c_hi = alloc((size_t)pl.w, sizeof(double), &ok);
        b.c_lo = alloc((size_t)pl.w, sizeof(double), &ok);
        b.row_acc = alloc((size_t)pl.h, sizeof(h5div_acc), &ok);
        b.col_acc = alloc((size_t)pl.w, sizeof(h5div_acc), &ok);
        if (!ok)
            h5div_set_error(msg, len, "out of memory for %llu rows (use --memory-per-rank)",
                            (unsigned long long)pl.nr);
        st = h5div_par_agree(comm, ok ? H5DIV_OK : H5DIV_EINTERNAL, msg, len);
    }
    const double alpha = opt->pseudocount;
    h5div_acc total, acc[H5DIV_J_COUNT];
    h5div_acc_init(&total);
    /* This rank's largest row, exactly: the one row that may hold more
     * than half of the table needs its complement from it. */
    h5div_acc big_row;
    double big_hi = 0.0;
    uint64_t big_i = pl.nr;
    for (int t = 0; t < H5DIV_J_COUNT; t++)
        h5div_acc_init(&acc[t]);
    /* Pass 1, by rows: check the values, add the pseudocount, sum each row
     * exactly across all column chunks. */
    for (uint64_t rp = 0; st == H5DIV_OK && rp < pl.rounds; rp++) {
        uint64_t row, h, col, w;
        piece_extent(&pl, rp, 0, &row, &h, &col, &w);
        for (uint64_t i = 0; i < h; i++)
            h5div_acc_init(&b.row_acc[i]);
        for (uint64_t cc = 0; st == H5DIV_OK && cc < pl.nchunks; cc++) {
            piece_extent(&pl, rp, cc, &row, &h, &col, &w);
            int lst = read_block(&d, row, h, col, w, b.piece, b.piece_lo, opt->collective_io, msg,
                                 len);
            for (uint64_t i = 0; lst == H5DIV_OK && i < h; i++) {
                double *cells = b.piece + i * w;
                size_t bad = h5div_first_invalid(cells, (size_t)w);
                if (bad < w) {
                    double x = cells[bad];
                    h5div_set_error(msg, len, "%s value %g in joint histogram (%s, row %llu, "
                                              "column %llu)",
                                    isnan(x) ? "NaN" : isinf(x) ? "infinite" : "negative", x,
                                    j->ref, (unsigned long long)(row + i),
                                    (unsigned long long)(col + bad));
                    lst = H5DIV_EINPUT;
                    break;
                }
                double *cl = b.piece_lo ? b.piece_lo + i * w : NULL;
                double *cl2 = b.piece_lo2 ? b.piece_lo2 + i * w : NULL;
                add_alpha(cells, cl, cl2, (size_t)w, alpha);
                for (uint64_t k = 0; k < w; k++) {
                    h5div_acc_add(&b.row_acc[i], cells[k]);
                    if (cl)
                        h5div_acc_add(&b.row_acc[i], cl[k]);
                    if (cl2)
                        h5div_acc_add(&b.row_acc[i], cl2[k]);
                }
                if (pl.cached)
                    memcpy(b.cache + (row - pl.r0 + i) * pl.ny + col, cells,
                           (size_t)w * sizeof(double));
                if (pl.cached && cl)
                    memcpy(b.cache_lo + (row - pl.r0 + i) * pl.ny + col, cl,
                           (size_t)w * sizeof(double));
                if (pl.cached && cl2)
                    memcpy(b.cache_lo2 + (row - pl.r0 + i) * pl.ny + col, cl2,
                           (size_t)w * sizeof(double));
            }
            st = h5div_par_agree(comm, lst, msg, len);
        }
        for (uint64_t i = 0; st == H5DIV_OK && i < h; i++) {
            if (b.r_lo2)
                h5div_acc_round3(&b.row_acc[i], &b.r_hi[row - pl.r0 + i],
                                 &b.r_lo[row - pl.r0 + i], &b.r_lo2[row - pl.r0 + i]);
            else
                h5div_acc_round2(&b.row_acc[i], &b.r_hi[row - pl.r0 + i],
                                 &b.r_lo[row - pl.r0 + i]);
            h5div_acc_merge(&total, &b.row_acc[i]);
            if (b.r_hi[row - pl.r0 + i] > big_hi) {
                big_hi = b.r_hi[row - pl.r0 + i];
                big_i = row - pl.r0 + i;
                big_row = b.row_acc[i];
            }
        }
    }
    h5div_joint_norm nm;
    if (st == H5DIV_OK)
        st = h5div_par_sum_acc(comm, &total, 1);
    if (st == H5DIV_OK) {
        double hi, lo, lo2;
        h5div_acc_round3(&total, &hi, &lo, &lo2);
        if (hi == 0.0) {
            h5div_set_error(msg, len, "joint histogram is all zeros (%s)", j->ref);
            st = H5DIV_EINPUT;
        } else if (!isfinite(hi)) {
            h5div_set_error(msg, len, "joint histogram total overflows a double (%s)", j->ref);
            st = H5DIV_EINPUT;
        }
        for (uint64_t i = 0; st == H5DIV_OK && i < pl.nr; i++)
            if (!isfinite(b.r_hi[i])) {
                h5div_set_error(msg, len, "row sum overflows a double (%s, row %llu)", j->ref,
                                (unsigned long long)(pl.r0 + i));
                st = H5DIV_EINPUT;
            }
        st = h5div_par_agree(comm, st, msg, len);
        if (st == H5DIV_OK) {
            h5div_joint_norm_init(&nm, hi, lo);
            if (pl.keep_lo2)
                nm.n_lo2 = lo2 * nm.scale;
            memset(j->res, 0, sizeof *j->res);
            j->res->nx = d.rows;
            j->res->ny = d.cols;
            j->res->total = hi;
            /* Rank row blocks start on block boundaries: fixed summation blocks. */
            const double c = big_i < pl.nr ? h5div_joint_complement(&total, &big_row) : -1.0;
            h5div_joint_marginal_add_big(b.r_hi, b.r_lo, (size_t)pl.nr,
                                         c >= 0.0 ? (size_t)big_i : (size_t)pl.nr, c, &nm,
                                         &acc[H5DIV_J_HX]);
        }
    }
    /* Pass 2, by column chunks: the chunk's column sums reduced exactly, then
     * the per-cell terms of the chunk. */
    for (uint64_t cc = 0; st == H5DIV_OK && cc < pl.nchunks; cc++) {
        uint64_t row, h, col, w;
        piece_extent(&pl, 0, cc, &row, &h, &col, &w);
        for (uint64_t k = 0; k < w; k++)
            h5div_acc_init(&b.col_acc[k]);
        for (uint64_t rp = 0; st == H5DIV_OK && rp < pl.rounds; rp++) {
            const double *cells, *lo, *lo2;
            size_t ld;
            st = get_piece(comm, &d, &pl, &b, pl.cached, rp, cc, &cells, &lo, &lo2, &ld, opt, msg,
                           len);
            piece_extent(&pl, rp, cc, &row, &h, &col, &w);
            for (uint64_t i = 0; st == H5DIV_OK && i < h; i++) {
                const double *r = cells + i * ld;
                for (uint64_t k = 0; k < w; k++)
                    h5div_acc_add(&b.col_acc[k], r[k]);
                if (lo)
                    for (uint64_t k = 0; k < w; k++)
                        h5div_acc_add(&b.col_acc[k], lo[i * ld + k]);
                if (lo2)
                    for (uint64_t k = 0; k < w; k++)
                        h5div_acc_add(&b.col_acc[k], lo2[i * ld + k]);
            }
        }
        if (st == H5DIV_OK)
            st = h5div_par_sum_acc(comm, b.col_acc, (int)w);
        if (st != H5DIV_OK)
            break;
        for (uint64_t k = 0; k < w; k++)
            if (b.c_lo2)
                h5div_acc_round3(&b.col_acc[k], &b.c_hi[k], &b.c_lo[k], &b.c_lo2[k]);
            else
                h5div_acc_round2(&b.col_acc[k], &b.c_hi[k], &b.c_lo[k]);
        if (rank == 0) {
            size_t big = (size_t)w;
            double c = -1.0;
            for (uint64_t k = 0; k < w && c < 0.0; k++)
                if (b.c_hi[k] > 0.25 * nm.n_hi / nm.scale) {
                    c = h5div_joint_complement(&total, &b.col_acc[k]);
                    big = c >= 0.0 ? (size_t)k : big;
                }
            h5div_joint_marginal_add_big(b.c_hi, b.c_lo, (size_t)w, big, c, &nm,
                                         &acc[H5DIV_J_HY]);
        }
        for (uint64_t rp = 0; st == H5DIV_OK && rp < pl.rounds; rp++) {
            const double *cells, *lo, *lo2;
            size_t ld;
            st = get_piece(comm, &d, &pl, &b, pl.cached, rp, cc, &cells, &lo, &lo2, &ld, opt, msg,
                           len);
            piece_extent(&pl, rp, cc, &row, &h, &col, &w);
            if (st != H5DIV_OK || !h)
                continue;
            h5div_joint_cells_add_lo3(cells, lo, lo2, (size_t)h, (size_t)w, ld,
                                      b.r_hi + (row - pl.r0), b.r_lo + (row - pl.r0),
                                      b.r_lo2 ? b.r_lo2 + (row - pl.r0) : NULL, b.c_hi, b.c_lo,
                                      b.c_lo2, &nm, acc);
        }
    }
    if (st == H5DIV_OK)
        st = h5div_par_sum_acc(comm, acc, H5DIV_J_COUNT);
    if (st == H5DIV_OK) {
        h5div_joint_finish(acc, opt->measures, opt->base, j->res->value);
        j->res->computed = opt->measures;
    }
    free_bufs(&b);
    h5div_dset_close(&d);
    return st;
}

int h5div_joint_files(MPI_Comm comm, const char *pxy_ref, const h5div_options *opt,
                      h5div_joint_result *result, char *errmsg, size_t errlen)
{
    joint_job j = {pxy_ref, opt, result};
    return h5div_io_collective(comm, joint_body, &j, errmsg, errlen);
}

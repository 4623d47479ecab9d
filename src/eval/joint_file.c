/* SPDX-License-Identifier: BSD-3-Clause */
/* File-level joint entropies and mutual information of a 2-D table split over ranks by rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/joint.h"
#include "core/resample.h"
#include "eval/engine.h"
#include "io/io.h"
#include "par/par.h"

#define PIECE_BYTES_MAX ((size_t)1 << 30)
/* Columns whose sums are reduced in one MPI_Allreduce (about 2.3 MB of accumulators). */
#define CHUNK_COLS_MAX 4096

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
    uint64_t r0, nr;         /* this rank's rows */
    uint64_t ny, w, nchunks; /* columns, chunk width, chunks */
    uint64_t h, rounds;      /* rows per piece, pieces per column chunk (same on all ranks) */
    int cached;              /* the whole shard in memory after the first pass */
    int keep_lo;             /* exact remainders kept (64-bit integers or a pseudocount) */
    int keep_lo2;            /* third parts kept (64-bit integers and a pseudocount) */
} joint_plan;

static int plan_joint(MPI_Comm comm, const h5div_dset *d, const h5div_options *opt, joint_plan *pl)
{
    /* --bootstrap B: each column of a chunk also holds B column sums, each
     * cell of a piece its counts and one replicate (5 doubles), each row of
     * a piece B row sums. */
    const uint64_t B = opt->bootstrap;
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
    const uint64_t cell =
        (pl->keep_lo ? 2 : 1) * sizeof(double) + (pl->keep_lo2 ? sizeof(double) : 0);
    /* A quarter of the memory for the column accumulators of one chunk, in
     * whole blocks of columns (chunks start on block boundaries). */
    uint64_t per_col = sizeof(h5div_acc) + 2 * sizeof(double);
    per_col += B * (sizeof(h5div_acc) + 3 * sizeof(double));
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
    uint64_t hm =
        mem / 2 / (pl->w * (cell + (B ? 5 * sizeof(double) : 0)) + (1 + B) * sizeof(h5div_acc));
    h = h < hm ? h : hm;
    pl->h = h ? h : 1;
    /* The cache holds the values plus the pseudocount; the replicates are
     * drawn from the counts, so with both the pieces are read in each pass. */
    pl->cached = pl->nr * pl->ny * cell <= mem / 2 && !(B && opt->pseudocount != 0.0);
    /* Every rank or none: cached ranks make no collective reads later. */
    H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &pl->cached, 1, MPI_INT, MPI_MIN, comm));
    uint64_t mine = (pl->nr + pl->h - 1) / pl->h;
    H5DIV_MPI_CHECK(MPI_Allreduce(&mine, &pl->rounds, 1, MPI_UINT64_T, MPI_MAX, comm));
    return H5DIV_OK;
}

typedef struct joint_bufs {
    double *piece, *cache, *r_hi, *r_lo, *c_hi, *c_lo;
    double *piece_lo, *cache_lo;                   /* remainders (plan's keep_lo) */
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
static void piece_extent(const joint_plan *pl, uint64_t rp, uint64_t cc, uint64_t *row, uint64_t *h,
                         uint64_t *col, uint64_t *w)
{
    uint64_t start = rp * pl->h;
    *h = start < pl->nr ? pl->nr - start : 0;
    *h = *h < pl->h ? *h : pl->h;
    *row = pl->r0 + start;
    *col = cc * pl->w;
    *w = pl->ny - *col < pl->w ? pl->ny - *col : pl->w;
}

/* The piece (rp, cc): from the cache, or read (every rank, agreed). On
 * return *cells points at its first cell and *ld is its row stride. A read
 * piece's counts are copied to raw, raw_lo first when these are not NULL
 * (--bootstrap with a pseudocount). */
static int get_piece(MPI_Comm comm, h5div_dset *d, const joint_plan *pl, joint_bufs *b,
                     int from_cache, uint64_t rp, uint64_t cc, const double **cells,
                     const double **lo, const double **lo2, size_t *ld, double *raw, double *raw_lo,
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
    int st =
        h5div_dset_read_box(d, row, h, col, w, b->piece, b->piece_lo, opt->collective_io, msg, len);
    if (st == H5DIV_OK && raw) {
        memcpy(raw, b->piece, (size_t)(h * w) * sizeof(double));
        if (b->piece_lo)
            memcpy(raw_lo, b->piece_lo, (size_t)(h * w) * sizeof(double));
    }
    if (st == H5DIV_OK) /* as the cache holds them: the values plus the pseudocount */
        add_alpha(b->piece, b->piece_lo, b->piece_lo2, (size_t)(h * w), opt->pseudocount);
    *cells = b->piece;
    *lo = b->piece_lo;
    *lo2 = b->piece_lo2;
    *ld = (size_t)w;
    return h5div_par_agree(comm, st, msg, len);
}

/* --bootstrap B (eval/engine.h): replicates q = 0 .. B - 1 (replicate
 * q + 1 of the engine's numbering) of each piece are drawn while it is in
 * memory, in each pass, cell (x, y) keyed by its flat index x ny + y; each
 * replicate's row sums, column sums and terms are kept and reduced as the
 * data's are, so a replicate is the whole evaluation on the replicate's
 * table, with the same bits on any decomposition. */
typedef struct joint_reps {
    uint64_t B;
    double *raw, *raw_lo;        /* [h w] a read piece's counts before the pseudocount */
    double *dv, *dl, *dl2;       /* [h w] one replicate of a piece: values plus pseudocount */
    double *r_hi, *r_lo, *r_lo2; /* [B][nr] row sums */
    double *c_hi, *c_lo, *c_lo2; /* [B][w] column sums of the chunk in progress */
    h5div_acc *row_acc;          /* [B][h] */
    h5div_acc *col_acc;          /* [B][w] */
    h5div_acc *total, *big_row;  /* [B] */
    double *big_hi;              /* [B] */
    uint64_t *big_i;             /* [B] */
    h5div_joint_norm *nm;        /* [B] */
    h5div_acc *acc;              /* [B][H5DIV_J_COUNT] */
    double *reps;                /* [measure][B] */
} joint_reps;

/* One piece of the table: cells x lo lo2 (the values plus the pseudocount,
 * leading dimension ld) and, with --bootstrap, the counts raw + raw_lo. */
typedef struct joint_piece {
    uint64_t row, h, col, w;
    const double *cells, *lo, *lo2;
    size_t ld;
    const double *raw, *raw_lo;
} joint_piece;

/* One evaluation of a joint table. */
typedef struct joint_run {
    MPI_Comm comm;
    joint_job *j;
    const h5div_options *opt;
    h5div_dset d;
    joint_plan pl;
    joint_bufs b;
    h5div_acc total, acc[H5DIV_J_COUNT];
    /* This rank's largest row, exactly: the one row that may hold more
     * than half of the table needs its complement from it. */
    h5div_acc big_row;
    double big_hi;
    uint64_t big_i;
    h5div_joint_norm nm;
    joint_reps rb;
    char *msg;
    size_t len;
} joint_run;

static int alloc_bufs(joint_run *r)
{
    const joint_plan *pl = &r->pl;
    joint_bufs *b = &r->b;
    int ok = 1;
    b->piece = alloc((size_t)(pl->h * pl->w), sizeof(double), &ok);
    if (pl->cached)
        b->cache = alloc((size_t)(pl->nr * pl->ny), sizeof(double), &ok);
    if (pl->keep_lo) {
        b->piece_lo = alloc((size_t)(pl->h * pl->w), sizeof(double), &ok);
        if (pl->cached)
            b->cache_lo = alloc((size_t)(pl->nr * pl->ny), sizeof(double), &ok);
    }
    if (pl->keep_lo2) {
        b->piece_lo2 = alloc((size_t)(pl->h * pl->w), sizeof(double), &ok);
        if (pl->cached)
            b->cache_lo2 = alloc((size_t)(pl->nr * pl->ny), sizeof(double), &ok);
        b->r_lo2 = alloc((size_t)pl->nr, sizeof(double), &ok);
        b->c_lo2 = alloc((size_t)pl->w, sizeof(double), &ok);
    }
    b->r_hi = alloc((size_t)pl->nr, sizeof(double), &ok);
    b->r_lo = alloc((size_t)pl->nr, sizeof(double), &ok);
    b->c_hi = alloc((size_t)pl->w, sizeof(double), &ok);
    b->c_lo = alloc((size_t)pl->w, sizeof(double), &ok);
    b->row_acc = alloc((size_t)pl->h, sizeof(h5div_acc), &ok);
    b->col_acc = alloc((size_t)pl->w, sizeof(h5div_acc), &ok);
    if (!ok)
        h5div_set_error(r->msg, r->len, "out of memory for %llu rows (use --memory-per-rank)",
                        (unsigned long long)pl->nr);
    return h5div_par_agree(r->comm, ok ? H5DIV_OK : H5DIV_EINTERNAL, r->msg, r->len);
}

/* Replicate q of piece p, drawn from its counts, plus the pseudocount,
 * into rb.dv, dl, dl2 (leading dimension p->w). */
static void draw_piece(joint_run *r, uint64_t q, const joint_piece *p, size_t raw_ld)
{
    joint_reps *rb = &r->rb;
    const h5div_rs_key key = {r->opt->seed, H5DIV_RS_BOOTSTRAP, q, 0};
    const size_t w = (size_t)p->w;
    for (uint64_t i = 0; i < p->h; i++)
        /* The counts were checked in the first pass: every mean is valid. */
        (void)h5div_rs_poisson(&key, (p->row + i) * r->pl.ny + p->col, p->raw + i * raw_ld,
                               p->raw_lo ? p->raw_lo + i * raw_ld : NULL, w, rb->dv + i * w,
                               rb->dl + i * w);
    const double alpha = r->opt->pseudocount;
    add_alpha(rb->dv, rb->dl, alpha != 0.0 ? rb->dl2 : NULL, (size_t)(p->h * p->w), alpha);
}

/* The raw counts' leading dimension: a read piece's, or the cache's. */
static size_t raw_ld(const joint_piece *p)
{
    return p->raw == p->cells ? p->ld : (size_t)p->w;
}

/* A negative, NaN or infinite value among cells [col, col + w) of row
 * `row` is an input error; with --bootstrap so is one that is not a whole
 * number. */
static int check_cells(joint_run *r, const double *cells, uint64_t row, uint64_t col, uint64_t w)
{
    size_t bad = h5div_first_invalid(cells, (size_t)w);
    if (bad < w) {
        double x = cells[bad];
        h5div_set_error(r->msg, r->len,
                        "%s value %g in joint histogram (%s, row %llu, column %llu)",
                        isnan(x)   ? "NaN"
                        : isinf(x) ? "infinite"
                                   : "negative",
                        x, r->j->ref, (unsigned long long)row, (unsigned long long)(col + bad));
        return H5DIV_EINPUT;
    }
    for (uint64_t k = 0; r->rb.B && k < w; k++)
        if (cells[k] != floor(cells[k])) {
            h5div_set_error(r->msg, r->len,
                            "--bootstrap needs integer counts: value %.17g is not a whole number "
                            "(%s, row %llu, column %llu)",
                            cells[k], r->j->ref, (unsigned long long)row,
                            (unsigned long long)(col + k));
            return H5DIV_EINPUT;
        }
    return H5DIV_OK;
}

/* The row sums of replicates 1 .. B of the checked rows [row, row + h) of
 * a pass-1 piece (counts, before the pseudocount) into rb.row_acc. */
static void rep_row_sums(joint_run *r, uint64_t row, uint64_t h, uint64_t col, uint64_t w)
{
    joint_reps *rb = &r->rb;
    const joint_piece p = {row, h, col, w, NULL, NULL, NULL, 0, r->b.piece, r->b.piece_lo};
    for (uint64_t q = 0; q < rb->B; q++) {
        draw_piece(r, q, &p, (size_t)w);
        for (uint64_t i = 0; i < h; i++) {
            h5div_acc *a = &rb->row_acc[q * r->pl.h + i];
            for (uint64_t k = 0; k < w; k++) {
                h5div_acc_add(a, rb->dv[i * w + k]);
                h5div_acc_add(a, rb->dl[i * w + k]);
                if (r->opt->pseudocount != 0.0)
                    h5div_acc_add(a, rb->dl2[i * w + k]);
            }
        }
    }
}

/* The replicates' state (--bootstrap); agreed status. */
static int alloc_reps(joint_run *r)
{
    joint_reps *rb = &r->rb;
    if (!rb->B)
        return H5DIV_OK;
    const joint_plan *pl = &r->pl;
    const size_t B = (size_t)rb->B, hw = (size_t)(pl->h * pl->w);
    const size_t nr = (size_t)pl->nr, w = (size_t)pl->w, h = (size_t)pl->h;
    int ok = 1;
    rb->raw = alloc(hw, sizeof(double), &ok);
    rb->raw_lo = alloc(hw, sizeof(double), &ok);
    rb->dv = alloc(hw, sizeof(double), &ok);
    rb->dl = alloc(hw, sizeof(double), &ok);
    rb->dl2 = alloc(hw, sizeof(double), &ok);
    rb->r_hi = alloc(B * nr, sizeof(double), &ok);
    rb->r_lo = alloc(B * nr, sizeof(double), &ok);
    rb->r_lo2 = alloc(B * nr, sizeof(double), &ok);
    rb->c_hi = alloc(B * w, sizeof(double), &ok);
    rb->c_lo = alloc(B * w, sizeof(double), &ok);
    rb->c_lo2 = alloc(B * w, sizeof(double), &ok);
    rb->row_acc = alloc(B * h, sizeof(h5div_acc), &ok);
    rb->col_acc = alloc(B * w, sizeof(h5div_acc), &ok);
    rb->total = alloc(B, sizeof(h5div_acc), &ok);
    rb->big_row = alloc(B, sizeof(h5div_acc), &ok);
    rb->big_hi = alloc(B, sizeof(double), &ok);
    rb->big_i = alloc(B, sizeof(uint64_t), &ok);
    rb->nm = alloc(B, sizeof(h5div_joint_norm), &ok);
    rb->acc = alloc(B * H5DIV_J_COUNT, sizeof(h5div_acc), &ok);
    rb->reps = alloc(B * H5DIV_JOINT_NMEASURES, sizeof(double), &ok);
    for (size_t q = 0; ok && q < B; q++) {
        h5div_acc_init(&rb->total[q]);
        rb->big_hi[q] = 0.0;
        rb->big_i[q] = pl->nr;
        for (int t = 0; t < H5DIV_J_COUNT; t++)
            h5div_acc_init(&rb->acc[q * H5DIV_J_COUNT + (size_t)t]);
    }
    if (!ok)
        h5div_set_error(r->msg, r->len,
                        "out of memory for the state of %llu bootstrap replicates (use "
                        "--memory-per-rank)",
                        (unsigned long long)rb->B);
    return h5div_par_agree(r->comm, ok ? H5DIV_OK : H5DIV_EINTERNAL, r->msg, r->len);
}

static void free_reps(joint_reps *rb)
{
    double *d[] = {rb->raw,   rb->raw_lo, rb->dv,   rb->dl,    rb->dl2,    rb->r_hi, rb->r_lo,
                   rb->r_lo2, rb->c_hi,   rb->c_lo, rb->c_lo2, rb->big_hi, rb->reps};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        free(d[i]);
    free(rb->row_acc);
    free(rb->col_acc);
    free(rb->total);
    free(rb->big_row);
    free(rb->big_i);
    free(rb->nm);
    free(rb->acc);
}

/* Row i of a pass-1 piece at (row, col), w cells: check them, add the
 * pseudocount, sum the row exactly, keep the cells where the shard is kept. */
static int take_row(joint_run *r, uint64_t row, uint64_t i, uint64_t col, uint64_t w)
{
    const joint_plan *pl = &r->pl;
    joint_bufs *b = &r->b;
    double *cells = b->piece + i * w;
    H5DIV_CHECK(check_cells(r, cells, row + i, col, w));
    double *cl = b->piece_lo ? b->piece_lo + i * w : NULL;
    double *cl2 = b->piece_lo2 ? b->piece_lo2 + i * w : NULL;
    add_alpha(cells, cl, cl2, (size_t)w, r->opt->pseudocount);
    for (uint64_t k = 0; k < w; k++) {
        h5div_acc_add(&b->row_acc[i], cells[k]);
        if (cl)
            h5div_acc_add(&b->row_acc[i], cl[k]);
        if (cl2)
            h5div_acc_add(&b->row_acc[i], cl2[k]);
    }
    const size_t at = (size_t)((row - pl->r0 + i) * pl->ny + col), nb = (size_t)w * sizeof(double);
    if (pl->cached)
        memcpy(b->cache + at, cells, nb);
    if (pl->cached && cl)
        memcpy(b->cache_lo + at, cl, nb);
    if (pl->cached && cl2)
        memcpy(b->cache_lo2 + at, cl2, nb);
    return H5DIV_OK;
}

/* The h finished rows of a pass-1 round from `row`: rounded, added to the
 * total, the largest kept. */
static void finish_rows(joint_run *r, uint64_t row, uint64_t h)
{
    joint_bufs *b = &r->b;
    for (uint64_t i = 0; i < h; i++) {
        const uint64_t at = row - r->pl.r0 + i;
        if (b->r_lo2)
            h5div_acc_round3(&b->row_acc[i], &b->r_hi[at], &b->r_lo[at], &b->r_lo2[at]);
        else
            h5div_acc_round2(&b->row_acc[i], &b->r_hi[at], &b->r_lo[at]);
        h5div_acc_merge(&r->total, &b->row_acc[i]);
        if (b->r_hi[at] > r->big_hi) {
            r->big_hi = b->r_hi[at];
            r->big_i = at;
            r->big_row = b->row_acc[i];
        }
    }
    joint_reps *rb = &r->rb;
    for (uint64_t q = 0; q < rb->B; q++)
        for (uint64_t i = 0; i < h; i++) {
            const uint64_t at = q * r->pl.nr + row - r->pl.r0 + i;
            const h5div_acc *a = &rb->row_acc[q * r->pl.h + i];
            h5div_acc_round3(a, &rb->r_hi[at], &rb->r_lo[at], &rb->r_lo2[at]);
            h5div_acc_merge(&rb->total[q], a);
            if (rb->r_hi[at] > rb->big_hi[q]) {
                rb->big_hi[q] = rb->r_hi[at];
                rb->big_i[q] = at - q * r->pl.nr;
                rb->big_row[q] = *a;
            }
        }
}

/* Pass 1, by rows: check the values, add the pseudocount, sum each row
 * exactly across all column chunks. */
static int pass_rows(joint_run *r)
{
    const joint_plan *pl = &r->pl;
    int st = H5DIV_OK;
    for (uint64_t rp = 0; st == H5DIV_OK && rp < pl->rounds; rp++) {
        uint64_t row, h, col, w;
        piece_extent(pl, rp, 0, &row, &h, &col, &w);
        for (uint64_t i = 0; i < h; i++)
            h5div_acc_init(&r->b.row_acc[i]);
        /* Only the piece's rows: pl->h is sized by the memory bound, and
         * initialising all B h accumulators cost 0.4 s a run for a small
         * table (pages touched), far more than its bootstrap. */
        for (uint64_t q = 0; q < r->rb.B; q++)
            for (uint64_t i = 0; i < h; i++)
                h5div_acc_init(&r->rb.row_acc[q * pl->h + i]);
        for (uint64_t cc = 0; st == H5DIV_OK && cc < pl->nchunks; cc++) {
            piece_extent(pl, rp, cc, &row, &h, &col, &w);
            int lst = h5div_dset_read_box(&r->d, row, h, col, w, r->b.piece, r->b.piece_lo,
                                          r->opt->collective_io, r->msg, r->len);
            for (uint64_t i = 0; lst == H5DIV_OK && r->rb.B && i < h; i++)
                lst = check_cells(r, r->b.piece + i * w, row + i, col, w);
            if (lst == H5DIV_OK && r->rb.B)
                rep_row_sums(r, row, h, col, w);
            for (uint64_t i = 0; lst == H5DIV_OK && i < h; i++)
                lst = take_row(r, row, i, col, w);
            st = h5div_par_agree(r->comm, lst, r->msg, r->len);
        }
        if (st == H5DIV_OK)
            finish_rows(r, row, h);
    }
    return st;
}

/* The replicates' totals reduced, their normalisations set (n_hi = 0 for a
 * replicate that drew no counts) and their H(X) from this rank's rows. */
static int settle_rep_totals(joint_run *r)
{
    joint_reps *rb = &r->rb;
    if (!rb->B)
        return H5DIV_OK;
    H5DIV_CHECK(h5div_par_sum_acc(r->comm, rb->total, (int)rb->B));
    const uint64_t nr = r->pl.nr;
    for (uint64_t q = 0; q < rb->B; q++) {
        double hi, lo, lo2;
        h5div_acc_round3(&rb->total[q], &hi, &lo, &lo2);
        h5div_joint_norm *nm = &rb->nm[q];
        if (!(hi > 0.0)) {
            memset(nm, 0, sizeof *nm);
            continue;
        }
        h5div_joint_norm_init(nm, hi, lo);
        nm->n_lo2 = lo2 * nm->scale;
        const double c =
            rb->big_i[q] < nr ? h5div_joint_complement(&rb->total[q], &rb->big_row[q]) : -1.0;
        h5div_joint_marginal_add_big(rb->r_hi + q * nr, rb->r_lo + q * nr, (size_t)nr,
                                     c >= 0.0 ? (size_t)rb->big_i[q] : (size_t)nr, c, nm,
                                     &rb->acc[q * H5DIV_J_COUNT + H5DIV_J_HX]);
    }
    return H5DIV_OK;
}

/* The table's total reduced and checked, the normalisation set, and H(X)
 * from this rank's rows. */
static int settle_total(joint_run *r)
{
    H5DIV_CHECK(h5div_par_sum_acc(r->comm, &r->total, 1));
    double hi, lo, lo2;
    int st = H5DIV_OK;
    h5div_acc_round3(&r->total, &hi, &lo, &lo2);
    if (hi == 0.0) {
        h5div_set_error(r->msg, r->len, "joint histogram is all zeros (%s)", r->j->ref);
        st = H5DIV_EINPUT;
    } else if (!isfinite(hi)) {
        h5div_set_error(r->msg, r->len, "joint histogram total overflows a double (%s)", r->j->ref);
        st = H5DIV_EINPUT;
    }
    for (uint64_t i = 0; st == H5DIV_OK && i < r->pl.nr; i++)
        if (!isfinite(r->b.r_hi[i])) {
            h5div_set_error(r->msg, r->len, "row sum overflows a double (%s, row %llu)", r->j->ref,
                            (unsigned long long)(r->pl.r0 + i));
            st = H5DIV_EINPUT;
        }
    H5DIV_CHECK(h5div_par_agree(r->comm, st, r->msg, r->len));
    h5div_joint_norm_init(&r->nm, hi, lo);
    if (r->pl.keep_lo2)
        r->nm.n_lo2 = lo2 * r->nm.scale;
    memset(r->j->res, 0, sizeof *r->j->res);
    r->j->res->nx = r->d.rows;
    r->j->res->ny = r->d.cols;
    r->j->res->total = hi;
    /* Rank row blocks start on block boundaries: fixed summation blocks. */
    const double c = r->big_i < r->pl.nr ? h5div_joint_complement(&r->total, &r->big_row) : -1.0;
    h5div_joint_marginal_add_big(r->b.r_hi, r->b.r_lo, (size_t)r->pl.nr,
                                 c >= 0.0 ? (size_t)r->big_i : (size_t)r->pl.nr, c, &r->nm,
                                 &r->acc[H5DIV_J_HX]);
    return settle_rep_totals(r);
}

/* Every round's piece of column chunk cc, in turn, to fn. */
static int each_piece(joint_run *r, uint64_t cc, void (*fn)(joint_run *r, const joint_piece *p))
{
    int st = H5DIV_OK;
    /* With --bootstrap and a pseudocount the counts are kept apart. */
    const int apart = r->rb.B && r->opt->pseudocount != 0.0;
    for (uint64_t rp = 0; st == H5DIV_OK && rp < r->pl.rounds; rp++) {
        joint_piece p;
        st = get_piece(r->comm, &r->d, &r->pl, &r->b, r->pl.cached, rp, cc, &p.cells, &p.lo, &p.lo2,
                       &p.ld, apart ? r->rb.raw : NULL, apart ? r->rb.raw_lo : NULL, r->opt, r->msg,
                       r->len);
        piece_extent(&r->pl, rp, cc, &p.row, &p.h, &p.col, &p.w);
        p.raw = apart ? r->rb.raw : p.cells;
        p.raw_lo = apart ? (r->b.piece_lo ? r->rb.raw_lo : NULL) : p.lo;
        if (st == H5DIV_OK && p.h)
            fn(r, &p);
    }
    return st;
}

/* Exact sums of the columns of h rows of w cells x + lo + lo2 (leading dimension ld) into
 * col_acc. */
static void column_sums_add(h5div_acc *col_acc, uint64_t h, uint64_t w, const double *cells,
                            const double *lo, const double *lo2, size_t ld)
{
    for (uint64_t i = 0; i < h; i++) {
        const double *c = cells + i * ld;
        for (uint64_t k = 0; k < w; k++)
            h5div_acc_add(&col_acc[k], c[k]);
        if (lo)
            for (uint64_t k = 0; k < w; k++)
                h5div_acc_add(&col_acc[k], lo[i * ld + k]);
        if (lo2)
            for (uint64_t k = 0; k < w; k++)
                h5div_acc_add(&col_acc[k], lo2[i * ld + k]);
    }
}

static void add_column_sums(joint_run *r, const joint_piece *p)
{
    column_sums_add(r->b.col_acc, p->h, p->w, p->cells, p->lo, p->lo2, p->ld);
    joint_reps *rb = &r->rb;
    const double *lo2 = r->opt->pseudocount != 0.0 ? rb->dl2 : NULL;
    for (uint64_t q = 0; q < rb->B; q++) {
        draw_piece(r, q, p, raw_ld(p));
        column_sums_add(rb->col_acc + q * r->pl.w, p->h, p->w, rb->dv, rb->dl, lo2, (size_t)p->w);
    }
}

static void add_cells(joint_run *r, const joint_piece *p)
{
    const joint_bufs *b = &r->b;
    const uint64_t at = p->row - r->pl.r0;
    h5div_joint_cells_add_lo3(p->cells, p->lo, p->lo2, (size_t)p->h, (size_t)p->w, p->ld,
                              b->r_hi + at, b->r_lo + at, b->r_lo2 ? b->r_lo2 + at : NULL, b->c_hi,
                              b->c_lo, b->c_lo2, &r->nm, r->acc);
    joint_reps *rb = &r->rb;
    const double *lo2 = r->opt->pseudocount != 0.0 ? rb->dl2 : NULL;
    const uint64_t nr = r->pl.nr, w = r->pl.w;
    for (uint64_t q = 0; q < rb->B; q++) {
        if (!(rb->nm[q].n_hi > 0.0))
            continue; /* a replicate of no counts: NaN */
        draw_piece(r, q, p, raw_ld(p));
        h5div_joint_cells_add_lo3(rb->dv, rb->dl, lo2, (size_t)p->h, (size_t)p->w, (size_t)p->w,
                                  rb->r_hi + q * nr + at, rb->r_lo + q * nr + at,
                                  rb->r_lo2 + q * nr + at, rb->c_hi + q * w, rb->c_lo + q * w,
                                  rb->c_lo2 + q * w, &rb->nm[q], rb->acc + q * H5DIV_J_COUNT);
    }
}

/* H(Y) terms of the w columns of the chunk of replicate q (see column_sums). */
static void rep_column_terms(joint_run *r, uint64_t q, uint64_t w)
{
    joint_reps *rb = &r->rb;
    const h5div_joint_norm *nm = &rb->nm[q];
    const double *c_hi = rb->c_hi + q * r->pl.w, *c_lo = rb->c_lo + q * r->pl.w;
    const h5div_acc *col_acc = rb->col_acc + q * r->pl.w;
    size_t big = (size_t)w;
    double c = -1.0;
    for (uint64_t k = 0; k < w && c < 0.0; k++)
        if (c_hi[k] > 0.25 * nm->n_hi / nm->scale) {
            c = h5div_joint_complement(&rb->total[q], &col_acc[k]);
            big = c >= 0.0 ? (size_t)k : big;
        }
    h5div_joint_marginal_add_big(c_hi, c_lo, (size_t)w, big, c, nm,
                                 &rb->acc[q * H5DIV_J_COUNT + H5DIV_J_HY]);
}

/* The column sums of chunk cc reduced exactly and rounded; rank 0 adds
 * their H(Y) terms, the column holding more than half of the table from
 * its exact complement. */
static int column_sums(joint_run *r, uint64_t cc)
{
    uint64_t row, h, col, w;
    piece_extent(&r->pl, 0, cc, &row, &h, &col, &w);
    joint_bufs *b = &r->b;
    for (uint64_t k = 0; k < w; k++)
        h5div_acc_init(&b->col_acc[k]);
    joint_reps *rb = &r->rb;
    const uint64_t pw = r->pl.w, nrc = rb->B * pw;
    for (uint64_t k = 0; k < nrc; k++)
        h5div_acc_init(&rb->col_acc[k]);
    H5DIV_CHECK(each_piece(r, cc, add_column_sums));
    H5DIV_CHECK(h5div_par_sum_acc(r->comm, b->col_acc, (int)w));
    for (uint64_t k = 0; k < w; k++)
        if (b->c_lo2)
            h5div_acc_round3(&b->col_acc[k], &b->c_hi[k], &b->c_lo[k], &b->c_lo2[k]);
        else
            h5div_acc_round2(&b->col_acc[k], &b->c_hi[k], &b->c_lo[k]);
    if (nrc)
        H5DIV_CHECK(h5div_par_sum_acc(r->comm, rb->col_acc, (int)nrc));
    for (uint64_t k = 0; k < nrc; k++)
        h5div_acc_round3(&rb->col_acc[k], &rb->c_hi[k], &rb->c_lo[k], &rb->c_lo2[k]);
    int rank;
    H5DIV_MPI_CHECK(MPI_Comm_rank(r->comm, &rank));
    if (rank != 0)
        return H5DIV_OK;
    for (uint64_t q = 0; q < rb->B; q++)
        if (rb->nm[q].n_hi > 0.0)
            rep_column_terms(r, q, w);
    size_t big = (size_t)w;
    double c = -1.0;
    for (uint64_t k = 0; k < w && c < 0.0; k++)
        if (b->c_hi[k] > 0.25 * r->nm.n_hi / r->nm.scale) {
            c = h5div_joint_complement(&r->total, &b->col_acc[k]);
            big = c >= 0.0 ? (size_t)k : big;
        }
    h5div_joint_marginal_add_big(b->c_hi, b->c_lo, (size_t)w, big, c, &r->nm, &r->acc[H5DIV_J_HY]);
    return H5DIV_OK;
}

/* The replicates' sums reduced, their measures (NaN for a replicate that
 * drew no counts), standard errors and intervals into the result. */
static int finish_replicates(joint_run *r)
{
    joint_reps *rb = &r->rb;
    h5div_joint_result *res = r->j->res;
    const uint64_t B = rb->B;
    H5DIV_CHECK(h5div_par_sum_acc(r->comm, rb->acc, (int)(B * H5DIV_J_COUNT)));
    for (uint64_t q = 0; q < B; q++) {
        double v[H5DIV_JOINT_NMEASURES];
        for (int m = 0; m < H5DIV_JOINT_NMEASURES; m++)
            v[m] = NAN;
        if (rb->nm[q].n_hi > 0.0)
            h5div_joint_finish(rb->acc + q * H5DIV_J_COUNT, r->opt->measures, r->opt->base, v);
        for (int m = 0; m < H5DIV_JOINT_NMEASURES; m++)
            rb->reps[(uint64_t)m * B + q] = v[m];
    }
    int st = H5DIV_OK;
    if (h5div_rs_summary(rb->reps, H5DIV_JOINT_NMEASURES, (size_t)B, r->opt->ci, res->se,
                         &res->ci[0][0]) != 0) {
        h5div_set_error(r->msg, r->len,
                        "out of memory for the bootstrap intervals (%llu replicates)",
                        (unsigned long long)B);
        st = H5DIV_EINTERNAL;
    }
    H5DIV_CHECK(h5div_par_agree(r->comm, st, r->msg, r->len));
    res->nrep = B;
    res->ci_level = r->opt->ci;
    if (r->opt->keep_replicates) {
        res->reps = rb->reps;
        rb->reps = NULL;
    }
    return H5DIV_OK;
}

static int joint_run_all(joint_run *r)
{
    H5DIV_CHECK(alloc_bufs(r));
    H5DIV_CHECK(alloc_reps(r));
    h5div_acc_init(&r->total);
    for (int t = 0; t < H5DIV_J_COUNT; t++)
        h5div_acc_init(&r->acc[t]);
    r->big_hi = 0.0;
    r->big_i = r->pl.nr;
    H5DIV_CHECK(pass_rows(r));
    H5DIV_CHECK(settle_total(r));
    /* Pass 2, by column chunks: the chunk's column sums reduced exactly,
     * then the per-cell terms of the chunk. */
    for (uint64_t cc = 0; cc < r->pl.nchunks; cc++) {
        H5DIV_CHECK(column_sums(r, cc));
        H5DIV_CHECK(each_piece(r, cc, add_cells));
    }
    H5DIV_CHECK(h5div_par_sum_acc(r->comm, r->acc, H5DIV_J_COUNT));
    h5div_joint_finish(r->acc, r->opt->measures, r->opt->base, r->j->res->value);
    r->j->res->computed = r->opt->measures;
    return r->rb.B ? finish_replicates(r) : H5DIV_OK;
}

/* The replicates' state on this rank (not agreed): the plan fits a piece
 * with its draws and row sums in half of --memory-per-rank and a chunk's
 * column sums in a quarter (unless a chunk of one block needs more); the
 * replicates' row sums and totals, with any such excess, must fit in the
 * last quarter. */
static int reps_fit(joint_run *r)
{
    const joint_plan *pl = &r->pl;
    const double acc = (double)sizeof(h5div_acc), B = (double)r->rb.B;
    const double mem = (double)r->opt->memory_per_rank;
    const double cols = (double)pl->w * (acc + 2 * sizeof(double) + B * (acc + 3 * sizeof(double)));
    const double need = B * ((double)pl->nr * 3 * sizeof(double) + (H5DIV_J_COUNT + 3) * acc) +
                        (cols > mem / 4 ? cols - mem / 4 : 0.0);
    return h5div_bootstrap_fits(need, 0.25, r->opt, r->j->ref, r->msg, r->len);
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
    if (st == H5DIV_OK)
        st = h5div_eval_bootstrap_args(opt, msg, len);
    H5DIV_CHECK(h5div_par_agree(comm, st, msg, len));
    joint_run *r = calloc(1, sizeof *r);
    if (!r)
        h5div_set_error(msg, len, "out of memory for the joint evaluation");
    H5DIV_CHECK(h5div_par_agree(comm, r ? H5DIV_OK : H5DIV_EINTERNAL, msg, len));
    r->comm = comm;
    r->j = j;
    r->opt = opt;
    r->msg = msg;
    r->len = len;
    r->rb.B = opt->bootstrap;
    st = h5div_dset_open_2d(comm, j->ref, &r->d, msg, len);
    if (st == H5DIV_OK) {
        st = plan_joint(comm, &r->d, opt, &r->pl);
        if (st == H5DIV_OK && r->rb.B)
            st = h5div_par_agree(comm, reps_fit(r), msg, len);
        if (st == H5DIV_OK)
            st = joint_run_all(r);
        free_bufs(&r->b);
        free_reps(&r->rb);
        h5div_dset_close(&r->d);
    }
    free(r);
    return st;
}

int h5div_joint_files(MPI_Comm comm, const char *pxy_ref, const h5div_options *opt,
                      h5div_joint_result *result, char *errmsg, size_t errlen)
{
    joint_job j = {pxy_ref, opt, result};
    memset(result, 0, sizeof *result);
    return h5div_io_collective(comm, joint_body, &j, errmsg, errlen);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* The row-pass engine in process on 1-4 ranks: a toy family (per-row sum and count, exact in
 * uint64) against the test's own sums of the values it wrote, rows that span ranks, pieces
 * smaller than a row and across rows, two passes, 64-bit integers above 2^53 through their
 * remainders, a zero row refused, and a segment's error agreed with its message on every rank. */
#include <hdf5.h>
#include <inttypes.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/engine.h"
#include "par/par.h"

#include "../mpi_check.h"

static int size;

/* The inputs: /M float64 [R, C] with C not a multiple of the 256-bin block
 * (4 blocks a row, the last short), /Z as /M with row ZROW all zeros, and /L
 * uint64 (L1,) above 2^60 (not exact in a double). */
#define R 5
#define C (3 * H5DIV_BLOCK_BINS + 17)
#define ZROW 2
#define L1 (5 * H5DIV_BLOCK_BINS + 100)
#define BIG (UINT64_C(1) << 60)

static uint64_t value(int big, int zero, uint64_t row, uint64_t col)
{
    if (zero && row == ZROW)
        return 0;
    const uint64_t v = 1 + (row * 31 + col * 7) % 13;
    return big ? BIG + v * 3 : v;
}

/* The oracle: the sum of a row's values, added up bin by bin in uint64. */
static uint64_t row_sum(int big, int zero, uint64_t row, uint64_t cols)
{
    uint64_t s = 0;
    for (uint64_t c = 0; c < cols; c++)
        s += value(big, zero, row, c);
    return s;
}

static void make_inputs(const char *path)
{
    if (rank == 0) {
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        static double m[R][C], z[R][C];
        static uint64_t l[L1];
        for (uint64_t r = 0; r < R; r++)
            for (uint64_t c = 0; c < C; c++) {
                m[r][c] = (double)value(0, 0, r, c);
                z[r][c] = (double)value(0, 1, r, c);
            }
        for (uint64_t c = 0; c < L1; c++)
            l[c] = value(1, 0, 0, c);
        hsize_t d2[2] = {R, C}, d1 = L1;
        hid_t s2 = H5Screate_simple(2, d2, NULL), s1 = H5Screate_simple(1, &d1, NULL);
        const char *names[3] = {"M", "Z", "L"};
        const void *data[3] = {m, z, l};
        for (int k = 0; k < 3; k++) {
            hid_t ft = k < 2 ? H5T_IEEE_F64LE : H5T_STD_U64LE;
            hid_t mt = k < 2 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_UINT64;
            hid_t d =
                H5Dcreate2(f, names[k], ft, k < 2 ? s2 : s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            CHECK(d >= 0 && H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, data[k]) >= 0,
                  "writing /%s", names[k]);
            H5Dclose(d);
        }
        H5Sclose(s1);
        H5Sclose(s2);
        H5Fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

/* The toy family: per row the exact sum (uint64, wrapping: associative, so
 * any split of the row over ranks gives the same bits) and count of its
 * bins; pass 1 sums again and must find pass 0's totals. */
typedef struct toy_state {
    uint64_t sum, count;
} toy_state;

typedef struct toy {
    int big, zero;
    uint64_t rows, cols;
    uint64_t fail_row, fail_col; /* pass 1 fails at this bin (rows: none) */
    uint64_t sum[2][R], count[2][R];
    int owned[2][R], finished[2][R]; /* times finished here, owned or at all */
    int bad, pieces, segments;
} toy;

static void toy_row_start(void *ctx, int pass, uint64_t row, void *state)
{
    toy *t = ctx;
    (void)pass;
    t->bad += row >= t->rows;
    memset(state, 0, sizeof(toy_state));
}

static int toy_segment(void *ctx, int pass, const h5div_row_seg *s, void *state, char *msg,
                       size_t len)
{
    toy *t = ctx;
    toy_state *st = state;
    t->segments++;
    t->bad += s->c0 % H5DIV_BLOCK_BINS != 0 || s->c0 + s->n > t->cols || s->n == 0;
    for (size_t i = 0; i < s->n; i++) {
        /* The stored value is x + lo exactly. */
        const uint64_t v = (uint64_t)s->x[0][i] + (uint64_t)(int64_t)(s->lo[0] ? s->lo[0][i] : 0);
        t->bad += v != value(t->big, t->zero, s->row, s->c0 + i);
        st->sum += v;
        st->count++;
    }
    if (pass == 1 && s->row == t->fail_row && s->c0 <= t->fail_col && t->fail_col < s->c0 + s->n) {
        h5div_set_error(msg, len, "toy: bad bin (row %" PRIu64 ", bin %" PRIu64 ")", s->row,
                        t->fail_col);
        return H5DIV_EINPUT;
    }
    return H5DIV_OK;
}

static int toy_piece_end(void *ctx, int pass, uint64_t first_bin, size_t n, char *msg, size_t len)
{
    toy *t = ctx;
    (void)pass, (void)first_bin, (void)msg, (void)len;
    t->pieces += n > 0;
    return H5DIV_OK;
}

static int toy_reduce(MPI_Comm c, void *ctx, int pass, uint64_t row, void *state)
{
    (void)ctx, (void)pass, (void)row;
    H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, state, 2, MPI_UINT64_T, MPI_SUM, c));
    return H5DIV_OK;
}

static void toy_row_finish(void *ctx, int pass, uint64_t row, int owned, const void *state)
{
    toy *t = ctx;
    const toy_state *st = state;
    t->sum[pass][row] = st->sum;
    t->count[pass][row] = st->count;
    t->finished[pass][row]++;
    t->owned[pass][row] += owned;
    /* Pass 1 finds the totals of pass 0 (on every rank that holds the row). */
    if (pass == 1)
        t->bad += t->finished[0][row] != 1 || t->sum[0][row] != st->sum;
}

static double toy_row_total(const void *ctx, uint64_t row, int d)
{
    const toy *t = ctx;
    (void)d;
    return (double)t->sum[0][row];
}

static const h5div_row_family toy_family = {
    .name = "toy",
    .npasses = 2,
    .state_size = sizeof(toy_state),
    .row_start = toy_row_start,
    .segment = toy_segment,
    .piece_end = toy_piece_end,
    .state_reduce = toy_reduce,
    .row_finish = toy_row_finish,
    .row_total = toy_row_total,
};

/* Run the toy over dataset `name` of path; returns the agreed status. */
static int run_toy(const char *path, const char *name, int two_d, toy *t, char *msg, size_t len)
{
    char ref[1024];
    snprintf(ref, sizeof ref, "%s:/%s", path, name);
    h5div_dset d;
    int st = two_d ? h5div_dset_open_2d(MPI_COMM_WORLD, ref, &d, msg, len)
                   : h5div_dset_open(MPI_COMM_WORLD, ref, &d, msg, len);
    CHECK(st == H5DIV_OK, "opening %s: %s", ref, msg);
    if (st != H5DIV_OK)
        return st;
    h5div_options opt;
    h5div_options_init(&opt);
    opt.piece_bytes = 3 * H5DIV_BLOCK_BINS * sizeof(double);      /* 3 blocks: across rows */
    opt.memory_per_rank = 16 * H5DIV_BLOCK_BINS * sizeof(double); /* less than a shard */
    h5div_dset *dd[1] = {&d};
    h5div_sweep sw;
    st = h5div_sweep_init(MPI_COMM_WORLD, &sw, dd, 1, 0, &opt, msg, len);
    CHECK(st == H5DIV_OK, "h5div_sweep_init %s: %s", ref, msg);
    if (st == H5DIV_OK) {
        st = h5div_eval_rows(MPI_COMM_WORLD, &sw, &toy_family, t, &opt, msg, len);
        h5div_sweep_free(&sw);
    }
    h5div_dset_close(&d);
    return st;
}

/* Pieces of 3 blocks over both passes on all ranks, from the split of the
 * grid's blocks over the ranks. */
static int pieces_of(uint64_t rows, uint64_t cols)
{
    h5div_grid g = h5div_grid_make(rows, cols);
    int n = 0;
    for (int r = 0; r < size; r++) {
        uint64_t b0, b1;
        h5div_grid_split(&g, size, r, &b0, &b1);
        n += 2 * (int)((b1 - b0 + 2) / 3);
    }
    return n;
}

/* Every row finished on its owner once per pass (and on every rank that
 * holds part of it), with the oracle's sum and count. */
static void check_rows(const toy *t, const char *what, int want_pieces)
{
    int owned[2][R];
    MPI_Allreduce(t->owned, owned, 2 * R, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    for (int p = 0; p < 2; p++)
        for (uint64_t r = 0; r < t->rows; r++) {
            CHECK(owned[p][r] == 1, "%s pass %d row %" PRIu64 ": owned by %d ranks", what, p, r,
                  owned[p][r]);
            if (!t->finished[p][r])
                continue;
            const uint64_t want = row_sum(t->big, t->zero, r, t->cols);
            CHECK(t->finished[p][r] == 1 && t->sum[p][r] == want && t->count[p][r] == t->cols,
                  "%s pass %d row %" PRIu64 ": finished %d times, sum %" PRIu64 " (want %" PRIu64
                  "), count %" PRIu64,
                  what, p, r, t->finished[p][r], t->sum[p][r], want, t->count[p][r]);
        }
    int shared = 0, pieces = t->pieces;
    for (uint64_t r = 0; r < t->rows; r++)
        shared += t->finished[0][r] && !t->owned[0][r];
    MPI_Allreduce(MPI_IN_PLACE, &shared, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &pieces, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    CHECK(t->bad == 0, "%s: %d bad segments or values", what, t->bad);
    /* On 2 ranks or more some row spans ranks. */
    CHECK(size == 1 || shared > 0, "%s: no row finished on a rank that does not own it", what);
    CHECK(pieces == want_pieces, "%s: %d pieces on %d ranks, want %d", what, pieces, size,
          want_pieces);
}

static toy *new_toy(int big, int zero, uint64_t rows, uint64_t cols)
{
    toy *t = calloc(1, sizeof *t);
    t->big = big;
    t->zero = zero;
    t->rows = rows;
    t->cols = cols;
    t->fail_row = UINT64_MAX;
    return t;
}

/* The same message on every rank: rank 0's, compared everywhere. */
static int same_everywhere(const char *msg)
{
    char m0[1024];
    snprintf(m0, sizeof m0, "%s", msg);
    MPI_Bcast(m0, sizeof m0, MPI_CHAR, 0, MPI_COMM_WORLD);
    int same = strcmp(m0, msg) == 0;
    MPI_Allreduce(MPI_IN_PLACE, &same, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return same;
}

static void test_engine(const char *path)
{
    char msg[1024] = "";
    toy *t = new_toy(0, 0, R, C);
    int st = run_toy(path, "M", 1, t, msg, sizeof msg);
    CHECK(st == H5DIV_OK, "2-D rows: %d %s", st, msg);
    check_rows(t, "2-D rows", pieces_of(R, C));
    free(t);

    /* One row (a 1-D dataset) over every rank, uint64 above 2^53. */
    t = new_toy(1, 0, 1, L1);
    st = run_toy(path, "L", 0, t, msg, sizeof msg);
    CHECK(st == H5DIV_OK, "1-D uint64: %d %s", st, msg);
    check_rows(t, "1-D uint64", pieces_of(1, L1));
    free(t);

    /* A segment's error in pass 1, inside row 3 (held by one rank or two):
     * every rank returns it with the same message. */
    t = new_toy(0, 0, R, C);
    t->fail_row = 3;
    t->fail_col = 2 * H5DIV_BLOCK_BINS + 5;
    msg[0] = '\0';
    st = run_toy(path, "M", 1, t, msg, sizeof msg);
    CHECK(st == H5DIV_EINPUT && strstr(msg, "toy: bad bin (row 3, bin 517)"),
          "segment error: %d '%s'", st, msg);
    CHECK(same_everywhere(msg), "segment error: not the same message on every rank ('%s')", msg);
    free(t);

    /* A row whose total is zero: refused after pass 0, naming the row. */
    t = new_toy(0, 1, R, C);
    msg[0] = '\0';
    st = run_toy(path, "Z", 1, t, msg, sizeof msg);
    CHECK(st == H5DIV_EINPUT && strstr(msg, "histogram is all zeros (") &&
              strstr(msg, ":/Z, row 2)"),
          "zero row: %d '%s'", st, msg);
    CHECK(same_everywhere(msg), "zero row: not the same message on every rank ('%s')", msg);
    free(t);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc != 2 || size > 4) {
        if (rank == 0)
            fprintf(stderr, "usage: mpiexec -n 1..4 %s DIR\n", argv[0]);
        MPI_Finalize();
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/engine.h5", argv[1]);
    make_inputs(path);
    test_engine(path);
    int all = 0;
    MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s: %d failures on %d ranks\n", all ? "FAIL" : "ok", all, size);
    MPI_Finalize();
    return all != 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* In-process tests of src/par on 3 ranks: row decomposition against a hand derivation, MPI
 * failures named in the error message with MPI_Error_string, reductions made once, and
 * H5DIV_H5_TRY of src/io. */
#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "io/io.h"
#include "par/par.h"

#include "../mpi_check.h"

/* 2 rows of 3 blocks (768 bins) on 3 ranks: blocks [0,2), [2,4), [4,6). The
 * boundaries at blocks 2 (row 0, block 2) and 4 (row 1, block 1) lie inside
 * rows, so both rows are shared; row 0 is owned by rank 0, row 1 by rank 1
 * (its first block, 3, is rank 1's), and rank 2 owns none. */
static void test_rows(void)
{
    h5div_grid g = h5div_grid_make(2, 3 * H5DIV_BLOCK_BINS);
    CHECK(g.nb == 3, "nb %llu", (unsigned long long)g.nb);
    CHECK(h5div_grid_bin(&g, 4) == 3 * H5DIV_BLOCK_BINS + H5DIV_BLOCK_BINS, "bin of block 4");
    uint64_t b0, b1;
    h5div_grid_split(&g, 3, rank, &b0, &b1);
    CHECK(b0 == 2 * (uint64_t)rank && b1 == b0 + 2, "blocks [%llu, %llu)", (unsigned long long)b0,
          (unsigned long long)b1);
    h5div_rows r;
    char msg[256] = "";
    CHECK(h5div_par_rows_init(MPI_COMM_WORLD, &g, b0, b1, &r, msg, sizeof msg) == H5DIV_OK, "%s",
          msg);
    static const uint64_t lo[3] = {0, 0, 1}, hi[3] = {1, 2, 2}, own0[3] = {0, 1, 2},
                          own1[3] = {1, 2, 2};
    CHECK(r.lo == lo[rank] && r.hi == hi[rank], "touched [%llu, %llu)", (unsigned long long)r.lo,
          (unsigned long long)r.hi);
    CHECK(r.own0 == own0[rank] && r.own1 == own1[rank], "owned [%llu, %llu)",
          (unsigned long long)r.own0, (unsigned long long)r.own1);
    CHECK(r.nshared == 2 && r.shared[0] == 0 && r.shared[1] == 1, "%d shared", r.nshared);
    CHECK(h5div_rows_shared(&r, 1) == 1 && h5div_rows_shared(&r, 2) == -1, "shared index");
    /* Row 0 (slot 0) is held by ranks 0 and 1, row 1 (slot 1) by ranks 1 and 2. */
    for (int p = 0; p < 2; p++) {
        int n = 0;
        if (r.sc.c[p] != MPI_COMM_NULL)
            MPI_Comm_size(r.sc.c[p], &n);
        int want = (p == 0 && rank <= 1) || (p == 1 && rank >= 1) ? 2 : 0;
        CHECK(n == want, "slot %d: %d ranks, want %d", p, n, want);
    }
    h5div_rows_free(&r);
}

/* An MPI call that fails (a negative count) through H5DIV_MPI_CHECK. */
static int bad_allreduce(void)
{
    int x = 0, y = 0;
    H5DIV_MPI_CHECK(MPI_Allreduce(&x, &y, -1, MPI_INT, MPI_SUM, MPI_COMM_SELF));
    return H5DIV_OK;
}

/* Only rank 2 fails; h5div_par_agree gives its message to every rank. */
static int fail_on_2(MPI_Comm c, void *arg, char *msg, size_t len)
{
    (void)arg;
    return h5div_par_agree(c, rank == 2 ? bad_allreduce() : H5DIV_OK, msg, len);
}

/* The message of h5div_par_collective names the call and gives
 * MPI_Error_string of its error, and where it failed. */
static void test_mpi_error(void)
{
    char text[MPI_MAX_ERROR_STRING], want[2 * MPI_MAX_ERROR_STRING], msg[1024] = "";
    int n;
    MPI_Error_string(MPI_ERR_COUNT, text, &n);
    snprintf(want, sizeof want,
             "MPI_Allreduce(&x, &y, -1, MPI_INT, MPI_SUM, MPI_COMM_SELF) failed: %s (", text);
    int st = h5div_par_collective(MPI_COMM_WORLD, fail_on_2, NULL, msg, sizeof msg);
    CHECK(st == H5DIV_EINTERNAL, "status %d", st);
    size_t lw = strlen(want), lm = strlen(msg);
    CHECK(!strncmp(msg, want, lw) && strstr(msg + lw, "test_par.c:") && msg[lm - 1] == ')',
          "message \"%s\", want \"%s<file>:<line>)\"", msg, want);
    /* A later run starts with no recorded failure. */
    h5div_mpi_error_clear();
    CHECK(h5div_mpi_error()[0] == '\0', "record not cleared");
}

static int calls;
static herr_t ok_call(void)
{
    return calls++, 0;
}
static herr_t bad_call(void)
{
    return calls++, -1;
}

/* Every call of a series is made; one failure makes rc -1. */
static void test_h5_try(void)
{
    herr_t rc = 0;
    calls = 0;
    H5DIV_H5_TRY(rc, ok_call());
    CHECK(rc == 0, "rc %d after a success", (int)rc);
    H5DIV_H5_TRY(rc, bad_call());
    H5DIV_H5_TRY(rc, ok_call());
    H5DIV_H5_TRY(rc, bad_call());
    CHECK(rc == -1 && calls == 4, "rc %d after %d calls", (int)rc, calls);
}

/* Word 0 summed, word 1 the maximum. */
static void sum_max(void *in, void *inout, int *n, MPI_Datatype *type)
{
    (void)type;
    const int64_t *a = in;
    int64_t *b = inout;
    for (int i = 0; i < *n; i++) {
        b[2 * i] += a[2 * i];
        b[2 * i + 1] = a[2 * i + 1] > b[2 * i + 1] ? a[2 * i + 1] : b[2 * i + 1];
    }
}

/* A reduction made once: the second get returns the same handles, and the
 * op reduces (ranks 0, 1, 2 give words r and 10 r: sum 3, maximum 20). */
static void test_op_once(void)
{
    static h5div_par_op o;
    CHECK(h5div_par_op_get(&o, sum_max, 2, MPI_INT64_T) == H5DIV_OK && o.ready, "first get");
    MPI_Op op = o.op;
    MPI_Datatype type = o.type;
    CHECK(h5div_par_op_get(&o, sum_max, 2, MPI_INT64_T) == H5DIV_OK, "second get");
    CHECK(o.op == op && o.type == type, "made again");
    int64_t v[4] = {rank, 10 * rank, 1, -rank};
    MPI_Allreduce(MPI_IN_PLACE, v, 2, o.type, o.op, MPI_COMM_WORLD);
    CHECK(v[0] == 3 && v[1] == 20 && v[2] == 3 && v[3] == 0, "reduced to %lld %lld %lld %lld",
          (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3]);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
    if (size != 3) {
        if (rank == 0)
            fprintf(stderr, "run on 3 ranks\n");
        MPI_Finalize();
        return 2;
    }
    test_rows();
    test_mpi_error();
    test_h5_try();
    test_op_once();
    int all = 0;
    MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s: %d failures\n", all ? "FAIL" : "ok", all);
    MPI_Finalize();
    return all != 0;
}

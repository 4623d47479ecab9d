/* SPDX-License-Identifier: BSD-3-Clause */
/* Self-check of mpicount: makes a known set of MPI calls; run it on 3 ranks
 * with libmpicount.so preloaded, then `mpicount_check --verify PREFIX 3`
 * compares the JSON lines with the counts and bytes expected by hand:
 *   mpirun -n 3 -x LD_PRELOAD=libmpicount.so -x MPICOUNT_OUT=/tmp/c mpicount_check
 *   mpicount_check --verify /tmp/c 3 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The number after "\"NAME\": {\"n\": " (or after "\"KEY\": " with n < 0) in LINE, or -1. */
static long long field(const char *line, const char *name, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\": {", name);
    const char *p = strstr(line, pat);
    if (!p)
        return -1;
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *q = strstr(p, pat);
    const char *end = strchr(p, '}');
    if (!q || (end && q > end))
        return -1;
    return strtoll(q + strlen(pat), NULL, 10);
}

static int verify(const char *prefix, int size)
{
    int bad = 0;
    for (int r = 0; r < size; r++) {
        char path[4096], line[1 << 14];
        snprintf(path, sizeof path, "%s.%d.json", prefix, r);
        FILE *f = fopen(path, "r");
        if (!f || !fgets(line, sizeof line, f)) {
            fprintf(stderr, "mpicount_check: cannot read %s\n", path);
            return 1;
        }
        fclose(f);
        /* Expected per rank, from the calls in main() below. */
        struct {
            const char *name, *key;
            long long want;
        } e[] = {
            {"MPI_Allreduce", "n", 2},
            {"MPI_Allreduce", "bytes", 3 * 4 + 5 * 8}, /* 3 ints, 5 doubles */
            {"MPI_Bcast", "n", 1},
            {"MPI_Bcast", "bytes", r == 1 ? 100 * 8 : 0}, /* root 1 sends */
            {"MPI_Comm_split", "n", 1},
            {"MPI_Allreduce", "sub", 1}, /* one on the split */
            {"MPI_Gatherv", "n", 1},
            {"MPI_Gatherv", "bytes", (r + 1) * 8}, /* r + 1 doubles */
            {"MPI_Send", "n", r == 0 ? 1 : 0},
            {"MPI_Send", "bytes", r == 0 ? 10 : 0},
            {"MPI_Recv", "n", r == 1 ? 1 : 0},
            {"MPI_Barrier", "n", 1},
            {"MPI_Comm_free", "n", 1},
        };
        for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
            long long got = field(line, e[i].name, e[i].key);
            if (got < 0 && e[i].want == 0)
                got = 0; /* functions never called are left out */
            if (got != e[i].want) {
                fprintf(stderr, "mpicount_check: rank %d %s %s = %lld, expected %lld\n", r,
                        e[i].name, e[i].key, got, e[i].want);
                bad = 1;
            }
        }
        if (!strstr(line, "\"vmhwm_kib\": ") || strstr(line, "\"vmhwm_kib\": -1")) {
            fprintf(stderr, "mpicount_check: rank %d has no VmHWM\n", r);
            bad = 1;
        }
    }
    if (!bad)
        printf("mpicount_check: %d ranks as expected\n", size);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--verify") == 0)
        return verify(argv[2], atoi(argv[3]));
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 3) {
        if (rank == 0)
            fprintf(stderr, "mpicount_check: run on 3 ranks\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    int i3[3] = {rank, 1, 2};
    double d5[5] = {0}, d100[100] = {0}, g[6] = {0}, mine[3] = {1, 2, 3};
    MPI_Allreduce(MPI_IN_PLACE, i3, 3, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Bcast(d100, 100, MPI_DOUBLE, 1, MPI_COMM_WORLD);
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, rank < 2, rank, &half); /* sizes 2 and 1 */
    MPI_Allreduce(MPI_IN_PLACE, d5, 5, MPI_DOUBLE, MPI_SUM, half);
    MPI_Comm_free(&half);
    int counts[3] = {1, 2, 3}, displs[3] = {0, 1, 3};
    MPI_Gatherv(mine, rank + 1, MPI_DOUBLE, g, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    char msg[10] = "123456789";
    if (rank == 0)
        MPI_Send(msg, 10, MPI_CHAR, 1, 7, MPI_COMM_WORLD);
    else if (rank == 1)
        MPI_Recv(msg, 10, MPI_CHAR, 0, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    return 0;
}

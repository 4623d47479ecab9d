/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div_cli_main inside a program: every rank of an MPI job runs whole commands on MPI_COMM_SELF,
 * and the MPI-free commands on MPI_COMM_NULL, with the output captured in memory. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "rank %d: FAIL %s:%d: ", world_rank, __FILE__, __LINE__);              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static int world_rank;

/* Run h5div ARGS on comm; its stdout and stderr into out/err (malloc'ed). */
static int run(MPI_Comm comm, char **out, char **err, int argc, const char **args)
{
    size_t no, ne;
    FILE *fo = open_memstream(out, &no), *fe = open_memstream(err, &ne);
    char *argv[16];
    argv[0] = (char *)"h5div";
    for (int i = 0; i < argc; i++)
        argv[i + 1] = (char *)args[i];
    int rc = h5div_cli_main(argc + 1, argv, comm, fo, fe);
    fclose(fo);
    fclose(fe);
    return rc;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    if (argc != 3) {
        fprintf(stderr, "usage: cli_self EXAMPLE.h5 WORKDIR\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    char p[4200], q[4200], res[4200], res_ref[4200];
    snprintf(p, sizeof p, "%s:/reference", argv[1]);
    snprintf(q, sizeof q, "%s:/generated", argv[1]);
    snprintf(res, sizeof res, "%s/self-%d.h5:/runs/a", argv[2], world_rank);
    snprintf(res_ref, sizeof res_ref, "%s/self-%d.h5", argv[2], world_rank);
    char *out, *err;

    /* A whole evaluation on this rank alone: one JSON object, ranks 1. */
    const char *cmp[] = {"compare", "--json", "--overwrite", "-qo", res, p, q};
    int rc = run(MPI_COMM_SELF, &out, &err, 7, cmp);
    CHECK(rc == 0, "compare on MPI_COMM_SELF: exit %d, stderr %s", rc, err);
    CHECK(strstr(out, "\"ranks\": 1,") && strstr(out, "\"measure_units\"") && !strchr(err, '\n'),
          "compare on MPI_COMM_SELF: stdout %s", out);
    free(out);
    free(err);

    /* history of what it wrote, on each rank's own file: on MPI_COMM_SELF
     * every rank prints; on MPI_COMM_NULL (no MPI) the launcher's rank 0. */
    const char *hist[] = {"history", "--csv", res_ref};
    rc = run(MPI_COMM_SELF, &out, &err, 3, hist);
    CHECK(rc == 0 && strncmp(out, "run,created,p,q,entropy_p", 25) == 0 && strstr(out, "\na,"),
          "history on MPI_COMM_SELF: exit %d, stdout %s, stderr %s", rc, out, err);
    free(out);
    free(err);
    rc = run(MPI_COMM_NULL, &out, &err, 3, hist);
    CHECK(rc == 0 && (world_rank == 0 ? strstr(out, "\na,") != NULL : out[0] == '\0'),
          "history on MPI_COMM_NULL: exit %d, stdout %s, stderr %s", rc, out, err);
    free(out);
    free(err);

    /* A usage error on MPI_COMM_SELF is printed by every rank (each is rank
     * 0 of its own communicator), as one line. */
    const char *bad[] = {"compare", "-qx", p, q};
    rc = run(MPI_COMM_SELF, &out, &err, 4, bad);
    CHECK(rc == H5DIV_EUSAGE && out[0] == '\0' &&
              strcmp(err, "h5div: error: unknown option (-x in -qx)\n") == 0,
          "usage error on MPI_COMM_SELF: exit %d, stderr %s", rc, err);
    free(out);
    free(err);

    /* An evaluating command needs a communicator. */
    const char *nompi[] = {"compare", p, q};
    rc = run(MPI_COMM_NULL, &out, &err, 3, nompi);
    CHECK(rc == H5DIV_EINTERNAL && out[0] == '\0', "compare on MPI_COMM_NULL: exit %d", rc);
    free(out);
    free(err);

    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (world_rank == 0)
        printf("cli_self: %d failures\n", total);
    MPI_Finalize();
    return total ? 1 : 0;
}

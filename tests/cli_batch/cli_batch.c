/* SPDX-License-Identifier: BSD-3-Clause */
/* Many h5div command lines in one MPI job: each rank runs its share on MPI_COMM_SELF through
 * h5div_cli_main, for tests that need hundreds of small independent runs (one start-up in all).
 *
 *   h5div_cli_batch COMMANDS OUTDIR
 *
 * COMMANDS holds one command line a line, its arguments separated by tabs
 * (without the program name). Line i (from 0) runs on rank i mod size, as a
 * whole one-rank evaluation; its stdout goes to OUTDIR/i.out, its stderr to
 * OUTDIR/i.err and its exit code to OUTDIR/i.rc. Exits 0 once every line
 * ran (whatever their exit codes), 2 on a bad argument or file. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define ARGS_MAX 64

static FILE *open_out(const char *dir, long i, const char *ext)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%ld.%s", dir, i, ext);
    return fopen(path, "w");
}

/* Run one line's command; 0, or 2 when a file cannot be written or the line is too long. */
static int run_line(char *line, long i, const char *dir)
{
    char *argv[ARGS_MAX + 1];
    int argc = 0;
    argv[argc++] = (char *)"h5div";
    line[strcspn(line, "\n")] = '\0';
    for (char *save = NULL, *tok = strtok_r(line, "\t", &save); tok;
         tok = strtok_r(NULL, "\t", &save)) {
        if (argc == ARGS_MAX)
            return 2;
        argv[argc++] = tok;
    }
    argv[argc] = NULL;
    FILE *out = open_out(dir, i, "out"), *err = open_out(dir, i, "err");
    FILE *rc = open_out(dir, i, "rc");
    int st = 2;
    if (out && err && rc) {
        fprintf(rc, "%d\n", h5div_cli_main(argc, argv, MPI_COMM_SELF, out, err));
        st = 0;
    }
    if (out)
        st |= fclose(out) ? 2 : 0;
    if (err)
        st |= fclose(err) ? 2 : 0;
    if (rc)
        st |= fclose(rc) ? 2 : 0;
    return st;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int st = 0;
    FILE *f = argc == 3 ? fopen(argv[1], "r") : NULL;
    if (!f) {
        fprintf(stderr, "usage: h5div_cli_batch COMMANDS OUTDIR\n");
        st = 2;
    }
    char *line = NULL;
    size_t cap = 0;
    for (long i = 0; f && getline(&line, &cap, f) >= 0; i++)
        if (i % size == rank && run_line(line, i, argv[2]) != 0) {
            fprintf(stderr, "h5div_cli_batch: line %ld: too many arguments or %s unwritable\n", i,
                    argv[2]);
            st = 2;
        }
    free(line);
    if (f)
        fclose(f);
    int all = 0;
    MPI_Allreduce(&st, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return all;
}

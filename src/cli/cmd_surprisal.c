/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div surprisal: per-bin self-information of a histogram, written as a dataset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "io/writer.h"

/* One line of help a line of source, the shared lines from cli.h. */
/* clang-format off */
static const char surprisal_help[] =
    "usage: h5div surprisal [options] FILE:/P -o OUT.h5:/dataset\n"
    "\n"
    "Write the self-information -log_b p(i) of every bin of a histogram,\n"
    "p = P / sum P, as a chunked float64 dataset of P's shape (inf for empty\n"
    "bins) with attributes units, base, p, pseudocount, ranks, h5div_version,\n"
    "command and created. A 2-D dataset [m, n] is m histograms of n bins: each\n"
    "row is normalised by its own total and gives one row of the output. Every\n"
    "rank writes its own bins with collective parallel HDF5 writes into a\n"
    "temporary copy of OUT.h5 that is renamed into place when complete: a\n"
    "failed or killed run leaves OUT.h5 as it was.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE:/DSET   the output dataset (required; groups are created)\n"
    "      --overwrite           replace an existing output dataset (never P itself)\n"
    "      --in-place            allow OUT.h5 to be P's file\n"
    "      --lock-timeout SEC    wait at most SEC seconds (or none) for another run's\n"
    "                            lock on OUT.h5 (default 300)\n"
    H5DIV_CLI_HELP_BASE
    "      --pseudocount A       add A >= 0 to every bin before normalising (default 0)\n"
    "      --json                print a JSON summary instead of a line of text\n"
    "      --memory-per-rank SIZE  input data one rank may hold (default 1GiB)\n"
    "      --piece-size SIZE     bytes of one read or write (default 64MiB, at most 1GiB)\n"
    H5DIV_CLI_HELP_INDEPENDENT_IO
    H5DIV_CLI_HELP_COMMON("timings on stderr")
    "\n"
    H5DIV_CLI_HELP_EXIT;
/* clang-format on */

static int check_surprisal(h5div_cli_args *a, char *msg)
{
    if (!a->output)
        return h5div_cli_usage(msg, "surprisal needs an output dataset -o FILE:/dataset (-o)");
    return h5div_cli_check_output(a, "/surprisal", "FILE:/dataset", msg);
}

static int run_surprisal(const h5div_cli_ctx *cx, const h5div_cli_args *a)
{
    const char *out_file = a->out_file, *out_dset = a->out_path;
    char msg[H5DIV_CLI_MSG] = "";
    h5div_options opt = a->opt;
    double t0 = MPI_Wtime();
    int st = H5DIV_OK;
    if (cx->rank == 0)
        st = h5div_output_vs_inputs(out_file, a->pos, 1, a->in_place, msg, sizeof msg);
    if (cx->rank == 0 && st == H5DIV_OK)
        st = h5div_check_output_dataset(out_file, out_dset, a->overwrite, msg, sizeof msg);
    st = h5div_cli_agree(cx, st, msg);
    uint64_t bins = 0;
    char *cmd = h5div_cli_command_line(cx);
    if (st == H5DIV_OK)
        st = h5div_surprisal_files(cx->comm, a->pos[0], out_file, out_dset, a->overwrite, cmd, &opt,
                                   &bins, msg, sizeof msg);
    free(cmd);
    double elapsed = MPI_Wtime() - t0;
    if (st != H5DIV_OK) {
        h5div_cli_error(cx, "%s", msg[0] ? msg : h5div_strerror(st));
        return st;
    }
    if (cx->rank == 0) {
        const char *units = h5div_base_units(opt.base);
        if (a->json) {
            h5div_cli_json_head(cx->out, "surprisal", opt.base, cx->size);
            fputs(" \"inputs\": {\"p\": ", cx->out);
            h5div_cli_json_string(cx->out, a->pos[0]);
            fputs("},\n \"output\": ", cx->out);
            h5div_cli_json_string(cx->out, a->output);
            fprintf(cx->out, ", \"bins\": %llu}\n", (unsigned long long)bins);
        } else if (!a->quiet) {
            fprintf(cx->out, "surprisal of %llu bins in %s written to %s:%s\n",
                    (unsigned long long)bins, units, out_file, out_dset);
        }
        fflush(cx->out);
        if (a->verbose && !a->quiet) {
            fprintf(cx->err, "h5div: surprisal of %llu bins on %d ranks in %.3f s\n",
                    (unsigned long long)bins, cx->size, elapsed);
            fflush(cx->err);
        }
    }
    return H5DIV_OK;
}

const h5div_cli_command h5div_cmd_surprisal = {
    "surprisal",
    "per-bin self-information -log_b p(i) of P, written as a dataset (-o FILE:/dataset)",
    surprisal_help,
    H5DIV_CLI_EVAL_OPTS & ~H5DIV_CLI_OPT(H5DIV_OPT_MEASURES),
    1,
    check_surprisal,
    run_surprisal,
    "one histogram FILE:/P",
};

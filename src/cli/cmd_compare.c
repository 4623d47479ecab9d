/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div compare: distances between two histograms. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char compare_help[] =
    "usage: h5div compare [options] FILE:/P FILE:/Q\n"
    "\n"
    "Compare two 1-D histograms of the same length (any integer or float type,\n"
    "contiguous, chunked or compressed). Each is normalised after the\n"
    "pseudocount is added: p = P / sum P, q = Q / sum Q.\n"
    "\n"
    "measures: entropy_p entropy_q cross_entropy_pq cross_entropy_qp kl_pq kl_qp\n"
    "          js_divergence js_distance total_variation hellinger\n"
    "\n"
    "options:\n"
    "  -b, --base 2|e|10         logarithm base: bits, nats or hartleys (default 2)\n"
    "  -o, --output FILE[:/GRP]  write the results as group GRP of HDF5 file FILE\n"
    "                            (default group /h5div); other groups are kept\n"
    "      --overwrite           replace an existing result group\n"
    "      --json                print one JSON object instead of the table\n"
    "      --pseudocount A       add A >= 0 to every bin before normalising (default 0)\n"
    "      --measures a,b,...    compute only these measures (default all)\n"
    "      --memory-per-rank SIZE  input data one rank may hold (default 1GiB); a\n"
    "                            larger shard is read twice in pieces\n"
    "      --piece-size SIZE     bytes of one read of one dataset (default 64MiB,\n"
    "                            at most 1GiB)\n"
    "      --independent-io      independent instead of collective MPI-IO reads\n"
    "  -q, --quiet               nothing on stderr but errors\n"
    "  -v, --verbose             progress (percent, GB/s, ETA) and timings on\n"
    "                            stderr; progress is on when stderr is a terminal\n"
    "  -h, --help                print this help and exit\n"
    "      --version             print the version and exit\n"
    "\n"
    "SIZE is a number of bytes with an optional unit: KiB, MiB, GiB, TiB (or K,\n"
    "M, G, T), kB, MB, GB, TB.\n"
    "exit codes: 0 success, 1 internal, 2 usage, 3 input, 4 output.\n";

static int run_compare(const h5div_cli_ctx *cx, const h5div_cli_args *a)
{
    if (a->npos != 2) {
        h5div_cli_error(cx,
                        "compare needs two histograms FILE:/P FILE:/Q, got %d arguments "
                        "(try h5div compare --help)",
                        a->npos);
        return H5DIV_EUSAGE;
    }
    h5div_options opt = a->opt;
    h5div_cli_progress progress;
    h5div_cli_progress_setup(cx, a, &opt, &progress);
    const char *names[H5DIV_COMPARE_NMEASURES];
    for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++)
        names[m] = h5div_measure_name((h5div_measure)m);
    if (h5div_cli_select_measures(cx, a, "compare", names, H5DIV_COMPARE_NMEASURES, &opt.measures))
        return H5DIV_EUSAGE;
    char msg[H5DIV_CLI_MSG] = "";
    double t0 = MPI_Wtime();
    h5div_cli_output out;
    int st = h5div_cli_output_check(cx, a, &out, msg);
    if (st == H5DIV_EUSAGE)
        return st;
    h5div_compare_result res;
    if (st == H5DIV_OK)
        st = h5div_compare_files(cx->comm, a->pos[0], a->pos[1], &opt, &res, msg, sizeof msg);
    double elapsed = MPI_Wtime() - t0;
    if (st == H5DIV_OK && a->output) {
        if (cx->rank == 0) {
            char *cmd = h5div_cli_command_line(cx);
            h5div_result_info info = {cmd, a->pos[0], a->pos[1], cx->size, elapsed};
            st = h5div_write_compare_result(out.file, out.group, a->overwrite, &opt, &res, &info,
                                            msg, sizeof msg);
            free(cmd);
        }
        st = h5div_cli_agree(cx, st, msg);
    }
    if (st != H5DIV_OK) {
        h5div_cli_error(cx, "%s", msg[0] ? msg : h5div_strerror(st));
        return st;
    }
    if (cx->rank == 0) {
        if (a->json)
            h5div_print_json(cx->out, &res, opt.base, cx->size, a->pos[0], a->pos[1]);
        else
            h5div_print_table(cx->out, &res, opt.base);
        fflush(cx->out);
        if (a->verbose && !a->quiet) {
            double bins = (double)res.bins;
            fprintf(cx->err,
                    "h5div: compare of %llu bins on %d ranks in %.3f s (%.3g bins/s)%s%s\n",
                    (unsigned long long)res.bins, cx->size, elapsed,
                    elapsed > 0 ? bins / elapsed : 0.0, a->output ? "; results in " : "",
                    a->output ? a->output : "");
            fflush(cx->err);
        }
    }
    return H5DIV_OK;
}

const h5div_cli_command h5div_cmd_compare = {
    "compare",
    "entropies, cross-entropies, KL, Jensen-Shannon, total variation and Hellinger of P and Q",
    compare_help,
    H5DIV_CLI_EVAL_OPTS,
    run_compare,
};

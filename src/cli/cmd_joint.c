/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div joint: entropies and mutual information of a 2-D joint histogram. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* One line of help a line of source, the shared lines from cli.h. */
/* clang-format off */
static const char joint_help[] =
    "usage: h5div joint [options] FILE:/PXY\n"
    "\n"
    "Entropies and mutual information of a 2-D joint histogram [nx, ny] of counts\n"
    "of (x, y) (any integer or float type): p(x,y) = PXY / sum PXY with the\n"
    "marginals p(x) (row sums) and p(y) (column sums). Rows are split over the\n"
    "ranks; column sums are reduced exactly in chunks of columns.\n"
    "\n"
    "measures: entropy_x entropy_y joint_entropy conditional_entropy_x_given_y\n"
    "          conditional_entropy_y_given_x mutual_information\n"
    "          normalized_mutual_information variation_of_information\n"
    "  mutual_information = sum p(x,y) log_b [p(x,y) / (p(x) p(y))], a sum of\n"
    "  non-negative per-cell terms; conditional entropies are sums of per-cell\n"
    "  -p(x,y) log_b p(x|y) (never negative); normalized_mutual_information =\n"
    "  2 I / (H(X) + H(Y)) (0 when both are 0); variation_of_information =\n"
    "  H(X|Y) + H(Y|X).\n"
    "\n"
    "options:\n"
    H5DIV_CLI_HELP_BASE
    H5DIV_CLI_HELP_RESULT_GROUP
    H5DIV_CLI_HELP_JSON
    "      --pseudocount A       add A >= 0 to every cell before normalising\n"
    "      --measures a,b,...    compute only these measures (default all)\n"
    "      --memory-per-rank SIZE  input data one rank may hold (default 1GiB); a\n"
    "                            larger shard is read three times in pieces\n"
    H5DIV_CLI_HELP_READS
    H5DIV_CLI_BOOTSTRAP_HELP
    H5DIV_CLI_HELP_COMMON("timings on stderr")
    "\n"
    H5DIV_CLI_HELP_EXIT;
/* clang-format on */

static int check_joint(h5div_cli_args *a, char *msg)
{
    int st = h5div_cli_check_bootstrap(a, 0, msg);
    if (st != H5DIV_OK)
        return st;
    a->opt.measures = H5DIV_JOINT_ALL;
    const char *names[H5DIV_JOINT_NMEASURES];
    for (int m = 0; m < H5DIV_JOINT_NMEASURES; m++)
        names[m] = h5div_joint_measure_name((h5div_joint_measure)m);
    st = h5div_cli_select_measures(a, "joint", names, H5DIV_JOINT_NMEASURES, &a->opt.measures, msg);
    if (st != H5DIV_OK)
        return st;
    return h5div_cli_check_output(a, "/h5div", "FILE or FILE:/group", msg);
}

static int run_joint(const h5div_cli_ctx *cx, const h5div_cli_args *a)
{
    const double t0 = MPI_Wtime();
    h5div_options opt = a->opt;
    h5div_joint_result res = {0};
    char msg[H5DIV_CLI_MSG] = "";
    h5div_cli_output out;
    int st = h5div_cli_output_check(cx, a, &out, msg);
    if (st == H5DIV_OK)
        st = h5div_joint_files(cx->comm, a->pos[0], &opt, &res, msg, sizeof msg);
    double elapsed = MPI_Wtime() - t0;
    if (st == H5DIV_OK && a->output) {
        if (cx->rank == 0) {
            char *cmd = h5div_cli_command_line(cx);
            h5div_result_info info = {cmd, a->pos[0], NULL, cx->size, elapsed};
            st = h5div_write_joint_result(out.file, out.group, a->overwrite, &opt, &res, &info, msg,
                                          sizeof msg);
            free(cmd);
        }
        st = h5div_cli_agree(cx, st, msg);
    }
    if (st != H5DIV_OK) {
        free(res.reps);
        h5div_cli_error(cx, "%s", msg[0] ? msg : h5div_strerror(st));
        return st;
    }
    if (cx->rank == 0) {
        h5div_cli_measures pm = {.command = "joint",
                                 .input_name = "pxy",
                                 .input_ref = a->pos[0],
                                 .base = opt.base,
                                 .ranks = cx->size,
                                 .json = a->json};
        for (int m = 0; m < H5DIV_JOINT_NMEASURES; m++)
            if (res.computed & H5DIV_MEASURE_BIT(m)) {
                pm.names[pm.n] = h5div_joint_measure_name((h5div_joint_measure)m);
                pm.units[pm.n] = h5div_joint_measure_units((h5div_joint_measure)m, opt.base);
                pm.se[pm.n] = res.se[m];
                pm.ci[pm.n][0] = res.ci[m][0];
                pm.ci[pm.n][1] = res.ci[m][1];
                pm.values[pm.n++] = res.value[m];
            }
        pm.nrep = res.nrep;
        pm.ci_level = res.ci_level;
        h5div_cli_print_measures(cx->out, &pm);
        fflush(cx->out);
        if (a->verbose && !a->quiet) {
            fprintf(cx->err, "h5div: joint of %llu x %llu cells on %d ranks in %.3f s%s%s\n",
                    (unsigned long long)res.nx, (unsigned long long)res.ny, cx->size, elapsed,
                    a->output ? "; results in " : "", a->output ? a->output : "");
            fflush(cx->err);
        }
    }
    free(res.reps);
    return H5DIV_OK;
}

const h5div_cli_command h5div_cmd_joint = {
    "joint",    "entropies, conditional entropies and mutual information of a 2-D joint histogram",
    joint_help, H5DIV_CLI_EVAL_OPTS | H5DIV_CLI_BOOTSTRAP_OPTS,
    1,          check_joint,
    run_joint,  "one 2-D histogram FILE:/PXY",
};

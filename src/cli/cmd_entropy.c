/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div entropy: entropy of one histogram with a choice of estimators. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* One line of help a line of source, the shared lines from cli.h. */
/* clang-format off */
static const char entropy_help[] =
    "usage: h5div entropy [options] FILE:/P\n"
    "\n"
    "Entropy of a 1-D histogram of counts (any integer or float type, contiguous,\n"
    "chunked or compressed), p = P / sum P. A 2-D dataset [m, n] is m histograms\n"
    "of n bins, one per row: every measure then has one value per row (the table\n"
    "shows min, median, max and the first rows; JSON gives arrays).\n"
    "\n"
    "measures: entropy perplexity total_count nonzero_bins\n"
    "          shrinkage_lambda (with --estimator shrink)\n"
    "  perplexity = base^entropy; total_count = sum P and nonzero_bins = bins with\n"
    "  P > 0, both of the raw counts (before any pseudocount).\n"
    "\n"
    "estimators (--estimator, as in the R package entropy):\n"
    "  plugin        -sum p log p (maximum likelihood; the default)\n"
    "  miller-madow  plugin + (m - 1) / (2 n) nats; m non-empty bins, n = sum P\n"
    "  chao-shen     coverage-adjusted Horvitz-Thompson estimator, coverage\n"
    "                1 - f1/n (f1 bins of count 1; n - 1 if f1 = n)\n"
    "  shrink        James-Stein shrinkage of the frequencies towards 1/K (K bins)\n"
    "                with the data-driven intensity shrinkage_lambda in [0, 1]\n"
    "  dirichlet:A   plugin of P + A (A = 0.5 Jeffreys, 1 Laplace)\n"
    "  All but plugin need whole-number counts and take no --pseudocount.\n"
    "\n"
    "options:\n"
    H5DIV_CLI_HELP_BASE
    H5DIV_CLI_HELP_RESULT_GROUP
    H5DIV_CLI_HELP_JSON
    "      --estimator E         one of the estimators above (default plugin)\n"
    "      --pseudocount A       add A >= 0 to every bin before normalising (plugin)\n"
    "      --measures a,b,...    compute only these measures (default all)\n"
    "      --memory-per-rank SIZE  input data one rank may hold (default 1GiB); a\n"
    "                            larger shard is read once per pass in pieces\n"
    H5DIV_CLI_HELP_READS
    H5DIV_CLI_BOOTSTRAP_HELP
    H5DIV_CLI_HELP_COMMON("timings on stderr")
    "\n"
    H5DIV_CLI_HELP_EXIT;
/* clang-format on */

/* "plugin", ..., "dirichlet:A"; returns -1 on a bad name or A. */
static int parse_estimator(const char *s, h5div_estimator *e, double *a)
{
    static const h5div_estimator plain[] = {H5DIV_ESTIMATOR_PLUGIN, H5DIV_ESTIMATOR_MILLER_MADOW,
                                            H5DIV_ESTIMATOR_CHAO_SHEN, H5DIV_ESTIMATOR_SHRINK};
    *a = 0.0;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (!strcmp(s, h5div_estimator_name(plain[i]))) {
            *e = plain[i];
            return 0;
        }
    if (strncmp(s, "dirichlet:", 10) != 0)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s + 10, &end);
    if (end == s + 10 || *end || errno || !isfinite(v) || !(v >= 0.0))
        return -1;
    *e = H5DIV_ESTIMATOR_DIRICHLET;
    *a = v;
    return 0;
}

static int check_entropy(h5div_cli_args *a, char *msg)
{
    if (a->estimator && parse_estimator(a->estimator, &a->est, &a->dirichlet_a) != 0)
        return h5div_cli_usage(msg,
                               "unknown estimator; use plugin, miller-madow, chao-shen, shrink "
                               "or dirichlet:A with A >= 0 (--estimator %s)",
                               a->estimator);
    if (a->est != H5DIV_ESTIMATOR_PLUGIN && a->opt.pseudocount != 0.0)
        return h5div_cli_usage(msg,
                               "--pseudocount applies to the plugin estimator only; use "
                               "--estimator dirichlet:A (--estimator %s)",
                               a->estimator);
    int st = h5div_cli_check_bootstrap(a, 0, msg);
    if (st != H5DIV_OK)
        return st;
    a->opt.measures = H5DIV_ENTROPY_ALL;
    if (a->est != H5DIV_ESTIMATOR_SHRINK)
        a->opt.measures &= ~H5DIV_MEASURE_BIT(H5DIV_SHRINKAGE_LAMBDA);
    if (a->measures) {
        const char *names[H5DIV_ENTROPY_NMEASURES];
        for (int m = 0; m < H5DIV_ENTROPY_NMEASURES; m++)
            names[m] = h5div_entropy_measure_name((h5div_entropy_measure)m);
        unsigned mask;
        if (h5div_cli_parse_list(a->measures, names, H5DIV_ENTROPY_NMEASURES, &mask))
            return h5div_cli_usage(
                msg, "unknown measure in list; see h5div entropy --help (--measures %s)",
                a->measures);
        if (mask & ~a->opt.measures)
            return h5div_cli_usage(msg, "shrinkage_lambda needs --estimator shrink (--measures %s)",
                                   a->measures);
        a->opt.measures = mask;
    }
    return h5div_cli_check_output(a, "/h5div", "FILE or FILE:/group", msg);
}

static int eval_entropy(const h5div_cli_ctx *cx, const h5div_cli_args *a, const h5div_options *opt,
                        h5div_batch *res, h5div_batch_inputs *in, char *msg)
{
    in->estimator = h5div_estimator_name(a->est);
    in->dirichlet_a = a->dirichlet_a;
    return h5div_entropy_batch_files(cx->comm, a->pos[0], opt, a->est, a->dirichlet_a, res, msg,
                                     H5DIV_CLI_MSG);
}

static int run_entropy(const h5div_cli_ctx *cx, const h5div_cli_args *a)
{
    h5div_cli_batch_done r;
    int st = h5div_cli_run_batch(cx, a, eval_entropy, &r);
    if (st != H5DIV_OK)
        return st;
    if (cx->rank == 0 && a->verbose && !a->quiet) {
        fprintf(cx->err, "h5div: entropy of %llu bins%s on %d ranks in %.3f s%s%s\n",
                (unsigned long long)(r.rows * r.bins), r.two_d ? " (2-D)" : "", cx->size, r.elapsed,
                a->output ? "; results in " : "", a->output ? a->output : "");
        fflush(cx->err);
    }
    return H5DIV_OK;
}

const h5div_cli_command h5div_cmd_entropy = {
    "entropy",
    "entropy of P with plugin, Miller-Madow, Chao-Shen, shrinkage or Dirichlet estimators",
    entropy_help,
    H5DIV_CLI_EVAL_OPTS | H5DIV_CLI_OPT(H5DIV_OPT_ESTIMATOR) | H5DIV_CLI_BOOTSTRAP_OPTS,
    1,
    check_entropy,
    run_entropy,
    "one histogram FILE:/P",
};

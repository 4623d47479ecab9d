/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div compare: distances between a reference and one or more candidates. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* One line of help a line of source, the shared lines from cli.h. */
/* clang-format off */
static const char compare_help[] =
    "usage: h5div compare [options] FILE:/P FILE:/Q [FILE:/Q2 ...]\n"
    "\n"
    "Compare histogram P with one or more candidates Q (up to 64; P is read\n"
    "once). Each is normalised after the pseudocount is added: p = P / sum P,\n"
    "q = Q / sum Q. A 1-D dataset is one histogram; a 2-D dataset [m, n] is m\n"
    "histograms of n bins, one per row, and every measure then has one value\n"
    "per row. Any integer or float type, contiguous, chunked or compressed;\n"
    "every Q has P's shape. With several candidates every measure gets a\n"
    "leading axis over them.\n"
    "\n" H5DIV_CLI_MEASURE_HELP "\n"
    "options:\n"
    H5DIV_CLI_HELP_BASE
    H5DIV_CLI_HELP_RESULT_GROUP
    H5DIV_CLI_HELP_JSON
    "      --pseudocount A       add A >= 0 to every bin before normalising (default 0)\n"
    "      --measures a,b,...    compute only these measures (default the ten above)\n"
    "      --bin-width W         bin width of wasserstein1 (default 1; not used\n"
    "                            for histograms with attached edges)\n"
    "      --memory-per-rank SIZE  input data one rank may hold (default 1GiB); a\n"
    "                            larger shard is read in pieces twice (three times\n"
    "                            with --null)\n"
    "      --piece-size SIZE     bytes of one read of one dataset (default 64MiB,\n"
    "                            at most 1GiB)\n"
    H5DIV_CLI_HELP_INDEPENDENT_IO
    "      --bootstrap B         Poisson bootstrap of integer counts with B replicates:\n"
    "                            every measure also gets NAME_se (standard error) and\n"
    "                            NAME_ci (percentile interval); same bits on any\n"
    "                            number of ranks\n"
    "      --ci C                level of the interval, in (0, 1) (default 0.95)\n"
    "      --null B              two-sample test of P against each Q (integer counts):\n"
    "                            B replicates of both drawn from their pooled counts;\n"
    "                            every measure also gets NAME_p_value =\n"
    "                            (1 + #{T* >= T}) / (B + 1); chi2_test_p_value and\n"
    "                            g_test_p_value are then these, not the asymptotic\n"
    "                            ones (attribute method says which); same bits on\n"
    "                            any number of ranks\n"
    "      --seed S              seed of the replicates' draws (default 0)\n"
    "      --keep-replicates     also write the B replicate values, NAME_replicates\n"
    "                            (and NAME_null_replicates)\n"
    H5DIV_CLI_HELP_COMMON("progress (percent, GB/s, ETA) and timings on\n"
                          "                            stderr; progress is on when stderr is a terminal")
    "\n"
    "The table shows one value per measure; for 2-D input the min, median and\n"
    "max over the rows and the first rows. JSON gives arrays over rows, and\n"
    "over candidates when there are several.\n"
    "SIZE is a number of bytes with an optional unit: KiB, MiB, GiB, TiB (or K,\n"
    "M, G, T), kB, MB, GB, TB.\n"
    H5DIV_CLI_HELP_EXIT;
/* clang-format on */

/* Add Renyi order A to the list (an order given twice is kept once). */
static int add_order(double *orders, int *n, double A)
{
    for (int i = 0; i < *n; i++)
        if (orders[i] == A)
            return 0;
    if (*n >= H5DIV_RENYI_MAX)
        return -1;
    orders[(*n)++] = A;
    return 0;
}

/* The row of compare's measure table that a --measures item names: NAME,
 * or NAME:... for a row with orders; -1 for none (parts are not named). */
static int find_measure(const char *tok)
{
    int n;
    const h5div_measure_info *t = h5div_compare_measures(&n);
    for (int m = 0; m < n; m++) {
        if (t[m].flags & H5DIV_MEASURE_PART)
            continue;
        const size_t len = strlen(t[m].name);
        if (strncmp(tok, t[m].name, len) == 0 &&
            (t[m].flags & H5DIV_MEASURE_ORDER ? tok[len] == ':' || !tok[len] : !tok[len]))
            return m;
    }
    return -1;
}

/* --measures of compare: the names of its table, NAME:A for rows with orders. */
static int select_compare_measures(const char *list, h5div_options *opt, char *msg)
{
    char *copy = strdup(list), *save = NULL;
    if (!copy)
        return h5div_cli_usage(msg, "out of memory (--measures)");
    unsigned mask = 0;
    int st = H5DIV_OK;
    opt->n_renyi_pq = opt->n_renyi_qp = 0;
    int count = 0;
    for (const char *c = list; *c; c++)
        count += *c == ',';
    if (list[0] == '\0' || list[0] == ',' || list[strlen(list) - 1] == ',')
        st = H5DIV_EUSAGE;
    for (char *tok = strtok_r(copy, ",", &save); tok && st == H5DIV_OK;
         tok = strtok_r(NULL, ",", &save), count--) {
        const int m = find_measure(tok);
        if (m < 0) {
            st = H5DIV_EUSAGE;
            continue;
        }
        const h5div_measure_info *row = &h5div_compare_measures(NULL)[m];
        if (row->flags & H5DIV_MEASURE_ORDER) {
            const int qp = m == H5DIV_RENYI_QP;
            const size_t len = strlen(row->name);
            char *end = NULL;
            double A = NAN;
            if (tok[len] == ':' && tok[len + 1]) {
                errno = 0;
                A = strtod(tok + len + 1, &end);
                if (errno || *end)
                    A = NAN;
            }
            if (!(A > 0.0) || A == 1.0 || !isfinite(A)) {
                free(copy);
                return h5div_cli_usage(
                    msg, "%s needs an order A > 0 other than 1, as in %s:2 (--measures %s)",
                    row->name, row->name, list);
            }
            if (add_order(qp ? opt->renyi_qp : opt->renyi_pq,
                          qp ? &opt->n_renyi_qp : &opt->n_renyi_pq, A) != 0) {
                free(copy);
                return h5div_cli_usage(msg, "at most %d orders of %s (--measures %s)",
                                       H5DIV_RENYI_MAX, row->name, list);
            }
        }
        mask |= H5DIV_MEASURE_BIT(m);
    }
    free(copy);
    if (st != H5DIV_OK || !mask)
        return h5div_cli_usage(
            msg, "unknown measure in list; see h5div compare --help (--measures %s)", list);
    opt->measures = h5div_compare_measures_with_parts(mask);
    return H5DIV_OK;
}

static int check_compare(h5div_cli_args *a, char *msg)
{
    if (a->npos < 2)
        return h5div_cli_usage(msg,
                               "compare needs a reference and at least one candidate FILE:/P "
                               "FILE:/Q, got %d arguments (try h5div compare --help)",
                               a->npos);
    if (a->npos - 1 > H5DIV_CANDIDATES_MAX)
        return h5div_cli_usage(msg, "at most %d candidates can be compared at once (%d given)",
                               H5DIV_CANDIDATES_MAX, a->npos - 1);
    a->opt.bin_width = a->bin_width;
    int st = h5div_cli_check_bootstrap(a, 1, msg);
    if (st != H5DIV_OK)
        return st;
    if (a->measures) {
        st = select_compare_measures(a->measures, &a->opt, msg);
        if (st != H5DIV_OK)
            return st;
    }
    return h5div_cli_check_output(a, "/h5div", "FILE or FILE:/group", msg);
}

static int eval_compare(const h5div_cli_ctx *cx, const h5div_cli_args *a, const h5div_options *opt,
                        h5div_batch *res, h5div_batch_inputs *in, char *msg)
{
    in->q_refs = a->pos + 1;
    return h5div_compare_batch_files(cx->comm, a->pos[0], in->q_refs, a->npos - 1, opt, res, msg,
                                     H5DIV_CLI_MSG);
}

static int run_compare(const h5div_cli_ctx *cx, const h5div_cli_args *a)
{
    const int k = a->npos - 1;
    h5div_cli_batch_done r;
    int st = h5div_cli_run_batch(cx, a, eval_compare, &r);
    if (st != H5DIV_OK)
        return st;
    if (cx->rank == 0 && a->verbose && !a->quiet) {
        double n = (double)r.rows * (double)r.bins;
        fprintf(cx->err,
                "h5div: compare of %llu bins%s against %d candidate%s on %d ranks in %.3f s "
                "(%.3g bins/s per candidate)%s%s\n",
                (unsigned long long)(r.rows * r.bins), r.two_d ? " (2-D)" : "", k, k > 1 ? "s" : "",
                cx->size, r.elapsed, r.elapsed > 0 ? n / r.elapsed : 0.0,
                a->output ? "; results in " : "", a->output ? a->output : "");
        fflush(cx->err);
    }
    return H5DIV_OK;
}

const h5div_cli_command h5div_cmd_compare = {
    "compare",
    "entropies, cross-entropies, KL, Jensen-Shannon, total variation, Hellinger and more of P "
    "against one or more Q",
    compare_help,
    H5DIV_CLI_EVAL_OPTS | H5DIV_CLI_OPT(H5DIV_OPT_BIN_WIDTH) | H5DIV_CLI_BOOTSTRAP_OPTS |
        H5DIV_CLI_OPT(H5DIV_OPT_NULL),
    1,
    check_compare,
    run_compare,
    NULL,
};

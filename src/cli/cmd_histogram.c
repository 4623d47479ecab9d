/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div histogram: samples to histograms with the same edges, ready for compare. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* One line of help a line of source, the shared lines from cli.h. */
/* clang-format off */
static const char histogram_help[] =
    "usage: h5div histogram [options] [NAME=]FILE:/X [[NAME=]FILE:/Y ...] -o OUT.h5[:/group]\n"
    "\n"
    "Bin samples into histograms that h5div compare reads as they are. Each\n"
    "input is (N,) or (N, d): rows are samples, columns features; inputs may\n"
    "differ in N but not in d. Every input is binned with the SAME edges per\n"
    "feature. Bin i holds edges[i] <= x < edges[i+1], the last bin also\n"
    "x == edges[K], as numpy.histogram. Samples are split over the ranks by\n"
    "rows and read in bounded pieces; counts are exact and have the same bits\n"
    "on any number of ranks.\n"
    "\n"
    "edges (one of):\n"
    "      --bins K              K equal bins over --range, or over the global\n"
    "                            min and max of all inputs per feature\n"
    "      --range LO:HI         the range of --bins (LO < HI)\n"
    "      --log                 with --bins: log-spaced edges (values <= 0 are\n"
    "                            out of range; the data range uses values > 0)\n"
    "      --edges FILE:/E       explicit increasing edges, (K+1,) for every\n"
    "                            feature or (d, K+1) per feature\n"
    "      --quantile-bins K     equal-frequency edges of the first input: its\n"
    "                            exact order statistics j/K, as numpy.quantile(x,\n"
    "                            j/K, method=\"inverted_cdf\"); tied edges are merged\n"
    "                            (1-D input) or kept as empty bins (2-D), said on stderr\n"
    "\n"
    "options:\n"
    "  -o, --output FILE[:/group]  where to write (required; default group /h5div)\n"
    "      --overwrite           replace an existing group\n"
    "      --outside count|bins  values outside the edges: counted in attributes\n"
    "                            underflow/overflow (default), or also put into the\n"
    "                            first/last bin\n"
    "      --nan error|skip      NaN is an input error naming dataset, row and column\n"
    "                            (default, exit 3), or counted in attribute nan\n"
    "      --weights FILE:/W     weights (N,) of an input, once per input in input\n"
    "                            order: float64 exact sums of weights plus NAME_sumw2\n"
    "      --json                print a JSON summary instead of the table\n"
    "      --memory-per-rank SIZE  input data one rank may hold (default 1GiB)\n"
    H5DIV_CLI_HELP_READS
    H5DIV_CLI_HELP_COMMON("progress and timings on stderr")
    "\n"
    "output: per input a dataset NAME (default: the last component of the\n"
    "dataset path) of shape (K,) or (d, K), uint64 counts or float64 sums of\n"
    "weights, with attributes source, n_samples, underflow, overflow, nan; the\n"
    "edges once as dataset `edges` (K+1,) or (d, K+1), attached to every\n"
    "histogram as an HDF5 dimension scale; group attribute edge_mode. compare\n"
    "given such histograms computes wasserstein1 in data units with the bin\n"
    "centres as positions.\n"
    "\n"
    H5DIV_CLI_HELP_EXIT;
/* clang-format on */

/* NAME=FILE:/X or FILE:/X: the name (given, or the last component of the
 * dataset path) and the reference. Returns 0, or -1 for no dataset path. */
static int split_named(const char *arg, char *name, size_t nlen, const char **ref)
{
    const char *colon = strstr(arg, ":/");
    const char *eq = strchr(arg, '=');
    *ref = arg;
    if (eq && colon && eq < colon && eq > arg && !memchr(arg, '/', (size_t)(eq - arg))) {
        snprintf(name, nlen, "%.*s", (int)(eq - arg), arg);
        *ref = eq + 1;
        return strstr(*ref, ":/") ? 0 : -1;
    }
    const char *last = NULL;
    for (const char *c = arg; *c; c++)
        if (c[0] == ':' && c[1] == '/')
            last = c;
    if (!last)
        return -1;
    const char *path = last + 1;
    size_t pl = strlen(path);
    while (pl > 1 && path[pl - 1] == '/')
        pl--;
    const char *base = path;
    for (size_t i = 0; i < pl; i++)
        if (path[i] == '/')
            base = path + i + 1;
    snprintf(name, nlen, "%.*s", (int)(pl - (size_t)(base - path)), base);
    return 0;
}

static int parse_count(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno || s[0] == '-' || v < 1 || v > 100000000ull)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_range(const char *s, double *lo, double *hi)
{
    /* LO:HI, where LO may carry an exponent sign: split at the first ':' */
    const char *c = strchr(s, ':');
    if (!c)
        return -1;
    char a[128];
    size_t n = (size_t)(c - s);
    if (n == 0 || n >= sizeof a)
        return -1;
    memcpy(a, s, n);
    a[n] = '\0';
    char *end;
    errno = 0;
    *lo = strtod(a, &end);
    if (end == a || *end || errno)
        return -1;
    *hi = strtod(c + 1, &end);
    if (end == c + 1 || *end || errno)
        return -1;
    return isfinite(*lo) && isfinite(*hi) && *lo < *hi ? 0 : -1;
}

/* Exactly one way to the edges, and the settings that go with it. */
static int check_edges(const h5div_cli_args *a, char *msg)
{
    int modes = (a->bins != NULL) + (a->edges != NULL) + (a->quantile_bins != NULL);
    if (modes != 1)
        return h5div_cli_usage(msg, "give exactly one of --bins, --edges, --quantile-bins (%s)",
                               modes ? "more than one given" : "none given");
    uint64_t k;
    if (a->bins && parse_count(a->bins, &k) != 0)
        return h5div_cli_usage(msg, "bins must be an integer from 1 to 100000000 (--bins %s)",
                               a->bins);
    if (a->quantile_bins && parse_count(a->quantile_bins, &k) != 0)
        return h5div_cli_usage(msg,
                               "bins must be an integer from 1 to 100000000 (--quantile-bins %s)",
                               a->quantile_bins);
    if ((a->range || a->log_edges) && !a->bins)
        return h5div_cli_usage(msg, "%s needs --bins (%s)", a->range ? "--range" : "--log",
                               a->range ? a->range : "--log");
    double lo, hi;
    if (a->range && parse_range(a->range, &lo, &hi) != 0)
        return h5div_cli_usage(msg, "range must be LO:HI with finite LO < HI (--range %s)",
                               a->range);
    if (a->range && a->log_edges && !(lo > 0))
        return h5div_cli_usage(msg, "log-spaced bins need LO > 0 (--range %s)", a->range);
    if (a->edges && !strstr(a->edges, ":/"))
        return h5div_cli_usage(msg, "edges must be a dataset FILE:/E (--edges %s)", a->edges);
    return H5DIV_OK;
}

/* Output names: distinct, not `edges`, no clash with a NAME_sumw2. */
static int check_names(const h5div_cli_args *a, char *msg)
{
    static char names[H5DIV_HISTOGRAM_INPUTS_MAX][256];
    for (int i = 0; i < a->npos; i++) {
        const char *ref;
        if (split_named(a->pos[i], names[i], sizeof names[i], &ref) != 0)
            return h5div_cli_usage(msg, "an input is [NAME=]FILE:/dataset (%s)", a->pos[i]);
        if (!names[i][0] || strchr(names[i], '/') || !strcmp(names[i], "edges") ||
            !strcmp(names[i], "."))
            return h5div_cli_usage(msg, "bad histogram name '%s'; name it NAME=FILE:/X (%s)",
                                   names[i], a->pos[i]);
    }
    for (int i = 0; i < a->npos; i++)
        for (int m = 0; m < a->npos; m++) {
            size_t lm = strlen(names[m]);
            int sumw2 =
                a->nweights && !strncmp(names[i], names[m], lm) && !strcmp(names[i] + lm, "_sumw2");
            if ((m > i && !strcmp(names[i], names[m])) || sumw2)
                return h5div_cli_usage(msg,
                                       "two histograms would be named '%s'; name them "
                                       "NAME=FILE:/X (%s, %s)",
                                       names[i], a->pos[i], a->pos[m]);
        }
    return H5DIV_OK;
}

static int check_histogram(h5div_cli_args *a, char *msg)
{
    if (a->npos < 1)
        return h5div_cli_usage(msg, "histogram needs at least one input FILE:/X "
                                    "(try h5div histogram --help)");
    if (a->npos > H5DIV_HISTOGRAM_INPUTS_MAX)
        return h5div_cli_usage(msg, "at most %d inputs can be binned at once (%d given)",
                               H5DIV_HISTOGRAM_INPUTS_MAX, a->npos);
    if (!a->output)
        return h5div_cli_usage(msg, "histogram needs an output -o FILE[:/group] (-o)");
    int st = check_edges(a, msg);
    if (st != H5DIV_OK)
        return st;
    if (a->outside && strcmp(a->outside, "count") && strcmp(a->outside, "bins"))
        return h5div_cli_usage(msg, "outside is count or bins (--outside %s)", a->outside);
    if (a->nan_mode && strcmp(a->nan_mode, "error") && strcmp(a->nan_mode, "skip"))
        return h5div_cli_usage(msg, "nan is error or skip (--nan %s)", a->nan_mode);
    if (a->nweights && a->nweights != a->npos)
        return h5div_cli_usage(msg, "give --weights once per input: %d for %d inputs (--weights)",
                               a->nweights, a->npos);
    for (int i = 0; i < a->nweights; i++)
        if (!strstr(a->weights[i], ":/"))
            return h5div_cli_usage(msg, "weights must be a dataset FILE:/W (--weights %s)",
                                   a->weights[i]);
    if ((st = check_names(a, msg)) != H5DIV_OK)
        return st;
    return h5div_cli_check_output(a, "/h5div", "FILE or FILE:/group", msg);
}

static void json_u64s(FILE *out, const char *key, const uint64_t *v, int n)
{
    fprintf(out, ", \"%s\": [", key);
    for (int i = 0; i < n; i++)
        fprintf(out, "%s%llu", i ? ", " : "", (unsigned long long)v[i]);
    fputc(']', out);
}

static void json_strings(FILE *out, const char *const *v, int n)
{
    for (int i = 0; i < n; i++) {
        fputs(i ? ", " : "", out);
        h5div_cli_json_string(out, v[i]);
    }
}

static const char *const edge_modes[] = {"uniform", "log", "file", "quantile"};

/* The checked arguments as a spec; names[i] holds input i's name, nm and
 * refs its name and reference. */
static void fill_spec(const h5div_cli_args *a, const h5div_cli_output *o, char (*names)[256],
                      const char **nm, const char **refs, h5div_histogram_spec *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < a->npos; i++) {
        split_named(a->pos[i], names[i], sizeof names[i], &refs[i]);
        nm[i] = names[i];
    }
    s->n = a->npos;
    s->refs = refs;
    s->names = nm;
    s->weights = a->nweights ? a->weights : NULL;
    uint64_t k = 0;
    if (a->bins) {
        parse_count(a->bins, &k);
        s->mode = a->log_edges ? H5DIV_EDGES_LOG : H5DIV_EDGES_UNIFORM;
    } else if (a->quantile_bins) {
        parse_count(a->quantile_bins, &k);
        s->mode = H5DIV_EDGES_QUANTILE;
    } else {
        s->mode = H5DIV_EDGES_FILE;
        s->edges_ref = a->edges;
    }
    s->bins = k;
    if (a->range) {
        s->have_range = 1;
        parse_range(a->range, &s->lo, &s->hi);
    }
    s->outside_bins = a->outside && !strcmp(a->outside, "bins");
    s->nan_skip = a->nan_mode && !strcmp(a->nan_mode, "skip");
    s->out_file = o->file;
    s->out_group = o->group;
    s->overwrite = a->overwrite;
}

/* Tied quantile edges: merged (1-D) or kept as empty bins (2-D). */
static void print_notes(const h5div_cli_ctx *cx, const h5div_histogram_spec *s,
                        const h5div_histogram_info *info)
{
    if (info->merged)
        fprintf(cx->err,
                "h5div: note: %llu tied quantile edges merged: %llu bins instead of %llu (%s)\n",
                (unsigned long long)info->merged, (unsigned long long)info->bins,
                (unsigned long long)s->bins, s->refs[0]);
    if (info->tied_features)
        fprintf(cx->err,
                "h5div: note: tied quantile edges kept as empty zero-width bins in %llu of "
                "%llu features (%s)\n",
                (unsigned long long)info->tied_features, (unsigned long long)info->features,
                s->refs[0]);
}

static void print_json(const h5div_cli_ctx *cx, const h5div_cli_args *a,
                       const h5div_histogram_spec *s, const h5div_histogram_info *info)
{
    fputs("{\"command\": \"histogram\", \"version\": ", cx->out);
    h5div_cli_json_string(cx->out, h5div_version_string());
    fprintf(cx->out, ", \"ranks\": %d,\n \"output\": ", cx->size);
    h5div_cli_json_string(cx->out, a->output);
    fprintf(cx->out, ", \"edge_mode\": \"%s\", \"features\": %llu, \"bins\": %llu,\n",
            edge_modes[s->mode], (unsigned long long)info->features,
            (unsigned long long)info->bins);
    fputs(" \"names\": [", cx->out);
    json_strings(cx->out, s->names, s->n);
    fputs("], \"sources\": [", cx->out);
    json_strings(cx->out, s->refs, s->n);
    fputc(']', cx->out);
    json_u64s(cx->out, "n_samples", info->n_samples, s->n);
    json_u64s(cx->out, "underflow", info->underflow, s->n);
    json_u64s(cx->out, "overflow", info->overflow, s->n);
    json_u64s(cx->out, "nan", info->nan, s->n);
    fputs("}\n", cx->out);
}

static void print_table(const h5div_cli_ctx *cx, const h5div_histogram_spec *s,
                        const h5div_histogram_info *info)
{
    fprintf(cx->out, "histogram: %d input%s, %llu feature%s, %llu bins (%s edges) -> %s:%s\n", s->n,
            s->n > 1 ? "s" : "", (unsigned long long)info->features, info->features > 1 ? "s" : "",
            (unsigned long long)info->bins, edge_modes[s->mode], s->out_file, s->out_group);
    for (int i = 0; i < s->n; i++)
        fprintf(cx->out, "  %-16s %12llu samples  underflow %llu  overflow %llu  nan %llu  (%s)\n",
                s->names[i], (unsigned long long)info->n_samples[i],
                (unsigned long long)info->underflow[i], (unsigned long long)info->overflow[i],
                (unsigned long long)info->nan[i], s->refs[i]);
}

static int run_histogram(const h5div_cli_ctx *cx, const h5div_cli_args *a)
{
    char msg[H5DIV_CLI_MSG] = "";
    h5div_options opt = a->opt;
    h5div_cli_progress pr;
    h5div_cli_progress_setup(cx, a, &opt, &pr);
    h5div_cli_output o;
    int st = h5div_cli_output_check(cx, a, &o, msg);
    if (st != H5DIV_OK) {
        h5div_cli_error(cx, "%s", msg);
        return st;
    }
    static char names[H5DIV_HISTOGRAM_INPUTS_MAX][256];
    const char *refs[H5DIV_HISTOGRAM_INPUTS_MAX], *nm[H5DIV_HISTOGRAM_INPUTS_MAX];
    h5div_histogram_spec s;
    fill_spec(a, &o, names, nm, refs, &s);
    char *cmd = h5div_cli_command_line(cx);
    s.command = cmd;
    double t0 = MPI_Wtime();
    h5div_histogram_info info;
    st = h5div_histogram_files(cx->comm, &s, &opt, &info, msg, sizeof msg);
    free(cmd);
    if (st != H5DIV_OK) {
        h5div_cli_error(cx, "%s", msg[0] ? msg : h5div_strerror(st));
        return st;
    }
    if (cx->rank != 0)
        return H5DIV_OK;
    if (!a->quiet)
        print_notes(cx, &s, &info);
    if (a->json)
        print_json(cx, a, &s, &info);
    else
        print_table(cx, &s, &info);
    if (a->verbose && !a->quiet)
        fprintf(cx->err, "h5div: histogram of %d inputs on %d ranks in %.3f s\n", s.n, cx->size,
                MPI_Wtime() - t0);
    fflush(cx->out);
    fflush(cx->err);
    return H5DIV_OK;
}

const h5div_cli_command h5div_cmd_histogram = {
    "histogram",
    "bin samples (N,) or (N, d) into histograms with shared edges (-o FILE[:/group])",
    histogram_help,
    H5DIV_CLI_IO_OPTS | H5DIV_CLI_OPT(H5DIV_OPT_BINS) | H5DIV_CLI_OPT(H5DIV_OPT_RANGE) |
        H5DIV_CLI_OPT(H5DIV_OPT_LOG) | H5DIV_CLI_OPT(H5DIV_OPT_EDGES) |
        H5DIV_CLI_OPT(H5DIV_OPT_QUANTILE_BINS) | H5DIV_CLI_OPT(H5DIV_OPT_OUTSIDE) |
        H5DIV_CLI_OPT(H5DIV_OPT_NAN) | H5DIV_CLI_OPT(H5DIV_OPT_WEIGHTS),
    1,
    check_histogram,
    run_histogram,
    NULL,
};

/* SPDX-License-Identifier: BSD-3-Clause */
/* Argument parsing and the compare command. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"

#define MAX_POSITIONAL 8
#define MSG_LEN 1200
#define DEFAULT_GROUP "/h5div"

typedef struct cli_args {
    const char *command;
    h5div_options opt;
    const char *output; /* FILE[:/group] */
    int overwrite, json, quiet, verbose, help, version;
    const char *pos[MAX_POSITIONAL];
    int npos;
} cli_args;

typedef struct cli_ctx {
    MPI_Comm comm;
    int rank, size;
    FILE *out, *err;
} cli_ctx;

static const char top_help[] =
    "usage: h5div COMMAND [options] ARGS...\n"
    "\n"
    "Distances between histograms stored in HDF5, evaluated in parallel with MPI\n"
    "(run as mpirun -n N h5div ..., srun --mpi=pmix h5div ..., or plain h5div ...).\n"
    "\n"
    "commands:\n"
    "  compare P Q    entropies, cross-entropies, KL, Jensen-Shannon, total variation\n"
    "                 and Hellinger between two histograms FILE:/dataset\n"
    "\n"
    "h5div COMMAND --help shows the options of a command.\n"
    "  --version      print the version and exit\n";

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
    "  -v, --verbose             timings on stderr\n"
    "  -h, --help                print this help and exit\n"
    "      --version             print the version and exit\n"
    "\n"
    "SIZE is a number of bytes with an optional unit: KiB, MiB, GiB, TiB (or K,\n"
    "M, G, T), kB, MB, GB, TB.\n"
    "exit codes: 0 success, 1 internal, 2 usage, 3 input, 4 output.\n";

static void error_line(const cli_ctx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Errors are one line, printed by rank 0 only. */
static void error_line(const cli_ctx *cx, const char *fmt, ...)
{
    if (cx->rank != 0)
        return;
    char buf[MSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *c = buf; *c; c++)
        if (*c == '\n')
            *c = ' ';
    fprintf(cx->err, "h5div: error: %s\n", buf);
    fflush(cx->err);
}

static int parse_size(const char *s, size_t *out)
{
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0))
        return -1;
    static const struct {
        const char *unit;
        double scale;
    } units[] = {{"", 1},           {"B", 1},        {"K", 1024.0},       {"KiB", 1024.0},
                 {"kB", 1e3},       {"KB", 1e3},     {"M", 1048576.0},    {"MiB", 1048576.0},
                 {"MB", 1e6},       {"G", 1073741824.0}, {"GiB", 1073741824.0}, {"GB", 1e9},
                 {"T", 1099511627776.0}, {"TiB", 1099511627776.0}, {"TB", 1e12}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            double b = v * units[i].scale;
            if (b < 1 || b > 1.8e19)
                return -1;
            *out = (size_t)b;
            return 0;
        }
    }
    return -1;
}

static int parse_measures(const char *list, unsigned *mask)
{
    char buf[1024];
    if (strlen(list) >= sizeof buf)
        return -1;
    strcpy(buf, list);
    *mask = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++)
            if (strcmp(tok, h5div_measure_name((h5div_measure)m)) == 0) {
                *mask |= H5DIV_MEASURE_BIT(m);
                found = 1;
            }
        if (!found)
            return -1;
    }
    return *mask ? 0 : -1;
}

/* Parse argv; on error print one line and return H5DIV_EUSAGE. Every rank
 * parses the same argv, so every rank reaches the same verdict. */
static int parse_args(const cli_ctx *cx, int argc, char **argv, cli_args *a)
{
    memset(a, 0, sizeof *a);
    h5div_options_init(&a->opt);
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_positional || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (!a->command) {
                a->command = arg;
            } else if (a->npos < MAX_POSITIONAL) {
                a->pos[a->npos++] = arg;
            } else {
                error_line(cx, "too many arguments (%s)", arg);
                return H5DIV_EUSAGE;
            }
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = 1;
            continue;
        }
        /* --name=value, --name value, -x value, -xvalue */
        char name[64];
        const char *value = NULL;
        const char *eq = strchr(arg, '=');
        if (arg[1] == '-' && eq) {
            size_t n = (size_t)(eq - arg);
            if (n >= sizeof name) {
                error_line(cx, "unknown option (%s)", arg);
                return H5DIV_EUSAGE;
            }
            memcpy(name, arg, n);
            name[n] = '\0';
            value = eq + 1;
        } else if (arg[1] != '-' && arg[2] != '\0') {
            name[0] = '-';
            name[1] = arg[1];
            name[2] = '\0';
            value = arg + 2;
        } else {
            snprintf(name, sizeof name, "%s", arg);
        }
        static const char *const flags[] = {"--overwrite", "--json", "-q", "--quiet", "-v",
                                            "--verbose", "-h", "--help", "--version",
                                            "--independent-io"};
        int is_flag = 0;
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++)
            if (strcmp(name, flags[f]) == 0)
                is_flag = 1;
        if (is_flag) {
            if (value) {
                error_line(cx, "option takes no value (%s)", arg);
                return H5DIV_EUSAGE;
            }
            if (!strcmp(name, "--overwrite"))
                a->overwrite = 1;
            else if (!strcmp(name, "--json"))
                a->json = 1;
            else if (!strcmp(name, "-q") || !strcmp(name, "--quiet"))
                a->quiet = 1;
            else if (!strcmp(name, "-v") || !strcmp(name, "--verbose"))
                a->verbose = 1;
            else if (!strcmp(name, "-h") || !strcmp(name, "--help"))
                a->help = 1;
            else if (!strcmp(name, "--version"))
                a->version = 1;
            else
                a->opt.collective_io = 0;
            continue;
        }
        static const char *const valued[] = {"-b", "--base", "-o", "--output", "--pseudocount",
                                             "--measures", "--memory-per-rank", "--piece-size"};
        int known = 0;
        for (size_t f = 0; f < sizeof valued / sizeof valued[0]; f++)
            if (strcmp(name, valued[f]) == 0)
                known = 1;
        if (!known) {
            error_line(cx, "unknown option (%s)", arg);
            return H5DIV_EUSAGE;
        }
        if (!value) {
            if (i + 1 >= argc) {
                error_line(cx, "option needs a value (%s)", name);
                return H5DIV_EUSAGE;
            }
            value = argv[++i];
        }
        if (!strcmp(name, "-b") || !strcmp(name, "--base")) {
            if (!strcmp(value, "2"))
                a->opt.base = H5DIV_BASE_2;
            else if (!strcmp(value, "e"))
                a->opt.base = H5DIV_BASE_E;
            else if (!strcmp(value, "10"))
                a->opt.base = H5DIV_BASE_10;
            else {
                error_line(cx, "base must be 2, e or 10 (--base %s)", value);
                return H5DIV_EUSAGE;
            }
        } else if (!strcmp(name, "-o") || !strcmp(name, "--output")) {
            if (!*value) {
                error_line(cx, "empty output file name (%s)", name);
                return H5DIV_EUSAGE;
            }
            a->output = value;
        } else if (!strcmp(name, "--pseudocount")) {
            char *end;
            errno = 0;
            double v = strtod(value, &end);
            if (end == value || *end || errno || !(v >= 0) || isinf(v)) {
                error_line(cx, "pseudocount must be a finite number >= 0 (--pseudocount %s)",
                           value);
                return H5DIV_EUSAGE;
            }
            a->opt.pseudocount = v;
        } else if (!strcmp(name, "--measures")) {
            if (parse_measures(value, &a->opt.measures) != 0) {
                error_line(cx, "unknown measure in list; see h5div compare --help (--measures %s)",
                           value);
                return H5DIV_EUSAGE;
            }
        } else {
            size_t v;
            int piece = !strcmp(name, "--piece-size");
            if (parse_size(value, &v) != 0 || (piece && v > ((size_t)1 << 30))) {
                error_line(cx, "%s (%s %s)",
                           piece ? "size must be 1 byte to 1GiB, e.g. 64MiB"
                                 : "size must be a positive number with an optional unit, "
                                   "e.g. 512MiB",
                           name, value);
                return H5DIV_EUSAGE;
            }
            if (piece)
                a->opt.piece_bytes = v;
            else
                a->opt.memory_per_rank = v;
        }
    }
    return H5DIV_OK;
}

/* Split "-o FILE[:/group]" at the last ':' followed by '/'. */
static int split_output(const char *spec, char *file, size_t flen, char *group, size_t glen)
{
    const char *colon = NULL;
    for (const char *c = spec; *c; c++)
        if (c[0] == ':' && c[1] == '/')
            colon = c;
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n == 0 || n >= flen)
        return -1;
    memcpy(file, spec, n);
    file[n] = '\0';
    snprintf(group, glen, "%s", colon ? colon + 1 : DEFAULT_GROUP);
    size_t gl = strlen(group);
    while (gl > 1 && group[gl - 1] == '/')
        group[--gl] = '\0';
    return strcmp(group, "/") == 0 ? -1 : 0;
}

static char *join_args(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (int i = 0; i < argc; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

static int agree(const cli_ctx *cx, int st, char *msg)
{
    int first = cx->size, mine = st ? cx->rank : cx->size;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, cx->comm) != MPI_SUCCESS)
        return H5DIV_EINTERNAL;
    if (first == cx->size)
        return H5DIV_OK;
    struct {
        int st;
        char text[MSG_LEN];
    } b = {st, ""};
    if (cx->rank == first)
        snprintf(b.text, sizeof b.text, "%s", msg);
    if (MPI_Bcast(&b, (int)sizeof b, MPI_BYTE, first, cx->comm) != MPI_SUCCESS)
        return H5DIV_EINTERNAL;
    snprintf(msg, MSG_LEN, "%s", b.text);
    return b.st;
}

static int run_compare(const cli_ctx *cx, const cli_args *a, int argc, char **argv)
{
    if (a->npos != 2) {
        error_line(cx, "compare needs two histograms FILE:/P FILE:/Q, got %d (try h5div compare --help)",
                   a->npos);
        return H5DIV_EUSAGE;
    }
    char out_file[4096] = "", out_group[4096] = "", msg[MSG_LEN] = "";
    if (a->output && split_output(a->output, out_file, sizeof out_file, out_group,
                                  sizeof out_group) != 0) {
        error_line(cx, "output must be FILE or FILE:/group, not the root group (%s)", a->output);
        return H5DIV_EUSAGE;
    }
    double t0 = MPI_Wtime();
    /* Refuse a result we could not write before spending the compute. */
    int st = H5DIV_OK;
    if (a->output && cx->rank == 0)
        st = h5div_check_output(out_file, out_group, a->overwrite, msg, sizeof msg);
    st = agree(cx, st, msg);
    h5div_compare_result res;
    if (st == H5DIV_OK)
        st = h5div_compare_files(cx->comm, a->pos[0], a->pos[1], &a->opt, &res, msg, sizeof msg);
    double elapsed = MPI_Wtime() - t0;
    if (st == H5DIV_OK && a->output) {
        if (cx->rank == 0) {
            char *cmd = join_args(argc, argv);
            h5div_result_info info = {cmd, a->pos[0], a->pos[1], cx->size, elapsed};
            st = h5div_write_compare_result(out_file, out_group, a->overwrite, &a->opt, &res,
                                            &info, msg, sizeof msg);
            free(cmd);
        }
        st = agree(cx, st, msg);
    }
    if (st != H5DIV_OK) {
        error_line(cx, "%s", msg[0] ? msg : h5div_strerror(st));
        return st;
    }
    if (cx->rank == 0) {
        if (a->json)
            h5div_print_json(cx->out, &res, a->opt.base, cx->size, a->pos[0], a->pos[1]);
        else
            h5div_print_table(cx->out, &res, a->opt.base);
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

int h5div_cli_main(int argc, char **argv, MPI_Comm comm, FILE *out, FILE *err)
{
    cli_ctx cx = {comm, 0, 1, out, err};
    MPI_Comm_rank(comm, &cx.rank);
    MPI_Comm_size(comm, &cx.size);
    cli_args a;
    int st = parse_args(&cx, argc, argv, &a);
    if (st != H5DIV_OK)
        return st;
    if (a.version) {
        if (cx.rank == 0)
            fprintf(out, "h5div %s\n", h5div_version_string());
        return H5DIV_OK;
    }
    if (!a.command) {
        if (a.help) {
            if (cx.rank == 0)
                fputs(top_help, out);
            return H5DIV_OK;
        }
        error_line(&cx, "no command given; try h5div --help (h5div)");
        return H5DIV_EUSAGE;
    }
    if (strcmp(a.command, "compare") == 0) {
        if (a.help) {
            if (cx.rank == 0)
                fputs(compare_help, out);
            return H5DIV_OK;
        }
        return run_compare(&cx, &a, argc, argv);
    }
    error_line(&cx, "unknown command; try h5div --help (%s)", a.command);
    return H5DIV_EUSAGE;
}

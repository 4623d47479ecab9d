/* SPDX-License-Identifier: BSD-3-Clause */
/* Argument parsing, command dispatch and the helpers commands share. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/check.h"
#include "io/writer.h"

/* Every command of h5div, in the order `h5div --help` lists them. */
static const h5div_cli_command *const commands[] = {
    &h5div_cmd_compare,   &h5div_cmd_entropy,   &h5div_cmd_joint,
    &h5div_cmd_surprisal, &h5div_cmd_histogram, &h5div_cmd_history,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

void h5div_cli_error(const h5div_cli_ctx *cx, const char *fmt, ...)
{
    if (cx->rank != 0)
        return;
    char buf[H5DIV_CLI_MSG], line[4 * H5DIV_CLI_MSG];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* A message too long for the line keeps its closing parenthesis. */
    if (n >= (int)sizeof buf)
        snprintf(buf + sizeof buf - 5, 5, "...)");
    /* One line, whatever the names hold: control characters (newlines,
     * terminal escapes) are shown as \xHH. */
    size_t k = 0;
    for (const unsigned char *c = (const unsigned char *)buf; *c && k + 5 < sizeof line; c++) {
        if (*c < 0x20 || *c == 0x7f)
            k += (size_t)snprintf(line + k, sizeof line - k, "\\x%02x", *c);
        else
            line[k++] = (char)*c;
    }
    line[k] = '\0';
    fprintf(cx->err, "h5div: error: %s\n", line);
    fflush(cx->err);
}

static void progress_report(void *ctx, int pass, double fraction, double bytes)
{
    h5div_cli_progress *pr = ctx;
    double now = MPI_Wtime();
    if (pass != pr->pass) {
        pr->pass = pass;
        pr->t_start = pr->t_last; /* the pass began when the previous one ended */
    }
    if (fraction < 1.0 && now - pr->t_last < 1.0)
        return;
    double dt = now - pr->t_start;
    double rate = dt > 0 ? bytes / dt : 0.0;
    double eta = fraction > 0 ? dt * (1.0 - fraction) / fraction : 0.0;
    fprintf(pr->err, "%sh5div: pass %d: %5.1f%%  %.2f GB/s  ETA %.0f s%s", pr->tty ? "\r" : "",
            pass + 1, 100.0 * fraction, rate / 1e9, eta, pr->tty && fraction < 1.0 ? "" : "\n");
    fflush(pr->err);
    pr->t_last = now;
}

void h5div_cli_progress_setup(const h5div_cli_ctx *cx, const h5div_cli_args *a, h5div_options *opt,
                              h5div_cli_progress *pr)
{
    pr->err = cx->err;
    pr->tty = isatty(fileno(cx->err));
    pr->pass = 0;
    pr->t_start = pr->t_last = MPI_Wtime();
    if (cx->rank == 0 && !a->quiet && (a->verbose || pr->tty)) {
        opt->progress = progress_report;
        opt->progress_ctx = pr;
    }
}

int h5div_cli_agree(const h5div_cli_ctx *cx, int st, char *msg)
{
    int first = cx->size, mine = st ? cx->rank : cx->size;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, cx->comm) != MPI_SUCCESS)
        return H5DIV_EINTERNAL;
    if (first == cx->size)
        return H5DIV_OK;
    struct {
        int st;
        char text[H5DIV_CLI_MSG];
    } b = {st, ""};
    if (cx->rank == first)
        snprintf(b.text, sizeof b.text, "%s", msg);
    if (MPI_Bcast(&b, (int)sizeof b, MPI_BYTE, first, cx->comm) != MPI_SUCCESS)
        return H5DIV_EINTERNAL;
    snprintf(msg, H5DIV_CLI_MSG, "%s", b.text);
    return b.st;
}

int h5div_cli_split_output(const char *spec, char *file, size_t flen, char *group, size_t glen,
                           const char *default_group)
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
    snprintf(group, glen, "%s", colon ? colon + 1 : default_group);
    size_t gl = strlen(group);
    while (gl > 1 && group[gl - 1] == '/')
        group[--gl] = '\0';
    return strcmp(group, "/") == 0 ? -1 : 0;
}

char *h5div_cli_command_line(const h5div_cli_ctx *cx)
{
    size_t n = 1;
    for (int i = 0; i < cx->argc; i++)
        n += strlen(cx->argv[i]) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (int i = 0; i < cx->argc; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, cx->argv[i]);
    }
    return s;
}

int h5div_cli_parse_list(const char *list, const char *const *names, int n, unsigned *mask)
{
    *mask = 0;
    const char *s = list;
    while (*s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        int found = 0;
        for (int i = 0; i < n; i++)
            if (strlen(names[i]) == len && strncmp(s, names[i], len) == 0) {
                *mask |= 1u << (unsigned)i;
                found = 1;
            }
        if (!found)
            return -1;
        s += len + (end ? 1 : 0);
    }
    return *mask ? 0 : -1;
}

int h5div_cli_check_output(h5div_cli_args *a, const char *default_group, const char *what,
                           char *msg)
{
    if (!a->output)
        return H5DIV_OK;
    if (strlen(a->output) >= sizeof a->out_file)
        return h5div_cli_usage(msg, "output name is longer than %zu characters (%.64s...)",
                               sizeof a->out_file - 1, a->output);
    if (h5div_cli_split_output(a->output, a->out_file, sizeof a->out_file, a->out_path,
                               sizeof a->out_path, default_group) != 0)
        return h5div_cli_usage(msg, "output must be %s, not the root group (%s)", what, a->output);
    return H5DIV_OK;
}

int h5div_cli_output_check(const h5div_cli_ctx *cx, const h5div_cli_args *a, h5div_cli_output *o,
                           char *msg)
{
    o->file[0] = o->group[0] = '\0';
    if (!a->output)
        return H5DIV_OK;
    snprintf(o->file, sizeof o->file, "%s", a->out_file);
    snprintf(o->group, sizeof o->group, "%s", a->out_path);
    int st = H5DIV_OK;
    if (cx->rank == 0)
        st = h5div_output_vs_inputs(o->file, a->pos, a->npos, a->in_place, msg, H5DIV_CLI_MSG);
    if (cx->rank == 0 && st == H5DIV_OK)
        st = h5div_check_output(o->file, o->group, a->overwrite, msg, H5DIV_CLI_MSG);
    return h5div_cli_agree(cx, st, msg);
}

int h5div_cli_check_bootstrap(const h5div_cli_args *a, int with_null, char *msg)
{
    const unsigned ci = H5DIV_CLI_OPT(H5DIV_OPT_CI), seed = H5DIV_CLI_OPT(H5DIV_OPT_SEED);
    const unsigned keep = H5DIV_CLI_OPT(H5DIV_OPT_KEEP_REPLICATES);
    if (a->given & H5DIV_CLI_OPT(H5DIV_OPT_BOOTSTRAP))
        return H5DIV_OK;
    if (a->given & H5DIV_CLI_OPT(H5DIV_OPT_NULL))
        return (a->given & ci) ? h5div_cli_usage(msg, "--ci needs --bootstrap B (--ci)") : H5DIV_OK;
    if (a->given & (ci | seed | keep))
        return h5div_cli_usage(msg, "--ci, --seed and --keep-replicates need --bootstrap B%s (%s)",
                               with_null ? " (--seed and --keep-replicates also --null B)" : "",
                               a->given & ci     ? "--ci"
                               : a->given & seed ? "--seed"
                                                 : "--keep-replicates");
    return H5DIV_OK;
}

int h5div_cli_select_measures(const h5div_cli_args *a, const char *cmd, const char *const *names,
                              int n, unsigned *mask, char *msg)
{
    if (!a->measures)
        return H5DIV_OK;
    if (h5div_cli_parse_list(a->measures, names, n, mask) != 0)
        return h5div_cli_usage(msg, "unknown measure in list; see h5div %s --help (--measures %s)",
                               cmd, a->measures);
    return H5DIV_OK;
}

static int parse_size(const char *s, size_t *out)
{
    /* Decimal only: strtod would also take 0x10000 (hex), inf and nan. */
    if (!((*s >= '0' && *s <= '9') || *s == '.') || strpbrk(s, "xXpP"))
        return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0))
        return -1;
    static const struct {
        const char *unit;
        double scale;
    } units[] = {{"", 1.0},
                 {"B", 1.0},
                 {"K", 1024.0},
                 {"KiB", 1024.0},
                 {"kB", 1e3},
                 {"KB", 1e3},
                 {"M", 1048576.0},
                 {"MiB", 1048576.0},
                 {"MB", 1e6},
                 {"G", 1073741824.0},
                 {"GiB", 1073741824.0},
                 {"GB", 1e9},
                 {"T", 1099511627776.0},
                 {"TiB", 1099511627776.0},
                 {"TB", 1e12}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            double b = v * units[i].scale;
            if (b < 8 || b > 1.8e19) /* the library needs one double */
                return -1;
            *out = (size_t)b;
            return 0;
        }
    }
    return -1;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* An underflow (1e-400) is a tiny number, not an error. */
    if (errno == ERANGE && fabs(v) < 1.0)
        errno = 0;
    if (end == s || *end || errno || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int h5div_cli_usage(char *msg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, H5DIV_CLI_MSG, fmt, ap);
    va_end(ap);
    return H5DIV_EUSAGE;
}

/* A command of one operand (`what`): H5DIV_OK when a has exactly one, else
 * the usage error naming the count. */
static int one_operand(const h5div_cli_args *a, const char *what, char *msg)
{
    if (a->npos == 1)
        return H5DIV_OK;
    return h5div_cli_usage(msg, "%s needs %s, got %d arguments (try h5div %s --help)", a->cmd->name,
                           what, a->npos, a->cmd->name);
}

struct opt_spec;
/* Store an option's value (NULL for an option without one) in a; returns
 * H5DIV_EUSAGE with the text in msg on a bad value. */
typedef int (*opt_setter)(h5div_cli_args *a, const struct opt_spec *sp, const char *value,
                          char *msg);

/* The option table: every option of every command, its short letter (or 0),
 * whether it takes a value, and how it is stored (the setter, and for the
 * setters of a field the field's offset in h5div_cli_args). Parsing follows
 * getopt_long: short options may be bundled (-qv, -qb e, -qbe, -b10), a
 * value follows its option as the next argument or attached (-ofile,
 * --base=e), options and operands mix in any order, and "--" ends the
 * options. Long names are matched in full, never abbreviated, so a new
 * option can never make an abbreviation in a script ambiguous. */
typedef struct opt_spec {
    char shrt;
    const char *lng;
    int opt; /* enum h5div_cli_opt, or -1 for the options of every command */
    int has_value;
    opt_setter set;
    size_t field;
} opt_spec;

static int bad_value(const opt_spec *sp, const char *value, char *msg)
{
    return h5div_cli_usage(msg, "bad value%s (%s %s)",
                           sp->opt == H5DIV_OPT_BASE ? "; the base is 2, e or 10" : "", sp->lng,
                           value);
}

#define FIELD(a, T, sp) ((T *)(void *)((char *)(a) + (sp)->field))

/* A switch: its int field becomes 1. */
static int set_flag(h5div_cli_args *a, const opt_spec *sp, const char *value, char *msg)
{
    (void)value, (void)msg;
    *FIELD(a, int, sp) = 1;
    return H5DIV_OK;
}

/* A non-empty value kept as given (the command checks it). */
static int set_string(h5div_cli_args *a, const opt_spec *sp, const char *value, char *msg)
{
    if (!*value)
        return bad_value(sp, value, msg);
    *FIELD(a, const char *, sp) = value;
    return H5DIV_OK;
}

static int set_independent_io(h5div_cli_args *a, const opt_spec *sp, const char *value, char *msg)
{
    (void)sp, (void)value, (void)msg;
    a->opt.collective_io = 0;
    return H5DIV_OK;
}

static int set_base(h5div_cli_args *a, const opt_spec *sp, const char *value, char *msg)
{
    static const char *const names[] = {"2", "e", "10"};
    static const h5div_base bases[] = {H5DIV_BASE_2, H5DIV_BASE_E, H5DIV_BASE_10};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(value, names[i])) {
            a->opt.base = bases[i];
            return H5DIV_OK;
        }
    return bad_value(sp, value, msg);
}

static int set_lock_timeout(h5div_cli_args *a, const opt_spec *sp, const char *value, char *msg)
{
    if (!strcmp(value, "none")) {
        a->lock_timeout = -1.0;
        return H5DIV_OK;
    }
    if (parse_double(value, &a->lock_timeout) != 0 || !(a->lock_timeout >= 0))
        return h5div_cli_usage(msg, "lock timeout must be a number of seconds >= 0 or none (%s %s)",
                               sp->lng, value);
    return H5DIV_OK;
}

static int set_pseudocount(h5div_cli_args *a, const opt_spec *sp, const char *value, char *msg)
{
    if (parse_double(value, &a->opt.pseudocount) != 0 || !(a->opt.pseudocount >= 0))
        return h5div_cli_usage(msg, "pseudocount must be a finite number >= 0 (%s %s)", sp->lng,
                               value);
    return H5DIV_OK;
}

static int set_bin_width(h5div_cli_args *a, const opt_spec *sp, const char *value, char *msg)
{
    if (parse_double(value, &a->bin_width) != 0 || !(a->bin_width > 0))
        return h5div_cli_usage(msg, "bin width must be a finite number > 0 (%s %s)", sp->lng,
                               value);
    return H5DIV_OK;
}

static int set_ci(h5div_cli_args *a, const opt_spec *sp, const char *value, char *msg)
{
    if (parse_double(value, &a->opt.ci) != 0 || !(a->opt.ci > 0 && a->opt.ci < 1))
        return h5div_cli_usage(msg, "the interval level must be a number in (0, 1) (%s %s)",
                               sp->lng, value);
    return H5DIV_OK;
}

/* --memory-per-rank and --piece-size: a size (see parse_size) into the
 * size_t field, the piece at most 1 GiB. */
static int set_size(h5div_cli_args *a, const opt_spec *sp, const char *value, char *msg)
{
    size_t v;
    int piece = sp->opt == H5DIV_OPT_PIECE;
    if (parse_size(value, &v) != 0 || (piece && v > ((size_t)1 << 30)))
        return h5div_cli_usage(msg, "%s (%s %s)",
                               piece ? "size must be 8 bytes to 1GiB, e.g. 64MiB"
                                     : "size must be 8 bytes or more with an optional unit, "
                                       "e.g. 512MiB",
                               sp->lng, value);
    *FIELD(a, size_t, sp) = v;
    return H5DIV_OK;
}

/* A whole number of decimal digits that fits 64 bits: 0, or -1. */
static int parse_whole(const char *value, unsigned long long *n)
{
    char *end;
    errno = 0;
    *n = strtoull(value, &end, 10);
    return value[0] < '0' || value[0] > '9' || *end || errno ? -1 : 0;
}

static int set_last(h5div_cli_args *a, const opt_spec *sp, const char *value, char *msg)
{
    unsigned long long n;
    if (parse_whole(value, &n) != 0 || n == 0)
        return h5div_cli_usage(msg, "the number of runs must be a whole number >= 1 (%s %s)",
                               sp->lng, value);
    a->last = (size_t)n;
    return H5DIV_OK;
}

/* --bootstrap B and --null B: a number of replicates. */
static int set_replicates(h5div_cli_args *a, const opt_spec *sp, const char *value, char *msg)
{
    const int null = sp->opt == H5DIV_OPT_NULL;
    unsigned long long n;
    if (parse_whole(value, &n) != 0 || n < 1 || n > H5DIV_BOOTSTRAP_MAX)
        return h5div_cli_usage(msg,
                               "the number of %s replicates must be a whole number from 1 "
                               "to %d (%s %s)",
                               null ? "null" : "bootstrap", H5DIV_BOOTSTRAP_MAX, sp->lng, value);
    if (null)
        a->opt.null = (uint64_t)n;
    else
        a->opt.bootstrap = (uint64_t)n;
    return H5DIV_OK;
}

static int set_seed(h5div_cli_args *a, const opt_spec *sp, const char *value, char *msg)
{
    unsigned long long n;
    if (parse_whole(value, &n) != 0)
        return h5div_cli_usage(msg, "the seed must be a whole number from 0 to 2^64 - 1 (%s %s)",
                               sp->lng, value);
    a->opt.seed = (uint64_t)n;
    return H5DIV_OK;
}

static int set_check(h5div_cli_args *a, const opt_spec *sp, const char *value, char *msg)
{
    if (a->check) /* a second --check must not silently replace the first */
        return h5div_cli_usage(msg, "give --check once, its conditions separated by commas (%s %s)",
                               sp->lng, value);
    a->check = value; /* checked by the command */
    return H5DIV_OK;
}

/* --weights of h5div histogram, in the order given. */
static int add_weights(h5div_cli_args *a, const opt_spec *sp, const char *value, char *msg)
{
    if (!*value)
        return bad_value(sp, value, msg);
    if (a->nweights >= H5DIV_CLI_MAX_POSITIONAL)
        return h5div_cli_usage(msg, "too many --weights (%s)", value);
    a->weights[a->nweights++] = value;
    return H5DIV_OK;
}

#define AT(f) offsetof(h5div_cli_args, f)
static const opt_spec specs[] = {
    {'b', "--base", H5DIV_OPT_BASE, 1, set_base, 0},
    {'o', "--output", H5DIV_OPT_OUTPUT, 1, set_string, AT(output)},
    {0, "--overwrite", H5DIV_OPT_OVERWRITE, 0, set_flag, AT(overwrite)},
    {0, "--json", H5DIV_OPT_JSON, 0, set_flag, AT(json)},
    {0, "--pseudocount", H5DIV_OPT_PSEUDOCOUNT, 1, set_pseudocount, 0},
    {0, "--measures", H5DIV_OPT_MEASURES, 1, set_string, AT(measures)},
    {0, "--memory-per-rank", H5DIV_OPT_MEMORY, 1, set_size, AT(opt.memory_per_rank)},
    {0, "--piece-size", H5DIV_OPT_PIECE, 1, set_size, AT(opt.piece_bytes)},
    {0, "--independent-io", H5DIV_OPT_INDEPENDENT_IO, 0, set_independent_io, 0},
    {0, "--estimator", H5DIV_OPT_ESTIMATOR, 1, set_string, AT(estimator)},
    {0, "--csv", H5DIV_OPT_CSV, 0, set_flag, AT(csv)},
    {0, "--plot", H5DIV_OPT_PLOT, 1, set_string, AT(plot)},
    {0, "--bin-width", H5DIV_OPT_BIN_WIDTH, 1, set_bin_width, 0},
    {0, "--lock-timeout", H5DIV_OPT_LOCK_TIMEOUT, 1, set_lock_timeout, 0},
    {0, "--in-place", H5DIV_OPT_IN_PLACE, 0, set_flag, AT(in_place)},
    {0, "--check", H5DIV_OPT_CHECK, 1, set_check, 0},
    {0, "--last", H5DIV_OPT_LAST, 1, set_last, 0},
    {0, "--bins", H5DIV_OPT_BINS, 1, set_string, AT(bins)},
    {0, "--range", H5DIV_OPT_RANGE, 1, set_string, AT(range)},
    {0, "--log", H5DIV_OPT_LOG, 0, set_flag, AT(log_edges)},
    {0, "--edges", H5DIV_OPT_EDGES, 1, set_string, AT(edges)},
    {0, "--quantile-bins", H5DIV_OPT_QUANTILE_BINS, 1, set_string, AT(quantile_bins)},
    {0, "--outside", H5DIV_OPT_OUTSIDE, 1, set_string, AT(outside)},
    {0, "--nan", H5DIV_OPT_NAN, 1, set_string, AT(nan_mode)},
    {0, "--weights", H5DIV_OPT_WEIGHTS, 1, add_weights, 0},
    {0, "--bootstrap", H5DIV_OPT_BOOTSTRAP, 1, set_replicates, 0},
    {0, "--ci", H5DIV_OPT_CI, 1, set_ci, 0},
    {0, "--seed", H5DIV_OPT_SEED, 1, set_seed, 0},
    {0, "--keep-replicates", H5DIV_OPT_KEEP_REPLICATES, 0, set_flag, AT(opt.keep_replicates)},
    {0, "--null", H5DIV_OPT_NULL, 1, set_replicates, 0},
    {'q', "--quiet", -1, 0, set_flag, AT(quiet)},
    {'v', "--verbose", -1, 0, set_flag, AT(verbose)},
    {'h', "--help", -1, 0, set_flag, AT(help)},
    {0, "--version", -1, 0, set_flag, AT(version)},
};
#undef AT
#define NSPECS (sizeof specs / sizeof specs[0])

/* Store one option; returns H5DIV_EUSAGE with the text in msg on a bad value. */
static int set_option(h5div_cli_args *a, const opt_spec *sp, const char *value, char *msg)
{
    if (sp->opt >= 0)
        a->given |= H5DIV_CLI_OPT(sp->opt);
    return sp->set(a, sp, value, msg);
}

static const opt_spec *find_long(const char *arg, size_t len)
{
    for (size_t k = 0; k < NSPECS; k++)
        if (strlen(specs[k].lng) == len && strncmp(arg, specs[k].lng, len) == 0)
            return &specs[k];
    return NULL;
}

static const opt_spec *find_short(char c)
{
    for (size_t k = 0; k < NSPECS; k++)
        if (specs[k].shrt && specs[k].shrt == c)
            return &specs[k];
    return NULL;
}

static int add_operand(h5div_cli_args *a, const char *arg, char *msg)
{
    if (!a->command)
        a->command = arg;
    else if (a->npos < H5DIV_CLI_MAX_POSITIONAL)
        a->pos[a->npos++] = arg;
    else
        return h5div_cli_usage(msg, "too many arguments (%s)", arg);
    return H5DIV_OK;
}

/* argv into a, table-driven; argv itself is left as it is (the command
 * line is recorded in the results as given). */
static int parse_argv(int argc, char **argv, h5div_cli_args *a, char *msg)
{
    int only_operands = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_operands || arg[0] != '-' || arg[1] == '\0') {
            H5DIV_CHECK(add_operand(a, arg, msg));
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_operands = 1;
            continue;
        }
        if (arg[1] == '-') { /* --name, --name=value, --name value */
            const char *eq = strchr(arg, '=');
            size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
            const opt_spec *sp = find_long(arg, len);
            if (!sp)
                return h5div_cli_usage(msg, "unknown option (%.*s)", (int)len, arg);
            const char *value = eq ? eq + 1 : NULL;
            if (!sp->has_value && value)
                return h5div_cli_usage(msg, "option takes no value (%s)", arg);
            if (sp->has_value && !value) {
                if (i + 1 >= argc)
                    return h5div_cli_usage(msg, "option needs a value (%s)", sp->lng);
                value = argv[++i];
            }
            H5DIV_CHECK(set_option(a, sp, value, msg));
            continue;
        }
        /* -x, or a bundle of flags (-qv) that may end in one option taking
         * the rest (-qbe) or the next argument (-qb e) as its value. */
        for (const char *c = arg + 1; *c; c++) {
            const opt_spec *sp = find_short(*c);
            int alone = c == arg + 1 && !c[1];
            if (!sp)
                return h5div_cli_usage(msg, "unknown option (-%c%s%s)", *c, alone ? "" : " in ",
                                       alone ? "" : arg);
            if (!sp->has_value) {
                H5DIV_CHECK(set_option(a, sp, NULL, msg));
                continue;
            }
            const char *value = c[1] ? c + 1 : NULL;
            if (!value) {
                if (i + 1 >= argc)
                    return h5div_cli_usage(msg, "option needs a value (-%c, %s)", *c, sp->lng);
                value = argv[++i];
            }
            H5DIV_CHECK(set_option(a, sp, value, msg));
            break;
        }
    }
    return H5DIV_OK;
}

int h5div_cli_parse(int argc, char **argv, h5div_cli_args *a, char *msg)
{
    memset(a, 0, sizeof *a);
    msg[0] = '\0';
    h5div_options_init(&a->opt);
    a->bin_width = 1.0;
    a->lock_timeout = H5DIV_LOCK_TIMEOUT_DEFAULT;
    a->est = H5DIV_ESTIMATOR_PLUGIN;
    H5DIV_CHECK(parse_argv(argc, argv, a, msg));
    if (a->version || !a->command)
        return H5DIV_OK; /* --version, --help, or no command (an error unless --help) */
    for (size_t i = 0; i < NCOMMANDS && !a->cmd; i++)
        if (strcmp(a->command, commands[i]->name) == 0)
            a->cmd = commands[i];
    if (!a->cmd)
        return h5div_cli_usage(msg, "unknown command; try h5div --help (%s)", a->command);
    if (a->help)
        return H5DIV_OK;
    unsigned extra = a->given & ~a->cmd->options;
    for (size_t k = 0; extra && k < NSPECS; k++)
        if (specs[k].opt >= 0 && (extra & H5DIV_CLI_OPT(specs[k].opt)))
            return h5div_cli_usage(msg, "option not valid for h5div %s (%s)", a->cmd->name,
                                   specs[k].lng);
    if (a->cmd->one_operand && a->npos != 1)
        return one_operand(a, a->cmd->one_operand, msg);
    return a->cmd->check ? a->cmd->check(a, msg) : H5DIV_OK;
}

/* Width of the help text and of the name column of the measure list. */
#define HELP_WIDTH 78
#define HELP_INDENT 10
#define HELP_NAME_COL 19

/* The name column of row m of a measure table: its name and those of the
 * rows after it that its help text describes, NAME:A for rows with orders. */
static void help_names(const h5div_measure_info *t, int n, int m, char *buf, size_t len)
{
    size_t used = 0;
    for (int r = m; r < n && (r == m || !t[r].help); r++) {
        if (t[r].flags & H5DIV_MEASURE_PART)
            break;
        int w = snprintf(buf + used, len - used, "%s%s%s", r == m ? "" : ", ", t[r].name,
                         t[r].flags & H5DIV_MEASURE_ORDER ? ":A" : "");
        used += w > 0 && (size_t)w < len - used ? (size_t)w : 0;
    }
}

/* The measures of compare's table: the default set by name, wrapped, then
 * each extra with its help text. */
static void print_measure_help(FILE *out)
{
    int n;
    const h5div_measure_info *t = h5div_compare_measures(&n);
    int col = fprintf(out, "measures (default):");
    for (int m = 0; m < n; m++) {
        if (!(t[m].flags & H5DIV_MEASURE_DEFAULT))
            continue;
        int w = (int)strlen(t[m].name);
        if (col + 1 + w > HELP_WIDTH)
            col = fprintf(out, "\n%*s%s", HELP_INDENT, "", t[m].name) - 1;
        else
            col += fprintf(out, " %s", t[m].name);
    }
    fputs("\nmore, only when named in --measures:\n", out);
    for (int m = 0; m < n; m++) {
        if ((t[m].flags & (H5DIV_MEASURE_DEFAULT | H5DIV_MEASURE_PART)) || !t[m].help)
            continue;
        char names[128] = "";
        help_names(t, n, m, names, sizeof names);
        int w = fprintf(out, "%*s%s", HELP_INDENT, "", names) - HELP_INDENT;
        fprintf(out, "%*s", w < HELP_NAME_COL - 2 ? HELP_NAME_COL - w : 2, "");
        for (const char *h = t[m].help; *h; h++) {
            fputc(*h, out);
            if (*h == '\n')
                fprintf(out, "%*s", HELP_INDENT + HELP_NAME_COL, "");
        }
        fputc('\n', out);
    }
}

void h5div_cli_print_help(FILE *out, const char *help)
{
    const char *mark = strstr(help, H5DIV_CLI_MEASURE_HELP);
    if (!mark) {
        fputs(help, out);
        return;
    }
    fwrite(help, 1, (size_t)(mark - help), out);
    print_measure_help(out);
    fputs(mark + strlen(H5DIV_CLI_MEASURE_HELP), out);
}

static void print_top_help(FILE *out)
{
    fputs("usage: h5div COMMAND [options] ARGS...\n"
          "\n"
          "Distances and entropies of histograms stored in HDF5, evaluated in parallel\n"
          "with MPI (mpirun -n N h5div ..., srun --mpi=pmix h5div ..., or plain h5div ...).\n"
          "\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fputs("\n"
          "h5div COMMAND --help shows the options of a command. Options and operands\n"
          "mix in any order; short options bundle (-qv, -qb e, -be), values may be\n"
          "attached (--base=e); -- ends the options.\n"
          "Only compare, entropy, joint, surprisal and histogram start MPI; --help,\n"
          "--version, usage errors and history run without it.\n"
          "  --version  print the version and exit\n"
          "exit codes: 0 success, 1 internal, 2 usage, 3 input, 4 output,\n"
          "5 a threshold of history --check crossed.\n",
          out);
}

int h5div_cli_launcher_rank(void)
{
    /* The rank each launcher puts in its processes' environment: Open MPI's
     * mpirun, PMIx (Open MPI 4+, srun --mpi=pmix), PMI-1/2 (MPICH's hydra,
     * Intel MPI, srun --mpi=pmi2, Cray), MVAPICH2, any srun, Flux, IBM jsrun,
     * Cray aprun. The first one set decides. */
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK",    "PMI_RANK",
                                       "MV2_COMM_WORLD_RANK",  "SLURM_PROCID", "FLUX_TASK_RANK",
                                       "JSM_NAMESPACE_RANK",   "ALPS_APP_PE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        char *end;
        if (!v || !*v)
            continue;
        errno = 0;
        long r = strtol(v, &end, 10);
        if (!*end && !errno && r >= 0 && r <= 0x7fffffffL)
            return (int)r;
    }
    return 0;
}

static void quiet_libraries(h5div_cli_ctx *cx, const h5div_cli_args *a);

static int cli_run(h5div_cli_ctx *cx, int argc, char **argv)
{
    h5div_cli_args a;
    char msg[H5DIV_CLI_MSG];
    int st = h5div_cli_parse(argc, argv, &a, msg);
    if (st != H5DIV_OK) {
        h5div_cli_error(cx, "%s", msg);
        return st;
    }
    quiet_libraries(cx, &a);
    h5div_io_catch_signals();
    h5div_io_set_lock_wait(a.lock_timeout, cx->rank == 0 && !a.quiet ? cx->err : NULL);
    if (a.version) {
        if (cx->rank == 0)
            fprintf(cx->out, "h5div %s\n", h5div_version_string());
        return H5DIV_OK;
    }
    if (!a.cmd) {
        if (a.help) {
            if (cx->rank == 0)
                print_top_help(cx->out);
            return H5DIV_OK;
        }
        h5div_cli_error(cx, "no command given; try h5div --help (h5div)");
        return H5DIV_EUSAGE;
    }
    if (a.help) {
        if (cx->rank == 0)
            h5div_cli_print_help(cx->out, a.cmd->help);
        return H5DIV_OK;
    }
    if (a.cmd->mpi && cx->comm == MPI_COMM_NULL) {
        h5div_cli_error(cx, "h5div %s needs MPI: pass a communicator (h5div_cli_main)",
                        a.cmd->name);
        return H5DIV_EINTERNAL;
    }
    return a.cmd->run(cx, &a);
}

/* Rank 0's stdout reached its file: every write, the flush and the close
 * (of a copy of the descriptor: NFS reports a failed write back there). */
static int stdout_status(FILE *out)
{
    int bad = fflush(out) != 0 || ferror(out);
    int e = errno;
    if (!bad) {
        int d = fcntl(fileno(out), F_DUPFD_CLOEXEC, 3);
        if (d >= 0 && close(d) != 0) {
            bad = 1;
            e = errno;
        }
    }
    errno = e;
    return bad;
}

int h5div_cli_main(int argc, char **argv, MPI_Comm comm, FILE *out, FILE *err)
{
    h5div_cli_ctx cx = {comm, 0, 1, out, err, argc, argv};
    if (comm != MPI_COMM_NULL) {
        MPI_Comm_rank(comm, &cx.rank);
        MPI_Comm_size(comm, &cx.size);
    } else {
        cx.rank = h5div_cli_launcher_rank();
    }
    int st = cli_run(&cx, argc, argv);
    /* A result that never reached stdout (a full disk, a closed pipe) is an
     * output error like a failed write of the results file. */
    char msg[H5DIV_CLI_MSG] = "";
    int ost = H5DIV_OK;
    if (cx.rank == 0 && stdout_status(out)) {
        snprintf(msg, sizeof msg, "cannot write to standard output: %s (stdout)", strerror(errno));
        ost = H5DIV_EOUTPUT;
    }
    if (comm != MPI_COMM_NULL)
        ost = h5div_cli_agree(&cx, ost, msg);
    if (ost != H5DIV_OK && st == H5DIV_OK) {
        h5div_cli_error(&cx, "%s", msg);
        st = H5DIV_EOUTPUT;
    }
    if (cx.err != err)
        fflush(cx.err);
    return st;
}

/* The exit status decided before MPI_Finalize, for finalize_crashed. */
static volatile sig_atomic_t final_status;

static void finalize_crashed(int sig)
{
    (void)sig;
    _exit((int)final_status);
}

/* MPI_Finalize with the run's status already decided and every output
 * written and flushed: Open MPI 4.1 crashes inside MPI_Finalize now and
 * then, even on one rank (open-mpi/ompi#10117; here exit -11 after a
 * complete run, in 1 of some hundreds of runs under heavy load). Such a
 * crash, there or in the exit handlers after it, ends the process with the
 * status h5div decided, not with SIGSEGV, since nothing of the run is lost
 * by then. */
static void finalize_with(int st)
{
    final_status = st;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = finalize_crashed;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = (int)SA_RESETHAND;
    (void)sigaction(SIGSEGV, &sa, NULL);
    (void)sigaction(SIGBUS, &sa, NULL);
    MPI_Finalize();
    /* The handlers stay for the rest: after MPI_Finalize only the
     * libraries' exit handlers run. */
}

int h5div_cli_program(int argc, char **argv, FILE *out, FILE *err)
{
    /* Parse first: help, version, usage errors and history never start MPI
     * (they run where MPI cannot, e.g. under env -i or on a login node), and
     * a usage error costs no MPI start-up. Every rank of a launch parses the
     * same argv and reaches the same verdict; which one prints is the
     * launcher's rank 0. */
    h5div_cli_args a;
    char msg[H5DIV_CLI_MSG];
    int st = h5div_cli_parse(argc, argv, &a, msg);
    if (st != H5DIV_OK || a.help || a.version || !a.cmd || !a.cmd->mpi)
        return h5div_cli_main(argc, argv, MPI_COMM_NULL, out, err);
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(err, "h5div: error: MPI_Init failed (MPI)\n");
        return H5DIV_EINTERNAL;
    }
    st = h5div_cli_main(argc, argv, MPI_COMM_WORLD, out, err);
    fflush(out);
    fflush(err);
    finalize_with(st);
    return st;
}

/* Open MPI and HDF5 write their own diagnostics to file descriptor 2
 * (mca_fbtl_posix_preadv errors, HDF5 error stacks at exit). Unless -v
 * (or H5DIV_DEBUG) asks for them, descriptor 2 goes to /dev/null and
 * h5div's own lines go to a copy of the real stderr. */
static void quiet_libraries(h5div_cli_ctx *cx, const h5div_cli_args *a)
{
    if (a->verbose || getenv("H5DIV_DEBUG") || cx->err != stderr)
        return;
    fflush(stderr);
    int keep = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    FILE *err = keep >= 0 && null >= 0 ? fdopen(keep, "w") : NULL;
    if (err && dup2(null, STDERR_FILENO) >= 0) {
        setvbuf(err, NULL, _IOLBF, 0);
        cx->err = err;
    } else if (err) {
        fclose(err);
    } else if (keep >= 0) {
        close(keep);
    }
    if (null >= 0)
        close(null);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div history: the result groups under /runs of a history file, as a table, CSV or plot,
 * and checked against thresholds (--check). */
#include <ctype.h>
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

static const char history_help[] =
    "usage: h5div history [options] FILE[:/GROUP]\n"
    "\n"
    "List the evaluations recorded in a result history: every group under GROUP\n"
    "(default /runs), e.g. written by h5div compare -o FILE:/runs/RUN_ID, in the\n"
    "order of their `created` attribute, then by name. One row per run with its\n"
    "id, created, p and q, and one column per measure (a measure of shape (k,)\n"
    "gives the columns NAME[0] .. NAME[k-1]; one over the rows of 2-D input\n"
    "gives NAME.median and NAME.max, or NAME[j].median .. for (k, m); an\n"
    "interval NAME_ci with a last axis of 2 gives NAME_ci.lo and NAME_ci.hi,\n"
    "those of 2-D input are left out); an empty cell is a measure that run did\n"
    "not compute.\n"
    "\n"
    "GROUP may also be one result group (e.g. FILE:/h5div, as h5div compare -o\n"
    "FILE writes it): it is then the only run.\n"
    "\n"
    "options:\n"
    "      --csv                 print CSV (RFC 4180, values with 17 digits)\n"
    "                            instead of the table\n"
    "      --measures a,b,...    only these measure columns (default all)\n"
    "      --last N              only the last N runs (in the order above)\n"
    "      --check 'COND,...'    exit 5 when a run shown fails a condition\n"
    "                            NAME<X, NAME<=X, NAME>X or NAME>=X (X a number,\n"
    "                            inf or -inf); NAME as the columns show it:\n"
    "                            kl_pq holds for every candidate and every row,\n"
    "                            kl_pq[1] for candidate 1, kl_pq.max and\n"
    "                            kl_pq.median for that summary of the rows,\n"
    "                            kl_pq_ci.lo and .hi for an end of an interval.\n"
    "                            One line per failing run and value on stderr,\n"
    "                            the table or CSV on stdout as usual. A NaN\n"
    "                            fails every condition; a run without the\n"
    "                            measure fails; a measure no run shown has is\n"
    "                            an input error (exit 3), as is no run at all.\n"
    "      --plot OUT.png|.svg|.pdf  also draw each measure over the runs, one line\n"
    "                            per candidate q (the interval NAME_ci as a band\n"
    "                            behind it), as PNG, SVG or PDF by the file's\n"
    "                            extension (runs gnuplot from PATH)\n"
    "  -q, --quiet               nothing on stderr but errors and failed checks\n"
    "  -v, --verbose             show gnuplot's messages\n"
    "  -h, --help                print this help and exit\n"
    "      --version             print the version and exit\n"
    "\n"
    "history starts no MPI and reads the file serially: run it without mpirun or\n"
    "srun (under a launcher every process reads it, and only rank 0 prints and\n"
    "plots).\n"
    "exit codes: 0 success (every condition of --check met), 1 internal, 2 usage\n"
    "(also a malformed --check), 3 input (no such file or group), 4 output (the\n"
    "plot could not be written), 5 a condition of --check failed.\n";

/* Measures of every command in the order CONTRACT.md lists them; columns of
 * other names follow in the order they are first met. */
static const char *const known_measures[] = {"entropy_p",
                                             "entropy_q",
                                             "cross_entropy_pq",
                                             "cross_entropy_qp",
                                             "kl_pq",
                                             "kl_qp",
                                             "js_divergence",
                                             "js_distance",
                                             "total_variation",
                                             "hellinger",
                                             "bhattacharyya",
                                             "chi2_pq",
                                             "chi2_qp",
                                             "wasserstein1",
                                             "ks",
                                             "entropy",
                                             "perplexity",
                                             "total_count",
                                             "nonzero_bins",
                                             "shrinkage_lambda",
                                             "entropy_x",
                                             "entropy_y",
                                             "joint_entropy",
                                             "conditional_entropy_x_given_y",
                                             "conditional_entropy_y_given_x",
                                             "mutual_information",
                                             "normalized_mutual_information",
                                             "variation_of_information"};
#define NKNOWN (sizeof known_measures / sizeof known_measures[0])

typedef struct column {
    char *name;        /* "kl_pq" or "kl_pq[2]" */
    size_t rank, seen; /* known measure index (or NKNOWN), order first met */
    size_t index;      /* order within a measure: scalar, then elements of (k,); stats after each */
} column;

/* One condition of --check: NAME[INDEX].STAT OP LIMIT. */
enum { OP_LT = 0, OP_LE, OP_GT, OP_GE };
static const char *const op_text[] = {"<", "<=", ">", ">="};

typedef struct check_term {
    char *name;  /* the measure (dataset) name, "kl_pq" */
    char *label; /* the name as written, "kl_pq[1].max" */
    long index;  /* the candidate, or -1: every candidate */
    int stat;    /* STAT_NONE: every value; else one summary of the rows or end of an interval */
    int op;
    double limit;
} check_term;

/* A value of a run that fails check term `term`: "kl_pq = 0.2, not < 0.1". */
struct failure {
    size_t term;
    char *text;
};

typedef struct run {
    char *name, *created, *p, *q;
    char *path;    /* FILE:/group of the run, for messages */
    double *value; /* per column */
    unsigned char *has;
    size_t n;             /* cells allocated */
    unsigned char *found; /* per check term: the run has the measure it names */
    struct failure *fail; /* the check's failures */
    size_t nfail, cap_fail;
} run;

typedef struct history {
    run *runs;
    size_t nruns, cap_runs;
    column *cols;
    size_t ncols, cap_cols;
    const char *measures; /* --measures list or NULL */
    const char *file, *group;
    const check_term *terms; /* --check */
    size_t nterms;
    size_t last; /* --last N: only the last N runs; 0: all */
    int failed;  /* out of memory */
} history;

/* An error message into msg[0..len); long paths are cut, not refused. */
static void set_msg(char *msg, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_msg(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(p, n * elem);
    if (q)
        *cap = n;
    return q;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Is `name` (without an index) selected by the comma-separated list? */
static int selected(const char *list, const char *name)
{
    if (!list)
        return 1;
    size_t n = strlen(name);
    for (const char *s = list; *s;) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (len == n && strncmp(s, name, n) == 0)
            return 1;
        s += len + (end ? 1 : 0);
    }
    return 0;
}

/* Summaries of a measure over the rows of 2-D input, and the ends of an
 * interval (NAME_ci, last axis 2), as column suffixes. */
enum { STAT_NONE = 0, STAT_MEDIAN, STAT_MAX, STAT_LO, STAT_HI, STAT_COUNT };
static const char *const stat_suffix[STAT_COUNT] = {"", ".median", ".max", ".lo", ".hi"};

/* Is `name` an interval dataset, NAME_ci? */
static int interval_name(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, "_ci") == 0;
}

/* The column named name[index] (index SIZE_MAX: a scalar) with the suffix
 * of stat, added if new. */
static long column_of(history *h, const char *name, size_t index, int stat)
{
    char full[512];
    if (index == (size_t)-1)
        snprintf(full, sizeof full, "%s%s", name, stat_suffix[stat]);
    else
        snprintf(full, sizeof full, "%s[%zu]%s", name, index, stat_suffix[stat]);
    for (size_t c = 0; c < h->ncols; c++)
        if (strcmp(h->cols[c].name, full) == 0)
            return (long)c;
    column *cols = grow(h->cols, &h->cap_cols, h->ncols + 1, sizeof *cols);
    char *copy = dup_str(full);
    if (!cols || !copy) {
        free(copy);
        if (cols)
            h->cols = cols;
        h->failed = 1;
        return -1;
    }
    h->cols = cols;
    size_t rank = NKNOWN;
    for (size_t k = 0; k < NKNOWN; k++)
        if (strcmp(known_measures[k], name) == 0)
            rank = k;
    h->cols[h->ncols] =
        (column){copy, rank, h->ncols,
                 (index == (size_t)-1 ? 0 : index + 1) * STAT_COUNT + (size_t)stat};
    return (long)h->ncols++;
}

/* A string attribute (fixed or variable length, any number of elements
 * joined with spaces) as a malloc'ed string; "" when absent or not text. */
static char *string_attr(hid_t loc, const char *name)
{
    char *out = NULL;
    if (H5Aexists(loc, name) <= 0)
        return dup_str("");
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ft = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    if (ft >= 0 && sp >= 0 && H5Tget_class(ft) == H5T_STRING) {
        hssize_t n = H5Sget_simple_extent_npoints(sp);
        if (H5Tis_variable_str(ft) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(ft));
            char **v = n > 0 ? calloc((size_t)n, sizeof *v) : NULL;
            if (v && H5Aread(a, mt, v) >= 0) {
                size_t len = 1;
                for (hssize_t i = 0; i < n; i++)
                    len += (v[i] ? strlen(v[i]) : 0) + 1;
                out = malloc(len);
                if (out) {
                    out[0] = '\0';
                    for (hssize_t i = 0; i < n; i++) {
                        if (i)
                            strcat(out, " ");
                        strcat(out, v[i] ? v[i] : "");
                    }
                }
                H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
            }
            free(v);
            H5Tclose(mt);
        } else if (n > 0) {
            size_t size = H5Tget_size(ft);
            char *buf = calloc((size_t)n, size + 1);
            hid_t mt = H5Tcopy(ft);
            if (buf && H5Aread(a, mt, buf) >= 0) {
                out = calloc((size_t)n, size + 1);
                for (hssize_t i = 0; out && i < n; i++) {
                    if (i)
                        strcat(out, " ");
                    strncat(out, buf + (size_t)i * size, size);
                }
            }
            free(buf);
            H5Tclose(mt);
        }
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    if (a >= 0)
        H5Aclose(a);
    return out ? out : dup_str("");
}

/* Number of elements of attribute `name` (1 for a scalar, 0 if absent). */
static size_t attr_elements(hid_t loc, const char *name)
{
    if (H5Aexists(loc, name) <= 0)
        return 0;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : 0;
    if (sp >= 0)
        H5Sclose(sp);
    if (a >= 0)
        H5Aclose(a);
    return n > 0 ? (size_t)n : 0;
}

/* Give a run cells for nc columns; the new ones are empty. */
static int widen(run *r, size_t nc)
{
    if (nc <= r->n)
        return 0;
    double *val = realloc(r->value, nc * sizeof *val);
    if (!val)
        return -1;
    r->value = val;
    unsigned char *has = realloc(r->has, nc);
    if (!has)
        return -1;
    r->has = has;
    memset(has + r->n, 0, nc - r->n);
    r->n = nc;
    return 0;
}

typedef struct visit {
    history *h;
    run *r;
    size_t ncand; /* elements of the run's `q`: candidates */
} visit;

/* Set cell (name, index, stat) of the run. */
static int put_cell(visit *v, const char *name, size_t index, int stat, double x)
{
    long c = column_of(v->h, name, index, stat);
    if (c < 0 || widen(v->r, v->h->ncols) != 0) {
        v->h->failed = 1;
        return -1;
    }
    v->r->value[c] = x;
    v->r->has[c] = 1;
    return 0;
}

/* A value for messages: the shortest text that reads back as the same
 * double; inf, -inf, nan. */
static void short_value(char *buf, size_t len, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, len, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* Does x meet the condition? NaN meets none. */
static int meets(int op, double x, double limit)
{
    switch (op) {
    case OP_LT: return x < limit;
    case OP_LE: return x <= limit;
    case OP_GT: return x > limit;
    default: return x >= limit;
    }
}

/* Record a failure of the run: "LABEL = VALUE, not OP LIMIT[, in N of M rows, worst row R]". */
static void add_failure(visit *v, const check_term *ct, const char *label, double x, size_t row,
                        size_t nbad, size_t nrows)
{
    run *r = v->r;
    struct failure *fail = grow(r->fail, &r->cap_fail, r->nfail + 1, sizeof *fail);
    if (!fail) {
        v->h->failed = 1;
        return;
    }
    r->fail = fail;
    char val[64], lim[64], rows[128] = "";
    short_value(val, sizeof val, x);
    short_value(lim, sizeof lim, ct->limit);
    if (nrows)
        snprintf(rows, sizeof rows, ", in %zu of %zu rows, worst row %zu", nbad, nrows, row);
    size_t n = strlen(label) + strlen(val) + strlen(lim) + strlen(rows) + 32;
    char *line = malloc(n);
    if (!line) {
        v->h->failed = 1;
        return;
    }
    snprintf(line, n, "%s = %s, not %s %s%s", label, val, op_text[ct->op], lim, rows);
    r->fail[r->nfail++] = (struct failure){(size_t)(ct - v->h->terms), line};
}

/* Check term t against an interval read as `groups` candidates of (lo,
 * hi): .lo and .hi name one end, no suffix both. */
static void check_interval(visit *v, size_t t, const double *vals, int cands, size_t groups)
{
    const check_term *ct = &v->h->terms[t];
    if ((ct->index >= 0 && (!cands || (size_t)ct->index >= groups)) ||
        (ct->stat != STAT_NONE && ct->stat != STAT_LO && ct->stat != STAT_HI))
        return; /* found stays 0 */
    v->r->found[t] = 1;
    size_t g0 = ct->index >= 0 ? (size_t)ct->index : 0, g1 = ct->index >= 0 ? g0 + 1 : groups;
    for (size_t g = g0; g < g1 && !v->h->failed; g++)
        for (int end = 0; end < 2; end++) {
            int st = end ? STAT_HI : STAT_LO;
            if (ct->stat != STAT_NONE && ct->stat != st)
                continue;
            char label[600];
            if (cands)
                snprintf(label, sizeof label, "%s[%zu]%s", ct->name, g, stat_suffix[st]);
            else
                snprintf(label, sizeof label, "%s%s", ct->name, stat_suffix[st]);
            if (!meets(ct->op, vals[2 * g + (size_t)end], ct->limit))
                add_failure(v, ct, label, vals[2 * g + (size_t)end], 0, 0, 0);
        }
}

/* Check term t against a measure read as `groups` candidates of `per`
 * values each (rows: per values are the rows of 2-D input). A condition
 * without a summary applies to every value it names: every candidate
 * (unless it names one) and every row. */
static void check_measure(visit *v, size_t t, const double *vals, int cands, int rows,
                          size_t groups, size_t per)
{
    const check_term *ct = &v->h->terms[t];
    if ((ct->index >= 0 && (!cands || (size_t)ct->index >= groups)) ||
        (ct->stat != STAT_NONE && !rows) || ct->stat == STAT_LO || ct->stat == STAT_HI ||
        groups == 0 || per == 0)
        return; /* the run has no such value: found stays 0 */
    v->r->found[t] = 1;
    size_t g0 = ct->index >= 0 ? (size_t)ct->index : 0, g1 = ct->index >= 0 ? g0 + 1 : groups;
    double *tmp = ct->stat != STAT_NONE ? malloc(per * sizeof *tmp) : NULL;
    if (ct->stat != STAT_NONE && !tmp) {
        v->h->failed = 1;
        return;
    }
    for (size_t g = g0; g < g1 && !v->h->failed; g++) {
        char label[600];
        if (cands)
            snprintf(label, sizeof label, "%s[%zu]%s", ct->name, g, stat_suffix[ct->stat]);
        else
            snprintf(label, sizeof label, "%s%s", ct->name, stat_suffix[ct->stat]);
        const double *x = vals + g * per;
        if (ct->stat != STAT_NONE) {
            double mn, med, mx;
            memcpy(tmp, x, per * sizeof *tmp);
            h5div_cli_summary(tmp, per, &mn, &med, &mx);
            double s = ct->stat == STAT_MEDIAN ? med : mx;
            if (!meets(ct->op, s, ct->limit))
                add_failure(v, ct, label, s, 0, 0, 0);
            continue;
        }
        /* Every row: the count of those that fail and the worst of them
         * (the first NaN, else the farthest past the limit). */
        size_t nbad = 0, worst = 0;
        for (size_t i = 0; i < per; i++) {
            if (meets(ct->op, x[i], ct->limit))
                continue;
            if (nbad++ == 0)
                worst = i;
            else if (!isnan(x[worst]) &&
                     (isnan(x[i]) || (ct->op <= OP_LE ? x[i] > x[worst] : x[i] < x[worst])))
                worst = i;
        }
        if (nbad)
            add_failure(v, ct, label, x[worst], worst, nbad, rows ? per : 0);
    }
    free(tmp);
}

/* One numeric dataset of a run group: its values into the run's columns
 * (when selected by --measures) and against the --check terms naming it. */
static herr_t add_measure(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    visit *v = data;
    int checked = 0;
    for (size_t t = 0; t < v->h->nterms; t++)
        checked |= strcmp(v->h->terms[t].name, name) == 0;
    int shown = selected(v->h->measures, name);
    if (!shown && interval_name(name) && v->h->measures) {
        /* NAME_ci goes with NAME: the plot draws it as NAME's band. */
        char base[512];
        snprintf(base, sizeof base, "%.*s", (int)(strlen(name) - 3), name);
        shown = selected(v->h->measures, base);
    }
    if (!shown && !checked)
        return 0;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT); /* fails quietly on a group: skipped */
    if (d < 0)
        return 0;
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    H5T_class_t cls = H5Tget_class(t);
    int nd = H5Sget_simple_extent_ndims(s);
    hsize_t dims[2] = {1, 1};
    if ((cls == H5T_FLOAT || cls == H5T_INTEGER) && nd >= 0 && nd <= 2) {
        if (nd > 0)
            H5Sget_simple_extent_dims(s, dims, NULL);
        /* (k,) over candidates: one column each; a rows axis ((m,) of 2-D
         * input, or (k, m)): the median and the maximum over the rows. An
         * interval NAME_ci, (2,) or (k, 2) over candidates: its ends NAME_ci.lo
         * and NAME_ci.hi; intervals of 2-D input ((m, 2)) are left out. */
        int by_cand = nd == 1 && v->ncand > 1 && dims[0] == v->ncand;
        int is_ci = interval_name(name) && nd >= 1 && dims[nd - 1] == 2;
        int cands = nd == 2 || by_cand, rows = nd == 2 || (nd == 1 && !by_cand);
        size_t groups = nd == 2 ? (size_t)dims[0] : (nd == 1 && !by_cand ? 1 : (size_t)dims[0]);
        size_t per = nd == 2 ? (size_t)dims[1] : (nd == 1 && !by_cand ? (size_t)dims[0] : 1);
        if (is_ci) {
            cands = nd == 2;
            rows = 0;
            groups = cands ? (size_t)dims[0] : 1;
            per = 2;
        }
        int skip = is_ci && cands && !(v->ncand > 1 && dims[0] == v->ncand);
        size_t n = groups * per;
        double *vals = n && !skip ? malloc(n * sizeof *vals) : NULL;
        if (vals && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, vals) >= 0) {
            for (size_t k = 0; k < v->h->nterms && !v->h->failed; k++) {
                if (strcmp(v->h->terms[k].name, name) != 0)
                    continue;
                if (is_ci)
                    check_interval(v, k, vals, cands, groups);
                else
                    check_measure(v, k, vals, cands, rows, groups, per);
            }
            for (size_t i = 0; shown && i < groups && !v->h->failed; i++) {
                size_t index = cands ? i : (size_t)-1;
                if (is_ci) {
                    if (put_cell(v, name, index, STAT_LO, vals[2 * i]) == 0)
                        put_cell(v, name, index, STAT_HI, vals[2 * i + 1]);
                    continue;
                }
                if (!rows) {
                    put_cell(v, name, index, STAT_NONE, vals[i]);
                    continue;
                }
                double mn, med, mx;
                h5div_cli_summary(vals + i * per, per, &mn, &med, &mx);
                if (put_cell(v, name, index, STAT_MEDIAN, med) == 0)
                    put_cell(v, name, index, STAT_MAX, mx);
            }
        }
        free(vals);
    }
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    return v->h->failed ? -1 : 0;
}

/* Read the run in group g (opened) named `name`, at `path` in the file. */
static int load_run(history *h, hid_t g, const char *name, const char *path)
{
    run *runs = grow(h->runs, &h->cap_runs, h->nruns + 1, sizeof *runs);
    if (!runs) {
        h->failed = 1;
        return -1;
    }
    h->runs = runs;
    run *r = &h->runs[h->nruns++];
    memset(r, 0, sizeof *r);
    r->name = dup_str(name);
    r->created = string_attr(g, "created");
    r->p = string_attr(g, "p");
    r->q = string_attr(g, "q");
    size_t n = strlen(h->file) + strlen(path) + 2;
    r->path = malloc(n);
    if (r->path)
        snprintf(r->path, n, "%s:%s", h->file, path);
    r->found = calloc(h->nterms ? h->nterms : 1, 1);
    if (!r->name || !r->created || !r->p || !r->q || !r->path || !r->found ||
        widen(r, h->ncols) != 0)
        h->failed = 1;
    visit v = {h, r, attr_elements(g, "q")};
    hsize_t idx = 0;
    if (!h->failed)
        H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, add_measure, &v);
    return h->failed ? -1 : 0;
}

/* One child of the history group: a run if it is a group. */
static herr_t add_run(hid_t hg, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    history *h = data;
    hid_t g = H5Gopen2(hg, name, H5P_DEFAULT); /* fails quietly on a dataset: skipped */
    if (g < 0)
        return 0;
    size_t n = strlen(h->group) + strlen(name) + 2;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s/%s", h->group, name);
    else
        h->failed = 1;
    if (path)
        load_run(h, g, name, path);
    free(path);
    H5Gclose(g);
    return h->failed ? -1 : 0;
}

/* Children of a group by kind: groups[0] datasets[1]. */
static herr_t count_child(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    size_t *count = data;
    hid_t c = H5Gopen2(g, name, H5P_DEFAULT);
    if (c >= 0) {
        count[0]++;
        H5Gclose(c);
    } else if ((c = H5Dopen2(g, name, H5P_DEFAULT)) >= 0) {
        count[1]++;
        H5Dclose(c);
    }
    return 0;
}

/* Is group g one result group rather than a history of them? It is when
 * h5div wrote it (attribute h5div_version or command), or when it holds
 * datasets and no groups. */
static int is_result_group(hid_t g)
{
    if (H5Aexists(g, "h5div_version") > 0 || H5Aexists(g, "command") > 0)
        return 1;
    size_t count[2] = {0, 0};
    hsize_t idx = 0;
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, count_child, count);
    return count[0] == 0 && count[1] > 0;
}

static int cmp_runs(const void *a, const void *b)
{
    const run *x = a, *y = b;
    int c = strcmp(x->created, y->created);
    return c ? c : strcmp(x->name, y->name);
}

static int cmp_cols(const void *a, const void *b)
{
    const column *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->rank == NKNOWN) {
        /* Unknown names: in the order first met, elements of one measure together. */
        size_t bx = strcspn(x->name, "[."), by = strcspn(y->name, "[.");
        if (bx != by || strncmp(x->name, y->name, bx) != 0)
            return x->seen < y->seen ? -1 : 1;
    }
    return x->index < y->index ? -1 : x->index > y->index ? 1 : 0;
}

static void free_run(run *r)
{
    free(r->name);
    free(r->created);
    free(r->p);
    free(r->q);
    free(r->value);
    free(r->has);
    free(r->path);
    free(r->found);
    for (size_t k = 0; k < r->nfail; k++)
        free(r->fail[k].text);
    free(r->fail);
}

static void free_history(history *h)
{
    for (size_t i = 0; i < h->nruns; i++)
        free_run(&h->runs[i]);
    free(h->runs);
    for (size_t c = 0; c < h->ncols; c++)
        free(h->cols[c].name);
    free(h->cols);
}

/* --last N: drop all but the last N runs, and the columns only they had. */
static void keep_last(history *h)
{
    size_t drop = h->nruns - h->last;
    for (size_t i = 0; i < drop; i++)
        free_run(&h->runs[i]);
    memmove(h->runs, h->runs + drop, h->last * sizeof *h->runs);
    h->nruns = h->last;
    size_t kept = 0;
    for (size_t c = 0; c < h->ncols; c++) {
        int used = 0;
        for (size_t i = 0; i < h->nruns; i++)
            used |= h->runs[i].has[c];
        if (!used) {
            free(h->cols[c].name);
            continue;
        }
        h->cols[kept] = h->cols[c];
        for (size_t i = 0; i < h->nruns; i++) {
            h->runs[i].value[kept] = h->runs[i].value[c];
            h->runs[i].has[kept] = h->runs[i].has[c];
        }
        kept++;
    }
    h->ncols = kept;
}

/* Read the runs of group `group` of `file` (or the one result group it
 * is): their measures into columns, checked against the --check terms. */
static int read_history(const char *file, const char *group, history *h, char *msg, size_t len)
{
    H5E_auto2_t func;
    void *cdata;
    H5Eget_auto2(H5E_DEFAULT, &func, &cdata);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int st = H5DIV_OK;
    hid_t f = H5I_INVALID_HID, g = H5I_INVALID_HID;
    if (access(file, R_OK) != 0) {
        set_msg(msg, len, "cannot read the history file (%s)", file);
        st = H5DIV_EINPUT;
    } else if ((f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        set_msg(msg, len, "not an HDF5 file (%s)", file);
        st = H5DIV_EINPUT;
    } else if ((g = H5Gopen2(f, group, H5P_DEFAULT)) < 0) {
        set_msg(msg, len, "no such group in the history file (%s:%s)", file, group);
        st = H5DIV_EINPUT;
    } else {
        h->file = file;
        h->group = group;
        if (is_result_group(g)) {
            const char *slash = strrchr(group, '/');
            load_run(h, g, slash ? slash + 1 : group, group);
        } else {
            hsize_t idx = 0;
            H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, add_run, h);
        }
        if (h->failed) {
            set_msg(msg, len, "out of memory reading the history (%s:%s)", file, group);
            st = H5DIV_EINTERNAL;
        }
    }
    if (g >= 0)
        H5Gclose(g);
    if (f >= 0)
        H5Fclose(f);
    H5Eset_auto2(H5E_DEFAULT, func, cdata);
    if (st != H5DIV_OK)
        return st;
    /* Runs read before a column appeared have no cell for it: widen them. */
    for (size_t i = 0; i < h->nruns; i++) {
        if (widen(&h->runs[i], h->ncols ? h->ncols : 1) != 0) {
            set_msg(msg, len, "out of memory reading the history (%s:%s)", file, group);
            return H5DIV_EINTERNAL;
        }
    }
    /* Sort the columns and permute every run's cells to match. */
    size_t nc = h->ncols;
    column *sorted = malloc((nc ? nc : 1) * sizeof *sorted);
    double *tv = malloc((nc ? nc : 1) * sizeof *tv);
    unsigned char *th = malloc(nc ? nc : 1);
    if (!sorted || !tv || !th) {
        free(sorted);
        free(tv);
        free(th);
        set_msg(msg, len, "out of memory reading the history (%s:%s)", file, group);
        return H5DIV_EINTERNAL;
    }
    if (nc)
        memcpy(sorted, h->cols, nc * sizeof *sorted);
    qsort(sorted, nc, sizeof *sorted, cmp_cols);
    for (size_t i = 0; i < h->nruns; i++) {
        run *r = &h->runs[i];
        for (size_t c = 0; c < nc; c++) {
            size_t old = sorted[c].seen; /* a column's place before sorting */
            tv[c] = r->value[old];
            th[c] = r->has[old];
        }
        memcpy(r->value, tv, nc * sizeof *tv);
        memcpy(r->has, th, nc);
    }
    memcpy(h->cols, sorted, nc * sizeof *sorted);
    free(sorted);
    free(tv);
    free(th);
    qsort(h->runs, h->nruns, sizeof *h->runs, cmp_runs);
    if (h->last && h->nruns > h->last)
        keep_last(h);
    return H5DIV_OK;
}

static void format_value(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "nan");
    else if (isinf(v))
        snprintf(buf, len, v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, len, "%.17g", v);
}

static void csv_field(FILE *out, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL && s[0] != ' ' && (!*s || s[strlen(s) - 1] != ' ')) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void print_csv(FILE *out, const history *h)
{
    fputs("run,created,p,q", out);
    for (size_t c = 0; c < h->ncols; c++) {
        fputc(',', out);
        csv_field(out, h->cols[c].name);
    }
    fputc('\n', out);
    for (size_t i = 0; i < h->nruns; i++) {
        const run *r = &h->runs[i];
        csv_field(out, r->name);
        fputc(',', out);
        csv_field(out, r->created);
        fputc(',', out);
        csv_field(out, r->p);
        fputc(',', out);
        csv_field(out, r->q);
        for (size_t c = 0; c < h->ncols; c++) {
            char num[64] = "";
            if (r->has[c])
                format_value(num, sizeof num, r->value[c]);
            fputc(',', out);
            fputs(num, out);
        }
        fputc('\n', out);
    }
}

static void print_table(FILE *out, const history *h)
{
    int wn = 3, wc = 7, wp = 1, wq = 1;
    for (size_t i = 0; i < h->nruns; i++) {
        const run *r = &h->runs[i];
        wn = (int)strlen(r->name) > wn ? (int)strlen(r->name) : wn;
        wc = (int)strlen(r->created) > wc ? (int)strlen(r->created) : wc;
        wp = (int)strlen(r->p) > wp ? (int)strlen(r->p) : wp;
        wq = (int)strlen(r->q) > wq ? (int)strlen(r->q) : wq;
    }
    fprintf(out, "%-*s  %-*s  %-*s  %-*s", wn, "run", wc, "created", wp, "p", wq, "q");
    for (size_t c = 0; c < h->ncols; c++) {
        int w = (int)strlen(h->cols[c].name) > 24 ? (int)strlen(h->cols[c].name) : 24;
        fprintf(out, "  %-*s", w, h->cols[c].name);
    }
    fputc('\n', out);
    for (size_t i = 0; i < h->nruns; i++) {
        const run *r = &h->runs[i];
        fprintf(out, "%-*s  %-*s  %-*s  %-*s", wn, r->name, wc, r->created[0] ? r->created : "-",
                wp, r->p[0] ? r->p : "-", wq, r->q[0] ? r->q : "-");
        for (size_t c = 0; c < h->ncols; c++) {
            int w = (int)strlen(h->cols[c].name) > 24 ? (int)strlen(h->cols[c].name) : 24;
            char num[64] = "-";
            if (r->has[c])
                format_value(num, sizeof num, r->value[c]);
            fprintf(out, "  %-*s", w, num);
        }
        fputc('\n', out);
    }
}

/* Days since 1970-01-01 of the date that starts "YYYY-MM-DD...", or -1. */
static long day_number(const char *iso)
{
    int y, m, d;
    if (sscanf(iso, "%4d-%2d-%2d", &y, &m, &d) != 3 || m < 1 || m > 12)
        return -1;
    y -= m <= 2; /* days from civil, proleptic Gregorian */
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* gnuplot on PATH, or NULL. */
static int find_gnuplot(char *path, size_t len)
{
    const char *env = getenv("PATH");
    if (!env || !*env)
        env = "/usr/bin:/bin";
    for (const char *s = env; *s;) {
        const char *end = strchr(s, ':');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        snprintf(path, len, "%.*s/gnuplot", (int)n, n ? s : ".");
        if (access(path, X_OK) == 0)
            return 0;
        s += n + (end ? 1 : 0);
    }
    return -1;
}

/* A gnuplot string literal (single-quoted: only '' needs escaping). */
static void gp_string(FILE *gp, const char *s)
{
    fputc('\'', gp);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', gp);
        if (*s != '\n')
            fputc(*s, gp);
    }
    fputc('\'', gp);
}

/* The gnuplot terminals of the plot formats, chosen by the file's extension
 * (case-insensitive); sizes are pixels for PNG and SVG, inches for PDF. */
typedef struct plot_format {
    const char *ext, *terminal, *fallback; /* fallback: when gnuplot lacks terminal */
    double unit;                           /* size units per pixel of the layout */
    const char *unit_name;
} plot_format;

static const plot_format plot_formats[] = {
    {".png", "pngcairo", "png", 1.0, ""},
    {".svg", "svg", NULL, 1.0, ""},
    {".pdf", "pdfcairo", NULL, 1.0 / 96.0, "in"},
};

static const plot_format *plot_format_of(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof plot_formats / sizeof plot_formats[0]; i++) {
        const char *ext = plot_formats[i].ext;
        size_t e = strlen(ext);
        if (n <= e || path[n - e - 1] == '/')
            continue;
        int same = 1;
        for (size_t k = 0; k < e; k++)
            same &= (path[n - e + k] | 0x20) == ext[k]; /* ext is lower case */
        if (same)
            return &plot_formats[i];
    }
    return NULL;
}

/* The column named `name`, or -1. */
static long column_index(const history *h, const char *name)
{
    for (size_t c = 0; c < h->ncols; c++)
        if (strcmp(h->cols[c].name, name) == 0)
            return (long)c;
    return -1;
}

/* Draw one panel per measure column with a finite value over the runs'
 * `created` times, one line per distinct candidate q (with the interval
 * NAME_ci as a band where runs have one), as PNG, SVG or PDF
 * by the extension of `png` (checked by check_history), written by gnuplot
 * to a temporary file that is renamed into place. gnuplot's own
 * messages go to stderr only with verbose. */
static int plot_history(const history *h, const char *png, int verbose, char *msg, size_t len)
{
    const plot_format *fmt = plot_format_of(png);
    char gnuplot[4096];
    if (find_gnuplot(gnuplot, sizeof gnuplot) != 0) {
        set_msg(msg, len,
                "gnuplot not found on PATH; install it (Debian: apt-get install gnuplot-nox) "
                "to use --plot (%s)",
                png);
        return H5DIV_EOUTPUT;
    }
    /* Columns with at least one finite value in a run that has a time. */
    unsigned char *drawn = calloc(h->ncols ? h->ncols : 1, 1);
    size_t npanels = 0;
    for (size_t c = 0; drawn && c < h->ncols; c++) {
        size_t stat = h->cols[c].index % STAT_COUNT;
        if (stat == STAT_LO || stat == STAT_HI)
            continue; /* interval ends: drawn as the band of their measure */
        for (size_t i = 0; i < h->nruns && !drawn[c]; i++)
            drawn[c] = h->runs[i].created[0] && h->runs[i].has[c] && isfinite(h->runs[i].value[c]);
        npanels += drawn[c];
    }
    if (!drawn || npanels == 0) {
        free(drawn);
        set_msg(msg, len, "the history has no finite measure values to plot (%s)", png);
        return drawn ? H5DIV_EINPUT : H5DIV_EINTERNAL;
    }
    char dir[4096], tmp[4200];
    {
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", png);
        char *slash = strrchr(copy, '/');
        if (slash)
            *slash = '\0';
        snprintf(dir, sizeof dir, "%s", slash ? (copy[0] ? copy : "/") : ".");
    }
    snprintf(tmp, sizeof tmp, "%s/.h5div-plot-XXXXXX", dir);
    int tfd = mkstemp(tmp);
    if (tfd < 0) {
        free(drawn);
        set_msg(msg, len, "cannot create the plot in %s: %s (%s)", dir, strerror(errno), png);
        return H5DIV_EOUTPUT;
    }
    close(tfd);
    /* Distinct candidates, in the order of their first run. */
    size_t *cand = calloc(h->nruns, sizeof *cand), ncand = 0;
    size_t *first = calloc(h->nruns, sizeof *first);
    if (!cand || !first) {
        free(cand);
        free(first);
        free(drawn);
        unlink(tmp);
        set_msg(msg, len, "out of memory (%s)", png);
        return H5DIV_EINTERNAL;
    }
    for (size_t i = 0; i < h->nruns; i++) {
        size_t k = 0;
        while (k < ncand && strcmp(h->runs[first[k]].q, h->runs[i].q) != 0)
            k++;
        if (k == ncand)
            first[ncand++] = i;
        cand[i] = k;
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "'%s' >/dev/null%s", gnuplot, verbose ? "" : " 2>&1");
    FILE *gp = popen(cmd, "w");
    if (!gp) {
        free(cand);
        free(first);
        free(drawn);
        unlink(tmp);
        set_msg(msg, len, "cannot run gnuplot (%s)", png);
        return H5DIV_EOUTPUT;
    }
    size_t cols = npanels > 1 ? 2 : 1, rows = (npanels + cols - 1) / cols;
    double w = (double)(520 * cols) * fmt->unit, ht = (double)(60 + 260 * rows) * fmt->unit;
    if (fmt->fallback)
        fprintf(gp,
                "if (strstrt(' '.GPVAL_TERMINALS.' ', ' %s ') == 0) { set terminal %s size "
                "%g%s,%g%s } else { set terminal %s size %g%s,%g%s font ',9' }\n",
                fmt->terminal, fmt->fallback, w, fmt->unit_name, ht, fmt->unit_name, fmt->terminal,
                w, fmt->unit_name, ht, fmt->unit_name);
    else
        fprintf(gp, "set terminal %s size %g%s,%g%s font ',9'\n", fmt->terminal, w, fmt->unit_name,
                ht, fmt->unit_name);
    fputs("set output ", gp);
    gp_string(gp, tmp);
    /* Runs of one day are told apart by the time, nightly runs by the date
     * (one tic a day for up to two weeks). */
    long first_day = -1, last_day = -1;
    for (size_t i = 0; i < h->nruns; i++) {
        long day = day_number(h->runs[i].created);
        if (day >= 0 && (first_day < 0 || day < first_day))
            first_day = day;
        if (day > last_day)
            last_day = day;
    }
    int one_day = first_day == last_day;
    fprintf(gp,
            "\nset termoption noenhanced\nset datafile missing 'NaN'\nset xdata time\n"
            "set timefmt '%%Y-%%m-%%dT%%H:%%M:%%SZ'\nset format x '%s'\nset xtics rotate by -30\n"
            "set grid\nset key below font ',8'\nset style data linespoints\n"
            "set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05\n",
            one_day ? "%H:%M:%S" : "%Y-%m-%d");
    if (!one_day && last_day - first_day <= 14)
        fputs("set xtics 86400\n", gp);
    /* One data block per candidate: created, then every column. */
    for (size_t k = 0; k < ncand; k++) {
        fprintf(gp, "$c%zu << EOD\n", k);
        for (size_t i = 0; i < h->nruns; i++) {
            const run *r = &h->runs[i];
            if (cand[i] != k || !r->created[0] || strchr(r->created, ' '))
                continue;
            fputs(r->created, gp);
            for (size_t c = 0; c < h->ncols; c++) {
                double v = r->value[c];
                if (r->has[c] && isfinite(v))
                    fprintf(gp, " %.17g", v);
                else
                    fputs(" NaN", gp);
            }
            fputc('\n', gp);
        }
        fputs("EOD\n", gp);
    }
    fprintf(gp, "set multiplot layout %zu,%zu title 'h5div history: %zu runs'\n", rows, cols,
            h->nruns);
    for (size_t c = 0; c < h->ncols; c++) {
        if (!drawn[c])
            continue;
        fputs("set title ", gp);
        gp_string(gp, h->cols[c].name);
        fputs("\nplot ", gp);
        /* The interval NAME_ci (or NAME_ci[j] of NAME[j]) as a band behind
         * the line, in the line's colour, where runs have one. */
        long lo = -1, hi = -1;
        if (h->cols[c].index % STAT_COUNT == STAT_NONE) {
            const char *name = h->cols[c].name;
            size_t base = strcspn(name, "[");
            char want[600];
            snprintf(want, sizeof want, "%.*s_ci%s.lo", (int)base, name, name + base);
            lo = column_index(h, want);
            snprintf(want, sizeof want, "%.*s_ci%s.hi", (int)base, name, name + base);
            hi = column_index(h, want);
        }
        for (size_t k = 0; k < ncand; k++) {
            if (lo >= 0 && hi >= 0)
                fprintf(gp,
                        "%s$c%zu using 1:%ld:%ld with filledcurves fs transparent solid 0.25 "
                        "noborder lt %zu notitle",
                        k ? ", " : "", k, lo + 2, hi + 2, k + 1);
            fprintf(gp, "%s$c%zu using 1:%zu lt %zu title ", k || (lo >= 0 && hi >= 0) ? ", " : "",
                    k, c + 2, k + 1);
            const char *q = h->runs[first[k]].q;
            gp_string(gp, q[0] ? q : "(no q)");
        }
        fputc('\n', gp);
    }
    fputs("unset multiplot\nset output\n", gp);
    free(cand);
    free(first);
    free(drawn);
    int rc = pclose(gp);
    struct stat sb;
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0 || stat(tmp, &sb) != 0 ||
        sb.st_size == 0) {
        unlink(tmp);
        set_msg(msg, len, "gnuplot failed to draw the plot; -v shows its messages (%s)", png);
        return H5DIV_EOUTPUT;
    }
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmp, 0666 & ~mask); /* mkstemp made it private */
    if (rename(tmp, png) != 0) {
        set_msg(msg, len, "cannot move the plot into place: %s (%s)", strerror(errno), png);
        unlink(tmp);
        return H5DIV_EOUTPUT;
    }
    return H5DIV_OK;
}

static void free_terms(check_term *terms, size_t n)
{
    for (size_t t = 0; terms && t < n; t++) {
        free(terms[t].name);
        free(terms[t].label);
    }
    free(terms);
}

/* [s, e) without leading and trailing white space. */
static void trim(const char **s, const char **e)
{
    while (*s < *e && isspace((unsigned char)**s))
        (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

/* Parse --check "NAME OP LIMIT, ..." into *terms (malloc'ed, *n of them).
 * NAME is a measure as history shows it: kl_pq, kl_pq[1], kl_pq.median,
 * kl_pq[1].max; OP is <, <=, > or >=; LIMIT a number, inf or -inf.
 * Returns H5DIV_OK or H5DIV_EUSAGE with one line in msg. */
static int parse_checks(const char *spec, check_term **terms, size_t *n, char *msg)
{
    *terms = NULL;
    *n = 0;
    size_t cap = 1;
    for (const char *c = spec; *c; c++)
        cap += *c == ',';
    check_term *out = calloc(cap, sizeof *out);
    if (!out)
        return h5div_cli_usage(msg, "out of memory (--check)");
    size_t nt = 0;
    const char *s = spec;
    for (;;) {
        const char *end = strchr(s, ','), *stop = end ? end : s + strlen(s);
        const char *b = s, *e = stop;
        trim(&b, &e);
        int len = (int)(e - b);
        const char *op = b;
        while (op < e && *op != '<' && *op != '>')
            op++;
        if (b == e) {
            free_terms(out, nt);
            return h5div_cli_usage(msg,
                                   "empty condition; --check takes NAME<X, NAME<=X, NAME>X or "
                                   "NAME>=X separated by commas (--check %s)",
                                   spec);
        }
        if (op == e) {
            free_terms(out, nt);
            return h5div_cli_usage(msg,
                                   "condition '%.*s' has no operator; the operators are <, <=, >, "
                                   ">= (--check %s)",
                                   len, b, spec);
        }
        check_term *ct = &out[nt];
        int op_kind =
            op[0] == '<' ? (op[1] == '=' ? OP_LE : OP_LT) : (op[1] == '=' ? OP_GE : OP_GT);
        ct->op = op_kind; /* op_kind also for messages after out is freed */
        const char *nb = b, *ne = op, *vb = op + (op_kind == OP_LE || op_kind == OP_GE ? 2 : 1),
                   *ve = e;
        trim(&nb, &ne);
        trim(&vb, &ve);
        /* The limit: a number, inf or -inf; never NaN (nothing would pass). */
        char num[64] = "";
        double limit = 0;
        char *numend = NULL;
        int bad_limit = ve == vb || (size_t)(ve - vb) >= sizeof num;
        if (!bad_limit) {
            memcpy(num, vb, (size_t)(ve - vb));
            num[ve - vb] = '\0';
            errno = 0;
            limit = strtod(num, &numend);
            bad_limit = numend == num || *numend || isnan(limit) ||
                        (errno == ERANGE && isinf(limit));
        }
        if (bad_limit) {
            free_terms(out, nt);
            return h5div_cli_usage(msg,
                                   "condition '%.*s' needs a number, inf or -inf after %s "
                                   "(--check %s)",
                                   len, b, op_text[op_kind], spec);
        }
        ct->limit = limit;
        /* The name: MEASURE, MEASURE[J], each optionally .median or .max. */
        size_t nl = (size_t)(ne - nb);
        ct->stat = STAT_NONE;
        for (int st = STAT_MEDIAN; st < STAT_COUNT; st++) {
            size_t sl = strlen(stat_suffix[st]);
            if (nl > sl && strncmp(ne - sl, stat_suffix[st], sl) == 0) {
                ct->stat = st;
                nl -= sl;
                break;
            }
        }
        ct->index = -1;
        size_t base = nl;
        int bad_name = nl == 0;
        if (!bad_name && nb[nl - 1] == ']') {
            const char *open = memchr(nb, '[', nl);
            bad_name = !open || open == nb || open + 1 == nb + nl - 1;
            for (const char *d = open ? open + 1 : nb; !bad_name && d < nb + nl - 1; d++)
                bad_name = !isdigit((unsigned char)*d) || d - open > 9;
            if (!bad_name) {
                base = (size_t)(open - nb);
                ct->index = strtol(open + 1, NULL, 10);
            }
        }
        for (size_t k = 0; !bad_name && k < base; k++)
            bad_name = isspace((unsigned char)nb[k]) || strchr("[]=!", nb[k]) != NULL;
        if (bad_name) {
            free_terms(out, nt);
            return h5div_cli_usage(msg,
                                   "condition '%.*s' needs a measure name as history shows it "
                                   "(kl_pq, kl_pq[1], kl_pq.max) before %s (--check %s)",
                                   len, b, op_text[op_kind], spec);
        }
        ct->name = malloc(base + 1);
        ct->label = malloc((size_t)(ne - nb) + 1);
        nt++;
        if (!ct->name || !ct->label) {
            free_terms(out, nt);
            return h5div_cli_usage(msg, "out of memory (--check)");
        }
        memcpy(ct->name, nb, base);
        ct->name[base] = '\0';
        memcpy(ct->label, nb, (size_t)(ne - nb));
        ct->label[ne - nb] = '\0';
        if (!end)
            break;
        s = end + 1;
    }
    *terms = out;
    *n = nt;
    return H5DIV_OK;
}

/* The verdict of --check over the runs read: H5DIV_OK (then *failures
 * counts the failing values and missing measures), or H5DIV_EINPUT when
 * there is no run to check or no run has a measure a condition names. */
static int check_verdict(const history *h, size_t *failures, char *msg, size_t len)
{
    *failures = 0;
    if (h->nruns == 0) {
        set_msg(msg, len, "no runs to check (%s:%s)", h->file, h->group);
        return H5DIV_EINPUT;
    }
    for (size_t t = 0; t < h->nterms; t++) {
        size_t have = 0;
        for (size_t i = 0; i < h->nruns; i++)
            have += h->runs[i].found[t];
        if (have == 0) {
            set_msg(msg, len, "no run checked has the measure %s named by --check (%s:%s)",
                    h->terms[t].label, h->file, h->group);
            return H5DIV_EINPUT;
        }
        *failures += h->nruns - have;
    }
    for (size_t i = 0; i < h->nruns; i++)
        *failures += h->runs[i].nfail;
    return H5DIV_OK;
}

/* One line per failure on err: the run, what failed, where. */
static void print_failures(FILE *err, const history *h)
{
    for (size_t i = 0; i < h->nruns; i++) {
        const run *r = &h->runs[i];
        char who[1200];
        if (r->created[0])
            snprintf(who, sizeof who, "run %s (created %s)", r->name, r->created);
        else
            snprintf(who, sizeof who, "run %s", r->name);
        for (size_t t = 0; t < h->nterms; t++) {
            if (!r->found[t])
                fprintf(err, "h5div: check failed: %s: no measure %s (%s)\n", who,
                        h->terms[t].label, r->path);
            for (size_t k = 0; k < r->nfail; k++)
                if (r->fail[k].term == t)
                    fprintf(err, "h5div: check failed: %s: %s (%s)\n", who, r->fail[k].text,
                            r->path);
        }
    }
    fflush(err);
}

static int check_history(h5div_cli_args *a, char *msg)
{
    if (a->npos != 1)
        return h5div_cli_usage(msg,
                               "history needs one history file FILE[:/group], got %d arguments "
                               "(try h5div history --help)",
                               a->npos);
    if (h5div_cli_split_output(a->pos[0], a->out_file, sizeof a->out_file, a->out_path,
                               sizeof a->out_path, "/runs") != 0)
        return h5div_cli_usage(msg, "history must be FILE or FILE:/group, not the root group (%s)",
                               a->pos[0]);
    if (a->plot && !plot_format_of(a->plot))
        return h5div_cli_usage(msg,
                               "the plot is PNG, SVG or PDF: name it .png, .svg or .pdf "
                               "(--plot %s)",
                               a->plot);
    if (a->check) {
        check_term *terms;
        size_t n;
        int st = parse_checks(a->check, &terms, &n, msg);
        free_terms(terms, n);
        return st;
    }
    return H5DIV_OK;
}

/* Serial and without MPI: HDF5's default (sec2) driver reads the file.
 * Under a launcher every process reads it and reaches the same verdict;
 * only rank 0 draws and prints. */
static int run_history(const h5div_cli_ctx *cx, const h5div_cli_args *a)
{
    char msg[H5DIV_CLI_MSG] = "";
    history h;
    memset(&h, 0, sizeof h);
    h.measures = a->measures;
    h.last = a->last;
    check_term *terms = NULL;
    size_t nterms = 0, failures = 0;
    int st = a->check ? parse_checks(a->check, &terms, &nterms, msg) : H5DIV_OK;
    h.terms = terms;
    h.nterms = nterms;
    if (st == H5DIV_OK)
        st = read_history(a->out_file, a->out_path, &h, msg, sizeof msg);
    if (st == H5DIV_OK && a->check)
        st = check_verdict(&h, &failures, msg, sizeof msg);
    /* The plot first: a failed command prints nothing on stdout. */
    if (st == H5DIV_OK && a->plot && cx->rank == 0)
        st = plot_history(&h, a->plot, a->verbose && !a->quiet, msg, sizeof msg);
    if (st == H5DIV_OK && cx->rank == 0) {
        if (failures)
            print_failures(cx->err, &h);
        if (a->csv)
            print_csv(cx->out, &h);
        else
            print_table(cx->out, &h);
        fflush(cx->out);
        if (a->check && !failures && !a->quiet) {
            fprintf(cx->err, "h5div: check passed: %zu condition%s on %zu run%s (%s:%s)\n", nterms,
                    nterms == 1 ? "" : "s", h.nruns, h.nruns == 1 ? "" : "s", a->out_file,
                    a->out_path);
            fflush(cx->err);
        }
    }
    free_history(&h);
    free_terms(terms, nterms);
    if (st != H5DIV_OK) {
        h5div_cli_error(cx, "%s", msg[0] ? msg : h5div_strerror(st));
        return st;
    }
    return failures ? H5DIV_CLI_CHECK_FAILED : H5DIV_OK;
}

const h5div_cli_command h5div_cmd_history = {
    "history",
    "the runs of a result history (FILE:/runs): table, CSV, plot, thresholds",
    history_help,
    H5DIV_CLI_OPT(H5DIV_OPT_CSV) | H5DIV_CLI_OPT(H5DIV_OPT_PLOT) |
        H5DIV_CLI_OPT(H5DIV_OPT_MEASURES) | H5DIV_CLI_OPT(H5DIV_OPT_CHECK) |
        H5DIV_CLI_OPT(H5DIV_OPT_LAST),
    0,
    check_history,
    run_history,
};

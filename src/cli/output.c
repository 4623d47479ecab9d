/* SPDX-License-Identifier: BSD-3-Clause */
/* Text table and JSON output of batch results: one value, or arrays over rows and candidates. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "par/par.h"

#define FIRST_ROWS 5

/* "units" is the unit of the base (kept for readers of the first JSON
 * layout); "measure_units" gives each measure's own, "1" for unitless ones. */
void h5div_cli_json_head(FILE *out, const char *command, h5div_base base, int ranks)
{
    fputs("{\"command\": ", out);
    h5div_cli_json_string(out, command);
    fputs(", \"version\": ", out);
    h5div_cli_json_string(out, h5div_version_string());
    fprintf(out, ", \"base\": \"%s\", \"units\": \"%s\", \"ranks\": %d,\n", h5div_base_name(base),
            h5div_base_units(base), ranks);
}

void h5div_cli_json_units(FILE *out, const char *const *names, const char *const *units, int n)
{
    fputs(",\n \"measure_units\": {", out);
    for (int i = 0; i < n; i++) {
        fputs(i ? ", " : "", out);
        h5div_cli_json_string(out, names[i]);
        fputs(": ", out);
        h5div_cli_json_string(out, units[i]);
    }
    fputc('}', out);
}

/* 17 significant digits round-trip every double; non-finite values as text. */
void h5div_cli_json_number(FILE *out, double v)
{
    if (isnan(v))
        fputs("\"nan\"", out);
    else if (isinf(v))
        fputs(v > 0 ? "\"inf\"" : "\"-inf\"", out);
    else
        fprintf(out, "%.17g", v);
}

void h5div_cli_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

void h5div_cli_number(char *buf, size_t len, double v)
{
    if (isfinite(v))
        snprintf(buf, len, "%.17g", v);
    else
        snprintf(buf, len, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    /* NaN sorts last */
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return (x > y) - (x < y);
}

/* Rearrange v[0..n) so that v[k] holds the value of rank k in the order of
 * cmp_double, smaller ones before it and larger ones after (quickselect,
 * median-of-three pivot): linear time, where sorting a million rows per
 * measure would dominate printing the table. */
static void select_kth(double *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_double(&v[mid], &v[lo]) < 0) {
            double t = v[mid];
            v[mid] = v[lo];
            v[lo] = t;
        }
        if (cmp_double(&v[hi], &v[lo]) < 0) {
            double t = v[hi];
            v[hi] = v[lo];
            v[lo] = t;
        }
        if (cmp_double(&v[hi], &v[mid]) < 0) {
            double t = v[hi];
            v[hi] = v[mid];
            v[mid] = t;
        }
        double pivot = v[mid];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (cmp_double(&v[i], &pivot) < 0)
                i++;
            while (cmp_double(&v[j], &pivot) > 0)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

void h5div_cli_summary(double *v, size_t n, double *min, double *median, double *max)
{
    double mn = v[0], mx = v[0];
    for (size_t i = 1; i < n; i++) {
        if (cmp_double(&v[i], &mn) < 0)
            mn = v[i];
        if (cmp_double(&v[i], &mx) > 0)
            mx = v[i];
    }
    *min = mn;
    *max = mx;
    select_kth(v, n, n / 2);
    double upper = v[n / 2];
    if (n % 2) {
        *median = upper;
        return;
    }
    /* The lower middle value is the largest of those before it. */
    double lower = v[0];
    for (size_t i = 1; i < n / 2; i++)
        if (cmp_double(&v[i], &lower) > 0)
            lower = v[i];
    *median = 0.5 * lower + 0.5 * upper;
}

static void json_array(FILE *out, const double *v, uint64_t n)
{
    fputc('[', out);
    for (uint64_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", out);
        h5div_cli_json_number(out, v[i]);
    }
    fputc(']', out);
}

/* What a JSON object of the batch holds per (candidate, column, row). */
enum { JSON_VALUE, JSON_SE, JSON_CI, JSON_P };

/* Whether column i has a p-value (--null). */
static int has_p(const h5div_batch *b, int i)
{
    return b->nnull && (b->tested >> i & 1u);
}

/* Collective: column i of candidate c for every row into buf on rank 0:
 * the values, or with --bootstrap the standard errors or the intervals
 * (pairs), or with --null the p-values. */
static int gather_column(const h5div_cli_ctx *cx, const h5div_batch *b, int c, int i, int what,
                         double *buf)
{
    if (what == JSON_VALUE)
        return h5div_compare_batch_gather(cx->comm, b, c, i, 0, buf);
    const uint64_t w = what == JSON_CI ? 2 : 1;
    const double *src = what == JSON_CI ? b->ci : what == JSON_P ? b->p_value : b->se;
    const double *mine = src + ((size_t)c * (size_t)b->ncolumns + (size_t)i) * b->row_count * w;
    return h5div_par_gather_rows(cx->comm, mine, b->row_count * w, b->rows * w, 0, buf);
}

/* The members of one JSON object keyed by measure ("measures", "se", "ci",
 * "p_value": the measures that have one): arrays over candidates (k > 1) of
 * arrays over rows (2-D) of a number, or of [lo, hi] for the intervals.
 * Collective; rank 0 prints. */
static int print_json_columns(const h5div_cli_ctx *cx, const h5div_batch *b, int what, double *buf)
{
    FILE *out = cx->out;
    const int k = b->candidates, root = cx->rank == 0;
    for (int i = 0, n = 0; i < b->ncolumns; i++) {
        if (what == JSON_P && !has_p(b, i))
            continue;
        if (root) {
            fprintf(out, "%s\"%s\": ", n++ ? ", " : "", b->columns[i].name);
            if (k > 1)
                fputc('[', out);
        }
        for (int c = 0; c < k; c++) {
            H5DIV_CHECK(gather_column(cx, b, c, i, what, buf));
            if (!root)
                continue;
            if (c)
                fputs(", ", out);
            if (b->two_d)
                fputc('[', out);
            for (uint64_t r = 0; r < (b->two_d ? b->rows : 1); r++) {
                if (r)
                    fputs(", ", out);
                if (what == JSON_CI)
                    json_array(out, buf + 2 * r, 2);
                else
                    h5div_cli_json_number(out, buf[r]);
            }
            if (b->two_d)
                fputc(']', out);
        }
        if (root && k > 1)
            fputc(']', out);
    }
    return H5DIV_OK;
}

static int print_json(const h5div_cli_ctx *cx, const h5div_batch *b, h5div_base base,
                      const h5div_batch_inputs *in, double *buf)
{
    FILE *out = cx->out;
    const int k = b->candidates, root = cx->rank == 0;
    if (root) {
        h5div_cli_json_head(out, b->command, base, cx->size);
        fputs(" \"inputs\": {\"p\": ", out);
        h5div_cli_json_string(out, in->p_ref);
        if (in->q_refs) {
            fputs(", \"q\": ", out);
            if (k > 1)
                fputc('[', out);
            for (int c = 0; c < k; c++) {
                if (c)
                    fputs(", ", out);
                h5div_cli_json_string(out, in->q_refs[c]);
            }
            if (k > 1)
                fputc(']', out);
        }
        fputs("},\n", out);
        if (in->estimator) {
            char est[64];
            if (!strcmp(in->estimator, "dirichlet"))
                snprintf(est, sizeof est, "dirichlet:%.17g", in->dirichlet_a);
            else
                snprintf(est, sizeof est, "%s", in->estimator);
            fputs(" \"estimator\": ", out);
            h5div_cli_json_string(out, est);
            fputs(",\n", out);
        }
        fputs(" \"measures\": {", out);
    }
    H5DIV_CHECK(print_json_columns(cx, b, JSON_VALUE, buf));
    const char *names[H5DIV_COMPARE_MAX_COLUMNS], *units[H5DIV_COMPARE_MAX_COLUMNS];
    if (root) {
        for (int i = 0; i < b->ncolumns; i++) {
            names[i] = b->columns[i].name;
            units[i] = b->columns[i].units;
        }
        fputc('}', out);
    }
    static const char *const key[] = {"measures", "se", "ci", "p_value"};
    for (int what = JSON_SE; what <= JSON_P; what++) {
        if (what == JSON_P ? !b->nnull : !b->nrep)
            continue;
        if (root)
            fprintf(out, ",\n \"%s\": {", key[what]);
        H5DIV_CHECK(print_json_columns(cx, b, what, buf));
        if (root)
            fputc('}', out);
    }
    if (root) {
        h5div_cli_json_units(out, names, units, b->ncolumns);
        fputs("}\n", out);
    }
    return H5DIV_OK;
}

/* The table's heading of candidate c: its reference when there are
 * several, then the column titles. Rank 0 only. */
static void print_table_head(FILE *out, const h5div_batch *b, int c, const char *const *q_refs)
{
    if (b->candidates > 1)
        fprintf(out, "%scandidate %d: %s\n", c ? "\n" : "", c, q_refs[c]);
    char ptitle[40] = "";
    if (b->nnull)
        snprintf(ptitle, sizeof ptitle, "p-value (B = %llu)", (unsigned long long)b->nnull);
    if (b->two_d)
        fprintf(out, "%-22s %-24s %-24s %-24s %s\n", "measure", "min", "median", "max", "units");
    else if (b->nrep)
        fprintf(out, "%-22s %s (%g%% interval, %llu replicates)  %s%s%s\n", "measure",
                "value \u00b1 se [lo, hi]", 100.0 * b->ci_level, (unsigned long long)b->nrep,
                ptitle, b->nnull ? "  " : "", "units");
    else if (b->nnull)
        fprintf(out, "%-22s %-24s %-24s %s\n", "measure", "value", ptitle, "units");
    else
        fprintf(out, "%-22s %-24s %s\n", "measure", "value", "units");
}

/* What one column of one candidate shows besides its values (1-D: on rank
 * 0; 2-D: the rows of each in buf after the values). */
typedef struct table_cell {
    double se, lohi[2], pv; /* 1-D: standard error, interval, p-value */
    double *pbuf;           /* 2-D: the rows of the p-values */
} table_cell;

/* Collective: column i of candidate c into buf on rank 0 (every row), with
 * its standard errors, interval and p-value where the batch has them. */
static int gather_cell(const h5div_cli_ctx *cx, const h5div_batch *b, int c, int i, double *buf,
                       table_cell *cell)
{
    const int root = cx->rank == 0;
    int st = h5div_compare_batch_gather(cx->comm, b, c, i, 0, buf);
    if (st != H5DIV_OK)
        return st;
    *cell = (table_cell){0.0, {0.0, 0.0}, 0.0, buf + b->rows * (b->nrep ? 2 : 1)};
    if (b->two_d && b->nrep)
        H5DIV_CHECK(gather_column(cx, b, c, i, JSON_SE, buf + b->rows));
    if (b->two_d && has_p(b, i))
        H5DIV_CHECK(gather_column(cx, b, c, i, JSON_P, cell->pbuf));
    if (!b->two_d && b->nrep) {
        H5DIV_CHECK(gather_column(cx, b, c, i, JSON_SE, &buf[1]));
        if (root)
            cell->se = buf[1];
        H5DIV_CHECK(gather_column(cx, b, c, i, JSON_CI, &buf[1]));
        if (root)
            cell->lohi[0] = buf[1], cell->lohi[1] = buf[2];
    }
    if (!b->two_d && has_p(b, i)) {
        H5DIV_CHECK(gather_column(cx, b, c, i, JSON_P, &buf[1]));
        if (root)
            cell->pv = buf[1];
    }
    return H5DIV_OK;
}

/* The line of a 1-D column i: its value v, with --bootstrap "value ± se
 * [lo, hi]", with --null its p-value. Rank 0 only. */
static void print_value_line(FILE *out, const h5div_batch *b, int i, double v,
                             const table_cell *cell)
{
    const char *units = b->columns[i].units;
    char v0[40], v1[40], v2[40], p[48] = "";
    if (has_p(b, i)) {
        h5div_cli_number(v1, sizeof v1, cell->pv);
        snprintf(p, sizeof p, "%s%s", b->nrep ? "p = " : "", v1);
    }
    h5div_cli_number(v0, sizeof v0, v);
    if (b->nrep) {
        /* value ± se [lo, hi] [p = P] */
        char v3[40], ci[96], text[200];
        h5div_cli_number(v1, sizeof v1, cell->se);
        h5div_cli_number(v2, sizeof v2, cell->lohi[0]);
        h5div_cli_number(v3, sizeof v3, cell->lohi[1]);
        snprintf(ci, sizeof ci, "[%s, %s]", v2, v3);
        snprintf(text, sizeof text, "%s \u00b1 %s %s", v0, v1, ci);
        fprintf(out, "%-22s %s  %s%s%s\n", b->columns[i].name, text, p, p[0] ? "  " : "", units);
    } else if (b->nnull) {
        fprintf(out, "%-22s %-24s %-24s %s\n", b->columns[i].name, v0, p, units);
    } else {
        fprintf(out, "%-22s %-24s %s\n", b->columns[i].name, v0, units);
    }
}

/* The min, median and max of rows v[0..n) (reordered) as a line of the
 * table: name, NAME followed by suffix. */
static void print_summary_line(FILE *out, const char *name, const char *suffix, double *v,
                               uint64_t n, const char *units)
{
    char label[64], v0[40], v1[40], v2[40];
    double mn, med, mx;
    snprintf(label, sizeof label, "%s%s", name, suffix);
    h5div_cli_summary(v, (size_t)n, &mn, &med, &mx);
    h5div_cli_number(v0, sizeof v0, mn);
    h5div_cli_number(v1, sizeof v1, med);
    h5div_cli_number(v2, sizeof v2, mx);
    fprintf(out, "%-22s %-24s %-24s %-24s %s\n", label, v0, v1, v2, units);
}

/* The lines of a 2-D column i (values in buf, their standard errors after
 * them, p-values in cell->pbuf): the values' summary, then NAME_se and
 * NAME_p_value where the batch has them. Rank 0 only. */
static void print_rows_lines(FILE *out, const h5div_batch *b, int i, double *buf,
                             const table_cell *cell)
{
    const char *name = b->columns[i].name, *units = b->columns[i].units;
    print_summary_line(out, name, "", buf, b->rows, units);
    if (b->nrep)
        print_summary_line(out, name, "_se", buf + b->rows, b->rows, units);
    if (has_p(b, i))
        print_summary_line(out, name, "_p_value", cell->pbuf, b->rows, "1");
}

/* The first rows of every column of a 2-D candidate, head[i][r]. Rank 0
 * only. */
static void print_first_rows(FILE *out, const h5div_batch *b,
                             double head[H5DIV_COMPARE_MAX_COLUMNS][FIRST_ROWS], uint64_t first)
{
    const int last = b->ncolumns - 1;
    fprintf(out, "first rows:\n%-8s", "row");
    for (int i = 0; i < b->ncolumns; i++)
        fprintf(out, i < last ? " %-24s" : " %s", b->columns[i].name);
    fputc('\n', out);
    for (uint64_t r = 0; r < first; r++) {
        fprintf(out, "%-8llu", (unsigned long long)r);
        for (int i = 0; i < b->ncolumns; i++) {
            char v[40];
            h5div_cli_number(v, sizeof v, head[i][r]);
            fprintf(out, i < last ? " %-24s" : " %s", v);
        }
        fputc('\n', out);
    }
}

/* The text table of the batch, candidate by candidate. Collective; rank 0
 * prints. */
static int print_table(const h5div_cli_ctx *cx, const h5div_batch *b, const char *const *q_refs,
                       double *buf)
{
    FILE *out = cx->out;
    const int root = cx->rank == 0;
    const uint64_t first = b->rows < FIRST_ROWS ? b->rows : FIRST_ROWS;
    double head[H5DIV_COMPARE_MAX_COLUMNS][FIRST_ROWS];
    for (int c = 0; c < b->candidates; c++) {
        if (root)
            print_table_head(out, b, c, q_refs);
        for (int i = 0; i < b->ncolumns; i++) {
            table_cell cell;
            H5DIV_CHECK(gather_cell(cx, b, c, i, buf, &cell));
            if (!root)
                continue;
            if (!b->two_d) {
                print_value_line(out, b, i, buf[0], &cell);
                continue;
            }
            for (uint64_t r = 0; r < first; r++)
                head[i][r] = buf[r];
            print_rows_lines(out, b, i, buf, &cell);
        }
        if (root && b->two_d)
            print_first_rows(out, b, head, first);
    }
    return H5DIV_OK;
}

int h5div_print_batch(const h5div_cli_ctx *cx, const h5div_batch *b, h5div_base base, int json,
                      const h5div_batch_inputs *in)
{
    /* Rank 0 holds one measure of one candidate at a time: rows doubles. */
    double *buf = NULL;
    int ok = 1;
    if (cx->rank == 0)
        ok = (buf = malloc((size_t)(b->rows * (1u + !!b->nrep + !!b->nnull) + 2) * sizeof *buf)) !=
             NULL;
    char msg[H5DIV_CLI_MSG] = "out of memory for the printed results";
    int st = h5div_cli_agree(cx, ok ? H5DIV_OK : H5DIV_EINTERNAL, msg);
    if (st == H5DIV_OK)
        st = json ? print_json(cx, b, base, in, buf) : print_table(cx, b, in->q_refs, buf);
    free(buf);
    if (cx->rank == 0)
        fflush(cx->out);
    return st;
}

int h5div_cli_finish_batch(const h5div_cli_ctx *cx, const h5div_cli_args *a,
                           const h5div_cli_output *out, const h5div_options *opt, h5div_batch *b,
                           h5div_batch_inputs *in, int st, char *msg)
{
    if (st == H5DIV_OK && a->output) {
        char *cmd = h5div_cli_command_line(cx);
        in->command = cmd;
        st = h5div_write_batch(cx->comm, out->file, out->group, a->overwrite, opt, b, in, msg,
                               H5DIV_CLI_MSG);
        in->command = NULL;
        free(cmd);
    }
    if (st == H5DIV_OK)
        st = h5div_print_batch(cx, b, opt->base, a->json, in);
    h5div_batch_free(b);
    if (st != H5DIV_OK)
        h5div_cli_error(cx, "%s", msg[0] ? msg : h5div_strerror(st));
    return st;
}

/* See cli.h: the common run of compare and entropy. */
int h5div_cli_run_batch(const h5div_cli_ctx *cx, const h5div_cli_args *a,
                        h5div_cli_batch_fn evaluate, h5div_cli_batch_done *done)
{
    h5div_options opt = a->opt;
    h5div_cli_progress progress;
    h5div_cli_progress_setup(cx, a, &opt, &progress);
    char msg[H5DIV_CLI_MSG] = "";
    double t0 = MPI_Wtime();
    h5div_cli_output out;
    int st = h5div_cli_output_check(cx, a, &out, msg);
    h5div_batch res;
    memset(&res, 0, sizeof res);
    h5div_batch_inputs in = {NULL, a->pos[0], NULL, NULL, 0.0, 0.0};
    if (st == H5DIV_OK)
        st = evaluate(cx, a, &opt, &res, &in, msg);
    in.elapsed_seconds = MPI_Wtime() - t0;
    *done = (h5div_cli_batch_done){res.rows, res.bins, res.two_d, in.elapsed_seconds};
    return h5div_cli_finish_batch(cx, a, &out, &opt, &res, &in, st, msg);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div history: the result groups under /runs of a history file, as a table, CSV or plot,
 * and checked against thresholds (--check). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/history.h"

/* One line of help a line of source, the shared lines from cli.h. */
/* clang-format off */
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
    H5DIV_CLI_HELP_VERSION
    "\n"
    "history starts no MPI and reads the file serially: run it without mpirun or\n"
    "srun (under a launcher every process reads it, and only rank 0 prints and\n"
    "plots).\n"
    "exit codes: 0 success (every condition of --check met), 1 internal, 2 usage\n"
    "(also a malformed --check), 3 input (no such file or group), 4 output (the\n"
    "plot could not be written), 5 a condition of --check failed.\n";
/* clang-format on */

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

static void print_csv(FILE *out, const h5div_hist *h)
{
    fputs("run,created,p,q", out);
    for (size_t c = 0; c < h->ncols; c++) {
        fputc(',', out);
        csv_field(out, h->cols[c].name);
    }
    fputc('\n', out);
    for (size_t i = 0; i < h->nruns; i++) {
        const h5div_hist_run *r = &h->runs[i];
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
                h5div_cli_number(num, sizeof num, r->value[c]);
            fputc(',', out);
            fputs(num, out);
        }
        fputc('\n', out);
    }
}

static int widest(int w, const char *s)
{
    return (int)strlen(s) > w ? (int)strlen(s) : w;
}

static void print_table(FILE *out, const h5div_hist *h)
{
    int wn = 3, wc = 7, wp = 1, wq = 1;
    for (size_t i = 0; i < h->nruns; i++) {
        const h5div_hist_run *r = &h->runs[i];
        wn = widest(wn, r->name);
        wc = widest(wc, r->created);
        wp = widest(wp, r->p);
        wq = widest(wq, r->q);
    }
    fprintf(out, "%-*s  %-*s  %-*s  %-*s", wn, "run", wc, "created", wp, "p", wq, "q");
    for (size_t c = 0; c < h->ncols; c++)
        fprintf(out, "  %-*s", widest(24, h->cols[c].name), h->cols[c].name);
    fputc('\n', out);
    for (size_t i = 0; i < h->nruns; i++) {
        const h5div_hist_run *r = &h->runs[i];
        fprintf(out, "%-*s  %-*s  %-*s  %-*s", wn, r->name, wc, r->created[0] ? r->created : "-",
                wp, r->p[0] ? r->p : "-", wq, r->q[0] ? r->q : "-");
        for (size_t c = 0; c < h->ncols; c++) {
            char num[64] = "-";
            if (r->has[c])
                h5div_cli_number(num, sizeof num, r->value[c]);
            fprintf(out, "  %-*s", widest(24, h->cols[c].name), num);
        }
        fputc('\n', out);
    }
}

static int check_history(h5div_cli_args *a, char *msg)
{
    if (h5div_cli_split_output(a->pos[0], a->out_file, sizeof a->out_file, a->out_path,
                               sizeof a->out_path, "/runs") != 0)
        return h5div_cli_usage(msg, "history must be FILE or FILE:/group, not the root group (%s)",
                               a->pos[0]);
    if (a->plot && !h5div_hist_plot_named(a->plot))
        return h5div_cli_usage(msg,
                               "the plot is PNG, SVG or PDF: name it .png, .svg or .pdf "
                               "(--plot %s)",
                               a->plot);
    if (a->check) {
        h5div_hist_term *terms;
        size_t n;
        int st = h5div_hist_parse_checks(a->check, &terms, &n, msg);
        h5div_hist_free_terms(terms, n);
        return st;
    }
    return H5DIV_OK;
}

/* On rank 0, after a successful read: the failures of --check on err, the
 * table or CSV on out, and a line when every condition held. */
static void print_history(const h5div_cli_ctx *cx, const h5div_cli_args *a, const h5div_hist *h,
                          size_t failures)
{
    if (failures)
        h5div_hist_print_failures(cx->err, h);
    if (a->csv)
        print_csv(cx->out, h);
    else
        print_table(cx->out, h);
    fflush(cx->out);
    if (a->check && !failures && !a->quiet) {
        fprintf(cx->err, "h5div: check passed: %zu condition%s on %zu run%s (%s:%s)\n", h->nterms,
                h->nterms == 1 ? "" : "s", h->nruns, h->nruns == 1 ? "" : "s", a->out_file,
                a->out_path);
        fflush(cx->err);
    }
}

/* Serial and without MPI: the history reader reads the file. Under a
 * launcher every process reads it and reaches the same verdict; only rank
 * 0 draws and prints. */
static int run_history(const h5div_cli_ctx *cx, const h5div_cli_args *a)
{
    char msg[H5DIV_CLI_MSG] = "";
    h5div_hist h;
    memset(&h, 0, sizeof h);
    h.measures = a->measures;
    h.last = a->last;
    h5div_hist_term *terms = NULL;
    size_t nterms = 0, failures = 0;
    int st = a->check ? h5div_hist_parse_checks(a->check, &terms, &nterms, msg) : H5DIV_OK;
    h.terms = terms;
    h.nterms = nterms;
    if (st == H5DIV_OK)
        st = h5div_hist_load(a->out_file, a->out_path, &h, msg, sizeof msg);
    if (st == H5DIV_OK && a->check)
        st = h5div_hist_verdict(&h, &failures, msg, sizeof msg);
    /* The plot first: a failed command prints nothing on stdout. */
    if (st == H5DIV_OK && a->plot && cx->rank == 0)
        st = h5div_hist_plot(&h, a->plot, a->verbose && !a->quiet, msg, sizeof msg);
    if (st == H5DIV_OK && cx->rank == 0)
        print_history(cx, a, &h, failures);
    h5div_hist_free(&h);
    h5div_hist_free_terms(terms, nterms);
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
    "one history file FILE[:/group]",
};

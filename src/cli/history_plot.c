/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div history --plot: each measure over the runs, drawn by gnuplot as PNG, SVG or PDF. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/history.h"

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

/* One plot being drawn: its panels (the columns drawn), the distinct
 * candidates q in the order of their first run, and the temporary file
 * gnuplot writes. */
typedef struct plot {
    const h5div_hist *h;
    const plot_format *fmt;
    unsigned char *drawn; /* per column */
    size_t npanels, rows, cols;
    size_t *cand;  /* per run: its candidate */
    size_t *first; /* per candidate: its first run */
    size_t ncand;
    char tmp[4200];
} plot;

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

int h5div_hist_plot_named(const char *path)
{
    return plot_format_of(path) != NULL;
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

/* gnuplot on PATH, or -1. */
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

/* The panels: columns with at least one finite value in a run that has a
 * time; interval ends are drawn as the band of their measure instead. */
static void mark_panels(plot *pl)
{
    const h5div_hist *h = pl->h;
    for (size_t c = 0; c < h->ncols; c++) {
        size_t stat = h->cols[c].index % H5DIV_HIST_NSTATS;
        if (stat == H5DIV_HIST_LO || stat == H5DIV_HIST_HI)
            continue;
        for (size_t i = 0; i < h->nruns && !pl->drawn[c]; i++)
            pl->drawn[c] =
                h->runs[i].created[0] && h->runs[i].has[c] && isfinite(h->runs[i].value[c]);
        pl->npanels += pl->drawn[c];
    }
    pl->cols = pl->npanels > 1 ? 2 : 1;
    pl->rows = (pl->npanels + pl->cols - 1) / pl->cols;
}

/* A new private file next to `path` for gnuplot to write. */
static int make_temp(plot *pl, const char *path, char *msg, size_t len)
{
    char dir[4096], copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    char *slash = strrchr(copy, '/');
    if (slash)
        *slash = '\0';
    snprintf(dir, sizeof dir, "%s", slash ? (copy[0] ? copy : "/") : ".");
    snprintf(pl->tmp, sizeof pl->tmp, "%s/.h5div-plot-XXXXXX", dir);
    int fd = mkstemp(pl->tmp);
    if (fd < 0) {
        snprintf(msg, len, "cannot create the plot in %s: %s (%s)", dir, strerror(errno), path);
        return H5DIV_EOUTPUT;
    }
    close(fd);
    return H5DIV_OK;
}

/* Distinct candidates, in the order of their first run. */
static int find_candidates(plot *pl)
{
    const h5div_hist *h = pl->h;
    pl->cand = calloc(h->nruns, sizeof *pl->cand);
    pl->first = calloc(h->nruns, sizeof *pl->first);
    if (!pl->cand || !pl->first)
        return -1;
    for (size_t i = 0; i < h->nruns; i++) {
        size_t k = 0;
        while (k < pl->ncand && strcmp(h->runs[pl->first[k]].q, h->runs[i].q) != 0)
            k++;
        if (k == pl->ncand)
            pl->first[pl->ncand++] = i;
        pl->cand[i] = k;
    }
    return 0;
}

/* The terminal of the format, its size by the panels, and the output. */
static void gp_terminal(FILE *gp, const plot *pl)
{
    const plot_format *fmt = pl->fmt;
    double w = (double)(520 * pl->cols) * fmt->unit;
    double ht = (double)(60 + 260 * pl->rows) * fmt->unit;
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
    gp_string(gp, pl->tmp);
}

/* The time axis: runs of one day are told apart by the time, nightly runs
 * by the date (one tic a day for up to two weeks). */
static void gp_time_axis(FILE *gp, const h5div_hist *h)
{
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
}

/* One data block per candidate: created, then every column. */
static void gp_data(FILE *gp, const plot *pl)
{
    const h5div_hist *h = pl->h;
    for (size_t k = 0; k < pl->ncand; k++) {
        fprintf(gp, "$c%zu << EOD\n", k);
        for (size_t i = 0; i < h->nruns; i++) {
            const h5div_hist_run *r = &h->runs[i];
            if (pl->cand[i] != k || !r->created[0] || strchr(r->created, ' '))
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
}

/* The panel of column c: one line per candidate, with the interval
 * NAME_ci (or NAME_ci[j] of NAME[j]) as a band behind it, in the line's
 * colour, where runs have one. */
static void gp_panel(FILE *gp, const plot *pl, size_t c)
{
    const h5div_hist *h = pl->h;
    fputs("set title ", gp);
    gp_string(gp, h->cols[c].name);
    fputs("\nplot ", gp);
    long lo = -1, hi = -1;
    if (h->cols[c].index % H5DIV_HIST_NSTATS == H5DIV_HIST_NONE) {
        const char *name = h->cols[c].name;
        size_t base = strcspn(name, "[");
        char want[600];
        snprintf(want, sizeof want, "%.*s_ci%s.lo", (int)base, name, name + base);
        lo = h5div_hist_column_index(h, want);
        snprintf(want, sizeof want, "%.*s_ci%s.hi", (int)base, name, name + base);
        hi = h5div_hist_column_index(h, want);
    }
    int band = lo >= 0 && hi >= 0;
    for (size_t k = 0; k < pl->ncand; k++) {
        if (band)
            fprintf(gp,
                    "%s$c%zu using 1:%ld:%ld with filledcurves fs transparent solid 0.25 "
                    "noborder lt %zu notitle",
                    k ? ", " : "", k, lo + 2, hi + 2, k + 1);
        fprintf(gp, "%s$c%zu using 1:%zu lt %zu title ", k || band ? ", " : "", k, c + 2, k + 1);
        const char *q = h->runs[pl->first[k]].q;
        gp_string(gp, q[0] ? q : "(no q)");
    }
    fputc('\n', gp);
}

/* The whole gnuplot script. */
static void gp_script(FILE *gp, const plot *pl)
{
    const h5div_hist *h = pl->h;
    gp_terminal(gp, pl);
    gp_time_axis(gp, h);
    gp_data(gp, pl);
    fprintf(gp, "set multiplot layout %zu,%zu title 'h5div history: %zu runs'\n", pl->rows,
            pl->cols, h->nruns);
    for (size_t c = 0; c < h->ncols; c++)
        if (pl->drawn[c])
            gp_panel(gp, pl, c);
    fputs("unset multiplot\nset output\n", gp);
}

/* After gnuplot exited with rc: the drawn file moved over `path`. */
static int finish_plot(int rc, const char *tmp, const char *path, char *msg, size_t len)
{
    struct stat sb;
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0 || stat(tmp, &sb) != 0 ||
        sb.st_size == 0) {
        unlink(tmp);
        snprintf(msg, len, "gnuplot failed to draw the plot; -v shows its messages (%s)", path);
        return H5DIV_EOUTPUT;
    }
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmp, 0666 & ~mask); /* mkstemp made it private */
    if (rename(tmp, path) != 0) {
        snprintf(msg, len, "cannot move the plot into place: %s (%s)", strerror(errno), path);
        unlink(tmp);
        return H5DIV_EOUTPUT;
    }
    return H5DIV_OK;
}

/* Run gnuplot on the script of pl, drawing into a temporary file next to
 * `path`; its messages go to stderr only with verbose. */
static int draw_plot(plot *pl, const char *gnuplot, int verbose, const char *path, char *msg,
                     size_t len)
{
    int st = make_temp(pl, path, msg, len);
    if (st != H5DIV_OK)
        return st;
    if (find_candidates(pl) != 0) {
        unlink(pl->tmp);
        snprintf(msg, len, "out of memory (%s)", path);
        return H5DIV_EINTERNAL;
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "'%s' >/dev/null%s", gnuplot, verbose ? "" : " 2>&1");
    FILE *gp = popen(cmd, "w");
    if (!gp) {
        unlink(pl->tmp);
        snprintf(msg, len, "cannot run gnuplot (%s)", path);
        return H5DIV_EOUTPUT;
    }
    gp_script(gp, pl);
    return finish_plot(pclose(gp), pl->tmp, path, msg, len);
}

/* Draw one panel per measure column with a finite value over the runs'
 * `created` times, one line per distinct candidate q (with the interval
 * NAME_ci as a band where runs have one), as PNG, SVG or PDF by the
 * extension of `path` (checked by the command's usage check), written by
 * gnuplot to a temporary file that is renamed into place. */
int h5div_hist_plot(const h5div_hist *h, const char *path, int verbose, char *msg, size_t len)
{
    char gnuplot[4096];
    if (find_gnuplot(gnuplot, sizeof gnuplot) != 0) {
        snprintf(msg, len,
                 "gnuplot not found on PATH; install it (Debian: apt-get install gnuplot-nox) "
                 "to use --plot (%s)",
                 path);
        return H5DIV_EOUTPUT;
    }
    plot pl = {.h = h, .fmt = plot_format_of(path), .drawn = calloc(h->ncols ? h->ncols : 1, 1)};
    if (pl.drawn)
        mark_panels(&pl);
    int st;
    if (!pl.drawn || pl.npanels == 0) {
        snprintf(msg, len, "the history has no finite measure values to plot (%s)", path);
        st = pl.drawn ? H5DIV_EINPUT : H5DIV_EINTERNAL;
    } else {
        st = draw_plot(&pl, gnuplot, verbose, path, msg, len);
    }
    free(pl.cand);
    free(pl.first);
    free(pl.drawn);
    return st;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div history: the runs the history reader gives, as rows of cells in named columns. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/history.h"

const char *const h5div_hist_stat_suffix[H5DIV_HIST_NSTATS] = {"", ".median", ".max", ".lo", ".hi"};

void *h5div_hist_grow(void *p, size_t *cap, size_t need, size_t elem)
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

/* Is the measure `name` shown by --measures? NAME_ci goes with NAME: the
 * plot draws it as NAME's band. */
static int shown(const h5div_hist *h, const char *name)
{
    if (selected(h->measures, name))
        return 1;
    if (!h->measures || !h5div_history_interval_name(name))
        return 0;
    char base[512];
    snprintf(base, sizeof base, "%.*s", (int)(strlen(name) - 3), name);
    return selected(h->measures, base);
}

/* The place of a measure in the order of CONTRACT.md: those of compare,
 * then entropy, then joint, by the names they write; SIZE_MAX for any
 * other name (its columns follow in the order first met). */
static size_t measure_rank(const char *name)
{
    size_t k = 0;
    for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++, k++)
        if (strcmp(h5div_measure_name((h5div_measure)m), name) == 0)
            return k;
    for (int m = 0; m < H5DIV_ENTROPY_NMEASURES; m++, k++)
        if (strcmp(h5div_entropy_measure_name((h5div_entropy_measure)m), name) == 0)
            return k;
    for (int m = 0; m < H5DIV_JOINT_NMEASURES; m++, k++)
        if (strcmp(h5div_joint_measure_name((h5div_joint_measure)m), name) == 0)
            return k;
    return SIZE_MAX;
}

long h5div_hist_column_index(const h5div_hist *h, const char *name)
{
    for (size_t c = 0; c < h->ncols; c++)
        if (strcmp(h->cols[c].name, name) == 0)
            return (long)c;
    return -1;
}

/* The column named name[index] (index SIZE_MAX: a scalar) with the suffix
 * of stat, added if new. */
static long column_of(h5div_hist *h, const char *name, size_t index, int stat)
{
    char full[512];
    if (index == SIZE_MAX)
        snprintf(full, sizeof full, "%s%s", name, h5div_hist_stat_suffix[stat]);
    else
        snprintf(full, sizeof full, "%s[%zu]%s", name, index, h5div_hist_stat_suffix[stat]);
    long found = h5div_hist_column_index(h, full);
    if (found >= 0)
        return found;
    h5div_hist_column *cols = h5div_hist_grow(h->cols, &h->cap_cols, h->ncols + 1, sizeof *cols);
    char *copy = strdup(full);
    if (!cols || !copy) {
        free(copy);
        if (cols)
            h->cols = cols;
        h->failed = 1;
        return -1;
    }
    h->cols = cols;
    size_t order = (index == SIZE_MAX ? 0 : index + 1) * H5DIV_HIST_NSTATS + (size_t)stat;
    h->cols[h->ncols] = (h5div_hist_column){copy, measure_rank(name), h->ncols, order};
    return (long)h->ncols++;
}

/* Give a run cells for nc columns; the new ones are empty. */
static int widen(h5div_hist_run *r, size_t nc)
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

/* Set cell (name, index, stat) of run r. */
static int put_cell(h5div_hist *h, h5div_hist_run *r, const char *name, size_t index, int stat,
                    double x)
{
    long c = column_of(h, name, index, stat);
    if (c < 0 || widen(r, h->ncols) != 0) {
        h->failed = 1;
        return -1;
    }
    r->value[c] = x;
    r->has[c] = 1;
    return 0;
}

/* The cells of measure m in run r: one per candidate (or one), the ends
 * of an interval, or the median and maximum over the rows. */
static void put_cells(h5div_hist *h, h5div_hist_run *r, const h5div_history_measure *m)
{
    for (size_t i = 0; i < m->groups && !h->failed; i++) {
        size_t index = m->cands ? i : SIZE_MAX;
        double *x = m->values + i * m->per;
        if (m->interval) {
            if (put_cell(h, r, m->name, index, H5DIV_HIST_LO, x[0]) == 0)
                put_cell(h, r, m->name, index, H5DIV_HIST_HI, x[1]);
            continue;
        }
        if (!m->rows) {
            put_cell(h, r, m->name, index, H5DIV_HIST_NONE, x[0]);
            continue;
        }
        double mn, med, mx;
        h5div_cli_summary(x, m->per, &mn, &med, &mx);
        if (put_cell(h, r, m->name, index, H5DIV_HIST_MEDIAN, med) == 0)
            put_cell(h, r, m->name, index, H5DIV_HIST_MAX, mx);
    }
}

/* Reader callback: read the dataset when it is shown or checked. */
static int want_measure(void *ctx, const char *name)
{
    const h5div_hist *h = ctx;
    for (size_t t = 0; t < h->nterms; t++)
        if (strcmp(h->terms[t].name, name) == 0)
            return 1;
    return shown(h, name);
}

/* Reader callback: a new run, with no cells yet. */
static int begin_run(void *ctx, const h5div_history_run *hr)
{
    h5div_hist *h = ctx;
    h5div_hist_run *runs = h5div_hist_grow(h->runs, &h->cap_runs, h->nruns + 1, sizeof *runs);
    if (!runs) {
        h->failed = 1;
        return -1;
    }
    h->runs = runs;
    h5div_hist_run *r = &h->runs[h->nruns++];
    memset(r, 0, sizeof *r);
    r->name = strdup(hr->name);
    r->created = strdup(hr->created);
    r->p = strdup(hr->p);
    r->q = strdup(hr->q);
    r->path = strdup(hr->path);
    r->found = calloc(h->nterms ? h->nterms : 1, 1);
    if (!r->name || !r->created || !r->p || !r->q || !r->path || !r->found ||
        widen(r, h->ncols) != 0)
        h->failed = 1;
    return h->failed ? -1 : 0;
}

/* Reader callback: a measure of the last run, checked (before its
 * summaries reorder the values), then into its cells when shown. */
static int add_measure(void *ctx, const h5div_history_measure *m)
{
    h5div_hist *h = ctx;
    h5div_hist_run *r = &h->runs[h->nruns - 1];
    for (size_t t = 0; t < h->nterms && !h->failed; t++)
        if (strcmp(h->terms[t].name, m->name) == 0)
            h5div_hist_check(h, r, t, m);
    if (shown(h, m->name))
        put_cells(h, r, m);
    return h->failed ? -1 : 0;
}

static int cmp_runs(const void *a, const void *b)
{
    const h5div_hist_run *x = a, *y = b;
    int c = strcmp(x->created, y->created);
    return c ? c : strcmp(x->name, y->name);
}

static int cmp_cols(const void *a, const void *b)
{
    const h5div_hist_column *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->rank == SIZE_MAX) {
        /* Unknown names: in the order first met, elements of one measure together. */
        size_t bx = strcspn(x->name, "[."), by = strcspn(y->name, "[.");
        if (bx != by || strncmp(x->name, y->name, bx) != 0)
            return x->seen < y->seen ? -1 : 1;
    }
    return x->index < y->index ? -1 : x->index > y->index ? 1 : 0;
}

/* Sort the columns and permute every run's cells to match. */
static int sort_columns(h5div_hist *h)
{
    size_t nc = h->ncols;
    h5div_hist_column *sorted = malloc((nc ? nc : 1) * sizeof *sorted);
    double *tv = malloc((nc ? nc : 1) * sizeof *tv);
    unsigned char *th = malloc(nc ? nc : 1);
    int ok = sorted && tv && th;
    if (ok && nc) {
        memcpy(sorted, h->cols, nc * sizeof *sorted);
        qsort(sorted, nc, sizeof *sorted, cmp_cols);
        for (size_t i = 0; i < h->nruns; i++) {
            h5div_hist_run *r = &h->runs[i];
            for (size_t c = 0; c < nc; c++) {
                size_t old = sorted[c].seen; /* a column's place before sorting */
                tv[c] = r->value[old];
                th[c] = r->has[old];
            }
            memcpy(r->value, tv, nc * sizeof *tv);
            memcpy(r->has, th, nc);
        }
        memcpy(h->cols, sorted, nc * sizeof *sorted);
    }
    free(sorted);
    free(tv);
    free(th);
    return ok ? 0 : -1;
}

static void free_run(h5div_hist_run *r)
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

void h5div_hist_free(h5div_hist *h)
{
    for (size_t i = 0; i < h->nruns; i++)
        free_run(&h->runs[i]);
    free(h->runs);
    for (size_t c = 0; c < h->ncols; c++)
        free(h->cols[c].name);
    free(h->cols);
}

/* --last N: drop all but the last N runs, and the columns only they had. */
static void keep_last(h5div_hist *h)
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

int h5div_hist_load(const char *file, const char *group, h5div_hist *h, char *msg, size_t len)
{
    h->file = file;
    h->group = group;
    h5div_history_visitor v = {want_measure, begin_run, add_measure, h};
    int st = h5div_history_read(file, group, &v, msg, len);
    if (st != H5DIV_OK)
        return st;
    /* Runs read before a column appeared have no cell for it: widen them. */
    int ok = 1;
    for (size_t i = 0; i < h->nruns && ok; i++)
        ok = widen(&h->runs[i], h->ncols ? h->ncols : 1) == 0;
    if (!ok || sort_columns(h) != 0) {
        snprintf(msg, len, "out of memory reading the history (%s:%s)", file, group);
        return H5DIV_EINTERNAL;
    }
    qsort(h->runs, h->nruns, sizeof *h->runs, cmp_runs);
    if (h->last && h->nruns > h->last)
        keep_last(h);
    return H5DIV_OK;
}

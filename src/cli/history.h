/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div history inside the command line: the runs as columns, --check, the plot. */
#ifndef H5DIV_CLI_HISTORY_H
#define H5DIV_CLI_HISTORY_H

#include <stddef.h>
#include <stdio.h>

#include "io/history.h"

/* Summaries of a measure over the rows of 2-D input, and the ends of an
 * interval (NAME_ci, last axis 2), as column suffixes. */
enum {
    H5DIV_HIST_NONE = 0,
    H5DIV_HIST_MEDIAN,
    H5DIV_HIST_MAX,
    H5DIV_HIST_LO,
    H5DIV_HIST_HI,
    H5DIV_HIST_NSTATS
};
extern const char *const h5div_hist_stat_suffix[H5DIV_HIST_NSTATS];

typedef struct h5div_hist_column {
    char *name;        /* "kl_pq" or "kl_pq[2]" */
    size_t rank, seen; /* place in the measures' order (SIZE_MAX: unknown), order first met */
    size_t index;      /* order within a measure: scalar, then elements of (k,); stats after each */
} h5div_hist_column;

/* One condition of --check: NAME[INDEX].STAT OP LIMIT. */
enum { H5DIV_HIST_LT = 0, H5DIV_HIST_LE, H5DIV_HIST_GT, H5DIV_HIST_GE };

typedef struct h5div_hist_term {
    char *name;  /* the measure (dataset) name, "kl_pq" */
    char *label; /* the name as written, "kl_pq[1].max" */
    long index;  /* the candidate, or -1: every candidate */
    int stat;    /* H5DIV_HIST_NONE: every value; else a row summary or an interval end */
    int op;
    double limit;
} h5div_hist_term;

/* A value of a run that fails check term `term`: "kl_pq = 0.2, not < 0.1". */
typedef struct h5div_hist_failure {
    size_t term;
    char *text;
} h5div_hist_failure;

typedef struct h5div_hist_run {
    char *name, *created, *p, *q;
    char *path;    /* FILE:/group of the run, for messages */
    double *value; /* per column */
    unsigned char *has;
    size_t n;                 /* cells allocated */
    unsigned char *found;     /* per check term: the run has the measure it names */
    h5div_hist_failure *fail; /* the check's failures */
    size_t nfail, cap_fail;
} h5div_hist_run;

typedef struct h5div_hist {
    h5div_hist_run *runs;
    size_t nruns, cap_runs;
    h5div_hist_column *cols;
    size_t ncols, cap_cols;
    const char *measures; /* --measures list or NULL */
    const char *file, *group;
    const h5div_hist_term *terms; /* --check */
    size_t nterms;
    size_t last; /* --last N: only the last N runs; 0: all */
    int failed;  /* out of memory */
} h5div_hist;

/* history_runs.c */

/* Read the runs of group `group` of `file` (or the one result group it
 * is) into h (measures, terms and last set by the caller): their measures
 * into columns, checked against the terms; runs sorted by created, then
 * name, columns in the measures' order. Returns an h5div status with one
 * line in msg. */
int h5div_hist_load(const char *file, const char *group, h5div_hist *h, char *msg, size_t len);
void h5div_hist_free(h5div_hist *h);
/* The column named `name`, or -1. */
long h5div_hist_column_index(const h5div_hist *h, const char *name);
/* realloc p (of *cap elements of elem bytes) to hold need, doubling; NULL
 * when out of memory (p is then left as it was). */
void *h5div_hist_grow(void *p, size_t *cap, size_t need, size_t elem);

/* history_check.c */

/* Parse --check "NAME OP LIMIT, ..." into *terms (malloc'ed, *n of them).
 * Returns H5DIV_OK or H5DIV_EUSAGE with one line in msg. */
int h5div_hist_parse_checks(const char *spec, h5div_hist_term **terms, size_t *n, char *msg);
void h5div_hist_free_terms(h5div_hist_term *terms, size_t n);
/* Check term t of h against measure m of run r (before m's values are
 * reordered); failures are recorded in r, out of memory in h->failed. */
void h5div_hist_check(h5div_hist *h, h5div_hist_run *r, size_t t, const h5div_history_measure *m);
/* The verdict of --check over the runs read: H5DIV_OK (then *failures
 * counts the failing values and missing measures), or H5DIV_EINPUT when
 * there is no run to check or no run has a measure a condition names. */
int h5div_hist_verdict(const h5div_hist *h, size_t *failures, char *msg, size_t len);
/* One line per failure on err: the run, what failed, where. */
void h5div_hist_print_failures(FILE *err, const h5div_hist *h);

/* history_plot.c */

/* Is `path` named as a plot h5div can draw (.png, .svg, .pdf)? */
int h5div_hist_plot_named(const char *path);
/* Draw the history with gnuplot into `path` (see history --help). Returns
 * an h5div status with one line in msg. */
int h5div_hist_plot(const h5div_hist *h, const char *path, int verbose, char *msg, size_t len);

#endif

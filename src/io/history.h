/* SPDX-License-Identifier: BSD-3-Clause */
/* The history reader: the result groups of a results file as plain C values (no HDF5 types here).
 */
#ifndef H5DIV_IO_HISTORY_H
#define H5DIV_IO_HISTORY_H

#include <stddef.h>

/* One run: a result group of the history. The strings are the reader's,
 * valid only during the callback. */
typedef struct h5div_history_run {
    const char *name; /* the group's name, the run's id */
    const char *path; /* FILE:/group/name, for messages */
    /* String attributes (fixed or variable length, the elements of an array
     * joined with spaces); "" when absent or not text. */
    const char *created, *p, *q;
    size_t ncand; /* elements of the attribute q: the candidates (0 without q) */
} h5div_history_run;

/* One numeric dataset of rank 0, 1 or 2 of a run, as groups * per doubles
 * (row-major). A dataset of shape (k,) whose k is the run's number of
 * candidates (more than one) is k candidates of one value (cands); another
 * (m,) is the rows of 2-D input (rows); (k, m) is both. An interval
 * NAME_ci (last axis 2) is one (lo, hi) pair, or (k, 2) one per candidate
 * (cands); intervals over rows, and datasets of any other shape, type or
 * no elements, are not given. */
typedef struct h5div_history_measure {
    const char *name;
    double *values; /* groups * per; the callback may reorder them */
    size_t groups;  /* the candidates when cands, else 1 */
    size_t per;     /* the rows when rows, 2 for an interval, else 1 */
    int cands, rows;
    int interval; /* NAME_ci: values are groups (lo, hi) pairs */
} h5div_history_measure;

/* What the reader calls, in file order: run() for each run, then
 * measure() for each dataset of it that want() asks for (read only then).
 * A nonzero return from a callback (it ran out of memory) stops the
 * reading. */
typedef struct h5div_history_visitor {
    int (*want)(void *ctx, const char *name);
    int (*run)(void *ctx, const h5div_history_run *run);
    int (*measure)(void *ctx, const h5div_history_measure *m);
    void *ctx;
} h5div_history_visitor;

/* Read the history group `group` of `file` serially (HDF5's default
 * driver; no MPI): each group under it is a run, in the order of their
 * names (also when linked to run files in FILE.runs/); other objects are
 * skipped. `group` is itself the only run when it is one result group
 * (attribute h5div_version or command, or datasets and no groups). Not
 * collective. Returns H5DIV_OK; H5DIV_EINPUT when the file cannot be read,
 * is not HDF5 or has no such group; H5DIV_EINTERNAL when a callback
 * stopped it; with one line in msg. */
int h5div_history_read(const char *file, const char *group, const h5div_history_visitor *v,
                       char *msg, size_t len);

/* Is `name` an interval dataset, NAME_ci? */
int h5div_history_interval_name(const char *name);

#endif

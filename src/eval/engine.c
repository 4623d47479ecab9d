/* SPDX-License-Identifier: BSD-3-Clause */
/* The row-pass engine: pieces cut into row segments, rows flushed, shared rows settled. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/resample.h"
#include "eval/engine.h"
#include "par/par.h"

#define NO_ROW UINT64_MAX

/* The row in progress is complete here, or (a shared row) waits in the slot
 * of its index parity for the reduction at the end of the pass. */
static void flush(h5div_eval *e, int pass)
{
    if (e->cur_row == NO_ROW)
        return;
    /* Only a rank's first and last row can span ranks. */
    const uint64_t row = e->cur_row;
    int s = row == e->rows.lo || row + 1 == e->rows.hi ? h5div_rows_shared(&e->rows, row) : -1;
    if (s >= 0)
        memcpy(e->slot[s % 2], e->cur, e->f->state_size);
    else
        e->f->row_finish(e->ctx, pass, row, 1, e->cur);
    e->cur_row = NO_ROW;
}

/* The sweep's callback: each piece as segments of one row each. A piece
 * starts on a block boundary of its row and rows start on one, so every
 * segment does too. */
static int eval_piece(void *arg, int pass, uint64_t first_bin, size_t n, double *const *v,
                      char *msg, size_t len)
{
    h5div_eval *e = arg;
    const h5div_row_family *f = e->f;
    const uint64_t cols = e->sw->grid.cols, end = first_bin + n;
    const int nd = e->sw->nd;
    h5div_row_seg s;
    for (uint64_t pos = first_bin; pos < end;) {
        s.row = pos / cols;
        s.c0 = pos - s.row * cols;
        const uint64_t seg_end = (s.row + 1) * cols < end ? (s.row + 1) * cols : end;
        s.off = (size_t)(pos - first_bin);
        s.n = (size_t)(seg_end - pos);
        for (int d = 0; d < nd; d++) {
            s.x[d] = v[d] + s.off;
            s.lo[d] = e->sw->lo_of[d] ? e->sw->lo_of[d] + s.off : NULL;
        }
        if (s.row != e->cur_row) {
            flush(e, pass);
            f->row_start(e->ctx, pass, s.row, e->cur);
            e->cur_row = s.row;
        }
        H5DIV_CHECK(f->segment(e->ctx, pass, &s, e->cur, msg, len));
        pos = seg_end;
    }
    return f->piece_end ? f->piece_end(e->ctx, pass, first_bin, n, msg, len) : H5DIV_OK;
}

/* After a pass: reduce each shared row's states among the ranks that hold
 * it (parity 0 first on every rank) and finish it on each of them. */
static int settle(h5div_eval *e, int pass)
{
    flush(e, pass);
    for (int p = 0; p < 2; p++) {
        MPI_Comm c = e->rows.sc.c[p];
        if (c == MPI_COMM_NULL)
            continue;
        const uint64_t row = e->rows.shared[e->rows.sc.slot[p]];
        H5DIV_CHECK(e->f->state_reduce(c, e->ctx, pass, row, e->slot[p]));
        int owned = row >= e->rows.own0 && row < e->rows.own1;
        e->f->row_finish(e->ctx, pass, row, owned, e->slot[p]);
    }
    return H5DIV_OK;
}

/* The state buffers and the family's own per-row state (not agreed). */
static int alloc_state(h5div_eval *e, char *msg, size_t len)
{
    const h5div_row_family *f = e->f;
    const size_t n = f->state_size ? f->state_size : 1;
    int ok = (e->cur = calloc(1, n)) != NULL;
    for (int p = 0; p < 2; p++)
        ok &= (e->slot[p] = calloc(1, n)) != NULL;
    if (!ok) {
        h5div_set_error(msg, len, "out of memory for the row state of %s (%zu bytes)", f->name, n);
        return H5DIV_EINTERNAL;
    }
    return f->setup ? f->setup(e->ctx, e, msg, len) : H5DIV_OK;
}

int h5div_eval_init(MPI_Comm comm, h5div_eval *e, h5div_sweep *sw, const h5div_row_family *f,
                    void *ctx, const h5div_options *opt, char *msg, size_t len)
{
    memset(e, 0, sizeof *e);
    e->rows.sc.c[0] = e->rows.sc.c[1] = MPI_COMM_NULL;
    e->sw = sw;
    e->f = f;
    e->ctx = ctx;
    e->opt = opt;
    e->cur_row = NO_ROW;
    H5DIV_CHECK(h5div_rows_init(comm, sw, &e->rows, msg, len));
    if (f->row_bytes || f->owned_row_bytes)
        H5DIV_CHECK(h5div_rows_memory_check(comm, sw, &e->rows, f->row_bytes, f->owned_row_bytes,
                                            opt, f->ref, msg, len));
    return h5div_par_agree(comm, alloc_state(e, msg, len), msg, len);
}

void h5div_eval_batch_rows(const h5div_eval *e, h5div_batch *b)
{
    b->two_d = e->sw->d[0]->rows > 0;
    b->rows = e->sw->grid.rows;
    b->bins = e->sw->grid.cols;
    b->row_begin = e->rows.own0;
    b->row_count = e->rows.own1 - e->rows.own0;
}

/* Collective: refuse rows whose total is zero or not finite (see
 * h5div_row_family.row_total). Agreed status. */
static int check_totals(MPI_Comm comm, const h5div_eval *e, char *msg, size_t len)
{
    const h5div_rows *rw = &e->rows;
    const int nd = e->sw->nd, two_d = e->sw->d[0]->rows > 0;
    int st = H5DIV_OK;
    for (uint64_t row = rw->lo; row < rw->hi && st == H5DIV_OK; row++) {
        for (int d = 0; d < nd && st == H5DIV_OK; d++) {
            const double t = e->f->row_total(e->ctx, row, d);
            if (t > 0.0 && isfinite(t))
                continue;
            const char *what = t == 0.0 ? "is all zeros" : "total overflows a double";
            if (two_d)
                h5div_set_error(msg, len, "histogram %s (%s, row %llu)", what, e->sw->d[d]->ref,
                                (unsigned long long)row);
            else
                h5div_set_error(msg, len, "histogram %s (%s)", what, e->sw->d[d]->ref);
            st = H5DIV_EINPUT;
        }
    }
    /* The lowest rank holds the lowest rows: the message names the first bad row. */
    return h5div_par_agree(comm, st, msg, len);
}

int h5div_eval_pass(MPI_Comm comm, h5div_eval *e, int pass, char *msg, size_t len)
{
    const unsigned flags = (e->f->collective_passes >> pass) & 1u ? H5DIV_SWEEP_COLLECTIVE_FN : 0;
    e->cur_row = NO_ROW;
    H5DIV_CHECK(h5div_sweep_run(comm, e->sw, pass, flags, e->opt, eval_piece, e, msg, len));
    H5DIV_CHECK(settle(e, pass));
    return pass == 0 && e->f->row_total ? check_totals(comm, e, msg, len) : H5DIV_OK;
}

void h5div_eval_free(h5div_eval *e)
{
    h5div_rows_free(&e->rows);
    free(e->cur);
    free(e->slot[0]);
    free(e->slot[1]);
    e->cur = e->slot[0] = e->slot[1] = NULL;
}

int h5div_eval_rows(MPI_Comm comm, h5div_sweep *sw, const h5div_row_family *f, void *ctx,
                    const h5div_options *opt, char *msg, size_t len)
{
    h5div_eval e;
    int st = h5div_eval_init(comm, &e, sw, f, ctx, opt, msg, len);
    for (int pass = 0; st == H5DIV_OK && pass < f->npasses; pass++)
        st = h5div_eval_pass(comm, &e, pass, msg, len);
    h5div_eval_free(&e);
    return st;
}

int h5div_eval_bootstrap_args(const h5div_options *opt, char *msg, size_t len)
{
    if (opt->bootstrap <= H5DIV_BOOTSTRAP_MAX &&
        (!opt->bootstrap || (opt->ci > 0.0 && opt->ci < 1.0)))
        return H5DIV_OK;
    h5div_set_error(msg, len,
                    "--bootstrap takes 1 to %d replicates and --ci a level in (0, 1) "
                    "(%llu, %g)",
                    H5DIV_BOOTSTRAP_MAX, (unsigned long long)opt->bootstrap, opt->ci);
    return H5DIV_EUSAGE;
}

int h5div_eval_check_counts(const h5div_row_seg *s, int nd, const char *const *refs, uint64_t cols,
                            char *msg, size_t len)
{
    for (int d = 0; d < nd; d++)
        for (size_t i = 0; i < s->n; i++)
            if (s->x[d][i] != floor(s->x[d][i])) {
                char where[96];
                const uint64_t row_len = cols ? cols : s->c0 + s->n;
                h5div_where(s->row * row_len + s->c0 + i, cols, where, sizeof where);
                h5div_set_error(msg, len,
                                "--bootstrap needs integer counts: value %.17g is not a whole "
                                "number (%s, %s)",
                                s->x[d][i], refs[d], where);
                return H5DIV_EINPUT;
            }
    return H5DIV_OK;
}

void h5div_eval_draw(const h5div_options *opt, int rep, int nd, uint64_t first,
                     const double *const *x, const double *const *lo, size_t off, size_t n,
                     double *draw, const double **dx, const double **dl)
{
    for (int d = 0; d < nd; d++) {
        double *v = draw + (size_t)d * 2 * H5DIV_BLOCK_BINS, *vl = v + H5DIV_BLOCK_BINS;
        h5div_rs_key key = {opt->seed, H5DIV_RS_BOOTSTRAP, (uint64_t)rep - 1, (uint64_t)d};
        /* The values were checked: every mean is valid. */
        (void)h5div_rs_poisson(&key, first, x[d] + off, lo[d] ? lo[d] + off : NULL, n, v, vl);
        dx[d] = v;
        dl[d] = vl;
    }
}

int h5div_eval_bootstrap_memory(const h5div_eval *e, const h5div_options *opt, const char *ref,
                                char *msg, size_t len)
{
    const uint64_t nrows = e->rows.hi - e->rows.lo, nown = e->rows.own1 - e->rows.own0;
    const double need = 3.0 * (double)e->f->state_size +
                        (double)(nrows ? nrows : 1) * (double)e->f->row_bytes +
                        (double)(nown ? nown : 1) * (double)e->f->owned_row_bytes;
    return h5div_bootstrap_fits(need, 0.5, opt, ref, msg, len);
}

int h5div_bootstrap_fits(double need, double share, const h5div_options *opt, const char *ref,
                         char *msg, size_t len)
{
    if (need <= share * (double)opt->memory_per_rank)
        return H5DIV_OK;
    h5div_set_error(msg, len,
                    "--bootstrap %llu needs %.1f MiB of state on a rank, more than %s "
                    "of --memory-per-rank (%.1f MiB); raise it to %.0fMiB or use fewer "
                    "replicates (%s)",
                    (unsigned long long)opt->bootstrap, need / 1048576.0,
                    share == 0.5 ? "half" : "a quarter", (double)opt->memory_per_rank / 1048576.0,
                    ceil(need / share / 1048576.0), ref);
    return H5DIV_EINPUT;
}

int h5div_eval_bootstrap_summary(h5div_batch *b, double **reps, const h5div_options *opt, char *msg,
                                 size_t len)
{
    const size_t n = (size_t)b->candidates * (size_t)b->ncolumns * (size_t)b->row_count;
    b->se = malloc((n ? n : 1) * sizeof *b->se);
    b->ci = malloc((n ? n : 1) * 2 * sizeof *b->ci);
    if (!b->se || !b->ci ||
        h5div_rs_summary(*reps, n, (size_t)opt->bootstrap, opt->ci, b->se, b->ci) != 0) {
        h5div_set_error(msg, len, "out of memory for the bootstrap intervals (%llu replicates)",
                        (unsigned long long)opt->bootstrap);
        return H5DIV_EINTERNAL;
    }
    b->nrep = opt->bootstrap;
    b->ci_level = opt->ci;
    if (opt->keep_replicates) {
        b->reps = *reps;
        *reps = NULL;
    }
    return H5DIV_OK;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* The row-pass engine: pieces cut into row segments, rows flushed, shared rows settled. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

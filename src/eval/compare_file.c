/* SPDX-License-Identifier: BSD-3-Clause */
/* File-level compare of one reference against k candidates, 1-D or one histogram per row. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/resample.h"
#include "eval/engine.h"
#include "io/io.h"
#include "par/par.h"

/* Input slots one replicate can fill: P and the candidates, or a pooled
 * draw of each pair (P, candidate). */
#define SLOTS_MAX (2 * H5DIV_CANDIDATES_MAX)

/* A set of replicates, --bootstrap or --null: replicates first .. first +
 * n - 1 of the job, and their values once finished. */
typedef struct rep_set {
    uint64_t n, first;
    double *vals; /* [k][ncols][row - row_begin][n] */
} rep_set;

/* One evaluation: P = dataset 0 against candidates 1..k, row by row, a
 * family of the row-pass engine (src/eval/engine.h): a pass of totals, then
 * a pass of terms. */
typedef struct cmp_job {
    const h5div_options *opt;
    const char *ref[H5DIV_SWEEP_MAX];
    int k, nd, two_d;
    h5div_term_params tp;
    int w1;
    const double *gap; /* distances between attached bin centres, or NULL */
    uint64_t gap_rows; /* 1: shared by every row */
    h5div_grid g;
    const h5div_rows *rw;     /* the engine's rows: touched, owned and shared */
    h5div_compare_batch *out; /* the results; its row_begin, row_count: rows owned */
    double *row_tot;          /* [row - rw->lo][nd][3]: total as hi + lo + lo2 */
    /* Totals whose exact value needs more than three doubles (rare: values
     * of hundreds of decades with a pseudocount): all their parts, found by
     * key (row - rw->lo, replicate, input) once pass 0 has sorted them. */
    struct row_parts *ext;
    size_t next, ext_cap;
    int ext_failed; /* out of memory for them: the terms pass fails */
    int ext_sorted;
    h5div_acc *pfx0; /* [nrep][nd]: sums of the first row on the ranks before this one */
    h5div_norm *nm;  /* [k] of the row in progress */
    h5div_acc *pfx;  /* [nrep][nd]: prefix sums of the row in progress */
    int ncols;
    h5div_column cols[H5DIV_COMPARE_MAX_COLUMNS];
    double *values; /* [k][ncols][row - row_begin] */
    /* Replicate 0 is the data itself. With --bootstrap B, replicates 1 ..
     * B draw every input bin by bin, X*_i ~ Poisson(X_i); with --null B',
     * replicates B + 1 .. B + B' draw each pair (P, candidate c) from its
     * pooled counts (h5div_rs_null). Each set draws with the counter-based
     * generator keyed by (seed, its stream, its replicate index, input,
     * global bin) (core/resample.h), so a replicate's bits do not depend on
     * the decomposition; the same draws are made again in each pass
     * instead of being stored. */
    int nrep;       /* 1 + B + B' */
    int ns;         /* input slots of a replicate: nd, or 2k with --null when more */
    rep_set set[2]; /* by stream: H5DIV_RS_BOOTSTRAP, H5DIV_RS_NULL */
    double *draw;   /* [ns][2][H5DIV_BLOCK_BINS]: one block of a replicate, value and lo */
    const double *dx[SLOTS_MAX], *dl[SLOTS_MAX]; /* the block in use, by slot */
} cmp_job;

/* Passes: the totals of the data and its bootstrap replicates; with --null
 * the totals of the null replicates (their means need the data's totals);
 * the terms. Row state: in a pass of totals h5div_acc[nrep][ns], in the
 * terms pass h5div_compare_partial[nrep][k]: replicate r's at offset
 * r * ns, r * k. */
enum { PASS_TOTALS = 0, PASS_NULL_TOTALS };

static int pass_terms(const cmp_job *j)
{
    return j->set[H5DIV_RS_NULL].n ? 2 : 1;
}

/* The replicates [*r0, *r1) whose totals pass `pass` sums. */
static void pass_reps(const cmp_job *j, int pass, int *r0, int *r1)
{
    const int null0 = (int)j->set[H5DIV_RS_NULL].first;
    *r0 = pass == PASS_TOTALS ? 0 : null0;
    *r1 = pass == PASS_TOTALS ? null0 : j->nrep;
}

/* The set of replicate rep >= 1: H5DIV_RS_BOOTSTRAP or H5DIV_RS_NULL. */
static int rep_stream(const cmp_job *j, int rep)
{
    return (uint64_t)rep >= j->set[H5DIV_RS_NULL].first ? H5DIV_RS_NULL : H5DIV_RS_BOOTSTRAP;
}

static int is_null(const cmp_job *j, int rep)
{
    return rep > 0 && rep_stream(j, rep) == H5DIV_RS_NULL;
}

/* The slot of pair c's P (q = 0) or candidate (q = 1) in replicate rep: the
 * data and its bootstrap replicates hold P once and the candidates (slots
 * 0 and 1 + c), a null replicate a pooled draw of each pair (2c, 2c + 1). */
static int pair_slot(const cmp_job *j, int rep, int c, int q)
{
    return is_null(j, rep) ? 2 * c + q : q ? 1 + c : 0;
}

/* Slots replicate rep fills, and how many of them are a P. */
static int rep_slots(const cmp_job *j, int rep)
{
    return is_null(j, rep) ? 2 * j->k : j->nd;
}

static int p_slots(const cmp_job *j, int rep)
{
    return is_null(j, rep) ? j->k : 1;
}

/* Totals of a row (of replicate rep): [ns][3]. */
static const double *row_total(const cmp_job *j, uint64_t row, int rep)
{
    const uint64_t at = (row - j->rw->lo) * (uint64_t)j->nrep + (uint64_t)rep;
    return j->row_tot + at * (uint64_t)j->ns * 3;
}

typedef struct row_parts {
    uint64_t key;
    int n;
    double part[H5DIV_ACC_PARTS];
} row_parts;

/* At most this many totals of more than three parts are kept (about 26 MiB). */
#define EXT_MAX 65536

static uint64_t ext_key(const cmp_job *j, uint64_t row, int rep, int d)
{
    return ((row - j->rw->lo) * (uint64_t)j->nrep + (uint64_t)rep) * (uint64_t)j->ns + (uint64_t)d;
}

static int ext_cmp(const void *a, const void *b)
{
    const uint64_t x = ((const row_parts *)a)->key, y = ((const row_parts *)b)->key;
    return x < y ? -1 : x > y;
}

/* Keep the parts of a total beyond its third (pass 0). */
static void ext_put(cmp_job *j, uint64_t key, const double *part, int n)
{
    if (j->next == j->ext_cap) {
        size_t cap = j->ext_cap ? 2 * j->ext_cap : 16;
        row_parts *p = cap <= EXT_MAX ? realloc(j->ext, cap * sizeof *p) : NULL;
        if (!p) {
            j->ext_failed = 1;
            return;
        }
        j->ext = p;
        j->ext_cap = cap;
    }
    row_parts *r = &j->ext[j->next++];
    r->key = key;
    r->n = n;
    memcpy(r->part, part, (size_t)n * sizeof *part);
}

/* The parts of total (row, rep, d): its three, or all where it has more. */
static const double *total_parts_of(cmp_job *j, uint64_t row, int rep, int d, int *n)
{
    if (j->next) {
        if (!j->ext_sorted) { /* once, after pass 0 (shared rows finish out of order) */
            qsort(j->ext, j->next, sizeof *j->ext, ext_cmp);
            j->ext_sorted = 1;
        }
        const row_parts key = {.key = ext_key(j, row, rep, d)};
        const row_parts *r = bsearch(&key, j->ext, j->next, sizeof key, ext_cmp);
        if (r) {
            *n = r->n;
            return r->part;
        }
    }
    *n = 3;
    return row_total(j, row, rep) + 3 * d;
}

/* Input d's count in a row without the pseudocount (a whole number, so
 * rounded to one), the weight of the pooled null draws. */
static double count_total(const cmp_job *j, uint64_t row, int d)
{
    const double *t = row_total(j, row, 0) + 3 * d;
    return rint((t[0] - j->opt->pseudocount * (double)j->g.cols) + t[1] + t[2]);
}

/* Remainders from position b on, or NULL. */
static const double *lo_plus(const double *lo, size_t b)
{
    return lo ? lo + b : NULL;
}

/* Draw block [first, first + n) of row `row` of replicate rep (>= 1) from
 * the values x, lo (from position off) into j->dx, j->dl. The values were
 * checked in the totals pass: every mean is valid. */
static void draw_block(cmp_job *j, int rep, uint64_t row, uint64_t first, const double *const *x,
                       const double *const *lo, size_t off, size_t n)
{
    double *v[SLOTS_MAX], *vl[SLOTS_MAX];
    for (int d = 0; d < rep_slots(j, rep); d++) {
        v[d] = j->draw + (size_t)d * 2 * H5DIV_BLOCK_BINS;
        vl[d] = v[d] + H5DIV_BLOCK_BINS;
        j->dx[d] = v[d];
        j->dl[d] = vl[d];
    }
    const int stream = rep_stream(j, rep);
    h5div_rs_key key = {j->opt->seed, (uint64_t)stream, (uint64_t)rep - j->set[stream].first, 0};
    if (stream == H5DIV_RS_BOOTSTRAP) {
        for (int d = 0; d < j->nd; d++) {
            key.input = (uint64_t)d;
            (void)h5div_rs_poisson(&key, first, x[d] + off, lo_plus(lo[d], off), n, v[d], vl[d]);
        }
        return;
    }
    const double a = count_total(j, row, 0);
    for (int c = 0; c < j->k; c++)
        (void)h5div_rs_null(&key, 2 * (uint64_t)c, 2 * (uint64_t)c + 1, first, x[0] + off,
                            lo_plus(lo[0], off), x[1 + c] + off, lo_plus(lo[1 + c], off), n, a,
                            count_total(j, row, 1 + c), v[2 * c], vl[2 * c], v[2 * c + 1],
                            vl[2 * c + 1]);
}

/* Store the finished measures of (row, candidate c) of replicate rep in the
 * result columns (rep 0) or its set's replicates. */
static void put_values(cmp_job *j, uint64_t row, int c, int rep, const h5div_compare_result *res)
{
    const uint64_t nown = j->out->row_count, r = row - j->out->row_begin;
    for (int i = 0; i < j->ncols; i++) {
        const h5div_column *col = &j->cols[i];
        double v = col->order < 0                   ? res->value[col->measure]
                   : col->measure == H5DIV_RENYI_PQ ? res->renyi_pq[col->order]
                                                    : res->renyi_qp[col->order];
        const uint64_t at = ((uint64_t)c * (uint64_t)j->ncols + (uint64_t)i) * nown + r;
        if (rep == 0) {
            j->values[at] = v;
        } else {
            const rep_set *set = &j->set[rep_stream(j, rep)];
            set->vals[at * set->n + (uint64_t)rep - set->first] = v;
        }
    }
}

static void finish_partial(cmp_job *j, uint64_t row, int c, int rep,
                           const h5div_compare_partial *part)
{
    double nats[H5DIV_T_COUNT] = {0};
    for (int t = 0; t < H5DIV_T_COUNT; t++)
        if (j->tp.mask & H5DIV_TBIT(t))
            nats[t] = h5div_acc_round(&part->acc[t]);
    int64_t counts[2] = {part->p_without_q, part->q_without_p};
    h5div_compare_result res;
    h5div_compare_finish_sums(nats, part->win, counts, part->ks, j->opt, &res);
    put_values(j, row, c, rep, &res);
}

/* The normalisations of a row; with `partials` (rows of more than one
 * block) its partial sums and W1/KS prefix sums too. */
static void start_row_terms(cmp_job *j, uint64_t row, h5div_compare_partial *part, int partials)
{
    for (int rep = 0; rep < j->nrep; rep++) {
        for (int c = 0; c < j->k; c++) {
            int na, nb;
            const size_t at = (size_t)rep * (size_t)j->k + (size_t)c;
            const int ip = pair_slot(j, rep, c, 0), iq = pair_slot(j, rep, c, 1);
            const double *a = total_parts_of(j, row, rep, ip, &na);
            const double *b = total_parts_of(j, row, rep, iq, &nb);
            h5div_norm_init_parts(&j->nm[at], a, na, b, nb, j->opt->pseudocount);
            if (partials)
                h5div_compare_partial_init(&part[at], j->tp.mask);
        }
    }
    if (j->w1 && partials)
        for (int d = 0; d < j->ns * j->nrep; d++) {
            /* A row that began on an earlier rank continues its prefix sums. */
            if (row == j->rw->lo && h5div_rows_shared(j->rw, row) >= 0)
                j->pfx[d] = j->pfx0[d];
            else
                h5div_acc_init(&j->pfx[d]);
        }
}

/* The gaps of row `row` from column c, or NULL for bare histograms. */
static const double *row_gap(const cmp_job *j, uint64_t row, uint64_t c)
{
    if (!j->gap)
        return NULL;
    const uint64_t ng = j->g.cols > 1 ? j->g.cols - 1 : 1;
    return j->gap + (j->gap_rows > 1 ? row : 0) * ng + c;
}

/* A row of a single block: its block sums are the sums, no accumulator. */
static void short_row(cmp_job *j, const h5div_row_seg *s)
{
    static const double zero[2] = {0.0, 0.0};
    const size_t e = s->n;
    for (int rep = 0; rep < j->nrep; rep++) {
        const double *const *xs = s->x, *const *ls = s->lo;
        if (rep) {
            draw_block(j, rep, s->row, s->row * j->g.cols + s->c0, s->x, s->lo, 0, e);
            xs = j->dx;
            ls = j->dl;
        }
        for (int c = 0; c < j->k; c++) {
            const h5div_norm *nm = &j->nm[(size_t)rep * (size_t)j->k + (size_t)c];
            double sums[H5DIV_T_COUNT] = {0};
            int32_t win[2 * H5DIV_RENYI_MAX];
            int64_t counts[2] = {0, 0};
            double ks = 0.0;
            const int ip = pair_slot(j, rep, c, 0), iq = pair_slot(j, rep, c, 1);
            const double *x = xs[ip], *y = xs[iq], *xl = ls[ip], *yl = ls[iq];
            h5div_compare_block_lo(x, y, xl, yl, e, nm, &j->tp, sums, win, counts);
            if (j->w1)
                sums[H5DIV_T_W1] =
                    h5div_w1_block_gap_lo(x, y, xl, yl, e, e - 1, nm, zero, zero, NULL, NULL, NULL,
                                          &ks, row_gap(j, s->row, 0));
            h5div_compare_result res;
            h5div_compare_finish_sums(sums, win, counts, ks, j->opt, &res);
            put_values(j, s->row, c, rep, &res);
        }
    }
}

/* W1/KS of one block of a pair: the prefix sums before it, pfp of its P
 * and pfq of its candidate, the block's term into part, then the
 * candidate's prefix sum moved past it; nm is the pair's normalisation. */
static void block_w1(cmp_job *j, uint64_t row, uint64_t col, const double *x, const double *xl,
                     const double *y, const double *yl, size_t e, size_t nw,
                     h5div_compare_partial *part, const h5div_acc *pfp, h5div_acc *pfq,
                     const h5div_norm *nm)
{
    double px[2], py[2], dp = 0.0;
    h5div_acc_round2(pfp, &px[0], &px[1]);
    h5div_acc_round2(pfq, &py[0], &py[1]);
    if (nm->near_eq) { /* the prefix sums' difference exactly, rounded once */
        h5div_acc t = *pfp;
        h5div_acc_sub(&t, pfq);
        dp = h5div_acc_round(&t);
    }
    h5div_acc_add(&part->acc[H5DIV_T_W1],
                  h5div_w1_block_gap_lo(x, y, xl, yl, e, nw, nm, px, py, &dp, pfp, pfq, &part->ks,
                                        row_gap(j, row, col)));
    h5div_total_block_lo(y, yl, e, j->opt->pseudocount, pfq);
}

/* One block (columns col .. col + e - 1 of `row`) of replicate rep, its
 * values xs, ls by slot, into the replicate's partial sums in part; the
 * W1/KS prefix sums of its P then move past it too. */
static void block_terms(cmp_job *j, int rep, uint64_t row, uint64_t col, const double *const *xs,
                        const double *const *ls, size_t e, size_t nw, h5div_compare_partial *part)
{
    const h5div_norm *nm = &j->nm[(size_t)rep * (size_t)j->k];
    h5div_compare_partial *pr = &part[(size_t)rep * (size_t)j->k];
    h5div_acc *pf = &j->pfx[(size_t)rep * (size_t)j->ns];
    for (int c = 0; c < j->k; c++) {
        const int ip = pair_slot(j, rep, c, 0), iq = pair_slot(j, rep, c, 1);
        double sums[H5DIV_T_COUNT];
        int32_t win[2 * H5DIV_RENYI_MAX];
        int64_t counts[2] = {0, 0};
        h5div_compare_block_lo(xs[ip], xs[iq], ls[ip], ls[iq], e, &nm[c], &j->tp, sums, win,
                               counts);
        h5div_compare_partial_add(&pr[c], &j->tp, sums, win, counts);
        if (j->w1)
            block_w1(j, row, col, xs[ip], ls[ip], xs[iq], ls[iq], e, nw, &pr[c], &pf[ip], &pf[iq],
                     &nm[c]);
    }
    for (int i = 0; j->w1 && i < p_slots(j, rep); i++) {
        const int ip = pair_slot(j, rep, i, 0);
        h5div_total_block_lo(xs[ip], ls[ip], e, j->opt->pseudocount, &pf[ip]);
    }
}

/* The blocks of one row segment into the partial sums of its row; with
 * --bootstrap or --null each block's replicates too, while the block is in
 * cache. */
static void segment_terms(cmp_job *j, const h5div_row_seg *s, h5div_compare_partial *part)
{
    for (size_t b = 0; b < s->n; b += H5DIV_BLOCK_BINS) {
        size_t e = s->n - b < H5DIV_BLOCK_BINS ? s->n - b : H5DIV_BLOCK_BINS;
        size_t nw = s->c0 + b + e == j->g.cols ? e - 1 : e; /* not the row's last bin */
        const double *x[H5DIV_SWEEP_MAX], *xl[H5DIV_SWEEP_MAX];
        for (int d = 0; d < j->nd; d++) {
            x[d] = s->x[d] + b;
            xl[d] = lo_plus(s->lo[d], b);
        }
        block_terms(j, 0, s->row, s->c0 + b, x, xl, e, nw, part);
        for (int rep = 1; rep < j->nrep; rep++) {
            draw_block(j, rep, s->row, s->row * j->g.cols + s->c0 + b, s->x, s->lo, b, e);
            block_terms(j, rep, s->row, s->c0 + b, j->dx, j->dl, e, nw, part);
        }
    }
}

static void cmp_row_start(void *ctx, int pass, uint64_t row, void *state)
{
    cmp_job *j = ctx;
    if (pass == pass_terms(j)) {
        start_row_terms(j, row, state, j->g.nb > 1);
        return;
    }
    int r0, r1;
    pass_reps(j, pass, &r0, &r1);
    h5div_acc *tot = state;
    for (int d = r0 * j->ns; d < r1 * j->ns; d++)
        h5div_acc_init(&tot[d]);
}

/* "--bootstrap", "--null" or both: the options that draw replicates. */
static const char *rep_options(const cmp_job *j)
{
    return !j->set[H5DIV_RS_NULL].n        ? "--bootstrap"
           : !j->set[H5DIV_RS_BOOTSTRAP].n ? "--null"
                                           : "--bootstrap and --null";
}

/* With --bootstrap or --null: every value of the segment must be a whole
 * number (counts); the first that is not is an input error. */
static int check_counts(const cmp_job *j, const h5div_row_seg *s, char *msg, size_t len)
{
    for (int d = 0; d < j->nd; d++)
        for (size_t i = 0; i < s->n; i++)
            if (s->x[d][i] != floor(s->x[d][i])) {
                char where[96];
                h5div_where(s->row * j->g.cols + s->c0 + i, j->two_d ? j->g.cols : 0, where,
                            sizeof where);
                h5div_set_error(msg, len,
                                "%s %s integer counts: value %.17g is not a whole number "
                                "(%s, %s)",
                                rep_options(j), j->set[0].n && j->set[1].n ? "need" : "needs",
                                s->x[d][i], j->ref[d], where);
                return H5DIV_EINPUT;
            }
    return H5DIV_OK;
}

/* The totals of the replicates r0 .. r1 - 1 (>= 1) of a segment, block by
 * block. */
static void segment_rep_totals(cmp_job *j, const h5div_row_seg *s, h5div_acc *tot, int r0, int r1)
{
    for (size_t b = 0; b < s->n; b += H5DIV_BLOCK_BINS) {
        size_t e = s->n - b < H5DIV_BLOCK_BINS ? s->n - b : H5DIV_BLOCK_BINS;
        for (int rep = r0; rep < r1; rep++) {
            draw_block(j, rep, s->row, s->row * j->g.cols + s->c0 + b, s->x, s->lo, b, e);
            for (int d = 0; d < rep_slots(j, rep); d++)
                (void)h5div_total_add_valid_lo(j->dx[d], j->dl[d], e, j->opt->pseudocount,
                                               &tot[(size_t)rep * (size_t)j->ns + (size_t)d]);
        }
    }
}

/* The pooled null needs counts in both inputs of each pair; with a
 * pseudocount a histogram of zeros passes the totals' check. */
static int check_null_counts(const cmp_job *j, uint64_t row, char *msg, size_t len)
{
    for (int d = 0; d < j->nd; d++)
        if (!(count_total(j, row, d) > 0.0)) {
            char where[64] = "";
            if (j->two_d)
                snprintf(where, sizeof where, ", row %llu", (unsigned long long)row);
            h5div_set_error(msg, len, "--null needs counts: histogram is all zeros (%s%s)",
                            j->ref[d], where);
            return H5DIV_EINPUT;
        }
    return H5DIV_OK;
}

static int cmp_segment(void *ctx, int pass, const h5div_row_seg *s, void *state, char *msg,
                       size_t len)
{
    cmp_job *j = ctx;
    if (pass == pass_terms(j)) {
        if (j->ext_failed) {
            h5div_set_error(msg, len,
                            "out of memory for the totals of more than three parts of %d or "
                            "more rows (%s)",
                            EXT_MAX, j->ref[0]);
            return H5DIV_EINTERNAL;
        }
        if (j->g.nb == 1)
            short_row(j, s);
        else
            segment_terms(j, s, state);
        return H5DIV_OK;
    }
    h5div_acc *tot = state;
    int r0, r1;
    pass_reps(j, pass, &r0, &r1);
    if (pass == PASS_NULL_TOTALS) {
        H5DIV_CHECK(check_null_counts(j, s->row, msg, len));
        segment_rep_totals(j, s, tot, r0, r1);
        return H5DIV_OK;
    }
    for (int d = 0; d < j->nd; d++) {
        size_t i = h5div_total_add_valid_lo(s->x[d], s->lo[d], s->n, j->opt->pseudocount, &tot[d]);
        if (i < s->n)
            return h5div_bad_value(s->x[d][i], s->row * j->g.cols + s->c0 + i,
                                   j->two_d ? j->g.cols : 0, j->ref[d], msg, len);
    }
    if (j->nrep > 1) {
        H5DIV_CHECK(check_counts(j, s, msg, len));
        segment_rep_totals(j, s, tot, 1, r1);
    }
    return H5DIV_OK;
}

/* A shared row's totals (and, for W1/KS, the sums before this rank's part
 * of its first row), or its partial sums, combined over its ranks. */
static int cmp_reduce(MPI_Comm c, void *ctx, int pass, uint64_t row, void *state)
{
    cmp_job *j = ctx;
    if (pass == pass_terms(j))
        return h5div_par_sum_compare(c, state, j->k * j->nrep, &j->tp);
    int r0, r1;
    pass_reps(j, pass, &r0, &r1);
    const size_t at = (size_t)r0 * (size_t)j->ns;
    const int n = (r1 - r0) * j->ns;
    h5div_acc *t = (h5div_acc *)state + at;
    if (j->w1) {
        /* The lowest rank of the row gets zeros: the row starts there.
         * (j->pfx is free until the terms pass.) */
        memcpy(j->pfx + at, t, (size_t)n * sizeof *t);
        H5DIV_CHECK(h5div_par_exscan_acc(c, j->pfx + at, n));
        if (row == j->rw->lo)
            memcpy(j->pfx0 + at, j->pfx + at, (size_t)n * sizeof *t);
    }
    return h5div_par_sum_acc(c, t, n);
}

/* Totals on every rank that holds the row; measures on its owner. */
static void cmp_row_finish(void *ctx, int pass, uint64_t row, int owned, const void *state)
{
    cmp_job *j = ctx;
    if (pass < pass_terms(j)) {
        const h5div_acc *tot = state;
        double *t = (double *)row_total(j, row, 0);
        int r0, r1;
        pass_reps(j, pass, &r0, &r1);
        for (int d = r0 * j->ns; d < r1 * j->ns; d++) {
            double part[H5DIV_ACC_PARTS];
            const int n = h5div_acc_parts(&tot[d], part);
            for (int i = 0; i < 3; i++)
                t[3 * d + i] = i < n ? part[i] : 0.0;
            if (n > 3)
                ext_put(j, ext_key(j, row, d / j->ns, d % j->ns), part, n);
        }
        return;
    }
    if (j->g.nb == 1 || !owned) /* short rows are finished by their segment */
        return;
    const h5div_compare_partial *part = state;
    for (int rep = 0; rep < j->nrep; rep++)
        for (int c = 0; c < j->k; c++)
            finish_partial(j, row, c, rep, &part[(size_t)rep * (size_t)j->k + (size_t)c]);
}

/* P's or a candidate's total of a row (the engine refuses zero and overflow). */
static double cmp_total(const void *ctx, uint64_t row, int d)
{
    return row_total(ctx, row, 0)[3 * d];
}

/* The per-row state once the rows are known. */
static int cmp_setup(void *ctx, const h5div_eval *e, char *msg, size_t len)
{
    cmp_job *j = ctx;
    j->rw = &e->rows;
    h5div_eval_batch_rows(e, j->out);
    size_t ns = (size_t)j->ns, k = (size_t)j->k, nown = (size_t)j->out->row_count;
    size_t nrows = (size_t)(j->rw->hi - j->rw->lo), nrep = (size_t)j->nrep;
    if (j->nrep > 1) {
        /* The engine's three row states (the row in progress and two shared
         * rows) hold 1 + B sets of partial sums each; with the per-row
         * arrays they must fit in half of --memory-per-rank, as the input's
         * per-row state must (not agreed here: the engine agrees). */
        double need = 3.0 * (double)e->f->state_size +
                      (double)(nrows ? nrows : 1) * (double)e->f->row_bytes +
                      (double)(nown ? nown : 1) * (double)e->f->owned_row_bytes;
        if (need > 0.5 * (double)j->opt->memory_per_rank) {
            char what[80];
            const uint64_t nb = j->set[H5DIV_RS_BOOTSTRAP].n, nn = j->set[H5DIV_RS_NULL].n;
            if (nb && nn)
                snprintf(what, sizeof what, "--bootstrap %llu with --null %llu",
                         (unsigned long long)nb, (unsigned long long)nn);
            else
                snprintf(what, sizeof what, "%s %llu", rep_options(j),
                         (unsigned long long)(nb ? nb : nn));
            h5div_set_error(msg, len,
                            "%s needs %.1f MiB of state on a rank, more than half of "
                            "--memory-per-rank (%.1f MiB); raise it to %.0fMiB or use fewer "
                            "replicates (%s)",
                            what, need / 1048576.0, (double)j->opt->memory_per_rank / 1048576.0,
                            ceil(2.0 * need / 1048576.0), j->ref[0]);
            return H5DIV_EINPUT;
        }
    }
    int ok = (j->row_tot = malloc((nrows ? nrows : 1) * nrep * ns * 3 * sizeof(double))) != NULL;
    ok &= (j->pfx0 = calloc(ns * nrep, sizeof *j->pfx0)) != NULL;
    ok &= (j->pfx = calloc(ns * nrep, sizeof *j->pfx)) != NULL;
    ok &= (j->nm = malloc(nrep * k * sizeof *j->nm)) != NULL;
    ok &= (j->values = malloc((nown ? nown : 1) * k * (size_t)j->ncols * sizeof(double))) != NULL;
    if (j->nrep > 1)
        ok &= (j->draw = malloc(ns * 2 * H5DIV_BLOCK_BINS * sizeof(double))) != NULL;
    for (int s = 0; s < 2; s++)
        if (j->set[s].n)
            ok &= (j->set[s].vals = malloc((nown ? nown : 1) * k * (size_t)j->ncols *
                                           (size_t)j->set[s].n * sizeof(double))) != NULL;
    if (ok)
        return H5DIV_OK;
    h5div_set_error(msg, len,
                    "out of memory for the per-row state of %zu rows and %d candidates "
                    "(--memory-per-rank)",
                    nrows, j->k);
    return H5DIV_EINTERNAL;
}

static const h5div_row_family compare_family = {
    .name = "compare",
    .npasses = 2,
    .setup = cmp_setup,
    .row_start = cmp_row_start,
    .segment = cmp_segment,
    .state_reduce = cmp_reduce,
    .row_finish = cmp_row_finish,
    .row_total = cmp_total,
};

static void job_free(cmp_job *j)
{
    free(j->row_tot);
    free(j->ext);
    free(j->pfx0);
    free(j->nm);
    free(j->pfx);
    free(j->values);
    free(j->draw);
    free(j->set[0].vals);
    free(j->set[1].vals);
}

typedef struct batch_args {
    const char *p_ref;
    const char *const *q_refs;
    int k;
    const h5div_options *opt;
    h5div_compare_batch *out;
} batch_args;

/* "[rows, cols]" or "N bins" of a dataset, for messages. */
static void shape_text(const h5div_dset *d, char *buf, size_t len)
{
    snprintf(buf, len, d->rows ? "[%llu, %llu]" : "%llu bins",
             (unsigned long long)(d->rows ? d->rows : d->bins), (unsigned long long)d->cols);
}

/* Collective: open P and the candidates, all of one shape; *opened of them
 * are open (to close) on return. Agreed status. */
static int open_inputs(MPI_Comm comm, const cmp_job *j, h5div_dset *d, int *opened, char *msg,
                       size_t len)
{
    for (*opened = 0; *opened < j->nd;) {
        int i = *opened;
        H5DIV_CHECK(h5div_dset_open_batch(comm, j->ref[i], &d[i], msg, len));
        (*opened)++;
        if (i && (d[i].rows != d[0].rows || d[i].bins != d[0].bins)) {
            /* Same metadata on every rank: every rank takes this branch. */
            char a[64], b[64];
            shape_text(&d[0], a, sizeof a);
            shape_text(&d[i], b, sizeof b);
            h5div_set_error(msg, len, "histograms differ in shape: %s vs %s (%s, %s)", a, b,
                            j->ref[0], j->ref[i]);
            return H5DIV_EINPUT;
        }
    }
    return H5DIV_OK;
}

static int job_init(MPI_Comm comm, cmp_job *j, const batch_args *ba, char *msg, size_t len)
{
    memset(j, 0, sizeof *j);
    j->opt = ba->opt;
    j->k = ba->k;
    j->nd = ba->k + 1;
    j->out = ba->out;
    H5DIV_CHECK(h5div_agree_options(comm, ba->opt, msg, len));
    if (ba->k < 1 || ba->k > H5DIV_CANDIDATES_MAX) {
        h5div_set_error(msg, len, "between 1 and %d candidates can be compared at once (%d given)",
                        H5DIV_CANDIDATES_MAX, ba->k);
        return H5DIV_EUSAGE;
    }
    j->ref[0] = ba->p_ref;
    for (int c = 0; c < ba->k; c++)
        j->ref[1 + c] = ba->q_refs[c];
    h5div_term_params_init(&j->tp, ba->opt);
    j->w1 = (int)((j->tp.mask >> H5DIV_T_W1) & 1u);
    j->ncols = h5div_compare_columns(ba->opt, j->cols);
    const uint64_t nb = ba->opt->bootstrap, nn = ba->opt->null;
    if (nb > H5DIV_BOOTSTRAP_MAX || nn > H5DIV_BOOTSTRAP_MAX ||
        (nb && !(ba->opt->ci > 0.0 && ba->opt->ci < 1.0))) {
        h5div_set_error(msg, len,
                        "--bootstrap and --null take 1 to %d replicates and --ci a level in "
                        "(0, 1) (%llu, %llu, %g)",
                        H5DIV_BOOTSTRAP_MAX, (unsigned long long)nb, (unsigned long long)nn,
                        ba->opt->ci);
        return H5DIV_EUSAGE;
    }
    j->set[H5DIV_RS_BOOTSTRAP].n = nb;
    j->set[H5DIV_RS_BOOTSTRAP].first = 1;
    j->set[H5DIV_RS_NULL].n = nn;
    j->set[H5DIV_RS_NULL].first = 1 + nb;
    j->nrep = 1 + (int)nb + (int)nn;
    j->ns = nn && 2 * j->k > j->nd ? 2 * j->k : j->nd;
    return H5DIV_OK;
}

/* The p-values of the owned rows' measures from their null replicates (NaN
 * for the columns without one). Not collective. */
static int summarize_null(cmp_job *j, char *msg, size_t len)
{
    h5div_compare_batch *b = j->out;
    rep_set *set = &j->set[H5DIV_RS_NULL];
    const size_t nrow = (size_t)b->row_count, n = (size_t)j->k * (size_t)j->ncols * nrow;
    b->p_value = malloc((n ? n : 1) * sizeof *b->p_value);
    if (!b->p_value) {
        h5div_set_error(msg, len, "out of memory for the p-values (%llu null replicates)",
                        (unsigned long long)set->n);
        return H5DIV_EINTERNAL;
    }
    b->tested = h5div_compare_tested_columns(j->cols, j->ncols);
    for (size_t i = 0; i < n; i++) {
        const size_t col = i / nrow % (size_t)j->ncols;
        b->p_value[i] = b->tested >> col & 1u
                            ? h5div_rs_pvalue(set->vals + i * set->n, (size_t)set->n, b->values[i])
                            : NAN;
    }
    b->nnull = set->n;
    if (j->opt->keep_replicates) {
        b->null_reps = set->vals;
        set->vals = NULL;
    }
    return H5DIV_OK;
}

/* The owned rows' values into the caller's batch. */
static int batch_out(cmp_job *j, char *msg, size_t len)
{
    h5div_compare_batch *b = j->out;
    b->command = "compare";
    b->candidates = j->k;
    b->ncolumns = j->ncols;
    memcpy(b->columns, j->cols, sizeof j->cols);
    b->values = j->values;
    j->values = NULL;
    if (j->set[H5DIV_RS_BOOTSTRAP].n)
        H5DIV_CHECK(
            h5div_eval_bootstrap_summary(b, &j->set[H5DIV_RS_BOOTSTRAP].vals, j->opt, msg, len));
    return j->set[H5DIV_RS_NULL].n ? summarize_null(j, msg, len) : H5DIV_OK;
}

/* Both passes over the open inputs ds. */
static int run_job(MPI_Comm comm, cmp_job *j, h5div_dset *const *ds, char *msg, size_t len)
{
    /* Histograms with attached edges (h5div histogram): W1 in data units,
     * the bin centres as positions. */
    double *gap = NULL;
    h5div_options wopt;
    const h5div_options *opt = j->opt;
    if (j->w1)
        H5DIV_CHECK(h5div_w1_positions(comm, ds, j->nd, &gap, &j->gap_rows, msg, len));
    if (gap) {
        wopt = *opt;
        wopt.bin_width = 1.0;
        j->opt = &wopt;
        j->gap = gap;
    }
    j->two_d = ds[0]->rows > 0;
    j->g = h5div_grid_of(ds[0]);
    h5div_sweep sw;
    int st = h5div_sweep_init(comm, &sw, ds, j->nd, 0, opt, msg, len);
    if (st == H5DIV_OK) {
        h5div_row_family f = compare_family;
        f.npasses = pass_terms(j) + 1;
        size_t part = (size_t)j->nrep * (size_t)j->k * sizeof(h5div_compare_partial);
        size_t tot = (size_t)j->nrep * (size_t)j->ns * sizeof(h5div_acc);
        f.state_size = part > tot ? part : tot;
        f.row_bytes = (uint64_t)j->nrep * (uint64_t)j->ns * 3 * sizeof(double);
        /* values, with --bootstrap B replicates, se and interval, with
         * --null B' replicates and the p-value */
        const uint64_t nb = j->set[H5DIV_RS_BOOTSTRAP].n, nn = j->set[H5DIV_RS_NULL].n;
        f.owned_row_bytes = (uint64_t)j->k * (uint64_t)j->ncols * sizeof(double) *
                            (1 + (nb ? nb + 3 : 0) + (nn ? nn + 1 : 0));
        f.ref = j->ref[0];
        st = h5div_eval_rows(comm, &sw, &f, j, opt, msg, len);
        h5div_sweep_free(&sw);
    }
    j->opt = opt;
    j->gap = NULL;
    free(gap);
    return st;
}

static int batch_body(MPI_Comm comm, void *arg, char *msg, size_t len)
{
    batch_args *ba = arg;
    cmp_job j;
    H5DIV_CHECK(job_init(comm, &j, ba, msg, len));
    h5div_dset d[H5DIV_SWEEP_MAX];
    h5div_dset *ds[H5DIV_SWEEP_MAX];
    for (int i = 0; i < j.nd; i++)
        ds[i] = &d[i];
    int opened = 0;
    int st = open_inputs(comm, &j, d, &opened, msg, len);
    if (st == H5DIV_OK)
        st = run_job(comm, &j, ds, msg, len);
    if (st == H5DIV_OK)
        st = h5div_par_agree(comm, batch_out(&j, msg, len), msg, len);
    job_free(&j);
    for (int i = 0; i < opened; i++)
        h5div_dset_close(&d[i]);
    return st;
}

int h5div_compare_batch_files(MPI_Comm comm, const char *p_ref, const char *const *q_refs, int k,
                              const h5div_options *opt, h5div_compare_batch *out, char *errmsg,
                              size_t errlen)
{
    memset(out, 0, sizeof *out);
    batch_args ba = {p_ref, q_refs, k, opt, out};
    return h5div_io_collective(comm, batch_body, &ba, errmsg, errlen);
}

int h5div_compare_files(MPI_Comm comm, const char *p_ref, const char *q_ref,
                        const h5div_options *opt, h5div_compare_result *result, char *errmsg,
                        size_t errlen)
{
    h5div_compare_batch b;
    const char *q[1] = {q_ref};
    int st = h5div_compare_batch_files(comm, p_ref, q, 1, opt, &b, errmsg, errlen);
    if (st != H5DIV_OK)
        return st;
    memset(result, 0, sizeof *result);
    double v[H5DIV_COMPARE_MAX_COLUMNS];
    h5div_column cols[H5DIV_COMPARE_MAX_COLUMNS];
    int ncols = b.ncolumns;
    memcpy(cols, b.columns, sizeof cols);
    result->bins = b.bins;
    st = h5div_par_batch_single(comm, &b, p_ref, "h5div_compare_batch_files", v, errmsg, errlen);
    if (st != H5DIV_OK)
        return st;
    result->computed = opt->measures;
    for (int i = 0; i < ncols; i++) {
        const h5div_column *c = &cols[i];
        if (c->order < 0)
            result->value[c->measure] = v[i];
        else
            (c->measure == H5DIV_RENYI_PQ ? result->renyi_pq : result->renyi_qp)[c->order] = v[i];
        if (c->order == 0)
            result->value[c->measure] = v[i];
    }
    return H5DIV_OK;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Binning of samples with shared edges, and exact order statistics by radix selection. */
#include "core/histogram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void h5div_hist_linspace(double lo, double hi, uint64_t k, double *e)
{
    /* numpy.linspace: step = delta / div, y = arange * step + start, and
     * the end point set exactly; a step that underflows divides later. */
    const double delta = hi - lo, div = (double)k, step = delta / div;
    for (uint64_t i = 0; i <= k; i++) {
        double t = (double)i;
        e[i] = step == 0.0 ? t / div * delta + lo : t * step + lo;
    }
    e[k] = hi;
}

void h5div_hist_geomspace(double lo, double hi, uint64_t k, double *e)
{
    const double a = log10(lo), b = log10(hi);
    const double step = (b - a) / (double)k;
    for (uint64_t i = 0; i <= k; i++)
        e[i] = pow(10.0, (double)i * step + a);
    e[0] = lo;
    e[k] = hi;
}

void h5div_hist_widen(int log_edges, double *lo, double *hi)
{
    if (log_edges) {
        *lo *= 0.5;
        *hi *= 2.0;
    } else {
        *lo -= 0.5;
        *hi += 0.5;
    }
}

int h5div_hist_edges_prepare(h5div_hist_edges *ed)
{
    free(ed->norm);
    ed->norm = malloc(ed->rows * sizeof *ed->norm);
    if (!ed->norm)
        return -1;
    for (uint64_t r = 0; r < ed->rows; r++) {
        const double *e = ed->e + r * (ed->k + 1);
        double norm = ed->uniform ? (double)ed->k / (e[ed->k] - e[0]) : 0.0;
        ed->norm[r] = norm > 0.0 && isfinite(norm) ? norm : 0.0;
    }
    return 0;
}

int h5div_hist_increasing(const double *e, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(e[i]) || (i && !(e[i] > e[i - 1])))
            return 0;
    return 1;
}

/* The bin rule, inlined into the loops (the exported function below may be
 * interposed in a shared library, so calls to it are not inlined). */
static inline int64_t bin_of(const double *restrict e, uint64_t k, double norm, double x)
{
    if (x < e[0])
        return -1;
    if (x >= e[k])
        return x == e[k] ? (int64_t)k - 1 : (int64_t)k;
    int64_t last = (int64_t)k - 1;
    if (norm > 0.0) {
        /* numpy's arithmetic for uniform bins, then the stored edges decide:
         * at most a step or two of correction. */
        double f = (x - e[0]) * norm;
        int64_t i = f < (double)last ? (int64_t)f : last;
        if (i < 0)
            i = 0;
        while (i > 0 && x < e[i])
            i--;
        while (i < last && x >= e[i + 1])
            i++;
        return i;
    }
    /* The last edge <= x among e[0..k) (e[0] <= x < e[k] here), by a
     * binary search without data-dependent branches: the select compiles to
     * a conditional move, so no branch is mispredicted. */
    const double *base = e;
    uint64_t len = k;
    while (len > 1) {
        const uint64_t half = len / 2;
        base = base[half] <= x ? base + half : base;
        len -= half;
    }
    return (int64_t)(base - e);
}

int64_t h5div_hist_bin(const double *e, uint64_t k, double norm, double x)
{
    return bin_of(e, k, norm, x);
}

int h5div_hist_counts_init(h5div_hist_counts *c, uint64_t d, uint64_t k, int weighted)
{
    memset(c, 0, sizeof *c);
    c->d = d;
    c->k = k;
    size_t nb = (size_t)(d * k);
    c->count = calloc(nb ? nb : 1, sizeof *c->count);
    c->under = calloc(d, sizeof *c->under);
    c->over = calloc(d, sizeof *c->over);
    c->nan = calloc(d, sizeof *c->nan);
    int ok = c->count && c->under && c->over && c->nan;
    if (ok && weighted) {
        c->sumw = malloc((nb ? nb : 1) * sizeof *c->sumw);
        c->sumw2 = malloc((nb ? nb : 1) * sizeof *c->sumw2);
        ok = c->sumw && c->sumw2;
        for (size_t i = 0; ok && i < nb; i++) {
            h5div_acc_init(&c->sumw[i]);
            h5div_acc_init(&c->sumw2[i]);
        }
    }
    if (!ok) {
        h5div_hist_counts_free(c);
        return -1;
    }
    return 0;
}

void h5div_hist_counts_free(h5div_hist_counts *c)
{
    free(c->count);
    free(c->under);
    free(c->over);
    free(c->nan);
    free(c->sumw);
    free(c->sumw2);
    memset(c, 0, sizeof *c);
}

/* One feature, counts only: the common case, kept tight. */
static size_t add_counts_1d(const h5div_hist_edges *ed, const h5div_hist_rules *r, const double *x,
                            size_t n, h5div_hist_counts *c)
{
    const uint64_t k = ed->k;
    const double *restrict e = ed->e;
    const double norm = ed->norm[0];
    uint64_t *restrict cnt = c->count;
    uint64_t under = 0, over = 0, nan = 0;
    size_t i = 0;
    for (; i < n; i++) {
        const double v = x[i];
        if (v != v) {
            if (!r->nan_skip)
                break;
            nan++;
            continue;
        }
        int64_t b = bin_of(e, k, norm, v);
        if ((uint64_t)b >= k) {
            if (b < 0)
                under++;
            else
                over++;
            if (!r->outside_bins)
                continue;
            b = b < 0 ? 0 : (int64_t)k - 1;
        }
        cnt[b]++;
    }
    c->under[0] += under;
    c->over[0] += over;
    c->nan[0] += nan;
    return i;
}

size_t h5div_hist_add(const h5div_hist_edges *ed, const h5div_hist_rules *r, const double *x,
                      size_t n, uint64_t first, const double *w, uint64_t w_row0,
                      h5div_hist_counts *c)
{
    const uint64_t d = c->d, k = ed->k, stride = k + 1;
    if (d == 1 && !w)
        return add_counts_1d(ed, r, x, n, c);
    uint64_t col = first % d, row = first / d;
    for (size_t i = 0; i < n; i++) {
        const double v = x[i];
        const uint64_t f = col, ri = row;
        const uint64_t er = ed->rows == 1 ? 0 : f;
        if (++col == d) {
            col = 0;
            row++;
        }
        if (isnan(v)) {
            if (!r->nan_skip)
                return i;
            c->nan[f]++;
            continue;
        }
        int64_t b = bin_of(ed->e + er * stride, k, ed->norm[er], v);
        if (b < 0 || b >= (int64_t)k) {
            if (b < 0)
                c->under[f]++;
            else
                c->over[f]++;
            if (!r->outside_bins)
                continue;
            b = b < 0 ? 0 : (int64_t)k - 1;
        }
        const uint64_t slot = f * k + (uint64_t)b;
        c->count[slot]++;
        if (w) {
            const double wi = w[ri - w_row0];
            h5div_acc_add(&c->sumw[slot], wi);
            h5div_acc_add(&c->sumw2[slot], wi * wi);
        }
    }
    return n;
}

static inline uint64_t key_of(double x)
{
    if (x == 0.0)
        x = 0.0; /* -0 sorts with +0 */
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return (u >> 63) ? ~u : u | ((uint64_t)1 << 63);
}

uint64_t h5div_hist_key(double x)
{
    return key_of(x);
}

double h5div_hist_unkey(uint64_t u)
{
    u = (u >> 63) ? u & ~((uint64_t)1 << 63) : ~u;
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

uint64_t h5div_hist_quantile_rank(uint64_t n, uint64_t j, uint64_t k)
{
    /* numpy's inverted_cdf: index n q - 1 in double, the next integer when
     * it has a fraction, at least 0 (and at most n - 1). */
    const double q = (double)j / (double)k;
    const double idx = (double)n * q - 1.0;
    const double prev = floor(idx);
    double r = idx - prev > 0.0 ? prev + 1.0 : prev;
    if (r < 0.0)
        r = 0.0;
    if (r > (double)(n - 1))
        r = (double)(n - 1);
    return (uint64_t)r;
}

int h5div_qsel_init(h5div_qsel *q, uint64_t d, uint64_t k, size_t budget)
{
    memset(q, 0, sizeof *q);
    q->d = d;
    q->k = k;
    q->nt = d * (k + 1);
    q->budget = budget;
    q->n = calloc(d, sizeof *q->n);
    q->rank = calloc(q->nt, sizeof *q->rank);
    q->base = calloc(q->nt, sizeof *q->base);
    q->prefix = calloc(q->nt, sizeof *q->prefix);
    q->key = calloc(q->nt, sizeof *q->key);
    q->done = calloc(q->nt, sizeof *q->done);
    q->gfeat = calloc(q->nt, sizeof *q->gfeat);
    q->gprefix = calloc(q->nt, sizeof *q->gprefix);
    q->gfirst = calloc(d + 1, sizeof *q->gfirst);
    if (!q->n || !q->rank || !q->base || !q->prefix || !q->key || !q->done || !q->gfeat ||
        !q->gprefix || !q->gfirst) {
        h5div_qsel_free(q);
        return -1;
    }
    return 0;
}

void h5div_qsel_free(h5div_qsel *q)
{
    free(q->n);
    free(q->rank);
    free(q->base);
    free(q->prefix);
    free(q->key);
    free(q->done);
    free(q->gfeat);
    free(q->gprefix);
    free(q->gfirst);
    free(q->cell);
    free(q->tlo);
    free(q->thi);
    memset(q, 0, sizeof *q);
}

/* The groups of this pass: on the first, one per feature (all its values);
 * later, one per distinct prefix of the order statistics not yet found. */
static void qsel_groups(h5div_qsel *q)
{
    const uint64_t per = q->k + 1;
    q->ng = 0;
    uint64_t t = 0;
    for (uint64_t f = 0; f < q->d; f++) {
        q->gfirst[f] = q->ng;
        if (q->passes == 0) {
            q->gfeat[q->ng] = f;
            q->gprefix[q->ng++] = 0;
            continue;
        }
        for (uint64_t j = 0; j < per; j++, t++) {
            if (q->done[t])
                continue;
            /* prefixes rise with j within a feature: groups stay sorted */
            if (q->ng > q->gfirst[f] && q->gprefix[q->ng - 1] == q->prefix[t])
                continue;
            q->gfeat[q->ng] = f;
            q->gprefix[q->ng++] = q->prefix[t];
        }
    }
    q->gfirst[q->d] = q->ng;
}

/* After the first pass: a table on the first pass's digit (the top bits0
 * bits) gives each value the few groups it can belong to: most values
 * belong to none and are passed over with one look-up. 0, or -1 without
 * memory. */
static int qsel_table(h5div_qsel *q)
{
    const size_t nt = (size_t)(q->d << q->bits0);
    if (!q->tlo) {
        q->tlo = malloc(nt * sizeof *q->tlo);
        q->thi = malloc(nt * sizeof *q->thi);
        if (!q->tlo || !q->thi)
            return -1;
    }
    memset(q->tlo, 0, nt * sizeof *q->tlo);
    memset(q->thi, 0, nt * sizeof *q->thi);
    for (uint64_t g = 0; g < q->ng; g++) {
        const size_t t =
            (size_t)((q->gfeat[g] << q->bits0) | (q->gprefix[g] >> (q->res - q->bits0)));
        if (q->tlo[t] == q->thi[t])
            q->tlo[t] = (uint32_t)g;
        q->thi[t] = (uint32_t)(g + 1);
    }
    return 0;
}

int h5div_qsel_begin(h5div_qsel *q)
{
    qsel_groups(q);
    if (q->passes > 0 && q->ng == 0)
        return 0;
    if (q->passes > 0 && qsel_table(q) != 0)
        return -1;
    /* wider digits first: the first pass decides how many values later passes touch */
    const int cap = q->passes == 0 ? 20 : 16;
    int bits = 64 - q->res < cap ? 64 - q->res : cap;
    while (bits > 1 && q->ng * ((uint64_t)3 << bits) * sizeof(uint64_t) > q->budget)
        bits--;
    q->bits = bits;
    if (q->passes == 0)
        q->bits0 = bits;
    size_t nh = (size_t)(q->ng << bits);
    free(q->cell);
    q->cell = malloc(nh * sizeof *q->cell);
    if (!q->cell)
        return -1;
    for (size_t i = 0; i < nh; i++) {
        q->cell[i].n = 0;
        q->cell[i].mn = UINT64_MAX;
        q->cell[i].mx = 0;
    }
    return 1;
}

void h5div_qsel_add(h5div_qsel *q, const double *x, size_t n, uint64_t first)
{
    /* Everything in locals: the stores into the tables cannot then be
     * taken to change q. */
    const uint64_t d = q->d;
    const int res = q->res, bits = q->bits;
    const uint64_t mask = ((uint64_t)1 << bits) - 1;
    const int dshift = 64 - res - bits;
    const uint64_t *restrict gfirst = q->gfirst, *restrict gprefix = q->gprefix;
    const uint32_t *restrict tlo = q->tlo, *restrict thi = q->thi;
    const int bits0 = q->bits0;
    h5div_qsel_cell *restrict cell = q->cell;
    uint64_t col = first % d;
    for (size_t i = 0; i < n; i++) {
        const uint64_t f = col;
        if (++col == d)
            col = 0;
        const double v = x[i];
        if (v != v)
            continue;
        const uint64_t key = key_of(v);
        uint64_t g = gfirst[f];
        if (res > 0) {
            const uint64_t pre = key >> (64 - res);
            const size_t t = (size_t)((f << bits0) | (key >> (64 - bits0)));
            uint64_t lo = tlo[t], hi = thi[t];
            if (lo == hi)
                continue;
            while (lo < hi) {
                uint64_t mid = lo + (hi - lo) / 2;
                if (gprefix[mid] < pre)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo == thi[t] || gprefix[lo] != pre)
                continue;
            g = lo;
        }
        const size_t s = (size_t)((g << bits) | ((key >> dshift) & mask));
        /* count, min and max side by side: one cache line a value */
        h5div_qsel_cell *c = &cell[s];
        c->n++;
        c->mn = key < c->mn ? key : c->mn;
        c->mx = key > c->mx ? key : c->mx;
    }
}

int h5div_qsel_end(h5div_qsel *q)
{
    const uint64_t per = q->k + 1, nd = (uint64_t)1 << q->bits;
    if (q->passes == 0) {
        for (uint64_t f = 0; f < q->d; f++) {
            uint64_t s = 0;
            for (uint64_t b = 0; b < nd; b++)
                s += q->cell[(f << q->bits) | b].n;
            q->n[f] = s;
            if (s == 0)
                return -1;
            for (uint64_t j = 0; j < per; j++)
                q->rank[f * per + j] = h5div_hist_quantile_rank(s, j, q->k);
        }
    }
    for (uint64_t t = 0; t < q->nt; t++) {
        if (q->done[t])
            continue;
        const uint64_t f = t / per;
        uint64_t g = q->gfirst[f];
        while (g < q->gfirst[f + 1] && q->gprefix[g] != q->prefix[t])
            g++;
        const h5div_qsel_cell *h = q->cell + (g << q->bits);
        uint64_t c = q->base[t], b = 0;
        for (; b + 1 < nd; b++) {
            if (q->rank[t] < c + h[b].n)
                break;
            c += h[b].n;
        }
        q->base[t] = c;
        q->prefix[t] = (q->prefix[t] << q->bits) | b;
        const size_t s = (size_t)((g << q->bits) | b);
        if (q->cell[s].mn == q->cell[s].mx) {
            /* one distinct value left in the bucket: it is the answer */
            q->done[t] = 1;
            q->key[t] = q->cell[s].mn;
        } else if (q->res + q->bits == 64) {
            q->done[t] = 1;
            q->key[t] = q->prefix[t];
        }
    }
    q->res += q->bits;
    q->passes++;
    return 0;
}

void h5div_qsel_merge(h5div_qsel_cell *restrict into, const h5div_qsel_cell *restrict from,
                      size_t n)
{
    for (size_t i = 0; i < n; i++) {
        into[i].n += from[i].n;
        into[i].mn = from[i].mn < into[i].mn ? from[i].mn : into[i].mn;
        into[i].mx = from[i].mx > into[i].mx ? from[i].mx : into[i].mx;
    }
}

void h5div_qsel_edges(const h5div_qsel *q, uint64_t f, double *e)
{
    for (uint64_t j = 0; j <= q->k; j++)
        e[j] = h5div_hist_unkey(q->key[f * (q->k + 1) + j]);
}

uint64_t h5div_hist_merge_ties(double *e, uint64_t k)
{
    uint64_t m = 0;
    for (uint64_t i = 1; i <= k; i++)
        if (e[i] != e[m])
            e[++m] = e[i];
    if (m == 0) { /* all equal: one closed bin [v, v] */
        e[1] = e[0];
        m = 1;
    }
    return m;
}

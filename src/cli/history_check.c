/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div history --check: conditions on the measures of the runs, and their failures. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/history.h"

static const char *const op_text[] = {"<", "<=", ">", ">="};

void h5div_hist_free_terms(h5div_hist_term *terms, size_t n)
{
    for (size_t t = 0; terms && t < n; t++) {
        free(terms[t].name);
        free(terms[t].label);
    }
    free(terms);
}

/* [s, e) without leading and trailing white space. */
static void trim(const char **s, const char **e)
{
    while (*s < *e && isspace((unsigned char)**s))
        (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

/* The limit [b, e): a number, inf or -inf; never NaN (nothing would
 * pass). Returns 0, or -1 when it is none of these. */
static int parse_limit(const char *b, const char *e, double *limit)
{
    char num[64] = "";
    if (e == b || (size_t)(e - b) >= sizeof num)
        return -1;
    memcpy(num, b, (size_t)(e - b));
    num[e - b] = '\0';
    char *end = NULL;
    errno = 0;
    *limit = strtod(num, &end);
    return end == num || *end || isnan(*limit) || (errno == ERANGE && isinf(*limit)) ? -1 : 0;
}

/* The name [b, e): MEASURE or MEASURE[J], each optionally with a suffix
 * .median, .max, .lo or .hi, into ct's stat and index. Returns the length
 * of MEASURE, or 0 when the name is malformed. */
static size_t parse_name(const char *b, const char *e, h5div_hist_term *ct)
{
    size_t nl = (size_t)(e - b);
    ct->stat = H5DIV_HIST_NONE;
    for (int st = H5DIV_HIST_MEDIAN; st < H5DIV_HIST_NSTATS; st++) {
        size_t sl = strlen(h5div_hist_stat_suffix[st]);
        if (nl > sl && strncmp(e - sl, h5div_hist_stat_suffix[st], sl) == 0) {
            ct->stat = st;
            nl -= sl;
            break;
        }
    }
    ct->index = -1;
    size_t base = nl;
    int bad = nl == 0;
    if (!bad && b[nl - 1] == ']') {
        const char *open = memchr(b, '[', nl);
        bad = !open || open == b || open + 1 == b + nl - 1;
        for (const char *d = open ? open + 1 : b; !bad && d < b + nl - 1; d++)
            bad = !isdigit((unsigned char)*d) || d - open > 9;
        if (!bad) {
            base = (size_t)(open - b);
            ct->index = strtol(open + 1, NULL, 10);
        }
    }
    for (size_t k = 0; !bad && k < base; k++)
        bad = isspace((unsigned char)b[k]) || strchr("[]=!", b[k]) != NULL;
    return bad ? 0 : base;
}

/* One condition [b, e) (trimmed) of --check `spec` into ct. Returns
 * H5DIV_OK or H5DIV_EUSAGE with one line in msg; ct's strings, once
 * allocated, are the caller's to free either way. */
static int parse_condition(const char *b, const char *e, const char *spec, h5div_hist_term *ct,
                           char *msg)
{
    int len = (int)(e - b);
    const char *op = b;
    while (op < e && *op != '<' && *op != '>')
        op++;
    if (b == e)
        return h5div_cli_usage(msg,
                               "empty condition; --check takes NAME<X, NAME<=X, NAME>X or "
                               "NAME>=X separated by commas (--check %s)",
                               spec);
    if (op == e)
        return h5div_cli_usage(msg,
                               "condition '%.*s' has no operator; the operators are <, <=, >, "
                               ">= (--check %s)",
                               len, b, spec);
    int eq = op[1] == '=';
    ct->op =
        op[0] == '<' ? (eq ? H5DIV_HIST_LE : H5DIV_HIST_LT) : (eq ? H5DIV_HIST_GE : H5DIV_HIST_GT);
    const char *nb = b, *ne = op, *vb = op + (eq ? 2 : 1), *ve = e;
    trim(&nb, &ne);
    trim(&vb, &ve);
    if (parse_limit(vb, ve, &ct->limit) != 0)
        return h5div_cli_usage(msg,
                               "condition '%.*s' needs a number, inf or -inf after %s "
                               "(--check %s)",
                               len, b, op_text[ct->op], spec);
    size_t base = parse_name(nb, ne, ct);
    if (base == 0)
        return h5div_cli_usage(msg,
                               "condition '%.*s' needs a measure name as history shows it "
                               "(kl_pq, kl_pq[1], kl_pq.max) before %s (--check %s)",
                               len, b, op_text[ct->op], spec);
    ct->name = malloc(base + 1);
    ct->label = malloc((size_t)(ne - nb) + 1);
    if (!ct->name || !ct->label)
        return h5div_cli_usage(msg, "out of memory (--check)");
    memcpy(ct->name, nb, base);
    ct->name[base] = '\0';
    memcpy(ct->label, nb, (size_t)(ne - nb));
    ct->label[ne - nb] = '\0';
    return H5DIV_OK;
}

int h5div_hist_parse_checks(const char *spec, h5div_hist_term **terms, size_t *n, char *msg)
{
    *terms = NULL;
    *n = 0;
    size_t cap = 1;
    for (const char *c = spec; *c; c++)
        cap += *c == ',';
    h5div_hist_term *out = calloc(cap, sizeof *out);
    if (!out)
        return h5div_cli_usage(msg, "out of memory (--check)");
    size_t nt = 0;
    for (const char *s = spec;; nt++) {
        const char *end = strchr(s, ',');
        const char *b = s, *e = end ? end : s + strlen(s);
        trim(&b, &e);
        int st = parse_condition(b, e, spec, &out[nt], msg);
        if (st != H5DIV_OK) {
            h5div_hist_free_terms(out, nt + 1);
            return st;
        }
        if (!end)
            break;
        s = end + 1;
    }
    *terms = out;
    *n = nt + 1;
    return H5DIV_OK;
}

/* A value for messages: the shortest text that reads back as the same
 * double; inf, -inf, nan. */
static void short_value(char *buf, size_t len, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, len, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* Does x meet the condition? NaN meets none. */
static int meets(int op, double x, double limit)
{
    switch (op) {
    case H5DIV_HIST_LT: return x < limit;
    case H5DIV_HIST_LE: return x <= limit;
    case H5DIV_HIST_GT: return x > limit;
    default: return x >= limit;
    }
}

/* Record a failure of run r: "LABEL = VALUE, not OP LIMIT[, in N of M rows, worst row R]". */
static void add_failure(h5div_hist *h, h5div_hist_run *r, const h5div_hist_term *ct,
                        const char *label, double x, size_t row, size_t nbad, size_t nrows)
{
    h5div_hist_failure *fail = h5div_hist_grow(r->fail, &r->cap_fail, r->nfail + 1, sizeof *fail);
    if (!fail) {
        h->failed = 1;
        return;
    }
    r->fail = fail;
    char val[64], lim[64], rows[128] = "";
    short_value(val, sizeof val, x);
    short_value(lim, sizeof lim, ct->limit);
    if (nrows)
        snprintf(rows, sizeof rows, ", in %zu of %zu rows, worst row %zu", nbad, nrows, row);
    size_t n = strlen(label) + strlen(val) + strlen(lim) + strlen(rows) + 32;
    char *line = malloc(n);
    if (!line) {
        h->failed = 1;
        return;
    }
    snprintf(line, n, "%s = %s, not %s %s%s", label, val, op_text[ct->op], lim, rows);
    r->fail[r->nfail++] = (h5div_hist_failure){(size_t)(ct - h->terms), line};
}

/* "NAME[g].STAT", or "NAME.STAT" when the values are not by candidate. */
static void value_label(char *buf, size_t len, const char *name, int cands, size_t g, int stat)
{
    if (cands)
        snprintf(buf, len, "%s[%zu]%s", name, g, h5div_hist_stat_suffix[stat]);
    else
        snprintf(buf, len, "%s%s", name, h5div_hist_stat_suffix[stat]);
}

/* Check term t against interval m: .lo and .hi name one end, no suffix both. */
static void check_interval(h5div_hist *h, h5div_hist_run *r, size_t t,
                           const h5div_history_measure *m)
{
    const h5div_hist_term *ct = &h->terms[t];
    if ((ct->index >= 0 && (!m->cands || (size_t)ct->index >= m->groups)) ||
        (ct->stat != H5DIV_HIST_NONE && ct->stat != H5DIV_HIST_LO && ct->stat != H5DIV_HIST_HI))
        return; /* found stays 0 */
    r->found[t] = 1;
    size_t g0 = ct->index >= 0 ? (size_t)ct->index : 0, g1 = ct->index >= 0 ? g0 + 1 : m->groups;
    for (size_t g = g0; g < g1 && !h->failed; g++)
        for (int end = 0; end < 2; end++) {
            int st = end ? H5DIV_HIST_HI : H5DIV_HIST_LO;
            if (ct->stat != H5DIV_HIST_NONE && ct->stat != st)
                continue;
            char label[600];
            value_label(label, sizeof label, ct->name, m->cands, g, st);
            double x = m->values[2 * g + (size_t)end];
            if (!meets(ct->op, x, ct->limit))
                add_failure(h, r, ct, label, x, 0, 0, 0);
        }
}

/* Check the rows x[0..per) of one candidate against term ct: the count of
 * those that fail and the worst of them (the first NaN, else the farthest
 * past the limit). */
static void check_rows(h5div_hist *h, h5div_hist_run *r, const h5div_hist_term *ct,
                       const char *label, const double *x, size_t per, int rows)
{
    size_t nbad = 0, worst = 0;
    for (size_t i = 0; i < per; i++) {
        if (meets(ct->op, x[i], ct->limit))
            continue;
        if (nbad++ == 0)
            worst = i;
        else if (!isnan(x[worst]) &&
                 (isnan(x[i]) || (ct->op <= H5DIV_HIST_LE ? x[i] > x[worst] : x[i] < x[worst])))
            worst = i;
    }
    if (nbad)
        add_failure(h, r, ct, label, x[worst], worst, nbad, rows ? per : 0);
}

/* Check term t against measure m (groups candidates of per values). A
 * condition without a summary applies to every value it names: every
 * candidate (unless it names one) and every row. */
static void check_values(h5div_hist *h, h5div_hist_run *r, size_t t, const h5div_history_measure *m)
{
    const h5div_hist_term *ct = &h->terms[t];
    if ((ct->index >= 0 && (!m->cands || (size_t)ct->index >= m->groups)) ||
        (ct->stat != H5DIV_HIST_NONE && !m->rows) || ct->stat == H5DIV_HIST_LO ||
        ct->stat == H5DIV_HIST_HI || m->groups == 0 || m->per == 0)
        return; /* the run has no such value: found stays 0 */
    r->found[t] = 1;
    size_t g0 = ct->index >= 0 ? (size_t)ct->index : 0, g1 = ct->index >= 0 ? g0 + 1 : m->groups;
    double *tmp = ct->stat != H5DIV_HIST_NONE ? malloc(m->per * sizeof *tmp) : NULL;
    if (ct->stat != H5DIV_HIST_NONE && !tmp) {
        h->failed = 1;
        return;
    }
    for (size_t g = g0; g < g1 && !h->failed; g++) {
        char label[600];
        value_label(label, sizeof label, ct->name, m->cands, g, ct->stat);
        const double *x = m->values + g * m->per;
        if (ct->stat == H5DIV_HIST_NONE) {
            check_rows(h, r, ct, label, x, m->per, m->rows);
            continue;
        }
        double mn, med, mx;
        memcpy(tmp, x, m->per * sizeof *tmp); /* the summary reorders them */
        h5div_cli_summary(tmp, m->per, &mn, &med, &mx);
        double s = ct->stat == H5DIV_HIST_MEDIAN ? med : mx;
        if (!meets(ct->op, s, ct->limit))
            add_failure(h, r, ct, label, s, 0, 0, 0);
    }
    free(tmp);
}

void h5div_hist_check(h5div_hist *h, h5div_hist_run *r, size_t t, const h5div_history_measure *m)
{
    if (m->interval)
        check_interval(h, r, t, m);
    else
        check_values(h, r, t, m);
}

int h5div_hist_verdict(const h5div_hist *h, size_t *failures, char *msg, size_t len)
{
    *failures = 0;
    if (h->nruns == 0) {
        snprintf(msg, len, "no runs to check (%s:%s)", h->file, h->group);
        return H5DIV_EINPUT;
    }
    for (size_t t = 0; t < h->nterms; t++) {
        size_t have = 0;
        for (size_t i = 0; i < h->nruns; i++)
            have += h->runs[i].found[t];
        if (have == 0) {
            snprintf(msg, len, "no run checked has the measure %s named by --check (%s:%s)",
                     h->terms[t].label, h->file, h->group);
            return H5DIV_EINPUT;
        }
        *failures += h->nruns - have;
    }
    for (size_t i = 0; i < h->nruns; i++)
        *failures += h->runs[i].nfail;
    return H5DIV_OK;
}

void h5div_hist_print_failures(FILE *err, const h5div_hist *h)
{
    for (size_t i = 0; i < h->nruns; i++) {
        const h5div_hist_run *r = &h->runs[i];
        char who[1200];
        if (r->created[0])
            snprintf(who, sizeof who, "run %s (created %s)", r->name, r->created);
        else
            snprintf(who, sizeof who, "run %s", r->name);
        for (size_t t = 0; t < h->nterms; t++) {
            if (!r->found[t])
                fprintf(err, "h5div: check failed: %s: no measure %s (%s)\n", who,
                        h->terms[t].label, r->path);
            for (size_t k = 0; k < r->nfail; k++)
                if (r->fail[k].term == t)
                    fprintf(err, "h5div: check failed: %s: %s (%s)\n", who, r->fail[k].text,
                            r->path);
        }
    }
    fflush(err);
}

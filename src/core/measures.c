/* SPDX-License-Identifier: BSD-3-Clause */
/* Measure names, units, default options and status texts. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/measures.h"
#include "core/terms.h"
#include "h5div_types.h"

/* compare's measures, row m for h5div_measure m, from the one list of
 * include/h5div_types.h: everything that names, documents, selects or sizes a
 * measure reads it from here. JS, TV, Hellinger, Bhattacharyya and Renyi
 * tell disjoint supports apart by the coefficient's sum (T(BC): exact
 * closed forms). */
#define F(f) H5DIV_MEASURE_##f
#define T(t) (1u << H5DIV_T_##t)
#define ROW(id, name, help, flags, unitless, terms)                                                \
    [H5DIV_##id] = {name, help, flags, unitless, terms},
static const h5div_measure_info compare_measures[H5DIV_COMPARE_NMEASURES] = {
    H5DIV_COMPARE_MEASURE_LIST(ROW)};
#undef ROW
#undef T
#undef F

const h5div_measure_info *h5div_compare_measures(int *n)
{
    if (n)
        *n = H5DIV_COMPARE_NMEASURES;
    return compare_measures;
}

unsigned h5div_compare_measures_with_parts(unsigned measures)
{
    int owner = -1;
    for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++) {
        if (!(compare_measures[m].flags & H5DIV_MEASURE_PART))
            owner = m;
        else if (owner >= 0 && (measures & H5DIV_MEASURE_BIT(owner)))
            measures |= H5DIV_MEASURE_BIT(m);
    }
    return measures;
}

unsigned h5div_terms_for_measures(unsigned measures)
{
    unsigned t = 0;
    for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++)
        if (measures & H5DIV_MEASURE_BIT(m))
            t |= compare_measures[m].terms;
    return t;
}

const char *h5div_measure_name(h5div_measure m)
{
    if ((int)m < 0 || m >= H5DIV_COMPARE_NMEASURES)
        return NULL;
    return compare_measures[m].name;
}

const char *h5div_measure_units(h5div_measure m, h5div_base base)
{
    if ((int)m >= 0 && m < H5DIV_COMPARE_NMEASURES && compare_measures[m].unitless)
        return "1";
    return h5div_base_units(base);
}

const char *h5div_base_name(h5div_base b)
{
    return b == H5DIV_BASE_2 ? "2" : b == H5DIV_BASE_E ? "e" : "10";
}

const char *h5div_base_units(h5div_base b)
{
    return b == H5DIV_BASE_2 ? "bits" : b == H5DIV_BASE_E ? "nats" : "hartleys";
}

/* The default set: the rows flagged H5DIV_MEASURE_DEFAULT. */
static unsigned compare_default(void)
{
    unsigned d = 0;
    for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++)
        if (compare_measures[m].flags & H5DIV_MEASURE_DEFAULT)
            d |= H5DIV_MEASURE_BIT(m);
    return d;
}

void h5div_options_init(h5div_options *opt)
{
    opt->base = H5DIV_BASE_2;
    opt->pseudocount = 0.0;
    opt->measures = compare_default();
    opt->n_renyi_pq = opt->n_renyi_qp = 0;
    for (int i = 0; i < H5DIV_RENYI_MAX; i++)
        opt->renyi_pq[i] = opt->renyi_qp[i] = 0.0;
    opt->bin_width = 1.0;
    opt->memory_per_rank = (size_t)1 << 30;
    opt->piece_bytes = (size_t)64 << 20;
    opt->collective_io = 1;
    opt->bootstrap = 0;
    opt->ci = 0.95;
    opt->seed = 0;
    opt->keep_replicates = 0;
    opt->null = 0;
    opt->progress = NULL;
    opt->progress_ctx = NULL;
}

const char *h5div_version_string(void)
{
    return H5DIV_VERSION_STRING;
}

const char *h5div_strerror(int status)
{
    switch (status) {
    case H5DIV_OK: return "success";
    case H5DIV_EINTERNAL: return "internal or MPI failure";
    case H5DIV_EUSAGE: return "usage error";
    case H5DIV_EINPUT: return "input error";
    case H5DIV_EOUTPUT: return "output error";
    default: return "unknown status";
    }
}

void h5div_format_shortest(double v, char *buf, size_t len)
{
    /* Whole numbers as integers ("10", not "1e+01"). */
    if (v == (double)(long long)v && v > -1e17 && v < 1e17) {
        snprintf(buf, len, "%lld", (long long)v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

int h5div_compare_columns(const h5div_options *opt, h5div_column *cols)
{
    int n = 0;
    for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++) {
        if (!(opt->measures & H5DIV_MEASURE_BIT(m)) ||
            (opt->null && (compare_measures[m].flags & H5DIV_MEASURE_ASYMPTOTIC_P)))
            continue;
        int qp = m == H5DIV_RENYI_QP;
        if (m == H5DIV_RENYI_PQ || qp) {
            int k = qp ? opt->n_renyi_qp : opt->n_renyi_pq;
            for (int i = 0; i < k && i < H5DIV_RENYI_MAX; i++) {
                h5div_column *c = &cols[n++];
                char a[32];
                c->measure = m;
                snprintf(c->units, sizeof c->units, "%s",
                         h5div_measure_units((h5div_measure)m, opt->base));
                c->order = i;
                c->A = qp ? opt->renyi_qp[i] : opt->renyi_pq[i];
                h5div_format_shortest(c->A, a, sizeof a);
                snprintf(c->name, sizeof c->name, "%s:%s", compare_measures[m].name, a);
            }
            continue;
        }
        h5div_column *c = &cols[n++];
        c->measure = m;
        snprintf(c->units, sizeof c->units, "%s", h5div_measure_units((h5div_measure)m, opt->base));
        c->order = -1;
        c->A = 0.0;
        snprintf(c->name, sizeof c->name, "%s", compare_measures[m].name);
    }
    return n;
}

_Static_assert(H5DIV_COMPARE_MAX_COLUMNS <= 64, "a column's bit must fit 64 bits");

uint64_t h5div_compare_tested_columns(const h5div_column *cols, int n)
{
    uint64_t bits = 0;
    for (int i = 0; i < n; i++)
        if (!(compare_measures[cols[i].measure].flags & H5DIV_MEASURE_PART))
            bits |= UINT64_C(1) << i;
    return bits;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Measure names, units, default options and status texts. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/measures.h"
#include "core/terms.h"
#include "h5div_types.h"

#define TB(t) (1u << (t))
/* JS, TV, Hellinger, Bhattacharyya and Renyi tell disjoint supports apart
 * by the coefficient's sum (exact closed forms). */
#define BC TB(H5DIV_T_BC)
#define DEF H5DIV_MEASURE_DEFAULT
#define PART H5DIV_MEASURE_PART
#define ASYMP H5DIV_MEASURE_ASYMPTOTIC_P

/* compare's measures, row m for h5div_measure m: everything that names,
 * documents, selects or sizes a measure reads it from here. */
static const h5div_measure_info compare_measures[H5DIV_COMPARE_NMEASURES] = {
    {"entropy_p", "", DEF, 0, TB(H5DIV_T_ENTROPY_P)},
    {"entropy_q", "", DEF, 0, TB(H5DIV_T_ENTROPY_Q)},
    {"cross_entropy_pq", "", DEF, 0, TB(H5DIV_T_CROSS_PQ)},
    {"cross_entropy_qp", "", DEF, 0, TB(H5DIV_T_CROSS_QP)},
    {"kl_pq", "", DEF, 0, TB(H5DIV_T_KL_PQ)},
    {"kl_qp", "", DEF, 0, TB(H5DIV_T_KL_QP)},
    {"js_divergence", "", DEF, 0, TB(H5DIV_T_JS) | BC},
    {"js_distance", "", DEF, 1, TB(H5DIV_T_JS) | BC},
    {"total_variation", "", DEF, 1, TB(H5DIV_T_TV) | BC},
    {"hellinger", "", DEF, 1, TB(H5DIV_T_HELLINGER) | BC},
    {"bhattacharyya", "-log_b sum sqrt(p q)", 0, 0, TB(H5DIV_T_HELLINGER) | BC},
    {"chi2_pq", "Pearson chi^2 divergence sum (p - q)^2 / q, and swapped", 0, 1,
     TB(H5DIV_T_CHI2_PQ)},
    {"chi2_qp", NULL, 0, 1, TB(H5DIV_T_CHI2_QP)},
    {"renyi_pq",
     "Renyi divergence of order A > 0, A != 1\n"
     "(up to 8 orders each, e.g. renyi_pq:0.5,renyi_pq:2)",
     H5DIV_MEASURE_ORDER, 0, BC},
    {"renyi_qp", NULL, H5DIV_MEASURE_ORDER, 0, BC},
    {"wasserstein1",
     "sum |F_p - F_q| * bin width over the ordered bins;\n"
     "with edges attached (h5div histogram) the distance\n"
     "between bin centres instead, in data units",
     0, 1, TB(H5DIV_T_W1)},
    {"ks", "max |F_p - F_q| (Kolmogorov-Smirnov distance)", 0, 1, TB(H5DIV_T_W1)},
    {"separation_power", "sum (p - q)^2 / (p + q) / 2, in [0, 1]", 0, 1, TB(H5DIV_T_SP) | BC},
    {"chi2_test",
     "two-sample chi^2 of the raw values P, Q (totals A, B):\n"
     "sum (sqrt(B/A) P - sqrt(A/B) Q)^2 / (P + Q); also\n"
     "chi2_test_dof (bins with P + Q > 0, minus 1) and\n"
     "chi2_test_p_value",
     0, 1, TB(H5DIV_T_CHI2T)},
    {"chi2_test_dof", NULL, PART, 1, TB(H5DIV_T_NONEMPTY)},
    {"chi2_test_p_value", NULL, PART | ASYMP, 1, TB(H5DIV_T_CHI2T) | TB(H5DIV_T_NONEMPTY)},
    {"g_test",
     "G statistic 2 sum P log(P/E) + Q log(Q/F),\n"
     "E, F = A, B (P + Q) / (A + B); also g_test_dof and\n"
     "g_test_p_value",
     0, 1, TB(H5DIV_T_G)},
    {"g_test_dof", NULL, PART, 1, TB(H5DIV_T_NONEMPTY)},
    {"g_test_p_value", NULL, PART | ASYMP, 1, TB(H5DIV_T_G) | TB(H5DIV_T_NONEMPTY)},
};

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

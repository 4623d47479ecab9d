/* SPDX-License-Identifier: BSD-3-Clause */
/* Measure names, units, default options and status texts. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/measures.h"
#include "h5div_types.h"

static const char *const measure_names[H5DIV_COMPARE_NMEASURES] = {
    "entropy_p", "entropy_q", "cross_entropy_pq", "cross_entropy_qp", "kl_pq",
    "kl_qp",     "js_divergence", "js_distance",  "total_variation",  "hellinger",
    "bhattacharyya", "chi2_pq", "chi2_qp", "renyi_pq", "renyi_qp", "wasserstein1", "ks"};

const char *h5div_measure_name(h5div_measure m)
{
    if ((int)m < 0 || m >= H5DIV_COMPARE_NMEASURES)
        return NULL;
    return measure_names[m];
}

const char *h5div_measure_units(h5div_measure m, h5div_base base)
{
    switch (m) {
    case H5DIV_JS_DISTANCE:
    case H5DIV_TOTAL_VARIATION:
    case H5DIV_HELLINGER:
    case H5DIV_CHI2_PQ:
    case H5DIV_CHI2_QP:
    case H5DIV_WASSERSTEIN1:
    case H5DIV_KS: return "1";
    default: break;
    }
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

void h5div_options_init(h5div_options *opt)
{
    opt->base = H5DIV_BASE_2;
    opt->pseudocount = 0.0;
    opt->measures = H5DIV_COMPARE_DEFAULT;
    opt->n_renyi_pq = opt->n_renyi_qp = 0;
    for (int i = 0; i < H5DIV_RENYI_MAX; i++)
        opt->renyi_pq[i] = opt->renyi_qp[i] = 0.0;
    opt->bin_width = 1.0;
    opt->memory_per_rank = (size_t)1 << 30;
    opt->piece_bytes = (size_t)64 << 20;
    opt->collective_io = 1;
    opt->progress = NULL;
    opt->progress_ctx = NULL;
}

const char *h5div_version_string(void) { return H5DIV_VERSION_STRING; }

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
        if (!(opt->measures & H5DIV_MEASURE_BIT(m)))
            continue;
        int qp = m == H5DIV_RENYI_QP;
        if (m == H5DIV_RENYI_PQ || qp) {
            int k = qp ? opt->n_renyi_qp : opt->n_renyi_pq;
            for (int i = 0; i < k && i < H5DIV_RENYI_MAX; i++) {
                h5div_column *c = &cols[n++];
                char a[32];
                c->measure = m;
                snprintf(c->units, sizeof c->units, "%s", h5div_measure_units((h5div_measure)m, opt->base));
                c->order = i;
                c->A = qp ? opt->renyi_qp[i] : opt->renyi_pq[i];
                h5div_format_shortest(c->A, a, sizeof a);
                snprintf(c->name, sizeof c->name, "%s:%s", measure_names[m], a);
            }
            continue;
        }
        h5div_column *c = &cols[n++];
        c->measure = m;
        snprintf(c->units, sizeof c->units, "%s", h5div_measure_units((h5div_measure)m, opt->base));
        c->order = -1;
        c->A = 0.0;
        snprintf(c->name, sizeof c->name, "%s", measure_names[m]);
    }
    return n;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Measure names, units, default options and status texts. */
#include <stddef.h>

#include "h5div_types.h"

static const char *const measure_names[H5DIV_COMPARE_NMEASURES] = {
    "entropy_p", "entropy_q", "cross_entropy_pq", "cross_entropy_qp", "kl_pq",
    "kl_qp",     "js_divergence", "js_distance",  "total_variation",  "hellinger"};

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
    case H5DIV_HELLINGER: return "1";
    default: break;
    }
    return base == H5DIV_BASE_2 ? "bits" : base == H5DIV_BASE_E ? "nats" : "hartleys";
}

void h5div_options_init(h5div_options *opt)
{
    opt->base = H5DIV_BASE_2;
    opt->pseudocount = 0.0;
    opt->measures = H5DIV_COMPARE_ALL;
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

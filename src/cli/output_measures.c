/* SPDX-License-Identifier: BSD-3-Clause */
/* Table and JSON output of the single-input commands (entropy, joint). */
#include <math.h>
#include <stdio.h>

#include "cli/cli.h"

void h5div_cli_print_measures(FILE *out, const h5div_cli_measures *m)
{
    if (!m->json) {
        fprintf(out, "%-30s %-24s %s\n", "measure", "value", "units");
        for (int i = 0; i < m->n; i++) {
            char num[64];
            double v = m->values[i];
            if (isfinite(v))
                snprintf(num, sizeof num, "%.17g", v);
            else
                snprintf(num, sizeof num, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
            fprintf(out, "%-30s %-24s %s\n", m->names[i], num, m->units[i]);
        }
        return;
    }
    h5div_cli_json_head(out, m->command, m->base, m->ranks);
    fprintf(out, " \"inputs\": {\"%s\": ", m->input_name);
    h5div_cli_json_string(out, m->input_ref);
    fputs("},\n", out);
    if (m->estimator) {
        fputs(" \"estimator\": ", out);
        h5div_cli_json_string(out, m->estimator);
        fputs(",\n", out);
    }
    fputs(" \"measures\": {", out);
    for (int i = 0; i < m->n; i++) {
        fprintf(out, "%s\"%s\": ", i ? ", " : "", m->names[i]);
        h5div_cli_json_number(out, m->values[i]);
    }
    fputc('}', out);
    h5div_cli_json_units(out, m->names, m->units, m->n);
    fputs("}\n", out);
}

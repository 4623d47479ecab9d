/* SPDX-License-Identifier: BSD-3-Clause */
/* Table and JSON output of the single-input commands (entropy, joint). */
#include <math.h>
#include <stdio.h>

#include "cli/cli.h"

/* One line of the table: value, or with --bootstrap value ± se [lo, hi]. */
static void table_line(FILE *out, const h5div_cli_measures *m, int i)
{
    char v[40], se[40], lo[40], hi[40];
    h5div_cli_number(v, sizeof v, m->values[i]);
    if (!m->nrep) {
        fprintf(out, "%-30s %-24s %s\n", m->names[i], v, m->units[i]);
        return;
    }
    h5div_cli_number(se, sizeof se, m->se[i]);
    h5div_cli_number(lo, sizeof lo, m->ci[i][0]);
    h5div_cli_number(hi, sizeof hi, m->ci[i][1]);
    fprintf(out, "%-30s %s \u00b1 %s [%s, %s]  %s\n", m->names[i], v, se, lo, hi, m->units[i]);
}

void h5div_cli_print_measures(FILE *out, const h5div_cli_measures *m)
{
    if (!m->json) {
        if (m->nrep)
            fprintf(out, "%-30s %s (%g%% interval, %llu replicates)  %s\n", "measure",
                    "value \u00b1 se [lo, hi]", 100.0 * m->ci_level, (unsigned long long)m->nrep,
                    "units");
        else
            fprintf(out, "%-30s %-24s %s\n", "measure", "value", "units");
        for (int i = 0; i < m->n; i++)
            table_line(out, m, i);
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
    /* "measures", and with --bootstrap "se" and "ci" ([lo, hi]), keyed by measure */
    static const char *const key[3] = {"measures", "se", "ci"};
    for (int what = 0; what < (m->nrep ? 3 : 1); what++) {
        fprintf(out, "%s \"%s\": {", what ? ",\n" : "", key[what]);
        for (int i = 0; i < m->n; i++) {
            fprintf(out, "%s\"%s\": ", i ? ", " : "", m->names[i]);
            if (what == 2) {
                fputc('[', out);
                h5div_cli_json_number(out, m->ci[i][0]);
                fputs(", ", out);
                h5div_cli_json_number(out, m->ci[i][1]);
                fputc(']', out);
            } else {
                h5div_cli_json_number(out, what ? m->se[i] : m->values[i]);
            }
        }
        fputc('}', out);
    }
    h5div_cli_json_units(out, m->names, m->units, m->n);
    fputs("}\n", out);
}

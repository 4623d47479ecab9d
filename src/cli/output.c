/* SPDX-License-Identifier: BSD-3-Clause */
/* Text table and JSON output of results. */
#include <math.h>
#include <stdio.h>

#include "cli/cli.h"

static const char *base_text(h5div_base b)
{
    return b == H5DIV_BASE_2 ? "2" : b == H5DIV_BASE_E ? "e" : "10";
}

/* 17 significant digits round-trip every double; non-finite values as text. */
void h5div_cli_json_number(FILE *out, double v)
{
    if (isnan(v))
        fputs("\"nan\"", out);
    else if (isinf(v))
        fputs(v > 0 ? "\"inf\"" : "\"-inf\"", out);
    else
        fprintf(out, "%.17g", v);
}

void h5div_cli_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

void h5div_print_table(FILE *out, const h5div_compare_result *res, h5div_base base)
{
    fprintf(out, "%-18s %-24s %s\n", "measure", "value", "units");
    for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++) {
        if (!(res->computed & H5DIV_MEASURE_BIT(m)))
            continue;
        char num[64];
        if (isfinite(res->value[m]))
            snprintf(num, sizeof num, "%.17g", res->value[m]);
        else
            snprintf(num, sizeof num, "%s", isnan(res->value[m]) ? "nan" : "inf");
        fprintf(out, "%-18s %-24s %s\n", h5div_measure_name((h5div_measure)m), num,
                h5div_measure_units((h5div_measure)m, base));
    }
}

void h5div_print_json(FILE *out, const h5div_compare_result *res, h5div_base base, int ranks,
                      const char *p_ref, const char *q_ref)
{
    const char *units = h5div_measure_units(H5DIV_ENTROPY_P, base);
    fprintf(out, "{\"command\": \"compare\", \"base\": \"%s\", \"units\": \"%s\", \"ranks\": %d,\n",
            base_text(base), units, ranks);
    fputs(" \"inputs\": {\"p\": ", out);
    h5div_cli_json_string(out, p_ref);
    fputs(", \"q\": ", out);
    h5div_cli_json_string(out, q_ref);
    fputs("},\n \"measures\": {", out);
    int first = 1;
    for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++) {
        if (!(res->computed & H5DIV_MEASURE_BIT(m)))
            continue;
        fprintf(out, "%s\"%s\": ", first ? "" : ", ", h5div_measure_name((h5div_measure)m));
        h5div_cli_json_number(out, res->value[m]);
        first = 0;
    }
    fputs("}}\n", out);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* compare's measure table: every row named, documented, with units and kernel terms. */
#include <string.h>

#include "check.h"
#include "core/terms.h"
#include "h5div_types.h"

int main(void)
{
    int n = -1;
    const h5div_measure_info *t = h5div_compare_measures(&n);
    CHECK(n == H5DIV_COMPARE_NMEASURES);
    unsigned dflt = 0;
    const char *owner_help = NULL;
    for (int m = 0; m < n; m++) {
        const h5div_measure_info *r = &t[m];
        /* A name, the one the enum's lookup gives, and no other row's. */
        CHECK(r->name && r->name[0]);
        CHECK(h5div_measure_name((h5div_measure)m) == r->name);
        for (int k = 0; k < m; k++)
            if (strcmp(t[k].name, r->name) == 0) {
                printf("FAIL: measure %d (%s) repeats the name of %d\n", m, r->name, k);
                check_failures++;
            }
        /* Documented: the default set is listed by name; an extra has its
         * own text, or shares the text of the row above (chi2_pq, chi2_qp);
         * a part is named in its owner's text. */
        if (r->flags & H5DIV_MEASURE_DEFAULT) {
            dflt |= H5DIV_MEASURE_BIT(m);
            CHECK(!(r->flags & (H5DIV_MEASURE_PART | H5DIV_MEASURE_ORDER)));
        } else if (r->flags & H5DIV_MEASURE_PART) {
            if (!owner_help || !strstr(owner_help, r->name)) {
                printf("FAIL: part %s is not named in its measure's help text\n", r->name);
                check_failures++;
            }
        } else if (r->help) {
            if (!r->help[0]) {
                printf("FAIL: measure %s has an empty help text\n", r->name);
                check_failures++;
            }
            owner_help = r->help;
        } else {
            CHECK(m > 0 && !(t[m - 1].flags & (H5DIV_MEASURE_DEFAULT | H5DIV_MEASURE_PART)));
        }
        if (!(r->flags & H5DIV_MEASURE_PART) && r->help)
            owner_help = r->help;
        /* Units from the table in every base. */
        for (int b = 0; b < 3; b++) {
            const char *u = h5div_measure_units((h5div_measure)m, (h5div_base)b);
            const char *want = r->unitless ? "1" : b == 0 ? "bits" : b == 1 ? "nats" : "hartleys";
            if (strcmp(u, want) != 0) {
                printf("FAIL: units of %s in base %d: %s, want %s\n", r->name, b, u, want);
                check_failures++;
            }
        }
        /* Every measure needs some kernel sum, and only kernel sums. */
        CHECK(r->terms != 0);
        CHECK((r->terms & ~((1u << H5DIV_T_RENYI) - 1u)) == 0);
        CHECK(h5div_terms_for_measures(H5DIV_MEASURE_BIT(m)) == r->terms);
    }
    /* The default set of the options and of the public macro is the table's. */
    CHECK(dflt == H5DIV_COMPARE_DEFAULT);
    h5div_options opt;
    h5div_options_init(&opt);
    CHECK(opt.measures == dflt);
    CHECK(h5div_measure_name(H5DIV_COMPARE_NMEASURES) == NULL);
    CHECK(h5div_compare_measures_with_parts(dflt) == dflt);
    return check_report("test_measures");
}

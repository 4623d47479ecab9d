/* SPDX-License-Identifier: BSD-3-Clause */
/* Minimal checks for the serial unit tests: print both values on failure. */
#ifndef H5DIV_TEST_CHECK_H
#define H5DIV_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures;

/* Bitwise equality (so 0.0 and -0.0 differ, and NaN equals NaN). */
#define CHECK_BITS(got, want)                                                                      \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        if (memcmp(&g_, &w_, sizeof g_) != 0) {                                                    \
            printf("FAIL %s:%d: %s = %.17g, want %.17g (%s)\n", __FILE__, __LINE__, #got, g_, w_,  \
                   #want);                                                                         \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

/* |got - want| <= rel * |want|. */
#define CHECK_REL(got, want, rel)                                                                  \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        if (!(fabs(g_ - w_) <= (rel) * fabs(w_))) {                                                \
            printf("FAIL %s:%d: %s = %.17g, want %.17g (rel err %.3g > %.3g)\n", __FILE__,         \
                   __LINE__, #got, g_, w_, fabs(g_ - w_) / fabs(w_), (double)(rel));               \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                 \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

static int check_report(const char *name)
{
    if (check_failures)
        printf("%s: %d check(s) failed\n", name, check_failures);
    else
        printf("%s: all checks passed\n", name);
    return check_failures ? 1 : 0;
}

#endif

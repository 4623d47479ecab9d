/* SPDX-License-Identifier: BSD-3-Clause */
/* The check of the in-process MPI tests: on failure, the rank, the place, the condition and a
 * message; the includer counts `failures` and sets `rank`. */
#ifndef H5DIV_TEST_MPI_CHECK_H
#define H5DIV_TEST_MPI_CHECK_H

#include <stdio.h>

static int failures, rank;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "rank %d: FAIL %s:%d: %s: ", rank, __FILE__, __LINE__, #cond);         \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* The h5div command line: parsing, dispatch, output and exit codes. */
#ifndef H5DIV_CLI_H
#define H5DIV_CLI_H

#include <mpi.h>
#include <stdio.h>

#include "h5div.h"

/* Run the h5div command line on `comm`; rank 0 writes to out and err.
 * Collective. Returns the exit code (an h5div_status), the same on every rank. */
int h5div_cli_main(int argc, char **argv, MPI_Comm comm, FILE *out, FILE *err);

/* Readable table of a compare result. */
void h5div_print_table(FILE *out, const h5div_compare_result *res, h5div_base base);

/* One JSON object for a compare result, as CONTRACT.md fixes it. */
void h5div_print_json(FILE *out, const h5div_compare_result *res, h5div_base base, int ranks,
                      const char *p_ref, const char *q_ref);

#endif

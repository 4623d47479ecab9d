/* SPDX-License-Identifier: BSD-3-Clause */
/* The h5div executable: one call into the command line, which starts MPI
 * only for the commands that evaluate. */
#include <stdio.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
    return h5div_cli_program(argc, argv, stdout, stderr);
}

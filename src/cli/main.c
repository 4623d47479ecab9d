/* SPDX-License-Identifier: BSD-3-Clause */
/* The h5div executable: MPI setup around one call into the command line. */
#include <mpi.h>
#include <stdio.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, "h5div: error: MPI_Init failed (MPI)\n");
        return H5DIV_EINTERNAL;
    }
    int rc = h5div_cli_main(argc, argv, MPI_COMM_WORLD, stdout, stderr);
    fflush(stdout);
    fflush(stderr);
    MPI_Finalize();
    return rc;
}

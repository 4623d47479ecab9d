/* SPDX-License-Identifier: BSD-3-Clause */
/* Preloaded into h5div (LD_PRELOAD): MPI_Finalize finalizes, then crashes,
 * as Open MPI 4.1's now and then does (open-mpi/ompi#10117). */
#include <mpi.h>
#include <signal.h>

int MPI_Finalize(void)
{
    int rc = PMPI_Finalize();
    raise(SIGSEGV);
    return rc;
}

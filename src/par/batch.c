/* SPDX-License-Identifier: BSD-3-Clause */
/* Gathering per-row values, held by the ranks in row order, on one rank. */
#include <limits.h>
#include <stdlib.h>

#include "par/par.h"

int h5div_compare_batch_gather(MPI_Comm comm, const h5div_compare_batch *b, int candidate,
                               int column, int root, double *out)
{
    const double *mine =
        b->values + ((size_t)candidate * (size_t)b->ncolumns + (size_t)column) * b->row_count;
    return h5div_par_gather_rows(comm, mine, b->row_count, b->rows, root, out);
}

int h5div_par_gather_rows(MPI_Comm comm, const double *mine, uint64_t row_count, uint64_t rows,
                          int root, double *out)
{
    int rank, size;
    H5DIV_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    H5DIV_MPI_CHECK(MPI_Comm_size(comm, &size));
    if (rows > INT_MAX)
        return h5div_mpi_failed(MPI_ERR_COUNT, "gather of more than INT_MAX rows", __FILE__,
                                __LINE__);
    int n = (int)row_count;
    int *counts = NULL, *displs = NULL;
    if (rank == root) {
        counts = malloc((size_t)size * sizeof *counts);
        displs = malloc((size_t)size * sizeof *displs);
    }
    int ok = rank != root || (counts && displs);
    H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm));
    if (!ok) {
        free(counts);
        free(displs);
        return h5div_mpi_failed(MPI_ERR_NO_MEM, "malloc(gather)", __FILE__, __LINE__);
    }
    int rc = MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, root, comm);
    if (rc == MPI_SUCCESS && rank == root)
        for (int r = 0, d = 0; r < size; d += counts[r], r++)
            displs[r] = d;
    if (rc == MPI_SUCCESS)
        rc = MPI_Gatherv(mine, n, MPI_DOUBLE, out, counts, displs, MPI_DOUBLE, root, comm);
    free(counts);
    free(displs);
    if (rc != MPI_SUCCESS)
        return h5div_mpi_failed(rc, "MPI_Gatherv(values)", __FILE__, __LINE__);
    return H5DIV_OK;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Batch results, held by the ranks in row order: freed, gathered on one rank. */
#include <limits.h>
#include <stdlib.h>

#include "par/par.h"

void h5div_batch_free(h5div_batch *b)
{
    free(b->values);
    free(b->se);
    free(b->ci);
    free(b->reps);
    free(b->p_value);
    free(b->null_reps);
    b->values = b->se = b->ci = b->reps = b->p_value = b->null_reps = NULL;
}

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

/* The values of the one row, from its owner (the rank with its first
 * block), into v on every rank. */
static int bcast_single(MPI_Comm comm, const h5div_batch *b, double *v)
{
    int rank, root, any = 0;
    H5DIV_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    root = b->row_count ? rank : 0;
    H5DIV_MPI_CHECK(MPI_Allreduce(&root, &any, 1, MPI_INT, MPI_MAX, comm));
    for (int i = 0; i < b->ncolumns; i++)
        v[i] = b->row_count ? b->values[i] : 0.0;
    H5DIV_MPI_CHECK(MPI_Bcast(v, b->ncolumns, MPI_DOUBLE, any, comm));
    return H5DIV_OK;
}

int h5div_par_batch_single(MPI_Comm comm, h5div_batch *b, const char *ref, const char *batch_fn,
                           double *v, char *errmsg, size_t errlen)
{
    int st = H5DIV_OK;
    if (b->two_d) {
        /* Same metadata on every rank: every rank takes this branch. */
        h5div_set_error(errmsg, errlen, "2-D input has one result per row; use %s (%s)", batch_fn,
                        ref);
        st = H5DIV_EINPUT;
    } else if ((st = bcast_single(comm, b, v)) != H5DIV_OK) {
        h5div_set_error(errmsg, errlen, "%s", h5div_mpi_error());
    }
    h5div_batch_free(b);
    return st;
}

int h5div_slot_comms_init(MPI_Comm comm, int slot_first, int slot_last, h5div_slot_comms *sc)
{
    int rank;
    H5DIV_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    for (int p = 0; p < 2; p++) {
        sc->c[p] = MPI_COMM_NULL;
        sc->slot[p] = -1;
    }
    if (slot_first >= 0)
        sc->slot[slot_first % 2] = slot_first;
    if (slot_last >= 0)
        sc->slot[slot_last % 2] = slot_last;
    for (int p = 0; p < 2; p++) {
        int color = sc->slot[p] >= 0 ? sc->slot[p] : MPI_UNDEFINED;
        H5DIV_MPI_CHECK(MPI_Comm_split(comm, color, rank, &sc->c[p]));
        if (sc->c[p] != MPI_COMM_NULL)
            MPI_Comm_set_errhandler(sc->c[p], MPI_ERRORS_RETURN);
    }
    return H5DIV_OK;
}

void h5div_slot_comms_free(h5div_slot_comms *sc)
{
    for (int p = 0; p < 2; p++)
        if (sc->c[p] != MPI_COMM_NULL)
            MPI_Comm_free(&sc->c[p]);
}

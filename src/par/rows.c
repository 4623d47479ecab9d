/* SPDX-License-Identifier: BSD-3-Clause */
/* Decomposition of rows of summation blocks over ranks, and the rows that span ranks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "par/par.h"

h5div_grid h5div_grid_make(uint64_t rows, uint64_t cols)
{
    h5div_grid g;
    g.rows = rows;
    g.cols = cols;
    g.nb = g.cols / H5DIV_BLOCK_BINS + (g.cols % H5DIV_BLOCK_BINS != 0);
    return g;
}

uint64_t h5div_grid_bin(const h5div_grid *g, uint64_t b)
{
    return (b / g->nb) * g->cols + (b % g->nb) * H5DIV_BLOCK_BINS;
}

void h5div_grid_split(const h5div_grid *g, int size, int rank, uint64_t *b0, uint64_t *b1)
{
    /* Whole blocks per rank keep every summation block on one rank; for a
     * single row this is h5div_partition. */
    unsigned __int128 t = (unsigned __int128)g->rows * g->nb;
    *b0 = (uint64_t)(t * (unsigned)rank / (unsigned)size);
    *b1 = (uint64_t)(t * ((unsigned)rank + 1) / (unsigned)size);
}

int h5div_par_rows_init(MPI_Comm comm, const h5div_grid *g, uint64_t blk0, uint64_t blk1,
                        h5div_rows *r, char *msg, size_t len)
{
    int size;
    memset(r, 0, sizeof *r);
    r->sc.c[0] = r->sc.c[1] = MPI_COMM_NULL;
    H5DIV_MPI_CHECK(MPI_Comm_size(comm, &size));
    r->lo = r->hi = blk0 / g->nb;
    if (blk1 > blk0)
        r->hi = (blk1 - 1) / g->nb + 1;
    r->own0 = (blk0 + g->nb - 1) / g->nb;
    r->own1 = (blk1 + g->nb - 1) / g->nb;
    int ok = (r->shared = malloc((size_t)size * sizeof *r->shared)) != NULL;
    if (!ok)
        h5div_set_error(msg, len, "out of memory for the list of shared rows");
    H5DIV_CHECK(h5div_par_agree(comm, ok ? H5DIV_OK : H5DIV_EINTERNAL, msg, len));
    /* A rank boundary inside a row makes it shared; every rank finds the same list. */
    for (int k = 1; k < size; k++) {
        uint64_t b0, b1;
        h5div_grid_split(g, size, k, &b0, &b1);
        if (b0 % g->nb == 0 || b0 >= g->rows * g->nb)
            continue;
        uint64_t row = b0 / g->nb;
        if (r->nshared == 0 || r->shared[r->nshared - 1] != row)
            r->shared[r->nshared++] = row;
    }
    int first = r->hi > r->lo ? h5div_rows_shared(r, r->lo) : -1;
    int last = r->hi > r->lo ? h5div_rows_shared(r, r->hi - 1) : -1;
    return h5div_slot_comms_init(comm, first, last, &r->sc);
}

int h5div_par_rows_memory_check(MPI_Comm comm, const h5div_grid *g, const h5div_rows *r,
                                uint64_t per_row, uint64_t per_owned_row, const h5div_options *opt,
                                const char *ref, char *msg, size_t len)
{
    if (g->rows <= 1)
        return H5DIV_OK;
    unsigned __int128 need = (unsigned __int128)(r->hi - r->lo) * per_row +
                             (unsigned __int128)(r->own1 - r->own0) * per_owned_row;
    uint64_t mine = need > UINT64_MAX ? UINT64_MAX : (uint64_t)need, most = 0;
    uint64_t rows = r->hi - r->lo, most_rows = 0;
    H5DIV_MPI_CHECK(MPI_Allreduce(&mine, &most, 1, MPI_UINT64_T, MPI_MAX, comm));
    H5DIV_MPI_CHECK(MPI_Allreduce(&rows, &most_rows, 1, MPI_UINT64_T, MPI_MAX, comm));
    if (most <= opt->memory_per_rank / 2)
        return H5DIV_OK;
    /* Every rank computed the same maxima: the same verdict everywhere.
     * Sizes in MiB, or in KiB below one MiB (a bound of a few KiB is legal). */
    int mib = opt->memory_per_rank >= 1048576 || most >= 1048576;
    double unit = mib ? 1048576.0 : 1024.0;
    const char *u = mib ? "MiB" : "KiB";
    h5div_set_error(msg, len,
                    "the per-row state of %llu rows needs %.1f %s on a rank, more than half of "
                    "--memory-per-rank (%.1f %s); raise it to %.0f%s or use more ranks (%s)",
                    (unsigned long long)most_rows, (double)most / unit, u,
                    (double)opt->memory_per_rank / unit, u, ceil(2.0 * (double)most / unit) + 1.0,
                    u, ref);
    return H5DIV_EINPUT;
}

int h5div_rows_shared(const h5div_rows *r, uint64_t row)
{
    int lo = 0, hi = r->nshared;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (r->shared[mid] < row)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->nshared && r->shared[lo] == row ? lo : -1;
}

void h5div_rows_free(h5div_rows *r)
{
    free(r->shared);
    r->shared = NULL;
    h5div_slot_comms_free(&r->sc);
}

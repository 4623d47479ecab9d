/* SPDX-License-Identifier: BSD-3-Clause */
/* Reads of contiguous datasets through MPI-IO, started before they are needed (src/io only). */
#ifndef H5DIV_IO_PREFETCH_H
#define H5DIV_IO_PREFETCH_H

#include "io/io.h"

/* Requests one read may be split into: a piece is at most 1 GiB, and no
 * request exceeds H5DIV_PREFETCH_REQ_BYTES. */
#define H5DIV_PREFETCH_REQ_MAX 4
#define H5DIV_PREFETCH_REQ_BYTES ((size_t)512 << 20)

/* One dataset read past HDF5: its file opened a second time (read-only, on
 * MPI_COMM_SELF, so that no view or request of HDF5's own handle is
 * shared), the file offset of its first value, and the read in flight. */
typedef struct h5div_prefetch_src {
    int on;            /* read through fh; else through HDF5 */
    MPI_File fh;       /* valid when on */
    MPI_Offset base;   /* file offset of bin 0 */
    size_t fsize;      /* bytes a value in the file */
    hid_t ftype;       /* the file's datatype (converted with H5Tconvert) */
    int pending, nreq; /* a read in flight, in nreq requests */
    int failed;        /* a request could not be started */
    MPI_Request req[H5DIV_PREFETCH_REQ_MAX];
    int want[H5DIV_PREFETCH_REQ_MAX]; /* bytes asked for, per request */
    uint64_t bin;                     /* the read in flight: bins [bin, bin + n) */
    size_t n;
    double *buf, *lo;
} h5div_prefetch_src;

/* A sweep's overlapped reads (h5div_sweep.pf). */
typedef struct h5div_prefetch {
    int nd, non; /* datasets; of them read through MPI-IO */
    int lo_on;   /* of them 64-bit integers (remainder buffers) */
    h5div_prefetch_src s[H5DIV_SWEEP_MAX];
    /* The second piece buffers of a streamed shard (NULL when cached: the
     * shard's own reservation holds them), for datasets that are on. */
    double *buf2[H5DIV_SWEEP_MAX], *lo2[H5DIV_SWEEP_MAX];
    int have2; /* they are allocated */
    /* For H5DIV_DEBUG: reads, seconds inside the calls that start them and
     * waiting for them to complete (reading in the background shows as
     * little time in either), and the rank that prints. */
    uint64_t reads, reads_now;
    double t_start, t_wait, t_now;
    int rank;
} h5div_prefetch;

/* Which datasets may be read past HDF5 (not collective; from metadata,
 * the same on every rank): contiguous, allocated, without external
 * storage, and H5DIV_OVERLAP not "0". Opens those files read-only on
 * MPI_COMM_SELF when `want` is set; with H5DIV_DEBUG set, rank 0 prints
 * the choice. Returns a new h5div_prefetch (NULL when
 * out of memory) whose s[k].on says which are open; *ok is 0 when a dataset
 * that qualifies could not be opened. The caller agrees on the outcome
 * (h5div_prefetch_agree) before any read. */
h5div_prefetch *h5div_prefetch_open(h5div_dset *const *d, int nd, int want, int rank, int *ok);

/* Turn every dataset off (closing its file) unless `all_ok`: the ranks'
 * agreed outcome of h5div_prefetch_open. Not collective. */
void h5div_prefetch_agree(h5div_prefetch *pf, int all_ok);

/* Start reading bins [bin, bin + n) of dataset k (raw file bytes at the
 * start of buf; lo, may be NULL, receives the remainders at completion),
 * or with `now` read them before returning. Not collective. A failure is
 * reported by h5div_prefetch_finish. */
void h5div_prefetch_start(h5div_prefetch *pf, int k, uint64_t bin, size_t n, double *buf,
                          double *lo, int now);

/* Wait for dataset k's read, convert it to doubles exactly as H5Dread does
 * (H5Tconvert from the file's datatype to d->memtype, then the remainders
 * of 64-bit integers) and set *any_lo. Not collective. */
int h5div_prefetch_finish(h5div_prefetch *pf, int k, const h5div_dset *d, int *any_lo, char *msg,
                          size_t len);

/* Wait for every read in flight, discarding the data (before an early
 * return: nothing may still write into the buffers). Not collective. */
void h5div_prefetch_drain(h5div_prefetch *pf);

/* Drain, close the files, free the buffers and pf; with H5DIV_DEBUG set,
 * rank 0 prints the reads' times. NULL is ignored. Not collective. */
void h5div_prefetch_close(h5div_prefetch *pf);

#endif

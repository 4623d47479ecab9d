/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal parallel HDF5 layer: dataset references, shard reads, result files. */
#ifndef H5DIV_IO_H
#define H5DIV_IO_H

#include <hdf5.h>
#include <mpi.h>

#include "h5div.h"

#define H5DIV_REF_MAX 4096

/* An open 1-D input dataset. */
typedef struct h5div_dset {
    hid_t file, dset, filespace, memtype;
    uint64_t bins;
    char ref[H5DIV_REF_MAX]; /* "FILE:/path" as given, for messages */
} h5div_dset;

/* Split "FILE:/path" at the last ':' followed by '/'. Not collective.
 * Returns H5DIV_EUSAGE when there is no such ':'. */
int h5div_ref_split(const char *ref, char *file, size_t file_len, char *path, size_t path_len);

/* Collective: open and validate a 1-D numeric dataset through the MPI-IO
 * driver. Returns the same status on every rank. */
int h5div_dset_open(MPI_Comm comm, const char *ref, h5div_dset *d, char *errmsg, size_t errlen);

/* Read bins [offset, offset + count) as doubles into buf. With collective
 * set every rank of the file's communicator must call it (count may be 0).
 * Not agreed: callers agree on the status afterwards. */
int h5div_dset_read(h5div_dset *d, uint64_t offset, size_t count, double *buf, int collective,
                    char *errmsg, size_t errlen);

void h5div_dset_close(h5div_dset *d);

/* Run HDF5 calls without its error stack printing; restores the previous
 * handler. */
typedef struct h5div_h5_quiet {
    H5E_auto2_t func;
    void *data;
} h5div_h5_quiet;
void h5div_h5_quiet_begin(h5div_h5_quiet *q);
void h5div_h5_quiet_end(const h5div_h5_quiet *q);

/* Does every component of `path` exist in `loc`? 1 yes, 0 no, <0 error. */
int h5div_h5_path_exists(hid_t loc, const char *path);

#endif

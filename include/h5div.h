/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div public API: distances between histograms evaluated in parallel with MPI. */
#ifndef H5DIV_H
#define H5DIV_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "h5div_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Compare two histograms held as shards in memory.
 * Collective over `comm`: every rank passes its shard p[0..count), q[0..count)
 * of global bins [offset, offset + count) of `bins` bins in all; shards must
 * tile [0, bins) without overlap. Empty shards (count 0, NULL pointers) are
 * allowed. With offsets from h5div_partition() (or any multiples of
 * H5DIV_BLOCK_BINS) the result has the same bits on any number of ranks.
 * On an input error (negative, NaN or infinite value, all-zero histogram)
 * returns H5DIV_EINPUT on every rank and, when errmsg is not NULL, writes a
 * one-line description to errmsg[0..errlen). Returns the same status on
 * every rank. */
int h5div_compare_shards(MPI_Comm comm, const double *restrict p, const double *restrict q,
                         uint64_t offset, size_t count, uint64_t bins, const h5div_options *opt,
                         h5div_compare_result *result, char *errmsg, size_t errlen);

/* Compare two 1-D histograms stored in HDF5 datasets named "FILE:/path".
 * Collective over `comm`: every rank reads its block of bins through the
 * MPI-IO driver in pieces of at most opt->piece_bytes and the partial sums
 * are reduced. Returns the same status on every rank; on failure errmsg
 * holds one line "<what is wrong> (<where>)". */
int h5div_compare_files(MPI_Comm comm, const char *p_ref, const char *q_ref,
                        const h5div_options *opt, h5div_compare_result *result, char *errmsg,
                        size_t errlen);

/* Metadata written with a result group (see h5div_write_compare_result). */
typedef struct h5div_result_info {
    const char *command;   /* full command line */
    const char *p_ref;     /* "FILE:/dataset" of P */
    const char *q_ref;     /* "FILE:/dataset" of Q */
    int ranks;             /* number of ranks that evaluated */
    double elapsed_seconds;
} h5div_result_info;

/* Write a compare result as group `group` of HDF5 file `path`.
 * The file is written to a temporary file in the same directory and renamed
 * into place, so an interrupted write never damages `path`; groups already
 * in `path` are kept. An existing group is an H5DIV_EOUTPUT error unless
 * `overwrite` is set. Not collective: call it on one rank. */
int h5div_write_compare_result(const char *path, const char *group, int overwrite,
                               const h5div_options *opt, const h5div_compare_result *result,
                               const h5div_result_info *info, char *errmsg, size_t errlen);

/* Check, before a long evaluation, that the result group could be written:
 * the directory is writable, `path` (if it exists) is an HDF5 file, and the
 * group does not exist unless `overwrite` is set. Not collective. */
int h5div_check_output(const char *path, const char *group, int overwrite, char *errmsg,
                       size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* H5DIV_H */

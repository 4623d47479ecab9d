/* SPDX-License-Identifier: BSD-3-Clause */
/* Call-and-check macros of every layer: h5div statuses, MPI return codes, HDF5 results. */
#ifndef H5DIV_CHECK_H
#define H5DIV_CHECK_H

/* Propagate a non-zero h5div status. */
#define H5DIV_CHECK(call)                                                                          \
    do {                                                                                           \
        int st_ = (call);                                                                          \
        if (st_ != H5DIV_OK)                                                                       \
            return st_;                                                                            \
    } while (0)

/* Return H5DIV_EINTERNAL when an MPI call fails, after h5div_mpi_failed
 * (src/par) has recorded "<call> failed: <MPI_Error_string> (<file>:<line>)"
 * for the error message; callers set MPI_ERRORS_RETURN on their
 * communicator for this to apply. */
#define H5DIV_MPI_CHECK(call)                                                                      \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != MPI_SUCCESS)                                                                    \
            return h5div_mpi_failed(rc_, #call, __FILE__, __LINE__);                               \
    } while (0)

/* A series of HDF5 calls (herr_t or hid_t results) checked once at its end:
 * `rc` (an herr_t, 0 before the first call) becomes -1 when `call` fails,
 * and the first failure is recorded by h5div_h5_failed (src/io). The calls
 * after a failed one are still made: on a parallel file every rank must
 * make each collective metadata call whatever its earlier calls returned. */
#define H5DIV_H5_TRY(rc, call)                                                                     \
    do {                                                                                           \
        if ((call) < 0 && (rc) >= 0)                                                               \
            (rc) = (herr_t)h5div_h5_failed(#call, __FILE__, __LINE__);                             \
    } while (0)

#endif

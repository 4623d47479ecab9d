/* SPDX-License-Identifier: BSD-3-Clause */
/* Collective error agreement, so no rank is left waiting in a collective call. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "par/par.h"

void h5div_set_error(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    /* A message cut to fit still ends its "(where)" part. */
    if (n >= 0 && (size_t)n >= len && len >= 5)
        snprintf(buf + len - 5, 5, "...)");
}

int h5div_mpi_failed(int rc, const char *what, const char *file, int line)
{
    char text[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(rc, text, &n) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", rc);
    if (getenv("H5DIV_DEBUG"))
        fprintf(stderr, "h5div: %s:%d: %s failed: %s\n", file, line, what, text);
    return H5DIV_EINTERNAL;
}

#define AGREE_MSG 1024

int h5div_par_agree(MPI_Comm comm, int status, char *msg, size_t len)
{
    int rank, size;
    H5DIV_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    H5DIV_MPI_CHECK(MPI_Comm_size(comm, &size));
    int mine = status != H5DIV_OK ? rank : size, first = size;
    H5DIV_MPI_CHECK(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm));
    if (first == size)
        return H5DIV_OK;
    struct {
        int status;
        char text[AGREE_MSG];
    } buf;
    memset(&buf, 0, sizeof buf);
    if (rank == first) {
        buf.status = status;
        if (msg)
            h5div_set_error(buf.text, sizeof buf.text, "%s", msg);
    }
    H5DIV_MPI_CHECK(MPI_Bcast(&buf, (int)sizeof buf, MPI_BYTE, first, comm));
    if (msg && len)
        h5div_set_error(msg, len, "%s", buf.text);
    return buf.status;
}

int h5div_par_collective(MPI_Comm comm, int (*body)(MPI_Comm c, void *arg, char *msg, size_t len),
                         void *arg, char *errmsg, size_t errlen)
{
    MPI_Comm c;
    if (MPI_Comm_dup(comm, &c) != MPI_SUCCESS) {
        h5div_set_error(errmsg, errlen, "MPI_Comm_dup failed (communicator)");
        return H5DIV_EINTERNAL;
    }
    MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN);
    char msg[1024] = "";
    int st = body(c, arg, msg, sizeof msg);
    MPI_Comm_free(&c);
    if (st != H5DIV_OK)
        h5div_set_error(errmsg, errlen, "%s", msg[0] ? msg : h5div_strerror(st));
    return st;
}

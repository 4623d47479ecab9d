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

static _Thread_local char mpi_error[MPI_MAX_ERROR_STRING + 256];

int h5div_mpi_failed(int rc, const char *what, const char *file, int line)
{
    char text[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(rc, text, &n) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", rc);
    if (getenv("H5DIV_DEBUG"))
        fprintf(stderr, "h5div: %s:%d: %s failed: %s\n", file, line, what, text);
    /* The source file from src/ on, not the build machine's path to it. */
    const char *src = strstr(file, "src/");
    if (!mpi_error[0])
        h5div_set_error(mpi_error, sizeof mpi_error, "%s failed: %s (%s:%d)", what, text,
                        src ? src : file, line);
    return H5DIV_EINTERNAL;
}

const char *h5div_mpi_error(void)
{
    return mpi_error;
}

void h5div_mpi_error_clear(void)
{
    mpi_error[0] = '\0';
}

/* The message of a failure: msg, or for an internal error without one the
 * recorded MPI failure. */
static const char *failure_text(int status, const char *msg)
{
    if ((!msg || !msg[0]) && status == H5DIV_EINTERNAL)
        return mpi_error;
    return msg ? msg : "";
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
        h5div_set_error(buf.text, sizeof buf.text, "%s", failure_text(status, msg));
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
    char msg[1024] = "";
    h5div_mpi_error_clear();
    int rc = MPI_Comm_dup(comm, &c), st;
    if (rc != MPI_SUCCESS) {
        st = h5div_mpi_failed(rc, "MPI_Comm_dup(comm)", __FILE__, __LINE__);
    } else {
        MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN);
        st = body(c, arg, msg, sizeof msg);
        MPI_Comm_free(&c);
    }
    if (st != H5DIV_OK) {
        const char *text = failure_text(st, msg);
        h5div_set_error(errmsg, errlen, "%s", text[0] ? text : h5div_strerror(st));
    }
    return st;
}

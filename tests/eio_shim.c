/* SPDX-License-Identifier: BSD-3-Clause */
/* Fault injection for tests/test_faults.py (LD_PRELOAD): writes and fsyncs of
 * h5div's temporary files fail with EIO after H5DIV_EIO_AFTER of them, and
 * with H5DIV_EIO_RENAME set the rename of a temporary file fails. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static long count;

/* A temporary file of h5div (not Open MPI's session files named after it). */
static int is_temp(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    return b[0] == '.' && strstr(b, ".h5div-") && !strstr(b, "_cid-");
}

static int fail_fd(int fd)
{
    char p[64], buf[4096];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(p, buf, sizeof buf - 1);
    if (n < 0)
        return 0;
    buf[n] = '\0';
    const char *after = getenv("H5DIV_EIO_AFTER");
    return after && is_temp(buf) && count++ >= atol(after);
}

#define WRAP(ret, name, params, args)                                                              \
    ret name params                                                                                \
    {                                                                                              \
        static ret(*real) params;                                                                  \
        if (!real)                                                                                 \
            *(void **)&real = dlsym(RTLD_NEXT, #name);                                             \
        if (fail_fd(fd)) {                                                                         \
            errno = EIO;                                                                           \
            return -1;                                                                             \
        }                                                                                          \
        return real args;                                                                          \
    }

WRAP(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n))
WRAP(ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
WRAP(ssize_t, pwrite64, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
WRAP(ssize_t, writev, (int fd, const struct iovec *v, int n), (fd, v, n))
WRAP(ssize_t, pwritev, (int fd, const struct iovec *v, int n, off_t o), (fd, v, n, o))
WRAP(ssize_t, pwritev64, (int fd, const struct iovec *v, int n, off_t o), (fd, v, n, o))
WRAP(int, fsync, (int fd), (fd))

int rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "rename");
    if (getenv("H5DIV_EIO_RENAME") && is_temp(from)) {
        errno = EIO;
        return -1;
    }
    return real(from, to);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Large read buffers: 2 MiB-aligned anonymous mappings, transparent huge pages on request. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, madvise */
#include "io/buffer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Linux 5.14; older kernels refuse it (EINVAL) and the pages are written. */
#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23
#endif

/* The mapping is kept in the page just below the buffer, which is part of
 * the mapping; the buffer itself starts on a 2 MiB boundary. */
typedef struct buffer_head {
    void *base;
    size_t len;
} buffer_head;

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

static void advise_huge(void *buf, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    const char *e = getenv("H5DIV_HUGEPAGES");
    size_t whole = bytes / H5DIV_BUFFER_HUGE * H5DIV_BUFFER_HUGE;
    /* Refused where the kernel has no transparent huge pages: small pages then. */
    if (e && !strcmp(e, "1") && whole)
        (void)madvise(buf, whole, MADV_HUGEPAGE);
#else
    (void)buf;
    (void)bytes;
#endif
}

void *h5div_buffer_alloc(size_t bytes)
{
    const size_t pg = page_size(), align = H5DIV_BUFFER_HUGE;
    if (bytes == 0)
        bytes = 1;
    if (bytes > SIZE_MAX - 2 * align - pg)
        return NULL;
    size_t used = (bytes + pg - 1) / pg * pg;
    /* Room for the head page and for moving the start to a 2 MiB boundary. */
    size_t len = used + align + pg;
    char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    uintptr_t a = ((uintptr_t)base + pg + align - 1) & ~(uintptr_t)(align - 1);
    char *buf = (char *)a;
    /* Give back what lies before the head page and after the buffer. */
    char *head = buf - pg;
    if (head > base)
        munmap(base, (size_t)(head - base));
    char *end = buf + used, *mend = base + len;
    if (mend > end)
        munmap(end, (size_t)(mend - end));
    buffer_head h = {head, pg + used};
    memcpy(head + pg - sizeof h, &h, sizeof h);
    advise_huge(buf, bytes);
    return buf;
}

void h5div_buffer_touch(void *buf, size_t bytes)
{
    if (!buf || !bytes)
        return;
#ifdef MADV_POPULATE_WRITE
    const size_t pg = page_size();
    if (madvise(buf, (bytes + pg - 1) / pg * pg, MADV_POPULATE_WRITE) == 0)
        return;
#else
    const size_t pg = page_size();
#endif
    /* A write, not a read and a write: reading first would map the shared
     * zero page and take a second fault on the write. */
    volatile char *c = buf;
    for (size_t i = 0; i < bytes; i += pg)
        c[i] = 0;
    c[bytes - 1] = 0;
}

void h5div_buffer_free(void *buf)
{
    if (!buf)
        return;
    buffer_head h;
    memcpy(&h, (char *)buf - sizeof h, sizeof h);
    munmap(h.base, h.len);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Large read buffers: 2 MiB-aligned anonymous mappings with transparent huge pages where allowed. */
#ifndef H5DIV_IO_BUFFER_H
#define H5DIV_IO_BUFFER_H

#include <stddef.h>

/* The huge page size the buffers are aligned to and advised in. */
#define H5DIV_BUFFER_HUGE ((size_t)2 << 20)

/* A new zero-filled buffer of `bytes` bytes (at least one), starting on a
 * 2 MiB boundary, or NULL when out of memory. Nothing is resident until it
 * is touched, so a buffer may be reserved larger than it will be used.
 * Transparent huge pages are asked for (madvise MADV_HUGEPAGE, where the
 * kernel has it; silently nothing otherwise) over the whole 2 MiB pages
 * among its first `huge` bytes: one page fault then maps 2 MiB instead of
 * 4 KiB. Bytes past the last whole 2 MiB page of `huge` keep small pages,
 * so a buffer never holds more than its used bytes rounded up to 4 KiB
 * (plus, inside the advised part, to 2 MiB). Not collective. */
void *h5div_buffer_alloc(size_t bytes, size_t huge);

/* Ask for huge pages over the whole 2 MiB pages of bytes [0, huge) of a
 * buffer of h5div_buffer_alloc (before they are first touched, to have an
 * effect). Not collective. */
void h5div_buffer_advise(void *buf, size_t huge);

/* Map bytes [0, bytes) of a buffer in now (the first-touch page faults, in
 * one call where the kernel has MADV_POPULATE_WRITE, else one write per
 * 4 KiB page); the contents are unchanged. Not collective. */
void h5div_buffer_touch(void *buf, size_t bytes);

/* Release a buffer of h5div_buffer_alloc; NULL is ignored. Not collective. */
void h5div_buffer_free(void *buf);

#endif

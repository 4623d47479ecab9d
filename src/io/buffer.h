/* SPDX-License-Identifier: BSD-3-Clause */
/* Large read buffers: 2 MiB-aligned anonymous mappings, transparent huge pages on request. */
#ifndef H5DIV_IO_BUFFER_H
#define H5DIV_IO_BUFFER_H

#include <stddef.h>

/* The huge page size the buffers are aligned to. */
#define H5DIV_BUFFER_HUGE ((size_t)2 << 20)

/* A new zero-filled buffer of `bytes` bytes (at least one), starting on a
 * 2 MiB boundary, or NULL when out of memory. Nothing is resident until it
 * is touched, so a buffer may be reserved larger than it will be used.
 * With H5DIV_HUGEPAGES=1 in the environment, transparent huge pages are
 * asked for (madvise MADV_HUGEPAGE, where the kernel has it; silently
 * nothing otherwise) over its whole 2 MiB pages: one page fault then maps
 * 2 MiB instead of 4 KiB. They are not asked for by default: on virtual
 * machines that hand free memory back to the host (free page reporting),
 * huge pages come from the memory the host took back, and their first
 * touch measured several times slower than that of small pages. Not
 * collective. */
void *h5div_buffer_alloc(size_t bytes);

/* Map bytes [0, bytes) of a buffer in now (the first-touch page faults, in
 * one call where the kernel has MADV_POPULATE_WRITE, else one write per
 * page), before they are read into: their contents are unspecified
 * afterwards. Not collective. */
void h5div_buffer_touch(void *buf, size_t bytes);

/* Release a buffer of h5div_buffer_alloc; NULL is ignored. Not collective. */
void h5div_buffer_free(void *buf);

#endif

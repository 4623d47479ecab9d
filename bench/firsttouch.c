/* SPDX-License-Identifier: BSD-3-Clause */
/* How long the first touch of fresh anonymous memory takes, with small or huge pages. */
/* Build: cc -O2 -o firsttouch bench/firsttouch.c
 * Usage: ./firsttouch MIB HUGE POPULATE  (HUGE 1: madvise MADV_HUGEPAGE; POPULATE 1:
 * MADV_POPULATE_WRITE instead of one write per 4 KiB). Prints seconds and MB/s. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MIB HUGE POPULATE\n", argv[0]);
        return 2;
    }
    size_t n = (size_t)strtoull(argv[1], NULL, 10) << 20, al = (size_t)2 << 20;
    int huge = atoi(argv[2]), pop = atoi(argv[3]);
    char *p = mmap(NULL, n + al, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    char *q = (char *)(((uintptr_t)p + al - 1) & ~(uintptr_t)(al - 1));
    if (huge && madvise(q, n, MADV_HUGEPAGE) != 0)
        perror("madvise(MADV_HUGEPAGE)");
    double t0 = now();
    if (!pop || madvise(q, n, MADV_POPULATE_WRITE) != 0)
        for (size_t i = 0; i < n; i += 4096)
            q[i] = 1;
    double t1 = now();
    printf("huge=%d populate=%d %.3f s (%.0f MB/s)\n", huge, pop, t1 - t0,
           (double)n / 1e6 / (t1 - t0));
    return 0;
}

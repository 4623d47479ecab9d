/* SPDX-License-Identifier: BSD-3-Clause */
/* What the divider alone costs: ND divisions and NS square roots per
 * element of a vectorised loop (the shape of h5div's fast kernel, whose ten
 * default measures take 12 divisions and 2 square roots a bin: one in each
 * of the 5 logarithms, 3 in their corrections, p/q - 1, q/p - 1, (p - q)/(p
 * + q) and Hellinger's (p - q)/(sqrt p + sqrt q)). Best of 200 sweeps of
 * 65,536 elements, in L1/L2.
 *
 *   cc -O3 -march=native -fno-math-errno -DND=12 -DNS=2 bench/divider.c -o divider -lm && ./divider
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <time.h>

#ifndef ND
#define ND 12
#endif
#ifndef NS
#define NS 2
#endif
#define N 65536

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double a[N], b[N], o[N];

int main(void)
{
    for (int i = 0; i < N; i++) {
        a[i] = 1.0 + i * 1e-6;
        b[i] = 2.0 + i * 1e-7;
    }
    double best = 1e9;
    for (int r = 0; r < 200; r++) {
        const double t0 = now();
        for (int i = 0; i < N; i++) {
            double x = a[i], y = b[i], s = 0.0;
            for (int k = 0; k < ND; k++)
                s += (x + k) / (y + k);
            for (int k = 0; k < NS; k++)
                s += sqrt(x + k);
            o[i] = s;
        }
        const double t = now() - t0;
        best = t < best ? t : best;
    }
    printf("%d divisions and %d square roots an element: %.2f ns (check %g)\n", ND, NS,
           best / N * 1e9, o[N / 2]);
    return 0;
}

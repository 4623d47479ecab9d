/* SPDX-License-Identifier: BSD-3-Clause */
/* Prints draws and summaries of src/core/resample.c for tests/test_bootstrap.py to check.
 *
 *   resample_draws poisson SEED STREAM REP INPUT FIRST N LAMBDA PIECE ORDER FMT
 *       draws of bins FIRST .. FIRST+N-1, all of mean LAMBDA, computed in
 *       pieces of PIECE bins taken in ORDER (fwd, rev or odd-even: the odd
 *       pieces first); FMT u64 prints one integer a line, f64 the double
 *       output as "HEXFLOAT HEXFLOAT" (value and exact remainder).
 *   resample_draws reps SEED STREAM INPUT BIN R LAMBDA
 *       the draws of one bin in replicates 0 .. R-1, one a line.
 *   resample_draws single SEED STREAM REP INPUT BIN LAMBDA
 *       one draw through h5div_rs_poisson1.
 *   resample_draws null SEED R FIRST A B P1,P2,... Q1,Q2,...
 *       R replicates of the pooled null (inputs 0 and 1): a line of the
 *       P* then the Q* per replicate.
 *   resample_draws summary LEVEL T Q1,Q2,...   (replicates on stdin)
 *       se, interval, p-value and the quantiles Q1, ... as hex floats.
 *   resample_draws table M1 M2
 *       the CDF tables of the integer means M1 .. M2, one a line: "M K0 N"
 *       and the N - 1 thresholds.
 *   resample_draws time LAMBDA N
 *       CPU nanoseconds per draw of mean LAMBDA over N bins.
 *
 * LAMBDA is a decimal integer (taken exactly, as hi + lo) or a double. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/resample.h"

static void lambda_of(const char *s, double *hi, double *lo)
{
    if (strspn(s, "0123456789") == strlen(s)) {
        uint64_t v = strtoull(s, NULL, 10);
        double h = (double)v;
        *hi = h;
        if (h >= 0x1p64)
            *lo = -(double)(UINT64_C(0) - v);
        else {
            uint64_t hu = (uint64_t)h;
            *lo = v >= hu ? (double)(v - hu) : -(double)(hu - v);
        }
    } else {
        *hi = strtod(s, NULL);
        *lo = 0.0;
    }
}

static uint64_t u64(const char *s)
{
    return strtoull(s, NULL, 10);
}

static double *list_of(const char *s, size_t *n)
{
    size_t cap = 16;
    double *v = malloc(cap * sizeof *v);
    *n = 0;
    while (v && *s) {
        if (*n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        if (!v)
            break;
        char *end;
        v[(*n)++] = strtod(s, &end);
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s) /* no progress: bad list */
            break;
    }
    return v;
}

static int cmd_poisson(char **a)
{
    h5div_rs_key k = {u64(a[0]), u64(a[1]), u64(a[2]), u64(a[3])};
    uint64_t first = u64(a[4]);
    size_t n = (size_t)u64(a[5]), piece = (size_t)u64(a[7]);
    const char *order = a[8], *fmt = a[9];
    double hi, lo;
    lambda_of(a[6], &hi, &lo);
    if (piece == 0)
        return 2;
    double *lam = malloc(n * sizeof *lam), *lam_lo = malloc(n * sizeof *lam_lo);
    uint64_t *out = malloc(n * sizeof *out);
    double *oh = malloc(n * sizeof *oh), *ol = malloc(n * sizeof *ol);
    if (!lam || !lam_lo || !out || !oh || !ol)
        return 2;
    for (size_t i = 0; i < n; i++) {
        lam[i] = hi;
        lam_lo[i] = lo;
    }
    size_t npieces = (n + piece - 1) / piece;
    for (size_t j = 0; j < npieces; j++) {
        size_t p = j; /* fwd */
        if (!strcmp(order, "rev"))
            p = npieces - 1 - j;
        else if (!strcmp(order, "odd-even"))
            p = j < npieces / 2 ? 2 * j + 1 : 2 * (j - npieces / 2);
        size_t off = p * piece, len = n - off < piece ? n - off : piece;
        int rc = !strcmp(fmt, "u64") ? h5div_rs_poisson_u64(&k, first + off, lam + off,
                                                            lam_lo + off, len, out + off)
                                     : h5div_rs_poisson(&k, first + off, lam + off, lam_lo + off,
                                                        len, oh + off, ol + off);
        if (rc != 0) {
            fprintf(stderr, "invalid mean\n");
            return 1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(fmt, "u64"))
            printf("%" PRIu64 "\n", out[i]);
        else
            printf("%a %a\n", oh[i], ol[i]);
    }
    free(lam);
    free(lam_lo);
    free(out);
    free(oh);
    free(ol);
    return 0;
}

static int cmd_reps(char **a)
{
    h5div_rs_key k = {u64(a[0]), u64(a[1]), 0, u64(a[2])};
    uint64_t bin = u64(a[3]), r = u64(a[4]);
    double hi, lo;
    lambda_of(a[5], &hi, &lo);
    for (uint64_t j = 0; j < r; j++) {
        k.replicate = j;
        uint64_t x;
        if (h5div_rs_poisson_u64(&k, bin, &hi, &lo, 1, &x) != 0)
            return 1;
        printf("%" PRIu64 "\n", x);
    }
    return 0;
}

static int cmd_single(char **a)
{
    h5div_rs_key k = {u64(a[0]), u64(a[1]), u64(a[2]), u64(a[3])};
    double hi, lo;
    lambda_of(a[5], &hi, &lo);
    int bad;
    uint64_t x = h5div_rs_poisson1(&k, u64(a[4]), hi, lo, &bad);
    if (bad) {
        fprintf(stderr, "invalid mean\n");
        return 1;
    }
    printf("%" PRIu64 "\n", x);
    return 0;
}

static int cmd_null(char **a)
{
    h5div_rs_key k = {u64(a[0]), H5DIV_RS_NULL, 0, 0};
    uint64_t r = u64(a[1]), first = u64(a[2]);
    double ta = strtod(a[3], NULL), tb = strtod(a[4], NULL);
    size_t np, nq;
    double *p = list_of(a[5], &np), *q = list_of(a[6], &nq);
    if (!p || !q || np != nq)
        return 2;
    double *op = malloc(np * sizeof *op), *oq = malloc(np * sizeof *oq);
    if (!op || !oq)
        return 2;
    for (uint64_t j = 0; j < r; j++) {
        k.replicate = j;
        if (h5div_rs_null(&k, 0, 1, first, p, NULL, q, NULL, np, ta, tb, op, NULL, oq, NULL)) {
            fprintf(stderr, "invalid input\n");
            return 1;
        }
        for (size_t i = 0; i < np; i++)
            printf("%.17g ", op[i]);
        for (size_t i = 0; i < np; i++)
            printf(i + 1 < np ? "%.17g " : "%.17g\n", oq[i]);
    }
    free(p);
    free(q);
    free(op);
    free(oq);
    return 0;
}

static int cmd_summary(char **a)
{
    double level = strtod(a[0], NULL), t = strtod(a[1], NULL);
    size_t nq;
    double *qs = list_of(a[2], &nq);
    size_t n = 0, cap = 1024;
    double *x = malloc(cap * sizeof *x);
    char line[128];
    while (x && fgets(line, sizeof line, stdin)) {
        if (n == cap)
            x = realloc(x, (cap *= 2) * sizeof *x);
        if (x)
            x[n++] = strtod(line, NULL);
    }
    if (!x || !qs)
        return 2;
    double ci[2];
    int rc = h5div_rs_interval(x, n, level, NULL, ci);
    printf("se %a\n", h5div_rs_stderr(x, n));
    printf("ci %d %a %a\n", rc, ci[0], ci[1]);
    printf("p %a\n", h5div_rs_pvalue(x, n, t));
    double *work = malloc((n ? n : 1) * sizeof *work);
    for (size_t i = 0; i < nq; i++)
        printf("q %a\n", h5div_rs_quantile(x, n, qs[i], work));
    free(work);
    free(x);
    free(qs);
    return 0;
}

static int cmd_table(char **a)
{
    uint64_t k0, thr[2048];
    for (uint64_t m = u64(a[0]); m <= u64(a[1]); m++) {
        size_t n = h5div_rs_table(m, &k0, thr, sizeof thr / sizeof thr[0]);
        if (n == 0 || n > sizeof thr / sizeof thr[0])
            return 1;
        printf("%" PRIu64 " %" PRIu64 " %zu", m, k0, n);
        for (size_t i = 0; i + 1 < n; i++)
            printf(" %" PRIu64, thr[i]);
        putchar('\n');
    }
    return 0;
}

static int cmd_time(char **a)
{
    double hi, lo;
    lambda_of(a[0], &hi, &lo);
    size_t n = (size_t)u64(a[1]);
    double *lam = malloc(n * sizeof *lam), *out = malloc(n * sizeof *out);
    if (!lam || !out)
        return 2;
    for (size_t i = 0; i < n; i++)
        lam[i] = hi + lo;
    h5div_rs_key k = {1, H5DIV_RS_BOOTSTRAP, 0, 0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    if (h5div_rs_poisson(&k, 0, lam, NULL, n, out, NULL))
        return 1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    double ns =
        ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)n;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += out[i];
    printf("lambda %s: %.1f ns per draw (mean of draws %.6g)\n", a[0], ns, s / (double)n);
    free(lam);
    free(out);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int nargs;
        int (*fn)(char **);
    } cmds[] = {{"poisson", 10, cmd_poisson}, {"reps", 6, cmd_reps},
                {"single", 6, cmd_single},    {"null", 7, cmd_null},
                {"summary", 3, cmd_summary},  {"time", 2, cmd_time},
                {"table", 2, cmd_table}};
    for (size_t i = 0; argc >= 2 && i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) {
            if (argc != 2 + cmds[i].nargs) {
                fprintf(stderr, "%s takes %d arguments\n", cmds[i].name, cmds[i].nargs);
                return 2;
            }
            return cmds[i].fn(argv + 2);
        }
    fprintf(stderr, "usage: see the comment at the top of resample_draws.c\n");
    return 2;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* In-process tests of the command line and the I/O layer: small HDF5 inputs made with the HDF5
 * C API, whole commands run through h5div_cli_main with their output in memory, values checked
 * against closed forms (derived in the comments), exit codes and the error line against the
 * contract, results files against the JSON printed, and src/io called directly (reads of every
 * integer and float type in pieces, the atomic writer).
 *
 * Usage: inproc WORKDIR. On one rank the suite runs on MPI_COMM_SELF; on more ranks it runs on
 * MPI_COMM_SELF on every rank (each in its own directory) and then once on MPI_COMM_WORLD,
 * where rank 0 alone prints and every rank gets the same exit code. */
#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "io/io.h"

static int failures, world_rank;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "rank %d: FAIL %s:%d: ", world_rank, __FILE__, __LINE__);              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* |got - want| <= rel |want| (both infinite and equal also passes). */
#define CHECK_REL(got, want, rel, what)                                                            \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        CHECK(g_ == w_ || fabs(g_ - w_) <= (rel)*fabs(w_), "%s = %.17g, want %.17g", what, g_,     \
              w_);                                                                                 \
    } while (0)

#define CHECK_BITS(got, want, what)                                                                \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        CHECK(memcmp(&g_, &w_, sizeof g_) == 0, "%s = %.17g, want the bits of %.17g", what, g_,    \
              w_);                                                                                 \
    } while (0)

/* Where a suite runs: its communicator and its own directory. */
typedef struct env {
    MPI_Comm comm;
    int rank, size;
    char dir[2048];
} env;

/* The output of the last command (malloc'ed by open_memstream). */
static char *out, *err;

/* Run h5div args[0..] (NULL-terminated) on e->comm; its stdout and stderr
 * into out and err. Checks what every run must satisfy: the same exit code
 * on every rank, nothing printed by a rank other than 0, an error (exit
 * 1-4) as exactly one line "h5div: error: ..." and nothing on stdout. */
static int run_args(const env *e, const char *const *args)
{
    free(out);
    free(err);
    size_t no, ne;
    FILE *fo = open_memstream(&out, &no), *fe = open_memstream(&err, &ne);
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"h5div";
    for (; args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    argv[argc] = NULL;
    int rc = h5div_cli_main(argc, argv, e->comm, fo, fe);
    fclose(fo);
    fclose(fe);
    int lo = rc, hi = rc;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, e->comm);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, e->comm);
    CHECK(lo == hi, "h5div %s: exit codes %d..%d differ over the ranks", args[0], lo, hi);
    if (e->rank != 0)
        CHECK(out[0] == '\0' && err[0] == '\0', "h5div %s: rank %d printed %s%s", args[0], e->rank,
              out, err);
    if (e->rank == 0 && rc >= 1 && rc <= 4) {
        const char *nl = strchr(err, '\n');
        CHECK(strncmp(err, "h5div: error: ", 14) == 0 && nl && nl[1] == '\0' && out[0] == '\0',
              "h5div %s: exit %d, error not one line: stdout [%s] stderr [%s]", args[0], rc, out,
              err);
    }
    return rc;
}
#define RUN(e, ...) run_args(e, (const char *const[]){__VA_ARGS__, NULL})

/* "DIR/name" in a static buffer of 64 rotating slots. */
static const char *at(const env *e, const char *fmt, ...)
{
    static char buf[64][4200];
    static int k;
    char name[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    k = (k + 1) % 64;
    snprintf(buf[k], sizeof buf[k], "%s/%s", e->dir, name);
    return buf[k];
}

/* The value of key in the "measures" object of a JSON text (numbers, or
 * the strings "inf", "-inf", "nan"); element i of an array. NaN and a
 * failure when it is missing. */
static double jnum_at(const char *json, const char *key, int i)
{
    const char *m = json ? strstr(json, "\"measures\": {") : NULL;
    char pat[256];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = m ? strstr(m, pat) : NULL;
    if (!p) {
        CHECK(0, "no measure %s in [%s]", key, json ? json : "");
        return NAN;
    }
    p += strlen(pat);
    if (*p == '[') {
        p++;
        for (int k = 0; k < i; k++) {
            p = strchr(p, ',');
            if (!p)
                return NAN;
            p++;
        }
        while (*p == ' ')
            p++;
    }
    if (strncmp(p, "\"inf\"", 5) == 0)
        return INFINITY;
    if (strncmp(p, "\"-inf\"", 6) == 0)
        return -INFINITY;
    if (strncmp(p, "\"nan\"", 5) == 0)
        return NAN;
    char *end;
    double v = strtod(p, &end);
    CHECK(end != p, "measure %s: not a number [%.20s]", key, p);
    return v;
}
static double jnum(const char *json, const char *key)
{
    return jnum_at(json, key, 0);
}

/* ---- inputs ---------------------------------------------------------- */

/* Dataset `name` of type ftype and shape dims[0..rank) from data in mtype;
 * chunk > 0: chunked by chunk elements along the last axis, with deflate. */
static void put(hid_t f, const char *name, hid_t ftype, int rank, const hsize_t *dims, hid_t mtype,
                const void *data, hsize_t chunk)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk) {
        hsize_t c[2] = {1, chunk};
        H5Pset_chunk(dcpl, rank, rank == 1 ? c + 1 : c);
        H5Pset_deflate(dcpl, 1);
    }
    hid_t d = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, "writing %s",
          name);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
}
static void put1(hid_t f, const char *name, hid_t ftype, hsize_t n, hid_t mtype, const void *data)
{
    put(f, name, ftype, 1, &n, mtype, data, 0);
}

#define NBIG 1024 /* four summation blocks: a shard on each of several ranks */
#define JR 300    /* rows and columns of the independent joint table /IND */
#define JC 512

/* in.h5 of the suite (made on the communicator's rank 0):
 *   /P  int32 LE (1, 3)     /Q  uint16 BE (3, 1)    /U (1, 1)   /U0 (1, 0)
 *   /J  float64 [[1, 1], [0, 2]]   /F uint8 [[1,0,0],[0,2,0],[3,0,0],[0,0,2]]
 *   /P2 [[1, 3], [1, 1]]  /Q2 [[3, 1], [1, 1]]
 *   /S0 int64 BE (0, 2, 2)   /X float32 samples (0.5, 1.5, 2.5, 2.7)
 *   /BP (1, ..., 1) and /BQ (1, 3, 1, 3, ...) of NBIG bins, chunked + deflate
 *   /NEG NBIG ones with -1 at bin 1000; /ZERO (0, 0, 0); /NANV (1, nan); /P3 (1, 3, 0)
 *   /IND uint16 BE [JR, JC], (1 + i % 3) (1 + 2 (j % 2)), chunked + deflate
 *   /CUBE [2, 2, 2]; /INF (1, inf); /EMPTY (); /STR two strings */
static void make_inputs(const env *e)
{
    if (e->rank == 0) {
        hid_t f = H5Fcreate(at(e, "in.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        CHECK(f >= 0, "creating %s", at(e, "in.h5"));
        const int p[2] = {1, 3}, q[2] = {3, 1}, p3[3] = {1, 3, 0};
        put1(f, "P", H5T_STD_I32LE, 2, H5T_NATIVE_INT, p);
        put1(f, "Q", H5T_STD_U16BE, 2, H5T_NATIVE_INT, q);
        put1(f, "P3", H5T_STD_I32LE, 3, H5T_NATIVE_INT, p3);
        const double u[2] = {1, 1}, u0[2] = {1, 0}, zero[3] = {0, 0, 0}, nanv[2] = {1, NAN};
        put1(f, "U", H5T_IEEE_F64LE, 2, H5T_NATIVE_DOUBLE, u);
        put1(f, "U0", H5T_IEEE_F64LE, 2, H5T_NATIVE_DOUBLE, u0);
        put1(f, "ZERO", H5T_IEEE_F64LE, 3, H5T_NATIVE_DOUBLE, zero);
        put1(f, "NANV", H5T_IEEE_F64LE, 2, H5T_NATIVE_DOUBLE, nanv);
        const hsize_t d22[2] = {2, 2}, d43[2] = {4, 3};
        const double j[4] = {1, 1, 0, 2}, p2[4] = {1, 3, 1, 1}, q2[4] = {3, 1, 1, 1};
        put(f, "J", H5T_IEEE_F64LE, 2, d22, H5T_NATIVE_DOUBLE, j, 0);
        put(f, "P2", H5T_IEEE_F64LE, 2, d22, H5T_NATIVE_DOUBLE, p2, 0);
        put(f, "Q2", H5T_IEEE_F64BE, 2, d22, H5T_NATIVE_DOUBLE, q2, 0);
        const int fx[12] = {1, 0, 0, 0, 2, 0, 3, 0, 0, 0, 0, 2};
        put(f, "F", H5T_STD_U8LE, 2, d43, H5T_NATIVE_INT, fx, 0);
        const long long s0[3] = {0, 2, 2};
        put1(f, "S0", H5T_STD_I64BE, 3, H5T_NATIVE_LLONG, s0);
        const float x[4] = {0.5f, 1.5f, 2.5f, 2.7f};
        put1(f, "X", H5T_IEEE_F32LE, 4, H5T_NATIVE_FLOAT, x);
        static double bp[NBIG], bq[NBIG], neg[NBIG];
        for (int i = 0; i < NBIG; i++) {
            bp[i] = 1.0;
            bq[i] = i % 2 ? 3.0 : 1.0;
            neg[i] = i == 1000 ? -1.0 : 1.0;
        }
        const hsize_t nb = NBIG;
        put(f, "BP", H5T_STD_U32LE, 1, &nb, H5T_NATIVE_DOUBLE, bp, 100);
        put(f, "BQ", H5T_IEEE_F32BE, 1, &nb, H5T_NATIVE_DOUBLE, bq, 64);
        put(f, "NEG", H5T_STD_I16LE, 1, &nb, H5T_NATIVE_DOUBLE, neg, 0);
        static unsigned short ind[JR * JC];
        for (int i = 0; i < JR; i++)
            for (int c = 0; c < JC; c++)
                ind[i * JC + c] = (unsigned short)((1 + i % 3) * (1 + 2 * (c % 2)));
        const double cube[8] = {1, 1, 1, 1, 1, 1, 1, 1}, inf2[2] = {1, INFINITY};
        const hsize_t d222[3] = {2, 2, 2}, d0 = 0;
        put(f, "CUBE", H5T_IEEE_F64LE, 3, d222, H5T_NATIVE_DOUBLE, cube, 0);
        put1(f, "INF", H5T_IEEE_F64LE, 2, H5T_NATIVE_DOUBLE, inf2);
        put(f, "EMPTY", H5T_IEEE_F64LE, 1, &d0, H5T_NATIVE_DOUBLE, cube, 0);
        hid_t s2 = H5Tcopy(H5T_C_S1);
        H5Tset_size(s2, 2);
        put1(f, "STR", s2, 2, s2, "abcd");
        H5Tclose(s2);
        const hsize_t dj[2] = {JR, JC};
        put(f, "IND", H5T_STD_U16BE, 2, dj, H5T_NATIVE_USHORT, ind, 128);
        H5Fclose(f);
    }
    MPI_Barrier(e->comm);
}

/* ---- commands -------------------------------------------------------- */

/* On more than one rank: the JSON measures of args run on e->comm have
 * the bits of the same command run by rank 0 alone on MPI_COMM_SELF (the
 * contract: the same bits on any number of ranks). */
static void same_bits_as_one_rank(const env *e, const char *const *args)
{
    if (e->size == 1)
        return;
    int rc = run_args(e, args);
    char *many = e->rank == 0 ? strdup(out) : NULL;
    if (e->rank == 0) {
        env self = *e;
        self.comm = MPI_COMM_SELF;
        self.rank = 0;
        self.size = 1;
        int rc1 = run_args(&self, args);
        const char *m1 = strstr(out, "\"measures\": {"), *m2 = strstr(many, "\"measures\": {");
        const char *e1 = m1 ? strchr(m1, '}') : NULL, *e2 = m2 ? strchr(m2, '}') : NULL;
        CHECK(rc == 0 && rc1 == 0 && e1 && e2 && e1 - m1 == e2 - m2 &&
                  memcmp(m1, m2, (size_t)(e1 - m1)) == 0,
              "h5div %s on %d ranks and on 1 differ:\n%s\n%s", args[0], e->size, many, out);
    }
    free(many);
}

/* compare P = (1, 3), Q = (3, 1): p = (1/4, 3/4), q = (3/4, 1/4); L = log2 3.
 * entropy_p = entropy_q = -(1/4 log2 1/4 + 3/4 log2 3/4) = 2 - 3/4 L;
 * cross_entropy_pq = -(1/4 log2 3/4 + 3/4 log2 1/4) = 2 - 1/4 L (= qp);
 * kl_pq = kl_qp = cross - entropy = L / 2;
 * m = (1/2, 1/2): KL(p||m) = 1/4 log2 1/2 + 3/4 log2 3/2 = 3/4 L - 1 = KL(q||m),
 * so js_divergence = 3/4 L - 1 and js_distance its square root;
 * total_variation = 1/2 (1/2 + 1/2) = 1/2;
 * hellinger = sqrt(1 - 2 sqrt(3/16)) = sqrt(1 - sqrt(3) / 2).
 * In base e every entropy and divergence is times ln 2; js_distance times
 * sqrt(ln 2); total_variation and hellinger are unitless. */
static void test_compare(const env *e)
{
    const char *P = at(e, "in.h5:/P"), *Q = at(e, "in.h5:/Q");
    const long double L = log2l(3.0L);
    const char *names[10] = {"entropy_p",       "entropy_q", "cross_entropy_pq", "cross_entropy_qp",
                             "kl_pq",           "kl_qp",     "js_divergence",    "js_distance",
                             "total_variation", "hellinger"};
    const long double bits[10] = {2 - 0.75L * L, 2 - 0.75L * L,
                                  2 - 0.25L * L, 2 - 0.25L * L,
                                  L / 2,         L / 2,
                                  0.75L * L - 1, sqrtl(0.75L * L - 1),
                                  0.5L,          sqrtl(1 - sqrtl(3.0L) / 2)};
    const char *units2[10] = {"bits", "bits", "bits", "bits", "bits",
                              "bits", "bits", "1",    "1",    "1"};
    int rc = RUN(e, "compare", "--json", P, Q);
    CHECK(rc == 0, "compare: exit %d, %s", rc, err);
    if (e->rank == 0) {
        char head[128];
        snprintf(head, sizeof head, "{\"command\": \"compare\", ");
        CHECK(strncmp(out, head, strlen(head)) == 0, "compare JSON head: %s", out);
        char ranks[64];
        snprintf(ranks, sizeof ranks, "\"ranks\": %d,", e->size);
        CHECK(strstr(out, ranks) && strstr(out, "\"base\": \"2\", \"units\": \"bits\""),
              "compare JSON: %s", out);
        for (int m = 0; m < 10; m++) {
            CHECK_REL(jnum(out, names[m]), (double)bits[m], 2e-15, names[m]);
            char u[128];
            snprintf(u, sizeof u, "\"%s\": \"%s\"", names[m], units2[m]);
            CHECK(strstr(strstr(out, "\"measure_units\""), u), "units of %s: %s", names[m], out);
        }
    }
    rc = RUN(e, "compare", "--json", "-b", "e", P, Q);
    CHECK(rc == 0, "compare -b e: exit %d, %s", rc, err);
    if (e->rank == 0) {
        const long double ln2 = logl(2.0L);
        for (int m = 0; m < 10; m++) {
            long double f = m < 7 ? ln2 : m == 7 ? sqrtl(ln2) : 1.0L;
            CHECK_REL(jnum(out, names[m]), (double)(bits[m] * f), 2e-15, names[m]);
        }
        CHECK(strstr(out, "\"units\": \"nats\""), "compare -b e: %s", out);
    }
    /* P = (1, 1), Q = (1, 0): kl_pq = +inf (p > 0 where q = 0), printed as
     * the string "inf"; kl_qp = log2(1 / (1/2)) = 1; total_variation = 1/2. */
    rc = RUN(e, "compare", "--json", at(e, "in.h5:/U"), at(e, "in.h5:/U0"));
    CHECK(rc == 0, "compare U U0: exit %d, %s", rc, err);
    if (e->rank == 0) {
        CHECK(strstr(out, "\"kl_pq\": \"inf\""), "kl_pq of U U0: %s", out);
        CHECK_BITS(jnum(out, "kl_qp"), 1.0, "kl_qp of U U0");
        CHECK_BITS(jnum(out, "total_variation"), 0.5, "total_variation of U U0");
    }
    /* Identical inputs: every divergence exactly 0. */
    rc = RUN(e, "compare", "--json", "--measures", "kl_pq,js_divergence,hellinger", P, P);
    if (e->rank == 0) {
        CHECK(rc == 0 && !strstr(out, "entropy_p"), "compare --measures: %s", out);
        CHECK_BITS(jnum(out, "kl_pq"), 0.0, "kl_pq of P P");
        CHECK_BITS(jnum(out, "js_divergence"), 0.0, "js_divergence of P P");
        CHECK_BITS(jnum(out, "hellinger"), 0.0, "hellinger of P P");
    }
    /* 2-D input, one histogram per row: row 0 is the case above, row 1
     * compares (1, 1) with itself; each measure is an array. */
    rc = RUN(e, "compare", "--json", at(e, "in.h5:/P2"), at(e, "in.h5:/Q2"));
    CHECK(rc == 0, "compare P2 Q2: exit %d, %s", rc, err);
    if (e->rank == 0) {
        CHECK(strstr(out, "\"kl_pq\": ["), "2-D compare: %s", out);
        CHECK_REL(jnum_at(out, "kl_pq", 0), (double)(L / 2), 2e-15, "kl_pq row 0");
        CHECK_BITS(jnum_at(out, "kl_pq", 1), 0.0, "kl_pq row 1");
        CHECK_BITS(jnum_at(out, "entropy_p", 1), 1.0, "entropy_p row 1");
    }
    /* NBIG bins over four blocks (a shard on each rank): p = 1/1024 each,
     * q = 1/2048 on even bins, 3/2048 on odd ones. entropy_p = 10;
     * entropy_q = 1/4 * 11 + 3/4 (11 - L) = 11 - 3/4 L;
     * kl_pq = 1/2 log2(2) + 1/2 log2(2/3) = 1 - L/2;
     * total_variation = 1/2 * 1024 * 1/2048 = 1/4. */
    rc = RUN(e, "compare", "--json", "--memory-per-rank", "4KiB", at(e, "in.h5:/BP"),
             at(e, "in.h5:/BQ"));
    CHECK(rc == 0, "compare BP BQ: exit %d, %s", rc, err);
    if (e->rank == 0) {
        /* within a few units in the last place (the sums of a block's
         * lanes are rounded: 10.000000000000009 here, 5 ulps) */
        CHECK_REL(jnum(out, "entropy_p"), 10.0, 4e-15, "entropy_p of BP");
        CHECK_REL(jnum(out, "entropy_q"), (double)(11 - 0.75L * L), 2e-15, "entropy_q of BQ");
        CHECK_REL(jnum(out, "kl_pq"), (double)(1 - L / 2), 2e-15, "kl_pq of BP BQ");
        CHECK_REL(jnum(out, "total_variation"), 0.25, 2e-15, "total_variation of BP BQ");
    }
    same_bits_as_one_rank(e, (const char *const[]){"compare", "--json", "--memory-per-rank", "4KiB",
                                                   at(e, "in.h5:/BP"), at(e, "in.h5:/BQ"), NULL});
    /* Several candidates: P against Q and against U = (1/2, 1/2), each
     * measure an array over the candidates. kl_pq(P, U) = 1/4 log2(1/2) +
     * 3/4 log2(3/2) = 3/4 L - 1; total_variation(P, U) = 1/4. */
    rc = RUN(e, "compare", "--json", P, Q, at(e, "in.h5:/U"));
    CHECK(rc == 0, "compare P Q U: exit %d, %s", rc, err);
    if (e->rank == 0) {
        CHECK_REL(jnum_at(out, "kl_pq", 0), (double)(L / 2), 2e-15, "kl_pq(P, Q)");
        CHECK_REL(jnum_at(out, "kl_pq", 1), (double)(0.75L * L - 1), 2e-15, "kl_pq(P, U)");
        CHECK_REL(jnum_at(out, "total_variation", 1), 0.25, 2e-15, "total_variation(P, U)");
    }
    /* --help and --version print on stdout and exit 0. */
    rc = RUN(e, "--version");
    CHECK(rc == 0 && (e->rank || strstr(out, "h5div")), "--version: exit %d, %s", rc, out);
    rc = RUN(e, "compare", "--help");
    CHECK(rc == 0 && (e->rank || strstr(out, "kl_pq")), "compare --help: exit %d", rc);
}

/* entropy P = (1, 3): entropy = 2 - 3/4 L bits, perplexity = 2^entropy =
 * 4 / 3^(3/4), total_count 4, nonzero_bins 2. With --pseudocount 1:
 * (2, 4) / 6, entropy = -(1/3 log2 1/3 + 2/3 log2 2/3) = L - 2/3. */
static void test_entropy(const env *e)
{
    const long double L = log2l(3.0L);
    int rc = RUN(e, "entropy", "--json", at(e, "in.h5:/P"));
    CHECK(rc == 0, "entropy: exit %d, %s", rc, err);
    if (e->rank == 0) {
        CHECK_REL(jnum(out, "entropy"), (double)(2 - 0.75L * L), 2e-15, "entropy of P");
        CHECK_REL(jnum(out, "perplexity"), (double)(4 / powl(3.0L, 0.75L)), 2e-15, "perplexity");
        CHECK_BITS(jnum(out, "total_count"), 4.0, "total_count");
        CHECK_BITS(jnum(out, "nonzero_bins"), 2.0, "nonzero_bins");
        CHECK(strstr(out, "\"perplexity\": \"1\""), "perplexity units: %s", out);
    }
    rc = RUN(e, "entropy", "--json", "--pseudocount", "1", at(e, "in.h5:/P"));
    if (e->rank == 0)
        CHECK_REL(jnum(out, "entropy"), (double)(L - 2.0L / 3), 2e-15, "entropy of P + 1");
    CHECK(rc == 0, "entropy --pseudocount: exit %d", rc);
}

/* The measures of joint, in the contract's order. */
static const char *const joint_names[8] = {"entropy_x",
                                           "entropy_y",
                                           "joint_entropy",
                                           "conditional_entropy_x_given_y",
                                           "conditional_entropy_y_given_x",
                                           "mutual_information",
                                           "normalized_mutual_information",
                                           "variation_of_information"};

/* joint J = [[1, 1], [0, 2]] (rows x): H(X) = 1, H(Y) = 2 - 3/4 L,
 * H(X,Y) = 3/2, H(X|Y) = 3/4 L - 1/2, H(Y|X) = 1/2, I = 3/2 - 3/4 L,
 * NMI = (3 - 3/2 L) / (3 - 3/4 L), VI = 3/4 L (tests/unit/test_joint.c).
 * F: Y = f(X) with X counts (1, 2, 3, 2) and Y counts (4, 2, 2):
 * H(Y|X) = 0, I = H(Y) = 3/2. */
static void test_joint(const env *e)
{
    const long double L = log2l(3.0L);
    const char *const *names = joint_names;
    const long double want[8] = {1,
                                 2 - 0.75L * L,
                                 1.5L,
                                 0.75L * L - 0.5L,
                                 0.5L,
                                 1.5L - 0.75L * L,
                                 (3 - 1.5L * L) / (3 - 0.75L * L),
                                 0.75L * L};
    int rc = RUN(e, "joint", "--json", at(e, "in.h5:/J"));
    CHECK(rc == 0, "joint: exit %d, %s", rc, err);
    if (e->rank == 0) {
        for (int m = 0; m < 8; m++)
            CHECK_REL(jnum(out, names[m]), (double)want[m], 4e-15, names[m]);
        CHECK(strstr(out, "\"inputs\": {\"pxy\": "), "joint inputs: %s", out);
    }
    rc = RUN(e, "joint", "--json", at(e, "in.h5:/F"));
    CHECK(rc == 0, "joint F: exit %d, %s", rc, err);
    if (e->rank == 0) {
        CHECK_BITS(jnum(out, "conditional_entropy_y_given_x"), 0.0, "H(Y|X) of Y = f(X)");
        CHECK_REL(jnum(out, "mutual_information"), 1.5, 2e-15, "I of Y = f(X)");
        CHECK_REL(jnum(out, "entropy_y"), 1.5, 2e-15, "H(Y) of Y = f(X)");
    }
    /* IND, independent over blocks of rows and columns (shards on every
     * rank, pieces under 256 KiB): row sums (1 + i % 3) 1024, column sums
     * (1 + 2 (j % 2)) 600, N = 600 * 1024. p(x) takes k / 600, k = 1, 2, 3,
     * 100 times each: H(X) = log2 600 - (1/6)(2 + 3 L); p(y) takes 1/1024
     * and 3/1024, 256 times each: H(Y) = 10 - 3/4 L; I = 0 exactly,
     * H(X,Y) = H(X) + H(Y), H(X|Y) = H(X), H(Y|X) = H(Y). */
    const char *const ind[] = {
        "joint", "--json", "--memory-per-rank", "256KiB", at(e, "in.h5:/IND"), NULL};
    rc = run_args(e, ind);
    CHECK(rc == 0, "joint IND: exit %d, %s", rc, err);
    if (e->rank == 0) {
        const long double hx = log2l(600.0L) - (2 + 3 * L) / 6, hy = 10 - 0.75L * L;
        CHECK_BITS(jnum(out, "mutual_information"), 0.0, "I of IND");
        CHECK_REL(jnum(out, "entropy_x"), (double)hx, 4e-15, "H(X) of IND");
        CHECK_REL(jnum(out, "entropy_y"), (double)hy, 4e-15, "H(Y) of IND");
        CHECK_REL(jnum(out, "joint_entropy"), (double)(hx + hy), 4e-15, "H(X,Y) of IND");
        CHECK_REL(jnum(out, "conditional_entropy_x_given_y"), (double)hx, 4e-15, "H(X|Y)");
        CHECK_REL(jnum(out, "conditional_entropy_y_given_x"), (double)hy, 4e-15, "H(Y|X)");
    }
    same_bits_as_one_rank(e, ind);
}

/* Read float64 dataset `obj` of file `path` into v (n values); 0 on success. */
static int read_doubles(const char *path, const char *obj, double *v, size_t n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return -1;
    hid_t d = H5Dopen2(f, obj, H5P_DEFAULT);
    int ok = -1;
    if (d >= 0) {
        hid_t sp = H5Dget_space(d);
        ok = (size_t)H5Sget_simple_extent_npoints(sp) == n &&
                     H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0
                 ? 0
                 : -1;
        H5Sclose(sp);
        H5Dclose(d);
    }
    H5Fclose(f);
    return ok;
}

/* A string attribute of obj into buf; 0 on success. */
static int read_str_attr(const char *path, const char *obj, const char *name, char *buf, size_t len)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return -1;
    int ok = -1;
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        hid_t t = H5Aget_type(a);
        if (H5Tis_variable_str(t) > 0) {
            char *s = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t));
            if (H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(buf, len, "%s", s);
                H5free_memory(s);
                ok = 0;
            }
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(t);
            char *s = calloc(1, sz + 1);
            if (H5Aread(a, t, s) >= 0) {
                snprintf(buf, len, "%s", s);
                ok = 0;
            }
            free(s);
        }
        H5Tclose(t);
        H5Aclose(a);
    }
    H5Fclose(f);
    return ok;
}

static int read_int_attr(const char *path, const char *obj, const char *name, long long *v)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return -1;
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Aread(a, H5T_NATIVE_LLONG, v) >= 0 ? 0 : -1;
    if (a >= 0)
        H5Aclose(a);
    H5Fclose(f);
    return ok;
}

/* The results file written with -o holds what --json printed: every
 * measure's bits, its units, and the group's attributes. */
static void check_group_vs_json(const env *e, const char *file, const char *group,
                                const char *const *names, int n, int rows)
{
    if (e->rank != 0)
        return;
    char units_json[64][64];
    const char *mu = strstr(out, "\"measure_units\": {");
    for (int m = 0; m < n; m++) {
        char obj[512], pat[128];
        snprintf(obj, sizeof obj, "%s/%s", group, names[m]);
        double v[4] = {NAN, NAN, NAN, NAN};
        CHECK(read_doubles(file, obj, v, (size_t)rows) == 0, "reading %s:%s", file, obj);
        for (int r = 0; r < rows; r++)
            CHECK_BITS(v[r], jnum_at(out, names[m], r), obj);
        snprintf(pat, sizeof pat, "\"%s\": \"", names[m]);
        const char *u = mu ? strstr(mu, pat) : NULL;
        units_json[m][0] = '\0';
        if (u)
            sscanf(u + strlen(pat), "%63[^\"]", units_json[m]);
        char units[64] = "";
        CHECK(read_str_attr(file, obj, "units", units, sizeof units) == 0 &&
                  strcmp(units, units_json[m]) == 0,
              "units of %s: file %s, JSON %s", obj, units, units_json[m]);
    }
    long long ranks = -1;
    CHECK(read_int_attr(file, group, "ranks", &ranks) == 0 && ranks == e->size,
          "%s:%s ranks = %lld, want %d", file, group, ranks, e->size);
    char cmd[4096] = "";
    CHECK(read_str_attr(file, group, "command", cmd, sizeof cmd) == 0 && strstr(cmd, "h5div "),
          "%s:%s command = %s", file, group, cmd);
}

static void test_results(const env *e)
{
    const char *P = at(e, "in.h5:/P"), *Q = at(e, "in.h5:/Q");
    const char *res = at(e, "res.h5");
    const char *const cnames[10] = {
        "entropy_p", "entropy_q",     "cross_entropy_pq", "cross_entropy_qp", "kl_pq",
        "kl_qp",     "js_divergence", "js_distance",      "total_variation",  "hellinger"};
    int rc = RUN(e, "compare", "--json", "-q", "-o", at(e, "res.h5:/runs/a"), P, Q);
    CHECK(rc == 0, "compare -o: exit %d, %s", rc, err);
    check_group_vs_json(e, res, "/runs/a", cnames, 10, 1);
    char attr[512] = "";
    if (e->rank == 0)
        CHECK(read_str_attr(res, "/runs/a", "p", attr, sizeof attr) == 0 && strcmp(attr, P) == 0,
              "attribute p = %s, want %s", attr, P);
    double kl_a = e->rank == 0 ? jnum(out, "kl_pq") : 0.0;
    rc = RUN(e, "compare", "--json", "-q", "-b", "e", "-o", at(e, "res.h5:/runs/b"),
             at(e, "in.h5:/P2"), at(e, "in.h5:/Q2"));
    CHECK(rc == 0, "compare -o 2-D: exit %d, %s", rc, err);
    check_group_vs_json(e, res, "/runs/b", cnames, 10, 2);
    const char *const *jnames = joint_names;
    rc = RUN(e, "joint", "--json", "-q", "-o", at(e, "joint.h5"), at(e, "in.h5:/J"));
    CHECK(rc == 0, "joint -o: exit %d, %s", rc, err);
    check_group_vs_json(e, at(e, "joint.h5"), "/h5div", jnames, 8, 1);
    const char *const enames[4] = {"entropy", "perplexity", "total_count", "nonzero_bins"};
    rc = RUN(e, "entropy", "--json", "-q", "-o", at(e, "ent.h5:/e"), at(e, "in.h5:/P"));
    CHECK(rc == 0, "entropy -o: exit %d, %s", rc, err);
    check_group_vs_json(e, at(e, "ent.h5"), "/e", enames, 4, 1);

    /* history: the two runs in order as CSV, the kl_pq of run a with the
     * bits --json printed; --check exits 5 when a run crosses a threshold
     * (kl_pq = L/2 = 0.79 is not < 0.5) and 0 when none does. */
    rc = RUN(e, "history", "--csv", res);
    CHECK(rc == 0, "history: exit %d, %s", rc, err);
    if (e->rank == 0) {
        /* Columns: run, created, p, q, then per measure its value (a 2-D
         * run such as b fills NAME, NAME.median, NAME.max instead: min,
         * median and max over the rows). */
        CHECK(strncmp(out, "run,created,p,q,entropy_p,", 26) == 0, "history header: %s", out);
        const char *a = strstr(out, "\na,"), *b = strstr(out, "\nb,");
        CHECK(a && b && a < b, "history runs a, b in order: %s", out);
        int col = -1, k = 0;
        for (const char *h = out; *h && *h != '\n'; k++) {
            size_t w = strcspn(h, ",\n");
            if (w == 5 && strncmp(h, "kl_pq", 5) == 0)
                col = k;
            h += w + (h[w] == ',');
        }
        CHECK(col > 4, "no kl_pq column in %s", out);
        const char *f = a ? a + 1 : NULL;
        for (k = 0; f && k < col; k++)
            f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL;
        CHECK(f && strtod(f, NULL) == kl_a, "history kl_pq of run a: %s", f ? f : "none");
        /* run b's kl_pq.max: the max over rows (L/2 ln 2 > 0) */
        f = b ? b + 1 : NULL;
        for (k = 0; f && k < col + 2; k++)
            f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL;
        CHECK(f && fabs(strtod(f, NULL) - (double)(logl(3.0L) / 2)) <= 4e-16,
              "history kl_pq.max of run b: %s", f ? f : "none");
    }
    rc = RUN(e, "history", "--check", "kl_pq<0.5", res);
    CHECK(rc == H5DIV_CLI_CHECK_FAILED, "history --check kl_pq<0.5: exit %d", rc);
    rc = RUN(e, "history", "-q", "--check", "kl_pq<1", res);
    CHECK(rc == 0, "history --check kl_pq<1: exit %d, %s", rc, err);
}

/* surprisal S0 = (0, 2, 2): p = (0, 1/2, 1/2), -log2 p = (inf, 1, 1);
 * BQ: -log2(1/2048) = 11 on even bins, -log2(3/2048) = 11 - L on odd. */
static void test_surprisal(const env *e)
{
    const char *file = at(e, "sur.h5");
    int rc = RUN(e, "surprisal", "--json", "-o", at(e, "sur.h5:/s0"), at(e, "in.h5:/S0"));
    CHECK(rc == 0, "surprisal: exit %d, %s", rc, err);
    double v[NBIG];
    if (e->rank == 0) {
        CHECK(strstr(out, "\"command\": \"surprisal\"") && strstr(out, "\"bins\": 3"),
              "surprisal JSON: %s", out);
        CHECK(read_doubles(file, "/s0", v, 3) == 0, "reading %s:/s0", file);
        CHECK(isinf(v[0]) && v[0] > 0, "surprisal of an empty bin %g", v[0]);
        CHECK_BITS(v[1], 1.0, "surprisal bin 1");
        CHECK_BITS(v[2], 1.0, "surprisal bin 2");
    }
    rc = RUN(e, "surprisal", "-q", "--memory-per-rank", "4KiB", "-o", at(e, "sur.h5:/bq"),
             at(e, "in.h5:/BQ"));
    CHECK(rc == 0, "surprisal BQ: exit %d, %s", rc, err);
    if (e->rank == 0) {
        CHECK(read_doubles(file, "/bq", v, NBIG) == 0, "reading %s:/bq", file);
        const double odd = (double)(11.0L - log2l(3.0L));
        int bad = 0;
        for (int i = 0; i < NBIG; i++)
            bad += i % 2 ? fabs(v[i] - odd) > 4e-16 * odd : v[i] != 11.0;
        CHECK(bad == 0, "surprisal of BQ: %d bins off (bin 0 %.17g, bin 1 %.17g)", bad, v[0], v[1]);
    }
}

/* histogram X = (0.5, 1.5, 2.5, 2.7) with --bins 2 --range 0:3: edges
 * (0, 1.5, 3), bin i holds edges[i] <= x < edges[i+1]: counts (1, 3). */
static void test_histogram(const env *e)
{
    const char *file = at(e, "hist.h5");
    int rc = RUN(e, "histogram", "--json", "--bins", "2", "--range", "0:3", "-o", file,
                 at(e, "in.h5:/X"));
    CHECK(rc == 0, "histogram: exit %d, %s", rc, err);
    if (e->rank == 0) {
        CHECK(strstr(out, "\"n_samples\": [4]") && strstr(out, "\"names\": [\"X\"]"),
              "histogram JSON: %s", out);
        double c[2] = {NAN, NAN}, ed[3] = {NAN, NAN, NAN};
        CHECK(read_doubles(file, "/h5div/X", c, 2) == 0 && c[0] == 1 && c[1] == 3,
              "histogram counts (%g, %g), want (1, 3)", c[0], c[1]);
        CHECK(read_doubles(file, "/h5div/edges", ed, 3) == 0 && ed[0] == 0 && ed[1] == 1.5 &&
                  ed[2] == 3,
              "histogram edges (%g, %g, %g), want (0, 1.5, 3)", ed[0], ed[1], ed[2]);
    }
}

/* File contents, for "left intact" (malloc'ed; *n its size; NULL if none). */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0;
    *n = 0;
    for (;;) {
        if (*n == cap)
            buf = realloc(buf, cap = cap ? 2 * cap : 65536);
        size_t k = fread(buf + *n, 1, cap - *n, f);
        *n += k;
        if (k == 0)
            break;
    }
    fclose(f);
    return buf;
}

static int same_bytes(const char *path, const char *before, size_t n)
{
    size_t m;
    char *now = slurp(path, &m);
    int same = now && m == n && memcmp(now, before, n) == 0;
    free(now);
    return same;
}

/* Entries of e->dir whose names start with `prefix` other than prefix
 * itself and prefix".lock": temporary files left behind. */
static int leftovers(const env *e, const char *prefix)
{
    DIR *d = opendir(e->dir);
    int n = 0;
    struct dirent *de;
    char lock[512];
    snprintf(lock, sizeof lock, "%s.lock", prefix);
    while (d && (de = readdir(d)))
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 && strcmp(de->d_name, prefix) &&
            strcmp(de->d_name, lock)) {
            fprintf(stderr, "left: %s/%s\n", e->dir, de->d_name);
            n++;
        }
    if (d)
        closedir(d);
    return n;
}

/* Exit codes and the error line of the contract: usage 2, input 3,
 * output 4; every failure leaves the earlier results file as it was. */
static void test_errors(const env *e)
{
    const char *P = at(e, "in.h5:/P"), *Q = at(e, "in.h5:/Q");
    const struct {
        int code;
        const char *args[8];
        const char *names; /* text the line holds after "h5div: error: " (the place it names) */
    } cases[] = {
        {2, {"compare", "--bogus", P, Q}, "(--bogus)"},
        {2, {"compare", P}, "compare"},
        {2, {"compare", "--base", "3", P, Q}, "(--base 3)"},
        {2, {"compare", "--pseudocount", "-1", P, Q}, "(--pseudocount -1)"},
        {2, {"compare", "--measures", "nope", P, Q}, "(--measures nope)"},
        {2, {"surprisal", P}, "(-o)"},
        {2, {"histogram", at(e, "in.h5:/X")}, "(-o)"},
        {2, {"nosuchcommand"}, "nosuchcommand"},
        {3, {"compare", P, at(e, "missing.h5:/Q")}, "missing.h5:/Q)"},
        {3, {"compare", P, at(e, "in.h5:/nope")}, "in.h5:/nope)"},
        {3, {"compare", P, at(e, "in.h5:/P3")}, "in.h5:/P3)"},
        {3, {"entropy", at(e, "in.h5:/ZERO")}, "in.h5:/ZERO)"},
        {3, {"entropy", at(e, "in.h5:/NANV")}, "in.h5:/NANV, bin 1)"},
        /* bin 1000 lies in the last shard: the rank that reads it is not
         * the one that prints */
        {3, {"compare", at(e, "in.h5:/NEG"), at(e, "in.h5:/BP")}, "in.h5:/NEG, bin 1000)"},
        {3, {"joint", P}, "in.h5:/P)"},
        {3, {"compare", at(e, "in.h5:/CUBE"), at(e, "in.h5:/CUBE")}, "in.h5:/CUBE)"},
        {3, {"compare", at(e, "in.h5:/STR"), P}, "in.h5:/STR)"},
        {3, {"entropy", at(e, "in.h5:/INF")}, "in.h5:/INF, bin 1)"},
        {3, {"entropy", at(e, "in.h5:/EMPTY")}, "in.h5:/EMPTY)"},
        {3, {"entropy", at(e, "in.h5:/")}, "in.h5:/)"},
        {3, {"history", at(e, "missing.h5")}, "missing.h5)"},
        {4, {"compare", "-o", at(e, "nodir/r.h5"), P, Q}, "nodir"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int rc = run_args(e, cases[k].args);
        CHECK(rc == cases[k].code, "h5div %s ...: exit %d, want %d (%s)", cases[k].args[0], rc,
              cases[k].code, err);
        if (e->rank == 0)
            CHECK(strstr(err, cases[k].names) && strstr(err, cases[k].names) >= err + 14,
                  "h5div %s: error line %s does not name %s", cases[k].args[0], err,
                  cases[k].names);
        if (e->rank == 0 && cases[k].code == 3 && strcmp(cases[k].args[0], "history"))
            CHECK(err[strlen(err) - 2] == ')', "input error line %s: not (<where>) last", err);
    }
    /* A results file is left as it was by a run refused for its group, by
     * one whose input is bad, and by one whose --overwrite fails on input. */
    const char *res = at(e, "keep.h5");
    int rc = RUN(e, "compare", "-q", "-o", at(e, "keep.h5:/runs/a"), P, Q);
    CHECK(rc == 0, "compare -o keep.h5: exit %d, %s", rc, err);
    MPI_Barrier(e->comm);
    size_t n = 0;
    char *before = slurp(res, &n);
    CHECK(before != NULL, "no %s", res);
    rc = RUN(e, "compare", "-o", at(e, "keep.h5:/runs/a"), P, Q);
    CHECK(rc == 4 && (e->rank || strstr(err, "--overwrite")), "group exists: exit %d, %s", rc, err);
    rc = RUN(e, "compare", "-o", at(e, "keep.h5:/runs/b"), P, at(e, "in.h5:/NEG"));
    CHECK(rc == 3, "bad input with -o: exit %d, %s", rc, err);
    rc = RUN(e, "compare", "--overwrite", "-o", at(e, "keep.h5:/runs/a"), at(e, "in.h5:/NEG"),
             at(e, "in.h5:/BP"));
    CHECK(rc == 3, "bad input with --overwrite: exit %d, %s", rc, err);
    MPI_Barrier(e->comm);
    if (e->rank == 0) {
        CHECK(before && same_bytes(res, before, n), "%s changed by failed runs", res);
        CHECK(leftovers(e, "keep.h5") == 0, "temporary files left next to %s", res);
    }
    free(before);
}

/* ---- src/io directly -------------------------------------------------- */

/* Every integer type (8-64 bits, signed and unsigned, both byte orders)
 * and float32/float64 of both byte orders, read in pieces: each value
 * arrives as the exact double (64-bit integers as double + exact
 * remainder). Values: the type's extremes, 0, 1 and a middle value. */
static void test_io_types(const env *e)
{
    static const struct {
        const char *name;
        int bits, sign, be;
    } it[] = {{"i8le", 8, 1, 0},   {"u8be", 8, 0, 1},   {"i16be", 16, 1, 1}, {"u16le", 16, 0, 0},
              {"i32le", 32, 1, 0}, {"i32be", 32, 1, 1}, {"u32be", 32, 0, 1}, {"i64le", 64, 1, 0},
              {"i64be", 64, 1, 1}, {"u64le", 64, 0, 0}, {"u64be", 64, 0, 1}};
    const int nt = (int)(sizeof it / sizeof it[0]);
    long double want[16][5];
    const char *file = at(e, "types.h5");
    if (e->rank == 0) {
        hid_t f = H5Fcreate(file, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        for (int t = 0; t < nt; t++) {
            hid_t ft = H5Tcopy(it[t].sign ? H5T_STD_I64LE : H5T_STD_U64LE);
            H5Tset_precision(ft, (size_t)it[t].bits);
            H5Tset_size(ft, (size_t)it[t].bits / 8);
            H5Tset_order(ft, it[t].be ? H5T_ORDER_BE : H5T_ORDER_LE);
            if (it[t].sign) {
                long long mx = it[t].bits == 64 ? INT64_MAX : (1LL << (it[t].bits - 1)) - 1;
                long long v[5] = {-mx - 1, mx, 0, 1, mx / 3};
                put1(f, it[t].name, ft, 5, H5T_NATIVE_LLONG, v);
            } else {
                unsigned long long mx = it[t].bits == 64 ? UINT64_MAX : (1ULL << it[t].bits) - 1;
                unsigned long long v[5] = {0, mx, 0, 1, mx / 3};
                put1(f, it[t].name, ft, 5, H5T_NATIVE_ULLONG, v);
            }
            H5Tclose(ft);
        }
        const float f32[5] = {0.1f, 3.4e38f, 1e-45f, 1.0f, 65536.5f};
        const double f64[5] = {0.1, 1.7976931348623157e308, 4.9e-324, 1.0, 1e-300};
        put1(f, "f32be", H5T_IEEE_F32BE, 5, H5T_NATIVE_FLOAT, f32);
        put1(f, "f32le", H5T_IEEE_F32LE, 5, H5T_NATIVE_FLOAT, f32);
        put1(f, "f64be", H5T_IEEE_F64BE, 5, H5T_NATIVE_DOUBLE, f64);
        H5Fclose(f);
    }
    MPI_Barrier(e->comm);
    for (int t = 0; t < nt; t++) {
        if (it[t].sign) {
            long long mx = it[t].bits == 64 ? INT64_MAX : (1LL << (it[t].bits - 1)) - 1;
            long long v[5] = {-mx - 1, mx, 0, 1, mx / 3};
            for (int i = 0; i < 5; i++)
                want[t][i] = (long double)v[i];
        } else {
            unsigned long long mx = it[t].bits == 64 ? UINT64_MAX : (1ULL << it[t].bits) - 1;
            unsigned long long v[5] = {0, mx, 0, 1, mx / 3};
            for (int i = 0; i < 5; i++)
                want[t][i] = (long double)v[i];
        }
    }
    for (int t = 0; t < nt + 3; t++) {
        const char *name = t < nt        ? it[t].name
                           : t == nt     ? "f32be"
                           : t == nt + 1 ? "f32le"
                                         : "f64be";
        char ref[4200], msg[1024] = "";
        snprintf(ref, sizeof ref, "%s:/%s", file, name);
        h5div_dset d;
        int st = h5div_dset_open(e->comm, ref, &d, msg, sizeof msg);
        CHECK(st == H5DIV_OK && d.bins == 5, "h5div_dset_open %s: %d %s", ref, st, msg);
        if (st != H5DIV_OK)
            continue;
        CHECK(h5div_dset_is_int64(&d) == (t < nt && it[t].bits == 64), "%s: is_int64", name);
        /* Pieces [0, 2), [2, 5) and [1, 4), independent reads. */
        const size_t off[3] = {0, 2, 1}, cnt[3] = {2, 3, 3};
        for (int pc = 0; pc < 3; pc++) {
            double buf[5], lo[5];
            int any = -1;
            st = h5div_dset_read_lo(&d, off[pc], cnt[pc], buf, lo, &any, 0, msg, sizeof msg);
            CHECK(st == H5DIV_OK, "read %s [%zu, +%zu): %s", name, off[pc], cnt[pc], msg);
            for (size_t i = 0; st == H5DIV_OK && i < cnt[pc]; i++) {
                size_t k = off[pc] + i;
                if (t < nt) {
                    CHECK((long double)buf[i] + (long double)lo[i] == want[t][k] &&
                              buf[i] == (double)want[t][k],
                          "%s[%zu] = %.17g + %g, want %.21Lg", name, k, buf[i], lo[i], want[t][k]);
                } else {
                    const float f32[5] = {0.1f, 3.4e38f, 1e-45f, 1.0f, 65536.5f};
                    const double f64[5] = {0.1, 1.7976931348623157e308, 4.9e-324, 1.0, 1e-300};
                    double w = t < nt + 2 ? (double)f32[k] : f64[k];
                    CHECK_BITS(buf[i], w, name);
                    CHECK_BITS(lo[i], 0.0, name);
                }
            }
            /* The plain read gives the same doubles. */
            double b2[5];
            st = h5div_dset_read(&d, off[pc], cnt[pc], b2, 0, msg, sizeof msg);
            CHECK(st == H5DIV_OK && memcmp(b2, buf, cnt[pc] * sizeof(double)) == 0,
                  "h5div_dset_read %s piece %d", name, pc);
        }
        h5div_dset_close(&d);
    }
    /* A chunked, deflated dataset read in a piece across chunk edges: BQ. */
    char ref[4200], msg[1024] = "";
    snprintf(ref, sizeof ref, "%s", at(e, "in.h5:/BQ"));
    h5div_dset d;
    int st = h5div_dset_open(e->comm, ref, &d, msg, sizeof msg);
    CHECK(st == H5DIV_OK && d.bins == NBIG, "open %s: %s", ref, msg);
    if (st == H5DIV_OK) {
        double buf[400];
        st = h5div_dset_read(&d, 101, 300, buf, 0, msg, sizeof msg);
        int bad = 0;
        for (int i = 0; i < 300; i++)
            bad += buf[i] != ((101 + i) % 2 ? 3.0 : 1.0);
        CHECK(st == H5DIV_OK && bad == 0, "chunked read of BQ: %d wrong, %s", bad, msg);
        h5div_dset_close(&d);
    }
    /* References and what is refused. */
    char fbuf[256], pbuf[256];
    CHECK(h5div_ref_split("dir:a/b.h5:/g:x/d", fbuf, sizeof fbuf, pbuf, sizeof pbuf) == H5DIV_OK &&
              strcmp(fbuf, "dir:a/b.h5") == 0 && strcmp(pbuf, "/g:x/d") == 0,
          "ref_split: %s %s", fbuf, pbuf);
    CHECK(h5div_ref_split("b.h5", fbuf, sizeof fbuf, pbuf, sizeof pbuf) == H5DIV_EUSAGE,
          "ref_split without a dataset");
    st = h5div_dset_open(e->comm, at(e, "in.h5:/J"), &d, msg, sizeof msg);
    CHECK(st == H5DIV_EINPUT && strstr(msg, "in.h5:/J"), "1-D open of a 2-D dataset: %d %s", st,
          msg);
    if (st == H5DIV_OK)
        h5div_dset_close(&d);
    st = h5div_dset_open_2d(e->comm, at(e, "in.h5:/F"), &d, msg, sizeof msg);
    CHECK(st == H5DIV_OK && d.rows == 4 && d.cols == 3 && d.bins == 12, "open_2d F: %d %s", st,
          msg);
    if (st == H5DIV_OK)
        h5div_dset_close(&d);
}

/* The atomic writer: a copy is written and renamed over the file only when
 * every rank succeeded; a failed write leaves the file's bytes as they
 * were and no temporary file behind. */
static void test_io_writer(const env *e)
{
    const char *path = at(e, "atomic.h5");
    if (e->rank == 0) {
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        const double v[3] = {1, 2, 3};
        put1(f, "old", H5T_IEEE_F64LE, 3, H5T_NATIVE_DOUBLE, v);
        H5Fclose(f);
    }
    MPI_Barrier(e->comm);
    size_t n = 0;
    char *before = slurp(path, &n);
    char msg[1024] = "";
    for (int ok = 0; ok < 2; ok++) {
        h5div_temp_out t;
        hid_t f = -1;
        int st = h5div_temp_open(e->comm, path, 0, &t, &f, msg, sizeof msg);
        CHECK(st == H5DIV_OK, "h5div_temp_open: %d %s", st, msg);
        if (st != H5DIV_OK)
            return;
        hid_t g = H5Gcreate2(f, "new", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        CHECK(g >= 0, "group in the temporary file");
        H5Gclose(g);
        /* First a failure on the last rank only (every rank must agree). */
        int mine = ok || e->rank != e->size - 1 ? H5DIV_OK : H5DIV_EOUTPUT;
        if (mine != H5DIV_OK)
            snprintf(msg, sizeof msg, "simulated failure (%s)", path);
        st = h5div_temp_close(e->comm, path, &t, f, mine, msg, sizeof msg);
        CHECK(st == (ok ? H5DIV_OK : H5DIV_EOUTPUT), "h5div_temp_close(%s): %d %s",
              ok ? "ok" : "failed", st, msg);
        MPI_Barrier(e->comm);
        if (e->rank == 0) {
            CHECK(leftovers(e, "atomic.h5") == 0, "temporary files left next to %s", path);
            hid_t h = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
            CHECK(h >= 0 && H5Lexists(h, "old", H5P_DEFAULT) > 0 &&
                      H5Lexists(h, "new", H5P_DEFAULT) == (ok ? 1 : 0),
                  "%s after a %s write", path, ok ? "good" : "failed");
            if (h >= 0)
                H5Fclose(h);
            if (!ok)
                CHECK(before && same_bytes(path, before, n), "%s changed by a failed write", path);
        }
    }
    free(before);
}

/* The row-pass sweep over two datasets of NBIG bins: every bin reaches the
 * callback exactly once over all ranks and passes, with its value, in
 * pieces of whole summation blocks (each starts on a block boundary), the
 * same number of rounds on every rank; a callback's error is agreed. */
typedef struct sweep_ctx {
    int pass, bad, pieces;
    int seen[NBIG];
} sweep_ctx;

static int sweep_piece(void *ctx, int pass, uint64_t first_bin, size_t n, double *const *v,
                       char *msg, size_t len)
{
    sweep_ctx *c = ctx;
    if (n == 0)
        return H5DIV_OK;
    c->pieces++;
    c->bad += pass != c->pass || first_bin % H5DIV_BLOCK_BINS != 0 || first_bin + n > NBIG;
    for (size_t i = 0; i < n && first_bin + i < NBIG; i++) {
        uint64_t b = first_bin + i;
        c->seen[b]++;
        c->bad += v[0][i] != 1.0 || v[1][i] != (b % 2 ? 3.0 : 1.0);
    }
    if (c->pass == 7 && first_bin + n == NBIG) { /* the last piece fails */
        snprintf(msg, len, "piece failed (bin %llu)", (unsigned long long)first_bin);
        return H5DIV_EINPUT;
    }
    return H5DIV_OK;
}

static void test_io_sweep(const env *e)
{
    h5div_dset dp, dq;
    char msg[1024] = "";
    int st = h5div_dset_open(e->comm, at(e, "in.h5:/BP"), &dp, msg, sizeof msg);
    st = st == H5DIV_OK ? h5div_dset_open(e->comm, at(e, "in.h5:/BQ"), &dq, msg, sizeof msg) : st;
    CHECK(st == H5DIV_OK, "opening BP, BQ: %s", msg);
    if (st != H5DIV_OK)
        return;
    h5div_options opt;
    h5div_options_init(&opt);
    opt.memory_per_rank = 4096; /* less than a shard: pieces read again each pass */
    h5div_dset *d[2] = {&dp, &dq};
    h5div_sweep sw;
    st = h5div_sweep_init(e->comm, &sw, d, 2, 0, &opt, msg, sizeof msg);
    CHECK(st == H5DIV_OK, "h5div_sweep_init: %s", msg);
    if (st == H5DIV_OK) {
        static sweep_ctx c;
        memset(&c, 0, sizeof c);
        for (c.pass = 0; c.pass < 2 && st == H5DIV_OK; c.pass++)
            st = h5div_sweep_run(e->comm, &sw, c.pass, 0, &opt, sweep_piece, &c, msg, sizeof msg);
        CHECK(st == H5DIV_OK, "h5div_sweep_run: %s", msg);
        int seen[NBIG];
        MPI_Allreduce(c.seen, seen, NBIG, MPI_INT, MPI_SUM, e->comm);
        int twice = 0;
        for (int b = 0; b < NBIG; b++)
            twice += seen[b] != 2;
        long long rounds = (long long)sw.rounds, rlo = rounds, rhi = rounds;
        MPI_Allreduce(MPI_IN_PLACE, &rlo, 1, MPI_LONG_LONG, MPI_MIN, e->comm);
        MPI_Allreduce(MPI_IN_PLACE, &rhi, 1, MPI_LONG_LONG, MPI_MAX, e->comm);
        CHECK(twice == 0 && c.bad == 0 && rlo == rhi && c.pieces >= 4 && !sw.cached,
              "sweep: %d bins not seen once per pass, %d bad, rounds %lld..%lld, %d pieces", twice,
              c.bad, rlo, rhi, c.pieces);
        /* An error in the callback on the rank holding the last piece
         * reaches every rank with its message. */
        c.pass = 7;
        st = h5div_sweep_run(e->comm, &sw, 7, 0, &opt, sweep_piece, &c, msg, sizeof msg);
        CHECK(st == H5DIV_EINPUT && strstr(msg, "piece failed (bin "), "sweep error agreed: %d %s",
              st, msg);
        h5div_sweep_free(&sw);
    }
    h5div_dset_close(&dp);
    h5div_dset_close(&dq);
}

/* The result-group writer: a group of scalar measures with their units and
 * the attributes every group has; an existing group is refused without
 * overwrite (the file's bytes as they were) and replaced with it. Not
 * collective: rank 0 writes. */
static void test_io_group(const env *e)
{
    if (e->rank != 0)
        return;
    const char *path = at(e, "group.h5");
    h5div_options opt;
    memset(&opt, 0, sizeof opt);
    opt.base = H5DIV_BASE_E;
    h5div_result_info info = {"h5div test", "a.h5:/P", "a.h5:/Q", 3, 0.5};
    h5div_group_spec gs;
    memset(&gs, 0, sizeof gs);
    gs.opt = &opt;
    gs.info = &info;
    gs.input_attr[0] = "p";
    gs.input_ref[0] = "a.h5:/P";
    gs.n = 2;
    gs.names[0] = "first";
    gs.units[0] = "nats";
    gs.values[0] = 0.1;
    gs.names[1] = "second";
    gs.units[1] = "1";
    gs.values[1] = -INFINITY;
    char msg[1024] = "";
    int st = h5div_write_result_group(path, "/runs/x", 0, &gs, msg, sizeof msg);
    CHECK(st == H5DIV_OK, "h5div_write_result_group: %d %s", st, msg);
    double v[2] = {NAN, NAN};
    char units[64] = "", p[64] = "";
    long long ranks = -1;
    CHECK(read_doubles(path, "/runs/x/first", v, 1) == 0 && v[0] == 0.1 &&
              read_doubles(path, "/runs/x/second", v + 1, 1) == 0 && v[1] == -INFINITY,
          "group values %g %g", v[0], v[1]);
    CHECK(read_str_attr(path, "/runs/x/first", "units", units, sizeof units) == 0 &&
              strcmp(units, "nats") == 0 && read_str_attr(path, "/runs/x", "p", p, sizeof p) == 0 &&
              strcmp(p, "a.h5:/P") == 0 && read_int_attr(path, "/runs/x", "ranks", &ranks) == 0 &&
              ranks == 3,
          "group attributes: units %s, p %s, ranks %lld", units, p, ranks);
    size_t n = 0;
    char *before = slurp(path, &n);
    gs.values[0] = 0.2;
    st = h5div_write_result_group(path, "/runs/x", 0, &gs, msg, sizeof msg);
    CHECK(st == H5DIV_EOUTPUT && strstr(msg, "/runs/x"), "existing group: %d %s", st, msg);
    CHECK(before && same_bytes(path, before, n), "%s changed by a refused write", path);
    st = h5div_write_result_group(path, "/runs", 1, &gs, msg, sizeof msg);
    CHECK(st == H5DIV_EOUTPUT, "a group of runs replaced: %d %s", st, msg);
    CHECK(before && same_bytes(path, before, n), "%s changed by a refused write", path);
    st = h5div_write_result_group(path, "/runs/x", 1, &gs, msg, sizeof msg);
    CHECK(st == H5DIV_OK && read_doubles(path, "/runs/x/first", v, 1) == 0 && v[0] == 0.2,
          "overwrite: %d %s, first = %g", st, msg, v[0]);
    CHECK(leftovers(e, "group.h5") == 0, "temporary files left next to %s", path);
    free(before);
}

static void suite(MPI_Comm comm, const char *dir)
{
    env e;
    e.comm = comm;
    MPI_Comm_rank(comm, &e.rank);
    MPI_Comm_size(comm, &e.size);
    snprintf(e.dir, sizeof e.dir, "%s", dir);
    if (e.rank == 0)
        CHECK(mkdir(dir, 0755) == 0 || errno == EEXIST, "mkdir %s", dir);
    MPI_Barrier(comm);
    make_inputs(&e);
    test_compare(&e);
    test_entropy(&e);
    test_joint(&e);
    test_results(&e);
    test_surprisal(&e);
    test_histogram(&e);
    test_errors(&e);
    test_io_types(&e);
    test_io_sweep(&e);
    test_io_writer(&e);
    test_io_group(&e);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int size;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc != 2) {
        fprintf(stderr, "usage: inproc WORKDIR\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    if (world_rank == 0)
        mkdir(argv[1], 0755);
    MPI_Barrier(MPI_COMM_WORLD);
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/self-%d", argv[1], world_rank);
    suite(MPI_COMM_SELF, dir);
    if (size > 1) {
        snprintf(dir, sizeof dir, "%s/world-%d", argv[1], size);
        suite(MPI_COMM_WORLD, dir);
    }
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (world_rank == 0)
        printf("inproc on %d rank(s): %d failures\n", size, total);
    free(out);
    free(err);
    MPI_Finalize();
    return total ? 1 : 0;
}

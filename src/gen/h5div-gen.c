/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div-gen writes deterministic synthetic histogram pairs to HDF5 for h5div's examples, tests and
 * benchmarks. */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

/* Exit codes, matching h5div's meaning of 1 and 2. */
enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Generation and writing go piece by piece so memory stays near 32 MiB whatever --bins is. */
#define PIECE_MAX ((hsize_t)1 << 20)

/* A sanity bound that turns a typo like --bins 1e15 into an error instead of a full disk. */
#define BINS_MAX 10000000000ULL

/* HDF5 refuses chunks of 4 GiB or more. */
#define CHUNK_BYTES_MAX 0xffffffffULL

#define PATH_LEN 1024
#define WHY_LEN 512

typedef enum { T_I8, T_I16, T_I32, T_I64, T_U8, T_U16, T_U32, T_U64, T_F32, T_F64 } tcode;

typedef struct {
    const char *name;
    tcode code;
    size_t size;
    bool is_float;
    bool is_signed;
    int64_t smax;  /* largest value of a signed type (the smallest is -smax - 1) */
    uint64_t umax; /* largest value of an unsigned type */
    /* Largest double that converts to the type without overflow: for the 64-bit
     * integers this is below the type's maximum, which a double cannot hold. */
    double dmax;
} dtype_info;

static const dtype_info DTYPES[] = {
    {"i8", T_I8, 1, false, true, INT8_MAX, 0, 127.0},
    {"i16", T_I16, 2, false, true, INT16_MAX, 0, 32767.0},
    {"i32", T_I32, 4, false, true, INT32_MAX, 0, 2147483647.0},
    {"i64", T_I64, 8, false, true, INT64_MAX, 0, 9223372036854774784.0},
    {"u8", T_U8, 1, false, false, 0, UINT8_MAX, 255.0},
    {"u16", T_U16, 2, false, false, 0, UINT16_MAX, 65535.0},
    {"u32", T_U32, 4, false, false, 0, UINT32_MAX, 4294967295.0},
    {"u64", T_U64, 8, false, false, 0, UINT64_MAX, 18446744073709549568.0},
    {"f32", T_F32, 4, true, true, 0, 0, FLT_MAX},
    {"f64", T_F64, 8, true, true, 0, 0, DBL_MAX},
};

typedef enum { L_CONTIGUOUS, L_CHUNKED, L_DEFLATE } layout_t;
typedef enum { K_RANDOM, K_NEAR, K_IDENTICAL, K_DISJOINT, K_UNIFORM, K_ZIPF } kind_t;
static const char *const KIND_NAMES[] = {"random",   "near",    "identical",
                                         "disjoint", "uniform", "zipf"};

/* Power-law exponent of Q for --kind zipf; P's is 1. */
#define ZIPF_Q_EXP 1.25

typedef struct {
    int which; /* 0 = P, 1 = Q */
    uint64_t bin;
    const char *text; /* VALUE as given; parsed once the dtype is known */
    unsigned char bytes[8];
} bin_set;

typedef struct {
    const char *out;
    uint64_t bins;
    const dtype_info *dt;
    bool big_endian;
    layout_t layout;
    uint64_t chunk; /* 0 = default */
    kind_t kind;
    double eps, scale, zero_frac;
    uint64_t seed;
    const char *p_name, *q_name;
    bin_set *sets;
    size_t nsets;
    bool append;
} options;

/* Independent random streams, one per purpose, so that changing one option (say --zero-frac)
 * does not shift the values drawn for another. */
enum {
    KEY_P_VAL,
    KEY_P_ZERO,
    KEY_Q_VAL,
    KEY_Q_ZERO,
    KEY_Q_PERT,
    KEY_P_KEEP,
    KEY_Q_KEEP,
    KEY_COUNT
};

/* Values derived from the options that the per-bin generation needs. */
typedef struct {
    kind_t kind;
    bool integer;
    double eps, zero_frac;
    double lo, span; /* random counts are lo + u * span */
    double uniform;  /* the value of every bin of --kind uniform */
    double zipf_c;   /* the largest count of --kind zipf */
    double dmax;     /* values are clamped here so they fit the dtype */
    uint64_t keys[KEY_COUNT];
    uint64_t keep_p; /* bins never zeroed, so neither histogram is all zero */
    uint64_t keep_q;
} genparams;

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void h5err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("h5div-gen: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static herr_t h5_innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n != 0 || !e->desc)
        return 0;
    char *why = data;
    /* System-call failures carry a long key = value list (with a ctime() timestamp that ends in a
     * newline); the head and the errno text are what a user needs. */
    const char *msg = strstr(e->desc, "error message = '"), *colon = strchr(e->desc, ':');
    if (msg && colon) {
        msg += strlen("error message = '");
        const char *q = strchr(msg, '\'');
        snprintf(why, WHY_LEN, "%.*s: %.*s", (int)(colon - e->desc), e->desc,
                 (int)(q ? q - msg : 200), msg);
    } else {
        snprintf(why, WHY_LEN, "%s", e->desc);
    }
    for (char *c = why; *c; c++)
        if (*c == '\n')
            *c = ' ';
    return 0;
}

/* Automatic HDF5 stack dumps are off, so a failed HDF5 call is reported as one line ending in the
 * innermost HDF5 message, which is the one that names the real cause (errno, missing object). */
static void h5err(const char *fmt, ...)
{
    char why[WHY_LEN] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_innermost, why);
    va_list ap;
    va_start(ap, fmt);
    fputs("h5div-gen: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    if (why[0])
        fprintf(stderr, " (HDF5: %s)", why);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(FILE *f)
{
    fputs("Usage: h5div-gen OUT.h5 [options]\n"
          "Write two synthetic histograms P and Q (1-D datasets) to OUT.h5 for h5div.\n"
          "The output is a deterministic function of the options.\n"
          "\n"
          "  --bins N          bins per histogram (default 1000; 0 gives empty datasets)\n"
          "  --dtype T         i8 i16 i32 i64 u8 u16 u32 u64 f32 f64, optionally with a\n"
          "                    byte order le or be (e.g. i32be); none = le (default f64)\n"
          "  --layout L        contiguous | chunked | deflate (chunked + gzip level 1,\n"
          "                    no shuffle); default contiguous\n"
          "  --chunk N         chunk size in elements (default min(bins, 65536); at\n"
          "                    most bins; ignored for contiguous)\n"
          "  --kind K          random | near | identical | disjoint | uniform | zipf\n"
          "                    (default random)\n"
          "  --eps E           relative perturbation of --kind near, 0..1 (default 1e-7)\n"
          "  --scale S         typical count magnitude (default 1000); lowered to fit\n"
          "                    the dtype (e.g. to 128 for u8, 64 for i8)\n"
          "  --zero-frac F     fraction of zero bins for random/identical (default 0.1)\n"
          "  --seed S          unsigned 64-bit seed (default 1)\n"
          "  --p-name /PATH    dataset of P (default /reference); groups are created\n"
          "  --q-name /PATH    dataset of Q (default /generated)\n"
          "  --set WHICH:BIN=VALUE\n"
          "                    afterwards set bin BIN of p or q to VALUE (e.g. -1, nan,\n"
          "                    inf, 0); repeatable, the last one wins; VALUE must fit\n"
          "                    the dtype\n"
          "  --append          add the datasets to OUT.h5 if it exists instead of\n"
          "                    truncating it; an existing dataset name is an error\n"
          "  --help            print this help\n"
          "\n"
          "Kinds:\n"
          "  random     P and Q independent; counts in [1, 2*scale) (whole numbers for\n"
          "             integer dtypes); a fraction zero-frac of the bins is 0, but\n"
          "             never all of them\n"
          "  near       P random without zeros; Q = P*(1 + eps*r), r uniform in\n"
          "             [-1, 1], rounded for integer dtypes but never to 0, so P and Q\n"
          "             have the same support\n"
          "  identical  Q = P, P as for random\n"
          "  disjoint   P nonzero only on even bins, Q only on odd bins (bins >= 2)\n"
          "  uniform    every bin = scale\n"
          "  zipf       P = C/(i+1), Q = C/(i+1)^1.25 with C = scale*bins (at most the\n"
          "             dtype's maximum); at least 1 for integer dtypes\n"
          "\n"
          "Exit status: 0 success, 1 failure, 2 usage error.\n",
          f);
}

#define GOLDEN 0x9e3779b97f4a7c15ULL

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The i-th output of the splitmix64 stream whose state starts at key. Splitmix64 advances its
 * state by a constant, so any output can be computed directly: a piece can start at any bin and
 * the values do not depend on the piece size. */
static inline uint64_t sm_at(uint64_t key, uint64_t i)
{
    return mix64(key + (i + 1) * GOLDEN);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double u01(uint64_t key, uint64_t i)
{
    return (double)(sm_at(key, i) >> 11) * 0x1.0p-53;
}

/* Accepts plain decimal integers and, for convenience in scripts, integral values written like
 * 1e8. */
static bool parse_count(const char *s, uint64_t *v)
{
    if (!*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long u = strtoull(s, &end, 10);
    if (!*end && errno == 0) {
        *v = u;
        return true;
    }
    errno = 0;
    double d = strtod(s, &end);
    if (*end || errno != 0 || !(d >= 0.0) || d > 0x1.0p53 || d != floor(d))
        return false;
    *v = (uint64_t)d;
    return true;
}

static bool parse_real(const char *s, double *v)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (!*s || *end || errno != 0 || !isfinite(d))
        return false;
    *v = d;
    return true;
}

static const dtype_info *parse_dtype(const char *s, bool *big_endian)
{
    char base[8];
    size_t n = strlen(s);
    *big_endian = false;
    if (n >= 2 && (strcmp(s + n - 2, "le") == 0 || strcmp(s + n - 2, "be") == 0)) {
        *big_endian = s[n - 2] == 'b';
        n -= 2;
    }
    if (n == 0 || n >= sizeof base)
        return NULL;
    memcpy(base, s, n);
    base[n] = '\0';
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (strcmp(base, DTYPES[i].name) == 0)
            return &DTYPES[i];
    return NULL;
}

/* Reads an integer as sign and magnitude, so the whole range of both int64 and uint64 is
 * accepted; integral values in float notation such as 1e3 are accepted too. */
static bool parse_integer(const char *s, bool *neg, uint64_t *mag)
{
    const char *d = s + (*s == '-' || *s == '+');
    char *end;
    *neg = *s == '-';
    if (*d >= '0' && *d <= '9') {
        errno = 0;
        unsigned long long u = strtoull(d, &end, 10);
        if (!*end) {
            *mag = u;
            return errno == 0;
        }
    }
    errno = 0;
    double x = strtod(s, &end);
    if (!*s || *end || !isfinite(x) || x != floor(x) || fabs(x) > 0x1.0p63)
        return false;
    *mag = (uint64_t)fabs(x);
    return true;
}

/* Turns a --set VALUE into the bytes of one native element of the dtype, or fails if the value
 * cannot be stored exactly (a fraction, NaN or a negative number in an integer type). */
static bool parse_set_value(const char *s, const dtype_info *dt, unsigned char *bytes)
{
    if (dt->is_float) {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        /* strtod reports both overflow (returning inf) and underflow (returning a tiny value)
         * as ERANGE; only overflow changes what the value means. */
        if (!*s || *end || (errno == ERANGE && isinf(d)))
            return false;
        if (dt->code == T_F64) {
            memcpy(bytes, &d, sizeof d);
            return true;
        }
        if (isfinite(d) && fabs(d) > FLT_MAX)
            return false;
        float f = (float)d;
        memcpy(bytes, &f, sizeof f);
        return true;
    }

    bool neg;
    uint64_t mag;
    if (!parse_integer(s, &neg, &mag))
        return false;
    int64_t sv = 0;
    uint64_t uv = 0;
    if (dt->is_signed) {
        /* The magnitude of smin is smax + 1. */
        if (neg ? mag > (uint64_t)dt->smax + 1 : mag > (uint64_t)dt->smax)
            return false;
        sv = neg ? (mag == 0 ? 0 : -(int64_t)(mag - 1) - 1) : (int64_t)mag;
    } else {
        if ((neg && mag != 0) || mag > dt->umax)
            return false;
        uv = mag;
    }
#define STORE(T, x)                                                                                \
    do {                                                                                           \
        T t_ = (T)(x);                                                                             \
        memcpy(bytes, &t_, sizeof t_);                                                             \
    } while (0)
    switch (dt->code) {
    case T_I8: STORE(int8_t, sv); break;
    case T_I16: STORE(int16_t, sv); break;
    case T_I32: STORE(int32_t, sv); break;
    case T_I64: STORE(int64_t, sv); break;
    case T_U8: STORE(uint8_t, uv); break;
    case T_U16: STORE(uint16_t, uv); break;
    case T_U32: STORE(uint32_t, uv); break;
    case T_U64: STORE(uint64_t, uv); break;
    default: return false;
    }
#undef STORE
    return true;
}

static bool valid_dset_path(const char *p)
{
    size_t n = strlen(p);
    return n >= 2 && p[0] == '/' && p[n - 1] != '/' && n < PATH_LEN && !strstr(p, "//");
}

/* --name VALUE or --name=VALUE; NULL if ARGV[*I] is not NAME. A missing value is reported and
 * signalled through *missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        err("option %s needs a value (see h5div-gen --help)", name);
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

/* The index of V in NAMES[0..n), or n. */
static size_t name_index(const char *v, const char *const *names, size_t n)
{
    size_t k = 0;
    while (k < n && strcmp(v, names[k]) != 0)
        k++;
    return k;
}

/* The setters of the options that take a value: each returns 0, or an exit code after its
 * error line. */
static int set_bins(options *o, const char *v)
{
    if (parse_count(v, &o->bins) && o->bins <= BINS_MAX)
        return 0;
    err("--bins: expected an integer from 0 to %llu, got '%s'", BINS_MAX, v);
    return EXIT_USAGE;
}

static int set_dtype(options *o, const char *v)
{
    if ((o->dt = parse_dtype(v, &o->big_endian)))
        return 0;
    err("--dtype: unknown type '%s' (i8..i64, u8..u64, f32, f64, optional le|be)", v);
    return EXIT_USAGE;
}

static int set_layout(options *o, const char *v)
{
    static const char *const names[] = {"contiguous", "chunked", "deflate"};
    const size_t k = name_index(v, names, sizeof names / sizeof names[0]);
    if (k < sizeof names / sizeof names[0]) {
        o->layout = (layout_t)k;
        return 0;
    }
    err("--layout: expected contiguous, chunked or deflate, got '%s'", v);
    return EXIT_USAGE;
}

static int set_chunk(options *o, const char *v)
{
    if (parse_count(v, &o->chunk) && o->chunk != 0)
        return 0;
    err("--chunk: expected a positive integer, got '%s'", v);
    return EXIT_USAGE;
}

static int set_kind(options *o, const char *v)
{
    const size_t nk = sizeof KIND_NAMES / sizeof KIND_NAMES[0], k = name_index(v, KIND_NAMES, nk);
    if (k < nk) {
        o->kind = (kind_t)k;
        return 0;
    }
    err("--kind: expected random, near, identical, disjoint, uniform or zipf, got '%s'", v);
    return EXIT_USAGE;
}

/* A real number in [lo, hi] (hi infinite: positive, lo excluded). */
static int set_real(const char *name, const char *v, double *x, double lo, double hi,
                    const char *expected)
{
    if (parse_real(v, x) && (isinf(hi) ? *x > lo : *x >= lo && *x <= hi))
        return 0;
    err("%s: expected %s, got '%s'", name, expected, v);
    return EXIT_USAGE;
}

static int set_eps(options *o, const char *v)
{
    return set_real("--eps", v, &o->eps, 0.0, 1.0, "a number from 0 to 1");
}

static int set_scale(options *o, const char *v)
{
    return set_real("--scale", v, &o->scale, 0.0, INFINITY, "a positive number");
}

static int set_zero_frac(options *o, const char *v)
{
    return set_real("--zero-frac", v, &o->zero_frac, 0.0, 1.0, "a number from 0 to 1");
}

static int set_seed(options *o, const char *v)
{
    char *end;
    errno = 0;
    unsigned long long s = strtoull(v, &end, 10);
    if (!*v || *v == '-' || *v == '+' || *end || errno != 0) {
        err("--seed: expected an unsigned 64-bit integer, got '%s'", v);
        return EXIT_USAGE;
    }
    o->seed = s;
    return 0;
}

static int set_p_name(options *o, const char *v)
{
    o->p_name = v;
    return 0;
}

static int set_q_name(options *o, const char *v)
{
    o->q_name = v;
    return 0;
}

/* --set p:BIN=VALUE or q:BIN=VALUE: recorded here, its value checked against the dtype once all
 * options are read. */
static int add_set(options *o, const char *v)
{
    bin_set s = {.text = NULL};
    const char *eq = strchr(v, '=');
    char *end;
    if ((v[0] != 'p' && v[0] != 'q') || v[1] != ':' || !eq || eq == v + 2 || v[2] == '-' ||
        v[2] == '+') {
        err("--set: expected p:BIN=VALUE or q:BIN=VALUE, got '%s'", v);
        return EXIT_USAGE;
    }
    s.which = v[0] == 'q';
    errno = 0;
    s.bin = strtoull(v + 2, &end, 10);
    if (end != eq || errno != 0) {
        err("--set: bad bin index in '%s'", v);
        return EXIT_USAGE;
    }
    s.text = eq + 1;
    bin_set *grown = realloc(o->sets, (o->nsets + 1) * sizeof *grown);
    if (!grown) {
        err("out of memory");
        return EXIT_FAIL;
    }
    o->sets = grown;
    o->sets[o->nsets++] = s;
    return 0;
}

/* The options that take a value. */
static const struct gen_option {
    const char *name;
    int (*set)(options *o, const char *v);
} GEN_OPTIONS[] = {
    {"--bins", set_bins},     {"--dtype", set_dtype},         {"--layout", set_layout},
    {"--chunk", set_chunk},   {"--kind", set_kind},           {"--eps", set_eps},
    {"--scale", set_scale},   {"--zero-frac", set_zero_frac}, {"--seed", set_seed},
    {"--p-name", set_p_name}, {"--q-name", set_q_name},       {"--set", add_set},
};

/* One argument (and the value it takes): 0, an exit code, or -1 after --help. */
static int parse_arg(int argc, char **argv, int *i, options *o)
{
    const char *a = argv[*i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        usage(stdout);
        return -1;
    }
    if (strcmp(a, "--append") == 0) {
        o->append = true;
        return 0;
    }
    bool missing = false;
    for (size_t k = 0; k < sizeof GEN_OPTIONS / sizeof GEN_OPTIONS[0]; k++) {
        const char *v = opt_value(argc, argv, i, GEN_OPTIONS[k].name, &missing);
        if (v)
            return GEN_OPTIONS[k].set(o, v);
        if (missing)
            return EXIT_USAGE;
    }
    if (a[0] == '-' && a[1] != '\0') {
        err("unknown option '%s' (see h5div-gen --help)", a);
        return EXIT_USAGE;
    }
    if (o->out) {
        err("unexpected argument '%s': only one output file (see h5div-gen --help)", a);
        return EXIT_USAGE;
    }
    o->out = a;
    return 0;
}

/* The dataset names: absolute, distinct, and neither the group of the other. */
static int check_names(const options *o)
{
    if (!valid_dset_path(o->p_name) || !valid_dset_path(o->q_name)) {
        err("--p-name/--q-name: expected an absolute dataset path like /group/name, got '%s'",
            valid_dset_path(o->p_name) ? o->q_name : o->p_name);
        return EXIT_USAGE;
    }
    if (strcmp(o->p_name, o->q_name) == 0) {
        err("--p-name and --q-name are both '%s'", o->p_name);
        return EXIT_USAGE;
    }
    for (int h = 0; h < 2; h++) {
        /* A dataset cannot also be the group that holds the other one. */
        const char *a = h ? o->q_name : o->p_name, *b = h ? o->p_name : o->q_name;
        size_t n = strlen(a);
        if (strncmp(a, b, n) == 0 && b[n] == '/') {
            err("--p-name '%s' and --q-name '%s': one would be a group holding the other",
                o->p_name, o->q_name);
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* Each --set: a bin in range and a value the dtype holds (stored in its bytes). */
static int check_sets(options *o)
{
    for (size_t k = 0; k < o->nsets; k++) {
        bin_set *s = &o->sets[k];
        if (s->bin >= o->bins) {
            err("--set %c:%" PRIu64 ": bin out of range (the histograms have %" PRIu64 " bins)",
                s->which ? 'q' : 'p', s->bin, o->bins);
            return EXIT_USAGE;
        }
        if (!parse_set_value(s->text, o->dt, s->bytes)) {
            err("--set %c:%" PRIu64 "=%s: not a number that dtype %s can hold",
                s->which ? 'q' : 'p', s->bin, s->text, o->dt->name);
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* The chunk size of a chunked layout: --chunk, or up to 65536 bins, within the dataset. */
static int fit_chunk(options *o)
{
    if (o->layout == L_CONTIGUOUS)
        return 0;
    if (o->chunk == 0)
        o->chunk = o->bins < 65536 ? o->bins : 65536;
    /* HDF5 rejects chunks larger than a fixed-size dataset. */
    if (o->bins > 0 && o->chunk > o->bins)
        o->chunk = o->bins;
    if (o->chunk == 0)
        o->chunk = 1;
    if (o->chunk * o->dt->size > CHUNK_BYTES_MAX) {
        err("--chunk %" PRIu64 ": a chunk must be smaller than 4 GiB", o->chunk);
        return EXIT_USAGE;
    }
    return 0;
}

/* Returns 0, or an exit code: EXIT_USAGE for bad arguments, -1 after --help. */
static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.bins = 1000,
                   .dt = &DTYPES[T_F64],
                   .layout = L_CONTIGUOUS,
                   .kind = K_RANDOM,
                   .eps = 1e-7,
                   .scale = 1000.0,
                   .zero_frac = 0.1,
                   .seed = 1,
                   .p_name = "/reference",
                   .q_name = "/generated"};
    for (int i = 1; i < argc; i++) {
        int rc = parse_arg(argc, argv, &i, o);
        if (rc != 0)
            return rc;
    }
    if (!o->out) {
        err("missing output file (usage: h5div-gen OUT.h5 [options])");
        return EXIT_USAGE;
    }
    int rc = check_names(o);
    if (rc != 0)
        return rc;
    if (o->kind == K_DISJOINT && o->bins == 1) {
        err("--kind disjoint needs --bins 0 or at least 2");
        return EXIT_USAGE;
    }
    rc = check_sets(o);
    return rc == 0 ? fit_chunk(o) : rc;
}

static void genparams_init(genparams *g, const options *o)
{
    const dtype_info *dt = o->dt;
    g->kind = o->kind;
    g->integer = !dt->is_float;
    g->eps = o->eps;
    g->zero_frac = o->zero_frac;
    g->dmax = dt->dmax;

    /* Keep 2*scale within the dtype so random counts never need clamping; floats keep headroom
     * for the near perturbation. */
    double s = o->scale;
    if (g->integer) {
        double smax = floor((dt->dmax + 1.0) / 2.0);
        if (s > smax)
            s = smax;
        if (s < 1.0)
            s = 1.0;
        /* Integers 1 .. ceil(2s) - 1, each as likely: floor of a uniform real. */
        g->lo = 1.0;
        g->span = ceil(2.0 * s) - 1.0;
    } else {
        if (s > dt->dmax / 4.0)
            s = dt->dmax / 4.0;
        g->lo = s < 1.0 ? s : 1.0;
        g->span = 2.0 * s - g->lo;
    }
    g->uniform = g->integer ? nearbyint(s) : s;

    double c = s * (double)(o->bins > 0 ? o->bins : 1);
    if (c > dt->dmax)
        c = dt->dmax;
    g->zipf_c = g->integer ? floor(c) : c;

    for (unsigned k = 0; k < KEY_COUNT; k++)
        g->keys[k] = sm_at(o->seed, k);
    g->keep_p = o->bins ? sm_at(g->keys[KEY_P_KEEP], 0) % o->bins : 0;
    g->keep_q = o->bins ? sm_at(g->keys[KEY_Q_KEEP], 0) % o->bins : 0;
}

static inline double count(const genparams *g, uint64_t key, uint64_t i)
{
    double v = g->span * u01(key, i);
    return g->lo + (g->integer ? floor(v) : v);
}

/* Fills p[0..n) and q[0..n) with bins start .. start+n-1. */
static void gen_piece(const genparams *g, uint64_t start, size_t n, double *restrict p,
                      double *restrict q)
{
    const uint64_t *key = g->keys;
    switch (g->kind) {
    case K_RANDOM:
    case K_IDENTICAL:
        for (size_t j = 0; j < n; j++) {
            uint64_t i = start + j;
            bool zero = u01(key[KEY_P_ZERO], i) < g->zero_frac && i != g->keep_p;
            p[j] = zero ? 0.0 : count(g, key[KEY_P_VAL], i);
        }
        if (g->kind == K_IDENTICAL) {
            memcpy(q, p, n * sizeof *q);
            break;
        }
        for (size_t j = 0; j < n; j++) {
            uint64_t i = start + j;
            bool zero = u01(key[KEY_Q_ZERO], i) < g->zero_frac && i != g->keep_q;
            q[j] = zero ? 0.0 : count(g, key[KEY_Q_VAL], i);
        }
        break;
    case K_NEAR:
        for (size_t j = 0; j < n; j++) {
            uint64_t i = start + j;
            p[j] = count(g, key[KEY_P_VAL], i);
            double r = 2.0 * u01(key[KEY_Q_PERT], i) - 1.0;
            double v = p[j] * (1.0 + g->eps * r);
            /* A rounded-away bin would make KL infinite; near is meant to keep the support. */
            q[j] = g->integer ? fmax(nearbyint(v), 1.0) : v;
        }
        break;
    case K_DISJOINT:
        for (size_t j = 0; j < n; j++) {
            uint64_t i = start + j;
            bool even = (i & 1) == 0;
            p[j] = even ? count(g, key[KEY_P_VAL], i) : 0.0;
            q[j] = even ? 0.0 : count(g, key[KEY_Q_VAL], i);
        }
        break;
    case K_UNIFORM:
        for (size_t j = 0; j < n; j++)
            p[j] = q[j] = g->uniform;
        break;
    case K_ZIPF:
        for (size_t j = 0; j < n; j++) {
            double x = (double)(start + j) + 1.0;
            double a = g->zipf_c / x;
            double b = g->zipf_c * pow(x, -ZIPF_Q_EXP);
            /* A power law has no empty bins; rounding must not create them. */
            p[j] = g->integer ? fmax(nearbyint(a), 1.0) : a;
            q[j] = g->integer ? fmax(nearbyint(b), 1.0) : b;
        }
        break;
    }
}

static inline double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Converts generated values (finite, >= 0) to native elements of the dtype, saturating at its
 * maximum: HDF5 then only has to change the byte order, if at all. */
static void to_native(const dtype_info *dt, const double *restrict v, size_t n, void *restrict out)
{
    const double hi = dt->dmax;
#define CONVERT(T)                                                                                 \
    do {                                                                                           \
        T *o = out;                                                                                \
        for (size_t j = 0; j < n; j++)                                                             \
            o[j] = (T)clampd(nearbyint(v[j]), 0.0, hi);                                            \
    } while (0)
    switch (dt->code) {
    case T_I8: CONVERT(int8_t); break;
    case T_I16: CONVERT(int16_t); break;
    case T_I32: CONVERT(int32_t); break;
    case T_I64: CONVERT(int64_t); break;
    case T_U8: CONVERT(uint8_t); break;
    case T_U16: CONVERT(uint16_t); break;
    case T_U32: CONVERT(uint32_t); break;
    case T_U64: CONVERT(uint64_t); break;
    case T_F32: {
        float *o = out;
        for (size_t j = 0; j < n; j++)
            o[j] = (float)clampd(v[j], 0.0, FLT_MAX);
        break;
    }
    case T_F64: memcpy(out, v, n * sizeof *v); break;
    }
#undef CONVERT
}

static hid_t mem_type(const dtype_info *dt)
{
    switch (dt->code) {
    case T_I8: return H5T_NATIVE_INT8;
    case T_I16: return H5T_NATIVE_INT16;
    case T_I32: return H5T_NATIVE_INT32;
    case T_I64: return H5T_NATIVE_INT64;
    case T_U8: return H5T_NATIVE_UINT8;
    case T_U16: return H5T_NATIVE_UINT16;
    case T_U32: return H5T_NATIVE_UINT32;
    case T_U64: return H5T_NATIVE_UINT64;
    case T_F32: return H5T_NATIVE_FLOAT;
    case T_F64: return H5T_NATIVE_DOUBLE;
    }
    return H5I_INVALID_HID;
}

static hid_t file_type(const dtype_info *dt, bool be)
{
    switch (dt->code) {
    case T_I8: return be ? H5T_STD_I8BE : H5T_STD_I8LE;
    case T_I16: return be ? H5T_STD_I16BE : H5T_STD_I16LE;
    case T_I32: return be ? H5T_STD_I32BE : H5T_STD_I32LE;
    case T_I64: return be ? H5T_STD_I64BE : H5T_STD_I64LE;
    case T_U8: return be ? H5T_STD_U8BE : H5T_STD_U8LE;
    case T_U16: return be ? H5T_STD_U16BE : H5T_STD_U16LE;
    case T_U32: return be ? H5T_STD_U32BE : H5T_STD_U32LE;
    case T_U64: return be ? H5T_STD_U64BE : H5T_STD_U64LE;
    case T_F32: return be ? H5T_IEEE_F32BE : H5T_IEEE_F32LE;
    case T_F64: return be ? H5T_IEEE_F64BE : H5T_IEEE_F64LE;
    }
    return H5I_INVALID_HID;
}

/* 1 if PATH names an existing link, 2 if a parent of PATH exists but is no group, 0 if PATH can
 * be created, -1 on failure. H5Lexists fails rather than answering when a parent is missing or
 * not a group, so each prefix is tested in turn. */
static int link_exists(hid_t file, const char *path)
{
    char buf[PATH_LEN];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *c = buf + 1;; c++) {
        if (*c != '/' && *c != '\0')
            continue;
        char saved = *c;
        *c = '\0';
        htri_t e = H5Lexists(file, buf, H5P_DEFAULT);
        if (e <= 0)
            return e < 0 ? -1 : 0;
        if (saved == '\0')
            return 1;
        hid_t g = H5Gopen2(file, buf, H5P_DEFAULT);
        if (g < 0)
            return 2;
        H5Gclose(g);
        *c = saved;
    }
}

static int write_attrs(const options *o, int which, hid_t dset)
{
    const char *kind = KIND_NAMES[o->kind];
    uint64_t seed = o->seed;
    int rc = -1;
    hid_t space = H5Screate(H5S_SCALAR), str = H5Tcopy(H5T_C_S1), a = H5I_INVALID_HID;
    if (space < 0 || str < 0 || H5Tset_size(str, strlen(kind) + 1) < 0 ||
        H5Tset_strpad(str, H5T_STR_NULLTERM) < 0)
        goto out;
    if ((a = H5Acreate2(dset, "kind", str, space, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(a, str, kind) < 0 || H5Aclose(a) < 0)
        goto out;
    if ((a = H5Acreate2(dset, "seed", H5T_STD_U64LE, space, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(a, H5T_NATIVE_UINT64, &seed) < 0)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        h5err("cannot write the attributes of %s in %s", which ? o->q_name : o->p_name, o->out);
    if (a >= 0)
        H5Aclose(a);
    if (str >= 0)
        H5Tclose(str);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

static hid_t create_dset(hid_t file, const char *name, const options *o)
{
    hid_t d = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    hsize_t dims[1] = {o->bins}, maxdims[1] = {o->bins};
    if (dcpl < 0 || lcpl < 0 || dapl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0 ||
        /* Without timestamps the same options give byte-identical files. */
        H5Pset_obj_track_times(dcpl, 0) < 0)
        goto out;
    if (o->layout != L_CONTIGUOUS) {
        hsize_t chunk[1] = {o->chunk};
        /* An empty dataset can only be chunked if it may grow past its chunk size. */
        if (o->bins == 0)
            maxdims[0] = H5S_UNLIMITED;
        if (H5Pset_chunk(dcpl, 1, chunk) < 0)
            goto out;
        if (o->layout == L_DEFLATE && H5Pset_deflate(dcpl, 1) < 0)
            goto out;
        /* Pieces can be smaller than a chunk; a cache that holds a whole chunk lets HDF5 fill it
         * in memory and compress it once instead of rereading it for every piece. */
        size_t bytes = (size_t)o->chunk * o->dt->size;
        if (bytes > ((size_t)1 << 20) &&
            H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, bytes + ((size_t)1 << 20),
                               H5D_CHUNK_CACHE_W0_DEFAULT) < 0)
            goto out;
    }
    if ((space = H5Screate_simple(1, dims, maxdims)) < 0)
        goto out;
    d = H5Dcreate2(file, name, file_type(o->dt, o->big_endian), space, lcpl, dcpl, dapl);
out:
    if (d < 0)
        h5err("cannot create dataset %s in %s", name, o->out);
    if (space >= 0)
        H5Sclose(space);
    if (dapl >= 0)
        H5Pclose(dapl);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    return d;
}

static int write_piece(const options *o, int which, hid_t dset, hsize_t start, hsize_t n,
                       const void *buf)
{
    int rc = 0;
    hid_t fspace = H5Dget_space(dset), mspace = H5Screate_simple(1, &n, NULL);
    if (fspace < 0 || mspace < 0 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &n, NULL) < 0 ||
        H5Dwrite(dset, mem_type(o->dt), mspace, fspace, H5P_DEFAULT, buf) < 0) {
        /* Before the closes below, which clear the HDF5 error stack. */
        h5err("cannot write bins %llu..%llu of %s in %s", (unsigned long long)start,
              (unsigned long long)(start + n - 1), which ? o->q_name : o->p_name, o->out);
        rc = -1;
    }
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    return rc;
}

/* Generates and writes both histograms piece by piece. */
static int write_all(const options *o, hid_t dset[2])
{
    const dtype_info *dt = o->dt;
    hsize_t piece = PIECE_MAX;
    /* Pieces made of whole chunks never leave a chunk half written between two writes. */
    if (o->layout != L_CONTIGUOUS && o->chunk <= PIECE_MAX)
        piece = PIECE_MAX / o->chunk * o->chunk;
    if (piece > o->bins)
        piece = o->bins;

    int rc = -1;
    double *val[2] = {malloc(piece * sizeof(double) + 1), malloc(piece * sizeof(double) + 1)};
    void *nat[2] = {NULL, NULL};
    for (int h = 0; h < 2; h++)
        nat[h] = dt->code == T_F64 ? (void *)val[h] : malloc(piece * dt->size + 1);
    if (!val[0] || !val[1] || !nat[0] || !nat[1]) {
        err("out of memory");
        goto out;
    }
    genparams g;
    genparams_init(&g, o);

    for (uint64_t start = 0; start < o->bins; start += piece) {
        size_t n = (size_t)(o->bins - start < piece ? o->bins - start : piece);
        gen_piece(&g, start, n, val[0], val[1]);
        for (int h = 0; h < 2; h++)
            if (nat[h] != (void *)val[h])
                to_native(dt, val[h], n, nat[h]);
        for (size_t k = 0; k < o->nsets; k++) {
            const bin_set *s = &o->sets[k];
            if (s->bin >= start && s->bin - start < n)
                memcpy((unsigned char *)nat[s->which] + (s->bin - start) * dt->size, s->bytes,
                       dt->size);
        }
        for (int h = 0; h < 2; h++)
            if (write_piece(o, h, dset[h], start, n, nat[h]) < 0)
                goto out;
    }
    rc = 0;
out:
    for (int h = 0; h < 2; h++) {
        if (nat[h] != (void *)val[h])
            free(nat[h]);
        free(val[h]);
    }
    return rc;
}

/* The output file: opened for --append (where it exists; neither dataset may be there yet) or
 * created (*created set). A negative id after the error line. */
static hid_t open_output(const options *o, hid_t fapl, bool *created)
{
    const char *names[2] = {o->p_name, o->q_name};
    struct stat st;
    hid_t file;
    if (!o->append || stat(o->out, &st) != 0) {
        if ((file = H5Fcreate(o->out, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0)
            h5err("cannot create %s", o->out);
        *created = file >= 0;
        return file;
    }
    if ((file = H5Fopen(o->out, H5F_ACC_RDWR, fapl)) < 0) {
        h5err("cannot open %s for appending", o->out);
        return file;
    }
    for (int h = 0; h < 2; h++) {
        int e = link_exists(file, names[h]);
        if (e == 1)
            err("%s already exists in %s", names[h], o->out);
        else if (e == 2)
            err("cannot create %s in %s: a parent is not a group", names[h], o->out);
        else if (e < 0)
            h5err("cannot look up %s in %s", names[h], o->out);
        if (e != 0) {
            H5Fclose(file);
            return H5I_INVALID_HID;
        }
    }
    return file;
}

/* Both datasets created, their attributes and values written and closed (dset[h] reset as
 * each closes); 0, or -1 after the error line. */
static int write_datasets(const options *o, hid_t file, hid_t dset[2])
{
    const char *names[2] = {o->p_name, o->q_name};
    for (int h = 0; h < 2; h++)
        if ((dset[h] = create_dset(file, names[h], o)) < 0)
            return -1;
    for (int h = 0; h < 2; h++)
        if (write_attrs(o, h, dset[h]) < 0)
            return -1;
    if (write_all(o, dset) < 0)
        return -1;
    for (int h = 0; h < 2; h++) {
        herr_t e = H5Dclose(dset[h]);
        dset[h] = H5I_INVALID_HID;
        if (e < 0) {
            h5err("cannot write %s in %s", names[h], o->out);
            return -1;
        }
    }
    return 0;
}

static int run(const options *o)
{
    int rc = EXIT_FAIL;
    bool created = false;
    hid_t file = H5I_INVALID_HID, dset[2] = {H5I_INVALID_HID, H5I_INVALID_HID};
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* Plain POSIX I/O: the generator is serial and must run without MPI_Init. */
    if (fapl < 0 || H5Pset_fapl_sec2(fapl) < 0) {
        h5err("cannot set up the HDF5 file access");
        goto out;
    }
    if ((file = open_output(o, fapl, &created)) < 0 || write_datasets(o, file, dset) < 0)
        goto out;
    /* Closing flushes; a full disk shows up here. */
    herr_t e = H5Fclose(file);
    file = H5I_INVALID_HID;
    if (e < 0) {
        h5err("cannot finish writing %s", o->out);
        goto out;
    }
    rc = 0;
out:
    for (int h = 0; h < 2; h++) {
        if (dset[h] >= 0) {
            H5Dclose(dset[h]);
            /* Leave an appended-to file as it was, apart from any new intermediate groups. */
            if (!created)
                H5Ldelete(file, h ? o->q_name : o->p_name, H5P_DEFAULT);
        }
    }
    if (file >= 0)
        H5Fclose(file);
    if (fapl >= 0)
        H5Pclose(fapl);
    /* A half-written new file is worse than none: a later run would read garbage from it. */
    if (rc != 0 && created)
        unlink(o->out);
    return rc;
}

int main(int argc, char **argv)
{
    /* HDF5's exit handler crashes (1.10.8) on a file whose close failed, e.g. on a full disk;
     * every object is closed explicitly here, so the handler has nothing left to do. */
    H5dont_atexit();
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc == 0) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        rc = run(&o);
    } else if (rc < 0) {
        rc = 0;
    }
    free(o.sets);
    return rc;
}

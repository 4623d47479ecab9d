/* SPDX-License-Identifier: BSD-3-Clause */
/* h5div types, status codes and measure names; no MPI or HDF5 needed to include it. */
#ifndef H5DIV_TYPES_H
#define H5DIV_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define H5DIV_VERSION_MAJOR 0
#define H5DIV_VERSION_MINOR 2
#define H5DIV_VERSION_PATCH 0
#define H5DIV_VERSION_STRING "0.2.0"

/* Marks the functions libh5div exports. The library is built with hidden
 * visibility, so only what this header and h5div.h declare is its ABI. */
#if defined(__GNUC__) || defined(__clang__)
#define H5DIV_API __attribute__((visibility("default")))
#else
#define H5DIV_API
#endif

/* Status codes. The values are pinned: they are also the process exit codes
 * of the h5div command (0 success, 1 internal, 2 usage, 3 input, 4 output). */
typedef enum h5div_status {
    H5DIV_OK = 0,
    H5DIV_EINTERNAL = 1, /* internal, MPI or out-of-memory failure */
    H5DIV_EUSAGE = 2,    /* bad argument or option value */
    H5DIV_EINPUT = 3,    /* input missing, unreadable, wrong type/shape/value */
    H5DIV_EOUTPUT = 4    /* result cannot be written, or group exists */
} h5div_status;

/* Bins are summed in blocks of this many bins aligned to global bin
 * indices; each block is summed in a fixed order and the block sums are
 * added exactly. Shards whose global offsets are multiples of this value
 * give results that do not depend on the decomposition. */
#define H5DIV_BLOCK_BINS 256

/* compare's measures, one row each, in the order of their enum values (the
 * ten of the contract's default set in its order, then the divergences
 * computed only when asked for): everything that names, documents, selects,
 * sizes or writes a measure is generated from this list, so a new measure is
 * one row here plus its finishing code (h5div_compare_finish_sums). A row is
 * X(ID, name, help, flags, unitless, terms): the enum value H5DIV_ID; the
 * JSON key and HDF5 dataset name; the --help text (h5div_measure_info.help);
 * F(NAME) for each flag H5DIV_MEASURE_NAME; units "1" in every base or
 * not; T(NAME) for each kernel sum H5DIV_T_NAME it reads (library-internal:
 * only the library expands flags and terms). */
#define H5DIV_COMPARE_MEASURE_LIST(X)                                                              \
    X(ENTROPY_P, "entropy_p", "", F(DEFAULT), 0, T(ENTROPY_P))                                     \
    X(ENTROPY_Q, "entropy_q", "", F(DEFAULT), 0, T(ENTROPY_Q))                                     \
    X(CROSS_ENTROPY_PQ, "cross_entropy_pq", "", F(DEFAULT), 0, T(CROSS_PQ))                        \
    X(CROSS_ENTROPY_QP, "cross_entropy_qp", "", F(DEFAULT), 0, T(CROSS_QP))                        \
    X(KL_PQ, "kl_pq", "", F(DEFAULT), 0, T(KL_PQ))                                                 \
    X(KL_QP, "kl_qp", "", F(DEFAULT), 0, T(KL_QP))                                                 \
    X(JS_DIVERGENCE, "js_divergence", "", F(DEFAULT), 0, T(JS) | T(BC))                            \
    X(JS_DISTANCE, "js_distance", "", F(DEFAULT), 1, T(JS) | T(BC))                                \
    X(TOTAL_VARIATION, "total_variation", "", F(DEFAULT), 1, T(TV) | T(BC))                        \
    X(HELLINGER, "hellinger", "", F(DEFAULT), 1, T(HELLINGER) | T(BC))                             \
    X(BHATTACHARYYA, "bhattacharyya", "-log_b sum sqrt(p q)", 0, 0, T(HELLINGER) | T(BC))          \
    X(CHI2_PQ, "chi2_pq", "Pearson chi^2 divergence sum (p - q)^2 / q, and swapped", 0, 1,         \
      T(CHI2_PQ))                                                                                  \
    X(CHI2_QP, "chi2_qp", NULL, 0, 1, T(CHI2_QP))                                                  \
    X(RENYI_PQ, "renyi_pq",                                                                        \
      "Renyi divergence of order A > 0, A != 1\n"                                                  \
      "(up to 8 orders each, e.g. renyi_pq:0.5,renyi_pq:2)",                                       \
      F(ORDER), 0, T(BC))                                                                          \
    X(RENYI_QP, "renyi_qp", NULL, F(ORDER), 0, T(BC))                                              \
    X(WASSERSTEIN1, "wasserstein1",                                                                \
      "sum |F_p - F_q| * bin width over the ordered bins;\n"                                       \
      "with edges attached (h5div histogram) the distance\n"                                       \
      "between bin centres instead, in data units",                                                \
      0, 1, T(W1))                                                                                 \
    X(KS, "ks", "max |F_p - F_q| (Kolmogorov-Smirnov distance)", 0, 1, T(W1))                      \
    X(SEPARATION_POWER, "separation_power", "sum (p - q)^2 / (p + q) / 2, in [0, 1]", 0, 1,        \
      T(SP) | T(BC))                                                                               \
    /* Two-sample tests on the raw values P, Q (totals A, B), each with its                        \
     * degrees of freedom and p-value as parts. */                                                 \
    X(CHI2_TEST, "chi2_test",                                                                      \
      "two-sample chi^2 of the raw values P, Q (totals A, B):\n"                                   \
      "sum (sqrt(B/A) P - sqrt(A/B) Q)^2 / (P + Q); also\n"                                        \
      "chi2_test_dof (bins with P + Q > 0, minus 1) and\n"                                         \
      "chi2_test_p_value",                                                                         \
      0, 1, T(CHI2T))                                                                              \
    X(CHI2_TEST_DOF, "chi2_test_dof", NULL, F(PART), 1, T(NONEMPTY))                               \
    X(CHI2_TEST_P_VALUE, "chi2_test_p_value", NULL, F(PART) | F(ASYMPTOTIC_P), 1,                  \
      T(CHI2T) | T(NONEMPTY))                                                                      \
    X(G_TEST, "g_test",                                                                            \
      "G statistic 2 sum P log(P/E) + Q log(Q/F),\n"                                               \
      "E, F = A, B (P + Q) / (A + B); also g_test_dof and\n"                                       \
      "g_test_p_value",                                                                            \
      0, 1, T(G))                                                                                  \
    X(G_TEST_DOF, "g_test_dof", NULL, F(PART), 1, T(NONEMPTY))                                     \
    X(G_TEST_P_VALUE, "g_test_p_value", NULL, F(PART) | F(ASYMPTOTIC_P), 1, T(G) | T(NONEMPTY))

#define H5DIV_MEASURE_ENUM_(id, name, help, flags, unitless, terms) H5DIV_##id,
/* Measures of `compare`, numbered from 0 in the order of the list. */
typedef enum h5div_measure {
    H5DIV_COMPARE_MEASURE_LIST(H5DIV_MEASURE_ENUM_) H5DIV_COMPARE_NMEASURES
} h5div_measure;
#undef H5DIV_MEASURE_ENUM_

#define H5DIV_MEASURE_BIT(m) (1u << (unsigned)(m))
/* The default set: the ten measures of the contract (the rows of
 * h5div_compare_measures() flagged H5DIV_MEASURE_DEFAULT). */
#define H5DIV_COMPARE_DEFAULT ((1u << (H5DIV_HELLINGER + 1)) - 1u)
/* Every measure `compare` knows. */
#define H5DIV_COMPARE_ALL ((1u << H5DIV_COMPARE_NMEASURES) - 1u)
/* Orders of each Renyi divergence one evaluation can compute. */
#define H5DIV_RENYI_MAX 8
/* Most replicates of one evaluation, of --bootstrap and of --null each. */
#define H5DIV_BOOTSTRAP_MAX 1000000
/* Candidates one `compare` can evaluate against one reference. */
#define H5DIV_CANDIDATES_MAX 64

/* Logarithm bases. */
typedef enum h5div_base { H5DIV_BASE_2 = 0, H5DIV_BASE_E, H5DIV_BASE_10 } h5div_base;

/* Options of an evaluation; h5div_options_init() sets the defaults. */
typedef struct h5div_options {
    h5div_base base;        /* logarithm base (default 2) */
    double pseudocount;     /* added to every bin before normalising (>= 0) */
    unsigned measures;      /* bit set of H5DIV_MEASURE_BIT(m) */
    size_t memory_per_rank; /* bytes of input one rank may hold at once */
    size_t piece_bytes;     /* bytes of one dataset read (bounded by 1 GiB) */
    /* Orders A > 0, A != 1 of renyi_pq:A and renyi_qp:A; bits H5DIV_RENYI_PQ
     * and H5DIV_RENYI_QP of `measures` are set exactly when n_renyi_* > 0. */
    int n_renyi_pq, n_renyi_qp;
    double renyi_pq[H5DIV_RENYI_MAX], renyi_qp[H5DIV_RENYI_MAX];
    double bin_width;  /* w of wasserstein1 (> 0, default 1) */
    int collective_io; /* 1: collective MPI-IO reads (default), 0: independent */
    /* Poisson bootstrap of integer counts (compare, entropy, joint):
     * bootstrap replicates B (0: none, at most H5DIV_BOOTSTRAP_MAX), level
     * ci in (0, 1) of the percentile interval (default 0.95), seed of the
     * counter-based draws (default 0), keep_replicates: also return the B
     * replicate values. */
    uint64_t bootstrap;
    double ci;
    uint64_t seed;
    int keep_replicates;
    /* Two-sample test of P against each candidate (compare): null replicates
     * B (0: none, at most H5DIV_BOOTSTRAP_MAX) drawn from the pooled counts
     * of the pair with the same seed (another stream), each measure's
     * p-value (1 + #{T* >= T}) / (B + 1); keep_replicates also returns them. */
    uint64_t null;
    /* Called on rank 0 after every round of a pass over the input (a read
     * round, or a piece of a shard kept in memory) with the pass number,
     * the fraction of that pass done and the bytes all ranks have processed
     * in it; NULL (default) for no reports. */
    void (*progress)(void *ctx, int pass, double fraction, double bytes);
    void *progress_ctx;
} h5div_options;

/* Result of `compare`: value[m] is valid when bit m of `computed` is set;
 * the Renyi divergences are in renyi_pq[i] and renyi_qp[i], one per order of
 * the options (value[H5DIV_RENYI_PQ] repeats the first). */
typedef struct h5div_compare_result {
    double value[H5DIV_COMPARE_NMEASURES];
    double renyi_pq[H5DIV_RENYI_MAX], renyi_qp[H5DIV_RENYI_MAX];
    unsigned computed;
    uint64_t bins; /* number of bins of each histogram */
} h5div_compare_result;

/* One output column of a command: a measure, or one order of a Renyi
 * divergence; `name` is the JSON key and HDF5 dataset name ("kl_pq",
 * "renyi_pq:2"), `units` its units attribute. */
#define H5DIV_COMPARE_MAX_COLUMNS (H5DIV_COMPARE_NMEASURES + 2 * H5DIV_RENYI_MAX)
typedef struct h5div_column {
    int measure; /* index in the command's measure enum (h5div_measure for compare) */
    int order;   /* index into the options' Renyi orders, or -1 */
    double A;    /* the Renyi order (written as attribute `order`), 0 for others */
    char name[48];
    char units[16];
} h5div_column;

/* The output columns of a set of options, in output order (the measures in
 * enum order, each Renyi order in the order given); returns their number.
 * With opt->null > 0 the asymptotic p-values (H5DIV_MEASURE_ASYMPTOTIC_P)
 * are left out. Not collective. */
H5DIV_API int h5div_compare_columns(const h5div_options *opt, h5div_column *cols);

/* Shortest decimal text that reads back as v ("2", "0.5"). Not collective. */
H5DIV_API void h5div_format_shortest(double v, char *buf, size_t len);

/* Default options: base 2, no pseudocount, the ten default compare
 * measures, bin width 1, 1 GiB per rank, 64 MiB pieces, collective reads.
 * Not collective. */
H5DIV_API void h5div_options_init(h5div_options *opt);

/* Version string "MAJOR.MINOR.PATCH". Not collective. */
H5DIV_API const char *h5div_version_string(void);

/* Short text for a status code. Not collective. */
H5DIV_API const char *h5div_strerror(int status);

/* Flags of a row of a command's measure table. */
#define H5DIV_MEASURE_DEFAULT 1u /* in the default set */
#define H5DIV_MEASURE_ORDER 2u   /* named with an order, NAME:A (one column per order) */
#define H5DIV_MEASURE_PART                                                                         \
    4u /* written with the row above that is not a part                                            \
        * (e.g. a statistic's dof), not named on its own */
/* A part that is the asymptotic p-value of its row's statistic: with
 * --null (opt->null > 0) it is not computed, and the statistic's
 * null-replicate p-value takes its name (see h5div_compare_columns). */
#define H5DIV_MEASURE_ASYMPTOTIC_P 8u

/* One row of a command's table of measures, the one source of its names,
 * units, default set, --help lines and (compare) kernel terms. */
typedef struct h5div_measure_info {
    const char *name; /* JSON key and HDF5 dataset name */
    /* --help text after the name column ('\n' starts a continuation line);
     * NULL: described by the row above, whose name column then lists this
     * one too ("chi2_pq, chi2_qp"); parts are named in their row's text. */
    const char *help;
    unsigned flags; /* H5DIV_MEASURE_* */
    int unitless;   /* units "1" in every base; else bits, nats or hartleys */
    uint32_t terms; /* compare: the kernel sums it needs (internal) */
} h5div_measure_info;

/* The table of compare's measures: row m describes h5div_measure m; *n
 * receives H5DIV_COMPARE_NMEASURES. Not collective. */
H5DIV_API const h5div_measure_info *h5div_compare_measures(int *n);

/* The measures of a set (bits H5DIV_MEASURE_BIT) with the parts of each of
 * its rows added (H5DIV_MEASURE_PART). Not collective. */
H5DIV_API unsigned h5div_compare_measures_with_parts(unsigned measures);

/* Name of a compare measure as used in JSON and HDF5 ("kl_pq"), or NULL. */
H5DIV_API const char *h5div_measure_name(h5div_measure m);

/* Units of a measure in a base: "bits", "nats", "hartleys" or "1". */
H5DIV_API const char *h5div_measure_units(h5div_measure m, h5div_base base);

/* Estimators of `entropy` (as in the R package entropy, Hausser & Strimmer). */
typedef enum h5div_estimator {
    H5DIV_ESTIMATOR_PLUGIN = 0,   /* maximum likelihood: -sum p log p */
    H5DIV_ESTIMATOR_MILLER_MADOW, /* plugin + (m - 1) / (2 n) nats */
    H5DIV_ESTIMATOR_CHAO_SHEN,    /* coverage-adjusted Horvitz-Thompson */
    H5DIV_ESTIMATOR_SHRINK,       /* James-Stein shrinkage towards uniform */
    H5DIV_ESTIMATOR_DIRICHLET     /* plugin of the counts plus a pseudocount A */
} h5div_estimator;

/* Measures of `entropy`, in the order of the contract. */
typedef enum h5div_entropy_measure {
    H5DIV_ENTROPY = 0,
    H5DIV_PERPLEXITY,
    H5DIV_TOTAL_COUNT,
    H5DIV_NONZERO_BINS,
    H5DIV_SHRINKAGE_LAMBDA, /* only with H5DIV_ESTIMATOR_SHRINK */
    H5DIV_ENTROPY_NMEASURES
} h5div_entropy_measure;

#define H5DIV_ENTROPY_ALL ((1u << H5DIV_ENTROPY_NMEASURES) - 1u)

/* Result of `entropy`: value[m] is valid when bit m of `computed` is set.
 * total_count is the sum of the raw counts and nonzero_bins the number of
 * bins with a raw count > 0 (both before any pseudocount). */
typedef struct h5div_entropy_result {
    double value[H5DIV_ENTROPY_NMEASURES];
    unsigned computed;
    uint64_t bins;
    h5div_estimator estimator;
    double dirichlet_a; /* A of H5DIV_ESTIMATOR_DIRICHLET */
} h5div_entropy_result;

/* Measures of `joint`, in the order of the contract. */
typedef enum h5div_joint_measure {
    H5DIV_ENTROPY_X = 0,
    H5DIV_ENTROPY_Y,
    H5DIV_JOINT_ENTROPY,
    H5DIV_COND_ENTROPY_X_GIVEN_Y,
    H5DIV_COND_ENTROPY_Y_GIVEN_X,
    H5DIV_MUTUAL_INFORMATION,
    H5DIV_NORMALIZED_MUTUAL_INFORMATION,
    H5DIV_VARIATION_OF_INFORMATION,
    H5DIV_JOINT_NMEASURES
} h5div_joint_measure;

#define H5DIV_JOINT_ALL ((1u << H5DIV_JOINT_NMEASURES) - 1u)

/* Result of `joint` on a [nx, ny] table. */
typedef struct h5div_joint_result {
    double value[H5DIV_JOINT_NMEASURES];
    unsigned computed;
    uint64_t nx, ny;
    double total; /* sum of the table after the pseudocount (correctly rounded) */
    /* With opt->bootstrap = B > 0 (else 0): the standard error and the
     * percentile interval (level ci_level) of each measure, and with
     * opt->keep_replicates its B replicate values reps[m * B + r] (memory
     * the caller frees with free(); else NULL). */
    uint64_t nrep;
    double ci_level;
    double se[H5DIV_JOINT_NMEASURES], ci[H5DIV_JOINT_NMEASURES][2];
    double *reps;
} h5div_joint_result;

/* Name of an entropy or joint measure as used in JSON and HDF5, or NULL;
 * units in a base ("bits", "nats", "hartleys" or "1"). Not collective. */
H5DIV_API const char *h5div_entropy_measure_name(h5div_entropy_measure m);
H5DIV_API const char *h5div_entropy_measure_units(h5div_entropy_measure m, h5div_base base);
H5DIV_API const char *h5div_joint_measure_name(h5div_joint_measure m);
H5DIV_API const char *h5div_joint_measure_units(h5div_joint_measure m, h5div_base base);

/* Name of an estimator ("plugin", "miller-madow", ...). Not collective. */
H5DIV_API const char *h5div_estimator_name(h5div_estimator e);

/* The contiguous block of bins [*offset, *offset + *count) that `rank` of
 * `size` ranks holds when `bins` bins are split with block-aligned
 * boundaries, as the file-level calls do. Not collective. */
H5DIV_API void h5div_partition(uint64_t bins, int size, int rank, uint64_t *offset,
                               uint64_t *count);

#ifdef __cplusplus
}
#endif

#endif /* H5DIV_TYPES_H */

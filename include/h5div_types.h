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
#define H5DIV_VERSION_MINOR 1
#define H5DIV_VERSION_PATCH 0
#define H5DIV_VERSION_STRING "0.1.0"

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

/* Measures of `compare`, in the order of the contract. */
typedef enum h5div_measure {
    H5DIV_ENTROPY_P = 0,
    H5DIV_ENTROPY_Q,
    H5DIV_CROSS_ENTROPY_PQ,
    H5DIV_CROSS_ENTROPY_QP,
    H5DIV_KL_PQ,
    H5DIV_KL_QP,
    H5DIV_JS_DIVERGENCE,
    H5DIV_JS_DISTANCE,
    H5DIV_TOTAL_VARIATION,
    H5DIV_HELLINGER,
    H5DIV_COMPARE_NMEASURES
} h5div_measure;

#define H5DIV_MEASURE_BIT(m) (1u << (unsigned)(m))
#define H5DIV_COMPARE_ALL ((1u << H5DIV_COMPARE_NMEASURES) - 1u)

/* Logarithm bases. */
typedef enum h5div_base { H5DIV_BASE_2 = 0, H5DIV_BASE_E, H5DIV_BASE_10 } h5div_base;

/* Options of an evaluation; h5div_options_init() sets the defaults. */
typedef struct h5div_options {
    h5div_base base;        /* logarithm base (default 2) */
    double pseudocount;     /* added to every bin before normalising (>= 0) */
    unsigned measures;      /* bit set of H5DIV_MEASURE_BIT(m) */
    size_t memory_per_rank; /* bytes of input one rank may hold at once */
    size_t piece_bytes;     /* bytes of one dataset read (bounded by 1 GiB) */
    int collective_io;      /* 1: collective MPI-IO reads (default), 0: independent */
    /* Called on rank 0 after every round of a pass over the input (a read
     * round, or a piece of a shard kept in memory) with the pass number,
     * the fraction of that pass done and the bytes all ranks have processed
     * in it; NULL (default) for no reports. */
    void (*progress)(void *ctx, int pass, double fraction, double bytes);
    void *progress_ctx;
} h5div_options;

/* Result of `compare`: value[m] is valid when bit m of `computed` is set. */
typedef struct h5div_compare_result {
    double value[H5DIV_COMPARE_NMEASURES];
    unsigned computed;
    uint64_t bins;   /* number of bins of each histogram */
    double total_p;  /* sum of P after the pseudocount (correctly rounded) */
    double total_q;  /* sum of Q after the pseudocount (correctly rounded) */
} h5div_compare_result;

/* Default options: base 2, no pseudocount, every compare measure,
 * 1 GiB per rank, 64 MiB pieces, collective reads. Not collective. */
void h5div_options_init(h5div_options *opt);

/* Version string "MAJOR.MINOR.PATCH". Not collective. */
const char *h5div_version_string(void);

/* Short text for a status code. Not collective. */
const char *h5div_strerror(int status);

/* Name of a compare measure as used in JSON and HDF5 ("kl_pq"), or NULL. */
const char *h5div_measure_name(h5div_measure m);

/* Units of a measure in a base: "bits", "nats", "hartleys" or "1". */
const char *h5div_measure_units(h5div_measure m, h5div_base base);

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
} h5div_joint_result;

/* Name of an entropy or joint measure as used in JSON and HDF5, or NULL;
 * units in a base ("bits", "nats", "hartleys" or "1"). Not collective. */
const char *h5div_entropy_measure_name(h5div_entropy_measure m);
const char *h5div_entropy_measure_units(h5div_entropy_measure m, h5div_base base);
const char *h5div_joint_measure_name(h5div_joint_measure m);
const char *h5div_joint_measure_units(h5div_joint_measure m, h5div_base base);

/* Name of an estimator ("plugin", "miller-madow", ...). Not collective. */
const char *h5div_estimator_name(h5div_estimator e);

/* The contiguous block of bins [*offset, *offset + *count) that `rank` of
 * `size` ranks holds when `bins` bins are split with block-aligned
 * boundaries, as the file-level calls do. Not collective. */
void h5div_partition(uint64_t bins, int size, int rank, uint64_t *offset, uint64_t *count);

#ifdef __cplusplus
}
#endif

#endif /* H5DIV_TYPES_H */

/* SPDX-License-Identifier: BSD-3-Clause */
/* Counter-based Poisson resampling of count histograms, and order-free summaries of replicates. */
#ifndef H5DIV_CORE_RESAMPLE_H
#define H5DIV_CORE_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

/* Streams: the same (seed, replicate, input, bin) gives independent draws
 * in each, so a run with both --bootstrap and --null does not correlate
 * them. The numbers are part of the key and of the replicates' bits. */
#define H5DIV_RS_BOOTSTRAP 0u
#define H5DIV_RS_NULL 1u

/* Where the draws of one replicate of one input come from. Every bin i has
 * its own random numbers from Philox4x64-10 with key (seed, stream): its
 * first, word (i mod 4) of the block at counter (i div 4, replicate, input,
 * 0), which bins 4 (i div 4) .. + 3 share, then its own blocks at counters
 * (i, replicate, input, j), j = 1, 2, ...: a draw depends on these numbers
 * and its mean only, never on which rank, piece, order or thread computes
 * it.
 *
 * `input` tells apart the histograms resampled in one replicate: for
 * compare, 0 for P and 1 + c for candidate c; for the pooled null of the
 * pair (P, candidate c), 2c for P and 2c + 1 for the candidate. `bin` is
 * the global flat index in the dataset (row * bins + column for 2-D
 * input), so that rows get different draws. */
typedef struct h5div_rs_key {
    uint64_t seed;
    uint64_t stream;    /* H5DIV_RS_BOOTSTRAP or H5DIV_RS_NULL */
    uint64_t replicate; /* 0 .. B - 1 */
    uint64_t input;
} h5div_rs_key;

/* How a draw is made (resample.c says why not gsl_ran_poisson): integer
 * means 1 to H5DIV_RS_TABLE_MAX (every count's bootstrap mean up to it) by
 * inversion of a table of the CDF with one 64-bit word (probabilities
 * within 2^-64), other means below 10 by inversion of the CDF with one
 * uniform, 10 to H5DIV_RS_EXACT_MAX by Hoermann's PTRS rejection (exact),
 * above by a Cornish-Fisher normal quantile (GSL's
 * gsl_cdf_ugaussian_Pinv) with continuity correction (CDF error below
 * 5e-10). */
#define H5DIV_RS_TABLE_MAX 1024
#define H5DIV_RS_EXACT_MAX 0x1p31

/* The table an integer mean m in [1, H5DIV_RS_TABLE_MAX] is drawn from: a
 * draw is k0 + the least i with w < thr[i] for a uniform 64-bit word w, so
 * P(X = k0 + i) = (thr[i] - thr[i - 1]) / 2^64 (thr[-1] = 0, thr[n - 1] =
 * 2^64, not stored). Writes k0 and thr[0 .. min(n - 1, cap)) and returns
 * n, the number of values that can be drawn; 0 for another m. For tests.
 * Not collective, thread-safe. */
size_t h5div_rs_table(uint64_t m, uint64_t *k0, uint64_t *thr, size_t cap);

/* One draw X ~ Poisson(lambda), lambda = lambda_hi + lambda_lo (an
 * unevaluated sum, as the readers give 64-bit counts: lambda_lo = 0 for
 * values below 2^53), for bin `bin` of the key. lambda must be finite and
 * in [0, 2^64); the result saturates at UINT64_MAX (reachable only for a
 * mean within a few standard deviations of 2^64). Returns the draw, or
 * UINT64_MAX with *bad = 1 for an invalid mean (bad may be NULL). */
uint64_t h5div_rs_poisson1(const h5div_rs_key *key, uint64_t bin, double lambda_hi,
                           double lambda_lo, int *bad);

/* The draws of bins first .. first + n - 1 of one replicate of one input:
 * out[i] ~ Poisson(lam[i] + lam_lo[i]) with the stream of bin first + i
 * (lam_lo may be NULL: all zero). The same bits for a bin whatever piece
 * it is drawn in. Returns 0, or -1 when a mean is invalid (NaN, negative,
 * infinite, >= 2^64); the output is then incomplete. Not collective,
 * thread-safe (the CDF tables of integer means are built once per process,
 * shared through atomics, and never change). */
int h5div_rs_poisson_u64(const h5div_rs_key *key, uint64_t first, const double *restrict lam,
                         const double *restrict lam_lo, size_t n, uint64_t *restrict out);

/* The same draws as doubles, as the readers give counts: out[i] the draw
 * rounded to nearest, and out_lo[i] (when not NULL) the rounding remainder
 * exactly (0 below 2^53), so out + out_lo is the draw exactly. */
int h5div_rs_poisson(const h5div_rs_key *key, uint64_t first, const double *restrict lam,
                     const double *restrict lam_lo, size_t n, double *restrict out,
                     double *restrict out_lo);

/* Pooled null of two histograms P and Q with totals A and B (> 0, finite):
 * each bin's pooled count P_i + Q_i is shared out by the inputs' totals,
 *   P*_i ~ Poisson(A (P_i + Q_i) / (A + B)),  Q*_i ~ Poisson(B (P_i + Q_i) / (A + B)),
 * independently, so E sum P* = A and E sum Q* = B, and P* and Q* have the
 * same distribution shape (the null hypothesis) whatever the totals. The
 * means are computed in double from p + p_lo and q + q_lo (lo arrays may
 * be NULL) as (P_i + Q_i) * (A / (A + B)); their rounding (relative 1e-16)
 * is far below the Poisson noise. P is drawn with key->input = input_p,
 * Q with input_q (key->input is ignored); use key->stream = H5DIV_RS_NULL.
 * outq_lo and outp_lo may be NULL. Returns 0, or -1 for an invalid count
 * or total.
 *
 * Poisson rather than multinomial (totals exactly A and B): the issue's
 * "each input's own total" is met in expectation, as the Poisson bootstrap
 * of one input meets its total. A multinomial needs a chain of
 * conditional binomials through the bins in order, so a bin's draw would
 * depend on every bin before it, and no rank could draw its piece alone;
 * per-bin Poisson draws keep the counter keying. For the measures, which
 * normalise each histogram, the difference is small: given its total N*,
 * a Poisson replicate normalised is multinomial with N* trials, and
 * N* ~ Poisson(A) instead of A changes the spread of a measure by a
 * relative O(1/A). */
int h5div_rs_null(const h5div_rs_key *key, uint64_t input_p, uint64_t input_q, uint64_t first,
                  const double *restrict p, const double *restrict p_lo, const double *restrict q,
                  const double *restrict q_lo, size_t n, double a, double b, double *restrict outp,
                  double *restrict outp_lo, double *restrict outq, double *restrict outq_lo);

/* Summaries of replicates x[0..n). Each is a function of the multiset of
 * values: the same bits in any order of x.
 *
 * Standard error: the sample standard deviation with n - 1,
 *   sqrt(sum (x - m)^2 / (n - 1)),
 * from a mean m and the corrected two-pass sum (sum d^2 - (sum d)^2 / n)
 * with d = x - m, both sums exact (h5div_acc), so within a few ulps of the
 * exact value. NaN when n < 2 or a replicate is NaN; +inf when a replicate
 * is infinite (no finite spread). */
double h5div_rs_stderr(const double *x, size_t n);

/* Quantile q in [0, 1] of x[0..n), numpy.quantile's default method
 * ("linear", Hyndman and Fan type 7) to the bit for finite values: with
 * the sorted values s, h = (n - 1) q, j = floor(h), t = h - j,
 *   s[j] + (s[j+1] - s[j]) t          for t < 0.5,
 *   s[j+1] - (s[j+1] - s[j]) (1 - t)  for t >= 0.5,
 * s[n-1] for h >= n - 1. NaN when n = 0, q is not in [0, 1] or a value is
 * NaN (as numpy). Infinite values sort to their end; a bound between an
 * infinite and another value is the infinite one unless t = 0 (then s[j]),
 * and NaN between -inf and +inf. `work` holds n doubles (may be NULL:
 * allocated; then NaN also when out of memory). */
double h5div_rs_quantile(const double *x, size_t n, double q, double *work);

/* Percentile interval at level c in (0, 1): the quantiles (1 - c) / 2 and
 * (1 + c) / 2 of x as above, into ci[0], ci[1] (one sort). Returns 0, or
 * -1 when c is not in (0, 1) or out of memory (ci is then NaN). */
int h5div_rs_interval(const double *x, size_t n, double c, double *work, double ci[2]);

/* The summaries of n sets of B replicates, set i at reps[i * B ..]: the
 * standard error se[i] and the percentile interval ci[2 i], ci[2 i + 1]
 * at level c, as above. Returns 0, or -1 when out of memory. */
int h5div_rs_summary(const double *reps, size_t n, size_t B, double c, double *se, double *ci);

/* p-value of a test statistic t against its replicates under the null,
 *   (1 + #{x_i >= t}) / (n + 1),
 * NaN replicates counted as >= t (a replicate that says nothing never
 * makes p smaller). NaN when t is NaN. */
double h5div_rs_pvalue(const double *x, size_t n, double t);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-bin terms of the compare measures and their block-ordered partial sums. */
#ifndef H5DIV_CORE_TERMS_H
#define H5DIV_CORE_TERMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/acc.h"
#include "h5div_types.h"

/* Sums accumulated by the compare kernel, all in nats. */
enum h5div_term {
    H5DIV_T_ENTROPY_P = 0,
    H5DIV_T_ENTROPY_Q,
    H5DIV_T_CROSS_PQ,
    H5DIV_T_CROSS_QP,
    H5DIV_T_KL_PQ,
    H5DIV_T_KL_QP,
    H5DIV_T_JS, /* scaled by 2^1000 (as H5DIV_T_HELLINGER), for the square roots */
    H5DIV_T_TV,
    H5DIV_T_HELLINGER, /* sum (sqrt p - sqrt q)^2 times 2^1000; also gives bhattacharyya */
    H5DIV_T_CHI2_PQ,
    H5DIV_T_CHI2_QP,
    H5DIV_T_W1, /* sum of |F_p - F_q| over all bins but the last */
    /* 2^1020 sum sqrt(p q): the Bhattacharyya coefficient where it is far
     * below 1, and zero exactly when the supports are disjoint. */
    H5DIV_T_BC,
    H5DIV_T_SP,       /* (p - q)^2 / (p + q) / 2 per bin: separation_power */
    H5DIV_T_CHI2T,    /* chi2_test per bin, in the units of the raw values */
    H5DIV_T_G,        /* g_test per bin, likewise */
    H5DIV_T_NONEMPTY, /* 1 per bin with P + Q > 0: the tests' degrees of freedom + 1 */
    /* p^A q^(1-A) - q - A (p - q) per bin, summing to S_A - 1 without
     * cancellation: orders of renyi_pq, then those of renyi_qp. The slots
     * no order uses, the spare ones after them and the terms of measures
     * not asked for hold S_A itself for as many orders as they allow,
     * scaled by a power of two that keeps it in the double range
     * (terms.c: renyi_aux_exp): what log S_A needs where S_A is far
     * from 1. */
    H5DIV_T_RENYI,
    H5DIV_T_RENYI_SPARE = H5DIV_T_RENYI + 2 * H5DIV_RENYI_MAX,
    /* Every order of both measures can have its scaled S_A in a spare
     * slot; for orders above 1 that is a windowed sum (the top window and
     * the one below it, h5div_compare_partial.win) and takes two slots.
     * Two fewer spares than that: the terms of the two-sample tests are
     * free slots too unless a test is asked for, so only a run with a test,
     * every other measure and 16 orders in (1.42, inf) lacks a slot (the
     * orders nearest 1.42 then use S_A - 1 alone). */
    H5DIV_T_COUNT =
        H5DIV_T_RENYI_SPARE + 4 * H5DIV_RENYI_MAX - 2 /* < 64: bits of a uint64_t mask */
};

/* The bit of term t in a mask of terms. */
#define H5DIV_TBIT(t) ((uint64_t)1 << (t))

/* Which terms a kernel adds, and the Renyi orders they need. */
typedef struct h5div_term_params {
    uint64_t mask; /* bits H5DIV_TBIT(enum h5div_term) */
    /* Terms that hold Renyi sums: the orders' own slots, and for the
     * scaled S_A the free ones among them, the spare ones and any other
     * term no measure asked for (W1 excepted). Per term t of renyi_mask:
     * the order, whether it runs q against p (renyi_qp), whether it holds
     * the scaled S_A instead of S_A - 1. */
    uint64_t renyi_mask;
    double order[H5DIV_T_COUNT];
    unsigned char qp[H5DIV_T_COUNT];
    unsigned char aux[H5DIV_T_COUNT];
    /* Term of the scaled S_A of order i of renyi_pq (i) or renyi_qp
     * (H5DIV_RENYI_MAX + i), or -1 where no slot was left for it. */
    signed char aux_term[2 * H5DIV_RENYI_MAX];
    /* Orders above 1: the term of the window below the top one of their
     * windowed S_A (aux_term holds the top window), or -1. */
    signed char aux2_term[2 * H5DIV_RENYI_MAX];
    /* The top-window terms of windowed sums, and the order (index into
     * aux_term) of each aux term. */
    uint64_t win_mask;
    signed char oidx[H5DIV_T_COUNT];
} h5div_term_params;

/* A windowed sum holds S_A = sum p^A q^(1-A) of an order A > 1, which can
 * be far beyond the double range (up to 2^(2098 (A - 1))), exactly and in
 * any order: each term t = m 2^(H5DIV_WIN_BITS w) with m in [1, 2^WIN_BITS)
 * belongs to window w; the sum keeps the top window W met so far in one
 * accumulator and window W - 1 in another, each term scaled by its own
 * window's power of two. Terms of lower windows are dropped: each is below
 * 2^-WIN_BITS of the sum. Which terms are kept depends only on the global
 * top window, so merging in any order gives the same bits. */
#define H5DIV_WIN_BITS 960
#define H5DIV_WIN_EMPTY INT32_MIN

/* Terms and parameters for a set of options (measures, Renyi orders). */
void h5div_term_params_init(h5div_term_params *tp, const h5div_options *opt);

/* Partial sums of one rank, combined across ranks exactly. Only the
 * accumulators of the terms in use need to be initialised and reduced. */
typedef struct h5div_compare_partial {
    int64_t p_without_q; /* bins with p > 0 and q = 0: kl_pq, cross_entropy_pq infinite */
    int64_t q_without_p; /* bins with q > 0 and p = 0 */
    double ks;           /* max |F_p - F_q| so far */
    h5div_acc acc[H5DIV_T_COUNT];
    /* Top window of the windowed sum of each order (tp.aux_term index),
     * H5DIV_WIN_EMPTY while it has no term. */
    int32_t win[2 * H5DIV_RENYI_MAX];
} h5div_compare_partial;

/* Totals of the two histograms as unevaluated sums hi + lo (about 106 bits),
 * so normalisation adds no error that matters even when p and q agree to
 * many digits. */
typedef struct h5div_norm {
    double a_hi, a_lo, b_hi, b_lo; /* totals times scale_a, scale_b */
    double inv_a, inv_b;           /* 1 / (a_hi + a_lo), 1 / (b_hi + b_lo) */
    double scale_a, scale_b;       /* powers of two that bring the totals near 1 */
    double log_a, log_b;           /* log of the unscaled totals */
    double alpha;                  /* pseudocount added to every raw value */
    /* With r = scale_a / scale_b: B - A / r of the scaled totals, and
     * whether it is used: nonzero but below 2^-60 B (totals that agree to
     * more digits than hi + lo holds). Cross differences are then
     * (x - y r) B + y r (B - A / r). */
    double delta, ratio;
    int near_eq;
    double a_lo2, b_lo2; /* third parts of the scaled totals (0: not known) */
    /* The totals' parts beyond the third, unscaled (h5div_acc_parts), for
     * totals whose exact value needs more than three doubles (values of
     * hundreds of decades with a pseudocount, say); NULL, 0 otherwise.
     * They enter only where a cross difference cancels beyond the three. */
    const double *a_ext, *b_ext;
    int a_next, b_next;
} h5div_norm;

void h5div_norm_init(h5div_norm *nm, double a_hi, double a_lo, double b_hi, double b_lo,
                     double alpha);

/* h5div_norm_init from every part of the totals (h5div_acc_parts: a[0..na),
 * b[0..nb), na, nb >= 1), which must outlive nm. */
void h5div_norm_init_parts(h5div_norm *nm, const double *a, int na, const double *b, int nb,
                           double alpha);

/* Index of the first value that is negative, NaN or infinite, or n if none. */
size_t h5div_first_invalid(const double *restrict x, size_t n);

/* Add sum(x[i] + alpha) to acc. x starts on a global block boundary; the
 * values are summed in blocks of H5DIV_BLOCK_BINS in a fixed order with
 * error-free transformations, and each block's sum and error enter acc, so
 * the total is independent of how the bins are split into pieces. */
void h5div_total_add(const double *restrict x, size_t n, double alpha, h5div_acc *acc);

/* h5div_total_add that also checks the values block by block in the same
 * trip through memory: returns n, or the index of the first negative, NaN
 * or infinite value (acc then holds a partial sum and is to be dropped). */
size_t h5div_total_add_valid(const double *restrict x, size_t n, double alpha, h5div_acc *acc);

/* The same with the exact remainders lo[i] = value - x[i] of 64-bit
 * integers (NULL: none), added exactly. */
size_t h5div_total_add_valid_lo(const double *restrict x, const double *restrict lo, size_t n,
                                double alpha, h5div_acc *acc);
void h5div_total_block_lo(const double *restrict x, const double *restrict lo, size_t e,
                          double alpha, h5div_acc *acc);

/* One block's part of a histogram total: what h5div_total_add adds for the
 * block x[0..e), e <= H5DIV_BLOCK_BINS (values already checked). Running
 * these over the blocks of a row gives prefix sums with the same bits on
 * any decomposition. */
void h5div_total_block(const double *restrict x, size_t e, double alpha, h5div_acc *acc);

/* Sums of the per-bin terms of one block of values x + xlo, y + ylo,
 * e <= block size (raw values; xlo, ylo the exact remainders of 64-bit
 * integers, either may be NULL; the pseudocount and totals are in nm):
 * sums[t] for every term t of tp->mask but H5DIV_T_W1, each summed in a
 * fixed order; counts of bins with p > 0 = q and q > 0 = p are added to
 * counts[0], counts[1]. A block whose remainders are all zero takes the
 * plain path, bit for bit. win[i] receives the block's top window of the
 * windowed sum of order i (sums then hold that window and the one below). */
void h5div_compare_block_lo(const double *restrict xs, const double *restrict ys, const double *xlo,
                            const double *ylo, size_t e, const h5div_norm *nm,
                            const h5div_term_params *tp, double *sums,
                            int32_t win[2 * H5DIV_RENYI_MAX], int64_t counts[2]);

/* Add a block's sums, windows and counts (h5div_compare_block_lo) to part:
 * every term of tp->mask but H5DIV_T_W1, exactly. */
void h5div_compare_partial_add(h5div_compare_partial *part, const h5div_term_params *tp,
                               const double *sums, const int32_t win[2 * H5DIV_RENYI_MAX],
                               const int64_t counts[2]);

/* Move the windowed sums of part up to the windows win (each >= part's
 * own): what a reduction does before it adds the accumulators. */
void h5div_compare_partial_raise(h5div_compare_partial *part, const h5div_term_params *tp,
                                 const int32_t win[2 * H5DIV_RENYI_MAX]);

/* The Wasserstein/KS terms of one block: pfx_x, pfx_y are the raw prefix
 * sums (with pseudocount) of everything before the block as hi + lo; the
 * running sums continue through the block in bin order. Returns the block
 * sum of |F_p - F_q| over its first nw bins (nw = e, or e - 1 when the
 * block holds the row's last bin), each weighted by gap[k], the distance
 * from the position of bin k to that of bin k + 1 (NULL: 1), and raises
 * *ks to their maximum. xlo, ylo: the remainders of 64-bit integers (may
 * be NULL). dpfx (NULL: from pfx_x - pfx_y) is the exact difference of the
 * raw prefix sums rounded once, used where nm->near_eq. pfx_xa, pfx_ya:
 * the prefix sums exactly (NULL: pfx_x, pfx_y are exact), read only where
 * the totals have more than three parts (nm->a_ext). */
double h5div_w1_block_gap_lo(const double *restrict xs, const double *restrict ys,
                             const double *xlo, const double *ylo, size_t e, size_t nw,
                             const h5div_norm *nm, const double pfx_x[2], const double pfx_y[2],
                             const double *dpfx, const h5div_acc *pfx_xa, const h5div_acc *pfx_ya,
                             double *ks, const double *restrict gap);

/* Add the terms of bins x[0..n), y[0..n) to part (all but H5DIV_T_W1).
 * x starts on a block boundary of its row. */
void h5div_compare_add(const double *restrict x, const double *restrict y, size_t n,
                       const h5div_norm *nm, const h5div_term_params *tp,
                       h5div_compare_partial *part);

/* Set part to zero for the terms of mask. */
void h5div_compare_partial_init(h5div_compare_partial *part, uint64_t mask);

/* Terms needed for a set of measures (H5DIV_MEASURE_BIT bits). */
unsigned h5div_terms_for_measures(unsigned measures);

/* Turn sums into measure values in the options' base: nats[t] are the
 * (rounded) sums of term t in nats, win the top windows of the windowed
 * sums, counts the p-without-q and q-without-p
 * bin counts, ks the maximum. Writes the measures of opt->measures into
 * res->value and the Renyi orders into res->renyi_pq / renyi_qp. */
void h5div_compare_finish_sums(const double *nats, const int32_t win[2 * H5DIV_RENYI_MAX],
                               const int64_t counts[2], double ks, const h5div_options *opt,
                               h5div_compare_result *res);

/* h5div_compare_finish_sums of a reduced partial. */
void h5div_compare_finish(const h5div_compare_partial *part, const h5div_options *opt,
                          h5div_compare_result *res);

#endif

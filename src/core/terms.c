/* SPDX-License-Identifier: BSD-3-Clause */
/* Accurate per-bin terms of the compare measures, summed in global-index blocks. */
#include "core/terms.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_sf_gamma.h>

#include "core/series.h"
#include "h5div_types.h"

#define SERIES_LIMIT H5DIV_SERIES_LIMIT

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(H5DIV_NO_CLONES)
/* One clone per instruction set, picked when the library loads; the bits
 * are the same in each (no contraction: ISO C mode keeps a*b+c unfused). */
#define H5DIV_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define H5DIV_CLONES
#endif

#define LN2 0.693147180559945309417232121458176568
#define LN10 2.30258509299404568401799145468436421

void h5div_norm_init(h5div_norm *nm, double a_hi, double a_lo, double b_hi, double b_lo,
                     double alpha)
{
    /* Each histogram is scaled by a power of two (exact) so its total lies
     * near 1: the cross products x*B and y*A below then neither overflow
     * for huge counts nor underflow for tiny ones. */
    const h5div_unit_total ua = h5div_unit_total_of(a_hi, a_lo);
    const h5div_unit_total ub = h5div_unit_total_of(b_hi, b_lo);
    nm->log_a = ua.log;
    nm->log_b = ub.log;
    nm->scale_a = ua.scale;
    nm->scale_b = ub.scale;
    nm->a_hi = ua.hi;
    nm->a_lo = ua.lo;
    nm->b_hi = ub.hi;
    nm->b_lo = ub.lo;
    nm->inv_a = ua.inv;
    nm->inv_b = ub.inv;
    nm->alpha = alpha;
    nm->delta = 0.0;
    nm->ratio = nm->scale_a / nm->scale_b;
    nm->near_eq = 0;
    nm->a_lo2 = nm->b_lo2 = 0.0;
    nm->a_ext = nm->b_ext = NULL;
    nm->a_next = nm->b_next = 0;
}

/* With r = scale_a / scale_b: B - A / r of the scaled totals from all their
 * parts exactly (r a power of two: totals on either side of a power of two
 * have different scales), rounded once; near_eq where it is nonzero but
 * below 2^-60 B. */
static void norm_delta(h5div_norm *nm, const double *a, int na, const double *b, int nb)
{
    h5div_acc d;
    h5div_acc_init(&d);
    for (int i = 0; i < nb; i++)
        h5div_acc_add(&d, b[i] * nm->scale_b);
    for (int i = 0; i < na; i++)
        h5div_acc_add(&d, -(a[i] * nm->scale_b));
    const double delta = h5div_acc_round(&d);
    nm->delta = 0.0;
    nm->near_eq = 0;
    if (delta != 0.0 && fabs(delta) <= 0x1p-60 * nm->b_hi) {
        nm->delta = delta;
        nm->near_eq = 1;
    }
}

/* h5div_norm_init with the totals' third parts (h5div_acc_round3): the
 * difference of totals that agree beyond 106 bits is kept. */
static void norm_init3(h5div_norm *nm, double a_hi, double a_lo, double a_lo2, double b_hi,
                       double b_lo, double b_lo2, double alpha)
{
    h5div_norm_init(nm, a_hi, a_lo, b_hi, b_lo, alpha);
    if (!isfinite(a_hi) || !isfinite(b_hi) || a_hi <= 0.0 || b_hi <= 0.0)
        return;
    nm->a_lo2 = a_lo2 * nm->scale_a;
    nm->b_lo2 = b_lo2 * nm->scale_b;
    const double a[3] = {a_hi, a_lo, a_lo2}, b[3] = {b_hi, b_lo, b_lo2};
    norm_delta(nm, a, 3, b, 3);
}

void h5div_norm_init_parts(h5div_norm *nm, const double *a, int na, const double *b, int nb,
                           double alpha)
{
    norm_init3(nm, a[0], na > 1 ? a[1] : 0.0, na > 2 ? a[2] : 0.0, b[0], nb > 1 ? b[1] : 0.0,
               nb > 2 ? b[2] : 0.0, alpha);
    if ((na <= 3 && nb <= 3) || !isfinite(a[0]) || !isfinite(b[0]) || a[0] <= 0.0 || b[0] <= 0.0)
        return;
    nm->a_ext = na > 3 ? a + 3 : NULL;
    nm->a_next = na > 3 ? na - 3 : 0;
    nm->b_ext = nb > 3 ? b + 3 : NULL;
    nm->b_next = nb > 3 ? nb - 3 : 0;
    /* Cross differences that cancel take every part (cross_exact), so the
     * difference of the totals is not carried on its own. */
    nm->delta = 0.0;
    nm->near_eq = 0;
}

/* Index of the first negative, NaN or infinite value of x[0..e), or e: a
 * flag for the whole block first (a loop the compiler vectorises), the
 * index only in a block that has a bad value. */
static inline size_t block_first_invalid(const double *restrict x, size_t e)
{
    int bad = 0;
    for (size_t i = 0; i < e; i++)
        bad |= !(x[i] >= 0.0) | (x[i] == INFINITY);
    if (bad)
        for (size_t i = 0; i < e; i++)
            if (!(x[i] >= 0.0) || x[i] == INFINITY)
                return i;
    return e;
}

/* Are the values and alpha > 0 spread over 2^80 or more (largest mx over
 * smallest nonzero mn)? Then total_block adds them value by value. */
static inline int spread_2p80(double mx, double mn)
{
    return mx > 0x1p80 * mn;
}

/* block_first_invalid that also tells, in the same loop, whether the
 * values and alpha span 2^80 or more (*spans, when all are valid). */
static inline size_t block_first_invalid_spans(const double *restrict x, size_t e, double alpha,
                                               int *spans)
{
    /* The largest and the smallest nonzero value by their bits, as signed
     * integers (ordered as the values are for values >= 0; an integer loop
     * vectorises). The same two tell a bad value: +inf and +NaN lie at or
     * above the bits of inf, every negative value but -0 below 0. */
    const int64_t inf_bits = 0x7ff0000000000000;
    int64_t bmx = 0, bmn = inf_bits;
    for (size_t i = 0; i < e; i++) {
        int64_t b;
        memcpy(&b, &x[i], sizeof b);
        bmx = b > bmx ? b : bmx;
        const int64_t c = ((uint64_t)b << 1) == 0 ? inf_bits : b; /* +0 and -0 */
        bmn = c < bmn ? c : bmn;
    }
    if (bmx >= inf_bits || bmn < 0)
        return block_first_invalid(x, e);
    double mx, mn;
    memcpy(&mx, &bmx, sizeof mx);
    memcpy(&mn, &bmn, sizeof mn);
    mx = alpha > mx ? alpha : mx;
    mn = alpha > 0.0 && alpha < mn ? alpha : mn;
    *spans = spread_2p80(mx, mn);
    return e;
}

H5DIV_CLONES
size_t h5div_first_invalid(const double *restrict x, size_t n)
{
    for (size_t b = 0; b < n; b += H5DIV_BLOCK_BINS) {
        size_t e = n - b < H5DIV_BLOCK_BINS ? n - b : H5DIV_BLOCK_BINS;
        size_t i = block_first_invalid(x + b, e);
        if (i < e)
            return b + i;
    }
    return n;
}

/* Knuth's TwoSum: *s + v exactly as a new *s plus an error added to *err. */
static inline void two_sum_add(double *s, double *err, double v)
{
    double t = *s + v;
    double bp = t - *s;
    *err += (*s - (t - bp)) + (v - bp);
    *s = t;
}

/* The rounding error of s = a + b (Knuth's TwoSum): a + b = s + error
 * exactly. With it a pseudocount is added to every value exactly. */
static inline double add_err(double a, double b, double s)
{
    double bp = s - a;
    return (a - (s - bp)) + (b - bp);
}

/* One block's contribution to a total: Knuth's TwoSum in four lanes by
 * index (each lane's s + err tracks its sum to about 2^-106), and all eight
 * parts enter acc exactly. */
static inline void total_block(const double *restrict x, size_t e, double alpha, int spans,
                               h5div_acc *acc);

/* What the doubles of 64-bit integers lost (see h5div_total_block_lo),
 * exactly: only the nonzero remainders, so a block without any adds
 * nothing. */
static void total_lo(const double *restrict lo, size_t e, h5div_acc *acc)
{
    if (lo)
        for (size_t i = 0; i < e; i++)
            if (lo[i] != 0.0)
                h5div_acc_add(acc, lo[i]);
}

/* *s + v as a new *s plus an error added to *err, and what that last
 * addition rounded off added to *err2: s + err + err2 stays exact. */
static inline void two_sum_add2(double *s, double *err, double *err2, double v)
{
    double t = *s + v;
    double bp = t - *s;
    double r = (*s - (t - bp)) + (v - bp);
    double u = *err + r;
    double bq = u - *err;
    *err2 += (*err - (u - bq)) + (r - bq);
    *err = u;
    *s = t;
}

/* Do the values (checked already) and alpha span 2^80 or more? */
static inline int block_spans(const double *restrict x, size_t e, double alpha)
{
    int spans = 0;
    (void)block_first_invalid_spans(x, e, alpha, &spans);
    return spans;
}

/* The exact sum of x[i] + alpha, i < e, into acc; spans: block_spans. */
static inline void total_block(const double *restrict x, size_t e, double alpha, int spans,
                               h5div_acc *acc)
{
    /* err2 keeps what the error sums round off. Every quantity is a
     * multiple of the ulp of the smallest nonzero value (or alpha), and
     * |err2| stays below 2^-85 of the largest: where the values span less
     * than 2^80, err2's own sums are exact, and so is s + err + err2. */
    double s[4] = {0.0, 0.0, 0.0, 0.0}, err[4] = {0.0, 0.0, 0.0, 0.0};
    double err2[4] = {0.0, 0.0, 0.0, 0.0};
    int finite = !spans;
    if (finite) {
        size_t k = 0;
        for (; k + 4 <= e; k += 4)
            for (int l = 0; l < 4; l++)
                two_sum_add2(&s[l], &err[l], &err2[l], x[k + (size_t)l] + alpha);
        for (int l = 0; k < e; k++, l++)
            two_sum_add2(&s[l], &err[l], &err2[l], x[k] + alpha);
        if (alpha != 0.0) /* what rounding x + alpha dropped, in the same lanes */
            for (size_t i = 0; i < e; i++)
                two_sum_add(&err[i & 3], &err2[i & 3], add_err(x[i], alpha, x[i] + alpha));
        for (int l = 0; l < 4; l++)
            finite &= isfinite(s[l]) && isfinite(err[l]) && isfinite(err2[l]);
    }
    if (finite) {
        for (int l = 0; l < 4; l++) {
            h5div_acc_add(acc, s[l]);
            h5div_acc_add(acc, err[l]);
            h5div_acc_add(acc, err2[l]);
        }
    } else {
        /* The values span 2^80 or more, or a lane overflowed: add the
         * block's values exactly instead. */
        for (size_t i = 0; i < e; i++) {
            h5div_acc_add(acc, x[i] + alpha);
            if (alpha != 0.0)
                h5div_acc_add(acc, add_err(x[i], alpha, x[i] + alpha));
        }
    }
}

H5DIV_CLONES
void h5div_total_block(const double *restrict x, size_t e, double alpha, h5div_acc *acc)
{
    total_block(x, e, alpha, block_spans(x, e, alpha), acc);
}

void h5div_total_block_lo(const double *restrict x, const double *restrict lo, size_t e,
                          double alpha, h5div_acc *acc)
{
    h5div_total_block(x, e, alpha, acc);
    total_lo(lo, e, acc);
}

size_t h5div_total_add_valid_lo(const double *restrict x, const double *restrict lo, size_t n,
                                double alpha, h5div_acc *acc)
{
    size_t i = h5div_total_add_valid(x, n, alpha, acc);
    if (i == n)
        total_lo(lo, n, acc);
    return i;
}

H5DIV_CLONES
size_t h5div_total_add_valid(const double *restrict x, size_t n, double alpha, h5div_acc *acc)
{
    for (size_t b = 0; b < n; b += H5DIV_BLOCK_BINS) {
        size_t e = n - b < H5DIV_BLOCK_BINS ? n - b : H5DIV_BLOCK_BINS;
        /* The block is checked and summed while it sits in L1: one trip
         * through memory for both. */
        int spans = 0;
        size_t i = block_first_invalid_spans(x + b, e, alpha, &spans);
        if (i < e)
            return b + i;
        total_block(x + b, e, alpha, spans, acc);
    }
    return n;
}

void h5div_total_add(const double *restrict x, size_t n, double alpha, h5div_acc *acc)
{
    /* Valid values are the caller's promise here; the scan costs little. */
    (void)h5div_total_add_valid(x, n, alpha, acc);
}

void h5div_compare_partial_init(h5div_compare_partial *part, uint64_t mask)
{
    part->p_without_q = part->q_without_p = 0;
    part->ks = 0.0;
    for (int t = 0; t < H5DIV_T_COUNT; t++)
        if (mask & H5DIV_TBIT(t))
            h5div_acc_init(&part->acc[t]);
    for (int i = 0; i < 2 * H5DIV_RENYI_MAX; i++)
        part->win[i] = H5DIV_WIN_EMPTY;
}

/* (1+t) log1p(t) + (1-t) log1p(-t) for |t| < 1/32: sum_{j>=1} t^2j / (j (2j-1)). */
static inline double js_series(double t)
{
    double t2 = t * t;
    double s = 1.0 / 120;
    s = s * t2 + 1.0 / 91;
    s = s * t2 + 1.0 / 66;
    s = s * t2 + 1.0 / 45;
    s = s * t2 + 1.0 / 28;
    s = s * t2 + 1.0 / 15;
    s = s * t2 + 1.0 / 6;
    s = s * t2 + 1.0;
    return s * t2;
}

/* x*B - y*A with A = a_hi + a_lo, B = b_hi + b_lo, accurate even when the
 * two products agree to many digits (exact products via fma; their leading
 * parts then differ exactly by Sterbenz's lemma). */
/* (xh + xl) B - (yh + yl) A from exact products with all three parts of
 * the totals, rounded once: for the rare bins where x/y agrees with A/B to
 * more than 56 bits, so that the plain form's 2^-106 would matter. */
/* s += sum u[i] t[j] exactly (the products and their fma errors). */
static void acc_add_products(h5div_acc *s, const double *u, int nu, const double *t, int nt)
{
    for (int i = 0; i < nu; i++)
        for (int j = 0; j < nt; j++) {
            const double p = u[i] * t[j];
            h5div_acc_add(s, p);
            h5div_acc_add(s, fma(u[i], t[j], -p));
        }
}

/* The parts of the scaled totals, A (side 1) or B (side 0): hi, lo, lo2 and
 * those beyond; returns their number. */
static int total_parts(const h5div_norm *nm, int side, double t[H5DIV_ACC_PARTS])
{
    const double *ext = side ? nm->a_ext : nm->b_ext;
    const double scale = side ? nm->scale_a : nm->scale_b;
    const int next = side ? nm->a_next : nm->b_next;
    t[0] = side ? nm->a_hi : nm->b_hi;
    t[1] = side ? nm->a_lo : nm->b_lo;
    t[2] = side ? nm->a_lo2 : nm->b_lo2;
    for (int j = 0; j < next && j < H5DIV_ACC_PARTS - 3; j++)
        t[3 + j] = ext[j] * scale;
    return 3 + (next < H5DIV_ACC_PARTS - 3 ? next : H5DIV_ACC_PARTS - 3);
}

/* What rounding dropped from a bin's value v = raw + alpha (and from a
 * 64-bit integer's double): l + l2 exactly. */
typedef struct lo_parts {
    double l, l2;
} lo_parts;

/* The lost parts of bin k: the pseudocount's rounding error plus the 64-bit
 * remainder (lo may be NULL), as a TwoSum pair so that nothing is lost
 * where they do not fit one double (a remainder of -1 and alpha 1e-12). */
static inline lo_parts lost_parts(double raw, double alpha, double v, const double *lo, size_t k)
{
    lo_parts o = {add_err(raw, alpha, v), 0.0};
    if (lo) {
        const double s = o.l + lo[k];
        o.l2 = add_err(o.l, lo[k], s);
        o.l = s;
    }
    return o;
}

/* (xh + xl + xl2) B - (yh + yl + yl2) A, every product exact, rounded once. */
static double cross_exact3(double xh, lo_parts xl, double yh, lo_parts yl, const h5div_norm *nm)
{
    const double u[2][3] = {{xh, xl.l, xl.l2}, {-yh, -yl.l, -yl.l2}};
    h5div_acc s;
    h5div_acc_init(&s);
    for (int side = 0; side < 2; side++) {
        double t[H5DIV_ACC_PARTS];
        const int nt = total_parts(nm, side, t);
        acc_add_products(&s, u[side], u[side][2] != 0.0 ? 3 : 2, t, nt);
    }
    return h5div_acc_round(&s);
}

static double cross_exact(double xh, double xl, double yh, double yl, const h5div_norm *nm)
{
    const lo_parts a = {xl, 0.0}, b = {yl, 0.0};
    return cross_exact3(xh, a, yh, b, nm);
}

/* Does a cross difference d of the plain form, with leading product h,
 * cancel so far that its 2^-106 error could show? */
static inline int cancels(double d, double h)
{
    return d != 0.0 && fabs(d) < 0x1p-56 * fabs(h);
}

/* x*B - y*A as (x - y) B + y (B - A) for totals that agree beyond hi + lo
 * (nm->near_eq): the difference of the totals enters once, exactly. */
static inline double cross_diff_near(double x, double y0, const h5div_norm *nm)
{
    const double y = y0 * nm->ratio; /* exact: a power of two */
    double s = x - y;
    double bp = s - x;
    double err = (x - (s - bp)) + (-y - bp); /* x - y = s + err exactly */
    double h = s * nm->b_hi;
    double r = fma(s, nm->b_hi, -h) + (s * nm->b_lo + err * nm->b_hi);
    return h + (r + y * nm->delta);
}

static inline double cross_diff(double x, double y, const h5div_norm *nm)
{
    if (nm->near_eq)
        return cross_diff_near(x, y, nm);
    double h1 = x * nm->b_hi, h2 = y * nm->a_hi;
    double e1 = fma(x, nm->b_hi, -h1), e2 = fma(y, nm->a_hi, -h2);
    double d = (h1 - h2) + ((e1 - e2) + (x * nm->b_lo - y * nm->a_lo));
    return cancels(d, h1) ? cross_exact(x, 0.0, y, 0.0, nm) : d;
}

/* Terms computed bin by bin into arrays: all but W1 (its slot is unused)
 * and the Renyi terms. */
#define NT_BIN H5DIV_T_RENYI

/* Probabilities below this are subnormal or close to it, and so are ratios
 * beyond its inverse: such bins take the careful path. */
#define TINY 0x1p-960
/* Scale of the Bhattacharyya coefficient and of S_A in their own sums. */
#define BC_SCALE_EXP 1020
/* Scale of the JS and Hellinger sums: their square roots (js_distance,
 * hellinger) are doubles far below where the sums themselves would be. */
#define SQ_SCALE_EXP 1000
/* Two probabilities whose ratio is beyond 2^FAR_EXP are "far": every term
 * of the bin is then its larger side's to within 2^-(FAR_EXP / 2). */
#define FAR_EXP 900

/* Sum of v[0..e) in four lanes by index, combined in a fixed tree: the same
 * order wherever the block sits in a piece or on a rank. */
static double block_sum(const double *restrict v, size_t e)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t k = 0;
    for (; k + 4 <= e; k += 4) {
        s0 += v[k];
        s1 += v[k + 1];
        s2 += v[k + 2];
        s3 += v[k + 3];
    }
    if (k < e)
        s0 += v[k];
    if (k + 1 < e)
        s1 += v[k + 1];
    if (k + 2 < e)
        s2 += v[k + 2];
    return (s0 + s1) + (s2 + s3);
}

/* One side of a bin in the careful path: raw value v > 0 of a histogram
 * with scaled total t_hi + t_lo (scale 2^ks) and unscaled log total. */
typedef struct side {
    double prob; /* v / T rounded (subnormal or 0 when that small) */
    double lg;   /* log(v / T), accurate over the whole range */
    double mant; /* v / T = mant * 2^-ex2, mant in [1/4, 4), ex2 even */
    int ex2;
    int e; /* exponent of v 2^ks: v / T lies in [2^(e-1), 2^(e+1)) */
} side;

/* (T - v) 2^ks exactly rounded, v = v_hi + l + l2, from every part of the
 * scaled total T 2^ks (side 1: A, 0: B). Only a bin above half its
 * histogram needs it, so at most one per histogram. */
static double complement(double v, lo_parts vl, int ks, const h5div_norm *nm, int which)
{
    double t[H5DIV_ACC_PARTS];
    const int nt = total_parts(nm, which, t);
    h5div_acc s;
    h5div_acc_init(&s);
    for (int j = 0; j < nt; j++)
        h5div_acc_add(&s, t[j]);
    const double sc = ldexp(1.0, ks);
    h5div_acc_add(&s, -(v * sc));
    h5div_acc_add(&s, -(vl.l * sc));
    h5div_acc_add(&s, -(vl.l2 * sc));
    return h5div_acc_round(&s);
}

static inline side side_of(double v, lo_parts v_lo, int ks, const h5div_norm *nm, int which)
{
    const double inv_t = which ? nm->inv_a : nm->inv_b;
    const double log_t = which ? nm->log_a : nm->log_b;
    side s;
    s.e = ilogb(v) + ks;
    double x = ldexp(v, ks - s.e); /* v 2^ks / 2^e, in [1, 2) */
    int ex2 = -s.e;
    ex2 += ex2 & 1; /* even, so that sqrt halves it */
    s.ex2 = ex2;
    s.mant = ldexp(x, ex2 + s.e) * inv_t;
    double r = x * inv_t; /* v / T * 2^-e */
    s.prob = ldexp(r, s.e);
    if (s.prob > 0.5) /* near 1: log1p of the exact (T - v) / T */
        s.lg = log1p(-complement(v, v_lo, ks, nm, which) * inv_t);
    else if (s.prob >= TINY)
        s.lg = log(s.prob);
    else
        s.lg = log(v) - log_t;
    return s;
}

/* State of one bin of the careful path with both values > 0: the scaled
 * values X = x 2^k, Y = y 2^k (k brings the larger near 1) when the ratio
 * is not far, and what every term needs. All terms but the entropies are
 * homogeneous of degree 1 in (p, q): they are computed from X, Y and
 * scaled back by 2^-k at the end, which rounds them correctly even where
 * they are subnormal. */
typedef struct bin_state {
    side a, b;
    int far; /* ratio beyond 2^FAR_EXP */
    int k;
    double X, Y;    /* x 2^k, y 2^k (scaled raw values) */
    double P, Q;    /* p 2^k, q 2^k */
    double d, u, v; /* cross difference, p/q - 1, q/p - 1 (not far) */
    double diff;    /* (p - q) 2^k */
    double s;       /* X B + Y A */
    double lr;      /* log(p / q) */
} bin_state;

static inline void bin_state_init(bin_state *st, double xr, double yr, lo_parts xl, lo_parts yl,
                                  const h5div_norm *nm, int ka, int kb)
{
    st->a = side_of(xr, xl, ka, nm, 1);
    st->b = side_of(yr, yl, kb, nm, 0);
    int hi = st->a.e > st->b.e ? st->a.e : st->b.e;
    int lo = st->a.e > st->b.e ? st->b.e : st->a.e;
    st->far = lo - hi < -FAR_EXP;
    if (st->far) {
        st->k = 0;
        st->lr = st->a.lg - st->b.lg; /* large: both logs' errors are small beside it */
        return;
    }
    st->k = -hi;
    const double X = ldexp(xr, ka + st->k), Y = ldexp(yr, kb + st->k);
    st->X = X;
    st->Y = Y;
    st->P = X * nm->inv_a;
    st->Q = Y * nm->inv_b;
    st->d = cross_diff(X, Y, nm);
    if (xl.l != 0.0 || yl.l != 0.0) { /* the parts of x + alpha, y + alpha that rounding dropped */
        const double xs = ldexp(xl.l, ka + st->k), ys = ldexp(yl.l, kb + st->k);
        st->d += xs * nm->b_hi - ys * nm->a_hi;
        /* Where that cancels (p = q, as for one bin) the rounded products
         * leave a remnant: the whole difference exactly. */
        if (cancels(st->d, X * nm->b_hi)) {
            const lo_parts xsc = {xs, ldexp(xl.l2, ka + st->k)};
            const lo_parts ysc = {ys, ldexp(yl.l2, kb + st->k)};
            st->d = cross_exact3(X, xsc, Y, ysc, nm);
        }
    }
    st->u = st->d / (Y * nm->a_hi + Y * nm->a_lo);
    st->v = -st->d / (X * nm->b_hi + X * nm->b_lo);
    st->diff = st->d * nm->inv_a * nm->inv_b;
    st->s = X * nm->b_hi + Y * nm->a_hi + (X * nm->b_lo + Y * nm->a_lo);
    /* log1p(u) where 1 + u = p/q is not small (condition number <= 2);
     * below, the ratio itself, which is then far from 1. */
    st->lr = st->u >= -0.5 ? log1p(st->u)
                           : log((X * nm->b_hi + X * nm->b_lo) / (Y * nm->a_hi + Y * nm->a_lo));
}

/* KL term p log(p/q) - p + q >= 0 of a bin with p, q > 0 (in direction
 * pq, or qp with swap). */
static inline double kl_careful(const bin_state *st, int swap)
{
    if (st->far) {
        double p = swap ? st->b.prob : st->a.prob, q = swap ? st->a.prob : st->b.prob;
        double lr = swap ? -st->lr : st->lr;
        double t = p * (lr - 1.0) + q; /* the side that is far larger dominates */
        return t > 0.0 ? t : 0.0;
    }
    double P = swap ? st->Q : st->P, Q = swap ? st->P : st->Q, u = swap ? st->v : st->u;
    double t = fabs(u) < SERIES_LIMIT
                   ? Q * h5div_kl_series(u)
                   : P * (swap ? -st->lr : st->lr) - (swap ? -st->diff : st->diff);
    return ldexp(t > 0.0 ? t : 0.0, -st->k);
}

/* log(2 X B / s), i.e. log1p((p - q)/(p + q)): log1p where that is
 * well-conditioned, else the ratio itself. */
static inline double log_mix(double t, double xb, double s)
{
    return t >= -0.5 ? log1p(t) : log(2.0 * xb / s);
}

/* A positive quantity m 2^e held apart from its exponent: the
 * two-sample tests of totals far apart have weights and means beyond the
 * double range. m is 0 or in [1, 2). */
typedef struct scaled {
    double m;
    int e;
} scaled;

static scaled sc_of(double m, int e)
{
    if (m == 0.0)
        return (scaled){0.0, 0};
    const int k = ilogb(m);
    return (scaled){ldexp(m, -k), e + k};
}

static scaled sc_mul(scaled a, scaled b)
{
    return sc_of(a.m * b.m, a.e + b.e);
}

static scaled sc_div(scaled a, scaled b)
{
    return sc_of(a.m / b.m, a.e - b.e);
}

/* a + b for a, b >= 0 */
static scaled sc_add(scaled a, scaled b)
{
    if (a.m == 0.0)
        return b;
    if (b.m == 0.0)
        return a;
    if (a.e < b.e) {
        scaled t = a;
        a = b;
        b = t;
    }
    return sc_of(a.m + (a.e - b.e > 1100 ? 0.0 : ldexp(b.m, b.e - a.e)), a.e);
}

/* The value times 2^s, rounded once (0 or inf beyond the range). */
static double sc_val(scaled a, int s)
{
    const long e = (long)a.e + s;
    return a.m == 0.0 ? 0.0 : ldexp(a.m, e > 4000 ? 4000 : e < -4000 ? -4000 : (int)e);
}

static double sc_log(scaled a)
{
    return log(a.m) + a.e * LN2;
}

/* The totals' part of the two-sample tests: with A = a 2^ea, B = b 2^eb
 * (a, b the scaled totals), the weights w = A / (A + B), w1 = B / (A + B)
 * (each from its own ratio, so neither cancels), A B / (A + B) = hm 2^he,
 * A + B = tm 2^te, and lw = log((A + B) / A), lw1 = log((A + B) / B).
 * Totals more than 2^900 apart are `extreme`: the doubles w, w1, lw, lw1
 * then lose the smaller one, and the terms take their scaled forms. */
typedef struct two_sample {
    double w, w1, hm, tm, lw, lw1, a, b;
    int he, te, ea, eb;
    int extreme;
    scaled sw, sw1; /* w, w1 */
    scaled ga, gb;  /* A log((A + B) / A), B log((A + B) / B) */
} two_sample;

/* Totals more than 2^900 apart. */
static inline int totals_extreme(const h5div_norm *nm)
{
    const int gap = ilogb(nm->scale_a) - ilogb(nm->scale_b);
    return gap > 900 || gap < -900;
}

/* log1p(r) for r = m 2^e >= 0 (beyond the double range too). */
static double log1p_scaled(double m, int e)
{
    double r = ldexp(m, e);
    return r < 0x1p1000 ? log1p(r) : log(m) + e * LN2;
}

/* own log1p(other / own) of totals own = o 2^eo, other = t 2^et: other
 * (1 - r/2 + ...) where r = other / own is too small for log1p's double. */
static scaled glone_of(double o, int eo, double t, int et)
{
    const double rm = t / o;
    const int re = et - eo;
    if (ilogb(rm) + re < -60) {
        const double r = ldexp(rm, re);
        return sc_of(t * (1.0 - 0.5 * r), et);
    }
    return sc_of(o * log1p_scaled(rm, re), eo);
}

static void two_sample_init(two_sample *ts, const h5div_norm *nm)
{
    const double a = nm->a_hi + nm->a_lo, b = nm->b_hi + nm->b_lo;
    const int ea = -ilogb(nm->scale_a), eb = -ilogb(nm->scale_b);
    ts->a = a;
    ts->b = b;
    ts->ea = ea;
    ts->eb = eb;
    ts->w = 1.0 / (1.0 + ldexp(b / a, eb - ea));
    ts->w1 = 1.0 / (1.0 + ldexp(a / b, ea - eb));
    ts->lw = log1p_scaled(b / a, eb - ea);
    ts->lw1 = log1p_scaled(a / b, ea - eb);
    if (ea >= eb) {
        const double s = a + ldexp(b, eb - ea);
        ts->hm = a * b / s;
        ts->he = eb;
        ts->tm = s;
        ts->te = ea;
    } else {
        const double s = b + ldexp(a, ea - eb);
        ts->hm = a * b / s;
        ts->he = ea;
        ts->tm = s;
        ts->te = eb;
    }
    ts->extreme = totals_extreme(nm);
    const scaled tot = sc_of(ts->tm, ts->te);
    ts->sw = sc_div(sc_of(a, ea), tot);
    ts->sw1 = sc_div(sc_of(b, eb), tot);
    ts->ga = glone_of(a, ea, b, eb);
    ts->gb = glone_of(b, eb, a, ea);
}

/* (1 + x) log(1 + x) - x >= 0 given r = 1 + x (the ratio itself, for
 * x < -1/2 where 1 + x would cancel). */
static inline double phi_term(double x, double r)
{
    if (fabs(x) < SERIES_LIMIT)
        return h5div_kl_series(x);
    double v = x >= -0.5 ? (1.0 + x) * log1p(x) - x : (r > 0.0 ? r * log(r) : 0.0) - x;
    return v > 0.0 ? v : 0.0;
}

/* T m phi(delta) 2^-k for a total T = c 2^ec and delta = s z 2^ez (s = +-1),
 * r = 1 + delta: where delta is tiny, T m delta^2 (phi(delta) / delta^2)
 * from z's mantissa, so neither delta^2 nor the product underflows. */
static double g_half_term(double c, int ec, double m, double z, int ez, double s, double r, int k)
{
    if (z == 0.0)
        return 0.0;
    const int iz = ilogb(z);
    if (iz + ez < -20) {
        const double delta = s * ldexp(z, ez), zm = ldexp(fabs(z), -iz);
        return ldexp(c * m * (zm * zm) * h5div_kl_series_sq(delta), ec + 2 * (ez + iz) - k);
    }
    return ldexp(c * m * phi_term(s * ldexp(z, ez), r), ec - k);
}

/* chi2_test and g_test terms of a bin with both values or one of them
 * nonzero, from P = p 2^k, Q = q 2^k and diff = (p - q) 2^k (from the exact
 * cross difference). With m = w p + w1 q, E = A m, F = B m per unit of p:
 * chi^2 = A B / (A + B) (p - q)^2 / m, and G = 2 (A + B) m (w phi(delta) +
 * w1 phi(eps)), delta = w1 (p - q) / m = p/m - 1, eps = -w (p - q) / m, a
 * sum of two terms >= 0 (the weighted JS term). Where that sum or (p - q)^2
 * would leave the double range before the totals scale it back (totals far
 * apart, near-equal p and q of huge totals), G / 2 = A m phi(delta) + B m
 * phi(eps) with delta = H t / A, eps = -H t / B (H = A B / (A + B), t =
 * (p - q) / m), each term in its own scale. */
static inline void two_sample_bin(const two_sample *ts, double P, double Q, double diff, int k,
                                  double *chi2, double *g)
{
    const double m = ts->w * P + ts->w1 * Q;
    const double t = diff / m;
    double c = ldexp(ts->hm * (diff * t), ts->he - k);
    double gs = m * (ts->w * phi_term(ts->w1 * t, P / m) + ts->w1 * phi_term(-ts->w * t, Q / m));
    double gv = 2.0 * ldexp(ts->tm * gs, ts->te - k);
    if (diff != 0.0 && (ts->extreme || gs < 0x1p-960 || fabs(diff * t) < 0x1p-960)) {
        const int id = ilogb(diff);
        const double dm = ldexp(diff, -id);
        c = ldexp(ts->hm * dm * (dm / m), ts->he + 2 * id - k);
        const double z = ts->hm * t;
        gv = 2.0 * (g_half_term(ts->a, ts->ea, m, z / ts->a, ts->he - ts->ea, 1.0, P / m, k) +
                    g_half_term(ts->b, ts->eb, m, z / ts->b, ts->he - ts->eb, -1.0, Q / m, k));
    }
    *chi2 = c >= 0.0 ? c : INFINITY; /* NaN only where the totals differ beyond 2^1000 */
    *g = gv >= 0.0 ? gv : INFINITY;
}

/* The same for a bin whose probabilities differ beyond 2^FAR_EXP (p_big:
 * p is the larger), every quantity scaled (the weights may be far below
 * the double range): with rho = small / big, wl, ws the weights of the
 * larger and smaller side and mu = m / big = wl + ws rho,
 * chi^2 = H big / mu ((p - q)^2 = big^2 to 2^-900 relative) and
 * G = 2 (A + B) big mu (wl phi(1/mu - 1) + ws phi(rho/mu - 1)), where
 * 1/mu - 1 = ws (1 - rho) / mu and rho/mu - 1 = -wl (1 - rho) / mu (1 - rho
 * = 1 here): two terms >= 0, each in a form that does not cancel. */
static void two_sample_far(const two_sample *ts, const side *big, const side *small, int p_big,
                           double *chi2, double *g)
{
    const scaled wl = p_big ? ts->sw : ts->sw1, ws = p_big ? ts->sw1 : ts->sw;
    const scaled sb = sc_of(big->mant, -big->ex2);
    const scaled rho = sc_div(sc_of(small->mant, -small->ex2), sb);
    const scaled mu = sc_add(wl, sc_mul(ws, rho));
    *chi2 = sc_val(sc_mul(sc_of(ts->hm, ts->he), sc_div(sb, mu)), 0);
    /* mu phi(1/mu - 1) = -log mu - ws */
    scaled lt;
    if (mu.e < -1) {
        lt = sc_of(-sc_log(mu) - sc_val(ws, 0), 0);
    } else {
        const scaled x = sc_div(ws, mu);
        const double mud = sc_val(mu, 0); /* in [1/2, 1] */
        lt = x.e < -500 ? sc_mul(sc_mul(ws, x), (scaled){1.0, -1})
                        : sc_of(mud * phi_term(sc_val(x, 0), 1.0 / mud), 0);
    }
    /* mu phi(rho/mu - 1) = rho log(rho/mu) + wl */
    scaled st;
    const scaled y = sc_div(wl, mu), r = sc_div(rho, mu);
    if (y.e < -500) {
        st = sc_mul(sc_mul(wl, y), (scaled){1.0, -1});
    } else if (y.e < -1 || (y.e == -1 && y.m == 1.0)) {
        st = sc_mul(mu, sc_of(phi_term(-sc_val(y, 0), sc_val(r, 0)), 0));
    } else {
        const double lr = sc_log(r); /* r < 1/2 */
        st = sc_mul(wl, sc_of(1.0 + sc_val(sc_div(rho, wl), 0) * lr, 0));
    }
    const scaled gs = sc_add(sc_mul(wl, lt), sc_mul(ws, st));
    *g = 2.0 * sc_val(sc_mul(sc_mul(sc_of(ts->tm, ts->te), sb), gs), 0);
}

/* The careful path's terms of a lone value (the other side 0): its own
 * mass in every divergence. Bin k of t; qlone: the value is q's. */
static void careful_lone(const side *s, int qlone, const two_sample *ts, unsigned mask,
                         double (*t)[H5DIV_BLOCK_BINS], size_t k)
{
    t[qlone ? H5DIV_T_ENTROPY_Q : H5DIV_T_ENTROPY_P][k] = -(s->prob * s->lg);
    t[qlone ? H5DIV_T_KL_PQ : H5DIV_T_KL_QP][k] = s->prob;
    t[H5DIV_T_JS][k] = 0.5 * LN2 * ldexp(s->mant, SQ_SCALE_EXP - s->ex2);
    t[H5DIV_T_TV][k] = s->prob;
    t[H5DIV_T_HELLINGER][k] = ldexp(s->mant, SQ_SCALE_EXP - s->ex2);
    t[qlone ? H5DIV_T_CHI2_PQ : H5DIV_T_CHI2_QP][k] = s->prob;
    t[H5DIV_T_SP][k] = 0.5 * s->prob;
    t[H5DIV_T_NONEMPTY][k] = 1.0;
    if (mask & ((1u << H5DIV_T_CHI2T) | (1u << H5DIV_T_G))) {
        /* chi^2: B p (or A q); G: 2 A p log((A + B) / A) (or for q). */
        const double tot = qlone ? ts->a : ts->b, own = qlone ? ts->b : ts->a;
        const int et = qlone ? ts->ea : ts->eb, eo = qlone ? ts->eb : ts->ea;
        t[H5DIV_T_CHI2T][k] = ldexp(tot * s->mant, et - s->ex2);
        t[H5DIV_T_G][k] =
            ts->extreme ? 2.0 * sc_val(sc_mul(qlone ? ts->gb : ts->ga, sc_of(s->mant, 0)), -s->ex2)
                        : 2.0 * ldexp(own * s->mant * (qlone ? ts->lw1 : ts->lw), eo - s->ex2);
    }
}

/* The careful path's terms of a bin whose ratio is far (beyond 2^FAR_EXP):
 * the larger side carries every term but the entropies, cross entropies,
 * KL and Bhattacharyya (to 2^-450 relative). */
static void careful_far(const bin_state *st, double (*t)[H5DIV_BLOCK_BINS], size_t k)
{
    const double p = st->a.prob, q = st->b.prob;
    double big = p > q ? p : q;
    const side *hs = p > q ? &st->a : &st->b, *ls = p > q ? &st->b : &st->a;
    const double big_sc = ldexp(hs->mant, SQ_SCALE_EXP - hs->ex2);
    t[H5DIV_T_JS][k] = 0.5 * LN2 * big_sc;
    t[H5DIV_T_TV][k] = big;
    t[H5DIV_T_HELLINGER][k] = big_sc;
    /* (p - q)^2 / q: p^2 / q from the mantissas, may overflow to inf. */
    double c = ldexp(hs->mant * hs->mant / ls->mant, ls->ex2 - 2 * hs->ex2);
    t[H5DIV_T_CHI2_PQ][k] = p > q ? c : big;
    t[H5DIV_T_CHI2_QP][k] = p > q ? big : c;
    t[H5DIV_T_SP][k] = 0.5 * big;
}

/* The careful path's JS, TV, Hellinger, chi^2 and separation-power terms
 * of a bin with both values > 0 whose ratio is not far. */
static void careful_near(const bin_state *st, const h5div_norm *nm, unsigned mask,
                         double (*t)[H5DIV_BLOCK_BINS], size_t k)
{
    if (mask & (1u << H5DIV_T_JS)) {
        double tt = st->d / st->s; /* (p - q) / (p + q) */
        double js;
        if (fabs(tt) < SERIES_LIMIT) {
            js = 0.25 * (st->P + st->Q) * js_series(tt);
        } else {
            double xb = st->X * nm->b_hi + st->X * nm->b_lo;
            double ya = st->Y * nm->a_hi + st->Y * nm->a_lo;
            js = 0.5 * (st->P * log_mix(tt, xb, st->s) + st->Q * log_mix(-tt, ya, st->s));
        }
        t[H5DIV_T_JS][k] = ldexp(js > 0.0 ? js : 0.0, SQ_SCALE_EXP - st->k);
    }
    if (st->diff != 0.0) {
        t[H5DIV_T_TV][k] = ldexp(fabs(st->diff), -st->k);
        double h = st->diff / (sqrt(st->P) + sqrt(st->Q)); /* sqrt p - sqrt q */
        t[H5DIV_T_HELLINGER][k] = ldexp(h * h, SQ_SCALE_EXP - st->k);
        /* (p - q)^2 / q as (p - q) u: no square to underflow. */
        t[H5DIV_T_CHI2_PQ][k] = ldexp(st->diff * st->u, -st->k);
        t[H5DIV_T_CHI2_QP][k] = ldexp(st->diff * -st->v, -st->k);
        /* (p - q)^2 / (p + q) / 2 as (p - q) ((p - q) / (p + q)) / 2, the
         * ratio from the exact cross difference. */
        t[H5DIV_T_SP][k] = ldexp(0.5 * st->diff * (st->d / st->s), -st->k);
    }
}

/* The careful path's terms of a bin with both values > 0. */
static void careful_pair(const bin_state *st, const h5div_norm *nm, two_sample *ts, unsigned mask,
                         double (*t)[H5DIV_BLOCK_BINS], size_t k)
{
    const double p = st->a.prob, q = st->b.prob;
    t[H5DIV_T_NONEMPTY][k] = 1.0;
    if ((mask & ((1u << H5DIV_T_CHI2T) | (1u << H5DIV_T_G))) && st->far) {
        const int pb = st->a.e > st->b.e;
        two_sample_far(ts, pb ? &st->a : &st->b, pb ? &st->b : &st->a, pb, &t[H5DIV_T_CHI2T][k],
                       &t[H5DIV_T_G][k]);
    } else if (mask & ((1u << H5DIV_T_CHI2T) | (1u << H5DIV_T_G))) {
        two_sample_bin(ts, st->P, st->Q, st->diff, st->k, &t[H5DIV_T_CHI2T][k], &t[H5DIV_T_G][k]);
    }
    t[H5DIV_T_ENTROPY_P][k] = -(p * st->a.lg);
    t[H5DIV_T_ENTROPY_Q][k] = -(q * st->b.lg);
    t[H5DIV_T_CROSS_PQ][k] = -(p * st->b.lg);
    t[H5DIV_T_CROSS_QP][k] = -(q * st->a.lg);
    if (mask & ((1u << H5DIV_T_KL_PQ) | (1u << H5DIV_T_KL_QP))) {
        t[H5DIV_T_KL_PQ][k] = kl_careful(st, 0);
        t[H5DIV_T_KL_QP][k] = kl_careful(st, 1);
    }
    /* sqrt(p q) 2^1020 from the mantissas: never under- or overflows
     * where the coefficient could matter. */
    t[H5DIV_T_BC][k] =
        ldexp(sqrt(st->a.mant) * sqrt(st->b.mant), BC_SCALE_EXP - st->a.ex2 / 2 - st->b.ex2 / 2);
    if (st->far)
        careful_far(st, t, k);
    else
        careful_near(st, nm, mask, t, k);
}

/* The careful path: every bin through libm, with the forms chosen per bin
 * for probabilities near 1, subnormal ones, and ratios beyond the double
 * range. Writes the terms of bins [0, e) of one block into t. */
static void block_terms_careful(const double *restrict xs, const double *restrict ys,
                                const double *restrict xlo, const double *restrict ylo, size_t e,
                                const h5div_norm *nm, unsigned mask, double (*t)[H5DIV_BLOCK_BINS],
                                int64_t *p_without_q, int64_t *q_without_p)
{
    const double alpha = nm->alpha;
    const int ka = ilogb(nm->scale_a), kb = ilogb(nm->scale_b);
    two_sample ts;
    if (mask & ((1u << H5DIV_T_CHI2T) | (1u << H5DIV_T_G)))
        two_sample_init(&ts, nm);
    for (size_t k = 0; k < e; k++) {
        for (int m = 0; m < NT_BIN; m++)
            t[m][k] = 0.0;
        const double xr = xs[k] + alpha, yr = ys[k] + alpha;
        if (xr == 0.0 && yr == 0.0)
            continue;
        /* the remainders of 64-bit integers, with the pseudocount's */
        const lo_parts xl = lost_parts(xs[k], alpha, xr, xlo, k);
        const lo_parts yl = lost_parts(ys[k], alpha, yr, ylo, k);
        if (xr == 0.0 || yr == 0.0) {
            const int qlone = xr == 0.0;
            const side s = qlone ? side_of(yr, yl, kb, nm, 0) : side_of(xr, xl, ka, nm, 1);
            ++*(qlone ? q_without_p : p_without_q);
            careful_lone(&s, qlone, &ts, mask, t, k);
            continue;
        }
        bin_state st;
        bin_state_init(&st, xr, yr, xl, yl, nm, ka, kb);
        careful_pair(&st, nm, &ts, mask, t, k);
    }
}

/* The fast path. log_fast is fdlibm's log (error below 1 ulp) written with
 * plain IEEE operations and no branches, so the compiler vectorises the
 * loops below and every lane, vector or scalar, gives the same bits. It is
 * used only for arguments in [2^-960, 2^960]. */
static inline double log_fast(double x)
{
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double lg1 = 6.666666666666735130e-01, lg2 = 3.999999999940941908e-01;
    const double lg3 = 2.857142874366239149e-01, lg4 = 2.222219843214978396e-01;
    const double lg5 = 1.818357216161805012e-01, lg6 = 1.531383769920937332e-01;
    const double lg7 = 1.479819860511658591e-01;
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    uint64_t hx = (b >> 32) & 0x000fffffu;
    uint64_t i = (hx + 0x95f64u) & 0x100000u; /* mantissa above sqrt(2): halve it */
    uint64_t k = (b >> 52) + (i >> 20);       /* biased exponent, + 1 if halved */
    uint64_t mb = (b & 0x000fffffffffffffu) | ((i ^ 0x3ff00000u) << 32);
    double m;
    memcpy(&m, &mb, sizeof m);
    /* k - 1023 as a double without an int64 conversion (2^52 trick). */
    uint64_t kb = 0x4330000000000000u | k;
    double dk;
    memcpy(&dk, &kb, sizeof dk);
    dk -= 4503599627370496.0 + 1023.0;
    double f = m - 1.0;
    double hfsq = 0.5 * f * f;
    double s = f / (2.0 + f);
    double z = s * s, w = z * z;
    double t1 = w * (lg2 + w * (lg4 + w * lg6));
    double t2 = z * (lg1 + w * (lg3 + w * (lg5 + w * lg7)));
    double r = t2 + t1;
    return dk * ln2_hi - ((hfsq - (s * (hfsq + r) + dk * ln2_lo)) - f);
}

/* The fast path's state of one block: the scaled values x, y, the
 * probabilities p, q, the cross differences d (x B - y A, exact) and
 * u = p/q - 1, v = q/p - 1 where KL or JS needs them. Its steps below are
 * inlined into each instruction-set clone of block_terms_fast. */
typedef struct fast_block {
    double x[H5DIV_BLOCK_BINS], y[H5DIV_BLOCK_BINS], p[H5DIV_BLOCK_BINS], q[H5DIV_BLOCK_BINS];
    double d[H5DIV_BLOCK_BINS], uu[H5DIV_BLOCK_BINS], vv[H5DIV_BLOCK_BINS];
    size_t e;
    const h5div_norm *nm;
} fast_block;

#define FAST_STEP static inline __attribute__((always_inline))

/* Scaled values and probabilities; 0 where a nonzero p or q lies outside
 * [2^-960, 1/2] (the careful path's), else the lone-value counts. */
FAST_STEP int fast_load(fast_block *restrict fb, const double *restrict xs,
                        const double *restrict ys, int64_t *p_without_q, int64_t *q_without_p)
{
    const h5div_norm *nm = fb->nm;
    const double alpha = nm->alpha, inv_a = nm->inv_a, inv_b = nm->inv_b;
    const double scale_a = nm->scale_a, scale_b = nm->scale_b;
    double *restrict x = fb->x, *restrict y = fb->y, *restrict p = fb->p, *restrict q = fb->q;
    int bad = 0;
    int64_t pwq = 0, qwp = 0;
    for (size_t k = 0; k < fb->e; k++) {
        double xr = xs[k] + alpha, yr = ys[k] + alpha;
        x[k] = xr * scale_a;
        y[k] = yr * scale_b;
        p[k] = x[k] * inv_a;
        q[k] = y[k] * inv_b;
        bad |= (xr != 0.0) & ((p[k] < 0x1p-960) | (p[k] > 0.5));
        bad |= (yr != 0.0) & ((q[k] < 0x1p-960) | (q[k] > 0.5));
        pwq += (xr != 0.0) & (yr == 0.0);
        qwp += (yr != 0.0) & (xr == 0.0);
    }
    if (bad)
        return 0;
    *p_without_q += pwq;
    *q_without_p += qwp;
    return 1;
}

FAST_STEP void fast_entropies(const fast_block *restrict fb, double (*restrict t)[H5DIV_BLOCK_BINS])
{
    const double *restrict p = fb->p, *restrict q = fb->q;
    for (size_t k = 0; k < fb->e; k++) {
        double pk = p[k], qk = q[k];
        double lp = log_fast(pk > 0.0 ? pk : 1.0), lq = log_fast(qk > 0.0 ? qk : 1.0);
        int both = (pk > 0.0) & (qk > 0.0);
        t[H5DIV_T_ENTROPY_P][k] = -(pk * lp);
        t[H5DIV_T_ENTROPY_Q][k] = -(qk * lq);
        t[H5DIV_T_CROSS_PQ][k] = both ? -(pk * lq) : 0.0;
        t[H5DIV_T_CROSS_QP][k] = both ? -(qk * lp) : 0.0;
    }
}

/* d = x B - y A exactly enough: the plain form with the products' fma
 * errors, the exact form where it cancels, the totals' difference where
 * they agree beyond hi + lo, and what the pseudocount and the 64-bit
 * remainders add (exactly where that cancels). */
FAST_STEP void fast_cross(fast_block *restrict fb, const double *restrict xs,
                          const double *restrict ys, const double *restrict xlo,
                          const double *restrict ylo)
{
    const h5div_norm *nm = fb->nm;
    const double alpha = nm->alpha, scale_a = nm->scale_a, scale_b = nm->scale_b;
    const double a_hi = nm->a_hi, a_lo = nm->a_lo, b_hi = nm->b_hi, b_lo = nm->b_lo;
    const double *restrict x = fb->x, *restrict y = fb->y;
    double *restrict d = fb->d;
    const size_t e = fb->e;
    int cancel = 0;
    for (size_t k = 0; k < e; k++) {
        /* x*B - y*A with the exact product errors (fma is exact). */
        double h1 = x[k] * b_hi, h2 = y[k] * a_hi;
        double e1 = fma(x[k], b_hi, -h1), e2 = fma(y[k], a_hi, -h2);
        d[k] = (h1 - h2) + ((e1 - e2) + (x[k] * b_lo - y[k] * a_lo));
        cancel |= (d[k] != 0.0) & (fabs(d[k]) < 0x1p-56 * fabs(h1));
    }
    if (nm->near_eq) { /* totals agreeing beyond hi + lo: their difference exactly */
        for (size_t k = 0; k < e; k++)
            d[k] = cross_diff_near(x[k], y[k], nm);
    } else if (cancel) {
        for (size_t k = 0; k < e; k++)
            if (cancels(d[k], x[k] * b_hi))
                d[k] = cross_exact(x[k], 0.0, y[k], 0.0, nm);
    }
    if (alpha != 0.0) /* the parts of x + alpha, y + alpha that rounding dropped */
        for (size_t k = 0; k < e; k++)
            d[k] += (add_err(xs[k], alpha, xs[k] + alpha) * scale_a) * b_hi -
                    (add_err(ys[k], alpha, ys[k] + alpha) * scale_b) * a_hi;
    if (xlo) /* what the doubles of 64-bit integers lost (each below 2^10) */
        for (size_t k = 0; k < e; k++)
            d[k] += (xlo[k] * scale_a) * b_hi - (ylo[k] * scale_b) * a_hi;
    if (alpha != 0.0 || xlo) /* a remnant where the corrections cancel: exactly */
        for (size_t k = 0; k < e; k++)
            if (cancels(d[k], x[k] * b_hi)) {
                const lo_parts xl = lost_parts(xs[k], alpha, xs[k] + alpha, xlo, k);
                const lo_parts yl = lost_parts(ys[k], alpha, ys[k] + alpha, ylo, k);
                const lo_parts xsc = {xl.l * scale_a, xl.l2 * scale_a};
                const lo_parts ysc = {yl.l * scale_b, yl.l2 * scale_b};
                d[k] = cross_exact3(x[k], xsc, y[k], ysc, nm);
            }
}

/* u = p/q - 1 and v = q/p - 1 from the cross difference, for KL and JS. */
FAST_STEP void fast_ratios(fast_block *restrict fb)
{
    const h5div_norm *nm = fb->nm;
    const double a_hi = nm->a_hi, a_lo = nm->a_lo, b_hi = nm->b_hi, b_lo = nm->b_lo;
    const double *restrict x = fb->x, *restrict y = fb->y, *restrict d = fb->d;
    double *restrict uu = fb->uu, *restrict vv = fb->vv;
    for (size_t k = 0; k < fb->e; k++) {
        uu[k] = d[k] / (y[k] * a_hi + y[k] * a_lo);
        vv[k] = -d[k] / (x[k] * b_hi + x[k] * b_lo);
    }
}

FAST_STEP void fast_kl(const fast_block *restrict fb, double (*restrict t)[H5DIV_BLOCK_BINS])
{
    const double inv_a = fb->nm->inv_a, inv_b = fb->nm->inv_b;
    for (size_t k = 0; k < fb->e; k++) {
        double xk = fb->x[k], yk = fb->y[k], pk = fb->p[k], qk = fb->q[k], dk = fb->d[k];
        int xz = xk == 0.0, yz = yk == 0.0;
        double diff = dk * inv_a * inv_b;
        double u = fb->uu[k], v = fb->vv[k];
        /* log(p/q) where a series does not serve: log1p(u) where
         * 1 + u = p/q is not small; below that, -log1p(v) (1 + v = q/p
         * is then above 2, so neither cancels). One logarithm either
         * way, and none where both series serve. */
        int su = fabs(u) < SERIES_LIMIT, sv = fabs(v) < SERIES_LIMIT;
        double lr = 0.0;
        if (!(xz | yz | (su & sv))) {
            const int flip = u < -0.5;
            const double c = flip ? v : u, w = 1.0 + c;
            const double l = log_fast(w) + (c - (w - 1.0)) / w;
            lr = flip ? -l : l;
        }
        double kpq = su ? qk * h5div_kl_series(u) : pk * lr - diff;
        double kqp = sv ? pk * h5div_kl_series(v) : diff - qk * lr;
        kpq = kpq > 0.0 ? kpq : 0.0;
        kqp = kqp > 0.0 ? kqp : 0.0;
        t[H5DIV_T_KL_PQ][k] = yz ? 0.0 : (xz ? qk : kpq);
        t[H5DIV_T_KL_QP][k] = xz ? 0.0 : (yz ? pk : kqp);
    }
}

FAST_STEP void fast_js(const fast_block *restrict fb, double (*restrict t)[H5DIV_BLOCK_BINS])
{
    const h5div_norm *nm = fb->nm;
    const double a_hi = nm->a_hi, a_lo = nm->a_lo, b_hi = nm->b_hi, b_lo = nm->b_lo;
    for (size_t k = 0; k < fb->e; k++) {
        double xk = fb->x[k], yk = fb->y[k], pk = fb->p[k], qk = fb->q[k];
        int lone = (xk == 0.0) | (yk == 0.0);
        double sum = xk * b_hi + yk * a_hi + (xk * b_lo + yk * a_lo);
        double tt = fb->d[k] / sum; /* (p - q) / (p + q) */
        double m = 0.5 * (pk + qk);
        /* log(2p / (p + q)) = log1p(t) where 1 + t is not small, else
         * -log1p(v / 2) (v = q/p - 1 > 2 there); log(2q / (p + q))
         * likewise with -t and u. No logarithm where the series serves. */
        double js;
        if (lone | (fabs(tt) < SERIES_LIMIT)) {
            js = 0.5 * m * js_series(lone ? 0.0 : tt);
        } else {
            const int fp = tt<-0.5, fq = tt> 0.5;
            const double cp = fp ? 0.5 * fb->vv[k] : tt, wp = 1.0 + cp;
            const double cq = fq ? 0.5 * fb->uu[k] : -tt, wq = 1.0 + cq;
            const double lp = log_fast(wp) + (cp - (wp - 1.0)) / wp;
            const double lq = log_fast(wq) + (cq - (wq - 1.0)) / wq;
            js = 0.5 * (pk * (fp ? -lp : lp) + qk * (fq ? -lq : lq));
        }
        js = js > 0.0 ? js : 0.0;
        js = lone ? 0.5 * LN2 * (pk + qk) : js;
        t[H5DIV_T_JS][k] = ((xk == 0.0) & (yk == 0.0)) ? 0.0 : js * 0x1p1000;
    }
}

/* Total variation, Hellinger and Bhattacharyya terms. */
FAST_STEP void fast_tv_hellinger(const fast_block *restrict fb,
                                 double (*restrict t)[H5DIV_BLOCK_BINS])
{
    const double inv_a = fb->nm->inv_a, inv_b = fb->nm->inv_b;
    for (size_t k = 0; k < fb->e; k++) {
        double pk = fb->p[k], qk = fb->q[k];
        double diff = fb->d[k] * inv_a * inv_b;
        double rp = sqrt(pk), rq = sqrt(qk), sq = rp + rq;
        double h = diff / (sq > 0.0 ? sq : 1.0);
        t[H5DIV_T_TV][k] = fabs(diff);
        t[H5DIV_T_HELLINGER][k] = (h * h) * 0x1p1000;
        t[H5DIV_T_BC][k] = (rp * rq) * 0x1p1020;
    }
}

/* chi^2 (either direction) and separation-power terms. */
FAST_STEP void fast_chi2_sp(const fast_block *restrict fb, unsigned mask,
                            double (*restrict t)[H5DIV_BLOCK_BINS])
{
    const h5div_norm *nm = fb->nm;
    const double inv_a = nm->inv_a, inv_b = nm->inv_b;
    const double a_hi = nm->a_hi, a_lo = nm->a_lo, b_hi = nm->b_hi, b_lo = nm->b_lo;
    if (mask & ((1u << H5DIV_T_CHI2_PQ) | (1u << H5DIV_T_CHI2_QP)))
        for (size_t k = 0; k < fb->e; k++) {
            double xk = fb->x[k], yk = fb->y[k], dk = fb->d[k];
            double diff = dk * inv_a * inv_b;
            /* (p - q) * (p/q - 1) and (p - q) * (p - q)/p; zero bins masked. */
            double c1 = diff * (dk / (yk * a_hi + yk * a_lo));
            double c2 = diff * (dk / (xk * b_hi + xk * b_lo));
            t[H5DIV_T_CHI2_PQ][k] = ((yk == 0.0) | (diff == 0.0)) ? 0.0 : c1;
            t[H5DIV_T_CHI2_QP][k] = ((xk == 0.0) | (diff == 0.0)) ? 0.0 : c2;
        }
    if (mask & (1u << H5DIV_T_SP))
        for (size_t k = 0; k < fb->e; k++) {
            double xk = fb->x[k], yk = fb->y[k], dk = fb->d[k];
            double sum = xk * b_hi + yk * a_hi + (xk * b_lo + yk * a_lo);
            /* (p - q) ((p - q) / (p + q)) / 2: a lone value gives p / 2. */
            double sp = 0.5 * (dk * inv_a * inv_b) * (dk / sum);
            t[H5DIV_T_SP][k] = ((xk == 0.0) & (yk == 0.0)) ? 0.0 : sp;
        }
}

FAST_STEP void fast_two_sample(const fast_block *restrict fb,
                               double (*restrict t)[H5DIV_BLOCK_BINS])
{
    const double inv_a = fb->nm->inv_a, inv_b = fb->nm->inv_b;
    two_sample ts;
    two_sample_init(&ts, fb->nm);
    for (size_t k = 0; k < fb->e; k++) {
        const double pk = fb->p[k], qk = fb->q[k];
        t[H5DIV_T_CHI2T][k] = t[H5DIV_T_G][k] = 0.0;
        if ((fb->x[k] == 0.0) & (fb->y[k] == 0.0))
            continue;
        /* The larger of p, q brought near 1 (exactly), as in the careful path. */
        const int s = -ilogb(pk > qk ? pk : qk);
        two_sample_bin(&ts, ldexp(pk, s), ldexp(qk, s), ldexp(fb->d[k] * inv_a * inv_b, s), s,
                       &t[H5DIV_T_CHI2T][k], &t[H5DIV_T_G][k]);
    }
}

#define TB(m) (1u << H5DIV_T_##m)

/* Terms of one block when every nonzero p and q lies in [2^-960, 1/2] (so
 * no fallback of the careful path is needed); returns 0, having written
 * nothing, for any other block. */
H5DIV_CLONES
static int block_terms_fast(const double *restrict xs, const double *restrict ys,
                            const double *restrict xlo, const double *restrict ylo, size_t e,
                            const h5div_norm *restrict nm, unsigned mask,
                            double (*restrict t)[H5DIV_BLOCK_BINS], int64_t *p_without_q,
                            int64_t *q_without_p)
{
    /* The two-sample tests of totals far apart need the scaled forms. */
    if ((mask & (TB(CHI2T) | TB(G))) && totals_extreme(nm))
        return 0;
    fast_block fb;
    fb.e = e;
    fb.nm = nm;
    if (!fast_load(&fb, xs, ys, p_without_q, q_without_p))
        return 0;
    if (mask & (TB(ENTROPY_P) | TB(ENTROPY_Q) | TB(CROSS_PQ) | TB(CROSS_QP)))
        fast_entropies(&fb, t);
    if (!(mask & (TB(KL_PQ) | TB(KL_QP) | TB(JS) | TB(TV) | TB(HELLINGER) | TB(CHI2_PQ) |
                  TB(CHI2_QP) | TB(BC) | TB(SP) | TB(CHI2T) | TB(G))))
        return 1;
    fast_cross(&fb, xs, ys, xlo, ylo);
    if (mask & (TB(KL_PQ) | TB(KL_QP) | TB(JS)))
        fast_ratios(&fb);
    if (mask & (TB(KL_PQ) | TB(KL_QP)))
        fast_kl(&fb, t);
    if (mask & TB(JS))
        fast_js(&fb, t);
    if (mask & (TB(TV) | TB(HELLINGER) | TB(BC)))
        fast_tv_hellinger(&fb, t);
    if (mask & (TB(CHI2_PQ) | TB(CHI2_QP) | TB(SP)))
        fast_chi2_sp(&fb, mask, t);
    if (mask & TB(NONEMPTY))
        for (size_t k = 0; k < e; k++)
            t[H5DIV_T_NONEMPTY][k] = ((fb.x[k] != 0.0) | (fb.y[k] != 0.0)) ? 1.0 : 0.0;
    if (mask & (TB(CHI2T) | TB(G)))
        fast_two_sample(&fb, t);
    return 1;
}

/* 1/j! for j = 0..20. */
static const double inv_fact[21] = {1.0,
                                    1.0,
                                    1.0 / 2,
                                    1.0 / 6,
                                    1.0 / 24,
                                    1.0 / 120,
                                    1.0 / 720,
                                    1.0 / 5040,
                                    1.0 / 40320,
                                    1.0 / 362880,
                                    1.0 / 3628800,
                                    1.0 / 39916800,
                                    1.0 / 479001600,
                                    1.0 / 6227020800.0,
                                    1.0 / 87178291200.0,
                                    1.0 / 1307674368000.0,
                                    1.0 / 20922789888000.0,
                                    1.0 / 355687428096000.0,
                                    1.0 / 6402373705728000.0,
                                    1.0 / 121645100408832000.0,
                                    1.0 / 2432902008176640000.0};

/* e^w - 1 - w >= 0 without cancellation. */
static double em1mw(double w)
{
    if (fabs(w) <= 1.0) {
        double s = inv_fact[20]; /* sum_{j>=2} w^j / j!, to j = 20 */
        for (int j = 19; j >= 2; j--)
            s = s * w + inv_fact[j];
        return s * w * w;
    }
    return w < 0.0 ? exp(w) + (-1.0 - w) : expm1(w) - w;
}

/* u - log1p(u) >= 0 (L = log1p(u) given), by its series for |u| < 1/4. */
static double u_minus_log1p(double u, double L)
{
    if (fabs(u) < 0.25) {
        double s = 1.0 / 30; /* sum_{j>=2} (-u)^j / j, to j = 30 */
        for (int j = 29; j >= 2; j--)
            s = s * -u + 1.0 / j;
        return s * u * u;
    }
    return u - L;
}

/* One bin of a Renyi sum of order A: p^A q^(1-A) - q - A (p - q). The
 * terms sum to S_A - 1 (sum p = sum q = 1) and all have the sign of A - 1,
 * so the sum does not cancel. u = p/q - 1 and v = q/p - 1 (from the exact
 * cross difference), diff = p - q, L = log(p/q), lp, lq the logarithms of
 * p and q (used only where p^A q^(1-A) leaves the double range). */
static double renyi_bin(double A, double p, double q, int p_zero, int q_zero, double u, double v,
                        double diff, double L, double lp, double lq)
{
    if (p_zero)
        return (A - 1.0) * q;
    if (q_zero)
        return A < 1.0 ? -A * p : 0.0; /* A > 1: infinite, counted apart */
    if (A < 1.0 && A > 0.5)            /* the same sum in the order 1 - A < 1/2 */
        return renyi_bin(1.0 - A, q, p, q_zero, p_zero, v, u, -diff, -L, lq, lp);
    double kl = fabs(u) < SERIES_LIMIT ? q * h5div_kl_series(u) : p * L - diff;
    if (A > 1.0) {
        /* p (e^w - 1 - w) + (A - 1) (p log(p/q) - p + q), w = (A - 1) L:
         * two terms >= 0. */
        const double B = A - 1.0, w = B * L;
        double pe = w > 700.0 ? exp(lp + w) - p * w : p * em1mw(w);
        return pe + B * (kl > 0.0 ? kl : 0.0);
    }
    /* 0 < A <= 1/2: q (e^z - 1 - z) - A q (u - log1p u), z = A L; the first
     * part is at most A/(1 - A) <= 1 times the second, so at most one bit
     * cancels; near u = 0 the binomial series, near p = 0 the direct form. */
    const double z = A * L;
    if (!isfinite(u))
        return -A * p;
    if (u < -0.9)
        return q * expm1(z) - A * diff;
    if (fabs(u) < SERIES_LIMIT) {
        double c = 0.5, s = 0.0, uk = 1.0; /* sum_{j>=2} C(A, j) u^j / (A (A - 1) u^2) */
        for (int j = 2; j <= 16; j++) {
            s += c * uk;
            c *= (A - j) / (j + 1);
            uk *= u;
        }
        return q * (A * (A - 1.0)) * (u * u) * s;
    }
    if (z > 700.0)
        return exp(lq + z) - q - A * diff;
    return q * em1mw(z) - A * (q * u_minus_log1p(u, L));
}

/* S_A of orders below 1 lies in (2^-2098, 1] for histograms of doubles:
 * its own sum is scaled by 2^BC_SCALE_EXP, which keeps it normal. Orders
 * above 1 use windowed sums (terms.h). */

/* Beyond this log of a term (in nats) S_A is taken as infinite: far past
 * any window index an int32_t holds. */
#define WIN_LOG_MAX 0x1p40

/* S_A's own term p^A q^(1-A) of order A > 1 of one bin with p, q > 0
 * (swap: p and q exchanged) as m 2^(H5DIV_WIN_BITS w): returns m and sets
 * *w. The term's logarithm (whose error is small beside log S_A wherever
 * the windowed sum decides D_A, S_A >= 2^900) gives the window. */
static double renyi_win_term(double A, const bin_state *st, int swap, int32_t *w)
{
    const side *ps = swap ? &st->b : &st->a, *qs = swap ? &st->a : &st->b;
    double y, ya = 0.0, Q = 0.0;
    if (st->far) {
        y = A * ps->lg + (1.0 - A) * qs->lg;
    } else {
        Q = swap ? st->P : st->Q;
        ya = A * (swap ? -st->lr : st->lr); /* p^A q^(1-A) = q (p/q)^A */
        y = ya + log(Q) - st->k * LN2;
    }
    if (!(y < WIN_LOG_MAX)) {
        *w = INT32_MAX;
        return INFINITY;
    }
    const double wd = floor(y / (H5DIV_WIN_BITS * LN2));
    *w = (int32_t)wd;
    if (!st->far && ya < 700.0)
        return ldexp(Q * exp(ya), -st->k - H5DIV_WIN_BITS * *w);
    return exp(y - wd * H5DIV_WIN_BITS * LN2);
}

/* The Renyi term of order A of one bin with p, q > 0 (swap: p and q
 * exchanged), summing to S_A - 1; aux (A < 1): S_A's own term
 * p^A q^(1-A), scaled by 2^BC_SCALE_EXP. */
static double renyi_pair(double A, const bin_state *st, int swap, int aux)
{
    const side *ps = swap ? &st->b : &st->a, *qs = swap ? &st->a : &st->b;
    const int es = BC_SCALE_EXP;
    const double sc = es * LN2;
    if (st->far) {
        /* p^A q^(1-A) from the logarithms: its error is small beside log S
         * wherever such a bin decides S. */
        const double y = A * ps->lg + (1.0 - A) * qs->lg;
        /* Scaled after exp, not by adding es ln 2 to y: that sum would
         * round away y's last digits (1e-13 of a log S near -1, which
         * D_A of an order near 1 magnifies). Below, S is itself below
         * e^-650 and an absolute error of 1e-13 in its log is harmless. */
        if (aux)
            return y > -700.0 ? ldexp(exp(y), es) : exp(y + sc);
        /* p^A q^(1-A) - A p - (1-A) q as (larger side) expm1(.) plus the
         * rest: exp(y) - A p - (1-A) q cancels where the order is near 1. */
        const double p = ps->prob, q = qs->prob;
        const int p_big = ps->e > qs->e;
        const double z = p_big ? (1.0 - A) * (qs->lg - ps->lg) : A * (ps->lg - qs->lg);
        if (z <= 700.0)
            return p_big ? p * expm1(z) + (1.0 - A) * (p - q) : q * expm1(z) + A * (q - p);
        return exp(y) + ((A - 1.0) * q - A * p);
    }
    const double P = swap ? st->Q : st->P, Q = swap ? st->P : st->Q;
    const double u = swap ? st->v : st->u, v = swap ? st->u : st->v;
    const double lr = swap ? -st->lr : st->lr, diff = swap ? -st->diff : st->diff;
    if (aux) {
        const double y = A * lr; /* p^A q^(1-A) = q (p/q)^A */
        const int e2 = es - st->k;
        return y < 700.0 ? ldexp(Q * exp(y), e2) : exp(y + log(Q) + e2 * LN2);
    }
    const double r = renyi_bin(A, P, Q, 0, 0, u, v, diff, lr, log(P), log(Q));
    if (isfinite(r))
        return ldexp(r, -st->k);
    /* p^A q^(1-A) beyond the range at the bin's scale (the scale brings p
     * near 1): from the logarithms, where it dominates the bracket. */
    return exp(A * ps->lg + (1.0 - A) * qs->lg) + ((A - 1.0) * qs->prob - A * ps->prob);
}

/* The windowed sum of one order over a block: its top window W (or
 * H5DIV_WIN_EMPTY) into *win, the sums of its terms in W and W - 1 into
 * *top, *below. */
static void block_window(const double *restrict t, const int32_t *restrict tw, size_t e,
                         int32_t *win, double *top, double *below)
{
    int32_t w = H5DIV_WIN_EMPTY;
    for (size_t k = 0; k < e; k++)
        w = tw[k] > w ? tw[k] : w;
    double v[2][H5DIV_BLOCK_BINS];
    for (size_t k = 0; k < e; k++) {
        v[0][k] = tw[k] == w ? t[k] : 0.0;
        v[1][k] = w != H5DIV_WIN_EMPTY && tw[k] == w - 1 ? t[k] : 0.0;
    }
    *win = w;
    *top = block_sum(v[0], e);
    *below = block_sum(v[1], e);
}

/* Block sums of the Renyi terms of every order in tp. */
static void block_renyi(const double *restrict xs, const double *restrict ys,
                        const double *restrict xlo, const double *restrict ylo, size_t e,
                        const h5div_norm *nm, const h5div_term_params *tp, double *sums,
                        int32_t *win)
{
    double t[H5DIV_T_COUNT][H5DIV_BLOCK_BINS];
    int32_t tw[2 * H5DIV_RENYI_MAX][H5DIV_BLOCK_BINS];
    int orders[H5DIV_T_COUNT], no = 0;
    const int ka = ilogb(nm->scale_a), kb = ilogb(nm->scale_b);
    /* The windows below the top ones are filled with them, not bin by bin. */
    for (int i = 0; i < H5DIV_T_COUNT; i++)
        if ((tp->renyi_mask & H5DIV_TBIT(i)) && tp->aux[i] != 2)
            orders[no++] = i;
    for (size_t k = 0; k < e; k++) {
        const double xr = xs[k] + nm->alpha, yr = ys[k] + nm->alpha;
        const int xz = xr == 0.0, yz = yr == 0.0;
        if (xz || yz) {
            double p = 0.0, q = 0.0;
            const lo_parts none = {0.0, 0.0};
            if (!xz)
                p = side_of(xr, none, ka, nm, 1).prob;
            if (!yz)
                q = side_of(yr, none, kb, nm, 0).prob;
            for (int o = 0; o < no; o++) {
                int i = orders[o], qp = tp->qp[i];
                if (tp->win_mask & H5DIV_TBIT(i))
                    tw[tp->oidx[i]][k] = H5DIV_WIN_EMPTY;
                t[o][k] = tp->aux[i] ? 0.0
                          : qp       ? renyi_bin(tp->order[i], q, p, yz, xz, 0, 0, 0, 0, 0, 0)
                                     : renyi_bin(tp->order[i], p, q, xz, yz, 0, 0, 0, 0, 0, 0);
            }
            continue;
        }
        bin_state st;
        const lo_parts xl = lost_parts(xs[k], nm->alpha, xr, xlo, k);
        const lo_parts yl = lost_parts(ys[k], nm->alpha, yr, ylo, k);
        bin_state_init(&st, xr, yr, xl, yl, nm, ka, kb);
        for (int o = 0; o < no; o++) {
            int i = orders[o];
            t[o][k] = tp->win_mask & H5DIV_TBIT(i)
                          ? renyi_win_term(tp->order[i], &st, tp->qp[i], &tw[tp->oidx[i]][k])
                          : renyi_pair(tp->order[i], &st, tp->qp[i], tp->aux[i]);
        }
    }
    for (int o = 0; o < no; o++) {
        const int i = orders[o];
        if (tp->win_mask & H5DIV_TBIT(i)) {
            const int c = tp->oidx[i];
            block_window(t[o], tw[c], e, &win[c], &sums[i], &sums[tp->aux2_term[c]]);
        } else {
            sums[orders[o]] = block_sum(t[o], e);
        }
    }
}

static const double zero_lo[H5DIV_BLOCK_BINS];

/* The remainders of a block of two histograms for the kernels: NULL (both)
 * where the block has none, so such a block takes the plain path and gives
 * its bits; a side without them reads zeros. */
static int block_lo(const double **xlo, const double **ylo, size_t e)
{
    int any = 0;
    for (int s = 0; s < 2; s++) {
        const double *l = s ? *ylo : *xlo;
        if (l)
            for (size_t i = 0; i < e; i++)
                any |= l[i] != 0.0;
    }
    if (!any) {
        *xlo = *ylo = NULL;
        return 0;
    }
    if (!*xlo)
        *xlo = zero_lo;
    if (!*ylo)
        *ylo = zero_lo;
    return 1;
}

void h5div_compare_block_lo(const double *restrict xs, const double *restrict ys, const double *xlo,
                            const double *ylo, size_t e, const h5div_norm *nm,
                            const h5div_term_params *tp, double *sums,
                            int32_t win[2 * H5DIV_RENYI_MAX], int64_t counts[2])
{
    (void)block_lo(&xlo, &ylo, e);
    double t[NT_BIN][H5DIV_BLOCK_BINS];
    const unsigned mask = (unsigned)(tp->mask & ~tp->renyi_mask & (H5DIV_TBIT(NT_BIN) - 1u) &
                                     ~H5DIV_TBIT(H5DIV_T_W1));
    /* Which path a block takes depends only on its own data, and a block
     * never straddles ranks or pieces: the same bits anywhere. */
    int64_t pwq = 0, qwp = 0;
    if (!block_terms_fast(xs, ys, xlo, ylo, e, nm, mask, t, &pwq, &qwp))
        block_terms_careful(xs, ys, xlo, ylo, e, nm, mask, t, &pwq, &qwp);
    counts[0] += pwq;
    counts[1] += qwp;
    for (int m = 0; m < NT_BIN; m++)
        if (mask & (1u << m))
            sums[m] = block_sum(t[m], e);
    if (tp->renyi_mask)
        block_renyi(xs, ys, xlo, ylo, e, nm, tp, sums, win);
}

/* h5div_w1_block_gap_lo for totals with more than three parts: F_p - F_q =
 * N / (A B), N = X B - Y A kept exactly in an accumulator from every part
 * of the prefix sums X, Y (exact: x0, y0 at the block start, then each
 * value with its pseudocount and 64-bit remainder) and of the totals. Slow
 * (products of every part), and only for such rows. */
static double w1_block_parts(const double *restrict xs, const double *restrict ys,
                             const double *xlo, const double *ylo, size_t nw, const h5div_norm *nm,
                             const h5div_acc *x0, const h5div_acc *y0, double *ks,
                             const double *restrict gap)
{
    double ta[H5DIV_ACC_PARTS], tb[H5DIV_ACC_PARTS], u[H5DIV_ACC_PARTS];
    const int na = total_parts(nm, 1, ta), nb = total_parts(nm, 0, tb);
    h5div_acc n;
    h5div_acc_init(&n);
    int nu = h5div_acc_parts(x0, u);
    for (int i = 0; i < nu; i++)
        u[i] *= nm->scale_a;
    acc_add_products(&n, u, nu, tb, nb);
    nu = h5div_acc_parts(y0, u);
    for (int i = 0; i < nu; i++)
        u[i] *= -nm->scale_b;
    acc_add_products(&n, u, nu, ta, na);
    double t[H5DIV_BLOCK_BINS], mx = *ks;
    for (size_t k = 0; k < nw; k++) {
        const double xr = xs[k] + nm->alpha, yr = ys[k] + nm->alpha;
        const double xv[3] = {xr * nm->scale_a, add_err(xs[k], nm->alpha, xr) * nm->scale_a,
                              (xlo ? xlo[k] : 0.0) * nm->scale_a};
        const double yv[3] = {-yr * nm->scale_b, -add_err(ys[k], nm->alpha, yr) * nm->scale_b,
                              -(ylo ? ylo[k] : 0.0) * nm->scale_b};
        acc_add_products(&n, xv, 3, tb, nb);
        acc_add_products(&n, yv, 3, ta, na);
        const double dd = fabs(h5div_acc_round(&n) * nm->inv_a * nm->inv_b);
        t[k] = gap ? dd * gap[k] : dd;
        mx = dd > mx ? dd : mx;
    }
    *ks = mx;
    return block_sum(t, nw);
}

/* F_p - F_q = (X B - Y A) / (A B) times A B for the prefix sums X = xh +
 * xl, Y = yh + yl (unscaled), with the exact product errors: prefix sums
 * that agree to many digits keep their difference. */
static inline double w1_cross(double xh, double xl, double yh, double yl, const h5div_norm *nm)
{
    const double a_hi = nm->a_hi, a_lo = nm->a_lo, b_hi = nm->b_hi, b_lo = nm->b_lo;
    double sxh = xh * nm->scale_a, sxl = xl * nm->scale_a;
    double syh = yh * nm->scale_b, syl = yl * nm->scale_b;
    double h1 = sxh * b_hi, h2 = syh * a_hi;
    double e1 = fma(sxh, b_hi, -h1), e2 = fma(syh, a_hi, -h2);
    double num = (h1 - h2) + ((e1 - e2) + ((sxh * b_lo + sxl * b_hi) - (syh * a_lo + syl * a_hi)));
    return cancels(num, h1) ? cross_exact(sxh, sxl, syh, syl, nm) : num;
}

/* The same for totals that agree beyond hi + lo (nm->near_eq): X - Y is
 * carried on its own as dh + dl, here advanced by bin x, y (with the
 * 64-bit remainders' difference lod), as (X - Y) B + Y (B - A). */
static inline double w1_cross_near(double *dh, double *dl, double x, double y, double lod,
                                   double yh, double yl, const h5div_norm *nm)
{
    /* x + alpha - (y + alpha) = x - y */
    double s = x - y;
    double bp = s - x;
    *dl += (x - (s - bp)) + (-y - bp);
    *dl += lod;
    two_sum_add(dh, dl, s);
    /* X 2^ka - Y 2^kb r = (X - Y) 2^ka */
    double sdh = *dh * nm->scale_a, sdl = *dl * nm->scale_a;
    double syh = yh * nm->scale_b, syl = yl * nm->scale_b;
    double h = sdh * nm->b_hi;
    return h + ((fma(sdh, nm->b_hi, -h) + (sdh * nm->b_lo + sdl * nm->b_hi)) +
                ((syh + syl) * nm->ratio) * nm->delta);
}

double h5div_w1_block_gap_lo(const double *restrict xs, const double *restrict ys,
                             const double *xlo, const double *ylo, size_t e, size_t nw,
                             const h5div_norm *nm, const double pfx_x[2], const double pfx_y[2],
                             const double *dpfx, const h5div_acc *pfx_xa, const h5div_acc *pfx_ya,
                             double *ks, const double *restrict gap)
{
    (void)block_lo(&xlo, &ylo, e);
    if (nm->a_next || nm->b_next) {
        h5div_acc xa, ya;
        if (!pfx_xa || !pfx_ya) {
            h5div_acc_init(&xa);
            h5div_acc_init(&ya);
            h5div_acc_add(&xa, pfx_x[0]);
            h5div_acc_add(&xa, pfx_x[1]);
            h5div_acc_add(&ya, pfx_y[0]);
            h5div_acc_add(&ya, pfx_y[1]);
        }
        return w1_block_parts(xs, ys, xlo, ylo, nw, nm, pfx_xa ? pfx_xa : &xa,
                              pfx_ya ? pfx_ya : &ya, ks, gap);
    }
    /* Totals that agree beyond hi + lo: X - Y of the prefix sums is carried
     * on its own (as dh + dl, from the bins' exact differences). */
    double dh = 0.0, dl = 0.0;
    if (nm->near_eq) {
        if (dpfx) {
            dh = *dpfx;
        } else {
            dh = pfx_x[0] - pfx_y[0];
            dl = pfx_x[1] - pfx_y[1];
        }
    } /* the bins past nw only carry the prefix on, and nothing follows them */
    double t[H5DIV_BLOCK_BINS];
    double xh = pfx_x[0], xl = pfx_x[1], yh = pfx_y[0], yl = pfx_y[1];
    double mx = *ks;
    for (size_t k = 0; k < nw; k++) {
        two_sum_add(&xh, &xl, xs[k] + nm->alpha);
        two_sum_add(&yh, &yl, ys[k] + nm->alpha);
        if (nm->alpha != 0.0) {
            xl += add_err(xs[k], nm->alpha, xs[k] + nm->alpha);
            yl += add_err(ys[k], nm->alpha, ys[k] + nm->alpha);
        }
        if (xlo) { /* the remainders of 64-bit integers (exact, below 2^10) */
            xl += xlo[k];
            yl += ylo[k];
        }
        const double num = nm->near_eq ? w1_cross_near(&dh, &dl, xs[k], ys[k],
                                                       xlo ? xlo[k] - ylo[k] : 0.0, yh, yl, nm)
                                       : w1_cross(xh, xl, yh, yl, nm);
        double dd = fabs(num * nm->inv_a * nm->inv_b);
        t[k] = gap ? dd * gap[k] : dd;
        mx = dd > mx ? dd : mx;
    }
    *ks = mx;
    return block_sum(t, nw);
}

void h5div_compare_add(const double *restrict xs, const double *restrict ys, size_t n,
                       const h5div_norm *nm, const h5div_term_params *tp,
                       h5div_compare_partial *part)
{
    double sums[H5DIV_T_COUNT];
    int32_t win[2 * H5DIV_RENYI_MAX];
    for (size_t b = 0; b < n; b += H5DIV_BLOCK_BINS) {
        size_t e = n - b < H5DIV_BLOCK_BINS ? n - b : H5DIV_BLOCK_BINS;
        int64_t counts[2] = {0, 0};
        h5div_compare_block_lo(xs + b, ys + b, NULL, NULL, e, nm, tp, sums, win, counts);
        h5div_compare_partial_add(part, tp, sums, win, counts);
    }
}

/* Raise the windowed sum (top, below, *w) to window W >= *w: the old top
 * window becomes the one below where W is just above it; the rest drops. */
static void win_raise(h5div_acc *top, h5div_acc *below, int32_t *w, int32_t W)
{
    if (W == *w)
        return;
    if (*w != H5DIV_WIN_EMPTY && *w == W - 1)
        *below = *top;
    else
        h5div_acc_init(below);
    h5div_acc_init(top);
    *w = W;
}

void h5div_compare_partial_add(h5div_compare_partial *part, const h5div_term_params *tp,
                               const double *sums, const int32_t win[2 * H5DIV_RENYI_MAX],
                               const int64_t counts[2])
{
    const uint64_t mask = tp->mask & ~H5DIV_TBIT(H5DIV_T_W1);
    for (int t = 0; t < H5DIV_T_COUNT; t++) {
        if (!(mask & H5DIV_TBIT(t)) || tp->aux[t] == 2)
            continue;
        if (!(tp->win_mask & H5DIV_TBIT(t))) {
            h5div_acc_add(&part->acc[t], sums[t]);
            continue;
        }
        const int c = tp->oidx[t], t2 = tp->aux2_term[c];
        const int32_t w = win[c];
        if (w == H5DIV_WIN_EMPTY)
            continue;
        if (part->win[c] == H5DIV_WIN_EMPTY || w > part->win[c])
            win_raise(&part->acc[t], &part->acc[t2], &part->win[c], w);
        if (w == part->win[c]) {
            h5div_acc_add(&part->acc[t], sums[t]);
            h5div_acc_add(&part->acc[t2], sums[t2]);
        } else if (w == part->win[c] - 1) {
            h5div_acc_add(&part->acc[t2], sums[t]);
        }
    }
    part->p_without_q += counts[0];
    part->q_without_p += counts[1];
}

void h5div_compare_partial_raise(h5div_compare_partial *part, const h5div_term_params *tp,
                                 const int32_t win[2 * H5DIV_RENYI_MAX])
{
    for (int t = 0; t < H5DIV_T_COUNT; t++)
        if (tp->win_mask & H5DIV_TBIT(t)) {
            const int c = tp->oidx[t];
            win_raise(&part->acc[t], &part->acc[tp->aux2_term[c]], &part->win[c], win[c]);
        }
}

/* The scaled S_A in the slots left over, for the orders most likely to
 * need it first. A < 1: S_A < 1/2 wherever the supports barely meet,
 * however large D_A then is: all of them first. A > 1: S_A - 1 serves
 * until D_A exceeds 900 log 2 / (A - 1) nats, and no such divergence
 * of histograms of doubles exceeds about 1460 nats (the largest
 * log(p/q)): by that threshold, and none where it lies above. */
static int renyi_aux_candidates(const h5div_options *opt, const int nd[2],
                                int cand[2 * H5DIV_RENYI_MAX])
{
    int nc = 0;
    double need[2 * H5DIV_RENYI_MAX];
    for (int qp = 0; qp < 2; qp++)
        for (int i = 0; i < nd[qp]; i++) {
            const double A = (qp ? opt->renyi_qp : opt->renyi_pq)[i];
            const double d = A < 1.0 ? 0.0 : 900.0 * LN2 / (A - 1.0);
            if (!(d < 1500.0))
                continue;
            int j = nc++; /* insertion by threshold, stable */
            while (j > 0 && need[j - 1] > d) {
                need[j] = need[j - 1];
                cand[j] = cand[j - 1];
                j--;
            }
            need[j] = d;
            cand[j] = qp * H5DIV_RENYI_MAX + i;
        }
    return nc;
}

/* The free term slots (from the Renyi slots on, then those below that no
 * measure uses; not W1, which the callers fill themselves) to the
 * candidates in order: A < 1 takes one (its scaled S_A), A > 1 two (its
 * windowed sum). */
static void renyi_assign_aux(h5div_term_params *tp, const int *cand, int nc)
{
    int free_t[H5DIV_T_COUNT], nf = 0;
    for (int t = H5DIV_T_RENYI; t < H5DIV_T_COUNT; t++)
        if (!((tp->mask | tp->renyi_mask) & H5DIV_TBIT(t)))
            free_t[nf++] = t;
    for (int t = 0; t < H5DIV_T_RENYI; t++)
        if (t != H5DIV_T_W1 && !((tp->mask | tp->renyi_mask) & H5DIV_TBIT(t)))
            free_t[nf++] = t;
    for (int c = 0, f = 0; c < nc; c++) {
        const int o = H5DIV_T_RENYI + cand[c];
        const int win = tp->order[o] > 1.0;
        if (f + win >= nf)
            break;
        const int t = free_t[f++];
        tp->renyi_mask |= H5DIV_TBIT(t);
        tp->order[t] = tp->order[o];
        tp->qp[t] = tp->qp[o];
        tp->aux[t] = 1;
        tp->oidx[t] = (signed char)cand[c];
        tp->aux_term[cand[c]] = (signed char)t;
        if (win) {
            const int t2 = free_t[f++];
            tp->renyi_mask |= H5DIV_TBIT(t2);
            tp->order[t2] = tp->order[o];
            tp->qp[t2] = tp->qp[o];
            tp->aux[t2] = 2;
            tp->oidx[t2] = (signed char)cand[c];
            tp->aux2_term[cand[c]] = (signed char)t2;
            tp->win_mask |= H5DIV_TBIT(t);
        }
    }
}

void h5div_term_params_init(h5div_term_params *tp, const h5div_options *opt)
{
    memset(tp, 0, sizeof *tp);
    tp->mask = h5div_terms_for_measures(opt->measures);
    for (int i = 0; i < 2 * H5DIV_RENYI_MAX; i++)
        tp->aux_term[i] = tp->aux2_term[i] = -1;
    int nd[2] = {opt->n_renyi_pq, opt->n_renyi_qp};
    for (int qp = 0; qp < 2; qp++) {
        nd[qp] = nd[qp] < H5DIV_RENYI_MAX ? nd[qp] : H5DIV_RENYI_MAX;
        const double *A = qp ? opt->renyi_qp : opt->renyi_pq;
        for (int i = 0; i < nd[qp]; i++) {
            const int s = H5DIV_T_RENYI + qp * H5DIV_RENYI_MAX + i;
            tp->renyi_mask |= H5DIV_TBIT(s);
            tp->order[s] = A[i];
            tp->qp[s] = (unsigned char)qp;
        }
    }
    int cand[2 * H5DIV_RENYI_MAX];
    const int nc = renyi_aux_candidates(opt, nd, cand);
    renyi_assign_aux(tp, cand, nc);
    tp->mask |= tp->renyi_mask;
}

/* P(X >= x) for X ~ chi^2 with dof degrees of freedom: GSL's regularised
 * upper incomplete gamma Q(dof / 2, x / 2). No degrees of freedom (one
 * nonempty bin, where the statistic is 0) or x = 0: 1. GSL's error handler
 * is off during the call (its default aborts): an underflow is p = 0. */
static double chi2_p_value(double dof, double x)
{
    if (!(dof > 0.0) || !(x > 0.0))
        return 1.0;
    if (!(x < INFINITY))
        return 0.0;
    gsl_sf_result r;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int st = gsl_sf_gamma_inc_Q_e(0.5 * dof, 0.5 * x, &r);
    gsl_set_error_handler(old);
    if (st == GSL_EUNDRFLW)
        return 0.0;
    if (st != GSL_SUCCESS || !isfinite(r.val))
        return x > dof ? 0.0 : 1.0;
    return r.val < 0.0 ? 0.0 : (r.val > 1.0 ? 1.0 : r.val);
}

static double clamp01(double v)
{
    return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v);
}

/* log(s 2^e) for s > 0: the log of the product where that is a normal
 * double (no cancellation against e log 2), else the sum of the logs. */
static double scaled_log(double s, int e)
{
    double v = ldexp(s, e);
    if (v >= 0x1p-1021 && v < INFINITY)
        return log(v);
    return log(s) + e * LN2;
}

/* Renyi divergence in nats from S - 1, the sum of its terms, and where
 * available (has_aux) S itself: A < 1, scaled by 2^BC_SCALE_EXP; A > 1,
 * windowed: top + below 2^-H5DIV_WIN_BITS in window w. S - 1 where S is
 * near 1, log S from S itself where S is far from 1. */
static double renyi_value(double A, double s1, int has_aux, double aux, double below, int32_t w,
                          int disjoint, int64_t infinite_bins)
{
    if ((A > 1.0 && infinite_bins) || disjoint) /* S = 0 for A < 1 */
        return INFINITY;
    double r;
    if (A > 1.0) {
        s1 = s1 > 0.0 ? s1 : 0.0; /* the terms are all >= 0 */
        if (has_aux && !(s1 < 0x1p900) && w != H5DIV_WIN_EMPTY) {
            const double m = aux + ldexp(below, -H5DIV_WIN_BITS);
            r = (log(m) + (double)w * H5DIV_WIN_BITS * LN2) / (A - 1.0);
        } else {
            r = log1p(s1) / (A - 1.0);
        }
    } else {
        s1 = s1 < -1.0 ? -1.0 : (s1 > 0.0 ? 0.0 : s1); /* S lies in [0, 1] */
        if (has_aux && s1 < -0.5)
            r = aux > 0.0 ? scaled_log(aux, -BC_SCALE_EXP) / (A - 1.0) : INFINITY;
        else
            r = log1p(s1) / (A - 1.0); /* S = 0: +inf */
    }
    return r > 0.0 ? r : 0.0;
}

/* JS divergence (or distance) from the JS sum scaled by 2^1000 (exactly),
 * so its square root is right also where the divergence underflows. */
static double finish_js(const double *nats, int disjoint, int distance, double ln_b)
{
    double js = disjoint ? LN2 * 0x1p1000 : nats[H5DIV_T_JS];
    js = js > LN2 * 0x1p1000 ? LN2 * 0x1p1000 : js;
    js = js > 0.0 ? js : 0.0;
    return distance ? sqrt(js / ln_b) * 0x1p-500 : ldexp(js, -SQ_SCALE_EXP) / ln_b;
}

/* -log sum sqrt(p q) from 1 - H^2, H^2 = sum (sqrt p - sqrt q)^2 / 2,
 * accurate where the coefficient is near 1; where it is far below, from its
 * own sum (scaled by 2^1020, so it never underflows). */
static double finish_bhattacharyya(const double *nats, int disjoint, double ln_b)
{
    double h2 = clamp01(ldexp(0.5 * nats[H5DIV_T_HELLINGER], -SQ_SCALE_EXP));
    double v;
    if (disjoint)
        v = INFINITY;
    else if (h2 <= 0.5)
        v = -log1p(-h2) / ln_b + 0.0;
    else
        v = -scaled_log(nats[H5DIV_T_BC], -BC_SCALE_EXP) / ln_b;
    return v > 0.0 ? v : 0.0;
}

/* Every Renyi order of one direction into res; returns the first's value. */
static double finish_renyi(const double *nats, const int32_t *win, const h5div_term_params *tp,
                           const h5div_options *opt, int qp, int disjoint, int64_t infinite_bins,
                           double ln_b, h5div_compare_result *res)
{
    double first = 0.0;
    int n = qp ? opt->n_renyi_qp : opt->n_renyi_pq;
    for (int i = 0; i < n && i < H5DIV_RENYI_MAX; i++) {
        double A = qp ? opt->renyi_qp[i] : opt->renyi_pq[i];
        const int c = (qp ? H5DIV_RENYI_MAX : 0) + i, slot = H5DIV_T_RENYI + c;
        const int at = tp->aux_term[c], at2 = tp->aux2_term[c];
        double r = renyi_value(A, nats[slot], at >= 0, at >= 0 ? nats[at] : 0.0,
                               at2 >= 0 ? nats[at2] : 0.0, win ? win[c] : H5DIV_WIN_EMPTY, disjoint,
                               infinite_bins) /
                   ln_b;
        (qp ? res->renyi_qp : res->renyi_pq)[i] = r;
        if (i == 0)
            first = r;
    }
    return first;
}

/* What the finishing of one compare measure needs. */
typedef struct finish_in {
    const double *nats;
    const int32_t *win;
    const h5div_term_params *tp;
    const h5div_options *opt;
    double ln_b, dof, ks;
    int64_t p_without_q, q_without_p;
    int disjoint;
} finish_in;

/* The value of measure m (Renyi: every order into res, the first's value). */
static double finish_measure(int m, const finish_in *in, h5div_compare_result *res)
{
    double v = 0.0;
    switch ((h5div_measure)m) {
    case H5DIV_ENTROPY_P: v = in->nats[H5DIV_T_ENTROPY_P] / in->ln_b; break;
    case H5DIV_ENTROPY_Q: v = in->nats[H5DIV_T_ENTROPY_Q] / in->ln_b; break;
    case H5DIV_CROSS_ENTROPY_PQ:
        v = in->p_without_q ? INFINITY : in->nats[H5DIV_T_CROSS_PQ] / in->ln_b;
        break;
    case H5DIV_CROSS_ENTROPY_QP:
        v = in->q_without_p ? INFINITY : in->nats[H5DIV_T_CROSS_QP] / in->ln_b;
        break;
    case H5DIV_KL_PQ: v = in->p_without_q ? INFINITY : in->nats[H5DIV_T_KL_PQ] / in->ln_b; break;
    case H5DIV_KL_QP: v = in->q_without_p ? INFINITY : in->nats[H5DIV_T_KL_QP] / in->ln_b; break;
    case H5DIV_JS_DIVERGENCE:
    case H5DIV_JS_DISTANCE:
        v = finish_js(in->nats, in->disjoint, m == H5DIV_JS_DISTANCE, in->ln_b);
        break;
    case H5DIV_TOTAL_VARIATION: v = in->disjoint ? 1.0 : clamp01(0.5 * in->nats[H5DIV_T_TV]); break;
    case H5DIV_HELLINGER:
        v = in->disjoint ? 1.0 : clamp01(sqrt(0.5 * in->nats[H5DIV_T_HELLINGER]) * 0x1p-500);
        break;
    case H5DIV_BHATTACHARYYA: v = finish_bhattacharyya(in->nats, in->disjoint, in->ln_b); break;
    case H5DIV_CHI2_PQ: v = in->p_without_q ? INFINITY : in->nats[H5DIV_T_CHI2_PQ]; break;
    case H5DIV_CHI2_QP: v = in->q_without_p ? INFINITY : in->nats[H5DIV_T_CHI2_QP]; break;
    case H5DIV_RENYI_PQ:
    case H5DIV_RENYI_QP: {
        const int qp = m == H5DIV_RENYI_QP;
        v = finish_renyi(in->nats, in->win, in->tp, in->opt, qp, in->disjoint,
                         qp ? in->q_without_p : in->p_without_q, in->ln_b, res);
        break;
    }
    case H5DIV_WASSERSTEIN1: v = in->nats[H5DIV_T_W1] * in->opt->bin_width; break;
    case H5DIV_KS: v = in->ks > 1.0 ? 1.0 : in->ks; break;
    case H5DIV_SEPARATION_POWER: v = in->disjoint ? 1.0 : clamp01(in->nats[H5DIV_T_SP]); break;
    case H5DIV_CHI2_TEST: v = in->nats[H5DIV_T_CHI2T]; break;
    case H5DIV_G_TEST: v = in->nats[H5DIV_T_G]; break;
    case H5DIV_CHI2_TEST_DOF:
    case H5DIV_G_TEST_DOF: v = in->dof; break;
    case H5DIV_CHI2_TEST_P_VALUE: v = chi2_p_value(in->dof, in->nats[H5DIV_T_CHI2T]); break;
    case H5DIV_G_TEST_P_VALUE: v = chi2_p_value(in->dof, in->nats[H5DIV_T_G]); break;
    case H5DIV_COMPARE_NMEASURES: break;
    }
    return v;
}

void h5div_compare_finish_sums(const double *nats, const int32_t win[2 * H5DIV_RENYI_MAX],
                               const int64_t counts[2], double ks, const h5div_options *opt,
                               h5div_compare_result *res)
{
    h5div_term_params tp;
    h5div_term_params_init(&tp, opt);
    /* Dividing by ln b (rather than multiplying by 1/ln b) maps ln 2 to
     * exactly 1 bit, so the JS bound holds exactly in base 2. */
    const int base = (int)opt->base;
    finish_in in = {.nats = nats,
                    .win = win,
                    .tp = &tp,
                    .opt = opt,
                    .ks = ks,
                    .ln_b = base == H5DIV_BASE_2    ? LN2
                            : base == H5DIV_BASE_10 ? LN10
                                                    : 1.0,
                    .p_without_q = counts[0],
                    .q_without_p = counts[1]};
    /* No bin holds both p > 0 and q > 0: the closed forms (js = log 2,
     * TV = H = 1, bhattacharyya = inf) exactly. The coefficient's sum is
     * zero only then (its terms are scaled so far up that none underflows
     * in any histogram of doubles short of 2^-2094). */
    in.disjoint = (tp.mask & H5DIV_TBIT(H5DIV_T_BC)) && nats[H5DIV_T_BC] == 0.0;
    /* Degrees of freedom of the two-sample tests: nonempty bins - 1. */
    in.dof = nats[H5DIV_T_NONEMPTY] > 0.0 ? nats[H5DIV_T_NONEMPTY] - 1.0 : 0.0;
    for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++)
        if (opt->measures & H5DIV_MEASURE_BIT(m))
            res->value[m] = finish_measure(m, &in, res);
    res->computed = opt->measures;
}

void h5div_compare_finish(const h5div_compare_partial *part, const h5div_options *opt,
                          h5div_compare_result *res)
{
    h5div_term_params tp;
    h5div_term_params_init(&tp, opt);
    double nats[H5DIV_T_COUNT] = {0};
    for (int t = 0; t < H5DIV_T_COUNT; t++)
        if (tp.mask & H5DIV_TBIT(t))
            nats[t] = h5div_acc_round(&part->acc[t]);
    int64_t counts[2] = {part->p_without_q, part->q_without_p};
    h5div_compare_finish_sums(nats, part->win, counts, part->ks, opt, res);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Exact superaccumulator: order-independent sums of doubles, correctly rounded. */
#include "core/acc.h"

#include <math.h>
#include <string.h>

#define LIMB_BITS 32
#define LIMB_MASK ((int64_t)0xffffffff)
/* Each add puts at most 2^32 into a limb; limbs are int64, so 2^30 adds
 * between normalisations leave ample headroom. */
#define PENDING_MAX ((int64_t)1 << 30)

void h5div_acc_init(h5div_acc *a)
{
    memset(a, 0, sizeof *a);
}

void h5div_acc_normalize(h5div_acc *a)
{
    /* Zero limbs below the lowest nonzero one and above the highest stay
     * zero unless a carry reaches them: a typical sum occupies a few limbs,
     * so the carry chain usually stops long before the top (the result is
     * the same as running it over every limb). */
    int lo = 0, hi = H5DIV_ACC_LIMBS - 1;
    while (lo < H5DIV_ACC_LIMBS && a->limb[lo] == 0)
        lo++;
    a->pending = 0;
    if (lo == H5DIV_ACC_LIMBS)
        return;
    while (a->limb[hi] == 0)
        hi--;
    int64_t carry = 0;
    for (int k = lo; k < H5DIV_ACC_LIMBS - 1 && (k <= hi || carry != 0); k++) {
        int64_t v = a->limb[k] + carry;
        /* Arithmetic shift floors, so the remainder lands in [0, 2^32). */
        carry = v >> LIMB_BITS;
        a->limb[k] = v & LIMB_MASK;
    }
    a->limb[H5DIV_ACC_LIMBS - 1] += carry;
}

h5div_unit_total h5div_unit_total_of(double hi, double lo)
{
    h5div_unit_total u;
    int e;
    frexp(hi, &e);
    int k = 1 - e;
    k = k < -1000 ? -1000 : (k > 1000 ? 1000 : k);
    u.scale = ldexp(1.0, k);
    u.log = log(hi);
    u.hi = hi * u.scale;
    u.lo = lo * u.scale;
    u.inv = (1.0 / u.hi) * (1.0 - u.lo / u.hi);
    return u;
}

void h5div_acc_add(h5div_acc *a, double x)
{
    /* |x| = m 2^e2 with m an integer below 2^53, from the bits (no libm
     * call: this runs for every block sum and every total). */
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    const int be = (int)((bits >> 52) & 0x7ff);
    uint64_t m = bits & (((uint64_t)1 << 52) - 1);
    if (be == 0x7ff) {
        a->nonfinite |= m ? 4 : ((bits >> 63) ? 2 : 1);
        return;
    }
    int e2 = -1074; /* subnormal (or zero) */
    if (be != 0) {
        m |= (uint64_t)1 << 52;
        e2 = be - 1075;
    } else if (m == 0) {
        return;
    }
    int pos = e2 - H5DIV_ACC_EMIN; /* >= 0: e2 >= -1074 */
    int k = pos / LIMB_BITS, sh = pos % LIMB_BITS;
    uint64_t lo = (m & 0xffffffffu) << sh; /* < 2^64 */
    uint64_t hi = (m >> LIMB_BITS) << sh;  /* < 2^53 */
    int64_t d0 = (int64_t)(lo & 0xffffffffu);
    int64_t d1 = (int64_t)(lo >> LIMB_BITS) + (int64_t)(hi & 0xffffffffu);
    int64_t d2 = (int64_t)(hi >> LIMB_BITS);
    if (bits >> 63) {
        d0 = -d0;
        d1 = -d1;
        d2 = -d2;
    }
    a->limb[k] += d0;
    a->limb[k + 1] += d1;
    a->limb[k + 2] += d2;
    if (++a->pending >= PENDING_MAX)
        h5div_acc_normalize(a);
}

void h5div_acc_merge(h5div_acc *a, const h5div_acc *b)
{
    h5div_acc_normalize(a);
    h5div_acc t = *b;
    h5div_acc_normalize(&t);
    for (int k = 0; k < H5DIV_ACC_LIMBS; k++)
        a->limb[k] += t.limb[k];
    a->nonfinite |= t.nonfinite;
    h5div_acc_normalize(a);
}

void h5div_acc_sub(h5div_acc *a, const h5div_acc *b)
{
    h5div_acc_normalize(a);
    h5div_acc t = *b;
    h5div_acc_normalize(&t);
    for (int k = 0; k < H5DIV_ACC_LIMBS; k++)
        a->limb[k] -= t.limb[k];
    /* +inf - +inf is NaN, as for doubles. */
    int64_t f = t.nonfinite;
    a->nonfinite |= (f & 4) | ((f & 1) << 1) | ((f & 2) >> 1);
    h5div_acc_normalize(a);
}

static double nonfinite_value(int64_t flags)
{
    if ((flags & 4) || (flags & 3) == 3)
        return NAN;
    return (flags & 1) ? INFINITY : -INFINITY;
}

double h5div_acc_round(const h5div_acc *a)
{
    if (a->nonfinite)
        return nonfinite_value(a->nonfinite);
    h5div_acc t = *a;
    h5div_acc_normalize(&t);
    int neg = t.limb[H5DIV_ACC_LIMBS - 1] < 0;
    if (neg) {
        for (int k = 0; k < H5DIV_ACC_LIMBS; k++)
            t.limb[k] = -t.limb[k];
        h5div_acc_normalize(&t);
    }
    int top = H5DIV_ACC_LIMBS - 1;
    while (top >= 0 && t.limb[top] == 0)
        top--;
    if (top < 0)
        return 0.0;
    /* Gather the top three limbs (up to 126 bits: the top limb is not reduced)
     * and a sticky bit for the rest. A nonzero sum of doubles is a multiple
     * of 2^-1074, so top >= 2 and the shifts below stay under 128 bits. */
    unsigned __int128 w = 0;
    int low = top - 2;
    for (int k = top; k >= low; k--)
        w = (w << LIMB_BITS) | (uint64_t)(k >= 0 ? t.limb[k] : 0);
    int sticky = 0;
    for (int k = low - 1; k >= 0; k--)
        if (t.limb[k]) {
            sticky = 1;
            break;
        }
    int nbits = 0;
    for (unsigned __int128 v = w; v; v >>= 1)
        nbits++;
    /* Exponent of the least significant bit of w. */
    int lsb_exp = LIMB_BITS * low + H5DIV_ACC_EMIN;
    /* Keep 53 significant bits, but never below the subnormal step 2^-1074
     * (the exact sum of doubles is a multiple of 2^-1074 anyway). */
    int drop = nbits - 53;
    if (lsb_exp + drop < -1074)
        drop = -1074 - lsb_exp;
    uint64_t mant;
    if (drop > 0) {
        unsigned __int128 rem = w & ((((unsigned __int128)1) << drop) - 1);
        unsigned __int128 half = ((unsigned __int128)1) << (drop - 1);
        mant = (uint64_t)(w >> drop);
        int up = rem > half || (rem == half && (sticky || (mant & 1)));
        mant += (uint64_t)up;
    } else {
        /* Fewer than 53 bits in w means nothing below it: exact. */
        mant = (uint64_t)w;
        drop = 0;
    }
    double r = ldexp((double)mant, lsb_exp + drop);
    return neg ? -r : r;
}

void h5div_acc_round3(const h5div_acc *a, double *hi, double *lo, double *lo2)
{
    *hi = h5div_acc_round(a);
    *lo = *lo2 = 0.0;
    if (!isfinite(*hi))
        return;
    h5div_acc t = *a;
    h5div_acc_add(&t, -*hi);
    *lo = h5div_acc_round(&t);
    h5div_acc_add(&t, -*lo);
    *lo2 = h5div_acc_round(&t);
}

int h5div_acc_parts(const h5div_acc *a, double parts[H5DIV_ACC_PARTS])
{
    parts[0] = h5div_acc_round(a);
    if (!isfinite(parts[0]) || parts[0] == 0.0)
        return 1;
    h5div_acc t = *a;
    int n = 1;
    for (h5div_acc_add(&t, -parts[0]); n < H5DIV_ACC_PARTS; n++) {
        const double v = h5div_acc_round(&t);
        if (v == 0.0)
            break;
        parts[n] = v;
        h5div_acc_add(&t, -v);
    }
    return n;
}

void h5div_acc_round2(const h5div_acc *a, double *hi, double *lo)
{
    *hi = h5div_acc_round(a);
    if (!isfinite(*hi)) {
        *lo = 0.0;
        return;
    }
    h5div_acc t = *a;
    h5div_acc_add(&t, -*hi);
    *lo = h5div_acc_round(&t);
}

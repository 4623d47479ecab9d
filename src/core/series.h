/* SPDX-License-Identifier: BSD-3-Clause */
/* Series of the divergence terms near p = q, shared by the compare and joint kernels. */
#ifndef H5DIV_CORE_SERIES_H
#define H5DIV_CORE_SERIES_H

/* Below this |u| the divergence terms use their series: the closed forms
 * cancel to first order there. At the switch the closed forms lose at most
 * a factor 64 to cancellation (about 1.4e-14 relative). */
#define H5DIV_SERIES_LIMIT 0.03125

/* ((1+u) log1p(u) - u) / u^2 by its series, for |u| < H5DIV_SERIES_LIMIT. */
static inline double h5div_kl_series_sq(double u)
{
    /* sum_{k>=2} (-1)^k u^k / (k (k-1)); |u| < 1/32 needs terms to k = 14. */
    double s = 1.0 / 182;
    s = s * u - 1.0 / 156;
    s = s * u + 1.0 / 132;
    s = s * u - 1.0 / 110;
    s = s * u + 1.0 / 90;
    s = s * u - 1.0 / 72;
    s = s * u + 1.0 / 56;
    s = s * u - 1.0 / 42;
    s = s * u + 1.0 / 30;
    s = s * u - 1.0 / 20;
    s = s * u + 1.0 / 12;
    s = s * u - 1.0 / 6;
    return s * u + 0.5;
}

/* (1+u) log1p(u) - u, the generalised KL term divided by q; >= 0. */
static inline double h5div_kl_series(double u)
{
    return h5div_kl_series_sq(u) * u * u;
}

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* Exact, order-independent reductions of accumulators with a user-defined MPI_Op. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "par/par.h"

/* Limb-wise integer addition of normalised accumulators is exact and
 * associative, so the reduction tree MPI picks cannot change the result. */
static void acc_sum_op(void *in, void *inout, int *len, MPI_Datatype *type)
{
    (void)type;
    const h5div_acc *a = in;
    h5div_acc *b = inout;
    for (int i = 0; i < *len; i++) {
        for (int k = 0; k < H5DIV_ACC_LIMBS; k++)
            b[i].limb[k] += a[i].limb[k];
        b[i].nonfinite |= a[i].nonfinite;
        /* Each limb grew by < 2^32; renormalise so further merges stay safe. */
        h5div_acc_normalize(&b[i]);
    }
}

/* Allreduce, or with `exscan` an exclusive prefix (rank 0 gets zeros),
 * of n accumulators with the exact sum. */
static int acc_collective(MPI_Comm comm, h5div_acc *acc, int n, int exscan)
{
    static h5div_par_op acc_sum;
    H5DIV_CHECK(h5div_par_op_get(&acc_sum, acc_sum_op, (int)(sizeof(h5div_acc) / sizeof(int64_t)),
                                 MPI_INT64_T));
    for (int i = 0; i < n; i++)
        h5div_acc_normalize(&acc[i]);
    int rc;
    if (exscan) {
        h5div_acc *in = malloc((size_t)(n ? n : 1) * sizeof *in);
        if (!in)
            return h5div_mpi_failed(MPI_ERR_NO_MEM, "malloc(exscan)", __FILE__, __LINE__);
        memcpy(in, acc, (size_t)n * sizeof *in);
        rc = MPI_Exscan(in, acc, n, acc_sum.type, acc_sum.op, comm);
        free(in);
        int rank = 0;
        MPI_Comm_rank(comm, &rank);
        if (rank == 0) /* MPI leaves rank 0's result undefined: nothing precedes it */
            for (int i = 0; i < n; i++)
                h5div_acc_init(&acc[i]);
    } else {
        rc = MPI_Allreduce(MPI_IN_PLACE, acc, n, acc_sum.type, acc_sum.op, comm);
    }
    if (rc != MPI_SUCCESS)
        return h5div_mpi_failed(rc,
                                exscan ? "MPI_Exscan(accumulators)" : "MPI_Allreduce(accumulators)",
                                __FILE__, __LINE__);
    return H5DIV_OK;
}

int h5div_par_sum_acc(MPI_Comm comm, h5div_acc *acc, int n)
{
    return acc_collective(comm, acc, n, 0);
}

int h5div_par_exscan_acc(MPI_Comm comm, h5div_acc *acc, int n)
{
    return acc_collective(comm, acc, n, 1);
}

/* The windowed sums of every partial raised to their global top windows,
 * so that the accumulators then add term for term. */
static int raise_windows(MPI_Comm comm, h5div_compare_partial *part, int n,
                         const h5div_term_params *tp)
{
    if (!tp->win_mask)
        return H5DIV_OK;
    const size_t nw = 2 * H5DIV_RENYI_MAX;
    int32_t *w = malloc((size_t)n * nw * sizeof *w);
    if (!w)
        return h5div_mpi_failed(MPI_ERR_NO_MEM, "malloc(windows)", __FILE__, __LINE__);
    for (int i = 0; i < n; i++)
        memcpy(w + (size_t)i * nw, part[i].win, sizeof part[i].win);
    int rc = MPI_Allreduce(MPI_IN_PLACE, w, n * (int)nw, MPI_INT32_T, MPI_MAX, comm);
    if (rc == MPI_SUCCESS)
        for (int i = 0; i < n; i++)
            h5div_compare_partial_raise(&part[i], tp, w + (size_t)i * nw);
    free(w);
    return rc == MPI_SUCCESS ? H5DIV_OK
                             : h5div_mpi_failed(rc, "MPI_Allreduce(windows)", __FILE__, __LINE__);
}

int h5div_par_sum_compare(MPI_Comm comm, h5div_compare_partial *part, int n,
                          const h5div_term_params *tp)
{
    const uint64_t mask = tp->mask;
    H5DIV_CHECK(raise_windows(comm, part, n, tp));
    int na = 0;
    for (int t = 0; t < H5DIV_T_COUNT; t++)
        na += (int)((mask >> t) & 1u);
    size_t nacc = (size_t)n * (size_t)na;
    h5div_acc *acc = malloc((nacc ? nacc : 1) * sizeof *acc);
    int64_t *counts = malloc((size_t)(2 * n + 1) * sizeof *counts);
    double *ks = malloc((size_t)(n + 1) * sizeof *ks);
    int st = acc && counts && ks ? H5DIV_OK : H5DIV_EINTERNAL;
    if (st != H5DIV_OK)
        h5div_mpi_failed(MPI_ERR_NO_MEM, "malloc(partials)", __FILE__, __LINE__);
    /* Only the accumulators of the terms in use travel. */
    for (int i = 0, k = 0; st == H5DIV_OK && i < n; i++) {
        for (int t = 0; t < H5DIV_T_COUNT; t++)
            if (mask & H5DIV_TBIT(t))
                acc[k++] = part[i].acc[t];
        counts[2 * i] = part[i].p_without_q;
        counts[2 * i + 1] = part[i].q_without_p;
        ks[i] = part[i].ks;
    }
    if (st == H5DIV_OK)
        st = h5div_par_sum_acc(comm, acc, (int)nacc);
    if (st == H5DIV_OK) {
        int rc = MPI_Allreduce(MPI_IN_PLACE, counts, 2 * n, MPI_INT64_T, MPI_SUM, comm);
        if (rc == MPI_SUCCESS)
            rc = MPI_Allreduce(MPI_IN_PLACE, ks, n, MPI_DOUBLE, MPI_MAX, comm);
        if (rc != MPI_SUCCESS)
            st = h5div_mpi_failed(rc, "MPI_Allreduce(partials)", __FILE__, __LINE__);
    }
    for (int i = 0, k = 0; st == H5DIV_OK && i < n; i++) {
        for (int t = 0; t < H5DIV_T_COUNT; t++)
            if (mask & H5DIV_TBIT(t))
                part[i].acc[t] = acc[k++];
        part[i].p_without_q = counts[2 * i];
        part[i].q_without_p = counts[2 * i + 1];
        part[i].ks = ks[i];
    }
    free(acc);
    free(counts);
    free(ks);
    return st;
}

int h5div_par_totals(MPI_Comm comm, h5div_acc tot[2], double alpha, const char *p_name,
                     const char *q_name, h5div_norm *nm, double parts[2][H5DIV_ACC_PARTS],
                     h5div_compare_result *result, char *errmsg, size_t errlen)
{
    H5DIV_CHECK(h5div_par_sum_acc(comm, tot, 2));
    const int na = h5div_acc_parts(&tot[0], parts[0]), nb = h5div_acc_parts(&tot[1], parts[1]);
    const double a_hi = parts[0][0], b_hi = parts[1][0];
    /* Every rank sees the same totals, so they all take the same branch. */
    if (a_hi == 0.0 || b_hi == 0.0) {
        h5div_set_error(errmsg, errlen, "histogram is all zeros (%s)",
                        a_hi > 0.0 ? q_name : p_name);
        return H5DIV_EINPUT;
    }
    if (!isfinite(a_hi) || !isfinite(b_hi)) {
        h5div_set_error(errmsg, errlen, "histogram total overflows a double (%s)",
                        a_hi == INFINITY ? p_name : q_name);
        return H5DIV_EINPUT;
    }
    h5div_norm_init_parts(nm, parts[0], na, parts[1], nb, alpha);
    (void)result;
    return H5DIV_OK;
}

int h5div_par_finish(MPI_Comm comm, h5div_compare_partial *part, const h5div_options *opt,
                     h5div_compare_result *result)
{
    h5div_term_params tp;
    h5div_term_params_init(&tp, opt);
    H5DIV_CHECK(h5div_par_sum_compare(comm, part, 1, &tp));
    h5div_compare_finish(part, opt, result);
    return H5DIV_OK;
}

int h5div_check_options(const h5div_options *opt, char *errmsg, size_t errlen)
{
    if (!opt) {
        h5div_set_error(errmsg, errlen, "no options given (h5div_options)");
        return H5DIV_EUSAGE;
    }
    if (!(opt->pseudocount >= 0.0) || opt->pseudocount == INFINITY) {
        h5div_set_error(errmsg, errlen, "pseudocount must be a finite number >= 0 (%g)",
                        opt->pseudocount);
        return H5DIV_EUSAGE;
    }
    if (opt->base != H5DIV_BASE_2 && opt->base != H5DIV_BASE_E && opt->base != H5DIV_BASE_10) {
        h5div_set_error(errmsg, errlen, "unknown logarithm base (%d)", (int)opt->base);
        return H5DIV_EUSAGE;
    }
    if (opt->piece_bytes < sizeof(double) || opt->memory_per_rank < sizeof(double)) {
        h5div_set_error(errmsg, errlen, "piece size and memory per rank must be at least 8 bytes");
        return H5DIV_EUSAGE;
    }
    if (!opt->measures || (opt->measures & ~(unsigned)H5DIV_COMPARE_ALL)) {
        h5div_set_error(errmsg, errlen, "no valid measure selected (measures)");
        return H5DIV_EUSAGE;
    }
    return h5div_check_compare_extras(opt, errmsg, errlen);
}

int h5div_agree_options(MPI_Comm comm, const h5div_options *opt, char *errmsg, size_t errlen)
{
    int st = h5div_check_options(opt, errmsg, errlen);
    return h5div_par_agree(comm, st, errmsg, errlen);
}

int h5div_check_compare_extras(const h5div_options *opt, char *errmsg, size_t errlen)
{
    for (int qp = 0; qp < 2; qp++) {
        int n = qp ? opt->n_renyi_qp : opt->n_renyi_pq;
        const double *A = qp ? opt->renyi_qp : opt->renyi_pq;
        unsigned bit = H5DIV_MEASURE_BIT(qp ? H5DIV_RENYI_QP : H5DIV_RENYI_PQ);
        if (n < 0 || n > H5DIV_RENYI_MAX || (n > 0) != ((opt->measures & bit) != 0)) {
            h5div_set_error(errmsg, errlen,
                            "between 1 and %d orders of renyi_%s must be given "
                            "with the measure (%d orders)",
                            H5DIV_RENYI_MAX, qp ? "qp" : "pq", n);
            return H5DIV_EUSAGE;
        }
        for (int i = 0; i < n; i++)
            if (!(A[i] > 0.0) || A[i] == 1.0 || !isfinite(A[i])) {
                h5div_set_error(errmsg, errlen,
                                "a Renyi order must be a finite number > 0 other than 1 "
                                "(renyi_%s:%g)",
                                qp ? "qp" : "pq", A[i]);
                return H5DIV_EUSAGE;
            }
    }
    if (!(opt->bin_width > 0.0) || !isfinite(opt->bin_width)) {
        h5div_set_error(errmsg, errlen, "bin width must be a finite number > 0 (%g)",
                        opt->bin_width);
        return H5DIV_EUSAGE;
    }
    return H5DIV_OK;
}

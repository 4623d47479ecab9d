/* SPDX-License-Identifier: BSD-3-Clause */
/* Exact, order-independent reductions of accumulators with a user-defined MPI_Op. */
#include <math.h>
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

int h5div_par_sum_acc(MPI_Comm comm, h5div_acc *acc, int n)
{
    MPI_Datatype type;
    MPI_Op op;
    for (int i = 0; i < n; i++)
        h5div_acc_normalize(&acc[i]);
    H5DIV_MPI_CHECK(MPI_Type_contiguous((int)(sizeof(h5div_acc) / sizeof(int64_t)), MPI_INT64_T,
                                        &type));
    H5DIV_MPI_CHECK(MPI_Type_commit(&type));
    H5DIV_MPI_CHECK(MPI_Op_create(acc_sum_op, 1, &op));
    int rc = MPI_Allreduce(MPI_IN_PLACE, acc, n, type, op, comm);
    MPI_Op_free(&op);
    MPI_Type_free(&type);
    if (rc != MPI_SUCCESS)
        return h5div_mpi_failed(rc, "MPI_Allreduce(accumulators)", __FILE__, __LINE__);
    return H5DIV_OK;
}

int h5div_par_sum_compare(MPI_Comm comm, h5div_compare_partial *part)
{
    H5DIV_CHECK(h5div_par_sum_acc(comm, part->acc, H5DIV_T_COUNT));
    int64_t counts[2] = {part->p_without_q, part->q_without_p};
    H5DIV_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, counts, 2, MPI_INT64_T, MPI_SUM, comm));
    part->p_without_q = counts[0];
    part->q_without_p = counts[1];
    return H5DIV_OK;
}

int h5div_par_totals(MPI_Comm comm, h5div_acc tot[2], double alpha, const char *p_name,
                     const char *q_name, h5div_norm *nm, h5div_compare_result *result,
                     char *errmsg, size_t errlen)
{
    H5DIV_CHECK(h5div_par_sum_acc(comm, tot, 2));
    double a_hi, a_lo, b_hi, b_lo;
    h5div_acc_round2(&tot[0], &a_hi, &a_lo);
    h5div_acc_round2(&tot[1], &b_hi, &b_lo);
    /* Every rank sees the same totals, so they all take the same branch. */
    if (a_hi == 0.0 || b_hi == 0.0) {
        h5div_set_error(errmsg, errlen, "histogram is all zeros (%s)", a_hi > 0.0 ? q_name : p_name);
        return H5DIV_EINPUT;
    }
    if (!isfinite(a_hi) || !isfinite(b_hi)) {
        h5div_set_error(errmsg, errlen, "histogram total overflows a double (%s)",
                        a_hi == INFINITY ? p_name : q_name);
        return H5DIV_EINPUT;
    }
    h5div_norm_init(nm, a_hi, a_lo, b_hi, b_lo, alpha);
    result->total_p = a_hi;
    result->total_q = b_hi;
    return H5DIV_OK;
}

int h5div_par_finish(MPI_Comm comm, h5div_compare_partial *part, const h5div_options *opt,
                     h5div_compare_result *result)
{
    H5DIV_CHECK(h5div_par_sum_compare(comm, part));
    h5div_compare_finish(part, opt->measures, (int)opt->base, result->value);
    result->computed = opt->measures;
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
    return H5DIV_OK;
}

int h5div_agree_options(MPI_Comm comm, const h5div_options *opt, char *errmsg, size_t errlen)
{
    int st = h5div_check_options(opt, errmsg, errlen);
    return h5div_par_agree(comm, st, errmsg, errlen);
}

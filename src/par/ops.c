/* SPDX-License-Identifier: BSD-3-Clause */
/* User-defined reductions made once per process and freed at MPI_Finalize. */
#include "par/par.h"

#define OPS_MAX 8

static h5div_par_op *made[OPS_MAX];
static int nmade, keyval = MPI_KEYVAL_INVALID;

/* MPI_Finalize deletes the attributes of MPI_COMM_SELF first, while MPI is
 * still usable: the place to free what h5div_par_op_get made. */
static int free_ops(MPI_Comm comm, int key, void *value, void *extra)
{
    (void)comm, (void)key, (void)value, (void)extra;
    for (int i = 0; i < nmade; i++) {
        MPI_Op_free(&made[i]->op);
        MPI_Type_free(&made[i]->type);
        made[i]->ready = 0;
    }
    nmade = 0;
    MPI_Comm_free_keyval(&keyval);
    keyval = MPI_KEYVAL_INVALID;
    return MPI_SUCCESS;
}

int h5div_par_op_get(h5div_par_op *o, MPI_User_function *fn, int words, MPI_Datatype word)
{
    if (o->ready)
        return H5DIV_OK;
    if (nmade == OPS_MAX)
        return h5div_mpi_failed(MPI_ERR_INTERN, "h5div_par_op_get(more than 8 ops)", __FILE__,
                                __LINE__);
    if (keyval == MPI_KEYVAL_INVALID) {
        H5DIV_MPI_CHECK(MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, free_ops, &keyval, NULL));
        H5DIV_MPI_CHECK(MPI_Comm_set_attr(MPI_COMM_SELF, keyval, NULL));
    }
    H5DIV_MPI_CHECK(MPI_Type_contiguous(words, word, &o->type));
    H5DIV_MPI_CHECK(MPI_Type_commit(&o->type));
    H5DIV_MPI_CHECK(MPI_Op_create(fn, 1, &o->op));
    o->ready = 1;
    made[nmade++] = o;
    return H5DIV_OK;
}

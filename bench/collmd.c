/* SPDX-License-Identifier: BSD-3-Clause */
/* collmd: a preload library that turns on HDF5's collective metadata
 * operations in a program's file opens and metadata look-ups, so their
 * effect can be measured without changing the program:
 *   mpirun -n 4 -x LD_PRELOAD=libcollmd.so:libmpicount.so PROGRAM ...
 * It wraps, in the shared HDF5 library:
 *   H5Pset_fapl_mpio   adds H5Pset_all_coll_metadata_ops(fapl, 1) and
 *                      H5Pset_coll_metadata_write(fapl, 1);
 *   H5Lexists, H5Oget_info_by_name, H5Dopen2, H5Gopen2, H5Aexists, H5Aopen
 *                      replace an H5P_DEFAULT access list by one with
 *                      H5Pset_all_coll_metadata_ops(apl, 1)
 *                      (COLLMD_APL=0 leaves them alone: file list only).
 * Every rank must then make these calls collectively, as h5div does. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

static void *next_sym(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        fprintf(stderr, "collmd: %s not found\n", name);
        abort();
    }
    return p;
}

/* next_: the wrapped function FN of the HDF5 library (same type as ours). */
#define NEXT(fn)                                                                                   \
    static __typeof__(fn) *next_;                                                                  \
    if (!next_)                                                                                    \
    *(void **)&next_ = next_sym(#fn)

/* An access list of class CLS with collective metadata reads, or DEFAULT
 * unchanged when COLLMD_APL=0 or the list cannot be made. */
static hid_t coll_apl(hid_t given, hid_t cls, hid_t *cache)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("COLLMD_APL");
        on = !(e && e[0] == '0');
    }
    if (given != H5P_DEFAULT || !on)
        return given;
    if (*cache <= 0) {
        hid_t p = H5Pcreate(cls);
        if (p < 0 || H5Pset_all_coll_metadata_ops(p, 1) < 0)
            return given;
        *cache = p;
    }
    return *cache;
}

static hid_t lapl_cache, dapl_cache, gapl_cache, aapl_cache;

herr_t H5Pset_fapl_mpio(hid_t fapl, MPI_Comm comm, MPI_Info info)
{
    NEXT(H5Pset_fapl_mpio);
    herr_t rc = next_(fapl, comm, info);
    if (rc >= 0 &&
        (H5Pset_all_coll_metadata_ops(fapl, 1) < 0 || H5Pset_coll_metadata_write(fapl, 1) < 0))
        rc = -1;
    return rc;
}

htri_t H5Lexists(hid_t loc, const char *name, hid_t lapl)
{
    NEXT(H5Lexists);
    return next_(loc, name, coll_apl(lapl, H5P_LINK_ACCESS, &lapl_cache));
}

herr_t H5Oget_info_by_name(hid_t loc, const char *name, H5O_info_t *info, hid_t lapl)
{
    NEXT(H5Oget_info_by_name);
    return next_(loc, name, info, coll_apl(lapl, H5P_LINK_ACCESS, &lapl_cache));
}

hid_t H5Dopen2(hid_t loc, const char *name, hid_t dapl)
{
    NEXT(H5Dopen2);
    return next_(loc, name, coll_apl(dapl, H5P_DATASET_ACCESS, &dapl_cache));
}

hid_t H5Gopen2(hid_t loc, const char *name, hid_t gapl)
{
    NEXT(H5Gopen2);
    return next_(loc, name, coll_apl(gapl, H5P_GROUP_ACCESS, &gapl_cache));
}

htri_t H5Aexists(hid_t obj, const char *name)
{
    NEXT(H5Aexists);
    return next_(obj, name);
}

hid_t H5Aopen(hid_t obj, const char *name, hid_t aapl)
{
    NEXT(H5Aopen);
    return next_(obj, name, coll_apl(aapl, H5P_ATTRIBUTE_ACCESS, &aapl_cache));
}

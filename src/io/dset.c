/* SPDX-License-Identifier: BSD-3-Clause */
/* Opening, validating and reading shards of 1-D histogram datasets with parallel HDF5. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io.h"
#include "par/par.h"

void h5div_h5_quiet_begin(h5div_h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void h5div_h5_quiet_end(const h5div_h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

int h5div_h5_failed(const char *what, const char *file, int line)
{
    if (getenv("H5DIV_DEBUG")) {
        fprintf(stderr, "h5div: %s:%d: %s failed\n", file, line, what);
        H5Eprint2(H5E_DEFAULT, stderr);
    }
    return -1;
}

int h5div_ref_split(const char *ref, char *file, size_t file_len, char *path, size_t path_len)
{
    const char *colon = NULL;
    for (const char *c = ref; *c; c++)
        if (c[0] == ':' && c[1] == '/')
            colon = c;
    if (!colon || colon == ref)
        return H5DIV_EUSAGE;
    size_t n = (size_t)(colon - ref);
    if (n >= file_len || strlen(colon + 1) >= path_len)
        return H5DIV_EUSAGE;
    memcpy(file, ref, n);
    file[n] = '\0';
    snprintf(path, path_len, "%s", colon + 1);
    return H5DIV_OK;
}

int h5div_h5_path_walk(hid_t loc, const char *path, h5div_h5_path_fn fn, void *ctx)
{
    char buf[H5DIV_REF_MAX];
    size_t len = strlen(path);
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        if (buf[i - 1] == '/')
            continue;
        /* "." is the group it is in (H5Lexists refuses it as a link name) */
        if (buf[i - 1] == '.' && (i == 1 || buf[i - 2] == '/'))
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        int r = fn(ctx, loc, buf, i == len);
        buf[i] = saved;
        if (r != 0)
            return r;
    }
    return 0;
}

/* Stops (1) at the first missing component, (2) on an error. */
static int component_exists(void *ctx, hid_t loc, const char *prefix, int last)
{
    (void)ctx, (void)last;
    htri_t e = H5Lexists(loc, prefix, H5P_DEFAULT);
    return e > 0 ? 0 : e == 0 ? 1 : 2;
}

int h5div_h5_path_exists(hid_t loc, const char *path)
{
    /* H5Lexists fails on a missing intermediate group, so walk the path. */
    int r = h5div_h5_path_walk(loc, path, component_exists, NULL);
    return r == 0 ? 1 : r == 1 ? 0 : -1;
}

static int open_file(MPI_Comm comm, const char *name, const char *ref, hid_t *file, char *msg,
                     size_t len)
{
    struct stat sb;
    if (stat(name, &sb) != 0) {
        h5div_set_error(msg, len, "cannot open input file: %s (%s)", strerror(errno), ref);
        return H5DIV_EINPUT;
    }
    if (S_ISDIR(sb.st_mode)) {
        h5div_set_error(msg, len, "input is a directory, not an HDF5 file (%s)", ref);
        return H5DIV_EINPUT;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0) {
        if (fapl >= 0)
            H5Pclose(fapl);
        h5div_set_error(msg, len, "cannot set up the MPI-IO driver (%s)", ref);
        return H5DIV_EINTERNAL;
    }
    *file = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (*file < 0) {
        h5div_set_error(msg, len, "cannot open input file: not an HDF5 file or unreadable (%s)",
                        ref);
        return H5DIV_EINPUT;
    }
    return H5DIV_OK;
}

/* A contiguous dataset whose declared extent runs past the end of its file
 * (a damaged or truncated file) is refused before a pass over it. */
static int check_extent(const h5div_dset *d, char *msg, size_t len)
{
    haddr_t off = H5Dget_offset(d->dset);
    hsize_t eof = 0;
    hid_t type = H5Dget_type(d->dset);
    size_t size = type >= 0 ? H5Tget_size(type) : 0;
    if (type >= 0)
        H5Tclose(type);
    /* The file the dataset is in: through an external link (a run linked
     * into an index of runs) not the one opened. */
    hid_t in = H5Iget_file_id(d->dset);
    int known = in >= 0 && H5Fget_filesize(in, &eof) >= 0;
    if (in >= 0)
        H5Fclose(in);
    if (off == HADDR_UNDEF || !known || size == 0)
        return H5DIV_OK;
    unsigned __int128 end = (unsigned __int128)off + (unsigned __int128)d->bins * size;
    if (end > eof) {
        h5div_set_error(msg, len,
                        "dataset is declared larger than its file: %llu values of %zu bytes at "
                        "offset %llu, the file has %llu bytes (%s)",
                        (unsigned long long)d->bins, size, (unsigned long long)off,
                        (unsigned long long)eof, d->ref);
        return H5DIV_EINPUT;
    }
    return H5DIV_OK;
}

/* Dataset `path` of d->file opened as d->dset. */
static int open_object(h5div_dset *d, const char *path, char *msg, size_t len)
{
    int e = h5div_h5_path_exists(d->file, path);
    if (e <= 0) {
        h5div_set_error(msg, len, "no such dataset (%s)", d->ref);
        return H5DIV_EINPUT;
    }
    H5O_info_t info;
    if (H5Oget_info_by_name(d->file, path, &info, H5P_DEFAULT) < 0) {
        h5div_set_error(msg, len, "cannot read object information (%s)", d->ref);
        return H5DIV_EINPUT;
    }
    if (info.type != H5O_TYPE_DATASET) {
        h5div_set_error(msg, len, "not a dataset but a %s (%s)",
                        info.type == H5O_TYPE_GROUP ? "group" : "named datatype", d->ref);
        return H5DIV_EINPUT;
    }
    d->dset = H5Dopen2(d->file, path, H5P_DEFAULT);
    if (d->dset < 0) {
        h5div_set_error(msg, len, "cannot open dataset (%s)", d->ref);
        return H5DIV_EINPUT;
    }
    return H5DIV_OK;
}

/* The memory type d's values are read as: 64-bit integers of its sign, or
 * double; other types are an input error. */
static int read_type(h5div_dset *d, char *msg, size_t len)
{
    hid_t type = H5Dget_type(d->dset);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    if (cls == H5T_INTEGER) {
        d->memtype = H5Tget_sign(type) == H5T_SGN_NONE ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64;
        d->wide = H5Tget_size(type) > 6; /* values above 2^53 possible */
    } else if (cls == H5T_FLOAT && H5Tget_size(type) <= 8)
        d->memtype = H5T_NATIVE_DOUBLE;
    if (type >= 0)
        H5Tclose(type);
    if (d->memtype >= 0)
        return H5DIV_OK;
    static const char *const names[] = {"integer",  "float",           "time",     "string",
                                        "bitfield", "opaque",          "compound", "reference",
                                        "enum",     "variable-length", "array"};
    const char *what = cls >= 0 && cls < 11 ? names[cls] : "unknown";
    h5div_set_error(msg, len, "dataset type is %s, not an integer or float type (%s)", what,
                    d->ref);
    return H5DIV_EINPUT;
}

/* A 2-D dataset's rows and columns (want_ndims 2: a joint histogram). */
static int shape_2d(h5div_dset *d, int want_ndims, char *msg, size_t len)
{
    hsize_t dims2[2] = {0, 0};
    H5Sget_simple_extent_dims(d->filespace, dims2, NULL);
    d->rows = (uint64_t)dims2[0];
    d->cols = (uint64_t)dims2[1];
    d->bins = d->rows * d->cols;
    if (d->bins == 0) {
        if (want_ndims == 2)
            h5div_set_error(msg, len, "joint histogram is empty: %llu x %llu cells (%s)",
                            (unsigned long long)d->rows, (unsigned long long)d->cols, d->ref);
        else
            h5div_set_error(msg, len, "histograms are empty: %llu rows of %llu bins (%s)",
                            (unsigned long long)d->rows, (unsigned long long)d->cols, d->ref);
        return H5DIV_EINPUT;
    }
    return check_extent(d, msg, len);
}

/* The dimensions of d: 1 (want_ndims 1), 2 (want_ndims 2), or either
 * (want_ndims 0). */
static int shape(h5div_dset *d, int want_ndims, char *msg, size_t len)
{
    d->filespace = H5Dget_space(d->dset);
    int ndims = d->filespace >= 0 ? H5Sget_simple_extent_ndims(d->filespace) : -1;
    if (want_ndims == 2 && ndims != 2) {
        h5div_set_error(msg, len,
                        "dataset has %d dimensions, expected a 2-D joint histogram [nx, ny] (%s)",
                        ndims, d->ref);
        return H5DIV_EINPUT;
    }
    if (want_ndims != 1 && ndims == 2)
        return shape_2d(d, want_ndims, msg, len);
    if (ndims == 2)
        h5div_set_error(msg, len,
                        "2-D datasets (one histogram per row) are not accepted here; "
                        "give a 1-D histogram (%s)",
                        d->ref);
    else if (ndims != 1 && want_ndims == 0)
        h5div_set_error(msg, len,
                        "dataset has %d dimensions, expected a 1-D histogram or a 2-D "
                        "[m, n] array of m histograms (%s)",
                        ndims, d->ref);
    else if (ndims != 1)
        h5div_set_error(msg, len, "dataset has %d dimensions, expected a 1-D histogram (%s)", ndims,
                        d->ref);
    if (ndims != 1)
        return H5DIV_EINPUT;
    hsize_t dims[1];
    H5Sget_simple_extent_dims(d->filespace, dims, NULL);
    d->bins = (uint64_t)dims[0];
    if (d->bins == 0) {
        h5div_set_error(msg, len, "histogram is empty: 0 bins (%s)", d->ref);
        return H5DIV_EINPUT;
    }
    return check_extent(d, msg, len);
}

/* Everything that can be checked from metadata: all ranks see the same
 * metadata, but they still agree on the outcome. */
static int open_dataset(h5div_dset *d, const char *path, int want_ndims, char *msg, size_t len)
{
    H5DIV_CHECK(open_object(d, path, msg, len));
    H5DIV_CHECK(read_type(d, msg, len));
    return shape(d, want_ndims, msg, len);
}

static int dset_open(MPI_Comm comm, const char *ref, int want_ndims, h5div_dset *d, char *errmsg,
                     size_t errlen)
{
    char msg[1024] = "", name[H5DIV_REF_MAX], path[H5DIV_REF_MAX];
    d->file = d->dset = d->filespace = d->memtype = H5I_INVALID_HID;
    d->wide = 0;
    d->bins = d->rows = d->cols = 0;
    snprintf(d->ref, sizeof d->ref, "%s", ref);
    int st = H5DIV_OK;
    if (strlen(ref) >= sizeof d->ref) {
        h5div_set_error(msg, sizeof msg,
                        "dataset reference is longer than %d characters (%.64s...)",
                        H5DIV_REF_MAX - 1, ref);
        st = H5DIV_EINPUT;
    } else if (h5div_ref_split(ref, name, sizeof name, path, sizeof path) != H5DIV_OK) {
        /* A reference without a dataset path names no dataset: an input error. */
        h5div_set_error(msg, sizeof msg, "no dataset named; a reference looks like FILE:/path (%s)",
                        ref);
        st = H5DIV_EINPUT;
    }
    /* Agree before H5Fopen: it is collective, and a rank that cannot even
     * stat the file must not leave the others inside it. */
    if (st == H5DIV_OK) {
        struct stat sb;
        if (stat(name, &sb) != 0 || S_ISDIR(sb.st_mode))
            st = open_file(comm, name, ref, &d->file, msg, sizeof msg);
    }
    st = h5div_par_agree(comm, st, msg, sizeof msg);
    if (st == H5DIV_OK) {
        st = open_file(comm, name, ref, &d->file, msg, sizeof msg);
        st = h5div_par_agree(comm, st, msg, sizeof msg);
    }
    if (st == H5DIV_OK) {
        st = open_dataset(d, path, want_ndims, msg, sizeof msg);
        st = h5div_par_agree(comm, st, msg, sizeof msg);
    }
    if (st != H5DIV_OK) {
        h5div_dset_close(d);
        h5div_set_error(errmsg, errlen, "%s", msg);
    }
    return st;
}

int h5div_dset_open(MPI_Comm comm, const char *ref, h5div_dset *d, char *errmsg, size_t errlen)
{
    return dset_open(comm, ref, 1, d, errmsg, errlen);
}

int h5div_dset_open_batch(MPI_Comm comm, const char *ref, h5div_dset *d, char *errmsg,
                          size_t errlen)
{
    return dset_open(comm, ref, 0, d, errmsg, errlen);
}

int h5div_dset_open_2d(MPI_Comm comm, const char *ref, h5div_dset *d, char *errmsg, size_t errlen)
{
    return dset_open(comm, ref, 2, d, errmsg, errlen);
}

/* Select bins [offset, offset + count) of a 2-D dataset in row-major order:
 * the tail of the first row, whole rows, the head of the last row. */
static herr_t select_flat(h5div_dset *d, uint64_t offset, uint64_t count)
{
    const uint64_t cols = d->cols, end = offset + count;
    uint64_t r0 = offset / cols, c0 = offset % cols, r1 = end / cols, c1 = end % cols;
    H5S_seloper_t op = H5S_SELECT_SET;
    herr_t rc = 0;
    if (r0 == r1) {
        hsize_t st[2] = {r0, c0}, ct[2] = {1, c1 - c0};
        return H5Sselect_hyperslab(d->filespace, op, st, NULL, ct, NULL);
    }
    if (c0) {
        hsize_t st[2] = {r0, c0}, ct[2] = {1, cols - c0};
        rc = H5Sselect_hyperslab(d->filespace, op, st, NULL, ct, NULL);
        op = H5S_SELECT_OR;
        r0++;
    }
    if (rc >= 0 && r1 > r0) {
        hsize_t st[2] = {r0, 0}, ct[2] = {r1 - r0, cols};
        rc = H5Sselect_hyperslab(d->filespace, op, st, NULL, ct, NULL);
        op = H5S_SELECT_OR;
    }
    if (rc >= 0 && c1) {
        hsize_t st[2] = {r1, 0}, ct[2] = {1, c1};
        rc = H5Sselect_hyperslab(d->filespace, op, st, NULL, ct, NULL);
    }
    return rc;
}

int h5div_dset_read(h5div_dset *d, uint64_t offset, size_t count, double *buf, int collective,
                    char *errmsg, size_t errlen)
{
    return h5div_dset_read_lo(d, offset, count, buf, NULL, NULL, collective, errmsg, errlen);
}

int h5div_dset_is_int64(const h5div_dset *d)
{
    return d->wide;
}

/* A read's selection: bins [a, a + n) in row-major order (box 0), or rows
 * [a, a + h) by columns [c, c + w) (box 1). */
typedef struct read_sel {
    int box;
    uint64_t a, n, h, c, w;
} read_sel;

static herr_t select_read(h5div_dset *d, const read_sel *r, hid_t mspace)
{
    if (!r->n) {
        herr_t sel = H5Sselect_none(d->filespace);
        return sel >= 0 ? H5Sselect_none(mspace) : sel;
    }
    if (r->box) {
        hsize_t start[2] = {r->a, r->c}, count[2] = {r->h, r->w};
        return H5Sselect_hyperslab(d->filespace, H5S_SELECT_SET, start, NULL, count, NULL);
    }
    if (d->rows)
        return select_flat(d, r->a, r->n);
    hsize_t off = (hsize_t)r->a, cnt = (hsize_t)r->n;
    return H5Sselect_hyperslab(d->filespace, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
}

static void read_failed(const h5div_dset *d, const read_sel *r, char *errmsg, size_t errlen)
{
    if (r->box)
        h5div_set_error(errmsg, errlen, "read failed at rows %llu..%llu, columns %llu..%llu (%s)",
                        (unsigned long long)r->a, (unsigned long long)(r->a + r->h),
                        (unsigned long long)r->c, (unsigned long long)(r->c + r->w), d->ref);
    else
        h5div_set_error(errmsg, errlen, "read failed at bins %llu..%llu (%s)",
                        (unsigned long long)r->a, (unsigned long long)(r->a + r->n), d->ref);
}

/* Read the selection r as doubles into buf, the remainders of 64-bit
 * integers into lo (may be NULL); *any_lo (may be NULL): whether one is
 * nonzero. Every rank calls it when collective (r->n may be 0). */
static int read_selection(h5div_dset *d, const read_sel *r, double *buf, double *lo, int *any_lo,
                          int collective, char *errmsg, size_t errlen)
{
    if (any_lo)
        *any_lo = 0;
    int st = H5DIV_OK;
    hsize_t one = r->n ? (hsize_t)r->n : 1;
    hid_t mspace = H5Screate_simple(1, &one, NULL);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (mspace < 0 || dxpl < 0 || select_read(d, r, mspace) < 0 ||
        H5Pset_dxpl_mpio(dxpl, collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT) < 0) {
        h5div_set_error(errmsg, errlen, "cannot set up a read (%s)", d->ref);
        st = H5DIV_EINTERNAL;
    } else if ((collective || r->n) &&
               H5Dread(d->dset, d->memtype, mspace, d->filespace, dxpl, buf) < 0) {
        read_failed(d, r, errmsg, errlen);
        st = H5DIV_EINPUT;
    }
    if (dxpl >= 0)
        H5Pclose(dxpl);
    if (mspace >= 0)
        H5Sclose(mspace);
    if (st != H5DIV_OK || !r->n)
        return st;
    int any = h5div_dset_to_double_lo(d, buf, lo, (size_t)r->n);
    if (any_lo)
        *any_lo = any;
    return st;
}

int h5div_dset_read_lo(h5div_dset *d, uint64_t offset, size_t count, double *buf, double *lo,
                       int *any_lo, int collective, char *errmsg, size_t errlen)
{
    const read_sel r = {0, offset, count, 0, 0, 0};
    return read_selection(d, &r, buf, lo, any_lo, collective, errmsg, errlen);
}

int h5div_dset_read_box(h5div_dset *d, uint64_t row, uint64_t h, uint64_t col, uint64_t w,
                        double *buf, double *lo, int collective, char *errmsg, size_t errlen)
{
    const read_sel r = {1, row, h * w, h, col, w};
    return read_selection(d, &r, buf, lo, NULL, collective, errmsg, errlen);
}

int h5div_dset_to_double_lo(const h5div_dset *d, double *buf, double *lo, size_t n)
{
    /* Integers arrive as 64-bit values in the same 8-byte slots; convert in
     * place (values above 2^53 round to the nearest double, and lo keeps
     * the rounding exactly: it is below 2^10 in magnitude). */
    int any = 0;
    if (H5Tequal(d->memtype, H5T_NATIVE_INT64) > 0) {
        const int64_t *v = (const int64_t *)(void *)buf;
        for (size_t i = 0; i < n; i++) {
            int64_t t = v[i];
            double h = (double)t, l = 0.0;
            if (lo && (t > (INT64_C(1) << 53) || t < -(INT64_C(1) << 53))) {
                /* h = 2^63 does not fit an int64: the distance from it. */
                l = h >= 0x1p63 ? -(double)(UINT64_C(0x8000000000000000) - (uint64_t)t)
                                : (double)(t - (int64_t)h);
                any |= l != 0.0;
            }
            buf[i] = h;
            if (lo)
                lo[i] = l;
        }
    } else if (H5Tequal(d->memtype, H5T_NATIVE_UINT64) > 0) {
        const uint64_t *v = (const uint64_t *)(void *)buf;
        for (size_t i = 0; i < n; i++) {
            uint64_t t = v[i];
            double h = (double)t, l = 0.0;
            if (lo && t > (UINT64_C(1) << 53)) {
                if (h >= 0x1p64) { /* 2^64 - t, as unsigned arithmetic gives it */
                    l = -(double)(uint64_t)(0 - t);
                } else {
                    uint64_t hu = (uint64_t)h;
                    l = t >= hu ? (double)(t - hu) : -(double)(hu - t);
                }
                any |= l != 0.0;
            }
            buf[i] = h;
            if (lo)
                lo[i] = l;
        }
    } else if (lo) {
        memset(lo, 0, n * sizeof *lo);
    }
    return any;
}

void h5div_dset_close(h5div_dset *d)
{
    if (d->filespace >= 0)
        H5Sclose(d->filespace);
    if (d->dset >= 0)
        H5Dclose(d->dset);
    if (d->file >= 0)
        H5Fclose(d->file);
    d->file = d->dset = d->filespace = H5I_INVALID_HID;
}

void h5div_where(uint64_t bin, uint64_t cols, char *buf, size_t len)
{
    if (cols)
        snprintf(buf, len, "row %llu, bin %llu", (unsigned long long)(bin / cols),
                 (unsigned long long)(bin % cols));
    else
        snprintf(buf, len, "bin %llu", (unsigned long long)bin);
}

int h5div_bad_value(double x, uint64_t bin, uint64_t cols, const char *ref, char *msg, size_t len)
{
    char where[96];
    h5div_where(bin, cols, where, sizeof where);
    const char *what = isnan(x) ? "NaN" : isinf(x) ? "infinite" : "negative";
    h5div_set_error(msg, len, "%s value %g in histogram (%s, %s)", what, x, ref, where);
    return H5DIV_EINPUT;
}

int h5div_check_values(const double *v, size_t n, uint64_t first_bin, uint64_t cols,
                       const char *ref, char *msg, size_t len)
{
    size_t i = h5div_first_invalid(v, n);
    return i == n ? H5DIV_OK : h5div_bad_value(v[i], first_bin + i, cols, ref, msg, len);
}

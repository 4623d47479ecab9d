/* SPDX-License-Identifier: BSD-3-Clause */
/* The history reader: the runs of a results file, their attributes and measures, read serially. */
#include "io/history.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"
#include "par/par.h"

/* The reading of one history: what to call, and whether a callback (or an
 * allocation of the reader) failed. */
typedef struct reader {
    const h5div_history_visitor *v;
    const char *file, *group;
    size_t ncand; /* of the run being read */
    int failed;
} reader;

int h5div_history_interval_name(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, "_ci") == 0;
}

/* The n variable-length strings of attribute a joined with spaces, or NULL. */
static char *join_vlen(hid_t a, hid_t ft, hid_t sp, hssize_t n)
{
    char *out = NULL;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(ft));
    char **v = n > 0 ? calloc((size_t)n, sizeof *v) : NULL;
    if (v && H5Aread(a, mt, v) >= 0) {
        size_t len = 1;
        for (hssize_t i = 0; i < n; i++)
            len += (v[i] ? strlen(v[i]) : 0) + 1;
        out = malloc(len);
        if (out) {
            out[0] = '\0';
            for (hssize_t i = 0; i < n; i++) {
                if (i)
                    strcat(out, " ");
                strcat(out, v[i] ? v[i] : "");
            }
        }
        H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
    }
    free(v);
    H5Tclose(mt);
    return out;
}

/* The n fixed-length strings of attribute a joined with spaces, or NULL. */
static char *join_fixed(hid_t a, hid_t ft, hssize_t n)
{
    if (n <= 0)
        return NULL;
    char *out = NULL;
    size_t size = H5Tget_size(ft);
    char *buf = calloc((size_t)n, size + 1);
    hid_t mt = H5Tcopy(ft);
    if (buf && H5Aread(a, mt, buf) >= 0) {
        out = calloc((size_t)n, size + 1);
        for (hssize_t i = 0; out && i < n; i++) {
            if (i)
                strcat(out, " ");
            strncat(out, buf + (size_t)i * size, size);
        }
    }
    free(buf);
    H5Tclose(mt);
    return out;
}

/* A string attribute (fixed or variable length, any number of elements
 * joined with spaces) as a malloc'ed string; "" when absent or not text;
 * NULL when out of memory. */
static char *string_attr(hid_t loc, const char *name)
{
    char *out = NULL;
    if (H5Aexists(loc, name) <= 0)
        return strdup("");
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ft = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    if (ft >= 0 && sp >= 0 && H5Tget_class(ft) == H5T_STRING) {
        hssize_t n = H5Sget_simple_extent_npoints(sp);
        out = H5Tis_variable_str(ft) > 0 ? join_vlen(a, ft, sp, n) : join_fixed(a, ft, n);
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    if (a >= 0)
        H5Aclose(a);
    return out ? out : strdup("");
}

/* Number of elements of attribute `name` (1 for a scalar, 0 if absent). */
static size_t attr_elements(hid_t loc, const char *name)
{
    if (H5Aexists(loc, name) <= 0)
        return 0;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : 0;
    if (sp >= 0)
        H5Sclose(sp);
    if (a >= 0)
        H5Aclose(a);
    return n > 0 ? (size_t)n : 0;
}

/* How the values of dataset d (named `name`) of a run of ncand candidates
 * are laid out (see h5div_history_measure); 0 when it is not given. */
static int measure_shape(hid_t d, const char *name, size_t ncand, h5div_history_measure *m)
{
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    H5T_class_t cls = H5Tget_class(t);
    int nd = H5Sget_simple_extent_ndims(s);
    hsize_t dims[2] = {1, 1};
    int numeric = (cls == H5T_FLOAT || cls == H5T_INTEGER) && nd >= 0 && nd <= 2;
    if (numeric && nd > 0)
        H5Sget_simple_extent_dims(s, dims, NULL);
    H5Tclose(t);
    H5Sclose(s);
    if (!numeric)
        return 0;
    int by_cand = nd == 1 && ncand > 1 && dims[0] == ncand;
    m->interval = h5div_history_interval_name(name) && nd >= 1 && dims[nd - 1] == 2;
    m->cands = nd == 2 || by_cand;
    m->rows = nd == 2 || (nd == 1 && !by_cand);
    m->groups = nd == 2 ? (size_t)dims[0] : (nd == 1 && !by_cand ? 1 : (size_t)dims[0]);
    m->per = nd == 2 ? (size_t)dims[1] : (nd == 1 && !by_cand ? (size_t)dims[0] : 1);
    if (m->interval) {
        m->cands = nd == 2;
        m->rows = 0;
        m->per = 2;
        m->groups = m->cands ? (size_t)dims[0] : 1;
        /* (m, 2): intervals over the rows of 2-D input, left out */
        if (m->cands && !(ncand > 1 && dims[0] == ncand))
            return 0;
    }
    return m->groups * m->per > 0;
}

/* One child of a run group: a numeric dataset the visitor wants, read and
 * handed over. */
static herr_t read_measure(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    reader *rd = data;
    if (!rd->v->want(rd->v->ctx, name))
        return 0;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT); /* fails quietly on a group: skipped */
    if (d < 0)
        return 0;
    h5div_history_measure m = {.name = name};
    if (measure_shape(d, name, rd->ncand, &m)) {
        m.values = malloc(m.groups * m.per * sizeof *m.values);
        if (!m.values)
            rd->failed = 1;
        else if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.values) >= 0 &&
                 rd->v->measure(rd->v->ctx, &m) != 0)
            rd->failed = 1;
        free(m.values);
    }
    H5Dclose(d);
    return rd->failed ? -1 : 0;
}

/* The run in group g (opened) named `name`, at `path` in the file: its
 * attributes, then its measures. */
static void read_run(reader *rd, hid_t g, const char *name, const char *path)
{
    h5div_history_run r = {.name = name, .ncand = attr_elements(g, "q")};
    char *created = string_attr(g, "created"), *p = string_attr(g, "p");
    char *q = string_attr(g, "q");
    size_t n = strlen(rd->file) + strlen(path) + 2;
    char *full = malloc(n);
    if (full)
        snprintf(full, n, "%s:%s", rd->file, path);
    r.created = created;
    r.p = p;
    r.q = q;
    r.path = full;
    if (!created || !p || !q || !full || rd->v->run(rd->v->ctx, &r) != 0)
        rd->failed = 1;
    free(created);
    free(p);
    free(q);
    free(full);
    rd->ncand = r.ncand;
    hsize_t idx = 0;
    if (!rd->failed)
        H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, read_measure, rd);
}

/* One child of the history group: a run if it is a group. */
static herr_t read_child(hid_t hg, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    reader *rd = data;
    hid_t g = H5Gopen2(hg, name, H5P_DEFAULT); /* fails quietly on a dataset: skipped */
    if (g < 0)
        return 0;
    size_t n = strlen(rd->group) + strlen(name) + 2;
    char *path = malloc(n);
    if (path) {
        snprintf(path, n, "%s/%s", rd->group, name);
        read_run(rd, g, name, path);
    } else {
        rd->failed = 1;
    }
    free(path);
    H5Gclose(g);
    return rd->failed ? -1 : 0;
}

/* Children of a group by kind: groups[0] datasets[1]. */
static herr_t count_child(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    size_t *count = data;
    hid_t c = H5Gopen2(g, name, H5P_DEFAULT);
    if (c >= 0) {
        count[0]++;
        H5Gclose(c);
    } else if ((c = H5Dopen2(g, name, H5P_DEFAULT)) >= 0) {
        count[1]++;
        H5Dclose(c);
    }
    return 0;
}

/* Is group g one result group rather than a history of them? It is when
 * h5div wrote it (attribute h5div_version or command), or when it holds
 * datasets and no groups. */
static int is_result_group(hid_t g)
{
    if (H5Aexists(g, "h5div_version") > 0 || H5Aexists(g, "command") > 0)
        return 1;
    size_t count[2] = {0, 0};
    hsize_t idx = 0;
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, count_child, count);
    return count[0] == 0 && count[1] > 0;
}

/* The runs of the open group g: itself, or each group under it. */
static void read_group(reader *rd, hid_t g)
{
    if (is_result_group(g)) {
        const char *slash = strrchr(rd->group, '/');
        read_run(rd, g, slash ? slash + 1 : rd->group, rd->group);
        return;
    }
    hsize_t idx = 0;
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, read_child, rd);
}

int h5div_history_read(const char *file, const char *group, const h5div_history_visitor *v,
                       char *msg, size_t len)
{
    h5div_h5_quiet quiet;
    h5div_h5_quiet_begin(&quiet);
    int st = H5DIV_OK;
    hid_t f = H5I_INVALID_HID, g = H5I_INVALID_HID;
    reader rd = {v, file, group, 0, 0};
    if (access(file, R_OK) != 0) {
        h5div_set_error(msg, len, "cannot read the history file (%s)", file);
        st = H5DIV_EINPUT;
    } else if ((f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        h5div_set_error(msg, len, "not an HDF5 file (%s)", file);
        st = H5DIV_EINPUT;
    } else if ((g = H5Gopen2(f, group, H5P_DEFAULT)) < 0) {
        h5div_set_error(msg, len, "no such group in the history file (%s:%s)", file, group);
        st = H5DIV_EINPUT;
    } else {
        read_group(&rd, g);
        if (rd.failed) {
            h5div_set_error(msg, len, "out of memory reading the history (%s:%s)", file, group);
            st = H5DIV_EINTERNAL;
        }
    }
    if (g >= 0)
        H5Gclose(g);
    if (f >= 0)
        H5Fclose(f);
    h5div_h5_quiet_end(&quiet);
    return st;
}

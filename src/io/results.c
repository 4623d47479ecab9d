/* SPDX-License-Identifier: BSD-3-Clause */
/* Result groups written through a temporary file renamed into place. */
/* flock(2) is BSD, not POSIX: it is the lock flock(1) takes in jobs/summary.sbatch. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/io.h"
#include "par/par.h"

static void dir_of(const char *path, char *dir, size_t len)
{
    char tmp[H5DIV_REF_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    snprintf(dir, len, "%s", dirname(tmp));
}

int h5div_check_output_object(const char *path, const char *obj, int dataset, int overwrite,
                              char *errmsg, size_t errlen)
{
    char dir[H5DIV_REF_MAX];
    dir_of(path, dir, sizeof dir);
    if (access(dir, W_OK | X_OK) != 0) {
        h5div_set_error(errmsg, errlen, "cannot write %s in directory %s: %s (%s)",
                        dataset ? "output" : "results", dir, strerror(errno), path);
        return H5DIV_EOUTPUT;
    }
    struct stat sb;
    if (stat(path, &sb) != 0)
        return H5DIV_OK; /* a new file */
    if (!S_ISREG(sb.st_mode) || access(path, R_OK) != 0) {
        h5div_set_error(errmsg, errlen, "output exists and is not a readable file (%s)", path);
        return H5DIV_EOUTPUT;
    }
    h5div_h5_quiet q;
    h5div_h5_quiet_begin(&q);
    int st = H5DIV_OK;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        h5div_set_error(errmsg, errlen, "output exists and is not an HDF5 file (%s)", path);
        st = H5DIV_EOUTPUT;
    } else {
        int e = strcmp(obj, "/") == 0 ? 1 : h5div_h5_path_exists(f, obj);
        H5O_info_t oi;
        if (dataset && e > 0 && H5Oget_info_by_name(f, obj, &oi, H5P_DEFAULT) >= 0 &&
            oi.type != H5O_TYPE_DATASET) {
            h5div_set_error(errmsg, errlen, "output path exists and is not a dataset (%s:%s)",
                            path, obj);
            st = H5DIV_EOUTPUT;
        } else if (e != 0 && !overwrite) {
            h5div_set_error(errmsg, errlen, "%s exists; use --overwrite to replace it (%s:%s)",
                            dataset ? "output dataset" : "result group", path, obj);
            st = H5DIV_EOUTPUT;
        }
        H5Fclose(f);
    }
    h5div_h5_quiet_end(&q);
    return st;
}

int h5div_check_output(const char *path, const char *group, int overwrite, char *errmsg,
                       size_t errlen)
{
    return h5div_check_output_object(path, group, 0, overwrite, errmsg, errlen);
}

static int copy_file(const char *from, int to_fd)
{
    int in = open(from, O_RDONLY);
    if (in < 0)
        return -1;
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(to_fd, buf + off, (size_t)(n - off));
            if (w < 0) {
                close(in);
                return -1;
            }
            off += w;
        }
    }
    close(in);
    return n < 0 ? -1 : 0;
}

static herr_t put_string_attr(hid_t loc, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    herr_t rc = -1;
    if (type >= 0 && H5Tset_size(type, H5T_VARIABLE) >= 0 &&
        H5Tset_cset(type, H5T_CSET_UTF8) >= 0) {
        hid_t space = H5Screate(H5S_SCALAR);
        hid_t attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        if (attr >= 0) {
            rc = H5Awrite(attr, type, &value);
            H5Aclose(attr);
        }
        H5Sclose(space);
    }
    if (type >= 0)
        H5Tclose(type);
    return rc;
}

static herr_t put_scalar_attr(hid_t loc, const char *name, hid_t type, const void *value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = attr >= 0 ? H5Awrite(attr, type, value) : -1;
    if (attr >= 0)
        H5Aclose(attr);
    H5Sclose(space);
    return rc;
}

static herr_t put_measure(hid_t g, const char *name, double v, const char *units)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(g, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = -1;
    if (d >= 0) {
        rc = H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
        if (rc >= 0)
            rc = put_string_attr(d, "units", units);
        H5Dclose(d);
    }
    H5Sclose(space);
    return rc;
}

static const char *base_name(h5div_base b)
{
    return b == H5DIV_BASE_2 ? "2" : b == H5DIV_BASE_E ? "e" : "10";
}

/* Fill an open file with the result group of gs. */
static int fill_group(hid_t f, const char *group, int overwrite, const h5div_group_spec *gs,
                      char *errmsg, size_t errlen)
{
    if (h5div_h5_path_exists(f, group) > 0) {
        if (!overwrite) {
            h5div_set_error(errmsg, errlen,
                            "result group exists; use --overwrite to replace it (%s)", group);
            return H5DIV_EOUTPUT;
        }
        if (H5Ldelete(f, group, H5P_DEFAULT) < 0) {
            h5div_set_error(errmsg, errlen, "cannot replace the result group (%s)", group);
            return H5DIV_EOUTPUT;
        }
    }
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(f, group, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (g < 0) {
        h5div_set_error(errmsg, errlen, "cannot create the result group (%s)", group);
        return H5DIV_EOUTPUT;
    }
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const h5div_result_info *info = gs->info;
    int64_t ranks = info->ranks;
    herr_t rc = 0;
    rc |= put_string_attr(g, "h5div_version", h5div_version_string());
    rc |= put_string_attr(g, "command", info->command ? info->command : "");
    rc |= put_string_attr(g, "created", created);
    rc |= put_scalar_attr(g, "ranks", H5T_NATIVE_INT64, &ranks);
    rc |= put_string_attr(g, "base", base_name(gs->opt->base));
    rc |= put_scalar_attr(g, "pseudocount", H5T_NATIVE_DOUBLE, &gs->opt->pseudocount);
    rc |= put_scalar_attr(g, "elapsed_seconds", H5T_NATIVE_DOUBLE, &info->elapsed_seconds);
    for (int i = 0; i < 2; i++)
        if (gs->input_attr[i])
            rc |= put_string_attr(g, gs->input_attr[i], gs->input_ref[i] ? gs->input_ref[i] : "");
    if (gs->estimator) {
        rc |= put_string_attr(g, "estimator", gs->estimator);
        if (!strcmp(gs->estimator, "dirichlet"))
            rc |= put_scalar_attr(g, "dirichlet_a", H5T_NATIVE_DOUBLE, &gs->dirichlet_a);
    }
    for (int m = 0; m < gs->n; m++)
        rc |= put_measure(g, gs->names[m], gs->values[m], gs->units[m]);
    H5Gclose(g);
    if (rc < 0) {
        h5div_set_error(errmsg, errlen, "cannot write the result datasets (%s)", group);
        return H5DIV_EOUTPUT;
    }
    return H5DIV_OK;
}

/* Take an exclusive flock(2) on the side file "path.lock" so that writers of
 * the same results file (array tasks, a summary job) take turns at the
 * read-copy-rename; without it two writers copy the same old file and the
 * second rename drops the first one's group. flock(1) takes the same lock.
 * Returns the lock's descriptor (closing it releases the lock, and so does a
 * killed process), -2 when the file system cannot lock (the write goes on
 * unlocked, as it did before), or -1 with errno set. Blocks until granted. */
static int lock_results(const char *path)
{
    char name[H5DIV_REF_MAX + 8];
    snprintf(name, sizeof name, "%s.lock", path);
    int fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(fd);
        if (e == ENOLCK || e == ENOSYS || e == EOPNOTSUPP || e == EINVAL)
            return -2;
        errno = e;
        return -1;
    }
    return fd;
}

int h5div_write_result_group(const char *path, const char *group, int overwrite,
                             const h5div_group_spec *gs, char *errmsg, size_t errlen)
{
    char dir[H5DIV_REF_MAX], tmp[H5DIV_REF_MAX + 64], msg[1024] = "";
    dir_of(path, dir, sizeof dir);
    int lock = lock_results(path);
    if (lock == -1) {
        h5div_set_error(errmsg, errlen, "cannot lock the results file: %s (%s.lock)",
                        strerror(errno), path);
        return H5DIV_EOUTPUT;
    }
    snprintf(tmp, sizeof tmp, "%s/.h5div-result-XXXXXX", dir);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        h5div_set_error(errmsg, errlen, "cannot create a temporary file in %s: %s (%s)", dir,
                        strerror(errno), path);
        if (lock >= 0)
            close(lock);
        return H5DIV_EOUTPUT;
    }
    int st = H5DIV_OK;
    struct stat sb;
    int existing = stat(path, &sb) == 0;
    if (existing && copy_file(path, fd) != 0) {
        h5div_set_error(msg, sizeof msg, "cannot copy the existing results: %s (%s)",
                        strerror(errno), path);
        st = H5DIV_EOUTPUT;
    }
    /* Keep the permissions of the file being replaced. */
    if (st == H5DIV_OK) {
        mode_t mask = umask(0);
        umask(mask);
        fchmod(fd, existing ? (sb.st_mode & 07777) : (0666 & ~mask));
    }
    close(fd);
    h5div_h5_quiet q;
    h5div_h5_quiet_begin(&q);
    hid_t f = H5I_INVALID_HID;
    if (st == H5DIV_OK) {
        f = existing ? H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT)
                     : H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (f < 0) {
            h5div_set_error(msg, sizeof msg, "cannot open the results file for writing (%s)",
                            path);
            st = H5DIV_EOUTPUT;
        }
    }
    if (st == H5DIV_OK)
        st = fill_group(f, group, overwrite, gs, msg, sizeof msg);
    if (f >= 0 && H5Fclose(f) < 0 && st == H5DIV_OK) {
        h5div_set_error(msg, sizeof msg, "cannot close the results file (%s)", path);
        st = H5DIV_EOUTPUT;
    }
    h5div_h5_quiet_end(&q);
    if (st == H5DIV_OK) {
        /* Data reaches the disk before the name points at it. */
        int tfd = open(tmp, O_RDONLY);
        if (tfd < 0 || fsync(tfd) != 0)
            st = H5DIV_EOUTPUT;
        if (tfd >= 0)
            close(tfd);
        if (st == H5DIV_OK && rename(tmp, path) != 0)
            st = H5DIV_EOUTPUT;
        if (st != H5DIV_OK)
            h5div_set_error(msg, sizeof msg, "cannot move the results into place: %s (%s)",
                            strerror(errno), path);
        int dfd = open(dir, O_RDONLY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    if (st != H5DIV_OK) {
        unlink(tmp);
        h5div_set_error(errmsg, errlen, "%s", msg);
    }
    if (lock >= 0)
        close(lock); /* after the rename: the next writer copies our file */
    return st;
}

int h5div_write_compare_result(const char *path, const char *group, int overwrite,
                               const h5div_options *opt, const h5div_compare_result *result,
                               const h5div_result_info *info, char *errmsg, size_t errlen)
{
    h5div_group_spec gs = {.opt = opt,
                           .info = info,
                           .input_attr = {"p", "q"},
                           .input_ref = {info->p_ref, info->q_ref}};
    for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++)
        if (result->computed & H5DIV_MEASURE_BIT(m)) {
            gs.names[gs.n] = h5div_measure_name((h5div_measure)m);
            gs.units[gs.n] = h5div_measure_units((h5div_measure)m, opt->base);
            gs.values[gs.n++] = result->value[m];
        }
    return h5div_write_result_group(path, group, overwrite, &gs, errmsg, errlen);
}

/* Shared with the result writers of the other commands (results_entropy.c,
 * surprisal_file.c), which follow the same temporary-file discipline. */
void h5div_results_dir_of(const char *path, char *dir, size_t len) { dir_of(path, dir, len); }
int h5div_results_copy_file(const char *from, int to_fd) { return copy_file(from, to_fd); }
int h5div_results_lock(const char *path) { return lock_results(path); }
herr_t h5div_put_string_attr(hid_t loc, const char *name, const char *value)
{
    return put_string_attr(loc, name, value);
}
herr_t h5div_put_scalar_attr(hid_t loc, const char *name, hid_t type, const void *value)
{
    return put_scalar_attr(loc, name, type, value);
}

/* Rank 0: a locked temporary copy of the output file in its directory. */
static void make_temp(const char *out_file, h5div_temp_out *t)
{
    char dir[H5DIV_REF_MAX];
    dir_of(out_file, dir, sizeof dir);
    t->lock = lock_results(out_file);
    if (t->lock == -1) {
        h5div_set_error(t->msg, sizeof t->msg, "cannot lock the output file: %s (%s.lock)",
                        strerror(errno), out_file);
        t->status = H5DIV_EOUTPUT;
        return;
    }
    snprintf(t->tmp, sizeof t->tmp, "%s/.h5div-output-XXXXXX", dir);
    int fd = mkstemp(t->tmp);
    if (fd < 0) {
        h5div_set_error(t->msg, sizeof t->msg, "cannot create a temporary file in %s: %s (%s)",
                        dir, strerror(errno), out_file);
        t->tmp[0] = '\0';
        t->status = H5DIV_EOUTPUT;
        return;
    }
    struct stat sb;
    t->existing = stat(out_file, &sb) == 0;
    if (t->existing && copy_file(out_file, fd) != 0) {
        h5div_set_error(t->msg, sizeof t->msg, "cannot copy the existing output file: %s (%s)",
                        strerror(errno), out_file);
        t->status = H5DIV_EOUTPUT;
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, t->existing ? (sb.st_mode & 07777) : (0666 & ~mask));
    close(fd);
}

int h5div_temp_open(MPI_Comm comm, const char *out_file, h5div_temp_out *t, hid_t *f, char *msg,
                    size_t len)
{
    int rank;
    H5DIV_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    memset(t, 0, sizeof *t);
    t->lock = -2;
    *f = H5I_INVALID_HID;
    if (rank == 0) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        make_temp(out_file, t);
        strftime(t->created, sizeof t->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    /* Everything but rank 0's lock descriptor is shared. */
    int lock = t->lock;
    H5DIV_MPI_CHECK(MPI_Bcast(t, (int)sizeof *t, MPI_BYTE, 0, comm));
    t->lock = rank == 0 ? lock : -2;
    int st = t->status;
    if (st != H5DIV_OK) {
        h5div_set_error(msg, len, "%s", t->msg);
    } else {
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        if (fapl >= 0 && H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) >= 0)
            *f = t->existing ? H5Fopen(t->tmp, H5F_ACC_RDWR, fapl)
                             : H5Fcreate(t->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        if (fapl >= 0)
            H5Pclose(fapl);
        if (*f < 0) {
            h5div_set_error(msg, len, "cannot open the output file for writing (%s)", out_file);
            st = H5DIV_EOUTPUT;
        }
    }
    st = h5div_par_agree(comm, st, msg, len);
    if (st != H5DIV_OK)
        st = h5div_temp_close(comm, out_file, t, *f, st, msg, len);
    return st;
}

static int finish_temp(const char *out_file, const h5div_temp_out *t, char *msg, size_t len)
{
    char dir[H5DIV_REF_MAX];
    dir_of(out_file, dir, sizeof dir);
    int st = H5DIV_OK;
    int fd = open(t->tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0)
        st = H5DIV_EOUTPUT;
    if (fd >= 0)
        close(fd);
    if (st == H5DIV_OK && rename(t->tmp, out_file) != 0)
        st = H5DIV_EOUTPUT;
    if (st != H5DIV_OK)
        h5div_set_error(msg, len, "cannot move the output into place: %s (%s)", strerror(errno),
                        out_file);
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return st;
}

int h5div_temp_close(MPI_Comm comm, const char *out_file, h5div_temp_out *t, hid_t f, int status,
                     char *msg, size_t len)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    int st = status;
    if (f >= 0 && H5Fclose(f) < 0 && st == H5DIV_OK) {
        h5div_set_error(msg, len, "cannot close the output file (%s)", out_file);
        st = H5DIV_EOUTPUT;
    }
    st = h5div_par_agree(comm, st, msg, len);
    if (rank == 0 && st == H5DIV_OK)
        st = finish_temp(out_file, t, msg, len);
    st = h5div_par_agree(comm, st, msg, len);
    if (rank == 0 && st != H5DIV_OK && t->tmp[0])
        unlink(t->tmp);
    if (rank == 0 && t->lock >= 0)
        close(t->lock);
    t->lock = -2;
    t->tmp[0] = '\0';
    return st;
}

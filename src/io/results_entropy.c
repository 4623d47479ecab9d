/* SPDX-License-Identifier: BSD-3-Clause */
/* Result groups of entropy and joint, written through a temporary file renamed into place. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/io.h"
#include "par/par.h"

#define GROUP_MAX_MEASURES 16

/* What one result group holds besides the common attributes. */
typedef struct group_spec {
    const h5div_options *opt;
    const h5div_result_info *info;
    const char *input_attr; /* "p" or "pxy" */
    const char *estimator;  /* string attribute `estimator`, or NULL */
    double dirichlet_a;     /* attribute `dirichlet_a` when estimator is dirichlet */
    int n;
    const char *names[GROUP_MAX_MEASURES], *units[GROUP_MAX_MEASURES];
    double values[GROUP_MAX_MEASURES];
} group_spec;

static const char *base_text(h5div_base b)
{
    return b == H5DIV_BASE_2 ? "2" : b == H5DIV_BASE_E ? "e" : "10";
}

static int fill_group(hid_t f, const char *group, int overwrite, const group_spec *gs,
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
    rc |= h5div_put_string_attr(g, "h5div_version", h5div_version_string());
    rc |= h5div_put_string_attr(g, "command", info->command ? info->command : "");
    rc |= h5div_put_string_attr(g, "created", created);
    rc |= h5div_put_scalar_attr(g, "ranks", H5T_NATIVE_INT64, &ranks);
    rc |= h5div_put_string_attr(g, "base", base_text(gs->opt->base));
    rc |= h5div_put_scalar_attr(g, "pseudocount", H5T_NATIVE_DOUBLE, &gs->opt->pseudocount);
    rc |= h5div_put_scalar_attr(g, "elapsed_seconds", H5T_NATIVE_DOUBLE, &info->elapsed_seconds);
    rc |= h5div_put_string_attr(g, gs->input_attr, info->p_ref ? info->p_ref : "");
    if (gs->estimator) {
        rc |= h5div_put_string_attr(g, "estimator", gs->estimator);
        if (!strcmp(gs->estimator, "dirichlet"))
            rc |= h5div_put_scalar_attr(g, "dirichlet_a", H5T_NATIVE_DOUBLE, &gs->dirichlet_a);
    }
    for (int m = 0; m < gs->n; m++)
        rc |= h5div_put_measure(g, gs->names[m], gs->values[m], gs->units[m]);
    H5Gclose(g);
    if (rc < 0) {
        h5div_set_error(errmsg, errlen, "cannot write the result datasets (%s)", group);
        return H5DIV_EOUTPUT;
    }
    return H5DIV_OK;
}

/* The file is copied to a temporary file in the same directory, the group
 * is added there, and the copy is renamed over `path` once it is on disk;
 * writers of the same file take turns through the lock of results.c. */
static int write_group_file(const char *path, const char *group, int overwrite,
                            const group_spec *gs, char *errmsg, size_t errlen)
{
    char dir[H5DIV_REF_MAX], tmp[H5DIV_REF_MAX + 64], msg[1024] = "";
    h5div_results_dir_of(path, dir, sizeof dir);
    int lock = h5div_results_lock(path);
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
    if (existing && h5div_results_copy_file(path, fd) != 0) {
        h5div_set_error(msg, sizeof msg, "cannot copy the existing results: %s (%s)",
                        strerror(errno), path);
        st = H5DIV_EOUTPUT;
    }
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
        close(lock);
    return st;
}

int h5div_write_entropy_result(const char *path, const char *group, int overwrite,
                               const h5div_options *opt, const h5div_entropy_result *result,
                               const h5div_result_info *info, char *errmsg, size_t errlen)
{
    group_spec gs = {.opt = opt, .info = info, .input_attr = "p",
                     .estimator = h5div_estimator_name(result->estimator),
                     .dirichlet_a = result->dirichlet_a};
    for (int m = 0; m < H5DIV_ENTROPY_NMEASURES; m++)
        if (result->computed & H5DIV_MEASURE_BIT(m)) {
            gs.names[gs.n] = h5div_entropy_measure_name((h5div_entropy_measure)m);
            gs.units[gs.n] = h5div_entropy_measure_units((h5div_entropy_measure)m, opt->base);
            gs.values[gs.n++] = result->value[m];
        }
    return write_group_file(path, group, overwrite, &gs, errmsg, errlen);
}

int h5div_write_joint_result(const char *path, const char *group, int overwrite,
                             const h5div_options *opt, const h5div_joint_result *result,
                             const h5div_result_info *info, char *errmsg, size_t errlen)
{
    group_spec gs = {.opt = opt, .info = info, .input_attr = "pxy"};
    for (int m = 0; m < H5DIV_JOINT_NMEASURES; m++)
        if (result->computed & H5DIV_MEASURE_BIT(m)) {
            gs.names[gs.n] = h5div_joint_measure_name((h5div_joint_measure)m);
            gs.units[gs.n] = h5div_joint_measure_units((h5div_joint_measure)m, opt->base);
            gs.values[gs.n++] = result->value[m];
        }
    return write_group_file(path, group, overwrite, &gs, errmsg, errlen);
}

int h5div_check_output_dataset(const char *path, const char *dset, int overwrite, char *errmsg,
                               size_t errlen)
{
    char dir[H5DIV_REF_MAX];
    h5div_results_dir_of(path, dir, sizeof dir);
    if (access(dir, W_OK | X_OK) != 0) {
        h5div_set_error(errmsg, errlen, "cannot write output in directory %s: %s (%s)", dir,
                        strerror(errno), path);
        return H5DIV_EOUTPUT;
    }
    struct stat sb;
    if (stat(path, &sb) != 0)
        return H5DIV_OK;
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
        int e = h5div_h5_path_exists(f, dset);
        H5O_info_t oi;
        if (e > 0 && H5Oget_info_by_name(f, dset, &oi, H5P_DEFAULT) >= 0 &&
            oi.type != H5O_TYPE_DATASET) {
            h5div_set_error(errmsg, errlen, "output path exists and is not a dataset (%s:%s)",
                            path, dset);
            st = H5DIV_EOUTPUT;
        } else if (e != 0 && !overwrite) {
            h5div_set_error(errmsg, errlen,
                            "output dataset exists; use --overwrite to replace it (%s:%s)", path,
                            dset);
            st = H5DIV_EOUTPUT;
        }
        H5Fclose(f);
    }
    h5div_h5_quiet_end(&q);
    return st;
}

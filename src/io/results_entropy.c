/* SPDX-License-Identifier: BSD-3-Clause */
/* Result groups of entropy and joint, and the output check of surprisal. */
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

int h5div_write_entropy_result(const char *path, const char *group, int overwrite,
                               const h5div_options *opt, const h5div_entropy_result *result,
                               const h5div_result_info *info, char *errmsg, size_t errlen)
{
    h5div_group_spec gs = {.opt = opt,
                           .info = info,
                           .input_attr = {"p", NULL},
                           .input_ref = {info->p_ref, NULL},
                           .estimator = h5div_estimator_name(result->estimator),
                           .dirichlet_a = result->dirichlet_a};
    for (int m = 0; m < H5DIV_ENTROPY_NMEASURES; m++)
        if (result->computed & H5DIV_MEASURE_BIT(m)) {
            gs.names[gs.n] = h5div_entropy_measure_name((h5div_entropy_measure)m);
            gs.units[gs.n] = h5div_entropy_measure_units((h5div_entropy_measure)m, opt->base);
            gs.values[gs.n++] = result->value[m];
        }
    return h5div_write_result_group(path, group, overwrite, &gs, errmsg, errlen);
}

int h5div_write_joint_result(const char *path, const char *group, int overwrite,
                             const h5div_options *opt, const h5div_joint_result *result,
                             const h5div_result_info *info, char *errmsg, size_t errlen)
{
    h5div_group_spec gs = {
        .opt = opt, .info = info, .input_attr = {"pxy", NULL}, .input_ref = {info->p_ref, NULL}};
    for (int m = 0; m < H5DIV_JOINT_NMEASURES; m++)
        if (result->computed & H5DIV_MEASURE_BIT(m)) {
            gs.names[gs.n] = h5div_joint_measure_name((h5div_joint_measure)m);
            gs.units[gs.n] = h5div_joint_measure_units((h5div_joint_measure)m, opt->base);
            gs.values[gs.n++] = result->value[m];
        }
    return h5div_write_result_group(path, group, overwrite, &gs, errmsg, errlen);
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

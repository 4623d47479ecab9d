/* SPDX-License-Identifier: BSD-3-Clause */
/* Result groups of joint, and the output check of surprisal. */
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
            gs.se[gs.n] = result->se[m];
            gs.ci[gs.n][0] = result->ci[m][0];
            gs.ci[gs.n][1] = result->ci[m][1];
            gs.reps[gs.n] = result->reps ? result->reps + (size_t)m * result->nrep : NULL;
            gs.values[gs.n++] = result->value[m];
        }
    gs.nrep = result->nrep;
    return h5div_write_result_group(path, group, overwrite, &gs, errmsg, errlen);
}

int h5div_check_output_dataset(const char *path, const char *dset, int overwrite, char *errmsg,
                               size_t errlen)
{
    return h5div_check_output_object(path, dset, 1, overwrite, errmsg, errlen);
}

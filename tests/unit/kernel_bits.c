/* SPDX-License-Identifier: BSD-3-Clause */
/* Prints the bits of every compare measure on fixed inputs, so that builds
 * of the kernel for different instruction sets can be compared. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/terms.h"
#include "h5div_types.h"

static uint64_t rng = 42;
static double uniform(void)
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (double)(rng >> 11) * 0x1p-53;
}

int main(void)
{
    enum { N = 20000 };
    static double x[N], y[N];
    for (int kind = 0; kind < 7; kind++) {
        for (int i = 0; i < N; i++) {
            x[i] = kind == 3 && i % 5 == 0 ? 0.0 : 1.0 + 999.0 * uniform();
            switch (kind) {
            case 0: y[i] = 1.0 + 999.0 * uniform(); break;              /* ordinary */
            case 1: y[i] = x[i] * (1.0 + 1e-7 * (uniform() - 0.5)); break; /* near */
            case 2: y[i] = x[i] * (1.0 + 0.05 * (uniform() - 0.5)); break; /* both sides */
            case 3: y[i] = i % 7 == 0 ? 0.0 : uniform(); break;            /* zeros */
            case 4: y[i] = i == 77 ? 1e12 : uniform(); break;              /* careful path */
            case 5: y[i] = i % 3 == 0 ? x[i] * 1e-20 : x[i]; break;        /* mode dropping */
            default:                                                       /* 600 decades */
                x[i] = i % 11 == 0 ? 0.0 : pow(10.0, 600.0 * uniform() - 300.0);
                y[i] = i % 13 == 0 ? 0.0 : pow(10.0, 600.0 * uniform() - 300.0);
                break;
            }
        }
        h5div_acc tot[2];
        h5div_acc_init(&tot[0]);
        h5div_acc_init(&tot[1]);
        h5div_total_add(x, N, 0.0, &tot[0]);
        h5div_total_add(y, N, 0.0, &tot[1]);
        double ah, al, bh, bl;
        h5div_acc_round2(&tot[0], &ah, &al);
        h5div_acc_round2(&tot[1], &bh, &bl);
        h5div_norm nm;
        h5div_norm_init(&nm, ah, al, bh, bl, 0.0);
        /* Every measure, with Renyi orders on both sides of 1 and 1/2. */
        h5div_options opt;
        h5div_options_init(&opt);
        opt.measures = H5DIV_COMPARE_ALL & ~H5DIV_MEASURE_BIT(H5DIV_WASSERSTEIN1) &
                       ~H5DIV_MEASURE_BIT(H5DIV_KS);
        opt.n_renyi_pq = opt.n_renyi_qp = 3;
        opt.renyi_pq[0] = opt.renyi_qp[0] = 0.25;
        opt.renyi_pq[1] = opt.renyi_qp[1] = 0.75;
        opt.renyi_pq[2] = opt.renyi_qp[2] = 3.0;
        h5div_term_params tp;
        h5div_term_params_init(&tp, &opt);
        static h5div_compare_partial part;
        h5div_compare_partial_init(&part, tp.mask);
        h5div_compare_add(x, y, N, &nm, &tp, &part);
        h5div_compare_result res;
        memset(&res, 0, sizeof res);
        h5div_compare_finish(&part, &opt, &res);
        double v[H5DIV_COMPARE_NMEASURES + 6];
        for (int m = 0; m < H5DIV_COMPARE_NMEASURES; m++)
            v[m] = res.value[m];
        for (int i = 0; i < 3; i++) {
            v[H5DIV_COMPARE_NMEASURES + i] = res.renyi_pq[i];
            v[H5DIV_COMPARE_NMEASURES + 3 + i] = res.renyi_qp[i];
        }
        for (int m = 0; m < H5DIV_COMPARE_NMEASURES + 6; m++) {
            uint64_t b;
            memcpy(&b, &v[m], sizeof b);
            printf("kind %d measure %d %016llx %.17g\n", kind, m, (unsigned long long)b, v[m]);
        }
    }
    return 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Uses the installed h5div: KL of p = (1/2, 1/2) from q = (1/4, 3/4), in memory. */
#include <math.h>
#include <stdio.h>

#include <h5div.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    double p[] = {1, 1}, q[] = {1, 3};
    h5div_options opt;
    h5div_options_init(&opt);
    h5div_compare_result r;
    char msg[256] = "";
    int st = h5div_compare_shards(MPI_COMM_WORLD, p, q, 0, 2, 2, &opt, &r, msg, sizeof msg);
    /* KL(p||q) = 1 - log2(3) / 2 bits, by hand. */
    double want = 1.0 - 0.5 * log2(3.0);
    int ok = st == H5DIV_OK && fabs(r.value[H5DIV_KL_PQ] - want) <= 1e-15 * want;
    printf("h5div %s: status %d, kl_pq %.17g, want %.17g: %s\n", h5div_version_string(), st,
           r.value[H5DIV_KL_PQ], want, ok ? "ok" : "FAIL");
    MPI_Finalize();
    return ok ? 0 : 1;
}

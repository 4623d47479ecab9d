/* SPDX-License-Identifier: BSD-3-Clause */
/* Uses the installed h5div: KL in memory against a hand value, and the file-level calls on data/. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <h5div.h>

static int failures;

static void expect(int cond, const char *what)
{
    printf("%s: %s\n", cond ? "ok" : "FAIL", what);
    failures += !cond;
}

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
    printf("h5div %s: kl_pq %.17g, want %.17g\n", h5div_version_string(), r.value[H5DIV_KL_PQ],
           want);
    expect(st == H5DIV_OK && fabs(r.value[H5DIV_KL_PQ] - want) <= 1e-15 * want,
           "in-memory kl_pq of (1/2, 1/2) against (1/4, 3/4)");

    /* The file-level calls, with the example data (argv[1] is the data/ folder). */
    if (argc > 1) {
        char ref[4096], gen[4096], rows[4096], rows_q[4096];
        snprintf(ref, sizeof ref, "%s/example.h5:/reference", argv[1]);
        snprintf(gen, sizeof gen, "%s/example.h5:/generated", argv[1]);
        snprintf(rows, sizeof rows, "%s/rows.h5:/reference", argv[1]);
        snprintf(rows_q, sizeof rows_q, "%s/rows.h5:/generated", argv[1]);
        /* A histogram against itself: every divergence exactly +0. */
        st = h5div_compare_files(MPI_COMM_WORLD, ref, ref, &opt, &r, msg, sizeof msg);
        int zero = st == H5DIV_OK;
        for (int m = H5DIV_KL_PQ; m <= H5DIV_HELLINGER; m++)
            zero &= r.value[m] == 0.0 && !signbit(r.value[m]);
        expect(zero && r.value[H5DIV_ENTROPY_P] == r.value[H5DIV_ENTROPY_Q],
               "h5div_compare_files(P, P): divergences +0, equal entropies");
        /* entropy_p of compare and the plugin entropy are the same sum. */
        h5div_compare_result c;
        st = h5div_compare_files(MPI_COMM_WORLD, ref, gen, &opt, &c, msg, sizeof msg);
        h5div_options eo = opt;
        eo.measures = H5DIV_MEASURE_BIT(H5DIV_ENTROPY);
        h5div_entropy_result e;
        int st2 = h5div_entropy_files(MPI_COMM_WORLD, ref, &eo, H5DIV_ESTIMATOR_PLUGIN, 0.0, &e,
                                      msg, sizeof msg);
        expect(st == H5DIV_OK && st2 == H5DIV_OK && e.value[H5DIV_ENTROPY] == c.value[H5DIV_ENTROPY_P] &&
                   c.value[H5DIV_KL_PQ] > 0.0,
               "h5div_entropy_files(P) equals entropy_p of h5div_compare_files(P, Q) bit for bit");
        /* 2-D input: one value per row through the batch call; refused by the scalar one. */
        st = h5div_compare_files(MPI_COMM_WORLD, rows, rows_q, &opt, &r, msg, sizeof msg);
        expect(st == H5DIV_EINPUT && strstr(msg, "h5div_compare_batch_files"),
               "h5div_compare_files refuses 2-D input and names the batch call");
        h5div_batch b;
        const char *qs[2] = {rows_q, rows};
        st = h5div_compare_batch_files(MPI_COMM_WORLD, rows, qs, 2, &opt, &b, msg, sizeof msg);
        double kl[200], kl_self[200];
        int rank;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        int ok = st == H5DIV_OK && b.two_d && b.rows == 200 && b.candidates == 2 &&
                 h5div_compare_batch_gather(MPI_COMM_WORLD, &b, 0, H5DIV_KL_PQ, 0, kl) == H5DIV_OK &&
                 h5div_compare_batch_gather(MPI_COMM_WORLD, &b, 1, H5DIV_KL_PQ, 0, kl_self) ==
                     H5DIV_OK;
        for (int i = 0; ok && rank == 0 && i < 200; i++)
            ok &= kl[i] > 0.0 && kl_self[i] == 0.0;
        expect(ok, "h5div_compare_batch_files on [200, 50] rows: kl_pq > 0 against Q, +0 against P");
        h5div_batch_free(&b);
    }
    MPI_Finalize();
    return failures ? 1 : 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* rawread: the I/O floor of `h5div compare`, the same parallel HDF5 reads with no computation. */
/*
 * It mirrors h5div_sweep_init() and h5div_sweep_run() (src/io/sweep.c, with
 * compare's two datasets and no scratch buffers) and h5div_dset_read()
 * (src/io/dset.c), and must be kept in step with them. The shard of each
 * rank comes from h5div_partition() (src/par/decomp.c, compiled in, not
 * copied); each dataset is opened with its own H5Fopen through
 * H5Pset_fapl_mpio; the shard is read in rounds of piece_bins bins, P then
 * Q, every rank taking part in every round (an empty selection when it has
 * nothing left) with the same transfer mode; memory type double for float
 * data, (u)int64 for integers. The plan is h5div's: when both shards fit in
 * --memory-per-rank they are read into whole-shard buffers, and in the first
 * pass each piece's fresh buffers are touched, then read, both timed; pieces
 * are kept while the touch (summed over the ranks) costs less than the read,
 * the first that does not pay takes every later piece, and a second pass
 * reads those again (H5DIV_SHARD=keep, stream or a number of pieces fixes
 * it, as for h5div). A shard that does not fit is read twice into one piece
 * buffer of min(piece, memory/16) bins (memory/32 when both datasets are
 * contiguous and H5DIV_OVERLAP is not 0: h5div's read-ahead holds a second
 * piece; this reads with H5Dread all the same). What h5div does
 * and this does not: value checks, sums, the integer-to-double conversion
 * and the per-round error agreement (one small MPI_Allreduce).
 *
 * Only a checksum of one value per 4 KiB page is computed, so the buffers
 * are used (it equals the sum of P[i] + Q[i] over i % 512 == 0 in the first
 * pass; what later passes read is summed too, but not printed);
 * rank 0 prints one line of key=value pairs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>
#include <mpi.h>

#include "h5div_types.h"

#define PIECE_BYTES_MAX ((size_t)1 << 30)
#define REF_MAX 4096

typedef struct dset {
    hid_t file, dset, space, memtype;
    uint64_t bins;
} dset;

static void usage(FILE *f)
{
    fputs("Usage: rawread FILE:/P FILE:/Q [--piece-size SIZE] [--memory-per-rank SIZE]\n"
          "               [--independent-io]\n"
          "Read two datasets exactly as `h5div compare` does and report the time.\n"
          "SIZE is bytes, optionally with KiB, MiB or GiB (defaults 64MiB and 1GiB).\n",
          f);
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || s[0] == '-')
        return -1;
    unsigned long long scale = 1;
    if (!strcmp(end, "KiB"))
        scale = 1ull << 10;
    else if (!strcmp(end, "MiB"))
        scale = 1ull << 20;
    else if (!strcmp(end, "GiB"))
        scale = 1ull << 30;
    else if (strcmp(end, "") && strcmp(end, "B"))
        return -1;
    if (v == 0 || v > SIZE_MAX / scale)
        return -1;
    *out = (size_t)(v * scale);
    return 0;
}

/* Collective over comm: open FILE:/path as h5div does. */
static int open_ref(MPI_Comm comm, const char *ref, dset *d)
{
    char name[REF_MAX];
    const char *colon = NULL;
    for (const char *c = ref; *c; c++)
        if (c[0] == ':' && c[1] == '/')
            colon = c;
    if (!colon || (size_t)(colon - ref) >= sizeof name)
        return -1;
    memcpy(name, ref, (size_t)(colon - ref));
    name[colon - ref] = '\0';
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    d->file = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (d->file < 0)
        return -1;
    d->dset = H5Dopen2(d->file, colon + 1, H5P_DEFAULT);
    if (d->dset < 0)
        return -1;
    hid_t type = H5Dget_type(d->dset);
    if (H5Tget_class(type) == H5T_INTEGER)
        d->memtype = H5Tget_sign(type) == H5T_SGN_NONE ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64;
    else
        d->memtype = H5T_NATIVE_DOUBLE;
    H5Tclose(type);
    d->space = H5Dget_space(d->dset);
    hsize_t dims[1];
    if (H5Sget_simple_extent_ndims(d->space) != 1)
        return -1;
    H5Sget_simple_extent_dims(d->space, dims, NULL);
    d->bins = (uint64_t)dims[0];
    return 0;
}

/* As h5div_dset_read(): collective reads take every rank, count may be 0. */
/* Contiguous storage, allocated and not external: h5div reads it ahead. */
static int contiguous(const dset *d)
{
    hid_t dcpl = H5Dget_create_plist(d->dset);
    int yes = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CONTIGUOUS &&
              H5Pget_external_count(dcpl) == 0 && H5Dget_offset(d->dset) != HADDR_UNDEF;
    if (dcpl >= 0)
        H5Pclose(dcpl);
    return yes;
}

static int read_piece(const dset *d, uint64_t offset, uint64_t count, double *buf, int collective)
{
    hsize_t off = (hsize_t)offset, cnt = (hsize_t)count, one = count ? cnt : 1;
    hid_t mspace = H5Screate_simple(1, &one, NULL);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (count) {
        H5Sselect_hyperslab(d->space, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
    } else {
        H5Sselect_none(d->space);
        H5Sselect_none(mspace);
    }
    H5Pset_dxpl_mpio(dxpl, collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT);
    herr_t e = 0;
    if (collective || count)
        e = H5Dread(d->dset, d->memtype, mspace, d->space, dxpl, buf);
    H5Pclose(dxpl);
    H5Sclose(mspace);
    return e < 0 ? -1 : 0;
}

/* Sum of the bins whose global index is a multiple of 512 (one per 4 KiB
 * page), so the checksum does not depend on the rank count or the pieces. */
static double touch(const double *v, uint64_t first_bin, uint64_t n)
{
    double s = 0;
    for (uint64_t i = (512 - first_bin % 512) % 512; i < n; i += 512)
        s += v[i];
    return s;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *ref[2] = {NULL, NULL};
    size_t piece_bytes = (size_t)64 << 20, memory = (size_t)1 << 30;
    int collective = 1, bad = 0, nref = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (!strcmp(argv[i], "--independent-io"))
            collective = 0;
        else if (!strcmp(argv[i], "--piece-size") && i + 1 < argc)
            bad = parse_size(argv[++i], &piece_bytes) != 0 || piece_bytes > PIECE_BYTES_MAX;
        else if (!strcmp(argv[i], "--memory-per-rank") && i + 1 < argc)
            bad = parse_size(argv[++i], &memory) != 0;
        else if (argv[i][0] != '-' && nref < 2)
            ref[nref++] = argv[i];
        else
            bad = 1;
    }
    if (bad || nref != 2) {
        if (rank == 0)
            usage(stderr);
        MPI_Finalize();
        return 2;
    }

    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    dset d[2];
    int ok = 1;
    for (int k = 0; k < 2; k++)
        ok = ok && open_ref(MPI_COMM_WORLD, ref[k], &d[k]) == 0;
    if (!ok || d[0].bins != d[1].bins) {
        if (rank == 0)
            fprintf(stderr, "rawread: cannot open both datasets or their sizes differ\n");
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    double t_open = MPI_Wtime() - t0;

    /* The plan of h5div_sweep_init() for two datasets and no scratch buffers. */
    uint64_t offset, count;
    h5div_partition(d[0].bins, size, rank, &offset, &count);
    int cached = count * 2 * sizeof(double) <= memory;
    uint64_t piece = (piece_bytes < PIECE_BYTES_MAX ? piece_bytes : PIECE_BYTES_MAX) / sizeof(double);
    if (!cached && piece > memory / (2 * sizeof(double)))
        piece = memory / (2 * sizeof(double));
    /* h5div reads contiguous datasets ahead (src/io/prefetch.c): a streamed
     * shard of more than one piece then holds two pieces a dataset. */
    const char *ov = getenv("H5DIV_OVERLAP");
    if (!cached && count > piece && !(ov && !strcmp(ov, "0")) && contiguous(&d[0]) &&
        contiguous(&d[1]) && piece > memory / (4 * sizeof(double)))
        piece = memory / (4 * sizeof(double));
    piece -= piece % H5DIV_BLOCK_BINS;
    if (!piece)
        piece = H5DIV_BLOCK_BINS;
    uint64_t mine = (count + piece - 1) / piece, rounds;
    MPI_Allreduce(&mine, &rounds, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);

    /* Which pieces stay in memory: h5div_sweep_init() and keep_piece(). */
    uint64_t kept = cached ? rounds : 0, slot = 0;
    int measure = cached && rounds > 1;
    const char *how = getenv("H5DIV_SHARD");
    if (measure && how && *how) {
        char *end;
        unsigned long long nk = strtoull(how, &end, 10);
        if (!strcmp(how, "keep") || !strcmp(how, "stream")) {
            measure = 0;
            cached = !strcmp(how, "keep");
            kept = cached ? rounds : 0;
        } else if (!*end && how[0] >= '0' && how[0] <= '9') {
            measure = 0;
            kept = nk < rounds ? (uint64_t)nk : rounds;
            slot = kept * piece < count ? kept * piece : count;
        }
    }
    size_t nbuf = (size_t)(cached ? count : piece);
    double *buf[2] = {malloc((nbuf ? nbuf : 1) * sizeof(double)),
                      malloc((nbuf ? nbuf : 1) * sizeof(double))};
    if (!buf[0] || !buf[1]) {
        fprintf(stderr, "rawread: out of memory for %zu bins\n", nbuf);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int passes = 0;
    double sum = 0;
    volatile double later = 0; /* what later passes read, so that it is used */
    for (int pass = 0; pass < 2 && !(pass == 1 && kept == rounds); pass++, passes++) {
        for (uint64_t r = 0; r < rounds; r++) {
            if (pass > 0 && r < kept)
                continue; /* kept in memory: nothing to read */
            uint64_t start = r * piece;
            uint64_t n = start < count ? count - start : 0;
            if (n > piece)
                n = piece;
            uint64_t at = !cached ? 0 : r < kept ? start : slot;
            int timed = measure && pass == 0;
            double t[2] = {0, 0}, w0 = MPI_Wtime();
            if (timed) {
                for (int k = 0; k < 2; k++) {
                    volatile char *c = (volatile char *)(buf[k] + at);
                    for (size_t i = 0; i < n * sizeof(double); i += 4096)
                        c[i] = 0; /* a write only: a read first would fault twice */
                }
                t[0] = MPI_Wtime() - w0;
            }
            double w1 = MPI_Wtime();
            for (int k = 0; k < 2; k++) {
                double *b = buf[k] + at;
                if (read_piece(&d[k], offset + start, n, n ? b : NULL, collective) != 0) {
                    fprintf(stderr, "rawread: read failed at bins %llu+%llu\n",
                            (unsigned long long)(offset + start), (unsigned long long)n);
                    MPI_Abort(MPI_COMM_WORLD, 3);
                }
                if (pass == 0)
                    sum += touch(b, offset + start, n);
                else
                    later += touch(b, offset + start, n);
            }
            if (timed) {
                t[1] = MPI_Wtime() - w1;
                MPI_Allreduce(MPI_IN_PLACE, t, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
                if (!(t[0] < t[1])) {
                    kept = r;
                    slot = start < count ? start : count;
                    measure = 0;
                }
            }
        }
    }
    for (int k = 0; k < 2; k++) {
        H5Sclose(d[k].space);
        H5Dclose(d[k].dset);
        H5Fclose(d[k].file);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double elapsed = MPI_Wtime() - t0;
    double total;
    MPI_Reduce(&sum, &total, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    if (rank == 0)
        printf("rawread hdf5=%u.%u.%u ranks=%d bins=%llu piece_bins=%llu rounds=%llu passes=%d "
               "kept=%llu io=%s open_s=%.6f seconds=%.6f checksum=%.17g\n",
               maj, min, rel, size, (unsigned long long)d[0].bins, (unsigned long long)piece,
               (unsigned long long)rounds, passes, (unsigned long long)kept,
               collective ? "collective" : "independent", t_open, elapsed, total);
    free(buf[0]);
    free(buf[1]);
    MPI_Finalize();
    return 0;
}

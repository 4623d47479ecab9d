/* SPDX-License-Identifier: BSD-3-Clause */
/* mpicount: an MPI profiling (PMPI) library that counts, per rank, every
 * collective call by name, the bytes each rank contributes to it, file I/O
 * calls (collective and independent) and point-to-point traffic, and writes
 * one JSON line per rank at MPI_Finalize with the peak RSS (VmHWM).
 *
 * Load it into any dynamically linked MPI program, no rebuild needed:
 *   mpirun -n 4 -x LD_PRELOAD=build-bench/mpicount/libmpicount.so \
 *          -x MPICOUNT_OUT=/tmp/run PROGRAM ...
 * writes /tmp/run.RANK.json (without MPICOUNT_OUT: the line goes to stderr).
 *
 * What is counted is what passes the MPI interface: calls made by the
 * program and by the libraries it links (parallel HDF5 calls MPI_File_*,
 * MPI_Bcast, MPI_Comm_dup, ... through the same symbols). Traffic an MPI
 * implementation generates internally (the messages of a collective's
 * algorithm, OMPIO's two-phase aggregation) is not visible here; "bytes" is
 * the payload this rank hands to the call:
 *   Allreduce, Reduce, Scan, Exscan, Reduce_scatter*: count x type size
 *   Bcast: count x type size on the root, 0 elsewhere
 *   Gather(v), Allgather(v), Scatter(v) (root), Alltoall(v): what this rank sends
 *   File reads and writes: count x type size (bytes moved, not sent)
 *   point-to-point sends: count x type size; receives are counted as calls
 * "sub" counts the calls made on a communicator smaller than MPI_COMM_WORLD
 * (the per-row communicators of h5div, for instance), and "s" the seconds
 * spent inside the calls (waiting for other ranks included). */
#define _GNU_SOURCE
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every counted function: name and group. The groups: collective calls on
 * communicators (communicator creation included), collective file calls,
 * independent file calls, point-to-point calls. */
#define MPICOUNT_FUNCS(X)                                                                          \
    X(MPI_Allreduce, COLL)                                                                         \
    X(MPI_Reduce, COLL)                                                                            \
    X(MPI_Scan, COLL)                                                                              \
    X(MPI_Exscan, COLL)                                                                            \
    X(MPI_Bcast, COLL)                                                                             \
    X(MPI_Barrier, COLL)                                                                           \
    X(MPI_Gather, COLL)                                                                            \
    X(MPI_Gatherv, COLL)                                                                           \
    X(MPI_Allgather, COLL)                                                                         \
    X(MPI_Allgatherv, COLL)                                                                        \
    X(MPI_Scatter, COLL)                                                                           \
    X(MPI_Scatterv, COLL)                                                                          \
    X(MPI_Alltoall, COLL)                                                                          \
    X(MPI_Alltoallv, COLL)                                                                         \
    X(MPI_Reduce_scatter, COLL)                                                                    \
    X(MPI_Reduce_scatter_block, COLL)                                                              \
    X(MPI_Comm_split, COLL)                                                                        \
    X(MPI_Comm_split_type, COLL)                                                                   \
    X(MPI_Comm_dup, COLL)                                                                          \
    X(MPI_Comm_create, COLL)                                                                       \
    X(MPI_Comm_free, COLL)                                                                         \
    X(MPI_File_open, FCOLL)                                                                        \
    X(MPI_File_close, FCOLL)                                                                       \
    X(MPI_File_set_view, FCOLL)                                                                    \
    X(MPI_File_set_size, FCOLL)                                                                    \
    X(MPI_File_set_atomicity, FCOLL)                                                               \
    X(MPI_File_sync, FCOLL)                                                                        \
    X(MPI_File_read_at_all, FCOLL)                                                                 \
    X(MPI_File_write_at_all, FCOLL)                                                                \
    X(MPI_File_read_all, FCOLL)                                                                    \
    X(MPI_File_write_all, FCOLL)                                                                   \
    X(MPI_File_read_at, FIND)                                                                      \
    X(MPI_File_write_at, FIND)                                                                     \
    X(MPI_File_read, FIND)                                                                         \
    X(MPI_File_write, FIND)                                                                        \
    X(MPI_File_iread_at, FIND)                                                                     \
    X(MPI_File_iwrite_at, FIND)                                                                    \
    X(MPI_File_get_size, FIND)                                                                     \
    X(MPI_Send, P2P)                                                                               \
    X(MPI_Ssend, P2P)                                                                              \
    X(MPI_Isend, P2P)                                                                              \
    X(MPI_Issend, P2P)                                                                             \
    X(MPI_Sendrecv, P2P)                                                                           \
    X(MPI_Recv, P2P)                                                                               \
    X(MPI_Irecv, P2P)

enum group { COLL, FCOLL, FIND, P2P, NGROUPS };
static const char *const group_name[NGROUPS] = {"coll", "file_coll", "file_ind", "p2p"};

#define X_ENUM(f, g) ID_##f,
enum { MPICOUNT_FUNCS(X_ENUM) NFUNCS };
#define X_NAME(f, g) #f,
static const char *const func_name[NFUNCS] = {MPICOUNT_FUNCS(X_NAME)};
#define X_GROUP(f, g) g,
static const enum group func_group[NFUNCS] = {MPICOUNT_FUNCS(X_GROUP)};

static struct {
    uint64_t calls, bytes, sub;
    double secs;
} stat[NFUNCS];

/* MPICOUNT_TRACE=1: one stderr line per independent file read or write. */
static int trace = -1;

static void trace_file(const char *what, MPI_Offset off, uint64_t bytes)
{
    if (trace < 0) {
        const char *e = getenv("MPICOUNT_TRACE");
        trace = e && *e && *e != '0';
    }
    if (trace) {
        int rank = -1;
        PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
        fprintf(stderr, "mpicount: rank %d %s offset %lld bytes %llu\n", rank, what, (long long)off,
                (unsigned long long)bytes);
    }
}

static uint64_t type_bytes(long long count, MPI_Datatype t)
{
    int sz = 0;
    if (count <= 0 || t == MPI_DATATYPE_NULL || PMPI_Type_size(t, &sz) != MPI_SUCCESS)
        return 0;
    return (uint64_t)count * (uint64_t)sz;
}

static int is_sub(MPI_Comm c)
{
    int n = 0, w = 0;
    if (c == MPI_COMM_NULL || PMPI_Comm_size(c, &n) != MPI_SUCCESS)
        return 0;
    PMPI_Comm_size(MPI_COMM_WORLD, &w);
    return n < w;
}

static int comm_rank(MPI_Comm c)
{
    int r = -1;
    PMPI_Comm_rank(c, &r);
    return r;
}

static int comm_size(MPI_Comm c)
{
    int n = 0;
    PMPI_Comm_size(c, &n);
    return n;
}

static uint64_t sum_counts(const int *counts, int n, MPI_Datatype t)
{
    long long s = 0;
    for (int i = 0; counts && i < n; i++)
        s += counts[i];
    return type_bytes(s, t);
}

/* Times the call EXPR and books it under function ID with payload BYTES;
 * COMM (or MPI_COMM_NULL) decides "sub". */
#define COUNTED(id_, comm_, bytes_, expr_)                                                         \
    do {                                                                                           \
        double t0_ = PMPI_Wtime();                                                                 \
        rc = (expr_);                                                                              \
        stat[id_].secs += PMPI_Wtime() - t0_;                                                      \
        stat[id_].calls++;                                                                         \
        stat[id_].bytes += (bytes_);                                                               \
        stat[id_].sub += (uint64_t)is_sub(comm_);                                                  \
    } while (0)

/* ---- collectives -------------------------------------------------------- */

int MPI_Allreduce(const void *s, void *r, int n, MPI_Datatype t, MPI_Op op, MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Allreduce, c, type_bytes(n, t), PMPI_Allreduce(s, r, n, t, op, c));
    return rc;
}

int MPI_Reduce(const void *s, void *r, int n, MPI_Datatype t, MPI_Op op, int root, MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Reduce, c, type_bytes(n, t), PMPI_Reduce(s, r, n, t, op, root, c));
    return rc;
}

int MPI_Scan(const void *s, void *r, int n, MPI_Datatype t, MPI_Op op, MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Scan, c, type_bytes(n, t), PMPI_Scan(s, r, n, t, op, c));
    return rc;
}

int MPI_Exscan(const void *s, void *r, int n, MPI_Datatype t, MPI_Op op, MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Exscan, c, type_bytes(n, t), PMPI_Exscan(s, r, n, t, op, c));
    return rc;
}

int MPI_Bcast(void *b, int n, MPI_Datatype t, int root, MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Bcast, c, comm_rank(c) == root ? type_bytes(n, t) : 0,
            PMPI_Bcast(b, n, t, root, c));
    return rc;
}

int MPI_Barrier(MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Barrier, c, 0, PMPI_Barrier(c));
    return rc;
}

int MPI_Gather(const void *s, int sn, MPI_Datatype st, void *r, int rn, MPI_Datatype rt, int root,
               MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Gather, c, type_bytes(sn, st), PMPI_Gather(s, sn, st, r, rn, rt, root, c));
    return rc;
}

int MPI_Gatherv(const void *s, int sn, MPI_Datatype st, void *r, const int rn[], const int d[],
                MPI_Datatype rt, int root, MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Gatherv, c, type_bytes(sn, st), PMPI_Gatherv(s, sn, st, r, rn, d, rt, root, c));
    return rc;
}

int MPI_Allgather(const void *s, int sn, MPI_Datatype st, void *r, int rn, MPI_Datatype rt,
                  MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Allgather, c, type_bytes(sn, st), PMPI_Allgather(s, sn, st, r, rn, rt, c));
    return rc;
}

int MPI_Allgatherv(const void *s, int sn, MPI_Datatype st, void *r, const int rn[], const int d[],
                   MPI_Datatype rt, MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Allgatherv, c, type_bytes(sn, st), PMPI_Allgatherv(s, sn, st, r, rn, d, rt, c));
    return rc;
}

int MPI_Scatter(const void *s, int sn, MPI_Datatype st, void *r, int rn, MPI_Datatype rt, int root,
                MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Scatter, c,
            comm_rank(c) == root ? type_bytes((long long)sn * comm_size(c), st) : 0,
            PMPI_Scatter(s, sn, st, r, rn, rt, root, c));
    return rc;
}

int MPI_Scatterv(const void *s, const int sn[], const int d[], MPI_Datatype st, void *r, int rn,
                 MPI_Datatype rt, int root, MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Scatterv, c, comm_rank(c) == root ? sum_counts(sn, comm_size(c), st) : 0,
            PMPI_Scatterv(s, sn, d, st, r, rn, rt, root, c));
    return rc;
}

int MPI_Alltoall(const void *s, int sn, MPI_Datatype st, void *r, int rn, MPI_Datatype rt,
                 MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Alltoall, c, type_bytes((long long)sn * comm_size(c), st),
            PMPI_Alltoall(s, sn, st, r, rn, rt, c));
    return rc;
}

int MPI_Alltoallv(const void *s, const int sn[], const int sd[], MPI_Datatype st, void *r,
                  const int rn[], const int rd[], MPI_Datatype rt, MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Alltoallv, c, sum_counts(sn, comm_size(c), st),
            PMPI_Alltoallv(s, sn, sd, st, r, rn, rd, rt, c));
    return rc;
}

int MPI_Reduce_scatter(const void *s, void *r, const int rn[], MPI_Datatype t, MPI_Op op,
                       MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Reduce_scatter, c, sum_counts(rn, comm_size(c), t),
            PMPI_Reduce_scatter(s, r, rn, t, op, c));
    return rc;
}

int MPI_Reduce_scatter_block(const void *s, void *r, int rn, MPI_Datatype t, MPI_Op op, MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Reduce_scatter_block, c, type_bytes((long long)rn * comm_size(c), t),
            PMPI_Reduce_scatter_block(s, r, rn, t, op, c));
    return rc;
}

int MPI_Comm_split(MPI_Comm c, int color, int key, MPI_Comm *out)
{
    int rc;
    COUNTED(ID_MPI_Comm_split, c, 0, PMPI_Comm_split(c, color, key, out));
    return rc;
}

int MPI_Comm_split_type(MPI_Comm c, int type, int key, MPI_Info info, MPI_Comm *out)
{
    int rc;
    COUNTED(ID_MPI_Comm_split_type, c, 0, PMPI_Comm_split_type(c, type, key, info, out));
    return rc;
}

int MPI_Comm_dup(MPI_Comm c, MPI_Comm *out)
{
    int rc;
    COUNTED(ID_MPI_Comm_dup, c, 0, PMPI_Comm_dup(c, out));
    return rc;
}

int MPI_Comm_create(MPI_Comm c, MPI_Group g, MPI_Comm *out)
{
    int rc;
    COUNTED(ID_MPI_Comm_create, c, 0, PMPI_Comm_create(c, g, out));
    return rc;
}

int MPI_Comm_free(MPI_Comm *c)
{
    int rc;
    /* The communicator is gone after the call: decide "sub" before. */
    MPI_Comm before = c ? *c : MPI_COMM_NULL;
    int sub = is_sub(before);
    COUNTED(ID_MPI_Comm_free, MPI_COMM_NULL, 0, PMPI_Comm_free(c));
    stat[ID_MPI_Comm_free].sub += (uint64_t)sub;
    return rc;
}

/* ---- MPI-IO --------------------------------------------------------------- */

int MPI_File_open(MPI_Comm c, const char *name, int mode, MPI_Info info, MPI_File *fh)
{
    int rc;
    COUNTED(ID_MPI_File_open, c, 0, PMPI_File_open(c, name, mode, info, fh));
    return rc;
}

int MPI_File_close(MPI_File *fh)
{
    int rc;
    COUNTED(ID_MPI_File_close, MPI_COMM_NULL, 0, PMPI_File_close(fh));
    return rc;
}

int MPI_File_set_view(MPI_File fh, MPI_Offset disp, MPI_Datatype et, MPI_Datatype ft,
                      const char *rep, MPI_Info info)
{
    int rc;
    COUNTED(ID_MPI_File_set_view, MPI_COMM_NULL, 0,
            PMPI_File_set_view(fh, disp, et, ft, rep, info));
    return rc;
}

int MPI_File_set_size(MPI_File fh, MPI_Offset size)
{
    int rc;
    COUNTED(ID_MPI_File_set_size, MPI_COMM_NULL, 0, PMPI_File_set_size(fh, size));
    return rc;
}

int MPI_File_set_atomicity(MPI_File fh, int flag)
{
    int rc;
    COUNTED(ID_MPI_File_set_atomicity, MPI_COMM_NULL, 0, PMPI_File_set_atomicity(fh, flag));
    return rc;
}

int MPI_File_sync(MPI_File fh)
{
    int rc;
    COUNTED(ID_MPI_File_sync, MPI_COMM_NULL, 0, PMPI_File_sync(fh));
    return rc;
}

int MPI_File_read_at_all(MPI_File fh, MPI_Offset off, void *b, int n, MPI_Datatype t, MPI_Status *s)
{
    int rc;
    COUNTED(ID_MPI_File_read_at_all, MPI_COMM_NULL, type_bytes(n, t),
            PMPI_File_read_at_all(fh, off, b, n, t, s));
    return rc;
}

int MPI_File_write_at_all(MPI_File fh, MPI_Offset off, const void *b, int n, MPI_Datatype t,
                          MPI_Status *s)
{
    int rc;
    COUNTED(ID_MPI_File_write_at_all, MPI_COMM_NULL, type_bytes(n, t),
            PMPI_File_write_at_all(fh, off, b, n, t, s));
    return rc;
}

int MPI_File_read_all(MPI_File fh, void *b, int n, MPI_Datatype t, MPI_Status *s)
{
    int rc;
    COUNTED(ID_MPI_File_read_all, MPI_COMM_NULL, type_bytes(n, t),
            PMPI_File_read_all(fh, b, n, t, s));
    return rc;
}

int MPI_File_write_all(MPI_File fh, const void *b, int n, MPI_Datatype t, MPI_Status *s)
{
    int rc;
    COUNTED(ID_MPI_File_write_all, MPI_COMM_NULL, type_bytes(n, t),
            PMPI_File_write_all(fh, b, n, t, s));
    return rc;
}

int MPI_File_read_at(MPI_File fh, MPI_Offset off, void *b, int n, MPI_Datatype t, MPI_Status *s)
{
    int rc;
    COUNTED(ID_MPI_File_read_at, MPI_COMM_NULL, type_bytes(n, t),
            PMPI_File_read_at(fh, off, b, n, t, s));
    trace_file("MPI_File_read_at", off, type_bytes(n, t));
    return rc;
}

int MPI_File_write_at(MPI_File fh, MPI_Offset off, const void *b, int n, MPI_Datatype t,
                      MPI_Status *s)
{
    int rc;
    COUNTED(ID_MPI_File_write_at, MPI_COMM_NULL, type_bytes(n, t),
            PMPI_File_write_at(fh, off, b, n, t, s));
    trace_file("MPI_File_write_at", off, type_bytes(n, t));
    return rc;
}

int MPI_File_read(MPI_File fh, void *b, int n, MPI_Datatype t, MPI_Status *s)
{
    int rc;
    COUNTED(ID_MPI_File_read, MPI_COMM_NULL, type_bytes(n, t), PMPI_File_read(fh, b, n, t, s));
    return rc;
}

int MPI_File_write(MPI_File fh, const void *b, int n, MPI_Datatype t, MPI_Status *s)
{
    int rc;
    COUNTED(ID_MPI_File_write, MPI_COMM_NULL, type_bytes(n, t), PMPI_File_write(fh, b, n, t, s));
    return rc;
}

int MPI_File_iread_at(MPI_File fh, MPI_Offset off, void *b, int n, MPI_Datatype t, MPI_Request *req)
{
    int rc;
    COUNTED(ID_MPI_File_iread_at, MPI_COMM_NULL, type_bytes(n, t),
            PMPI_File_iread_at(fh, off, b, n, t, req));
    return rc;
}

int MPI_File_iwrite_at(MPI_File fh, MPI_Offset off, const void *b, int n, MPI_Datatype t,
                       MPI_Request *req)
{
    int rc;
    COUNTED(ID_MPI_File_iwrite_at, MPI_COMM_NULL, type_bytes(n, t),
            PMPI_File_iwrite_at(fh, off, b, n, t, req));
    return rc;
}

int MPI_File_get_size(MPI_File fh, MPI_Offset *size)
{
    int rc;
    COUNTED(ID_MPI_File_get_size, MPI_COMM_NULL, 0, PMPI_File_get_size(fh, size));
    return rc;
}

/* ---- point to point --------------------------------------------------------- */

int MPI_Send(const void *b, int n, MPI_Datatype t, int dest, int tag, MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Send, c, type_bytes(n, t), PMPI_Send(b, n, t, dest, tag, c));
    return rc;
}

int MPI_Ssend(const void *b, int n, MPI_Datatype t, int dest, int tag, MPI_Comm c)
{
    int rc;
    COUNTED(ID_MPI_Ssend, c, type_bytes(n, t), PMPI_Ssend(b, n, t, dest, tag, c));
    return rc;
}

int MPI_Isend(const void *b, int n, MPI_Datatype t, int dest, int tag, MPI_Comm c, MPI_Request *r)
{
    int rc;
    COUNTED(ID_MPI_Isend, c, type_bytes(n, t), PMPI_Isend(b, n, t, dest, tag, c, r));
    return rc;
}

int MPI_Issend(const void *b, int n, MPI_Datatype t, int dest, int tag, MPI_Comm c, MPI_Request *r)
{
    int rc;
    COUNTED(ID_MPI_Issend, c, type_bytes(n, t), PMPI_Issend(b, n, t, dest, tag, c, r));
    return rc;
}

int MPI_Sendrecv(const void *sb, int sn, MPI_Datatype st, int dest, int stag, void *rb, int rn,
                 MPI_Datatype rt, int src, int rtag, MPI_Comm c, MPI_Status *s)
{
    int rc;
    COUNTED(ID_MPI_Sendrecv, c, type_bytes(sn, st),
            PMPI_Sendrecv(sb, sn, st, dest, stag, rb, rn, rt, src, rtag, c, s));
    return rc;
}

int MPI_Recv(void *b, int n, MPI_Datatype t, int src, int tag, MPI_Comm c, MPI_Status *s)
{
    int rc;
    COUNTED(ID_MPI_Recv, c, 0, PMPI_Recv(b, n, t, src, tag, c, s));
    return rc;
}

int MPI_Irecv(void *b, int n, MPI_Datatype t, int src, int tag, MPI_Comm c, MPI_Request *r)
{
    int rc;
    COUNTED(ID_MPI_Irecv, c, 0, PMPI_Irecv(b, n, t, src, tag, c, r));
    return rc;
}

/* ---- report ------------------------------------------------------------------ */

/* A "VmHWM:" style line of /proc/self/status, in KiB (-1 if absent). */
static long long proc_status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long long v = -1;
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, k) == 0 && line[k] == ':') {
            v = strtoll(line + k + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

int MPI_Finalize(void)
{
    int rank = 0, size = 0;
    PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
    PMPI_Comm_size(MPI_COMM_WORLD, &size);
    uint64_t gcalls[NGROUPS] = {0}, gbytes[NGROUPS] = {0};
    double gsecs[NGROUPS] = {0};
    for (int i = 0; i < NFUNCS; i++) {
        gcalls[func_group[i]] += stat[i].calls;
        gbytes[func_group[i]] += stat[i].bytes;
        gsecs[func_group[i]] += stat[i].secs;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&buf, &len);
    if (o) {
        fprintf(o, "{\"rank\": %d, \"size\": %d, \"vmhwm_kib\": %lld, \"vmrss_kib\": %lld", rank,
                size, proc_status_kib("VmHWM"), proc_status_kib("VmRSS"));
        for (int g = 0; g < NGROUPS; g++)
            fprintf(o, ", \"%s_calls\": %llu, \"%s_bytes\": %llu, \"%s_s\": %.6f", group_name[g],
                    (unsigned long long)gcalls[g], group_name[g], (unsigned long long)gbytes[g],
                    group_name[g], gsecs[g]);
        fprintf(o, ", \"calls\": {");
        int first = 1;
        for (int i = 0; i < NFUNCS; i++) {
            if (!stat[i].calls)
                continue;
            fprintf(o, "%s\"%s\": {\"n\": %llu, \"bytes\": %llu, \"sub\": %llu, \"s\": %.6f}",
                    first ? "" : ", ", func_name[i], (unsigned long long)stat[i].calls,
                    (unsigned long long)stat[i].bytes, (unsigned long long)stat[i].sub,
                    stat[i].secs);
            first = 0;
        }
        fprintf(o, "}}\n");
        fclose(o);
    }
    const char *prefix = getenv("MPICOUNT_OUT");
    FILE *out = stderr;
    if (prefix && *prefix) {
        char path[4096];
        snprintf(path, sizeof path, "%s.%d.json", prefix, rank);
        out = fopen(path, "w");
        if (!out) {
            fprintf(stderr, "mpicount: cannot write %s\n", path);
            out = stderr;
        }
    }
    if (buf)
        fputs(buf, out);
    if (out != stderr)
        fclose(out);
    free(buf);
    return PMPI_Finalize();
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Reads of contiguous datasets through MPI-IO, started before they are needed (src/io only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/buffer.h"
#include "io/prefetch.h"

/* Whether dataset d can be read as bytes at a file offset, and from which
 * file: contiguous storage that has been allocated (H5Dget_offset is then
 * absolute, user block included) and is not external. */
static int qualifies(const h5div_dset *d, haddr_t *off, const char **why)
{
    hid_t dcpl = H5Dget_create_plist(d->dset);
    if (dcpl < 0) {
        *why = "no creation properties";
        return 0;
    }
    H5D_layout_t layout = H5Pget_layout(dcpl);
    int ext = H5Pget_external_count(dcpl);
    H5Pclose(dcpl);
    if (layout != H5D_CONTIGUOUS) {
        *why = layout == H5D_CHUNKED   ? "chunked"
               : layout == H5D_COMPACT ? "compact"
               : layout == H5D_VIRTUAL ? "virtual"
                                       : "unknown layout";
        return 0;
    }
    if (ext != 0) {
        *why = "external storage";
        return 0;
    }
    *off = H5Dget_offset(d->dset);
    if (*off == HADDR_UNDEF) {
        *why = "storage not allocated";
        return 0;
    }
    /* Converted in place in a buffer of 8 bytes a value. */
    hid_t ft = H5Dget_type(d->dset);
    size_t size = ft >= 0 ? H5Tget_size(ft) : 0;
    if (ft >= 0)
        H5Tclose(ft);
    if (size == 0 || size > sizeof(double)) {
        *why = "values wider than 8 bytes";
        return 0;
    }
    *why = NULL;
    return 1;
}

/* The name of the file dataset d is stored in (through an external link,
 * not the one given), in a new string, or NULL. */
static char *file_name(const h5div_dset *d)
{
    hid_t f = H5Iget_file_id(d->dset);
    if (f < 0)
        return NULL;
    char *name = NULL;
    ssize_t n = H5Fget_name(f, NULL, 0);
    if (n > 0 && (name = malloc((size_t)n + 1)) != NULL &&
        H5Fget_name(f, name, (size_t)n + 1) < 0) {
        free(name);
        name = NULL;
    }
    H5Fclose(f);
    return name;
}

static void src_off(h5div_prefetch_src *s)
{
    if (s->on)
        MPI_File_close(&s->fh);
    if (s->ftype >= 0)
        H5Tclose(s->ftype);
    s->on = 0;
    s->ftype = H5I_INVALID_HID;
}

h5div_prefetch *h5div_prefetch_open(h5div_dset *const *d, int nd, int want, int rank, int *ok)
{
    *ok = 1;
    h5div_prefetch *pf = calloc(1, sizeof *pf);
    if (!pf) {
        *ok = 0;
        return NULL;
    }
    pf->nd = nd;
    pf->rank = rank;
    for (int k = 0; k < H5DIV_SWEEP_MAX; k++)
        pf->s[k].ftype = H5I_INVALID_HID;
    const char *env = getenv("H5DIV_OVERLAP");
    const int enabled = !(env && !strcmp(env, "0"));
    const int debug = getenv("H5DIV_DEBUG") != NULL;
    for (int k = 0; k < nd; k++) {
        h5div_prefetch_src *s = &pf->s[k];
        haddr_t off = HADDR_UNDEF;
        const char *why = "H5DIV_OVERLAP=0";
        if (enabled && qualifies(d[k], &off, &why) && !want) {
            /* Not worth a second open; the other ranks must not either. */
            why = "one piece per rank";
            *ok = 0;
        } else if (enabled && !why) {
            char *name = file_name(d[k]);
            hid_t ft = H5Dget_type(d[k]->dset);
            size_t size = ft >= 0 ? H5Tget_size(ft) : 0;
            if (name && size > 0 && size <= sizeof(double) &&
                MPI_File_open(MPI_COMM_SELF, name, MPI_MODE_RDONLY, MPI_INFO_NULL, &s->fh) ==
                    MPI_SUCCESS) {
                s->on = 1;
                s->base = (MPI_Offset)off;
                s->fsize = size;
                s->ftype = ft;
                pf->non++;
                pf->lo_on += h5div_dset_is_int64(d[k]);
            } else {
                if (ft >= 0)
                    H5Tclose(ft);
                why = "cannot open the file with MPI_File_open";
                *ok = 0;
            }
            free(name);
        }
        if (debug && rank == 0) {
            if (why)
                fprintf(stderr, "h5div: %s: read through HDF5 (%s)\n", d[k]->ref, why);
            else
                fprintf(stderr,
                        "h5div: %s: contiguous, %zu-byte values at file offset %llu: "
                        "read through MPI-IO, the next piece while this one is computed\n",
                        d[k]->ref, s->fsize, (unsigned long long)s->base);
        }
    }
    return pf;
}

void h5div_prefetch_agree(h5div_prefetch *pf, int all_ok)
{
    if (!pf || all_ok)
        return;
    for (int k = 0; k < pf->nd; k++)
        src_off(&pf->s[k]);
    pf->non = pf->lo_on = 0;
}

void h5div_prefetch_start(h5div_prefetch *pf, int k, uint64_t bin, size_t n, double *buf,
                          double *lo, int now)
{
    h5div_prefetch_src *s = &pf->s[k];
    s->pending = 1;
    s->failed = 0;
    s->nreq = 0;
    s->bin = bin;
    s->n = n;
    s->buf = buf;
    s->lo = lo;
    const double t0 = MPI_Wtime();
    size_t left = n * s->fsize;
    MPI_Offset at = s->base + (MPI_Offset)(bin * s->fsize);
    char *p = (char *)buf;
    /* Never one request above 2 GiB (int counts, and Linux transfers at
     * most 2 GiB - 4 KiB per read call). */
    while (left > 0 && !s->failed) {
        size_t b = left < H5DIV_PREFETCH_REQ_BYTES ? left : H5DIV_PREFETCH_REQ_BYTES;
        if (now) {
            /* Needed at once: a blocking read in this thread, without the
             * helper thread and the polling of a nonblocking one. */
            MPI_Status status;
            int got = 0;
            s->failed = MPI_File_read_at(s->fh, at, p, (int)b, MPI_BYTE, &status) != MPI_SUCCESS ||
                        MPI_Get_count(&status, MPI_BYTE, &got) != MPI_SUCCESS || got != (int)b;
        } else if (s->nreq == H5DIV_PREFETCH_REQ_MAX ||
                   MPI_File_iread_at(s->fh, at, p, (int)b, MPI_BYTE, &s->req[s->nreq]) !=
                       MPI_SUCCESS) {
            s->failed = 1;
        } else {
            s->want[s->nreq++] = (int)b;
        }
        at += (MPI_Offset)b;
        p += b;
        left -= b;
    }
    if (now) {
        pf->reads_now++;
        pf->t_now += MPI_Wtime() - t0;
    } else {
        pf->reads++;
        pf->t_start += MPI_Wtime() - t0;
    }
}

/* Wait for request r without spinning on the core that the read (OMPIO
 * hands it to a POSIX AIO thread) or other ranks need: MPI_Wait polls. */
static int wait_gently(MPI_Request *r, MPI_Status *status)
{
    const struct timespec pause = {0, 20000};
    for (;;) {
        int done = 0;
        int rc = MPI_Test(r, &done, status);
        if (rc != MPI_SUCCESS || done)
            return rc;
        nanosleep(&pause, NULL);
    }
}

int h5div_prefetch_finish(h5div_prefetch *pf, int k, const h5div_dset *d, int *any_lo, char *msg,
                          size_t len)
{
    h5div_prefetch_src *s = &pf->s[k];
    *any_lo = 0;
    int ok = !s->failed;
    const double t0 = MPI_Wtime();
    for (int i = 0; i < s->nreq; i++) {
        MPI_Status status;
        int got = 0;
        if (wait_gently(&s->req[i], &status) != MPI_SUCCESS ||
            MPI_Get_count(&status, MPI_BYTE, &got) != MPI_SUCCESS || got != s->want[i])
            ok = 0;
    }
    pf->t_wait += MPI_Wtime() - t0;
    s->pending = 0;
    s->nreq = 0;
    /* The same message as a failed H5Dread (read_failed in dset.c). */
    if (!ok) {
        h5div_set_error(msg, len, "read failed at bins %llu..%llu (%s)", (unsigned long long)s->bin,
                        (unsigned long long)(s->bin + s->n), d->ref);
        return H5DIV_EINPUT;
    }
    if (!s->n)
        return H5DIV_OK;
    /* In place, growing from the end: the buffer holds n doubles. */
    if (H5Tconvert(s->ftype, d->memtype, s->n, s->buf, NULL, H5P_DEFAULT) < 0) {
        h5div_set_error(msg, len, "read failed at bins %llu..%llu (%s)", (unsigned long long)s->bin,
                        (unsigned long long)(s->bin + s->n), d->ref);
        return H5DIV_EINPUT;
    }
    *any_lo = h5div_dset_to_double_lo(d, s->buf, s->lo, s->n);
    return H5DIV_OK;
}

void h5div_prefetch_drain(h5div_prefetch *pf)
{
    if (!pf)
        return;
    for (int k = 0; k < pf->nd; k++) {
        h5div_prefetch_src *s = &pf->s[k];
        for (int i = 0; i < s->nreq; i++)
            MPI_Wait(&s->req[i], MPI_STATUS_IGNORE);
        s->pending = 0;
        s->nreq = 0;
    }
}

void h5div_prefetch_close(h5div_prefetch *pf)
{
    if (!pf)
        return;
    h5div_prefetch_drain(pf);
    if (pf->non && pf->rank == 0 && getenv("H5DIV_DEBUG"))
        fprintf(stderr,
                "h5div: rank 0 read through MPI-IO %llu pieces ahead (%.4f s starting them, "
                "%.4f s waiting for them) and %llu when needed (%.4f s)\n",
                (unsigned long long)pf->reads, pf->t_start, pf->t_wait,
                (unsigned long long)pf->reads_now, pf->t_now);
    for (int k = 0; k < H5DIV_SWEEP_MAX; k++) {
        src_off(&pf->s[k]);
        h5div_buffer_free(pf->buf2[k]);
        h5div_buffer_free(pf->lo2[k]);
    }
    free(pf);
}

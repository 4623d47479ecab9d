/* SPDX-License-Identifier: BSD-3-Clause */
/* Result files written through a locked temporary copy that is renamed into place. */
/* flock(2) is BSD, not POSIX: it is the lock flock(1) takes in jobs/summary.sbatch;
 * fallocate(2) with FALLOC_FL_KEEP_SIZE reserves the space of a write ahead. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "io/io.h"
#include "io/writer.h"
#include "par/par.h"

/* Paths of results, lock and temporary files (as h5div_temp_out holds them). */
#define PATHBUF (H5DIV_REF_MAX + 64)

/* -- settings ------------------------------------------------------------ */

static double lock_wait = H5DIV_LOCK_TIMEOUT_DEFAULT;
static FILE *lock_notice = NULL;

void h5div_io_set_lock_wait(double seconds, FILE *notice)
{
    lock_wait = seconds;
    lock_notice = notice;
}

/* -- paths --------------------------------------------------------------- */

static void dir_of(const char *path, char *dir, size_t len)
{
    char tmp[PATHBUF];
    snprintf(tmp, sizeof tmp, "%s", path);
    snprintf(dir, len, "%s", dirname(tmp));
}

/* The file that `path` names: path itself or, for a symbolic link, the end
 * of its chain of links (also when that file does not exist yet). Writing
 * there keeps the links and replaces their target. 0, or -1 with errno. */
static int resolve_target(const char *path, char *out, size_t len)
{
    char cur[PATHBUF], link[PATHBUF], dir[PATHBUF];
    if (strlen(path) >= sizeof cur) {
        errno = ENAMETOOLONG;
        return -1;
    }
    snprintf(cur, sizeof cur, "%s", path);
    for (int hop = 0; hop < 40; hop++) {
        struct stat sb;
        if (lstat(cur, &sb) != 0 || !S_ISLNK(sb.st_mode)) {
            if (strlen(cur) >= len) {
                errno = ENAMETOOLONG;
                return -1;
            }
            snprintf(out, len, "%s", cur);
            return 0;
        }
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0)
            return -1;
        link[n] = '\0';
        dir_of(cur, dir, sizeof dir);
        int w = link[0] == '/' ? snprintf(cur, sizeof cur, "%s", link)
                               : snprintf(cur, sizeof cur, "%s/%s", dir, link);
        if (w < 0 || (size_t)w >= sizeof cur) {
            errno = ENAMETOOLONG;
            return -1;
        }
    }
    errno = ELOOP;
    return -1;
}

int h5div_output_vs_inputs(const char *out_file, const char *const *refs, int n, int in_place,
                           char *msg, size_t len)
{
    struct stat os;
    if (in_place || stat(out_file, &os) != 0)
        return H5DIV_OK; /* a new file is no input */
    for (int i = 0; i < n; i++) {
        char file[PATHBUF], path[H5DIV_REF_MAX];
        struct stat is;
        if (h5div_ref_split(refs[i], file, sizeof file, path, sizeof path) != H5DIV_OK ||
            stat(file, &is) != 0)
            continue; /* the reader reports it */
        if (is.st_dev == os.st_dev && is.st_ino == os.st_ino) {
            h5div_set_error(msg, len,
                            "output file is the input file of %s; h5div writes to an input file "
                            "only with --in-place (%s)",
                            refs[i], out_file);
            return H5DIV_EOUTPUT;
        }
    }
    return H5DIV_OK;
}

/* -- checks of the object to write ---------------------------------------- */

/* What h5div_check_target walks with: the output's names and settings. */
typedef struct target_walk {
    const char *file, *obj;
    int dataset, overwrite;
    char *msg;
    size_t len;
} target_walk;

/* An existing output object obj (info oi) may be replaced: a dataset by a
 * dataset, a group only when it is a result group or empty, and either only
 * with overwrite. Returns 1 (yes) or 2 (no, msg set). */
static int replaceable(const target_walk *w, hid_t f, const H5O_info_t *oi)
{
    const char *file = w->file, *obj = w->obj;
    if (w->dataset && oi->type != H5O_TYPE_DATASET)
        h5div_set_error(w->msg, w->len, "output path exists and is not a dataset (%s:%s)", file,
                        obj);
    else if (w->dataset && !w->overwrite)
        h5div_set_error(w->msg, w->len,
                        "output dataset exists; use --overwrite to replace it (%s:%s)", file, obj);
    else if (w->dataset)
        return 1;
    else if (oi->type != H5O_TYPE_GROUP)
        h5div_set_error(w->msg, w->len,
                        "output path is an existing dataset, not a result group; name "
                        "another group (%s:%s)",
                        file, obj);
    else if (!w->overwrite)
        h5div_set_error(w->msg, w->len,
                        "result group exists; use --overwrite to replace it (%s:%s)", file, obj);
    else {
        /* --overwrite replaces one result group, never a group of other runs. */
        H5G_info_t gi;
        int result = H5Aexists_by_name(f, obj, "h5div_version", H5P_DEFAULT) > 0;
        if (result || (H5Gget_info_by_name(f, obj, &gi, H5P_DEFAULT) >= 0 && gi.nlinks == 0))
            return 1;
        h5div_set_error(w->msg, w->len,
                        "--overwrite replaces only a result group, and this group is not one "
                        "but holds other objects (%s:%s)",
                        file, obj);
    }
    return 2;
}

/* One leading part of the output path: stops with 1 where the rest is
 * free (or the object may be replaced), 2 with an error in msg. */
static int check_component(void *ctx, hid_t f, const char *prefix, int last)
{
    const target_walk *w = ctx;
    htri_t e = H5Lexists(f, prefix, H5P_DEFAULT);
    H5O_info_t oi;
    int info = e > 0 ? H5Oget_info_by_name(f, prefix, &oi, H5P_DEFAULT) : -1;
    if (e < 0 || (e > 0 && info < 0)) {
        h5div_set_error(w->msg, w->len,
                        "output path is unreadable or a dangling link at %s (%s:%s)", prefix,
                        w->file, w->obj);
        return 2;
    }
    if (e == 0)
        return 1; /* created with the groups above it */
    if (!last && oi.type != H5O_TYPE_GROUP) {
        h5div_set_error(
            w->msg, w->len, "output path runs through %s, which is a %s, not a group (%s:%s)",
            prefix, oi.type == H5O_TYPE_DATASET ? "dataset" : "named datatype", w->file, w->obj);
        return 2;
    }
    return last ? replaceable(w, f, &oi) : 0;
}

int h5div_check_target(hid_t f, const char *file, const char *obj, int dataset, int overwrite,
                       char *msg, size_t len)
{
    target_walk w = {file, obj, dataset, overwrite, msg, len};
    int r = h5div_h5_path_walk(f, obj, check_component, &w);
    if (r == -1)
        h5div_set_error(msg, len, "output object name is longer than %d characters (%s)",
                        H5DIV_REF_MAX - 1, file);
    return r == -1 || r == 2 ? H5DIV_EOUTPUT : H5DIV_OK;
}

int h5div_check_output_object(const char *path, const char *obj, int dataset, int overwrite,
                              char *errmsg, size_t errlen)
{
    char target[PATHBUF], dir[PATHBUF];
    if (resolve_target(path, target, sizeof target) != 0) {
        h5div_set_error(errmsg, errlen, "cannot resolve the output path: %s (%s)", strerror(errno),
                        path);
        return H5DIV_EOUTPUT;
    }
    dir_of(target, dir, sizeof dir);
    if (access(dir, W_OK | X_OK) != 0) {
        h5div_set_error(errmsg, errlen, "cannot write %s in directory %s: %s (%s)",
                        dataset ? "output" : "results", dir, strerror(errno), path);
        return H5DIV_EOUTPUT;
    }
    struct stat sb;
    if (stat(target, &sb) != 0)
        return H5DIV_OK; /* a new file */
    if (!S_ISREG(sb.st_mode) || access(target, R_OK) != 0) {
        h5div_set_error(errmsg, errlen, "output exists and is not a readable file (%s)", path);
        return H5DIV_EOUTPUT;
    }
    h5div_h5_quiet q;
    h5div_h5_quiet_begin(&q);
    int st = H5DIV_OK;
    hid_t f = H5Fopen(target, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        h5div_set_error(errmsg, errlen, "output exists and is not an HDF5 file (%s)", path);
        st = H5DIV_EOUTPUT;
    } else {
        st = h5div_check_target(f, path, obj, dataset, overwrite, errmsg, errlen);
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

/* -- files ----------------------------------------------------------------- */

static int write_all(int fd, const char *buf, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, buf + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

static int copy_file(const char *from, int to_fd)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    static char buf[1 << 16];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || write_all(to_fd, buf, (size_t)n) != 0) {
            int e = errno;
            close(in);
            errno = e;
            return -1;
        }
    }
    close(in);
    return 0;
}

/* An empty HDF5 file, made in memory and written with checked write(2)s:
 * every later step opens an existing file, and no HDF5 close ever meets a
 * failing disk on its own. */
static int write_empty_hdf5(int fd)
{
    int rc = -1;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0) {
        hid_t f = H5Fcreate("h5div-empty-image", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        if (f >= 0) {
            /* the image holds what has been flushed */
            ssize_t n = H5Fflush(f, H5F_SCOPE_GLOBAL) < 0 ? -1 : H5Fget_file_image(f, NULL, 0);
            char *buf = n > 0 ? malloc((size_t)n) : NULL;
            if (buf && H5Fget_file_image(f, buf, (size_t)n) == n)
                rc = write_all(fd, buf, (size_t)n);
            free(buf);
            H5Fclose(f);
        }
    }
    if (fapl >= 0)
        H5Pclose(fapl);
    if (rc != 0 && errno == 0)
        errno = EIO;
    return rc;
}

/* Reserve `bytes` past the end of fd without changing its size, so that a
 * full disk or quota is found here and not by HDF5 in the middle of a
 * write. File systems that cannot reserve go on without. */
static int reserve_space(int fd, uint64_t bytes)
{
    off_t end = lseek(fd, 0, SEEK_END);
    /* A file size limit (ulimit -f) is found here too: HDF5 would meet it
     * in the middle of its writes. */
    struct rlimit rl;
    if (end >= 0 && getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (uint64_t)end + bytes > (uint64_t)rl.rlim_cur) {
        errno = EFBIG;
        return -1;
    }
    /* The fault tests turn the reservation off to reach the later stages. */
    if (end < 0 || bytes == 0 || getenv("H5DIV_TEST_NO_RESERVE"))
        return 0;
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, end, (off_t)bytes) == 0)
        return 0;
    return errno == ENOSPC || errno == EDQUOT || errno == EFBIG ? -1 : 0;
}

/* -- signals --------------------------------------------------------------- */

/* The temporary file of this process, removed when SIGTERM, SIGINT or
 * SIGHUP ends the run (exit status 128 + signal) once
 * h5div_io_catch_signals has been called. */
static char armed_tmp[PATHBUF];
/* And the files Open MPI's "individual" shared-file-pointer component keeps
 * beside it while it is open for writing (rank 0's, this process's). */
static char armed_side[2][PATHBUF + 16];
static volatile sig_atomic_t armed;

/* The temporary file and its side files, from a signal handler. */
static void unlink_armed(void)
{
    unlink(armed_tmp);
    unlink(armed_side[0]);
    unlink(armed_side[1]);
}
static const int caught[3] = {SIGTERM, SIGINT, SIGHUP};
/* A crash (inside a library) also removes the temporary file, then goes on
 * as the crash it is. */
static const int crashes[3] = {SIGSEGV, SIGBUS, SIGABRT};

static void on_signal(int sig)
{
    if (armed)
        unlink_armed();
    _exit(128 + sig);
}

static void on_crash(int sig)
{
    if (armed)
        unlink_armed();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void block_signals(sigset_t *old)
{
    sigset_t s;
    sigemptyset(&s);
    for (int i = 0; i < 3; i++)
        sigaddset(&s, caught[i]);
    pthread_sigmask(SIG_BLOCK, &s, old);
}

void h5div_io_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++) {
        struct sigaction cur;
        sa.sa_handler = on_signal;
        if (sigaction(caught[i], NULL, &cur) == 0 && cur.sa_handler != SIG_IGN)
            sigaction(caught[i], &sa, NULL);
        sa.sa_handler = on_crash;
        sigaction(crashes[i], &sa, NULL);
    }
}

/* mkstemp(tmpl), with the name known to the handler before a signal can
 * arrive. */
static int temp_create(char *tmpl)
{
    sigset_t old;
    block_signals(&old);
    int fd = mkstemp(tmpl);
    if (fd >= 0) {
        snprintf(armed_tmp, sizeof armed_tmp, "%s", tmpl);
        snprintf(armed_side[0], sizeof armed_side[0], "%s.data.0", tmpl);
        snprintf(armed_side[1], sizeof armed_side[1], "%s.metadata.0", tmpl);
        armed = 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return fd;
}

/* The temporary file is gone (renamed or removed). */
static void temp_forget(void)
{
    sigset_t old;
    block_signals(&old);
    armed = 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* -- the lock -------------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Take an exclusive flock(2) on the side file "target.lock" so that writers
 * of the same results file (array tasks, a summary job) take turns at the
 * read-copy-rename; without it two writers copy the same old file and the
 * second rename drops the first one's group. flock(1) takes the same lock.
 * The lock file gets the group and mode of the results file, so that every
 * member of a group sharing the results can take it (and it is opened read
 * only when it cannot be written: flock needs no write access). A held
 * lock is waited for lock_wait seconds, said once on lock_notice.
 * Returns the lock's descriptor (closing it releases the lock, and so does
 * a killed process), -2 when the file system cannot lock (the write goes
 * on unlocked), or -1 with the error in msg. */
/* The lock file `name` of results file target, made with target's group and
 * mode where it is new: its descriptor, or -1 with the error in msg. */
static int open_lock_file(const char *name, const char *target, char *msg, size_t len)
{
    struct stat rs;
    int have = stat(target, &rs) == 0 && S_ISREG(rs.st_mode);
    int fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0 && have) {
        if (fchown(fd, (uid_t)-1, rs.st_gid) != 0) {
            /* not a member of the group: the mode still applies */
        }
        fchmod(fd, rs.st_mode & 0666);
    }
    if (fd < 0 && errno == EEXIST) {
        fd = open(name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == EACCES)
            fd = open(name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
    struct stat ls;
    if (fd >= 0 && fstat(fd, &ls) == 0 && S_ISREG(ls.st_mode))
        return fd;
    if (fd < 0 && errno == ELOOP)
        h5div_set_error(msg, len, "the lock file is a symbolic link; remove it to write here (%s)",
                        name);
    else if (fd < 0)
        h5div_set_error(msg, len, "cannot open the lock file: %s (%s)", strerror(errno), name);
    else
        h5div_set_error(msg, len, "the lock file is not a regular file (%s)", name);
    if (fd >= 0)
        close(fd);
    return -1;
}

/* The one line saying that this run waits for the lock `name`. */
static void tell_waiting(const char *name)
{
    if (!lock_notice)
        return;
    if (lock_wait >= 0)
        fprintf(lock_notice,
                "h5div: waiting for the lock of %s held by another run (giving up after "
                "%g s, --lock-timeout)\n",
                name, lock_wait);
    else
        fprintf(lock_notice, "h5div: waiting for the lock of %s held by another run\n", name);
    fflush(lock_notice);
}

static int lock_results(const char *target, char *msg, size_t len)
{
    char name[PATHBUF];
    if ((size_t)snprintf(name, sizeof name, "%s.lock", target) >= sizeof name) {
        h5div_set_error(msg, len, "results path is too long for its lock file (%s)", target);
        return -1;
    }
    int fd = open_lock_file(name, target, msg, len);
    if (fd < 0)
        return -1;
    double t0 = now_seconds();
    int told = 0;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return fd;
        int e = errno;
        if (e == EINTR)
            continue;
        if (e != EWOULDBLOCK) {
            close(fd);
            if (e == ENOLCK || e == ENOSYS || e == EOPNOTSUPP || e == EINVAL)
                return -2;
            h5div_set_error(msg, len, "cannot lock the results file: %s (%s)", strerror(e), name);
            return -1;
        }
        if (lock_wait >= 0 && now_seconds() - t0 >= lock_wait) {
            close(fd);
            h5div_set_error(msg, len,
                            "another run still holds the lock of the output file after %g s; "
                            "try again later or raise --lock-timeout (%s)",
                            lock_wait, name);
            return -1;
        }
        if (!told)
            tell_waiting(name);
        told = 1;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* -- the temporary copy ------------------------------------------------------ */

/* ".NAME.h5div-" of a target's base name (cut to 200 bytes): its temporary
 * files are this plus six random characters. */
static void temp_prefix(const char *target, char *prefix, size_t len)
{
    char tmp[PATHBUF];
    snprintf(tmp, sizeof tmp, "%s", target);
    snprintf(prefix, len, ".%.200s.h5div-", basename(tmp));
}

/* Is `rest` (what follows a temporary name's prefix) six random characters,
 * alone or followed by ".data.N" or ".metadata.N"? The latter are the files
 * Open MPI's "individual" shared-file-pointer component keeps beside a file
 * opened for writing on several ranks; it removes them at close, so only a
 * killed run leaves them. */
static int stale_rest(const char *rest)
{
    if (strlen(rest) < 6)
        return 0;
    rest += 6;
    if (*rest == '\0')
        return 1;
    const char *n = NULL;
    if (strncmp(rest, ".data.", 6) == 0)
        n = rest + 6;
    else if (strncmp(rest, ".metadata.", 10) == 0)
        n = rest + 10;
    if (!n || *n == '\0')
        return 0;
    for (; *n; n++)
        if (*n < '0' || *n > '9')
            return 0;
    return 1;
}

/* With the lock held no other run writes this target: any temporary file of
 * it is left by a run that died (SIGKILL, a node failure). */
static void remove_stale(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t pl = strlen(prefix);
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, pl) != 0 || !stale_rest(e->d_name + pl))
            continue;
        char p[PATHBUF];
        struct stat sb;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < sizeof p &&
            lstat(p, &sb) == 0 && S_ISREG(sb.st_mode))
            unlink(p);
    }
    closedir(d);
}

/* The space besides the copy that the new objects need, at least. */
static uint64_t reserve_for(uint64_t data_bytes)
{
    return data_bytes + data_bytes / 16 + ((uint64_t)256 << 10);
}

/* -- runs linked into an index ------------------------------------------------ */

/* A results file that holds each run in a file of its own, linked with an
 * HDF5 external link: "DIR/NAME" (the index: links and small groups) and
 * "DIR/NAME.runs/run.GROUP.XXXXXX.h5" (one run each). A results file made
 * otherwise (every run inside it) becomes an index at its first linked
 * append: it keeps its inode as "NAME.runs/base.INODE.h5" (a hard link, no
 * copy), and the index links each of its result groups there. The link
 * names are relative to DIR, so NAME and NAME.runs move together. */

#define RUN_TEMP_PREFIX ".run.h5div-"

/* snprintf for paths: 0, or -1 (ENAMETOOLONG) when cut. */
__attribute__((format(printf, 3, 4))) static int pathf(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static void runs_dir_of(const char *target, char *out, size_t len)
{
    pathf(out, len, "%s.runs", target);
}

static void base_of(const char *path, char *out, size_t len)
{
    char tmp[PATHBUF];
    snprintf(tmp, sizeof tmp, "%s", path);
    snprintf(out, len, "%s", basename(tmp));
}

/* "run.GROUP.XXXXXX.h5": the group path with '/' as '.' and characters
 * other than letters, digits, '_', '-' and '.' as '_', and the random part
 * of its temporary name. */
static void run_file_name(const char *group, const char *rnd, char *out, size_t len)
{
    char flat[128];
    size_t k = 0;
    for (const char *c = group; *c && k < sizeof flat - 1; c++) {
        if (*c == '/') {
            if (k > 0 && flat[k - 1] != '.' && c[1])
                flat[k++] = '.';
            continue;
        }
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                 *c == '_' || *c == '-' || *c == '.';
        flat[k++] = ok ? *c : '_';
    }
    flat[k] = '\0';
    snprintf(out, len, "run.%s.%s.h5", k ? flat : "root", rnd);
}

/* Is the existing results file f an index (or big enough to become one)? */
static int wants_links(hid_t f, const struct stat *sb)
{
    return H5Aexists(f, "h5div_index") > 0 || (uint64_t)sb->st_size >= H5DIV_LINK_MIN_BYTES;
}

/* A group path above `group` that is an external link (a run of another
 * file) cannot hold a new run: the index would write into that file. */
static int through_run(hid_t f, const char *file, const char *group, char *msg, size_t len)
{
    char buf[H5DIV_REF_MAX];
    snprintf(buf, sizeof buf, "%s", group);
    size_t n = strlen(buf);
    for (size_t i = 1; i < n; i++) {
        if (buf[i] != '/' || buf[i - 1] == '/')
            continue;
        buf[i] = '\0';
        H5L_info_t li;
        int e = h5div_h5_path_exists(f, buf);
        int ext =
            e > 0 && H5Lget_info(f, buf, &li, H5P_DEFAULT) >= 0 && li.type == H5L_TYPE_EXTERNAL;
        buf[i] = '/';
        if (e <= 0)
            return H5DIV_OK;
        if (ext) {
            buf[i] = '\0';
            h5div_set_error(msg, len,
                            "output path runs through %s, a run linked from another file (%s:%s)",
                            buf, file, group);
            return H5DIV_EOUTPUT;
        }
    }
    return H5DIV_OK;
}

/* Rank 0, with the lock held: should `group` go to a run file of its own,
 * and may it be written (checked against the index, as the copy would be)?
 * 1 yes, 0 no (the whole file is copied), -1 an error in msg. */
static int link_mode(const h5div_temp_out *t, const char *out_file, const char *group,
                     int overwrite, const struct stat *sb, char *msg, size_t len)
{
    hid_t f = H5Fopen(t->target, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return 0; /* the copy reports it */
    int m = wants_links(f, sb);
    if (m && (through_run(f, out_file, group, msg, len) != H5DIV_OK ||
              h5div_check_target(f, out_file, group, 0, overwrite, msg, len) != H5DIV_OK))
        m = -1;
    H5Fclose(f);
    return m;
}

/* A new temporary file DIR/PREFIXXXXXXX named in t->tmp: its descriptor,
 * or -1 with t's status and message set (and t->tmp empty). */
static int temp_in(h5div_temp_out *t, const char *dir, const char *prefix, const char *out_file)
{
    int fd = -1;
    if ((size_t)snprintf(t->tmp, sizeof t->tmp, "%s/%sXXXXXX", dir, prefix) >= sizeof t->tmp)
        h5div_set_error(t->msg, sizeof t->msg, "output path is too long (%s)", out_file);
    else if ((fd = temp_create(t->tmp)) < 0)
        h5div_set_error(t->msg, sizeof t->msg, "cannot create a temporary file in %s: %s (%s)", dir,
                        strerror(errno), out_file);
    if (fd < 0) {
        t->tmp[0] = '\0';
        t->status = H5DIV_EOUTPUT;
    }
    return fd;
}

/* A temporary file's content (a copy of `from`, or with from NULL an empty
 * HDF5 file) and room for `reserve` bytes more; then the mode and group of
 * sb (sb NULL: mode 0666 less the umask), and fd closed. Returns 0, or the
 * step that failed with errno set: 1 the content, 2 the room, 3 the close. */
static int fill_temp(int fd, const char *from, uint64_t reserve, const struct stat *sb)
{
    errno = 0;
    int failed = (from ? copy_file(from, fd) : write_empty_hdf5(fd)) != 0 ? 1
                 : reserve_space(fd, reserve) != 0                        ? 2
                                                                          : 0;
    const int err = errno;
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, sb ? (sb->st_mode & 07777) : (0666 & ~mask));
    if (sb && fchown(fd, (uid_t)-1, sb->st_gid) != 0) {
        /* not a member of that group */
    }
    if (close(fd) != 0 && !failed)
        return 3;
    errno = err; /* the failed step's */
    return failed;
}

/* The messages of fill_temp's failures: `what` its content was to be,
 * `kind` the file. */
static void fill_failed(h5div_temp_out *t, int failed, const char *what, const char *kind,
                        uint64_t reserve, const char *out_file)
{
    if (failed == 1)
        h5div_set_error(t->msg, sizeof t->msg, "cannot %s: %s (%s)", what, strerror(errno),
                        out_file);
    else if (failed == 2)
        h5div_set_error(t->msg, sizeof t->msg,
                        "not enough space for the output: %s (%llu bytes more needed) (%s)",
                        strerror(errno), (unsigned long long)reserve, out_file);
    else if (failed == 3)
        h5div_set_error(t->msg, sizeof t->msg, "cannot write the %s: %s (%s)", kind,
                        strerror(errno), out_file);
    if (failed)
        t->status = H5DIV_EOUTPUT;
}

/* Rank 0: a new empty run file in target.runs, with room for data_bytes. */
static void make_run_temp(const char *out_file, uint64_t data_bytes, const struct stat *sb,
                          h5div_temp_out *t)
{
    char runs[PATHBUF];
    runs_dir_of(t->target, runs, sizeof runs);
    struct stat ds;
    if (mkdir(runs, 0777) == 0) {
        if (chown(runs, (uid_t)-1, sb->st_gid) != 0) {
            /* not a member of that group */
        }
    } else if (errno != EEXIST || stat(runs, &ds) != 0 || !S_ISDIR(ds.st_mode)) {
        h5div_set_error(t->msg, sizeof t->msg, "cannot make the directory of runs %s: %s (%s)",
                        runs, strerror(errno == EEXIST ? ENOTDIR : errno), out_file);
        t->status = H5DIV_EOUTPUT;
        return;
    }
    if (t->lock >= 0)
        remove_stale(runs, RUN_TEMP_PREFIX);
    int fd = temp_in(t, runs, RUN_TEMP_PREFIX, out_file);
    if (fd < 0)
        return;
    const uint64_t reserve = reserve_for(data_bytes);
    fill_failed(t, fill_temp(fd, NULL, reserve, sb), "create the run file", "run file", reserve,
                out_file);
    t->linked = 1;
}

/* Rank 0: the lock, the removal of stale copies, and a temporary copy of
 * the output file (or a new empty HDF5 file) with room for data_bytes more;
 * for a result group of an index (see link_mode), a new run file instead. */
static void make_temp(const char *out_file, const char *group, int overwrite, uint64_t data_bytes,
                      h5div_temp_out *t)
{
    if (resolve_target(out_file, t->target, sizeof t->target) != 0) {
        h5div_set_error(t->msg, sizeof t->msg, "cannot resolve the output path: %s (%s)",
                        strerror(errno), out_file);
        t->status = H5DIV_EOUTPUT;
        return;
    }
    char dir[PATHBUF], prefix[256];
    dir_of(t->target, dir, sizeof dir);
    t->lock = lock_results(t->target, t->msg, sizeof t->msg);
    if (t->lock == -1) {
        t->status = H5DIV_EOUTPUT;
        return;
    }
    temp_prefix(t->target, prefix, sizeof prefix);
    if (t->lock >= 0)
        remove_stale(dir, prefix);
    struct stat es;
    if (group && stat(t->target, &es) == 0 && S_ISREG(es.st_mode)) {
        int m = link_mode(t, out_file, group, overwrite, &es, t->msg, sizeof t->msg);
        if (m < 0) {
            t->status = H5DIV_EOUTPUT;
            return;
        }
        if (m > 0) {
            t->existing = 1;
            snprintf(t->group, sizeof t->group, "%s", group);
            make_run_temp(out_file, data_bytes, &es, t);
            return;
        }
    }
    int fd = temp_in(t, dir, prefix, out_file);
    if (fd < 0)
        return;
    struct stat sb;
    t->existing = stat(t->target, &sb) == 0;
    const uint64_t reserve = reserve_for(data_bytes);
    /* Keep the permissions and group of the file being replaced. */
    int failed = fill_temp(fd, t->existing ? t->target : NULL, reserve, t->existing ? &sb : NULL);
    fill_failed(t, failed, t->existing ? "copy the existing output file" : "create the output file",
                "output file", reserve, out_file);
}

static int temp_open(MPI_Comm comm, const char *out_file, const char *group, int overwrite,
                     uint64_t data_bytes, h5div_temp_out *t, hid_t *f, char *msg, size_t len)
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
        make_temp(out_file, group, overwrite, data_bytes, t);
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
            *f = H5Fopen(t->tmp, H5F_ACC_RDWR, fapl);
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

int h5div_temp_open(MPI_Comm comm, const char *out_file, uint64_t data_bytes, h5div_temp_out *t,
                    hid_t *f, char *msg, size_t len)
{
    return temp_open(comm, out_file, NULL, 0, data_bytes, t, f, msg, len);
}

int h5div_temp_open_group(MPI_Comm comm, const char *out_file, const char *group, int overwrite,
                          uint64_t data_bytes, h5div_temp_out *t, hid_t *f, char *msg, size_t len)
{
    return temp_open(comm, out_file, group, overwrite, data_bytes, t, f, msg, len);
}

/* A directory's entries reach the disk (best effort). */
static void sync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

/* The finished file tmp reaches the disk (without the space reserved past
 * its end) before it is renamed to `to`; with keep, an existing `to` is an
 * error (EEXIST). Returns 0, or -1 with errno set. */
static int commit_file(const char *tmp, const char *to, int keep)
{
    int fd = open(tmp, O_RDWR | O_CLOEXEC);
    struct stat sb;
    int bad = fd < 0 || fstat(fd, &sb) != 0 || ftruncate(fd, sb.st_size) != 0 || fsync(fd) != 0;
    if (fd >= 0 && close(fd) != 0)
        bad = 1;
    if (!bad && keep && access(to, F_OK) == 0) {
        errno = EEXIST;
        bad = 1;
    }
    return bad || rename(tmp, to) != 0 ? -1 : 0;
}

/* Rank 0: the finished copy replaces the output file. */
static int finish_temp(const char *out_file, const h5div_temp_out *t, char *msg, size_t len)
{
    char dir[PATHBUF];
    dir_of(t->target, dir, sizeof dir);
    int st = H5DIV_OK;
    if (commit_file(t->tmp, t->target, 0) != 0) {
        h5div_set_error(msg, len, "cannot move the output into place: %s (%s)", strerror(errno),
                        out_file);
        st = H5DIV_EOUTPUT;
    }
    sync_dir(dir);
    return st;
}

/* -- the index ------------------------------------------------------------------ */

static const char *write_failure(const char *dir);
static herr_t put_scalar_attr(hid_t loc, const char *name, hid_t type, const void *value);

/* Copy every attribute of one object to another (any type: the file type
 * is read and written as it is). */
static herr_t copy_attr(hid_t loc, const char *name, const H5A_info_t *ai, void *data)
{
    (void)ai;
    hid_t dst = *(const hid_t *)data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t type = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t space = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    herr_t rc = -1;
    if (type >= 0 && space >= 0) {
        hssize_t n = H5Sget_select_npoints(space);
        size_t size = H5Tget_size(type);
        void *buf = n >= 0 && size > 0 ? calloc(n > 0 ? (size_t)n : 1, size) : NULL;
        if (buf && H5Aread(a, type, buf) >= 0) {
            hid_t b = H5Acreate2(dst, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
            if (b >= 0) {
                rc = H5Awrite(b, type, buf);
                if (H5Aclose(b) < 0)
                    rc = -1;
            }
            H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
        }
        free(buf);
    }
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

typedef struct mirror_ctx {
    hid_t dst;
    const char *path;     /* of the group being mirrored, "" for the root */
    const char *base_rel; /* the file the links point at */
    int depth;
} mirror_ctx;

static int mirror_group(hid_t src, mirror_ctx *m);

/* One link of a group of the old file, in the index: a result group (and
 * any dataset or named type) as an external link to it in the old file, any
 * other group as a group of the index, soft and external links as they are. */
static herr_t mirror_link(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    mirror_ctx *m = data;
    char path[PATHBUF];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", m->path, name) >= sizeof path)
        return -1;
    herr_t rc = -1;
    if (info->type == H5L_TYPE_SOFT || info->type == H5L_TYPE_EXTERNAL) {
        size_t n = info->u.val_size;
        char *val = malloc(n ? n : 1);
        const char *file, *obj;
        unsigned flags;
        if (val && H5Lget_val(g, name, val, n, H5P_DEFAULT) >= 0) {
            if (info->type == H5L_TYPE_SOFT)
                rc = H5Lcreate_soft(val, m->dst, name, H5P_DEFAULT, H5P_DEFAULT);
            else if (H5Lunpack_elink_val(val, n, &flags, &file, &obj) >= 0)
                rc = H5Lcreate_external(file, obj, m->dst, name, H5P_DEFAULT, H5P_DEFAULT);
        }
        free(val);
        return rc;
    }
    if (info->type != H5L_TYPE_HARD)
        return -1;
    H5O_info_t oi;
    if (H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) < 0)
        return -1;
    if (oi.type != H5O_TYPE_GROUP || H5Aexists_by_name(g, name, "h5div_version", H5P_DEFAULT) > 0)
        return H5Lcreate_external(m->base_rel, path, m->dst, name, H5P_DEFAULT, H5P_DEFAULT);
    if (m->depth >= 64)
        return -1; /* a cycle of hard links */
    hid_t sub = H5Gopen2(g, name, H5P_DEFAULT);
    hid_t dsub = H5Gcreate2(m->dst, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (sub >= 0 && dsub >= 0) {
        mirror_ctx c = {dsub, path, m->base_rel, m->depth + 1};
        rc = mirror_group(sub, &c) == 0 ? 0 : -1;
    }
    if (dsub >= 0 && H5Gclose(dsub) < 0)
        rc = -1;
    if (sub >= 0)
        H5Gclose(sub);
    return rc;
}

static int mirror_group(hid_t src, mirror_ctx *m)
{
    hsize_t n = 0, idx = 0;
    if (H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_INC, &n, copy_attr, &m->dst) < 0)
        return -1;
    return H5Literate(src, H5_INDEX_NAME, H5_ITER_INC, &idx, mirror_link, m) < 0 ? -1 : 0;
}

/* The old file at index `fi` (a new, empty index): keep it as
 * "runs/base.INODE.h5" (a hard link to the same inode) and mirror it. */
static int make_index(const h5div_temp_out *t, const char *runs, const char *bn, hid_t fi,
                      char *msg, size_t len, const char *out_file)
{
    struct stat ts, bs;
    char base[PATHBUF] = "", rel[PATHBUF] = "";
    if (stat(t->target, &ts) != 0)
        goto fail;
    if (pathf(base, sizeof base, "%s/base.%ju.h5", runs, (uintmax_t)ts.st_ino) != 0 ||
        pathf(rel, sizeof rel, "%s.runs/base.%ju.h5", bn, (uintmax_t)ts.st_ino) != 0)
        goto fail;
    if (lstat(base, &bs) == 0) {
        if (bs.st_ino != ts.st_ino || bs.st_dev != ts.st_dev) {
            errno = EEXIST;
            goto fail;
        }
    } else if (link(t->target, base) != 0) {
        goto fail;
    }
    int dfd = open(runs, O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    hid_t src = H5Fopen(base, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t root = src >= 0 ? H5Gopen2(src, "/", H5P_DEFAULT) : H5I_INVALID_HID;
    hid_t droot = H5Gopen2(fi, "/", H5P_DEFAULT);
    mirror_ctx m = {droot, "", rel, 0};
    int version = 1;
    int rc = root >= 0 && droot >= 0 ? mirror_group(root, &m) : -1;
    if (rc == 0 && put_scalar_attr(droot, "h5div_index", H5T_NATIVE_INT, &version) < 0)
        rc = -1;
    if (droot >= 0)
        H5Gclose(droot);
    if (root >= 0)
        H5Gclose(root);
    if (src >= 0)
        H5Fclose(src);
    if (rc != 0) {
        h5div_set_error(msg, len, "cannot link the runs of the existing output file (%s)",
                        out_file);
        return H5DIV_EOUTPUT;
    }
    return H5DIV_OK;
fail:
    h5div_set_error(msg, len, "cannot keep the existing output file as %s: %s (%s)", base,
                    strerror(errno), out_file);
    return H5DIV_EOUTPUT;
}

/* In the index fi: `group` becomes an external link to run file `rel`;
 * the run file of a link it replaces (one of ours) is named in old_run. */
static int link_group(hid_t fi, const char *group, const char *rel, const char *bn,
                      const char *runs, char *old_run, size_t old_len)
{
    old_run[0] = '\0';
    if (h5div_h5_path_exists(fi, group) > 0) {
        H5L_info_t li;
        if (H5Lget_info(fi, group, &li, H5P_DEFAULT) < 0)
            return -1;
        if (li.type == H5L_TYPE_EXTERNAL) {
            size_t n = li.u.val_size;
            char *val = malloc(n ? n : 1);
            const char *file, *obj;
            unsigned flags;
            char mine[PATHBUF];
            pathf(mine, sizeof mine, "%s.runs/run.", bn);
            if (val && H5Lget_val(fi, group, val, n, H5P_DEFAULT) >= 0 &&
                H5Lunpack_elink_val(val, n, &flags, &file, &obj) >= 0 &&
                !strncmp(file, mine, strlen(mine)) && !strchr(file + strlen(mine), '/'))
                pathf(old_run, old_len, "%s/%s", runs, file + strlen(bn) + 6);
            free(val);
        }
        if (H5Ldelete(fi, group, H5P_DEFAULT) < 0)
            return -1;
    }
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t lapl = H5Pcreate(H5P_LINK_ACCESS);
    herr_t rc = lcpl >= 0 && lapl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0 &&
                        H5Pset_elink_acc_flags(lapl, H5F_ACC_RDONLY) >= 0
                    ? H5Lcreate_external(rel, group, fi, group, lcpl, lapl)
                    : -1;
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (lapl >= 0)
        H5Pclose(lapl);
    return rc < 0 ? -1 : 0;
}

/* Rank 0: the finished run file moved to its name in target.runs (final;
 * rel, its path from the index's directory), where nothing may be yet. */
static int place_run(const char *out_file, h5div_temp_out *t, const char *runs, char *final,
                     char *rel, char *msg, size_t len)
{
    char bn[PATHBUF], name[PATHBUF];
    base_of(t->target, bn, sizeof bn);
    run_file_name(t->group, t->tmp + strlen(t->tmp) - 6, name, sizeof name);
    if (pathf(final, PATHBUF, "%s/%s", runs, name) != 0 ||
        pathf(rel, PATHBUF, "%s.runs/%s", bn, name) != 0) {
        h5div_set_error(msg, len, "output path is too long (%s)", out_file);
        return H5DIV_EOUTPUT;
    }
    if (commit_file(t->tmp, final, 1) != 0) {
        h5div_set_error(msg, len, "cannot move the run file into place: %s (%s)", strerror(errno),
                        out_file);
        return H5DIV_EOUTPUT;
    }
    snprintf(t->tmp, sizeof t->tmp, "%s", final);
    temp_forget();
    sync_dir(runs);
    /* The kill tests stop here (seconds): the run file is in place, not yet linked. */
    const char *pause = getenv("H5DIV_TEST_LINK_PAUSE");
    if (pause) {
        double sec = atof(pause);
        struct timespec ts = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
        nanosleep(&ts, NULL);
    }
    return H5DIV_OK;
}

/* Rank 0: a temporary copy itmp of the index (*index set), or an empty file
 * where the output file is not one yet, with room for the links. */
static int copy_index(const char *out_file, const h5div_temp_out *t, const char *dir, char *itmp,
                      int *index, char *msg, size_t len)
{
    char prefix[256];
    hid_t old = H5Fopen(t->target, H5F_ACC_RDONLY, H5P_DEFAULT);
    *index = 0;
    if (old >= 0) {
        *index = H5Aexists(old, "h5div_index") > 0;
        H5Fclose(old);
    }
    temp_prefix(t->target, prefix, sizeof prefix);
    int fd = pathf(itmp, PATHBUF, "%s/%sXXXXXX", dir, prefix) == 0 ? temp_create(itmp) : -1;
    if (fd < 0) {
        itmp[0] = '\0';
        h5div_set_error(msg, len, "cannot create a temporary file in %s: %s (%s)", dir,
                        strerror(errno), out_file);
        return H5DIV_EOUTPUT;
    }
    struct stat ts;
    errno = 0;
    int failed = 1;
    if (stat(t->target, &ts) != 0)
        close(fd);
    else /* Room for the link (or, the first time, the links to every old run). */
        failed = fill_temp(fd, *index ? t->target : NULL,
                           reserve_for(*index ? 0 : (uint64_t)ts.st_size / 4096), &ts);
    if (failed == 2)
        h5div_set_error(msg, len, "not enough space for the index of the output file: %s (%s)",
                        strerror(errno), out_file);
    else if (failed)
        h5div_set_error(msg, len, "cannot copy the index of the output file: %s (%s)",
                        strerror(errno ? errno : EIO), out_file);
    return failed ? H5DIV_EOUTPUT : H5DIV_OK;
}

/* Rank 0: group t->group of the index copy itmp linked to the run file
 * (rel from the index; made an index first when it is not one yet); the
 * run file the link replaced, if any, in old_run. */
static int link_run(const char *out_file, const h5div_temp_out *t, const char *itmp, int index,
                    const char *rel, char *old_run, char *msg, size_t len)
{
    char dir[PATHBUF], runs[PATHBUF], bn[PATHBUF];
    dir_of(t->target, dir, sizeof dir);
    runs_dir_of(t->target, runs, sizeof runs);
    base_of(t->target, bn, sizeof bn);
    hid_t fi = H5Fopen(itmp, H5F_ACC_RDWR, H5P_DEFAULT);
    if (fi < 0) {
        h5div_set_error(msg, len, "cannot open the index of the output file (%s)", out_file);
        return H5DIV_EOUTPUT;
    }
    int st = index ? H5DIV_OK : make_index(t, runs, bn, fi, msg, len, out_file);
    if (st == H5DIV_OK && link_group(fi, t->group, rel, bn, runs, old_run, PATHBUF) != 0) {
        h5div_set_error(msg, len, "cannot link the run into the output file (%s:%s)", out_file,
                        t->group);
        st = H5DIV_EOUTPUT;
    }
    if ((H5Fflush(fi, H5F_SCOPE_GLOBAL) < 0 || H5Fclose(fi) < 0) && st == H5DIV_OK) {
        h5div_set_error(msg, len, "cannot write the index of the output file: %s (%s)",
                        write_failure(dir), out_file);
        st = H5DIV_EOUTPUT;
    }
    return st;
}

/* Rank 0: the run file reaches the disk and its place in target.runs,
 * then the index (a copy of it, small; or, the first time, a new one
 * mirroring the old file) gets the link to it and is renamed over the
 * target. A failure leaves the target as it was (t->tmp then names the
 * run file, removed by the caller). */
static int finish_linked(const char *out_file, h5div_temp_out *t, char *msg, size_t len)
{
    char dir[PATHBUF], runs[PATHBUF], final[PATHBUF], rel[PATHBUF], itmp[PATHBUF];
    char old_run[PATHBUF] = "";
    dir_of(t->target, dir, sizeof dir);
    runs_dir_of(t->target, runs, sizeof runs);
    H5DIV_CHECK(place_run(out_file, t, runs, final, rel, msg, len));
    int index;
    int st = copy_index(out_file, t, dir, itmp, &index, msg, len);
    if (st == H5DIV_OK)
        st = link_run(out_file, t, itmp, index, rel, old_run, msg, len);
    if (st == H5DIV_OK && commit_file(itmp, t->target, 0) != 0) {
        h5div_set_error(msg, len, "cannot move the output into place: %s (%s)", strerror(errno),
                        out_file);
        st = H5DIV_EOUTPUT;
    }
    if (st != H5DIV_OK && itmp[0])
        unlink(itmp);
    temp_forget();
    sync_dir(dir);
    /* The run that --overwrite replaced is no longer linked. */
    if (st == H5DIV_OK && old_run[0] && strcmp(old_run, final) != 0)
        unlink(old_run);
    return st;
}

/* Why a write failed, for the message. */
static const char *write_failure(const char *dir)
{
    struct statvfs vf;
    if (statvfs(dir, &vf) == 0 && (uint64_t)vf.f_bavail * vf.f_frsize < ((uint64_t)1 << 20))
        return "no space left on the device";
    return "an I/O error or a quota";
}

/* Collective, the last resort when the temporary file cannot be written at
 * all (an I/O error): the rest of HDF5's writes go to a scratch file that
 * is deleted when closed, by pointing the MPI-IO handle of f's driver at
 * it, so that H5Fclose completes instead of failing (which would leave
 * HDF5 a dangling file ID that crashes at MPI_Finalize). 0 when f can now
 * be closed. */
static int discard_writes(MPI_Comm comm, int rank, hid_t f)
{
    MPI_File *fh = NULL;
    hid_t fapl = H5Fget_access_plist(f);
    int bad = fapl < 0 || H5Fget_vfd_handle(f, fapl, (void **)&fh) < 0 || !fh;
    if (fapl >= 0)
        H5Pclose(fapl);
    char name[PATHBUF] = "";
    if (rank == 0) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        snprintf(name, sizeof name, "%s/h5div-discard-XXXXXX", dir ? dir : "/tmp");
        int fd = mkstemp(name);
        bad |= fd < 0;
        if (fd >= 0)
            close(fd);
    }
    if (MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS || bad ||
        MPI_Bcast(name, (int)sizeof name, MPI_CHAR, 0, comm) != MPI_SUCCESS) {
        if (rank == 0 && name[0])
            unlink(name);
        return -1;
    }
    MPI_File_close(fh); /* its errors are the ones already reported */
    bad = MPI_File_open(comm, name, MPI_MODE_RDWR | MPI_MODE_DELETE_ON_CLOSE, MPI_INFO_NULL, fh) !=
          MPI_SUCCESS;
    if (MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
        bad = 1;
    if (rank == 0 && bad)
        unlink(name);
    return bad ? -1 : 0;
}

/* Collective: flush f on every rank and agree. A failed flush (a full
 * disk, an I/O error) leaves dirty metadata that H5Fclose would fail to
 * write, and HDF5 1.10 then keeps a dangling file ID that crashes at
 * MPI_Finalize; so the rest goes to a scratch file (discard_writes) and
 * the file, now flushed, is closed. */
static int close_file(MPI_Comm comm, int rank, hid_t f, int *closed)
{
    *closed = 0;
    if (f < 0)
        return H5DIV_OK;
    int st = H5Fflush(f, H5F_SCOPE_GLOBAL) < 0 ? H5DIV_EOUTPUT : H5DIV_OK;
    st = h5div_par_agree(comm, st, NULL, 0);
    if (st != H5DIV_OK) {
        if (discard_writes(comm, rank, f) != 0)
            return st; /* left open: closing it would fail the same way */
        /* This flush empties the cache into the scratch file (its status is
         * that of the entries it could not write before). */
        H5Fflush(f, H5F_SCOPE_GLOBAL);
    }
    int cst = H5Fclose(f) < 0 ? H5DIV_EOUTPUT : H5DIV_OK;
    *closed = 1;
    cst = h5div_par_agree(comm, cst, NULL, 0);
    return st != H5DIV_OK ? st : cst;
}

int h5div_temp_close(MPI_Comm comm, const char *out_file, h5div_temp_out *t, hid_t f, int status,
                     char *msg, size_t len)
{
    int rank = 0, closed;
    MPI_Comm_rank(comm, &rank);
    int st = status;
    int cst = close_file(comm, rank, f, &closed);
    if (cst != H5DIV_OK && st == H5DIV_OK) {
        char dir[PATHBUF];
        dir_of(t->target, dir, sizeof dir);
        h5div_set_error(msg, len, "cannot write the output file: %s (%s)", write_failure(dir),
                        out_file);
        st = cst;
    }
    st = h5div_par_agree(comm, st, msg, len);
    if (rank == 0 && st == H5DIV_OK)
        st = t->linked ? finish_linked(out_file, t, msg, len) : finish_temp(out_file, t, msg, len);
    st = h5div_par_agree(comm, st, msg, len);
    if (rank == 0 && st != H5DIV_OK && t->tmp[0])
        unlink(t->tmp);
    if (rank == 0 && t->tmp[0])
        temp_forget();
    if (rank == 0 && t->lock >= 0)
        close(t->lock); /* after the rename: the next writer copies our file */
    t->lock = -2;
    t->tmp[0] = '\0';
    return st;
}

/* -- result groups of one rank ------------------------------------------------ */

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

/* A float64 dataset NAME+suffix of shape () (n = 0) or (n,) with `units`. */
static herr_t put_values(hid_t g, const char *name, const char *suffix, const double *v, hsize_t n,
                         const char *units)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", name, suffix);
    hid_t space = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(g, full, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = -1;
    if (d >= 0) {
        rc = H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        if (rc >= 0)
            rc = put_string_attr(d, "units", units);
        if (H5Dclose(d) < 0)
            rc = -1;
    }
    H5Sclose(space);
    return rc;
}

int h5div_replace_target(hid_t f, const char *file, const char *obj, int dataset, int overwrite,
                         char *msg, size_t len)
{
    H5DIV_CHECK(h5div_check_target(f, file, obj, dataset, overwrite, msg, len));
    if (h5div_h5_path_exists(f, obj) > 0 && H5Ldelete(f, obj, H5P_DEFAULT) < 0) {
        h5div_set_error(msg, len, "cannot replace the existing %s (%s:%s)",
                        dataset ? "dataset" : "result group", file, obj);
        return H5DIV_EOUTPUT;
    }
    return H5DIV_OK;
}

int h5div_result_group_create(MPI_Comm comm, hid_t f, const char *file, const char *group,
                              int overwrite, hid_t *g, char *msg, size_t len)
{
    *g = H5I_INVALID_HID;
    int st = h5div_replace_target(f, file, group, 0, overwrite, msg, len);
    H5DIV_CHECK(h5div_par_agree(comm, st, msg, len));
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0)
        *g = H5Gcreate2(f, group, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (*g < 0)
        h5div_set_error(msg, len, "cannot create the result group (%s:%s)", file, group);
    st = h5div_par_agree(comm, *g < 0 ? H5DIV_EOUTPUT : H5DIV_OK, msg, len);
    if (st != H5DIV_OK && *g >= 0) {
        H5Gclose(*g);
        *g = H5I_INVALID_HID;
    }
    return st;
}

herr_t h5div_put_run_attrs(hid_t g, const h5div_run_attrs *a)
{
    herr_t rc = 0;
    H5DIV_H5_TRY(rc, put_string_attr(g, "h5div_version", h5div_version_string()));
    H5DIV_H5_TRY(rc, put_string_attr(g, "command", a->command ? a->command : ""));
    H5DIV_H5_TRY(rc, put_string_attr(g, "created", a->created));
    H5DIV_H5_TRY(rc, put_scalar_attr(g, "ranks", H5T_NATIVE_INT64, &a->ranks));
    H5DIV_H5_TRY(rc, put_string_attr(g, "base", a->base));
    H5DIV_H5_TRY(rc, put_scalar_attr(g, "pseudocount", H5T_NATIVE_DOUBLE, &a->pseudocount));
    H5DIV_H5_TRY(rc, put_scalar_attr(g, "elapsed_seconds", H5T_NATIVE_DOUBLE, &a->elapsed_seconds));
    return rc;
}

/* Fill an open file with the result group of gs. */
static int fill_group(hid_t f, const char *path, const char *group, int overwrite,
                      const h5div_group_spec *gs, const char *created, char *errmsg, size_t errlen)
{
    hid_t g;
    H5DIV_CHECK(
        h5div_result_group_create(MPI_COMM_SELF, f, path, group, overwrite, &g, errmsg, errlen));
    const h5div_result_info *info = gs->info;
    const h5div_run_attrs ra = {info->command,
                                created,
                                h5div_base_name(gs->opt->base),
                                info->ranks,
                                gs->opt->pseudocount,
                                info->elapsed_seconds};
    herr_t rc = h5div_put_run_attrs(g, &ra);
    for (int i = 0; i < 2; i++)
        if (gs->input_attr[i])
            H5DIV_H5_TRY(rc, put_string_attr(g, gs->input_attr[i],
                                             gs->input_ref[i] ? gs->input_ref[i] : ""));
    if (gs->estimator) {
        H5DIV_H5_TRY(rc, put_string_attr(g, "estimator", gs->estimator));
        if (!strcmp(gs->estimator, "dirichlet"))
            H5DIV_H5_TRY(rc,
                         put_scalar_attr(g, "dirichlet_a", H5T_NATIVE_DOUBLE, &gs->dirichlet_a));
    }
    for (int m = 0; m < gs->n; m++)
        H5DIV_H5_TRY(rc, put_values(g, gs->names[m], "", &gs->values[m], 0, gs->units[m]));
    if (gs->nrep) {
        const uint64_t seed = gs->opt->seed;
        H5DIV_H5_TRY(rc, put_scalar_attr(g, "bootstrap", H5T_NATIVE_UINT64, &gs->nrep));
        H5DIV_H5_TRY(rc, put_scalar_attr(g, "seed", H5T_NATIVE_UINT64, &seed));
        H5DIV_H5_TRY(rc, put_scalar_attr(g, "ci", H5T_NATIVE_DOUBLE, &gs->opt->ci));
    }
    for (int m = 0; m < gs->n && gs->nrep; m++) {
        H5DIV_H5_TRY(rc, put_values(g, gs->names[m], "_se", &gs->se[m], 0, gs->units[m]));
        H5DIV_H5_TRY(rc, put_values(g, gs->names[m], "_ci", gs->ci[m], 2, gs->units[m]));
        if (gs->reps[m])
            H5DIV_H5_TRY(rc, put_values(g, gs->names[m], "_replicates", gs->reps[m],
                                        (hsize_t)gs->nrep, gs->units[m]));
    }
    if (H5Gclose(g) < 0)
        rc = -1;
    if (rc < 0) {
        h5div_set_error(errmsg, errlen, "cannot write the result datasets (%s:%s)", path, group);
        return H5DIV_EOUTPUT;
    }
    return H5DIV_OK;
}

int h5div_write_result_group(const char *path, const char *group, int overwrite,
                             const h5div_group_spec *gs, char *errmsg, size_t errlen)
{
    char msg[1024] = "";
    h5div_h5_quiet q;
    h5div_h5_quiet_begin(&q);
    h5div_temp_out t;
    hid_t f;
    uint64_t bytes = (uint64_t)gs->n * (4096 + (gs->nrep ? 3 * 4096 + 8 * gs->nrep : 0));
    int st = h5div_temp_open_group(MPI_COMM_SELF, path, group, overwrite, bytes, &t, &f, msg,
                                   sizeof msg);
    if (st == H5DIV_OK) {
        st = fill_group(f, path, group, overwrite, gs, t.created, msg, sizeof msg);
        st = h5div_temp_close(MPI_COMM_SELF, path, &t, f, st, msg, sizeof msg);
    }
    h5div_h5_quiet_end(&q);
    if (st != H5DIV_OK)
        h5div_set_error(errmsg, errlen, "%s", msg);
    return st;
}

/* Shared with the result writers of the other commands (results_batch.c,
 * surprisal_file.c), which follow the same temporary-file discipline. */
herr_t h5div_put_string_attr(hid_t loc, const char *name, const char *value)
{
    return put_string_attr(loc, name, value);
}
herr_t h5div_put_scalar_attr(hid_t loc, const char *name, hid_t type, const void *value)
{
    return put_scalar_attr(loc, name, type, value);
}

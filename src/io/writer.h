/* SPDX-License-Identifier: BSD-3-Clause */
/* Settings of the result writers that the command line chooses (no HDF5 types here). */
#ifndef H5DIV_WRITER_H
#define H5DIV_WRITER_H

#include <stddef.h>
#include <stdio.h>

/* Default of --lock-timeout: how long a writer waits for the lock of a
 * results file held by another run before giving up (exit 4). */
#define H5DIV_LOCK_TIMEOUT_DEFAULT 300.0

/* Process-wide, set once before any result is written (not collective):
 * seconds to wait for a held lock (< 0: no limit), and where the one line
 * saying that the run waits goes (NULL: nowhere). */
void h5div_io_set_lock_wait(double seconds, FILE *notice);

/* Not collective: from now on SIGTERM, SIGINT and SIGHUP (unless ignored)
 * end the process promptly with exit status 128 + signal, after removing
 * the temporary file of a result being written. For programs, such as the
 * h5div command, that own the process. */
void h5div_io_catch_signals(void);

/* Not collective. Is output file `out_file` one of the files of the
 * dataset references refs[0..n) (the same file, also through links)? Then,
 * unless in_place, an H5DIV_EOUTPUT error naming it; otherwise H5DIV_OK. */
int h5div_output_vs_inputs(const char *out_file, const char *const *refs, int n, int in_place,
                           char *msg, size_t len);

#endif

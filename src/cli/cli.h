/* SPDX-License-Identifier: BSD-3-Clause */
/* The h5div command line: parsing, dispatch, output and exit codes. */
#ifndef H5DIV_CLI_H
#define H5DIV_CLI_H

#include <mpi.h>
#include <stdio.h>

#include "h5div.h"

#define H5DIV_CLI_MAX_POSITIONAL 128
#define H5DIV_CLI_MSG 1200

/* Where a command runs and writes; rank 0 prints, every rank computes. */
typedef struct h5div_cli_ctx {
    MPI_Comm comm;
    int rank, size;
    FILE *out, *err;
    int argc;
    char **argv;
} h5div_cli_ctx;

/* Options of the command line; a command lists the ones it accepts. */
enum h5div_cli_opt {
    H5DIV_OPT_BASE = 0,
    H5DIV_OPT_OUTPUT,
    H5DIV_OPT_OVERWRITE,
    H5DIV_OPT_JSON,
    H5DIV_OPT_PSEUDOCOUNT,
    H5DIV_OPT_MEASURES,
    H5DIV_OPT_MEMORY,
    H5DIV_OPT_PIECE,
    H5DIV_OPT_INDEPENDENT_IO,
    H5DIV_OPT_ESTIMATOR,
    H5DIV_OPT_CSV,
    H5DIV_OPT_PLOT,
    H5DIV_OPT_BIN_WIDTH,
    H5DIV_OPT_LOCK_TIMEOUT,
    H5DIV_OPT_IN_PLACE,
    H5DIV_OPT_COUNT
};
#define H5DIV_CLI_OPT(o) (1u << (unsigned)(o))
/* The options every evaluating command takes. */
#define H5DIV_CLI_EVAL_OPTS                                                                        \
    (H5DIV_CLI_OPT(H5DIV_OPT_BASE) | H5DIV_CLI_OPT(H5DIV_OPT_OUTPUT) |                             \
     H5DIV_CLI_OPT(H5DIV_OPT_OVERWRITE) | H5DIV_CLI_OPT(H5DIV_OPT_JSON) |                          \
     H5DIV_CLI_OPT(H5DIV_OPT_PSEUDOCOUNT) | H5DIV_CLI_OPT(H5DIV_OPT_MEASURES) |                    \
     H5DIV_CLI_OPT(H5DIV_OPT_MEMORY) | H5DIV_CLI_OPT(H5DIV_OPT_PIECE) |                            \
     H5DIV_CLI_OPT(H5DIV_OPT_INDEPENDENT_IO) | H5DIV_CLI_OPT(H5DIV_OPT_LOCK_TIMEOUT) |            \
     H5DIV_CLI_OPT(H5DIV_OPT_IN_PLACE))

typedef struct h5div_cli_args {
    const char *command;
    h5div_options opt; /* base, pseudocount, memory, piece size, I/O mode */
    const char *output, *measures, *estimator, *plot;
    double bin_width;
    double lock_timeout; /* seconds to wait for the lock of the output file; < 0 no limit */
    int in_place;        /* the output may be an input file */
    int overwrite, json, quiet, verbose, help, version, csv;
    unsigned given; /* H5DIV_CLI_OPT bits of the options on the command line */
    const char *pos[H5DIV_CLI_MAX_POSITIONAL];
    int npos;
} h5div_cli_args;

typedef struct h5div_cli_command {
    const char *name;
    const char *summary; /* one line for h5div --help */
    const char *help;    /* h5div NAME --help */
    unsigned options;    /* H5DIV_CLI_OPT bits it accepts (plus -q -v -h --version) */
    int (*run)(const h5div_cli_ctx *cx, const h5div_cli_args *a);
} h5div_cli_command;

extern const h5div_cli_command h5div_cmd_compare;
extern const h5div_cli_command h5div_cmd_history;

extern const h5div_cli_command h5div_cmd_entropy;
extern const h5div_cli_command h5div_cmd_joint;
extern const h5div_cli_command h5div_cmd_surprisal;

/* Named scalar results of one input, printed as the table or as JSON. */
typedef struct h5div_cli_measures {
    const char *command, *input_name, *input_ref, *estimator; /* estimator may be NULL */
    h5div_base base;
    int ranks, json, n;
    const char *names[16], *units[16];
    double values[16];
} h5div_cli_measures;
void h5div_cli_print_measures(FILE *out, const h5div_cli_measures *m);

/* Run the h5div command line on `comm`; rank 0 writes to out and err.
 * Collective. Returns the exit code (an h5div_status), the same on every rank. */
int h5div_cli_main(int argc, char **argv, MPI_Comm comm, FILE *out, FILE *err);

/* Progress of long reads on rank 0's stderr: percent, GB/s and ETA per
 * pass, at most once a second; on with -v or when stderr is a terminal,
 * never with -q. */
typedef struct h5div_cli_progress {
    FILE *err;
    int tty, pass;
    double t_start, t_last;
} h5div_cli_progress;
void h5div_cli_progress_setup(const h5div_cli_ctx *cx, const h5div_cli_args *a, h5div_options *opt,
                              h5div_cli_progress *pr);

/* The -o target of an evaluating command. */
typedef struct h5div_cli_output {
    char file[4096], group[4096];
} h5div_cli_output;

/* Split -o (default group /h5div) and, before any data is read, check on
 * rank 0 that the result could be written. Collective. Returns H5DIV_OK
 * (also without -o), H5DIV_EUSAGE after printing, or an agreed status
 * with its message in msg (H5DIV_CLI_MSG bytes). */
int h5div_cli_output_check(const h5div_cli_ctx *cx, const h5div_cli_args *a, h5div_cli_output *o,
                           char *msg);

/* --measures against names[0..n) of command `cmd`: sets *mask (bit i for
 * names[i]) and returns H5DIV_OK, or prints one usage line and returns
 * H5DIV_EUSAGE. Without --measures *mask is left as it is. */
int h5div_cli_select_measures(const h5div_cli_ctx *cx, const h5div_cli_args *a, const char *cmd,
                              const char *const *names, int n, unsigned *mask);

/* One line "h5div: error: ..." on rank 0's err. */
void h5div_cli_error(const h5div_cli_ctx *cx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Collective: the status and message (H5DIV_CLI_MSG bytes) of the lowest
 * failing rank, on every rank. */
int h5div_cli_agree(const h5div_cli_ctx *cx, int st, char *msg);

/* Split "FILE[:/group]" at the last ':' followed by '/'; the group defaults
 * to default_group. Returns -1 for an empty file name or the root group. */
int h5div_cli_split_output(const char *spec, char *file, size_t flen, char *group, size_t glen,
                           const char *default_group);

/* The command line as one string (malloc'ed), for result attributes. */
char *h5div_cli_command_line(const h5div_cli_ctx *cx);

/* Parse "a,b,c" against names[0..n): sets bit i for names[i]. Returns 0, or
 * -1 for an unknown or empty list. */
int h5div_cli_parse_list(const char *list, const char *const *names, int n, unsigned *mask);

/* Printing of non-finite values: JSON strings "inf", "-inf", "nan". */
void h5div_cli_json_number(FILE *out, double v);
void h5div_cli_json_string(FILE *out, const char *s);

/* Collective: print a compare batch on rank 0's out as the table or JSON
 * (json set), gathering one measure at a time. */
int h5div_print_batch(const h5div_cli_ctx *cx, const h5div_batch *b, h5div_base base, int json,
                      const h5div_batch_inputs *in);

/* Collective: after an evaluation with status st, write the batch to -o
 * (when given) and print it; on failure print the error line. Frees b.
 * Returns the final status. */
int h5div_cli_finish_batch(const h5div_cli_ctx *cx, const h5div_cli_args *a,
                           const h5div_cli_output *out, const h5div_options *opt, h5div_batch *b,
                           h5div_batch_inputs *in, int st, char *msg);

/* Summary of n values (reordered in place): min, median (mean of the two
 * middle values for even n), max. */
void h5div_cli_summary(double *v, size_t n, double *min, double *median, double *max);

/* A value as the table shows it: %.17g, or inf, -inf, nan. */
void h5div_cli_number(char *buf, size_t len, double v);

#endif

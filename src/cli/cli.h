/* SPDX-License-Identifier: BSD-3-Clause */
/* The h5div command line: parsing, dispatch, output and exit codes. */
#ifndef H5DIV_CLI_H
#define H5DIV_CLI_H

#include <mpi.h>
#include <stdio.h>

#include "core/measures.h"
#include "h5div.h"

#define H5DIV_CLI_MAX_POSITIONAL 128
#define H5DIV_CLI_MSG 1200
/* Exit code of `history --check` when a run crosses a threshold: not an
 * error of h5div, so not an h5div_status. */
#define H5DIV_CLI_CHECK_FAILED 5

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
    H5DIV_OPT_CHECK,
    H5DIV_OPT_LAST,
    /* h5div histogram */
    H5DIV_OPT_BINS,
    H5DIV_OPT_RANGE,
    H5DIV_OPT_LOG,
    H5DIV_OPT_EDGES,
    H5DIV_OPT_QUANTILE_BINS,
    H5DIV_OPT_OUTSIDE,
    H5DIV_OPT_NAN,
    H5DIV_OPT_WEIGHTS,
    H5DIV_OPT_LOCK_TIMEOUT,
    H5DIV_OPT_IN_PLACE,
    /* uncertainty (compare) */
    H5DIV_OPT_BOOTSTRAP,
    H5DIV_OPT_CI,
    H5DIV_OPT_SEED,
    H5DIV_OPT_KEEP_REPLICATES,
    H5DIV_OPT_NULL,
    H5DIV_OPT_COUNT
};
#define H5DIV_CLI_OPT(o) (1u << (unsigned)(o))
_Static_assert(H5DIV_OPT_COUNT <= 32, "option bits must fit the unsigned masks");
/* The options of every command that reads its inputs in pieces and writes
 * a result file. */
#define H5DIV_CLI_IO_OPTS                                                                          \
    (H5DIV_CLI_OPT(H5DIV_OPT_OUTPUT) | H5DIV_CLI_OPT(H5DIV_OPT_OVERWRITE) |                        \
     H5DIV_CLI_OPT(H5DIV_OPT_JSON) | H5DIV_CLI_OPT(H5DIV_OPT_MEMORY) |                             \
     H5DIV_CLI_OPT(H5DIV_OPT_PIECE) | H5DIV_CLI_OPT(H5DIV_OPT_INDEPENDENT_IO) |                    \
     H5DIV_CLI_OPT(H5DIV_OPT_LOCK_TIMEOUT) | H5DIV_CLI_OPT(H5DIV_OPT_IN_PLACE))
/* The options every evaluating command takes. */
#define H5DIV_CLI_EVAL_OPTS                                                                        \
    (H5DIV_CLI_IO_OPTS | H5DIV_CLI_OPT(H5DIV_OPT_BASE) | H5DIV_CLI_OPT(H5DIV_OPT_PSEUDOCOUNT) |    \
     H5DIV_CLI_OPT(H5DIV_OPT_MEASURES))

struct h5div_cli_command;

typedef struct h5div_cli_args {
    const char *command;                 /* the first operand as given */
    const struct h5div_cli_command *cmd; /* set when it names a command */
    /* base, pseudocount, memory, piece size, I/O mode; the command's check
     * also sets the measures (and Renyi orders) from --measures */
    h5div_options opt;
    const char *output, *measures, *estimator, *plot;
    const char *check; /* history --check conditions, checked by the command */
    size_t last;       /* history --last N; 0: every run */
    double bin_width;
    double lock_timeout; /* seconds to wait for the lock of the output file; < 0 no limit */
    int in_place;        /* the output may be an input file */
    int overwrite, json, quiet, verbose, help, version, csv;
    unsigned given; /* H5DIV_CLI_OPT bits of the options on the command line */
    const char *pos[H5DIV_CLI_MAX_POSITIONAL];
    int npos;
    /* h5div histogram: option values as given (checked by the command),
     * --log, and --weights in the order given */
    const char *bins, *range, *edges, *quantile_bins, *outside, *nan_mode;
    int log_edges;
    const char *weights[H5DIV_CLI_MAX_POSITIONAL];
    int nweights;
    /* Set by a command's check from the options above. */
    h5div_estimator est;
    double dirichlet_a;
    char out_file[4096], out_path[4096]; /* -o (or history's operand) split */
} h5div_cli_args;

typedef struct h5div_cli_command {
    const char *name;
    const char *summary; /* one line for h5div --help */
    const char *help;    /* h5div NAME --help */
    unsigned options;    /* H5DIV_CLI_OPT bits it accepts (plus -q -v -h --version) */
    int mpi;             /* needs MPI (evaluating commands); history does not */
    /* Usage checks that need neither MPI nor a file: operand count and the
     * values of the command's own options. Returns H5DIV_OK, or
     * H5DIV_EUSAGE with the error text in msg (H5DIV_CLI_MSG bytes). */
    int (*check)(h5div_cli_args *a, char *msg);
    int (*run)(const h5div_cli_ctx *cx, const h5div_cli_args *a);
    /* The one operand the command takes (e.g. "one histogram FILE:/P"),
     * counted before check; NULL: check counts the operands. */
    const char *one_operand;
} h5div_cli_command;

/* In a command's help text: where the list of compare's measures goes,
 * written from its table (h5div_cli_print_help). */
#define H5DIV_CLI_MEASURE_HELP "@measures@\n"

/* The uncertainty options of the commands that resample counts (compare,
 * entropy, joint), and their lines of the help text. */
#define H5DIV_CLI_BOOTSTRAP_OPTS                                                                   \
    (H5DIV_CLI_OPT(H5DIV_OPT_BOOTSTRAP) | H5DIV_CLI_OPT(H5DIV_OPT_CI) |                            \
     H5DIV_CLI_OPT(H5DIV_OPT_SEED) | H5DIV_CLI_OPT(H5DIV_OPT_KEEP_REPLICATES))
#define H5DIV_CLI_BOOTSTRAP_HELP                                                                   \
    "      --bootstrap B         Poisson bootstrap of integer counts with B replicates:\n"         \
    "                            every measure also gets NAME_se (standard error) and\n"           \
    "                            NAME_ci (percentile interval); same bits on any\n"                \
    "                            number of ranks\n"                                                \
    "      --ci C                level of the interval, in (0, 1) (default 0.95)\n"                \
    "      --seed S              seed of the replicates' draws (default 0)\n"                      \
    "      --keep-replicates     also write the B replicate values, NAME_replicates\n"

/* Usage check: --ci, --seed and --keep-replicates need --bootstrap B
 * (with_null: the command takes --null B, which --seed and
 * --keep-replicates serve as well). Returns H5DIV_OK or H5DIV_EUSAGE with
 * the error text in msg. */
int h5div_cli_check_bootstrap(const h5div_cli_args *a, int with_null, char *msg);

/* The help lines of the options several commands share, each written once. */
#define H5DIV_CLI_HELP_BASE                                                                        \
    "  -b, --base 2|e|10         logarithm base: bits, nats or hartleys (default 2)\n"
#define H5DIV_CLI_HELP_RESULT_GROUP                                                                \
    "  -o, --output FILE[:/GRP]  write the results as group GRP of HDF5 file FILE\n"               \
    "                            (default group /h5div); other groups are kept\n"                  \
    "      --overwrite           replace an existing result group\n"                               \
    "      --in-place            allow the output file to be an input file\n"                      \
    "      --lock-timeout SEC    wait at most SEC seconds (or none) for another run's\n"           \
    "                            lock on the output file (default 300)\n"
#define H5DIV_CLI_HELP_JSON                                                                        \
    "      --json                print one JSON object instead of the table\n"
#define H5DIV_CLI_HELP_INDEPENDENT_IO                                                              \
    "      --independent-io      independent instead of collective MPI-IO reads\n"
#define H5DIV_CLI_HELP_READS                                                                       \
    "      --piece-size SIZE     bytes of one read (default 64MiB, at most "                       \
    "1GiB)\n" H5DIV_CLI_HELP_INDEPENDENT_IO
#define H5DIV_CLI_HELP_VERSION                                                                     \
    "  -h, --help                print this help and exit\n"                                       \
    "      --version             print the version and exit\n"
/* -q, -v (what it shows: `verbose`), -h and --version. */
#define H5DIV_CLI_HELP_COMMON(verbose)                                                             \
    "  -q, --quiet               nothing on stderr but errors\n"                                   \
    "  -v, --verbose             " verbose "\n" H5DIV_CLI_HELP_VERSION
#define H5DIV_CLI_HELP_EXIT "exit codes: 0 success, 1 internal, 2 usage, 3 input, 4 output.\n"

/* Print a command's help text, the measure list in place of its marker. */
void h5div_cli_print_help(FILE *out, const char *help);

extern const h5div_cli_command h5div_cmd_compare;
extern const h5div_cli_command h5div_cmd_history;

extern const h5div_cli_command h5div_cmd_entropy;
extern const h5div_cli_command h5div_cmd_joint;
extern const h5div_cli_command h5div_cmd_surprisal;
extern const h5div_cli_command h5div_cmd_histogram;

/* Named scalar results of one input, printed as the table or as JSON. */
typedef struct h5div_cli_measures {
    const char *command, *input_name, *input_ref, *estimator; /* estimator may be NULL */
    h5div_base base;
    int ranks, json, n;
    const char *names[H5DIV_GROUP_MAX_MEASURES], *units[H5DIV_GROUP_MAX_MEASURES];
    double values[H5DIV_GROUP_MAX_MEASURES];
    /* With --bootstrap (nrep > 0): standard errors and intervals. */
    uint64_t nrep;
    double ci_level;
    double se[H5DIV_GROUP_MAX_MEASURES], ci[H5DIV_GROUP_MAX_MEASURES][2];
} h5div_cli_measures;
void h5div_cli_print_measures(FILE *out, const h5div_cli_measures *m);

/* Run the h5div command line on `comm`; rank 0 writes to out and err.
 * Collective. Returns the exit code (an h5div_status, or H5DIV_CLI_CHECK_FAILED
 * from history --check), the same on every rank.
 * With comm MPI_COMM_NULL no MPI call is made: help, version, usage errors
 * and history run so (the printing rank is then the launcher's, see
 * h5div_cli_launcher_rank), and an evaluating command is an internal error.
 * MPI_COMM_SELF runs any command as one rank (as the tests do). */
int h5div_cli_main(int argc, char **argv, MPI_Comm comm, FILE *out, FILE *err);

/* The program: parse argv without MPI; initialise MPI (MPI_COMM_WORLD) only
 * for a valid evaluating command, then run h5div_cli_main. Returns the exit
 * code. Not collective before MPI_Init, collective after. */
int h5div_cli_program(int argc, char **argv, FILE *out, FILE *err);

/* Parse argv and run the command's check, without MPI or files: every
 * rank reaches the same verdict. Returns H5DIV_OK or H5DIV_EUSAGE with the
 * error text in msg (H5DIV_CLI_MSG bytes). */
int h5div_cli_parse(int argc, char **argv, h5div_cli_args *a, char *msg);

/* This process's rank as its launcher announces it before MPI_Init (mpirun,
 * srun, hydra, ...: OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK, SLURM_PROCID,
 * ...), or 0 when started on its own. Decides which process prints when no
 * MPI is started. */
int h5div_cli_launcher_rank(void);

/* A usage error: its text into msg (H5DIV_CLI_MSG bytes); returns
 * H5DIV_EUSAGE. */
int h5div_cli_usage(char *msg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The start of every JSON object h5div prints: command, version, base,
 * units (of the base) and ranks, ending with ",\n". */
void h5div_cli_json_head(FILE *out, const char *command, h5div_base base, int ranks);

/* ", \"measure_units\": {name: units, ...}" for names[0..n). */
void h5div_cli_json_units(FILE *out, const char *const *names, const char *const *units, int n);

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

/* Usage check of -o: split it into a->out_file and a->out_path (the group
 * or dataset, default_group when not given); `what` names the form in the
 * error ("FILE or FILE:/group"). H5DIV_OK also without -o. Not collective. */
int h5div_cli_check_output(h5div_cli_args *a, const char *default_group, const char *what,
                           char *msg);

/* Before any data is read, check on rank 0 that the result of -o (split by
 * h5div_cli_check_output) could be written. Collective. Returns H5DIV_OK
 * (also without -o) or an agreed status with its message in msg
 * (H5DIV_CLI_MSG bytes). */
int h5div_cli_output_check(const h5div_cli_ctx *cx, const h5div_cli_args *a, h5div_cli_output *o,
                           char *msg);

/* --measures against names[0..n) of command `cmd`: sets *mask (bit i for
 * names[i]) and returns H5DIV_OK, or H5DIV_EUSAGE with the error text in
 * msg. Without --measures *mask is left as it is. */
int h5div_cli_select_measures(const h5div_cli_args *a, const char *cmd, const char *const *names,
                              int n, unsigned *mask, char *msg);

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

/* The evaluation of a command whose result is a batch (compare, entropy):
 * fill res from a's operands with options opt, and in's p_ref, q_refs,
 * estimator and dirichlet_a. Collective; msg holds H5DIV_CLI_MSG bytes. */
typedef int (*h5div_cli_batch_fn)(const h5div_cli_ctx *cx, const h5div_cli_args *a,
                                  const h5div_options *opt, h5div_batch *res,
                                  h5div_batch_inputs *in, char *msg);

/* What a batch command's -v line tells: the input's shape and the seconds
 * the evaluation took. */
typedef struct h5div_cli_batch_done {
    uint64_t rows, bins;
    int two_d;
    double elapsed;
} h5div_cli_batch_done;

/* Collective: a batch command from its options to its output: progress
 * reports, the -o check, `evaluate` (timed), then h5div_cli_finish_batch.
 * Returns the final status; on success *done is set. */
int h5div_cli_run_batch(const h5div_cli_ctx *cx, const h5div_cli_args *a,
                        h5div_cli_batch_fn evaluate, h5div_cli_batch_done *done);

/* Summary of n values (reordered in place): min, median (mean of the two
 * middle values for even n), max. */
void h5div_cli_summary(double *v, size_t n, double *min, double *median, double *max);

/* A value as the table shows it: %.17g, or inf, -inf, nan. */
void h5div_cli_number(char *buf, size_t len, double v);

#endif

/* The CLI: one file per verb, each a thin layer that parses Docker's flags, calls the library and prints. */
#ifndef ISOLA_CLI_H
#define ISOLA_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* Docker's exit codes: a failed command exits 1, a usage error 125. */
#define EXIT_CMD_FAILED 1
#define EXIT_USAGE      125
/* What cli_getopt returns after printing the usage for --help. */
#define CLI_OPT_HELP (-2)

struct cli_ctx
{
  const char *root;    /* --root or ISOLA_ROOT, or NULL for the default */
  const char *command; /* "images", "image prune"… for messages */
};

struct cli_command
{
  const char *name;
  int (*run) (struct cli_ctx *ctx, int argc, char **argv);
  const char *usage;   /* "isola images [OPTIONS] [REPOSITORY[:TAG]]" */
  const char *summary; /* one line */
  const char *options; /* option help lines, may be NULL */
};

/* Parses the options of a command with getopt_long.  Returns the option character, -1 at the end of options,
   or 'h' for --help (printing usage and arranging exit 0 via *exit_code). On a bad flag it prints Docker's
   "unknown flag" message and the usage to stderr and returns '?', with *exit_code = 125. */
int cli_getopt (struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv, const char *shortopts,
                const struct option *longopts, int *exit_code);

void cli_usage (const struct cli_command *cmd, bool to_stderr);

/* A management command's subcommands ("isola image ls"), in the order its usage lists them. */
struct cli_subcommand
{
  const char *name;
  const struct cli_command *cmd;
  const char *summary; /* the listing's line when it is not cmd->summary, else NULL */
  bool alias;          /* another name for a listed subcommand: not listed */
};
/* Runs the subcommand named by argv[1] of the management command group ("isola image COMMAND"), or prints the
   group's usage for --help (0) or no or an unknown subcommand (125). */
int cli_run_subcommand (struct cli_ctx *ctx, const struct cli_command *group, const struct cli_subcommand *subs,
                        size_t n_subs, int argc, char **argv);
/* Prints "isola CMD" requires … and the usage to stderr; returns 125. */
int cli_usage_error (const struct cli_command *cmd, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
/* Prints "Error: MESSAGE" to stderr; returns 1. */
int cli_fail (isola_error_t *err);

/* Docker's tabwriter (minwidth 10, padding 3): collect rows, then print them aligned. */
struct table;
struct table *table_new (void);
void table_add (struct table *t, const char *const *cells, int n);
void table_print (struct table *t);
void table_free (struct table *t);

extern const struct cli_command cmd_images, cmd_load, cmd_import, cmd_save, cmd_tag, cmd_rmi, cmd_inspect, cmd_image,
    cmd_version, cmd_image_inspect, cmd_image_prune, cmd_image_mount, cmd_image_unmount;

/* -e NAME=VALUE adds; -e NAME takes our environment's value, and is dropped when unset, as docker does. */
void cli_env_add (char ***env, const char *e);
/* --env-file: Docker's format, one NAME=VALUE or NAME per line; blank lines and # comments skipped. */
int cli_env_file_add (char ***env, const char *path, isola_error_t *err);

struct isola_store;
/* Opens the store at ctx->root; on failure prints the error and returns the exit code (> 0). */
int cli_open_store (struct cli_ctx *ctx, bool exclusive, struct isola_store **out);
struct container;
/* Opens the store without its lock (container verbs touch only their container) and loads the container named by
   what (name, ID or prefix), refreshing its state.  On failure prints the error and returns 1. */
int cli_load_container (struct cli_ctx *ctx, const char *what, struct isola_store **store, struct container **c);

struct attach_decoder;
struct cli_attach_opts
{
  bool stdin;         /* relay our stdin */
  bool tty;           /* the container has a terminal: raw mode, window size, detach keys */
  bool proxy_signals; /* forward SIGINT, SIGTERM… to the container */
};

/* Relays between us and an attached container until it exits (its exit code) or we detach (0) (attach.c). */
int cli_attach_loop (int fd, struct attach_decoder *dec, const struct cli_attach_opts *o);

/* Our terminal (terminal.c).  The window size is stdin's, else stdout's (with -t alone stdin may be anything);
   false and 0 x 0 when neither is a terminal. */
struct winsize;
bool cli_window_size (struct winsize *ws);
/* Puts our stdin in raw mode when it is a terminal, keys and output passing untouched; cli_terminal_restore puts
   back what it replaced, and may be called from a signal handler or when nothing was replaced. */
void cli_terminal_raw (void);
void cli_terminal_restore (void);

/* Docker's multi-container verbs: runs act on each container named in names[0..n), printing the name back after
   each success when echo, reporting each failure; returns 1 when any failed.  act may print (wait does). */
typedef int (*cli_container_action) (struct isola_store *s, struct container *c, void *arg, isola_error_t *err);
int cli_each_container (struct cli_ctx *ctx, char **names, int n, cli_container_action act, void *arg, bool echo);

/* Starts a created or stopped container; attached, relays its stdio and returns its exit code (create.c). */
int cli_start_container (struct cli_ctx *ctx, struct container *c, bool attach, bool attach_stdin);

extern const struct cli_command cmd_attach, cmd_run, cmd_create, cmd_start, cmd_ps, cmd_logs, cmd_wait, cmd_stop,
    cmd_kill, cmd_restart, cmd_rm, cmd_top, cmd_rename, cmd_container, cmd_exec, cmd_volume;
#endif

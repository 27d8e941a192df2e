/* The CLI: one file per verb, each a thin layer that parses Docker's flags, calls the library and prints. */
#ifndef ISOLA_CLI_H
#define ISOLA_CLI_H

#include <stdbool.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/flags.h"
#include "proto/detach_keys.h"
#include "store/store.h"

/* Docker's exit codes: a failed command exits 1, a usage error 125. */
#define EXIT_CMD_FAILED 1
#define EXIT_USAGE      125

struct cli_ctx
{
  const char *root;    /* --root or ISOLA_ROOT, or NULL for the default */
  const char *command; /* "images", "image prune"… for messages */
  char **argv;         /* main's, to re-execute the same command line (exec: base/sealed_exe.h) */
};

struct cli_command
{
  const char *name;
  int (*run) (struct cli_ctx *ctx, int argc, char **argv);
  const char *usage;            /* "isola images [OPTIONS] [REPOSITORY[:TAG]]" */
  const char *summary;          /* one line */
  const struct flag_def *flags; /* what it accepts, and its help's Options (base/flags.h); may be NULL */
  bool command_follows;         /* the first positional argument ends the flags: the rest is a command (run) */
};

/* Parses cmd's flags (cmd->flags) in argv[1..argc) as Docker does (base/flags.h). */
void cli_flags_init (struct flag_parser *p, const struct cli_command *cmd, int argc, char **argv);
/* The next flag's id (p->value, p->on hold its value), FLAG_END when the positional arguments are in
   p->args[0..p->nargs), or -1 when the command is over: after printing its help for --help (*exit_code 0) or a
   usage error, "unknown flag: --pid" (*exit_code 125). */
int cli_flag_next (const struct cli_command *cmd, struct flag_parser *p, int *exit_code);
/* Parses all of cmd's flags, for a command that uses none of their values (it has only --help, or flags accepted
   for compatibility): returns 0 with the positional arguments in p, or -1 with *exit_code as cli_flag_next. */
int cli_flags_parse_all (const struct cli_command *cmd, struct flag_parser *p, int argc, char **argv, int *exit_code);
/* The usage error of a flag whose value does not parse: 'invalid argument "VALUE" for "-m, --memory" flag', then
   ": " and the reason when fmt is not NULL; returns 125. */
int cli_flag_invalid (const struct cli_command *cmd, const struct flag_parser *p, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

void cli_usage (const struct cli_command *cmd, bool to_stderr);

/* Prints warning, then Docker's "Are you sure you want to continue? [y/N] "; true for an answer starting with y. */
bool cli_confirm (const char *warning);

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
/* --platform: isola runs linux/amd64 images only.  Returns 0 for that platform (also "linux", "linux/x86_64"),
   else prints the error and returns 125. */
int cli_check_platform (const char *platform);
/* Prints "Error: MESSAGE" to stderr; returns 1. */
int cli_fail (isola_error_t *err);

/* Docker's tabwriter (minwidth 10, padding 3): collect rows, then print them aligned. */
struct table;
struct table *table_new (void);
void table_add (struct table *t, const char *const *cells, int n);
void table_print (struct table *t);
void table_free (struct table *t);

/* Docker's --format of a listing (ps, images): "json" prints each row as JSON; "table TEMPLATE" a table whose
   header is TEMPLATE rendered against headers (field -> column title) and whose columns are the template's \t;
   any other TEMPLATE a line per row.  `\t` and `\n` typed as two characters are a tab and a newline.  "table"
   alone is the command's default listing, not handled here (cli_format_is_default). */
bool cli_format_is_default (const char *format);
int cli_print_listing (const char *format, json_t *rows, json_t *headers, isola_error_t *err);
/* Each item as FORMAT says, a line each: "json" (Docker's name for one compact object a line) or a Go template. */
int cli_print_each (json_t *items, const char *format, isola_error_t *err);
/* An inspect verb's output: each item through FORMAT, else the array indented as Docker prints it; returns
   EXIT_CODE (what the lookups gave), or the failure of the template. */
int cli_print_inspected (json_t *items, const char *format, int exit_code);
/* Go's time.Time.String() of a UTC time, as Docker's CreatedAt: "2024-01-02 03:04:05 +0000 UTC". */
char *cli_created_at (int64_t seconds);
/* The same of a record's RFC 3339 time in UTC, with its fraction: "2024-01-02 03:04:05.123 +0000 UTC". */
char *cli_time_string (const char *rfc3339);
/* Docker's "k=v,k2=v2" of a .Labels field in listings. */
char *cli_labels_field (json_t *labels);

extern const struct cli_command cmd_images, cmd_load, cmd_import, cmd_save, cmd_tag, cmd_rmi, cmd_inspect, cmd_image,
    cmd_version, cmd_image_inspect, cmd_container_inspect, cmd_image_prune, cmd_image_mount, cmd_image_unmount;
/* Producing images from containers (issue 16): history.c, diff.c, commit.c, export.c, cp.c. */
extern const struct cli_command cmd_history, cmd_diff, cmd_commit, cmd_export, cmd_cp;
/* Building images from Dockerfiles (issue 16): build.c. */
extern const struct cli_command cmd_build;

/* -e NAME=VALUE adds; -e NAME takes our environment's value, and is dropped when unset, as docker does. */
void cli_env_add (char ***env, const char *e);
/* --env-file: Docker's format, one NAME=VALUE or NAME per line; blank lines and # comments skipped. */
int cli_env_file_add (char ***env, const char *path, isola_error_t *err);
/* The lines of a file as Docker reads --env-file and --label-file: leading blanks and a trailing \r dropped, blank
   lines and # comments skipped.  At most 1 MiB. */
int cli_lines_file (const char *path, char ***out, isola_error_t *err);

struct isola_store;
/* Opens the store at ctx->root; on failure prints the error and returns the exit code (> 0). */
int cli_open_store (struct cli_ctx *ctx, bool exclusive, struct isola_store **out);
struct container;
/* Opens the store without its lock (container verbs touch only their container) and loads the container named by
   what (name, ID or prefix), refreshing its state.  On failure prints the error and returns 1. */
/* The same with a lock mode of store.h: STORE_LOCK_NONE for load and import (they lock as they go), COLLECT for
   what deletes images. */
int cli_open_store_as (struct cli_ctx *ctx, enum store_lock_mode mode, struct isola_store **out);
int cli_load_container (struct cli_ctx *ctx, const char *what, struct isola_store **store, struct container **c);
/* The same, also for a container whose record is damaged ("dead", container_load_any): for stop, kill and rm. */
int cli_load_container_any (struct cli_ctx *ctx, const char *what, struct isola_store **store, struct container **c);

struct attach_decoder;
struct cli_attach_opts
{
  bool stdin;                     /* relay our stdin */
  bool stdout, stderr;            /* print the container's output of that stream (run -a) */
  bool tty;                       /* the container has a terminal: raw mode, window size, detach keys */
  bool proxy_signals;             /* forward SIGINT, SIGTERM… to the container */
  struct detach_keys detach_keys; /* with a terminal, typing these detaches (cli_detach_keys) */
  bool *detached;                 /* NULL, or set when we detached */
};

/* The detach keys of a session: the flag's (NULL or "": none given), else ROOT/config.json's "detachKeys", else
   ctrl-p,ctrl-q.  Prints Docker's error and returns 1 for bad ones (as
   docker run, whose daemon refuses the attach). */
struct cli_ctx;
int cli_detach_keys (struct cli_ctx *ctx, const char *flag, struct cli_attach_opts *o);

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
int cli_each_container_any (struct cli_ctx *ctx, char **names, int n, cli_container_action act, void *arg, bool echo);

/* Starts a created or stopped container; attached (attach not NULL), relays its stdio as attach says and returns
   its exit code (create.c). */
int cli_start_container (struct cli_ctx *ctx, struct container *c, const struct cli_attach_opts *attach);

extern const struct cli_command cmd_attach, cmd_run, cmd_create, cmd_start, cmd_ps, cmd_logs, cmd_wait, cmd_stop,
    cmd_kill, cmd_restart, cmd_rm, cmd_top, cmd_rename, cmd_container, cmd_exec, cmd_volume;
extern const struct cli_command cmd_pause, cmd_unpause, cmd_update, cmd_stats;
extern const struct cli_command cmd_port;                                  /* port.c */
extern const struct cli_command cmd_network;                               /* network.c */
extern const struct cli_command cmd_serve, cmd_system_service;             /* serve.c */
extern const struct cli_command cmd_pull, cmd_push, cmd_login, cmd_logout; /* registry.c: run isola-registry */
/* Pulls image with isola-registry, its progress on stderr (run, create): 0, or 125 when the pull failed (the
   helper said why). */
int cli_pull_image (struct cli_ctx *ctx, const char *image);
/* The engine as a whole: events.c, info.c, system.c (system df, prune, and events and info again). */
extern const struct cli_command cmd_events, cmd_info, cmd_system;
/* Docker's CLI's timetypes.GetTimestamp, then the daemon's parse (events --since/--until, prune's until): a Go
   duration before now (whole seconds), an RFC 3339 date or time (in the local zone without one), or Unix
   seconds[.nanoseconds]; *out in nanoseconds since the epoch.  -EINVAL for anything else. */
int cli_parse_timestamp (const char *value, int64_t now_ns, int64_t *out);
#endif

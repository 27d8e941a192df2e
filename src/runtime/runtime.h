/* isola-runtime: an OCI runtime with runc's command line over isola's process sandbox.  main.c parses the global
   flags and dispatches; one file per group of verbs: lifecycle.c (create start run state kill delete list),
   exec.c, ps.c (ps pause resume), update.c, events.c, spec.c (spec features).  Like runc, errors go to stderr and to
   the --log file, and a failed verb exits 1. */
#ifndef ISOLA_RUNTIME_CLI_H
#define ISOLA_RUNTIME_CLI_H

#include <stdbool.h>

#include "base/error.h"
#include "base/flags.h"

struct rt_ctx
{
  const char *root;
  const char *log_path;
  bool log_json;
  bool debug;
  bool systemd_cgroup;
  const char *isolation; /* without the io.isola.isolation annotation: process or vm (main.c) */
};

struct rt_verb
{
  const char *name;
  const char *usage;   /* the arguments after the name, for the help */
  const char *summary; /* one line */
  const struct flag_def *flags;
  int (*run) (struct rt_ctx *ctx, struct flag_parser *p);
};

extern const struct rt_verb rt_verb_create, rt_verb_start, rt_verb_run, rt_verb_state, rt_verb_kill, rt_verb_delete,
    rt_verb_list, rt_verb_exec, rt_verb_ps, rt_verb_pause, rt_verb_resume, rt_verb_spec, rt_verb_features,
    rt_verb_update, rt_verb_events;

/* The verb's next flag: its id, FLAG_END, or -1 when the verb must return *exit_code (its help was printed, or a
   bad flag reported). */
int rt_next (struct rt_ctx *ctx, struct flag_parser *p, int *exit_code);

/* Logs an error (runc's "level=error") and prints it on stderr; returns 1, the exit code of a failed verb. */
int rt_fail (struct rt_ctx *ctx, isola_error_t *err);
int rt_failf (struct rt_ctx *ctx, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
void rt_warn (struct rt_ctx *ctx, const char *msg);

/* The positional arguments of a verb that takes exactly n (runc's "requires exactly N argument(s)"). */
int rt_args (struct rt_ctx *ctx, struct flag_parser *p, const char *verb, int min, int max);

/* Loads the container the verb's first argument names: 0, or 1 (the verb's exit code) once the error (runc's
   "container does not exist") is reported. */
struct rt_container;
int rt_load_arg (struct rt_ctx *ctx, const struct flag_parser *p, struct rt_container *c);

/* Writes pid to path atomically (temp + rename in the same directory). */
int rt_write_pid_file (const char *path, int pid, isola_error_t *err);

/* Connects to a --console-socket path; the fd, or a negative errno with err set. */
int rt_connect_console (const char *path, isola_error_t *err);

/* vm.c: VM isolation (io.isola.isolation=vm), the container an isola VM container of the store ROOT/.vm-store. */
struct rt_container;
struct oci_launch;
struct oci_process;
#include <jansson.h>
#include <sys/types.h>
char *rt_vm_store_root (const char *root);
bool rt_vm_container (const struct rt_container *c);
/* The VM container for the bundle and its waiter, the process of --pid-file (*pid_out), which starts it when the
   exec fifo in dir opens; its VM worker goes into cgroup (sandbox/cgroup.h's name of the spec's cgroupsPath, with
   the spec's limits).  *vm_out is what state.json keeps of it ("vm"). */
int rt_vm_create (struct rt_ctx *ctx, const char *id, const char *dir, struct oci_launch *l, const char *cgroup,
                  int console_fd, pid_t *pid_out, json_t **vm_out, isola_error_t *err);
/* What the waiter said when the VM container did not start, or NULL. */
char *rt_vm_start_error (const struct rt_container *c);
/* pause/resume: the VM's vCPUs stop (QMP, as `isola pause`), marked by RT_VM_PAUSED in its directory. */
int rt_vm_pause (const struct rt_ctx *ctx, const struct rt_container *c, bool pause, isola_error_t *err);
/* update, events --stats: the guest's cgroup of the container, through its agent (as `isola update`, `isola stats`). */
struct cgroup_limits;
struct cgroup_stats;
int rt_vm_update (const struct rt_ctx *ctx, const struct rt_container *c, const struct cgroup_limits *l,
                  isola_error_t *err);
int rt_vm_stats (const struct rt_ctx *ctx, const struct rt_container *c, struct cgroup_stats *out, isola_error_t *err);
int rt_vm_kill (const struct rt_ctx *ctx, const struct rt_container *c, int sig, isola_error_t *err);
/* Removes the VM container (its VM, disks, tap redirections, cgroup) and its image. */
void rt_vm_remove (const struct rt_ctx *ctx, const struct rt_container *c);
/* exec through the VM's agent: waits and sets *code, or with detach returns once it runs, the relaying child's pid
   in pid_file; console_fd >= 0: with a terminal, its master sent there. */
int rt_vm_exec (const struct rt_ctx *ctx, const struct rt_container *c, const struct oci_process *p, bool detach,
                const char *pid_file, int console_fd, int *code, isola_error_t *err);

#endif

/* exec: a new process in a running container (nsexec.c joins its namespaces and cgroups), from --process FILE or
   from the arguments and flags over the container's own process settings, as runc builds it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "runtime.h"
#include "runtime/oci.h"
#include "runtime/state.h"
#include "sandbox/cgroup.h"
#include "sandbox/nsexec.h"

enum
{
  F_PROCESS = FLAG_FIRST_ID,
  F_TTY,
  F_DETACH,
  F_PID_FILE,
  F_CONSOLE,
  F_CWD,
  F_ENV,
  F_USER,
  F_CAP,
  F_NNP,
  F_PRESERVE,
  F_IGNORED,
};

static const struct flag_def exec_flags[] = {
  { "process", 'p', F_PROCESS, "string", "path to the process.json" },
  { "tty", 't', F_TTY, NULL, "allocate a pseudo-TTY" },
  { "detach", 'd', F_DETACH, NULL, "detach from the container's process" },
  { "pid-file", 0, F_PID_FILE, "string", "specify the file to write the process id to" },
  { "console-socket", 0, F_CONSOLE, "string",
    "path to an AF_UNIX socket which will receive a file descriptor "
    "referencing the master end of the console's pseudoterminal" },
  { "cwd", 0, F_CWD, "string", "current working directory in the container" },
  { "env", 'e', F_ENV, "list", "set environment variables" },
  { "user", 'u', F_USER, "string", "UID (format: <uid>[:<gid>])" },
  { "cap", 'c', F_CAP, "list", "add a capability to the bounding set for the process" },
  { "no-new-privs", 0, F_NNP, NULL, "set the no new privileges value for the process" },
  { "preserve-fds", 0, F_PRESERVE, "uint", "Pass N additional file descriptors to the container" },
  { "apparmor", 0, F_IGNORED, "string", "accepted and ignored (no AppArmor here)" },
  { "process-label", 0, F_IGNORED, "string", "accepted and ignored (no SELinux here)" },
  { NULL },
};

struct exec_opts
{
  const char *process_file, *pid_file, *console, *cwd, *user;
  char **env, **caps;
  bool tty, detach, nnp;
};

/* The process of the container's config.json, with the flags over it (runc's newProcess). */
static int
process_from_flags (const struct rt_container *c, const struct exec_opts *o, char **argv, json_t **out,
                    isola_error_t *err)
{
  json_t *proc = json_deep_copy (json_object_get (c->config, "process"));
  json_t *args = json_array ();
  for (size_t i = 0; argv[i]; i++)
    json_array_append_new (args, json_string (argv[i]));
  json_object_set_new (proc, "args", args);
  json_object_set_new (proc, "terminal", json_boolean (o->tty));
  json_t *env = json_object_get (proc, "env");
  if (!json_is_array (env))
    json_object_set_new (proc, "env", env = json_array ());
  for (size_t i = 0; o->env && o->env[i]; i++)
    json_array_append_new (env, json_string (o->env[i]));
  if (o->cwd)
    json_object_set_new (proc, "cwd", json_string (o->cwd));
  if (o->nnp)
    json_object_set_new (proc, "noNewPrivileges", json_true ());
  if (o->user)
    {
      unsigned uid = 0, gid = 0;
      int n = sscanf (o->user, "%u:%u", &uid, &gid);
      if (n < 1)
        {
          json_decref (proc);
          return isola_error_fail (err, EINVAL, "parsing %s as int for uid failed", o->user);
        }
      json_object_set_new (proc, "user", json_pack ("{s:i, s:i}", "uid", (int)uid, "gid", (int)gid));
    }
  json_t *caps = json_object_get (proc, "capabilities");
  for (size_t i = 0; o->caps && o->caps[i]; i++)
    {
      if (!json_is_object (caps))
        json_object_set_new (proc, "capabilities", caps = json_object ());
      json_t *bounding = json_object_get (caps, "bounding");
      if (!json_is_array (bounding))
        json_object_set_new (caps, "bounding", bounding = json_array ());
      json_array_append_new (bounding, json_string (o->caps[i]));
    }
  *out = proc;
  return 0;
}

static int
load_process_file (const char *path, json_t **out, isola_error_t *err)
{
  json_error_t jerr;
  *out = json_load_file (path, 0, &jerr);
  if (*out == NULL)
    return isola_error_fail (err, EINVAL, "process file %s: %s", path, jerr.text);
  return 0;
}

static int
run_exec (struct rt_ctx *ctx, const struct rt_container *c, const struct exec_opts *o, json_t *proc, int *code,
          isola_error_t *err)
{
  struct oci_process p;
  int ret = oci_process_parse (proc, &p, err);
  if (ret < 0)
    return ret;
  struct seccomp_program *seccomp = NULL;
  cleanup_close int console = -1;
  struct spawn_spec sp = { .argv = p.argv,
                           .env = p.env,
                           .cwd = p.cwd,
                           .user = p.user,
                           .group_add = p.groups,
                           .cap_keep = p.caps,
                           .no_new_privileges = p.no_new_privileges,
                           .rlimits = p.rlimits,
                           .n_rlimits = p.n_rlimits,
                           .stdin_fd = 0,
                           .stdout_fd = 1,
                           .stderr_fd = 2 };
  if (p.terminal)
    {
      if (o->console == NULL)
        ret = isola_error_fail (err, EINVAL,
                                "cannot allocate tty if isola-runtime will detach without setting "
                                "console socket");
      else if ((console = rt_connect_console (o->console, err)) < 0)
        ret = console;
      sp.tty = true, sp.console_socket = console;
    }
  if (ret == 0 && rt_vm_container (c))
    {
      /* The agent applies the container's own settings in the guest (vm.c). */
      ret = rt_vm_exec (ctx, c, &p, o->detach, o->pid_file, console, code, err);
      oci_process_clear (&p);
      return ret;
    }
  if (ret == 0)
    ret = oci_seccomp_compile (json_object_get (json_object_get (c->config, "linux"), "seccomp"), p.caps, &seccomp,
                               err);
  sp.seccomp = seccomp;
  struct cgroup_fs fs = { 0 };
  cleanup_strv char **procs = NULL;
  if (ret == 0)
    ret = cgroup_fs_detect ("/sys/fs/cgroup", &fs, err);
  if (ret == 0 && cgroup_procs_paths (&fs, json_string_value (json_object_get (c->state, "cgroup")), &procs) < 0)
    procs = NULL;
  cgroup_fs_clear (&fs);
  if (ret == 0 && o->detach)
    {
      pid_t pid = 0;
      ret = nsexec_start_in (rt_pid (c), procs, &sp, &pid, code, err);
      if (ret == 0 && o->pid_file)
        ret = rt_write_pid_file (o->pid_file, pid, err);
      if (ret == 0)
        *code = 0;
    }
  else if (ret == 0)
    ret = nsexec_run_in (rt_pid (c), procs, &sp, false, -1, code, err);
  seccomp_program_free (seccomp);
  oci_process_clear (&p);
  (void)ctx;
  return ret;
}

static int
verb_exec (struct rt_ctx *ctx, struct flag_parser *p)
{
  struct exec_opts o = { 0 };
  cleanup_strv char **env = NULL, **caps = NULL;
  int code = 0, id;
  while ((id = rt_next (ctx, p, &code)) != FLAG_END)
    {
      if (id < 0)
        return code;
      switch (id)
        {
        case F_PROCESS:
          o.process_file = p->value;
          break;
        case F_TTY:
          o.tty = p->on;
          break;
        case F_DETACH:
          o.detach = p->on;
          break;
        case F_PID_FILE:
          o.pid_file = p->value;
          break;
        case F_CONSOLE:
          o.console = p->value;
          break;
        case F_CWD:
          o.cwd = p->value;
          break;
        case F_ENV:
          strv_push (&env, p->value);
          break;
        case F_USER:
          o.user = p->value;
          break;
        case F_CAP:
          strv_push (&caps, p->value);
          break;
        case F_NNP:
          o.nnp = p->on;
          break;
        default:
          break;
        }
    }
  o.env = env, o.caps = caps;
  if (rt_args (ctx, p, "exec", o.process_file ? 1 : 2, -1))
    return 1;
  cleanup_error isola_error_t err = NULL;
  struct rt_container c;
  if (rt_load_arg (ctx, p, &c))
    return 1;
  enum rt_status st = rt_status (&c);
  cleanup_json json_t *proc = NULL;
  int ret = 0;
  if (st == RT_STOPPED)
    ret = isola_error_fail (&err, EINVAL, "cannot exec in a stopped container");
  else if (st == RT_PAUSED)
    ret = isola_error_fail (&err, EINVAL, "cannot exec in a paused container");
  else if (o.process_file)
    ret = load_process_file (o.process_file, &proc, &err);
  else
    ret = process_from_flags (&c, &o, p->args + 1, &proc, &err);
  if (ret == 0)
    ret = run_exec (ctx, &c, &o, proc, &code, &err);
  rt_container_clear (&c);
  if (ret < 0)
    {
      rt_fail (ctx, &err);
      return code > 1 ? code : 255;
    }
  return code;
}

const struct rt_verb rt_verb_exec = { "exec",
                                      "[command options] <container-id> <command> [command options]  || -p "
                                      "process.json <container-id>",
                                      "execute new process inside the container", exec_flags, verb_exec };

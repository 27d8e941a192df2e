/* create, start, run, state, kill, delete, list: runc's container life cycle over the process sandbox. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "runtime.h"
#include "runtime/oci.h"
#include "runtime/state.h"
#include "sandbox/cgroup.h"
#include "sandbox/spawn.h"

struct create_opts
{
  const char *bundle, *pid_file, *console_socket;
  unsigned preserve_fds;
  bool attached; /* run without --detach: we stay the container's parent */
};

/* The isolation a bundle asks for: io.isola.isolation, else the runtime's default (main.c).  A Kubernetes pod's
   sandbox (pause) container only holds the pod's namespaces: it runs as a process whatever the default, so that
   the pod's network namespace is mirrored into the VM of the pod's container, not into a VM of its own. */
static const char *
wanted_isolation (const struct rt_ctx *ctx, json_t *config)
{
  json_t *ann = json_object_get (config, "annotations");
  const char *a = json_string_value (json_object_get (ann, "io.isola.isolation"));
  if (a && a[0])
    return a;
  const char *cri = json_string_value (json_object_get (ann, "io.kubernetes.cri.container-type"));
  const char *crio = json_string_value (json_object_get (ann, "io.kubernetes.cri-o.ContainerType"));
  if ((cri && strcmp (cri, "sandbox") == 0) || (crio && strcmp (crio, "sandbox") == 0))
    return "process";
  return ctx->isolation ? ctx->isolation : "process";
}

/* 0 for process isolation, 1 for a VM (vm.c). */
static int
check_isolation (const struct rt_ctx *ctx, json_t *config, isola_error_t *err)
{
  const char *mode = wanted_isolation (ctx, config);
  if (strcmp (mode, "process") == 0)
    return 0;
  if (strcmp (mode, "vm") == 0 || strcmp (mode, "hyperv") == 0)
    return 1;
  return isola_error_fail (err, EINVAL, "io.isola.isolation: unknown isolation \"%s\" (process or vm)", mode);
}

static char *
state_text (const struct rt_container *c)
{
  cleanup_json json_t *s = rt_state_json (c);
  return json_dumps (s, JSON_COMPACT);
}

static void
kill_and_reap (pid_t pid)
{
  if (pid > 0)
    {
      (void)kill (pid, SIGKILL);
      (void)waitpid_retry (pid, NULL);
    }
}

/* The parts of a container that outlive a failed create or a delete: its processes, cgroups and directory. */
static void
remove_container (const char *dir, const char *cgroup_name)
{
  struct cgroup_fs fs = { 0 };
  if (cgroup_name && cgroup_name[0] && cgroup_fs_detect ("/sys/fs/cgroup", &fs, NULL) == 0)
    (void)cgroup_destroy (&fs, cgroup_name, NULL);
  cgroup_fs_clear (&fs);
  (void)rm_rf (dir, NULL);
}

struct launch
{
  struct oci_launch oci;
  struct cgroup_fs fs;
  struct cgroup_placement placement;
  int fifo_fd, console_fd;
  bool vm; /* io.isola.isolation=vm: vm.c */
};

static void
launch_clear (struct launch *l)
{
  oci_launch_clear (&l->oci);
  cgroup_fs_clear (&l->fs);
  cgroup_placement_clear (&l->placement);
  if (l->fifo_fd >= 0)
    close (l->fifo_fd);
  if (l->console_fd >= 0)
    close (l->console_fd);
}

static int
make_state_dir (const char *root, const char *id, char **dir_out, isola_error_t *err)
{
  int ret = mkdir_p (root, 0711, err);
  if (ret < 0)
    return ret;
  cleanup_free char *dir = xasprintf ("%s/%s", root, id);
  if (mkdir (dir, 0711) < 0)
    {
      if (errno == EEXIST)
        return isola_error_fail (err, EEXIST, "container with id exists: %s", id);
      return isola_error_make (err, errno, "mkdir %s", dir);
    }
  *dir_out = take_ptr (&dir);
  return 0;
}

static int
make_exec_fifo (const char *dir, int *fd_out, isola_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/exec.fifo", dir);
  if (mkfifo (path, 0622) < 0 || chmod (path, 0622) < 0)
    return isola_error_make (err, errno, "create the exec fifo %s", path);
  *fd_out = open (path, O_PATH | O_CLOEXEC);
  if (*fd_out < 0)
    return isola_error_make (err, errno, "open %s", path);
  return 0;
}

static int
set_oom_score_adj (pid_t pid, const struct oci_process *p, isola_error_t *err)
{
  if (!p->has_oom_score_adj)
    return 0;
  char path[64], value[16];
  snprintf (path, sizeof path, "/proc/%d/oom_score_adj", (int)pid);
  int n = snprintf (value, sizeof value, "%d", p->oom_score_adj);
  cleanup_close int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write_all (fd, value, (size_t)n) < 0)
    return isola_error_make (err, errno, "set oom_score_adj");
  return 0;
}

static int
prepare_launch (struct rt_ctx *ctx, const struct create_opts *o, const char *bundle, struct launch *l,
                isola_error_t *err)
{
  int ret = oci_launch_load (bundle, &l->oci, err);
  if (ret == 0)
    ret = check_isolation (ctx, l->oci.config, err);
  if (ret < 0)
    return ret;
  l->vm = ret == 1;
  for (size_t i = 0; l->oci.warnings && l->oci.warnings[i]; i++)
    rt_warn (ctx, l->oci.warnings[i]);
  struct spawn_spec *sp = &l->oci.spec;
  if (l->oci.process.terminal)
    {
      if (o->console_socket == NULL && o->attached)
        return isola_error_fail (err, ENOTSUP,
                                 "process.terminal needs --console-socket: isola-runtime run relays no terminal "
                                 "itself");
      if (o->console_socket == NULL)
        return isola_error_fail (err, EINVAL,
                                 "cannot allocate tty if isola-runtime will detach without setting "
                                 "console socket");
      if ((l->console_fd = rt_connect_console (o->console_socket, err)) < 0)
        return l->console_fd;
      sp->tty = true;
      sp->console_socket = l->console_fd;
    }
  else if (o->console_socket)
    return isola_error_fail (err, EINVAL,
                             "cannot use console socket if isola-runtime will not detach or allocate "
                             "tty");
  sp->stdin_fd = 0, sp->stdout_fd = 1, sp->stderr_fd = 2;
  sp->preserve_fds = o->preserve_fds;
  sp->outlive_parent = !o->attached;
  return 0;
}

static json_t *
new_state (const char *id, const char *bundle, const struct launch *l, pid_t pid, const char *cgroup_name)
{
  cleanup_free char *now = time_rfc3339_now ();
  json_t *ann = json_object_get (l->oci.config, "annotations");
  return json_pack ("{s:s, s:i, s:I, s:s, s:s, s:s, s:o, s:s}", "id", id, "pid", (int)pid, "start_time",
                    (json_int_t)rt_process_start_time (pid), "bundle", bundle, "rootfs", l->oci.root_dir, "created",
                    now, "annotations", ann ? json_incref (ann) : json_object (), "cgroup",
                    cgroup_name ? cgroup_name : "");
}

/* runc create: the container's process is left waiting at its exec fifo, its pid in --pid-file. */
static int
do_create (struct rt_ctx *ctx, const struct create_opts *o, const char *id, struct rt_container *out,
           isola_error_t *err)
{
  if (!rt_id_valid (id))
    return isola_error_fail (err, EINVAL, "invalid id format: %s", id);
  cleanup_free char *bundle = realpath (o->bundle ? o->bundle : ".", NULL);
  if (bundle == NULL)
    return isola_error_make (err, errno, "bundle %s", o->bundle ? o->bundle : ".");
  struct launch l = { .fifo_fd = -1, .console_fd = -1, .placement = { .dir_fd = -1 } };

  oci_launch_init (&l.oci);
  cleanup_free char *dir = NULL;
  cleanup_free char *cgroup_name = NULL;
  pid_t pid = 0;
  cleanup_json json_t *vm = NULL;
  int ret = prepare_launch (ctx, o, bundle, &l, err);
  if (ret == 0)
    ret = rt_cgroup_path (id, l.oci.cgroups_path, ctx->systemd_cgroup, &cgroup_name, err);
  if (ret == 0)
    ret = make_state_dir (ctx->root, id, &dir, err);
  if (ret < 0)
    {
      launch_clear (&l);
      return ret;
    }
  cleanup_free char *config_copy = xasprintf ("%s/config.json", dir);
  cleanup_free char *config_text = json_dumps (l.oci.config, JSON_COMPACT);
  ret = write_file_replace (config_copy, config_text, strlen (config_text), 0600, err);
  if (ret == 0)
    ret = make_exec_fifo (dir, &l.fifo_fd, err);
  if (ret == 0 && l.vm)
    {
      /* The VM's worker gets the container's cgroup (the VM driver makes it at start, with the VM's limits); the
         waiter stays with the caller, and state.json's "cgroup" stays empty: it is the VM's. */
      ret = rt_vm_create (ctx, id, dir, &l.oci, cgroup_name, l.console_fd, &pid, &vm, err);
      free (cgroup_name);
      cgroup_name = NULL;
    }
  else if (ret == 0)
    ret = cgroup_fs_detect ("/sys/fs/cgroup", &l.fs, err);
  if (ret == 0 && !l.vm)
    ret = cgroup_create (&l.fs, cgroup_name, &l.oci.limits, &l.placement, err);
  if (ret == 0 && !l.vm)
    {
      l.oci.spec.cgroup = &l.placement;
      l.oci.spec.exec_gate_fd = l.fifo_fd;
      ret = spawn_container (&l.oci.spec, &pid, err);
    }
  if (ret == 0)
    ret = set_oom_score_adj (pid, &l.oci.process, err);
  struct rt_container c = { 0 };
  if (ret == 0)
    {
      c.id = xstrdup (id);
      c.dir = xstrdup (dir);
      c.state = new_state (id, bundle, &l, pid, cgroup_name);
      if (vm)
        json_object_set (c.state, "vm", vm);
      c.config = json_incref (l.oci.config);
      ret = rt_save_state (&c, err);
    }
  if (ret == 0)
    {
      cleanup_free char *text = state_text (&c);
      ret = oci_run_hooks (c.config, "prestart", text, err);
      if (ret == 0)
        ret = oci_run_hooks (c.config, "createRuntime", text, err);
      /* In the container's namespaces, where it is built and waits at its exec fifo; a VM's guest runs no hooks. */
      if (ret == 0 && !l.vm)
        ret = oci_run_hooks_in (c.config, "createContainer", text, pid, err);
      else if (ret == 0 && json_array_size (json_object_get (json_object_get (c.config, "hooks"), "createContainer")))
        rt_warn (ctx, "hooks.createContainer: a VM container's namespaces are its guest's: ignored");
    }
  if (ret == 0 && o->pid_file)
    ret = rt_write_pid_file (o->pid_file, pid, err);
  launch_clear (&l);
  if (ret < 0)
    {
      kill_and_reap (pid);
      if (c.state && vm)
        rt_vm_remove (ctx, &c);
      rt_container_clear (&c);
      if (dir)
        remove_container (dir, cgroup_name);
      return ret;
    }
  *out = c;
  return 0;
}

/* Opens the fifo for reading, which lets the container's process open it for writing; its byte says it goes on to
   exec.  A process that died before it got there never writes: its liveness is checked meanwhile. */
static int
release_exec_gate (const struct rt_container *c, isola_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/exec.fifo", c->dir);
  cleanup_close int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open the exec fifo");
  pid_t pid = rt_pid (c);
  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      int n = poll (&pfd, 1, 100);
      if (n > 0 && (pfd.revents & POLLIN))
        {
          char b;
          if (read (fd, &b, 1) == 1)
            break;
        }
      if (n < 0 && errno != EINTR)
        return isola_error_make (err, errno, "poll the exec fifo");
      if (rt_process_start_time (pid) == 0 || (n > 0 && (pfd.revents & POLLHUP) && rt_vm_container (c)))
        {
          (void)unlink (path);
          cleanup_free char *why = rt_vm_container (c) ? rt_vm_start_error (c) : NULL;
          if (why)
            return isola_error_fail (err, EIO, "%s", why);
          return isola_error_fail (err, ESRCH, "cannot start a container that has stopped");
        }
    }
  (void)unlink (path);
  return 0;
}

static int
do_start (struct rt_ctx *ctx, const struct rt_container *c, isola_error_t *err)
{
  switch (rt_status (c))
    {
    case RT_CREATED:
      break;
    case RT_STOPPED:
      return isola_error_fail (err, EINVAL, "cannot start a container that has stopped");
    default:
      return isola_error_fail (err, EINVAL, "cannot start an already running container");
    }
  cleanup_free char *before = state_text (c);
  int ret = 0;
  if (!rt_vm_container (c))
    ret = oci_run_hooks_in (c->config, "startContainer", before, rt_pid (c), err);
  else if (json_array_size (json_object_get (json_object_get (c->config, "hooks"), "startContainer")))
    rt_warn (ctx, "hooks.startContainer: a VM container's namespaces are its guest's: ignored");
  if (ret == 0)
    ret = release_exec_gate (c, err);
  if (ret < 0)
    return ret;
  cleanup_free char *text = state_text (c);
  cleanup_error isola_error_t hook_err = NULL;
  if (oci_run_hooks (c->config, "poststart", text, &hook_err) < 0)
    rt_warn (ctx, hook_err->msg);
  return 0;
}

/* Waits (bounded) for the container's first process to be gone: we are not its parent after create. */
static void
wait_gone (pid_t pid, unsigned long long start)
{
  for (int i = 0; i < 1000 && pid > 0 && rt_process_start_time (pid) == start && start; i++)
    {
      (void)waitpid (pid, NULL, WNOHANG);
      poll (NULL, 0, 10);
    }
}

static void
kill_all (const struct rt_container *c, int sig)
{
  pid_t *pids = NULL;
  size_t n = 0;
  if (rt_cgroup_pids (c, &pids, &n, NULL) == 0)
    for (size_t i = 0; i < n; i++)
      (void)kill (pids[i], sig);
  free (pids);
}

static int
do_delete (struct rt_ctx *ctx, struct rt_container *c, bool force, isola_error_t *err)
{
  enum rt_status st = rt_status (c);
  if ((st == RT_RUNNING || st == RT_PAUSED) && !force)
    return isola_error_fail (err, EBUSY, "cannot delete container %s that is not stopped: %s", c->id,
                             rt_status_name (st));
  pid_t pid = rt_pid (c);
  unsigned long long start = (unsigned long long)json_integer_value (json_object_get (c->state, "start_time"));
  if (rt_vm_container (c))
    {
      /* The VM container goes first: its end ends the waiter, whose exit the caller reaps. */
      rt_vm_remove (ctx, c);
      if (rt_process_start_time (pid) == start)
        (void)kill (pid, SIGKILL);
      wait_gone (pid, start);
    }
  else if (st != RT_STOPPED)
    {
      if (st == RT_PAUSED)
        {
          struct cgroup_fs fs = { 0 };
          if (cgroup_fs_detect ("/sys/fs/cgroup", &fs, NULL) == 0)
            (void)cgroup_freeze (&fs, json_string_value (json_object_get (c->state, "cgroup")), false, NULL);
          cgroup_fs_clear (&fs);
        }
      kill_all (c, SIGKILL);
      if (rt_process_start_time (pid) == start)
        (void)kill (pid, SIGKILL);
      wait_gone (pid, start);
    }
  cleanup_free char *text = state_text (c);
  remove_container (c->dir, json_string_value (json_object_get (c->state, "cgroup")));
  cleanup_error isola_error_t hook_err = NULL;
  if (oci_run_hooks (c->config, "poststop", text, &hook_err) < 0)
    rt_warn (ctx, hook_err->msg);
  return 0;
}

/* --- verbs ------------------------------------------------------------------------------------------------------ */

enum
{
  F_BUNDLE = FLAG_FIRST_ID,
  F_PID_FILE,
  F_CONSOLE,
  F_PRESERVE,
  F_NO_PIVOT,
  F_NO_KEYRING,
  F_DETACH,
  F_FORCE,
  F_ALL,
  F_FORMAT,
  F_QUIET,
  F_KEEP,
};

static const struct flag_def create_flags[] = {
  { "bundle", 'b', F_BUNDLE, "string", "path to the root of the bundle directory, defaults to the current directory" },
  { "pid-file", 0, F_PID_FILE, "string", "specify the file to write the process id to" },
  { "console-socket", 0, F_CONSOLE, "string",
    "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's "
    "pseudoterminal" },
  { "preserve-fds", 0, F_PRESERVE, "uint",
    "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS "
    "+ N in total)" },
  { "no-pivot", 0, F_NO_PIVOT, NULL, "accepted; the root is always entered with pivot_root" },
  { "no-new-keyring", 0, F_NO_KEYRING, NULL, "accepted; no session keyring is made" },
  { NULL },
};

static const struct flag_def run_flags[] = {
  { "bundle", 'b', F_BUNDLE, "string", "path to the root of the bundle directory, defaults to the current directory" },
  { "pid-file", 0, F_PID_FILE, "string", "specify the file to write the process id to" },
  { "console-socket", 0, F_CONSOLE, "string",
    "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's "
    "pseudoterminal" },
  { "preserve-fds", 0, F_PRESERVE, "uint", "Pass N additional file descriptors to the container" },
  { "detach", 'd', F_DETACH, NULL, "detach from the container's process" },
  { "keep", 0, F_KEEP, NULL, "do not delete the container after it exits" },
  { "no-pivot", 0, F_NO_PIVOT, NULL, "accepted; the root is always entered with pivot_root" },
  { "no-new-keyring", 0, F_NO_KEYRING, NULL, "accepted; no session keyring is made" },
  { NULL },
};

static unsigned
listen_fds (void)
{
  const char *pid = getenv ("LISTEN_PID"), *fds = getenv ("LISTEN_FDS");
  if (pid && fds && atoi (pid) == getpid ())
    return (unsigned)atoi (fds);
  return 0;
}

static int
parse_create_flags (struct rt_ctx *ctx, struct flag_parser *p, struct create_opts *o, bool *detach, bool *keep,
                    int *exit_code)
{
  int id;
  while ((id = rt_next (ctx, p, exit_code)) != FLAG_END)
    {
      if (id < 0)
        return -1;
      switch (id)
        {
        case F_BUNDLE:
          o->bundle = p->value;
          break;
        case F_PID_FILE:
          o->pid_file = p->value;
          break;
        case F_CONSOLE:
          o->console_socket = p->value;
          break;
        case F_PRESERVE:
          o->preserve_fds = (unsigned)strtoul (p->value, NULL, 10);
          break;
        case F_DETACH:
          *detach = p->on;
          break;
        case F_KEEP:
          *keep = p->on;
          break;
        default:
          break;
        }
    }
  o->preserve_fds += listen_fds ();
  return 0;
}

static int
verb_create (struct rt_ctx *ctx, struct flag_parser *p)
{
  struct create_opts o = { 0 };
  bool detach = true, keep = false;
  int code = 0;
  if (parse_create_flags (ctx, p, &o, &detach, &keep, &code) < 0)
    return code;
  if (rt_args (ctx, p, "create", 1, 1))
    return 1;
  cleanup_error isola_error_t err = NULL;
  struct rt_container c;
  if (do_create (ctx, &o, p->args[0], &c, &err) < 0)
    return rt_fail (ctx, &err);
  rt_container_clear (&c);
  return 0;
}

static int
verb_start (struct rt_ctx *ctx, struct flag_parser *p)
{
  int code = 0, id;
  while ((id = rt_next (ctx, p, &code)) != FLAG_END)
    if (id < 0)
      return code;
  if (rt_args (ctx, p, "start", 1, 1))
    return 1;
  cleanup_error isola_error_t err = NULL;
  struct rt_container c;
  if (rt_load_arg (ctx, p, &c))
    return 1;
  int ret = do_start (ctx, &c, &err);
  rt_container_clear (&c);
  return ret < 0 ? rt_fail (ctx, &err) : 0;
}

static volatile pid_t forward_to;

static void
forward_signal (int sig)
{
  if (forward_to > 0)
    (void)kill (forward_to, sig);
}

/* runc run: create and start, then (unless detached) wait for the container and delete it; its exit status is
   ours, 128+N for signal N. */
static int
verb_run (struct rt_ctx *ctx, struct flag_parser *p)
{
  struct create_opts o = { 0 };
  bool detach = false, keep = false;
  int code = 0;
  if (parse_create_flags (ctx, p, &o, &detach, &keep, &code) < 0)
    return code;
  if (rt_args (ctx, p, "run", 1, 1))
    return 1;
  o.attached = !detach;
  cleanup_error isola_error_t err = NULL;
  struct rt_container c;
  if (do_create (ctx, &o, p->args[0], &c, &err) < 0)
    return rt_fail (ctx, &err);
  pid_t pid = rt_pid (&c);
  forward_to = pid;
  if (!detach)
    {
      static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
      for (size_t i = 0; i < ARRAY_SIZE (forwarded); i++)
        signal (forwarded[i], forward_signal);
    }
  if (do_start (ctx, &c, &err) < 0)
    {
      (void)do_delete (ctx, &c, true, NULL);
      rt_container_clear (&c);
      return rt_fail (ctx, &err);
    }
  if (detach)
    {
      rt_container_clear (&c);
      return 0;
    }
  int status = 0;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  code = exit_code_of_status (status);
  if (!keep)
    (void)do_delete (ctx, &c, true, NULL);
  rt_container_clear (&c);
  return code;
}

static int
verb_state (struct rt_ctx *ctx, struct flag_parser *p)
{
  int code = 0, id;
  while ((id = rt_next (ctx, p, &code)) != FLAG_END)
    if (id < 0)
      return code;
  if (rt_args (ctx, p, "state", 1, 1))
    return 1;
  struct rt_container c;
  if (rt_load_arg (ctx, p, &c))
    return 1;
  cleanup_json json_t *s = rt_state_json (&c);
  cleanup_free char *text = json_dumps (s, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
  printf ("%s\n", text);
  rt_container_clear (&c);
  return 0;
}

static const struct flag_def kill_flags[] = {
  { "all", 'a', F_ALL, NULL, "send the specified signal to all processes inside the container" },
  { NULL },
};

static int
verb_kill (struct rt_ctx *ctx, struct flag_parser *p)
{
  int code = 0, id;
  bool all = false;
  while ((id = rt_next (ctx, p, &code)) != FLAG_END)
    {
      if (id < 0)
        return code;
      if (id == F_ALL)
        all = p->on;
    }
  if (rt_args (ctx, p, "kill", 1, 2))
    return 1;
  int sig = p->nargs > 1 ? oci_parse_signal (p->args[1]) : SIGTERM;
  if (sig < 0)
    return rt_failf (ctx, "unknown signal \"%s\"", p->args[1]);
  cleanup_error isola_error_t err = NULL;
  struct rt_container c;
  if (rt_load_arg (ctx, p, &c))
    return 1;
  enum rt_status st = rt_status (&c);
  int ret = 0;
  if (st == RT_STOPPED)
    ret = rt_failf (ctx, "container not running");
  else if (rt_vm_container (&c))
    {
      /* --all too: the guest's processes are reached only through its agent, which signals the main one. */
      if (rt_vm_kill (ctx, &c, sig, &err) < 0)
        ret = rt_fail (ctx, &err);
    }
  else if (all)
    kill_all (&c, sig);
  else if (kill (rt_pid (&c), sig) < 0)
    {
      isola_error_make (&err, errno, "kill container %s", c.id);
      ret = rt_fail (ctx, &err);
    }
  rt_container_clear (&c);
  return ret;
}

static const struct flag_def delete_flags[] = {
  { "force", 'f', F_FORCE, NULL, "Forcibly deletes the container if it is still running (uses SIGKILL)" },
  { NULL },
};

/* The cgroup of a directory create left without a state (killed before it saved one): its config.json's. */
static char *
leftover_cgroup (const struct rt_ctx *ctx, const char *dir, const char *id)
{
  cleanup_free char *path = xasprintf ("%s/config.json", dir);
  cleanup_json json_t *config = json_load_file (path, 0, NULL);
  const char *cgroups_path = json_string_value (json_object_get (json_object_get (config, "linux"), "cgroupsPath"));
  char *name = NULL;
  if (rt_cgroup_path (id, cgroups_path, ctx->systemd_cgroup, &name, NULL) < 0)
    name = rt_cgroup_name (id);
  return name;
}

static int
verb_delete (struct rt_ctx *ctx, struct flag_parser *p)
{
  int code = 0, id;
  bool force = false;
  while ((id = rt_next (ctx, p, &code)) != FLAG_END)
    {
      if (id < 0)
        return code;
      if (id == F_FORCE)
        force = p->on;
    }
  if (rt_args (ctx, p, "delete", 1, 1))
    return 1;
  cleanup_error isola_error_t err = NULL;
  struct rt_container c;
  if (rt_load (ctx->root, p->args[0], &c, &err) < 0)
    {
      /* runc: deleting what does not exist is fine with --force; a directory without state is removed. */
      if (err->status == ENOENT && rt_id_valid (p->args[0]))
        {
          cleanup_free char *dir = xasprintf ("%s/%s", ctx->root, p->args[0]);
          bool leftover = path_exists (dir);
          if (leftover)
            {
              cleanup_free char *name = leftover_cgroup (ctx, dir, p->args[0]);
              remove_container (dir, name);
            }
          if (force || leftover)
            return 0;
        }
      return rt_fail (ctx, &err);
    }
  int ret = do_delete (ctx, &c, force, &err);
  rt_container_clear (&c);
  return ret < 0 ? rt_fail (ctx, &err) : 0;
}

static const struct flag_def list_flags[] = {
  { "format", 'f', F_FORMAT, "string", "select one of: table or json (default: \"table\")" },
  { "quiet", 'q', F_QUIET, NULL, "display only container IDs" },
  { NULL },
};

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

static int
verb_list (struct rt_ctx *ctx, struct flag_parser *p)
{
  int code = 0, id;
  bool quiet = false, json = false;
  while ((id = rt_next (ctx, p, &code)) != FLAG_END)
    {
      if (id < 0)
        return code;
      if (id == F_QUIET)
        quiet = p->on;
      else if (id == F_FORMAT)
        {
          if (strcmp (p->value, "json") != 0 && strcmp (p->value, "table") != 0)
            return rt_failf (ctx, "invalid format option");
          json = strcmp (p->value, "json") == 0;
        }
    }
  cleanup_strv char **ids = NULL;
  cleanup_dir DIR *d = opendir (ctx->root);
  struct dirent *e;
  while (d && (e = readdir (d)))
    if (e->d_name[0] != '.' && rt_id_valid (e->d_name))
      strv_push (&ids, e->d_name);
  size_t n = strv_len (ids);
  if (n)
    qsort (ids, n, sizeof (char *), compare_names);
  cleanup_json json_t *all = json_array ();
  if (!json && !quiet)
    printf ("%-12s %-10s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
  for (size_t i = 0; i < n; i++)
    {
      struct rt_container c;
      if (rt_load (ctx->root, ids[i], &c, NULL) < 0)
        continue;
      cleanup_json json_t *s = rt_state_json (&c);
      if (json)
        json_array_append (all, s);
      else if (quiet)
        printf ("%s\n", c.id);
      else
        printf ("%-12s %-10lld %-10s %-40s %-30s %s\n", c.id, json_integer_value (json_object_get (s, "pid")),
                json_string_value (json_object_get (s, "status")), json_string_value (json_object_get (s, "bundle")),
                json_string_value (json_object_get (s, "created")), "root");
      rt_container_clear (&c);
    }
  if (json)
    {
      cleanup_free char *text = json_dumps (all, JSON_COMPACT | JSON_PRESERVE_ORDER);
      printf ("%s\n", n ? text : "null");
    }
  return 0;
}

const struct rt_verb rt_verb_create
    = { "create", "[command options] <container-id>", "create a container", create_flags, verb_create };
const struct rt_verb rt_verb_start = { "start", "<container-id>",
                                       "executes the user defined process in a created "
                                       "container",
                                       NULL, verb_start };
const struct rt_verb rt_verb_run
    = { "run", "[command options] <container-id>", "create and run a container", run_flags, verb_run };
const struct rt_verb rt_verb_state = { "state", "<container-id>", "output the state of a container", NULL, verb_state };
const struct rt_verb rt_verb_kill = { "kill", "[command options] <container-id> [signal]",
                                      "kill sends the specified signal (default: SIGTERM) to the container's init "
                                      "process",
                                      kill_flags, verb_kill };
const struct rt_verb rt_verb_delete = { "delete", "[command options] <container-id>",
                                        "delete any resources held by the container often used with detached "
                                        "container",
                                        delete_flags, verb_delete };
const struct rt_verb rt_verb_list = { "list", "[command options]",
                                      "lists containers started by isola-runtime with "
                                      "the given root",
                                      list_flags, verb_list };

/* A command joining a running process container (see nsexec.h).  Three processes take part:

     caller   prepares everything that needs the host's view (the namespace files of the container's first
              process, its cgroup.procs files, its configuration) and forks the helper; reads the report pipe,
              then waits for the helper
     helper   enters the container's namespaces except the cgroup one, forks the command and waits for it (exits at
              once with --detach); its exit status is the command's, mapped as Docker maps it
     command  joins the container's cgroups, then its cgroup namespace, sets itself up as spawn.c does for the first
              process, and execs

   Only the caller returns; the helper and the command either exec or _exit, so what they allocate is never
   freed. */
#define _GNU_SOURCE
#include "sandbox/nsexec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/env.h"
#include "base/util.h"
#include "container/nsmode.h"
#include "container/runspec.h"
#include "sandbox/caps.h"
#include "sandbox/cgroup.h"
#include "sandbox/seccomp_program.h"
#include "sandbox/spawn.h"

/* Docker's exit codes for an exec that never ran its command: the engine's failure (a container that is not
   running), a command that cannot run or be set up, one that does not exist. */
#define EXIT_ENGINE_FAILED 1
#define EXIT_CANNOT_RUN    126
#define EXIT_NOT_FOUND     127

/* --- what the caller prepares --------------------------------------------------------------------------------- */

/* In the order they are joined: the mount namespace late, since the namespace files are already open and nothing
   after it needs the host's file system; a user namespace (isola-runtime's uidMappings) after the others, which the
   host's root may join from its own; the cgroup namespace by the command, after it has joined the cgroups. */
enum
{
  NS_IPC,
  NS_UTS,
  NS_NET,
  NS_PID,
  NS_MNT,
  NS_USER,
  NS_CGROUP,
  NS_COUNT,
};

static const struct
{
  const char *name;
  int type;
} namespaces[NS_COUNT] = {
  [NS_IPC] = { "ipc", CLONE_NEWIPC },          [NS_UTS] = { "uts", CLONE_NEWUTS },
  [NS_NET] = { "net", CLONE_NEWNET },          [NS_PID] = { "pid", CLONE_NEWPID },
  [NS_MNT] = { "mnt", CLONE_NEWNS },           [NS_USER] = { "user", CLONE_NEWUSER },
  [NS_CGROUP] = { "cgroup", CLONE_NEWCGROUP },
};

struct exec_plan
{
  int ns_fds[NS_COUNT]; /* -1: the container shares ours, nothing to join */
  int *procs_fds;       /* the container's cgroup.procs files */
  size_t n_procs;
  bool detach;
  char **env, **group_add;
  struct runspec_rlimits rlimits;
  struct seccomp_program *seccomp;
  struct spawn_spec spec; /* user, cwd, caps, limits and stdio, for spawn_join_setup */
  int started_fd;         /* gets one byte once the command has started; -1 for none */
  int pid_fd;             /* detached: gets the command's pid (a pid_t) from the helper; -1 for none */
};

static void
plan_init (struct exec_plan *p)
{
  memset (p, 0, sizeof (*p));
  for (int i = 0; i < NS_COUNT; i++)
    p->ns_fds[i] = -1;
  p->started_fd = -1;
  p->pid_fd = -1;
}

static void
plan_clear (struct exec_plan *p)
{
  for (int i = 0; i < NS_COUNT; i++)
    if (p->ns_fds[i] >= 0)
      (void)close (p->ns_fds[i]);
  for (size_t i = 0; i < p->n_procs; i++)
    (void)close (p->procs_fds[i]);
  free (p->procs_fds);
  strv_free (p->env);
  strv_free (p->group_add);
  runspec_rlimits_clear (&p->rlimits);
  seccomp_program_free (p->seccomp);
  p->seccomp = NULL;
}

static int
not_running (const struct container *c, isola_error_t *err)
{
  return isola_error_fail (err, ESRCH, "container %s is not running", c->id);
}

static bool
same_file (int a, int b)
{
  struct stat sa, sb;
  return fstat (a, &sa) == 0 && fstat (b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Opens /proc/PID/ns/NAME; *fd stays -1 when it is the namespace we are in already (host networking). */
static int
open_namespace (pid_t pid, int ns, int *fd)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/ns/%s", (int)pid, namespaces[ns].name);
  cleanup_close int theirs = open (path, O_RDONLY | O_CLOEXEC);
  if (theirs < 0)
    return -errno;
  snprintf (path, sizeof path, "/proc/self/ns/%s", namespaces[ns].name);
  cleanup_close int ours = open (path, O_RDONLY | O_CLOEXEC);
  if (ours < 0 || !same_file (ours, theirs))
    *fd = take_fd (&theirs);
  return 0;
}

static bool
process_exited (int pidfd)
{
  struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
  return poll (&pfd, 1, 0) > 0;
}

/* The namespaces of a container's first process.  A pidfd taken first proves the files came from that process and
   not from a later one that reused its PID; a process in our own PID namespace is never a container's, unless the
   container shares the host's (--pid host).  -ESRCH when it is not running. */
static int
open_namespaces_of (pid_t pid, bool host_pid, struct exec_plan *p, const char **failed)
{
  cleanup_close int pidfd = pid > 0 ? (int)syscall (SYS_pidfd_open, pid, 0) : -1;
  if (pidfd < 0)
    return -ESRCH;
  for (int i = 0; i < NS_COUNT; i++)
    {
      int ret = open_namespace (pid, i, &p->ns_fds[i]);
      /* A kernel without user namespaces (the VM guest's) has no ns/user: everyone is in the one there is. */
      if (i == NS_USER && ret == -ENOENT && access ("/proc/self/ns/user", F_OK) < 0)
        continue;
      if (ret == -ENOENT || ret == -ESRCH)
        return -ESRCH;
      if (ret < 0)
        {
          *failed = namespaces[i].name;
          return ret;
        }
    }
  if ((p->ns_fds[NS_PID] < 0 && !host_pid) || process_exited (pidfd))
    return -ESRCH;
  return 0;
}

static int
open_namespaces (const struct container *c, struct exec_plan *p, isola_error_t *err)
{
  const char *failed = "";
  const char *pid_mode = json_string_value (json_object_get (container_host_config (c), "PidMode"));
  bool host_pid = pid_mode && strcmp (pid_mode, "host") == 0;
  int ret = open_namespaces_of (container_pid (c), host_pid, p, &failed);
  if (ret == -ESRCH)
    return not_running (c, err);
  if (ret < 0)
    return isola_error_make (err, -ret, "open the %s namespace of container %.12s", failed, c->id);
  return 0;
}

static int
open_procs_files (char *const *paths, struct exec_plan *p, isola_error_t *err)
{
  p->procs_fds = xcalloc (strv_len (paths) + 1, sizeof (int));
  for (; paths && paths[p->n_procs]; p->n_procs++)
    {
      int fd = open (paths[p->n_procs], O_WRONLY | O_CLOEXEC);
      if (fd < 0)
        return isola_error_make (err, errno, "open `%s`", paths[p->n_procs]);
      p->procs_fds[p->n_procs] = fd;
    }
  return 0;
}

/* The cgroups cgroup_create made for the container, opened now: the command writes itself into them after it has
   left the host's mount namespace. */
static int
open_cgroup_procs (const struct container *c, struct exec_plan *p, isola_error_t *err)
{
  struct cgroup_fs fs = { 0 };
  cleanup_strv char **paths = NULL;
  int ret = cgroup_fs_detect ("/sys/fs/cgroup", &fs, err);
  if (ret == 0 && cgroup_procs_paths (&fs, c->id, &paths) < 0)
    ret = not_running (c, err);
  cgroup_fs_clear (&fs);
  return ret < 0 ? ret : open_procs_files (paths, p, err);
}

int
nsexec_caps (json_t *host, bool privileged, uint64_t *out, isola_error_t *err)
{
  if (!privileged)
    return caps_for_host_config (host, out, err);
  json_t *all = json_pack ("{s:b}", "Privileged", 1);
  int ret = caps_for_host_config (all, out, err);
  json_decref (all);
  return ret;
}

char **
nsexec_env (const struct container *c, const struct exec_request *req)
{
  cleanup_strv char **base = container_env_for (c, req->io.tty);
  return env_merge (base, req->env);
}

static const char *
non_empty (const char *s)
{
  return s && s[0] ? s : NULL;
}

/* Without --detach, the command uses the caller's stdio (stdin only with -i), or with a terminal a new one of the
   container's; detached, it has /dev/null. */
static void
plan_stdio (const struct exec_request *req, struct spawn_spec *sp)
{
  sp->stdin_fd = sp->stdout_fd = sp->stderr_fd = -1;
  if (req->detach)
    return;
  sp->tty = req->io.tty;
  sp->console_socket = req->io.console_socket;
  sp->tty_rows = req->io.rows, sp->tty_cols = req->io.cols;
  sp->stdin_fd = req->interactive ? req->io.stdin_fd : -1;
  sp->stdout_fd = req->io.stdout_fd, sp->stderr_fd = req->io.stderr_fd;
}

/* The process the container's first process would be, with exec's overrides. */
static int
plan_process (const struct container *c, const struct exec_request *req, struct exec_plan *p, isola_error_t *err)
{
  json_t *host = container_host_config (c);
  uint64_t container_caps = 0, caps = 0;
  int ret = caps_for_host_config (host, &container_caps, err);
  if (ret == 0)
    ret = nsexec_caps (host, req->privileged, &caps, err);
  if (ret == 0)
    ret = runspec_rlimits_parse (host, &p->rlimits, err);
  /* The container's filter, also with --privileged, as in Docker: it depends on the container's capabilities. */
  if (ret == 0)
    {
      /* ROOT/containers/ID → ROOT */
      cleanup_free char *cache = xasprintf ("%s/../../%s", c->dir, STORE_SECCOMP_CACHE);
      ret = seccomp_program_lookup (host, container_caps, cache, &p->seccomp, err);
    }
  if (ret < 0)
    return ret;
  p->detach = req->detach;
  p->env = nsexec_env (c, req);

  struct spawn_spec *sp = &p->spec;
  sp->argv = req->argv;
  sp->env = p->env;
  sp->user = non_empty (req->user) ? req->user : container_user (c);
  sp->cwd = non_empty (req->cwd) ? req->cwd : container_working_dir (c);
  sp->cap_keep = caps;
  sp->no_new_privileges = runspec_no_new_privileges (host);
  sp->rlimits = p->rlimits.items, sp->n_rlimits = p->rlimits.n;
  sp->seccomp = p->seccomp;
  p->group_add = nsmode_group_add (host);
  sp->group_add = p->group_add;
  plan_stdio (req, sp);
  return 0;
}

static int
plan_build (const struct container *c, const struct exec_request *req, struct exec_plan *p, isola_error_t *err)
{
  if (req->argv == NULL || req->argv[0] == NULL)
    return isola_error_fail (err, EINVAL, "no command specified");
  if (!container_is_running (c))
    return not_running (c, err);
  int ret = open_namespaces (c, p, err);
  if (ret == 0)
    ret = open_cgroup_procs (c, p, err);
  if (ret == 0)
    ret = plan_process (c, req, p, err);
  return ret;
}

/* --- the report pipe: why the command did not start ----------------------------------------------------------- */

enum exec_failure
{
  EXEC_SETUP_FAILED = 1, /* joining the container or becoming its user failed */
  EXEC_COMMAND_FAILED,   /* the command could not be found or run */
};

/* One record of exactly PIPE_BUF bytes: a single write, which the pipe keeps whole. */
struct exec_report
{
  int32_t kind;
  int32_t status; /* errno */
  char msg[PIPE_BUF - 2 * sizeof (int32_t)];
};

static int
failure_exit_code (int kind, int status)
{
  return kind == EXEC_COMMAND_FAILED && status == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
}

static __attribute__ ((noreturn)) void
report_failure (int fd, enum exec_failure kind, int ret, isola_error_t *err)
{
  struct exec_report r = { .kind = kind, .status = err && *err ? (*err)->status : -ret };
  snprintf (r.msg, sizeof r.msg, "%s", err && *err && (*err)->msg ? (*err)->msg : "exec setup failed");
  (void)write_all (fd, &r, sizeof r);
  _exit (failure_exit_code (kind, r.status));
}

/* Reads until the pipe closes: at the command's execve, or when the helper and the command are gone.  True when
   a failure was reported. */
static bool
read_report (int fd, struct exec_report *r)
{
  size_t got = 0;
  while (got < sizeof (*r))
    {
      ssize_t n = read (fd, (char *)r + got, sizeof (*r) - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      got += (size_t)n;
    }
  if (got < sizeof (*r))
    return false;
  r->msg[sizeof (r->msg) - 1] = '\0';
  if (r->status <= 0)
    r->status = EIO;
  return true;
}

/* --- the command ---------------------------------------------------------------------------------------------- */

/* Writing "0" moves the writer.  Joining comes before entering the cgroup namespace: from inside it, cgroups
   outside its root (the ones we come from) cannot be left. */
static int
join_cgroups (const struct exec_plan *p, isola_error_t *err)
{
  for (size_t i = 0; i < p->n_procs; i++)
    if (write_all (p->procs_fds[i], "0", 1) < 0)
      return isola_error_make (err, errno, "join the container's cgroups");
  if (p->ns_fds[NS_CGROUP] >= 0 && setns (p->ns_fds[NS_CGROUP], CLONE_NEWCGROUP) < 0)
    return isola_error_make (err, errno, "join the container's cgroup namespace");
  return 0;
}

/* The command dies with the helper, as the helper dies with the caller.  getppid cannot tell whether the helper
   died before the signal was armed (it lives outside our PID namespace), its pidfd can. */
static void
die_with_helper (int helper_pidfd)
{
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || (helper_pidfd >= 0 && process_exited (helper_pidfd)))
    _exit (128 + SIGKILL);
}

static int
command_setup (const struct exec_plan *p, char ***env, isola_error_t *err)
{
  int ret = join_cgroups (p, err);
  /* spawn_join_setup makes it a session leader, as every container process is: even attached, a `kill 0` of the
     command must not reach us, and detached it must not get the caller's terminal's hangup. */
  if (ret == 0)
    ret = spawn_join_setup (&p->spec, env, err);
  return ret;
}

static __attribute__ ((noreturn)) void
command_main (const struct exec_plan *p, int report_fd, int helper_pidfd)
{
  isola_error_t err = NULL;
  char **env = NULL;
  /* Until it execs, this process holds the host's namespace files and all capabilities: nothing in the container
     may ptrace it or read its memory (runc's CVE-2016-9962). */
  (void)prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* Nothing of the caller's (its own caller's fds) may reach the command. */
  if (close_range (3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    report_failure (report_fd, EXEC_SETUP_FAILED, isola_error_make (&err, errno, "close_range"), &err);
  int ret = command_setup (p, &env, &err);
  if (ret < 0)
    report_failure (report_fd, EXEC_SETUP_FAILED, ret, &err);
  if (!p->detach)
    die_with_helper (helper_pidfd);
  umask (022);
  bool setup_failed = false;
  ret = spawn_exec_command (&p->spec, env, &setup_failed, &err);
  report_failure (report_fd, setup_failed ? EXEC_SETUP_FAILED : EXEC_COMMAND_FAILED, ret, &err);
}

/* --- the helper ----------------------------------------------------------------------------------------------- */

static int
enter_namespaces (const struct exec_plan *p, isola_error_t *err)
{
  for (int i = 0; i < NS_COUNT; i++)
    if (i != NS_CGROUP && p->ns_fds[i] >= 0 && setns (p->ns_fds[i], namespaces[i].type) < 0)
      return isola_error_make (err, errno, "join the container's %s namespace", namespaces[i].name);
  /* The host's root is no one there: become the namespace's root, as the container's first process did. */
  if (p->ns_fds[NS_USER] >= 0 && (setgroups (0, NULL) < 0 || setresgid (0, 0, 0) < 0 || setresuid (0, 0, 0) < 0))
    return isola_error_make (err, errno, "become root in the container's user namespace");
  return 0;
}

/* What the helper passes on to the command, which only it knows (it forked it, in the container's PID namespace):
   the signals a client forwards (the attach client's list), so that a signal for the exec reaches its command. */
static const int passed_on[] = { SIGHUP,  SIGINT,  SIGQUIT, SIGUSR1,   SIGUSR2, SIGALRM, SIGTERM, SIGSTKFLT, SIGCONT,
                                 SIGTSTP, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO,   SIGPWR,  SIGWINCH };

/* Those, and SIGCHLD to learn of the command's end in the same wait. */
static void
passed_signals (sigset_t *set)
{
  sigemptyset (set);
  sigaddset (set, SIGCHLD);
  for (size_t i = 0; i < ARRAY_SIZE (passed_on); i++)
    sigaddset (set, passed_on[i]);
}

/* The command's exit code, as Docker maps its status; the signals of set other than SIGCHLD go on to it. */
static int
wait_passing_signals (pid_t pid, const sigset_t *set)
{
  for (;;)
    {
      int status = 0;
      pid_t r = waitpid (pid, &status, WNOHANG);
      if (r == pid)
        return exit_code_of_status (status);
      if (r < 0 && errno != EINTR)
        return EXIT_CANNOT_RUN;
      siginfo_t si;
      if (sigwaitinfo (set, &si) > 0 && si.si_signo != SIGCHLD)
        (void)kill (pid, si.si_signo);
    }
}

static __attribute__ ((noreturn)) void
helper_main (const struct exec_plan *p, int report_fd, pid_t caller)
{
  isola_error_t err = NULL;
  spawn_reset_signals ();
  if (!p->detach && (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid () != caller))
    _exit (128 + SIGKILL);
  /* In the container's user namespace the limits could not be raised (spawn.h): the command inherits them. */
  int ret = p->ns_fds[NS_USER] >= 0 ? spawn_set_rlimits (&p->spec, 0, &err) : 0;
  if (ret == 0)
    ret = enter_namespaces (p, &err);
  if (ret < 0)
    report_failure (report_fd, EXEC_SETUP_FAILED, ret, &err);
  int self_pidfd = (int)syscall (SYS_pidfd_open, getpid (), 0);
  /* Blocked from before the fork, so that none sent to us meanwhile is lost; the command unblocks them. */
  sigset_t passed, old;
  passed_signals (&passed);
  (void)sigprocmask (SIG_BLOCK, &passed, &old);
  pid_t pid = fork ();
  if (pid < 0)
    report_failure (report_fd, EXEC_SETUP_FAILED, isola_error_make (&err, errno, "fork in the container"), &err);
  if (pid == 0)
    {
      (void)sigprocmask (SIG_SETMASK, &old, NULL);
      command_main (p, report_fd, self_pidfd);
    }
  /* Nothing of the caller's stays open here: an exec's stdin pipe, say, would never end for the command. */
  if (p->detach && p->pid_fd >= 0)
    (void)write_all (p->pid_fd, &pid, sizeof pid);
  (void)close_range (3, ~0U, 0);
  if (p->detach)
    _exit (0);
  _exit (wait_passing_signals (pid, &passed));
}

/* --- the caller ----------------------------------------------------------------------------------------------- */

/* Forks the helper and returns once the command has exec'd (*helper_out: the helper, whose exit status will be
   the command's exit code) or failed (the error, *exit_code Docker's, the helper reaped). */
static int
start_plan (const struct exec_plan *p, pid_t *helper_out, int *exit_code, isola_error_t *err)
{
  int fds[2];
  if (pipe2 (fds, O_CLOEXEC) < 0)
    return isola_error_make (err, errno, "pipe");
  cleanup_close int report_r = fds[0];
  cleanup_close int report_w = fds[1];
  pid_t caller = getpid ();
  pid_t helper = fork ();
  if (helper < 0)
    return isola_error_make (err, errno, "fork");
  if (helper == 0)
    {
      (void)close (take_fd (&report_r));
      helper_main (p, take_fd (&report_w), caller);
    }
  (void)close (take_fd (&report_w));
  struct exec_report r;
  if (read_report (report_r, &r))
    {
      (void)waitpid_retry (helper, NULL);
      *exit_code = failure_exit_code (r.kind, r.status);
      return isola_error_fail (err, r.status, "%s", r.msg);
    }
  if (p->started_fd >= 0)
    (void)write_all (p->started_fd, "S", 1);
  *helper_out = helper;
  return 0;
}

static int
run_plan (const struct exec_plan *p, int *exit_code, isola_error_t *err)
{
  pid_t helper = 0;
  int ret = start_plan (p, &helper, exit_code, err);
  if (ret < 0)
    return ret;
  int status = 0;
  if (waitpid_retry (helper, &status) < 0)
    return isola_error_make (err, errno, "wait for the exec helper");
  *exit_code = p->detach ? 0 : exit_code_of_status (status);
  return 0;
}

int
nsexec_run (struct container *c, const struct exec_request *req, int *exit_code, isola_error_t *err)
{
  struct exec_plan p;
  plan_init (&p);
  *exit_code = EXIT_ENGINE_FAILED;
  int ret = plan_build (c, req, &p, err);
  if (ret == 0)
    ret = run_plan (&p, exit_code, err);
  plan_clear (&p);
  return ret;
}

int
nsexec_start (struct container *c, const struct exec_request *req, pid_t *helper_out, int *exit_code,
              isola_error_t *err)
{
  struct exec_plan p;
  plan_init (&p);
  *exit_code = EXIT_ENGINE_FAILED;
  int ret = plan_build (c, req, &p, err);
  if (ret == 0)
    ret = start_plan (&p, helper_out, exit_code, err);
  plan_clear (&p);
  return ret;
}

/* The namespaces of the process pid and the cgroup.procs files a process of a container without a record (the OCI
   runtime's) joins. */
static int
plan_join (pid_t pid, char *const *cgroup_procs, struct exec_plan *p, isola_error_t *err)
{
  const char *failed = "";
  int ret = open_namespaces_of (pid, false, p, &failed);
  if (ret == -ESRCH)
    return isola_error_fail (err, ESRCH, "the container is not running");
  if (ret < 0)
    return isola_error_make (err, -ret, "open the container's %s namespace", failed);
  return open_procs_files (cgroup_procs, p, err);
}

int
nsexec_run_in (pid_t pid, char *const *cgroup_procs, const struct spawn_spec *spec, bool detach, int started_fd,
               int *exit_code, isola_error_t *err)
{
  struct exec_plan p;
  plan_init (&p);
  *exit_code = EXIT_ENGINE_FAILED;
  int ret = plan_join (pid, cgroup_procs, &p, err);
  if (ret == 0)
    {
      p.spec = *spec;
      p.detach = detach;
      p.started_fd = started_fd;
      ret = run_plan (&p, exit_code, err);
    }
  plan_clear (&p);
  return ret;
}

int
nsexec_start_in (pid_t pid, char *const *cgroup_procs, const struct spawn_spec *spec, pid_t *command_out,
                 int *exit_code, isola_error_t *err)
{
  int fds[2];
  if (pipe2 (fds, O_CLOEXEC) < 0)
    return isola_error_make (err, errno, "pipe");
  cleanup_close int pid_r = fds[0];
  struct exec_plan p;
  plan_init (&p);
  p.pid_fd = fds[1];
  *exit_code = EXIT_ENGINE_FAILED;
  int ret = plan_join (pid, cgroup_procs, &p, err);
  if (ret == 0)
    {
      p.spec = *spec;
      p.detach = true;
      ret = run_plan (&p, exit_code, err);
    }
  (void)close (p.pid_fd);
  plan_clear (&p);
  if (ret == 0 && read (pid_r, command_out, sizeof *command_out) != (ssize_t)sizeof *command_out)
    ret = isola_error_fail (err, EIO, "the exec helper did not say which process it started");
  return ret;
}

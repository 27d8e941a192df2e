/* The container's first process: namespaces, the root file system and what is mounted in it, user, capabilities,
   limits, and the errors Docker reports when the command cannot run.  Runs a static busybox in a throwaway store. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "sandbox/caps.h"
#include "sandbox/spawn.h"
#include "store/store.h"
#include "tap.h"

static char root[] = "/tmp/isola-unit-spawn-XXXXXX";
static struct isola_store *store;
static digest_hex_t chain;
static int n_containers;

static const char *const applets[] = {
  "sh", "cat", "id", "hostname", "ls", "echo", "grep", "touch", "pwd", "stat", "wc", "sleep", "true",
};

static void
write_text (const char *path, const char *text, mode_t mode)
{
  (void)write_file_atomic (path, text, strlen (text), mode, NULL);
}

/* A one-layer image: static busybox with relative applet links, users root and nobody, and a dangling
   /etc/resolv.conf symlink and an absolute symlink that points at the host's path of a directory. */
static int
make_image (void)
{
  memset (chain, 'a', 64), chain[64] = '\0';
  cleanup_free char *fs = snapshot_fs (store, chain);
  cleanup_free char *bin = xasprintf ("%s/bin", fs), *etc = xasprintf ("%s/etc", fs);
  if (mkdir_p (bin, 0755, NULL) < 0 || mkdir_p (etc, 0755, NULL) < 0)
    return -1;
  cleanup_free char *busybox = NULL;
  size_t len = 0;
  if (read_file_bounded ("/bin/busybox", 64 << 20, &busybox, &len, NULL) < 0)
    return -1;
  cleanup_free char *dst = xasprintf ("%s/busybox", bin);
  if (write_file_atomic (dst, busybox, len, 0755, NULL) < 0)
    return -1;
  for (size_t i = 0; i < ARRAY_SIZE (applets); i++)
    {
      cleanup_free char *link = xasprintf ("%s/%s", bin, applets[i]);
      if (symlink ("busybox", link) < 0)
        return -1;
    }
  cleanup_free char *passwd = xasprintf ("%s/passwd", etc), *group = xasprintf ("%s/group", etc);
  write_text (passwd, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n", 0644);
  write_text (group, "root:x:0:\nwheel:x:10:root\nnogroup:x:65534:\n", 0644);
  cleanup_free char *resolv = xasprintf ("%s/resolv.conf", etc);
  cleanup_free char *evil = xasprintf ("%s/evil", fs), *evil_target = xasprintf ("/../../../..%s/hostevil", root);
  cleanup_free char *toroot = xasprintf ("%s/toroot", fs);
  if (symlink ("/run/resolv.conf", resolv) < 0 || symlink (evil_target, evil) < 0 || symlink ("/", toroot) < 0)
    return -1;
  return 0;
}

struct container
{
  char *upper, *work, *rootfs;
};

static void
container_clear (struct container *c)
{
  free (c->upper), free (c->work), free (c->rootfs);
}

static struct spawn_spec
new_spec (struct container *c, char *const *argv)
{
  int n = ++n_containers;
  c->upper = xasprintf ("%s/c%d/upper", root, n);
  c->work = xasprintf ("%s/c%d/work", root, n);
  c->rootfs = xasprintf ("%s/c%d/rootfs", root, n);
  mkdir_p (c->upper, 0755, NULL), mkdir_p (c->work, 0755, NULL), mkdir_p (c->rootfs, 0755, NULL);
  static char *const env[] = { "PATH=/usr/bin:/bin", NULL };
  return (struct spawn_spec){
    .store = store,
    .chain_ids = &chain,
    .n_layers = 1,
    .upper = c->upper,
    .work = c->work,
    .rootfs = c->rootfs,
    .argv = argv,
    .env = env,
    .hostname = "isola-test",
    .cap_keep = caps_docker_default (),
    .stdin_fd = -1,
    .stdout_fd = -1,
    .stderr_fd = -1,
  };
}

/* Runs the container with stdout and stderr into a pipe; on success collects the output and the wait status. */
static int
run (struct spawn_spec *sp, char **out, int *status, isola_error_t *err)
{
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return -errno;
  sp->stdout_fd = sp->stderr_fd = p[1];
  pid_t pid = 0;
  int ret = spawn_container (sp, &pid, err);
  close (p[1]);
  *out = NULL;
  *status = -1;
  if (ret == 0)
    {
      (void)read_fd_bounded (p[0], 1 << 20, out, NULL, NULL);
      if (waitpid (pid, status, 0) != pid)
        *status = -1;
    }
  else if (waitpid (-1, NULL, WNOHANG) > 0)
    ret = -ECHILD; /* a failed spawn must have reaped its child */
  close (p[0]);
  return ret;
}

/* Runs a shell script in a fresh container built from sp's defaults. */
static char *
run_script (const char *script, void (*tweak) (struct spawn_spec *), int *status)
{
  struct container c = { 0 };
  char *argv[] = { "sh", "-c", (char *)script, NULL };
  struct spawn_spec sp = new_spec (&c, argv);
  if (tweak)
    tweak (&sp);
  char *out = NULL;
  cleanup_error isola_error_t err = NULL;
  int ret = run (&sp, &out, status, &err);
  if (ret < 0)
    printf ("# spawn failed: %s\n", err ? err->msg : strerror (-ret));
  container_clear (&c);
  return out;
}

static bool
has_line (const char *out, const char *line)
{
  if (out == NULL)
    return false;
  size_t n = strlen (line);
  for (const char *p = out; p && *p; p = strchr (p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp (p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
      return true;
  return false;
}

static bool
exited (int status, int code)
{
  return status >= 0 && WIFEXITED (status) && WEXITSTATUS (status) == code;
}

static char *hostname_file;

static void
with_hostname_file (struct spawn_spec *sp)
{
  sp->etc_hostname = hostname_file;
}

static void
test_basics (void)
{
  int status;
  cleanup_free char *out
      = run_script ("echo $$; hostname; echo uid=$(id -u); grep CapEff /proc/self/status; "
                    "grep CapInh /proc/self/status; ls /dev; cat /etc/hostname; stat -c %t:%T /dev/null; "
                    "echo HOME=$HOME; echo devpts=$(grep -c devpts /proc/mounts); echo groups=$(id -G)",
                    with_hostname_file, &status);
  CHECK (exited (status, 0), "the script exits 0 (status %d)", status);
  CHECK (out && strncmp (out, "1\n", 2) == 0, "the command is pid 1 of its namespace");
  CHECK (has_line (out, "isola-test"), "hostname is set");
  CHECK (has_line (out, "uid=0"), "root by default");
  char capeff[64];
  snprintf (capeff, sizeof (capeff), "CapEff:\t%016llx", (unsigned long long)caps_docker_default ());
  CHECK (has_line (out, capeff), "effective capabilities are Docker's default set (%s)", capeff);
  CHECK (has_line (out, "CapEff:\t00000000a80425fb"), "which is Docker's well-known a80425fb");
  CHECK (has_line (out, "CapInh:\t0000000000000000"), "inheritable set is empty");
  static const char *const devs[] = { "null",  "zero",   "full",   "random", "urandom", "tty", "fd",
                                      "stdin", "stdout", "stderr", "ptmx",   "pts",     "shm", "mqueue" };
  bool all = true;
  for (size_t i = 0; i < ARRAY_SIZE (devs); i++)
    if (!has_line (out, devs[i]))
      all = false, printf ("# /dev lacks %s\n", devs[i]);
  CHECK (all, "/dev has the devices, links and mounts Docker sets up");
  CHECK (!has_line (out, "core"), "and no core link, as runc makes none");
  CHECK (has_line (out, "from-host-file"), "/etc/hostname is the host file");
  CHECK (has_line (out, "1:3"), "/dev/null is the character device 1:3");
  CHECK (has_line (out, "HOME=/root"), "HOME comes from passwd");
  CHECK (has_line (out, "devpts=1"), "devpts is mounted");
  CHECK (has_line (out, "groups=0 10"), "groups: the primary one, then those listing root, as in Docker");
}

static void
as_nobody (struct spawn_spec *sp)
{
  sp->user = "nobody";
}

static void
as_numeric (struct spawn_spec *sp)
{
  sp->user = "1000:1000";
}

static void
test_users (void)
{
  int status;
  cleanup_free char *out
      = run_script ("echo uid=$(id -u) gid=$(id -g) groups=$(id -G); grep CapEff /proc/self/status; echo HOME=$HOME",
                    as_nobody, &status);
  CHECK (has_line (out, "uid=65534 gid=65534 groups=65534") && exited (status, 0), "user nobody runs as uid 65534");
  CHECK (has_line (out, "CapEff:\t0000000000000000"), "a non-root user has no effective capabilities");
  CHECK (has_line (out, "HOME=/nonexistent"), "and its passwd home");
  free (out);
  out = run_script ("id -u; id -g; id -G", as_numeric, &status);
  CHECK (out && strcmp (out, "1000\n1000\n1000\n") == 0, "numeric 1000:1000 needs no passwd entry");

  struct container c = { 0 };
  char *argv[] = { "id", NULL };
  struct spawn_spec sp = new_spec (&c, argv);
  sp.user = "nosuch";
  cleanup_error isola_error_t err = NULL;
  char *o = NULL;
  int ret = run (&sp, &o, &status, &err);
  CHECK (ret < 0 && ret != -ENOENT && err
             && strstr (err->msg, "unable to find user nosuch: no matching entries in passwd file"),
         "an unknown user name fails setup (%s)", err ? err->msg : "no error");
  free (o);
  container_clear (&c);
}

static int
runspec_argv (char *const *argv, isola_error_t *err)
{
  struct container c = { 0 };
  struct spawn_spec sp = new_spec (&c, argv);
  char *out = NULL;
  int status;
  int ret = run (&sp, &out, &status, err);
  free (out);
  container_clear (&c);
  return ret;
}

static void
test_exec_errors (void)
{
  cleanup_error isola_error_t e1 = NULL, e2 = NULL, e3 = NULL;
  char *a1[] = { "nosuch", NULL };
  int ret = runspec_argv (a1, &e1);
  CHECK (ret == -ENOENT && e1 && strcmp (e1->msg, "exec: \"nosuch\": executable file not found in $PATH") == 0,
         "a missing command is ENOENT (%s)", e1 ? e1->msg : "no error");
  char *a2[] = { "/etc/passwd", NULL };
  ret = runspec_argv (a2, &e2);
  CHECK (ret == -EACCES && e2 && strcmp (e2->msg, "exec: \"/etc/passwd\": permission denied") == 0,
         "a non-executable file is EACCES (%s)", e2 ? e2->msg : "no error");
  char *a3[] = { "/no/such/file", NULL };
  ret = runspec_argv (a3, &e3);
  CHECK (ret == -ENOENT && e3 && strstr (e3->msg, "no such file or directory"), "a missing path is ENOENT (%s)",
         e3 ? e3->msg : "no error");
}

/* Docker's exit codes for those errnos, which the monitor and the VM's agent report. */
static void
test_failure_exit_codes (void)
{
  CHECK (spawn_failure_exit_code (ENOENT) == 127, "ENOENT: 127");
  CHECK (spawn_failure_exit_code (EACCES) == 126 && spawn_failure_exit_code (ENOEXEC) == 126
             && spawn_failure_exit_code (EISDIR) == 126,
         "EACCES, ENOEXEC, EISDIR: 126");
  CHECK (spawn_failure_exit_code (EIO) == 125 && spawn_failure_exit_code (EPERM) == 125, "others: 125");
}

static void
read_only (struct spawn_spec *sp)
{
  sp->readonly_rootfs = true;
  sp->etc_hostname = hostname_file;
}

static void
test_readonly_rootfs (void)
{
  int status;
  cleanup_free char *out = run_script ("touch /x 2>/dev/null && echo root-writable || echo root-refused; "
                                       "touch /dev/shm/y && echo shm-ok; "
                                       "echo h 2>/dev/null > /etc/hostname && echo etc-writable || echo etc-refused",
                                       read_only, &status);
  CHECK (has_line (out, "root-refused"), "readonly_rootfs refuses writes to /");
  CHECK (has_line (out, "shm-ok"), "/dev/shm stays writable");
  CHECK (has_line (out, "etc-refused"), "/etc/hostname is read-only too, as in Docker");
}

static char *host_ro, *host_rw;
static struct spawn_mount test_mounts[3];

static void
with_mounts (struct spawn_spec *sp)
{
  test_mounts[0] = (struct spawn_mount){ .source = host_ro, .destination = "/data/ro", .readonly = true };
  test_mounts[1] = (struct spawn_mount){ .source = host_rw, .destination = "/evil" };
  test_mounts[2] = (struct spawn_mount){ .destination = "/scratch", .tmpfs_options = "size=1m,mode=1777" };
  sp->mounts = test_mounts;
  sp->n_mounts = 3;
}

static void
test_mounts_and_upper (void)
{
  cleanup_free char *f = xasprintf ("%s/f", host_ro);
  write_text (f, "hello from the host\n", 0644);
  int first = n_containers + 1;
  int status;
  cleanup_free char *out = run_script ("cat /data/ro/f; touch /data/ro/g 2>/dev/null && echo ro-writable || "
                                       "echo ro-refused; echo hi > /evil/new; "
                                       "echo scratch=$(grep -c ' /scratch tmpfs' /proc/mounts); echo data > /written",
                                       with_mounts, &status);
  CHECK (has_line (out, "hello from the host"), "a bind mount shows the host directory");
  CHECK (has_line (out, "ro-refused"), "a read-only bind mount refuses writes");
  CHECK (has_line (out, "scratch=1"), "a tmpfs mount is there");
  cleanup_free char *new_file = xasprintf ("%s/new", host_rw);
  CHECK (path_exists (new_file), "writes through a read-write bind mount reach the host");
  cleanup_free char *escaped = xasprintf ("%s/c%d/upper%s/hostevil", root, first, root);
  cleanup_free char *hostevil = xasprintf ("%s/hostevil", root);
  CHECK (path_exists (escaped) && !path_exists (hostevil),
         "a destination behind an absolute symlink stays inside the container");
  cleanup_free char *written = xasprintf ("%s/c%d/upper/written", root, first);
  CHECK (path_exists (written), "a file written in the container lands in the upper directory");
}

static void
test_exit_status (void)
{
  int status;
  cleanup_free char *out = run_script ("exit 7", NULL, &status);
  CHECK (exited (status, 7), "the exit status comes through waitpid (status %d)", status);
}

/* An fd the caller forgot to mark CLOEXEC must not reach the command: only 0-2 and ls's own directory fd. */
static void
test_no_inherited_fds (void)
{
  int leaky = open ("/dev/null", O_RDONLY);
  int status;
  cleanup_free char *out = run_script ("ls /proc/self/fd | wc -l", NULL, &status);
  CHECK (has_line (out, "4"), "the command inherits only stdio (%d fds listed)", out ? atoi (out) : -1);
  close (leaky);
}

static void
test_network (void)
{
  int status;
  cleanup_free char *out = run_script ("cat /sys/class/net/lo/flags; ls /sys/class/net", NULL, &status);
  CHECK (has_line (out, "0x9"), "loopback is up in the private network namespace");
  CHECK (out && strstr (out, "lo\n") && strchr (strstr (out, "lo\n") + 3, '\n') == NULL,
         "the private namespace has only lo");
}

static void
host_network (struct spawn_spec *sp)
{
  sp->host_network = true;
}

static void
test_host_network (void)
{
  int status;
  cleanup_free char *out = run_script ("ls /sys/class/net | wc -l", host_network, &status);
  cleanup_dir DIR *d = opendir ("/sys/class/net");
  int n = 0;
  for (struct dirent *e; d && (e = readdir (d));)
    n += e->d_name[0] != '.';
  char want[16];
  snprintf (want, sizeof (want), "%d", n);
  CHECK (has_line (out, want), "host networking shows the host's %d interfaces", n);
}

static void
test_masked_paths (void)
{
  int status;
  cleanup_free char *out = run_script ("cat /proc/timer_list 2>/dev/null | wc -c; ls /sys/firmware | wc -l; "
                                       "echo x 2>/dev/null > /proc/sys/kernel/domainname && echo sys-writable || "
                                       "echo sys-ro; cat /proc/sys/kernel/ostype",
                                       NULL, &status);
  CHECK (out && strncmp (out, "0\n0\n", 4) == 0, "/proc/timer_list and /sys/firmware are masked");
  CHECK (has_line (out, "sys-ro"), "/proc/sys is read-only");
  CHECK (has_line (out, "Linux"), "and still readable");
}

static struct spawn_rlimit test_rlimits[1];

static void
limits_and_cwd (struct spawn_spec *sp)
{
  test_rlimits[0] = (struct spawn_rlimit){ .resource = RLIMIT_NOFILE, .soft = 1000, .hard = 2000 };
  sp->rlimits = test_rlimits;
  sp->n_rlimits = 1;
  sp->no_new_privileges = true;
  sp->cwd = "/work/dir";
  sp->user = "nobody";
}

static void
test_limits_and_cwd (void)
{
  int status;
  cleanup_free char *out = run_script ("echo nofile=$(ulimit -n):$(ulimit -Hn); grep NoNewPrivs /proc/self/status; "
                                       "pwd; echo owner=$(stat -c %u /work/dir); cat; echo stdin-done",
                                       limits_and_cwd, &status);
  CHECK (has_line (out, "nofile=1000:2000"), "rlimits are applied");
  CHECK (has_line (out, "NoNewPrivs:\t1"), "no_new_privileges is set");
  CHECK (has_line (out, "/work/dir"), "the working directory is created and entered");
  CHECK (has_line (out, "owner=65534"), "and owned by the user, as in Docker");
  CHECK (has_line (out, "stdin-done") && exited (status, 0), "stdin -1 reads /dev/null");
}

static char *resolv_file;

static void
with_resolv (struct spawn_spec *sp)
{
  sp->etc_resolv = resolv_file;
}

static void
test_dangling_symlink_destination (void)
{
  int status;
  cleanup_free char *out = run_script ("cat /etc/resolv.conf", with_resolv, &status);
  CHECK (has_line (out, "nameserver 192.0.2.1"), "a bind over a dangling symlink creates its target");
}

static void
test_setup_failure (void)
{
  struct container c = { 0 };
  char *argv[] = { "true", NULL };
  struct spawn_spec sp = new_spec (&c, argv);
  struct spawn_mount m = { .source = "/nonexistent/isola-source", .destination = "/x" };
  sp.mounts = &m;
  sp.n_mounts = 1;
  cleanup_error isola_error_t err = NULL;
  char *out = NULL;
  int status;
  int ret = run (&sp, &out, &status, &err);
  CHECK (ret == -EIO && err && strstr (err->msg, "/nonexistent/isola-source"),
         "a setup failure names what failed and is not mistaken for a missing command (%s)",
         err ? err->msg : "no error");
  free (out);
  container_clear (&c);

  /* The child fails while we still place it in its cgroups, and our go then meets a closed channel: an error, not
     the SIGPIPE that killed this test once (under load, in CI).  Repeated, as it is a race. */
  int survived = 0;
  for (int i = 0; i < 20; i++)
    {
      sp = new_spec (&c, argv);
      sp.mounts = &m;
      sp.n_mounts = 1;
      cleanup_error isola_error_t again = NULL;
      survived += run (&sp, &out, &status, &again) == -EIO;
      free (out);
      container_clear (&c);
    }
  CHECK (survived == 20, "a child that fails before the go does not take the caller down (%d of 20)", survived);

  sp = new_spec (&c, argv);
  m = (struct spawn_mount){ .source = host_ro, .destination = "/toroot" };
  sp.mounts = &m;
  sp.n_mounts = 1;
  cleanup_error isola_error_t err2 = NULL;
  ret = run (&sp, &out, &status, &err2);
  CHECK (ret == -EINVAL && err2 && strstr (err2->msg, "resolves to the container's root"),
         "a destination that resolves to the root is refused (%s)", err2 ? err2->msg : "no error");
  free (out);
  container_clear (&c);
}

static int
count_host_mounts_under (const char *path)
{
  cleanup_free char *info = NULL;
  if (read_file_bounded ("/proc/self/mountinfo", 16 << 20, &info, NULL, NULL) < 0)
    return -1;
  int n = 0;
  for (const char *p = info; (p = strstr (p, path)) != NULL; p++)
    n++;
  return n;
}

int
main (void)
{
  test_failure_exit_codes ();
  if (geteuid () != 0)
    {
      printf ("ok %d # skip spawning containers needs root\n1..%d\n", tap_count + 1, tap_count + 1);
      return 0;
    }
  alarm (600); /* a hung container must not hang the test suite (minutes: the machine may be loaded) */
  if (mkdtemp (root) == NULL)
    return 1;
  CHECK (store_open (root, STORE_LOCK_EXCLUSIVE, &store, NULL) == 0, "store_open");
  CHECK (make_image () == 0, "a busybox snapshot");
  hostname_file = xasprintf ("%s/hostname", root);
  resolv_file = xasprintf ("%s/resolv.conf", root);
  host_ro = xasprintf ("%s/host-ro", root);
  host_rw = xasprintf ("%s/host-rw", root);
  write_text (hostname_file, "from-host-file\n", 0644);
  write_text (resolv_file, "nameserver 192.0.2.1\n", 0644);
  mkdir (host_ro, 0755), mkdir (host_rw, 0755);
  int mounts_before = count_host_mounts_under (root);

  if (store)
    {
      test_basics ();
      test_users ();
      test_exec_errors ();
      test_readonly_rootfs ();
      test_mounts_and_upper ();
      test_exit_status ();
      test_no_inherited_fds ();
      test_network ();
      test_host_network ();
      test_masked_paths ();
      test_limits_and_cwd ();
      test_dangling_symlink_destination ();
      test_setup_failure ();
    }

  CHECK (mounts_before == 0 && count_host_mounts_under (root) == 0, "the host sees none of the containers' mounts");
  free (hostname_file), free (resolv_file), free (host_ro), free (host_rw);
  store_close (store);
  CHECK (rm_rf (root, NULL) == 0, "temp store removed");
  return tap_done ();
}

/* VM isolation through isola-runtime (io.isola.isolation=vm): the container is an isola VM container of a store of
   the runtime's own (ROOT/.vm-store), started and reached through the library as `isola` does (container_start, the
   monitor, the vm driver), so templates, the tap mirrored into a network namespace, exec through the agent and the
   cleanup are the VM driver's.

   - The bundle's rootfs becomes an image of that store of its own: an erofs disk made from the directory
     (mkfs.erofs, as image/erofs.c makes an image's), with an empty config.  The guest writes to its ext4 disk over
     it (driver/vm_disk.h): the bundle directory is read at create and never written.
   - The process in --pid-file is the "waiter": a child of create that holds the container's network namespace (the
     spec's path, or a new one in which the caller's hooks set up the network, as dockerd's libnetwork-setkey does
     through /proc/PID/ns/net), waits at the exec fifo, starts the VM container on `start` as its attached client,
     relays its stdio (the caller's pipes, or the pseudo-terminal whose master went to --console-socket) and signals,
     and exits with the container's exit code, which is what the shim or conmon reaps.
   - kill, exec, pause, resume, update, events and delete go to the VM container through the library; exec's
     process is a relay like the waiter (with -d, a child of ours that the caller reaps). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/digest.h"
#include "base/json.h"
#include "base/subprocess.h"
#include "base/util.h"
#include "container/container.h"
#include "container/container_event.h"
#include "container/create.h"
#include "container/lifecycle.h"
#include "container/update.h"
#include "driver/driver.h"
#include "driver/vm_launch.h"
#include "image/erofs.h"
#include "image/image.h"
#include "image/ingest.h"
#include "image/remove.h"
#include "proto/attach.h"
#include "proto/attach_client.h"
#include "runtime.h"
#include "runtime/oci.h"
#include "runtime/state.h"
#include "sandbox/cgroup.h"
#include "sandbox/spawn.h"
#include "store/store.h"

#define VM_STORE_DIR ".vm-store"
#define START_ERR    "start.err"
#define STDIN_CHUNK  (32 * 1024)

char *
rt_vm_store_root (const char *root)
{
  return xasprintf ("%s/" VM_STORE_DIR, root);
}

bool
rt_vm_container (const struct rt_container *c)
{
  return json_is_object (json_object_get (c->state, "vm"));
}

static const char *
vm_field (const struct rt_container *c, const char *key)
{
  return json_string_value (json_object_get (json_object_get (c->state, "vm"), key));
}

/* --- the bundle's rootfs as an image ------------------------------------------------------------------------------ */

/* An image of the store whose root disk is the erofs of dir: a config naming the container (so each container has
   an image of its own, removed with it), no layers, and images/ID.erofs made from the directory as it is now. */
static int
image_from_dir (struct isola_store *s, const char *id, const char *dir, digest_hex_t image_id, isola_error_t *err)
{
  cleanup_free char *now = time_rfc3339_now ();
  cleanup_json json_t *config
      = json_pack ("{s:s, s:s, s:s, s:{}, s:{s:s, s:[]}, s:s}", "architecture", "amd64", "os", "linux", "created", now,
                   "config", "rootfs", "type", "layers", "diff_ids", "comment", "");
  cleanup_free char *comment = xasprintf ("isola-runtime %s: %s", id, dir);
  json_object_set_new (config, "comment", json_string (comment));
  cleanup_free char *text = json_dumps (config, JSON_COMPACT | JSON_SORT_KEYS);
  int ret = blob_put (s, text, strlen (text), image_id, err);
  if (ret < 0)
    return ret;
  cleanup_json json_t *manifest = json_pack ("{s:i, s:s, s:{s:s, s:s+, s:I}, s:[]}", "schemaVersion", 2, "mediaType",
                                             "application/vnd.oci.image.manifest.v1+json", "config", "mediaType",
                                             "application/vnd.oci.image.config.v1+json", "digest", "sha256:", image_id,
                                             "size", (json_int_t)strlen (text), "layers");
  cleanup_free char *manifest_text = json_dumps (manifest, JSON_COMPACT);
  digest_hex_t manifest_id;
  if ((ret = blob_put (s, manifest_text, strlen (manifest_text), manifest_id, err)) < 0)
    return ret;
  cleanup_free char *tmp = NULL;
  if ((ret = store_make_tmp (s, "rt-erofs", &tmp, err)) < 0)
    return ret;
  cleanup_free char *out = xasprintf ("%s/image.erofs", tmp);
  cleanup_free char *path = image_erofs_path (s, image_id);
  /* Uncompressed, as image/erofs.c: a guest without hardware acceleration pays for every decompressed byte. */
  char *argv[] = { "mkfs.erofs", "--quiet", "--preserve-mtime", out, (char *)dir, NULL };
  ret = subprocess_run (argv, NULL, NULL, err);
  struct stat st;
  if (ret == 0 && (stat (out, &st) < 0 || truncate (out, (off_t)image_erofs_disk_bytes ((uint64_t)st.st_size)) < 0))
    ret = isola_error_make (err, errno, "size `%s`", out);
  if (ret == 0 && rename (out, path) < 0)
    ret = isola_error_make (err, errno, "rename `%s` to `%s`", out, path);
  (void)rm_rf (tmp, NULL);
  if (ret < 0)
    return isola_error_wrap (err, ret, "make the VM's root disk from `%s`", dir);
  struct image_record rec = { .size = st.st_size, .created = (int64_t)time (NULL), .loaded_at = now };
  memcpy (rec.id, image_id, sizeof rec.id);
  memcpy (rec.manifest, manifest_id, sizeof rec.manifest);
  ret = image_record_write (s, &rec, err);
  if (ret < 0)
    (void)unlink (path);
  return ret;
}

static void
image_discard (const char *store_root, const char *image_id)
{
  cleanup_store struct isola_store *s = NULL;
  if (image_id == NULL || store_open (store_root, STORE_LOCK_COLLECT, &s, NULL) < 0)
    return;
  struct rmi_report rep = { 0 };
  (void)image_remove (s, image_id, true, &rep, NULL);
  rmi_report_clear (&rep);
  (void)store_gc (s, NULL, NULL);
}

/* --- stdio relay (the waiter and exec) ---------------------------------------------------------------------------- */

static const int relayed_signals[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH };

static int
relay_signalfd (void)
{
  sigset_t set;
  sigemptyset (&set);
  for (size_t i = 0; i < ARRAY_SIZE (relayed_signals); i++)
    sigaddset (&set, relayed_signals[i]);
  sigprocmask (SIG_BLOCK, &set, NULL);
  return signalfd (-1, &set, SFD_CLOEXEC);
}

static void
send_window_size (int fd, int tty)
{
  struct winsize ws;
  if (ioctl (tty, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0)
    return;
  uint8_t p[4] = { (uint8_t)(ws.ws_row >> 8), (uint8_t)ws.ws_row, (uint8_t)(ws.ws_col >> 8), (uint8_t)ws.ws_col };
  (void)attach_send (fd, ATTACH_RESIZE, p, 4);
}

/* Our stdin to the session, its output to our stdout/stderr, our signals to its process (a terminal's size as it
   changes), until its EXIT: the exit code, or 255 when the monitor went away without one. */
static int
relay (int fd, struct attach_decoder *dec, bool tty)
{
  int sigfd = relay_signalfd ();
  if (tty)
    send_window_size (fd, STDIN_FILENO);
  bool stdin_open = true, done = false;
  int code = 255;
  for (;;)
    {
      struct attach_frame f;
      int r;
      while (!done && (r = attach_decoder_next (dec, &f)) == 1)
        switch (f.type)
          {
          case ATTACH_STDOUT:
            (void)write_all (STDOUT_FILENO, f.payload, f.len);
            break;
          case ATTACH_STDERR:
            (void)write_all (STDERR_FILENO, f.payload, f.len);
            break;
          case ATTACH_EXIT:
            if (f.len == 4)
              code = (int)attach_get_u32 (f.payload);
            done = true;
            break;
          default:
            break;
          }
      if (done)
        break;
      struct pollfd fds[3] = { { .fd = fd, .events = POLLIN },
                               { .fd = sigfd, .events = POLLIN },
                               { .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN } };
      if (poll (fds, 3, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
        {
          ssize_t n = attach_decoder_read (dec, fd);
          if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            break;
        }
      if (fds[1].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          if (read (sigfd, &si, sizeof si) == sizeof si)
            {
              if (si.ssi_signo == SIGWINCH)
                {
                  if (tty)
                    send_window_size (fd, STDIN_FILENO);
                }
              else
                {
                  uint8_t p[4];
                  attach_put_u32 (p, si.ssi_signo);
                  (void)attach_send (fd, ATTACH_SIGNAL, p, 4);
                }
            }
        }
      if (fds[2].revents & (POLLIN | POLLHUP | POLLERR))
        {
          uint8_t buf[STDIN_CHUNK];
          ssize_t n = read (STDIN_FILENO, buf, sizeof buf);
          if (n > 0)
            (void)attach_send (fd, ATTACH_STDIN, buf, (uint32_t)n);
          else if (n == 0 || errno != EINTR)
            {
              stdin_open = false;
              /* A terminal's slave reads EIO once its master is closed: the input is over, not the session. */
              (void)attach_send (fd, ATTACH_CLOSE_STDIN, NULL, 0);
            }
        }
    }
  if (sigfd >= 0)
    close (sigfd);
  return code;
}

/* A pseudo-terminal whose master goes to the console socket and whose slave becomes our stdio and controlling
   terminal (its resizes reach us as SIGWINCH), raw: the guest's terminal does the echo and line discipline. */
static int
take_terminal (int console_fd, isola_error_t *err)
{
  cleanup_close int master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt (master) < 0 || unlockpt (master) < 0)
    return isola_error_make (err, errno, "open a pseudo-terminal");
  char *name = ptsname (master);
  cleanup_close int slave = name ? open (name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
  if (slave < 0)
    return isola_error_make (err, errno, "open the pseudo-terminal's slave");
  struct termios t;
  if (tcgetattr (slave, &t) == 0)
    {
      cfmakeraw (&t);
      (void)tcsetattr (slave, TCSANOW, &t);
    }
  /* Our controlling terminal when we can have one (a process group leader cannot): its resizes reach us then. */
  if (setsid () >= 0)
    (void)ioctl (slave, TIOCSCTTY, 0);
  if (dup2 (slave, 0) < 0 || dup2 (slave, 1) < 0 || dup2 (slave, 2) < 0)
    return isola_error_make (err, errno, "dup2");
  int r = fd_send (console_fd, master);
  if (r < 0)
    return isola_error_make (err, -r, "send the pseudo-terminal to the console socket");
  return 0;
}

/* --- create and the waiter ---------------------------------------------------------------------------------------- */

/* The runtime's process that stays (the waiter, an exec's relay) keeps stdio and keep[] only: a descriptor the caller
   gave the runtime for the call (a sync pipe, the shim's) must close when the runtime's call ends. */
static void
close_other_fds (const int *keep, size_t n)
{
  int max = 2;
  for (size_t i = 0; i < n; i++)
    if (keep[i] > max)
      max = keep[i];
  for (int fd = 3; fd <= max; fd++)
    {
      bool kept = false;
      for (size_t i = 0; i < n; i++)
        kept = kept || keep[i] == fd;
      if (!kept)
        (void)close (fd);
    }
  (void)close_range ((unsigned)max + 1, ~0U, 0);
}

/* Where the waiter reports a failed start, for `start` to say. */
static void
note_start_error (const char *dir, const char *msg)
{
  cleanup_free char *path = xasprintf ("%s/" START_ERR, dir);
  (void)write_file_replace (path, msg, strlen (msg), 0600, NULL);
}

char *
rt_vm_start_error (const struct rt_container *c)
{
  cleanup_free char *path = xasprintf ("%s/" START_ERR, c->dir);
  char *text = NULL;
  if (read_file_bounded (path, 4096, &text, NULL, NULL) < 0)
    return NULL;
  return text;
}

/* The guard: runc's container dies with its init, which a shim may SIGKILL, and a VM must not outlive the waiter,
   its init here.  A child of the waiter holds the read end of a pipe whose write end only the waiter has: its end of
   file is the waiter's exit, however it came.  A VM container still running then is killed through its monitor
   (SIGKILL to the guest's process, which ends the VM).  The waiter writes one byte once the VM runs: without it, the
   waiter died while the monitor was still starting the VM, which the guard waits out (the boot's own deadline
   bounds it) before it kills.  After a normal end the container has stopped already and the guard just exits. */
#define GUARD_START_WAIT_MS (10 * 60 * 1000)

static bool
guard_kill_if_running (const char *store_root, const char *cid, bool *gone)
{
  cleanup_store struct isola_store *s = NULL;
  cleanup_container struct container *c = NULL;
  *gone = store_open (store_root, STORE_LOCK_NONE, &s, NULL) < 0 || container_load (s, cid, &c, NULL) < 0;
  if (*gone || !container_is_running (c))
    return false;
  if (container_is_paused (c))
    (void)container_unpause (c, NULL);
  (void)container_kill (c, SIGKILL, NULL);
  return true;
}

static __attribute__ ((noreturn)) void
guard_main (const char *store_root, const char *cid, int watch_fd)
{
  /* Nothing of the waiter's: the caller's stdio pipes must close when the waiter's do. */
  close_other_fds (&watch_fd, 1);
  int null_fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; null_fd >= 0 && fd <= 2; fd++)
    (void)dup2 (null_fd, fd);
  char c;
  bool started = false;
  ssize_t n;
  while ((n = read (watch_fd, &c, 1)) != 0)
    if (n == 1)
      started = true;
    else if (errno != EINTR)
      break;
  bool gone = false;
  if (guard_kill_if_running (store_root, cid, &gone) || started || gone)
    _exit (0);
  for (long long deadline = monotonic_ms () + GUARD_START_WAIT_MS; monotonic_ms () < deadline;)
    {
      struct timespec nap = { 0, 100 * 1000 * 1000 };
      nanosleep (&nap, NULL);
      if (guard_kill_if_running (store_root, cid, &gone) || gone)
        break;
    }
  _exit (0);
}

/* The waiter once the exec fifo opens: start the VM container as its attached client, say so through the fifo, relay
   until it exits and exit with its code. */
static int
waiter_start (const char *root, const char *id, const char *dir, int fifo, bool tty)
{
  cleanup_error isola_error_t err = NULL;
  struct rt_container rc;
  if (rt_load (root, id, &rc, &err) < 0)
    {
      note_start_error (dir, err->msg);
      return 125;
    }
  cleanup_free char *store_root = rt_vm_store_root (root);
  cleanup_free char *cid = xstrdup (vm_field (&rc, "container") ? vm_field (&rc, "container") : "");
  rt_container_clear (&rc);
  cleanup_store struct isola_store *s = NULL;
  cleanup_container struct container *c = NULL;
  struct attach_decoder dec;
  attach_decoder_init (&dec);
  int fd = -1, code = 125;
  unsigned short size[2] = { 0, 0 };
  struct winsize ws;
  if (tty && ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
    size[0] = ws.ws_row, size[1] = ws.ws_col;
  int watch[2] = { -1, -1 };
  if (pipe2 (watch, O_CLOEXEC) == 0)
    {
      pid_t guard = fork ();
      if (guard == 0)
        {
          close (watch[1]);
          guard_main (store_root, cid, watch[0]);
        }
      close (watch[0]);
    }
  int ret = store_open (store_root, STORE_LOCK_NONE, &s, &err);
  if (ret == 0)
    ret = container_load (s, cid, &c, &err);
  if (ret == 0)
    ret = container_start (s, c, &fd, &dec, size, &code, &err);
  if (ret < 0)
    {
      note_start_error (dir, err->msg);
      attach_decoder_clear (&dec);
      return code ? code : 125;
    }
  if (watch[1] >= 0)
    (void)write_all (watch[1], "s", 1);
  (void)write_all (fifo, "0", 1);
  close (fifo);
  code = relay (fd, &dec, tty);
  attach_decoder_clear (&dec);
  close (fd);
  return code;
}

struct waiter_args
{
  const char *root, *id, *dir;
  int console_fd; /* >= 0: a terminal, its master to there */
  bool new_netns; /* the spec asks for a network namespace of the container's own, without a path */
  int ready_w;    /* a byte (0) once set up, or the error's text */
};

static int
waiter_setup (const struct waiter_args *a, isola_error_t *err)
{
  if (a->console_fd >= 0 && take_terminal (a->console_fd, err) < 0)
    return -1;
  if (a->new_netns && unshare (CLONE_NEWNET) < 0)
    return isola_error_make (err, errno, "unshare the network namespace");
  return 0;
}

static __attribute__ ((noreturn)) void
waiter_main (const struct waiter_args *a)
{
  int keep[] = { a->console_fd, a->ready_w };
  close_other_fds (keep, ARRAY_SIZE (keep));
  /* A caller that closed its end of our stdout must not end the container's relay with SIGPIPE. */
  signal (SIGPIPE, SIG_IGN);
  cleanup_error isola_error_t err = NULL;
  if (waiter_setup (a, &err) < 0)
    {
      (void)write_all (a->ready_w, err->msg, strlen (err->msg));
      _exit (125);
    }
  if (a->console_fd >= 0)
    close (a->console_fd);
  (void)write_all (a->ready_w, "", 1);
  close (a->ready_w);
  cleanup_free char *fifo_path = xasprintf ("%s/exec.fifo", a->dir);
  int fifo = open (fifo_path, O_WRONLY | O_CLOEXEC);
  if (fifo < 0)
    _exit (125);
  _exit (waiter_start (a->root, a->id, a->dir, fifo, a->console_fd >= 0));
}

/* The network the guest mirrors: the namespace at the spec's path, or the waiter's own new one (hooks may set it up
   after create); a container without a network namespace of its own is refused: its kernel cannot share the host's. */
static int
network_of (json_t *config, const char **path, bool *new_netns, isola_error_t *err)
{
  json_t *namespaces = json_object_get (json_object_get (config, "linux"), "namespaces");
  json_t *ns;
  size_t i;
  json_array_foreach (namespaces, i, ns)
  {
    const char *type = json_string_value (json_object_get (ns, "type"));
    if (type == NULL || strcmp (type, "network") != 0)
      continue;
    *path = json_string_value (json_object_get (ns, "path"));
    *new_netns = *path == NULL || (*path)[0] == '\0';
    return 0;
  }
  return isola_error_fail (err, EINVAL,
                           "io.isola.isolation=vm: the container must have a network namespace of its own (no "
                           "\"network\" in linux.namespaces means the host's, which a VM cannot share)");
}

/* dir itself or a path below it. */
static bool
path_under (const char *path, const char *dir)
{
  size_t n = strlen (dir);
  return strncmp (path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* A spec mount the VM can take: a bind (by its type or its options) of an absolute destination outside /dev, /proc
   and /sys (a VM has its own), whose source stat() sees; *ro from its options. */
static bool
vm_bind_mount (json_t *m, const char **dest, const char **source, bool *ro, struct stat *st)
{
  *dest = json_string_value (json_object_get (m, "destination"));
  *source = json_string_value (json_object_get (m, "source"));
  const char *type = json_string_value (json_object_get (m, "type"));
  bool bind = type && strcmp (type, "bind") == 0;
  *ro = false;
  json_t *o;
  size_t k;
  json_array_foreach (json_object_get (m, "options"), k, o)
  {
    const char *opt = json_string_value (o);
    bind = bind || (opt && (strcmp (opt, "bind") == 0 || strcmp (opt, "rbind") == 0));
    *ro = *ro || (opt && strcmp (opt, "ro") == 0);
  }
  return bind && *dest && *source && (*dest)[0] == '/' && !path_under (*dest, "/dev") && !path_under (*dest, "/proc")
         && !path_under (*dest, "/sys") && stat (*source, st) == 0;
}

/* The spec's bind mounts of directories (volumes: a pod's, `podman -v`) as the container's binds, which the VM gets
   as 9p shares (driver/vm_launch.h); not what the caller binds under /dev, /proc or /sys (a VM has its own), nor
   files (take_etc_files gives the guest /etc's). */
static json_t *
binds_of (json_t *config)
{
  json_t *binds = json_array ();
  json_t *m;
  size_t i;
  json_array_foreach (json_object_get (config, "mounts"), i, m)
  {
    const char *dest, *source;
    bool ro;
    struct stat st;
    if (!vm_bind_mount (m, &dest, &source, &ro, &st) || strcmp (dest, "/") == 0 || !S_ISDIR (st.st_mode)
        || strchr (source, ':') || strchr (dest, ':'))
      continue;
    cleanup_free char *b = xasprintf ("%s:%s%s", source, dest, ro ? ":ro" : "");
    json_array_append_new (binds, json_string (b));
  }
  return binds;
}

static json_t *
create_request (const struct oci_launch *l, const char *image_id, const char *network_mode)
{
  const struct oci_process *p = &l->process;
  json_t *args = json_array (), *env = json_array ();
  for (size_t i = 0; p->argv && p->argv[i]; i++)
    json_array_append_new (args, json_string (p->argv[i]));
  for (size_t i = 0; p->env && p->env[i]; i++)
    json_array_append_new (env, json_string (p->env[i]));
  json_t *req = json_pack ("{s:s, s:o, s:[], s:o, s:s, s:s, s:b, s:b, s:b, s:b, s:{s:s, s:s}}", "Image", image_id,
                           "Cmd", args, "Entrypoint", "Env", env, "WorkingDir", p->cwd ? p->cwd : "/", "User",
                           p->user ? p->user : "0:0", "Tty", p->terminal, "OpenStdin", 1, "AttachStdin", 1, "StdinOnce",
                           0, "HostConfig", "Isolation", "hyperv", "NetworkMode", network_mode);
  /* linux.resources become the container's: the guest's memory and vCPUs (vm_launch.h), the worker's cgroup and
     the guest's own limits. */
  cgroup_limits_to_json (&l->limits, json_object_get (req, "HostConfig"));
  json_object_set_new (json_object_get (req, "HostConfig"), "Binds", binds_of (l->config));
  const char *hostname = json_string_value (json_object_get (l->config, "hostname"));
  if (hostname && hostname[0])
    json_object_set_new (req, "Hostname", json_string (hostname));
  return req;
}

/* The files the caller bind-mounts on /etc/resolv.conf, /etc/hosts and /etc/hostname (podman's and dockerd's, a
   pod's DNS) become the container's own, which the guest is given at start (START's EtcResolv, EtcHosts,
   EtcHostname); other files: take_file_mounts. */
static int
take_etc_files (json_t *config, const struct container *c, isola_error_t *err)
{
  static const char *const files[] = { "resolv.conf", "hosts", "hostname" };
  json_t *m;
  size_t i;
  json_array_foreach (json_object_get (config, "mounts"), i, m)
  {
    const char *dest = json_string_value (json_object_get (m, "destination"));
    const char *source = json_string_value (json_object_get (m, "source"));
    if (dest == NULL || source == NULL || strncmp (dest, "/etc/", 5) != 0)
      continue;
    for (size_t k = 0; k < ARRAY_SIZE (files); k++)
      {
        struct stat st;
        if (strcmp (dest + 5, files[k]) != 0 || stat (source, &st) < 0 || !S_ISREG (st.st_mode))
          continue;
        cleanup_free char *text = NULL;
        size_t len = 0;
        int ret = read_file_bounded (source, 1 << 20, &text, &len, NULL);
        if (ret < 0)
          return isola_error_make (err, -ret, "read %s for the container's %s", source, dest);
        cleanup_free char *path = container_path (c, files[k]);
        if ((ret = write_file_replace (path, text, len, 0644, err)) < 0)
          return ret;
      }
  }
  return 0;
}

/* The spec's bind mounts of regular files other than /etc's three (podman's /run/.containerenv, `-v FILE:PATH`, a
   pod's subPath configMap key or termination log) reach the guest by content, read at create: the VM driver passes
   VM_FILE_MOUNTS (driver/vm_launch.h) in START's mounts, and the agent binds a copy of each at its destination.  The
   guest's writes to one stay in the guest.  START is one frame: the contents are bounded. */
#define FILE_MOUNT_MAX  (256 * 1024)
#define FILE_MOUNTS_MAX (384 * 1024)

static bool
is_etc_file (const char *dest)
{
  return strcmp (dest, "/etc/resolv.conf") == 0 || strcmp (dest, "/etc/hosts") == 0
         || strcmp (dest, "/etc/hostname") == 0;
}

static char *
hex_of (const char *data, size_t len)
{
  static const char digits[] = "0123456789abcdef";
  char *hex = xmalloc (2 * len + 1);
  for (size_t i = 0; i < len; i++)
    hex[2 * i] = digits[(unsigned char)data[i] >> 4], hex[2 * i + 1] = digits[(unsigned char)data[i] & 15];
  hex[2 * len] = '\0';
  return hex;
}

/* A file mounted under a directory bind (a pod's subPath file in a volume, `-v DIR:/data -v FILE:/data/f`) is bound
   by the agent on a mount point in the 9p share, which it would create through 9p, owned on the host by the VM
   worker's uid.  The runtime makes it instead, in the host's directory, empty and root's, where runc and a process
   container make it too (their mount point is inside the bound directory).  The innermost read-write directory bind
   holding dest is the one; a read-only one is left alone (the agent's bind then fails, as runc's does). */
static int
make_mount_point_in_bind (json_t *config, const char *file_dest, isola_error_t *err)
{
  const char *best_source = NULL, *best_dest = NULL;
  json_t *m;
  size_t i;
  json_array_foreach (json_object_get (config, "mounts"), i, m)
  {
    const char *dest, *source;
    bool ro;
    struct stat st;
    if (vm_bind_mount (m, &dest, &source, &ro, &st) && S_ISDIR (st.st_mode) && strcmp (dest, "/") != 0
        && path_under (file_dest, dest) && strcmp (file_dest, dest) != 0
        && (best_dest == NULL || strlen (dest) > strlen (best_dest)))
      {
        best_dest = dest;
        best_source = ro ? NULL : source;
      }
  }
  if (best_source == NULL)
    return 0;
  cleanup_close int dirfd = open (best_source, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return isola_error_make (err, errno, "open %s", best_source);
  int fd = spawn_make_mount_target (dirfd, file_dest + strlen (best_dest), false, err);
  if (fd < 0)
    return fd;
  close (fd);
  return 0;
}

static int
take_file_mounts (json_t *config, const struct container *c, isola_error_t *err)
{
  cleanup_json json_t *files = json_array ();
  size_t total = 0;
  json_t *m;
  size_t i;
  json_array_foreach (json_object_get (config, "mounts"), i, m)
  {
    const char *dest, *source;
    bool ro;
    struct stat st;
    if (!vm_bind_mount (m, &dest, &source, &ro, &st) || is_etc_file (dest) || !S_ISREG (st.st_mode))
      continue;
    cleanup_free char *text = NULL;
    size_t len = 0;
    int ret = read_file_bounded (source, FILE_MOUNT_MAX, &text, &len, NULL);
    if (ret == -EFBIG || (ret == 0 && total + len > FILE_MOUNTS_MAX))
      return isola_error_fail (err, EFBIG,
                               "io.isola.isolation=vm: the file mounted on %s is too big: a VM gets file mounts by "
                               "content, up to %d KiB each and %d KiB in all",
                               dest, FILE_MOUNT_MAX / 1024, FILE_MOUNTS_MAX / 1024);
    if (ret < 0)
      return isola_error_make (err, -ret, "read %s for the container's %s", source, dest);
    int made = make_mount_point_in_bind (config, dest, err);
    if (made < 0)
      return made;
    total += len;
    cleanup_free char *hex = hex_of (text, len);
    json_array_append_new (files, json_pack ("{s:s, s:s, s:s, s:i, s:b}", "Type", "file", "Destination", dest,
                                             "ContentHex", hex, "Mode", (int)(st.st_mode & 07777), "ReadOnly", ro));
  }
  if (json_array_size (files) == 0)
    return 0;
  cleanup_free char *text = json_dumps (files, JSON_COMPACT);
  cleanup_free char *path = container_path (c, VM_FILE_MOUNTS);
  return write_file_replace (path, text, strlen (text), 0600, err);
}

/* The worker's cgroup: the spec's cgroupsPath (as sandbox/cgroup.h names it), for the VM driver (VM_WORKER_CGROUP). */
static int
take_cgroup (const char *cgroup, const struct container *c, isola_error_t *err)
{
  cleanup_free char *path = container_path (c, VM_WORKER_CGROUP);
  return write_file_replace (path, cgroup, strlen (cgroup), 0600, err);
}

int
rt_vm_create (struct rt_ctx *ctx, const char *id, const char *dir, struct oci_launch *l, const char *cgroup,
              int console_fd, pid_t *pid_out, json_t **vm_out, isola_error_t *err)
{
  (void)ctx;
  /* The guest's kernel already keeps the container's root from the host's; and the bundle's root, owned by the
     mapped range on the host, would keep those ids in the guest's copy (mkfs.erofs cannot shift them), where the
     container's root and users would not own their files. */
  if (l->userns)
    return isola_error_fail (err, ENOTSUP,
                             "io.isola.isolation=vm: user namespaces are not supported: the VM already separates the "
                             "container's root from the host's (drop the user namespace, or use "
                             "io.isola.isolation=process)");
  /* A pod's user namespace (hostUsers: false) maps the pod's ids on the host; the VM has a kernel of its own, whose
     ids no host namespace can map, and the rootfs chowned to the pod's range would keep those ids in the guest. */
  if (l->userns_fd >= 0)
    return isola_error_fail (err, ENOTSUP,
                             "io.isola.isolation=vm: a user namespace joined by path (a pod's, hostUsers: false) is "
                             "not supported: the guest's kernel cannot be in a host user namespace, and the VM "
                             "already separates the container's root from the host's (use hostUsers: true, or "
                             "io.isola.isolation=process)");
  const char *netns = NULL;
  bool new_netns = false;
  int ret = network_of (l->config, &netns, &new_netns, err);
  if (ret < 0)
    return ret;
  cleanup_free char *store_root = rt_vm_store_root (ctx->root);
  digest_hex_t image_id = "";
  {
    cleanup_store struct isola_store *s = NULL;
    ret = store_open (store_root, STORE_LOCK_EXCLUSIVE, &s, err);
    if (ret == 0)
      ret = image_from_dir (s, id, l->root_dir, image_id, err);
    if (ret < 0)
      return ret;
  }
  int ready[2];
  if (pipe2 (ready, O_CLOEXEC) < 0)
    {
      image_discard (store_root, image_id);
      return isola_error_make (err, errno, "pipe");
    }
  struct waiter_args a = {
    .root = ctx->root, .id = id, .dir = dir, .console_fd = console_fd, .new_netns = new_netns, .ready_w = ready[1]
  };
  pid_t pid = fork ();
  if (pid == 0)
    {
      close (ready[0]);
      waiter_main (&a);
    }
  close (ready[1]);
  if (pid < 0)
    {
      close (ready[0]);
      image_discard (store_root, image_id);
      return isola_error_make (err, errno, "fork");
    }
  char msg[1024] = "";
  ssize_t n = read (ready[0], msg, sizeof msg - 1);
  close (ready[0]);
  if (n != 1 || msg[0] != '\0')
    {
      msg[n > 0 ? n : 0] = '\0';
      ret = isola_error_fail (err, EIO, "the container's process could not be set up: %s", n > 0 ? msg : "it died");
    }
  cleanup_free char *mode = new_netns ? xasprintf ("ns:/proc/%d/ns/net", (int)pid) : xasprintf ("ns:%s", netns);
  cleanup_container struct container *c = NULL;
  if (ret == 0)
    {
      cleanup_json json_t *req = create_request (l, image_id, mode);
      ret = container_create_from_request (store_root, req, NULL, &c, err);
      if (ret == 0)
        ret = take_etc_files (l->config, c, err);
      if (ret == 0)
        ret = take_file_mounts (l->config, c, err);
      if (ret == 0)
        ret = take_cgroup (cgroup, c, err);
    }
  if (ret < 0)
    {
      (void)kill (pid, SIGKILL);
      (void)waitpid_retry (pid, NULL);
      cleanup_store struct isola_store *s = NULL;
      if (c && store_open (store_root, STORE_LOCK_NONE, &s, NULL) == 0)
        (void)container_rm (s, c, true, NULL);
      image_discard (store_root, image_id);
      return ret;
    }
  *pid_out = pid;
  *vm_out
      = json_pack ("{s:s, s:s, s:s, s:s}", "container", c->id, "image", image_id, "network", mode, "cgroup", cgroup);
  return 0;
}

/* --- kill, delete ---------------------------------------------------------------------------------------------------
 */

static int
load_vm_container (const struct rt_ctx *ctx, const struct rt_container *rc, struct isola_store **s,
                   struct container **c, isola_error_t *err)
{
  cleanup_free char *store_root = rt_vm_store_root (ctx->root);
  const char *cid = vm_field (rc, "container");
  int ret = store_open (store_root, STORE_LOCK_NONE, s, err);
  if (ret == 0)
    ret = container_load (*s, cid ? cid : "", c, err);
  if (ret == 0)
    ret = container_refresh (*c, err);
  return ret;
}

int
rt_vm_kill (const struct rt_ctx *ctx, const struct rt_container *rc, int sig, isola_error_t *err)
{
  cleanup_store struct isola_store *s = NULL;
  cleanup_container struct container *c = NULL;
  int ret = load_vm_container (ctx, rc, &s, &c, err);
  if (ret == 0 && !container_is_running (c))
    {
      /* Not started yet (the waiter is at its fifo) or already over: the waiter is the container's process. */
      if (kill (rt_pid (rc), sig) < 0)
        return isola_error_make (err, errno, "kill");
      return 0;
    }
  if (ret == 0)
    ret = container_kill (c, sig, err);
  return ret;
}

int
rt_vm_pause (const struct rt_ctx *ctx, const struct rt_container *rc, bool pause, isola_error_t *err)
{
  cleanup_store struct isola_store *s = NULL;
  cleanup_container struct container *c = NULL;
  cleanup_free char *mark = xasprintf ("%s/" RT_VM_PAUSED, rc->dir);
  int ret = load_vm_container (ctx, rc, &s, &c, err);
  if (ret == 0)
    ret = pause ? container_pause (c, err) : container_unpause (c, err);
  if (ret == 0 && pause)
    ret = write_file_replace (mark, "", 0, 0600, err);
  else if (ret == 0 && unlink (mark) < 0 && errno != ENOENT)
    ret = isola_error_make (err, errno, "unlink %s", mark);
  return ret;
}

int
rt_vm_update (const struct rt_ctx *ctx, const struct rt_container *rc, const struct cgroup_limits *l,
              isola_error_t *err)
{
  cleanup_store struct isola_store *s = NULL;
  cleanup_container struct container *c = NULL;
  int ret = load_vm_container (ctx, rc, &s, &c, err);
  if (ret < 0)
    return ret;
  cleanup_json json_t *resources = json_object ();
  cgroup_limits_to_json (l, resources);
  return container_update (c, resources, err);
}

int
rt_vm_stats (const struct rt_ctx *ctx, const struct rt_container *rc, struct cgroup_stats *out, isola_error_t *err)
{
  cleanup_store struct isola_store *s = NULL;
  cleanup_container struct container *c = NULL;
  int ret = load_vm_container (ctx, rc, &s, &c, err);
  if (ret == 0 && !container_is_running (c))
    ret = isola_error_fail (err, EINVAL, "container not running");
  if (ret == 0)
    ret = driver_of (c)->stats (c, out, err);
  return ret;
}

void
rt_vm_remove (const struct rt_ctx *ctx, const struct rt_container *rc)
{
  cleanup_free char *store_root = rt_vm_store_root (ctx->root);
  {
    cleanup_store struct isola_store *s = NULL;
    cleanup_container struct container *c = NULL;
    if (load_vm_container (ctx, rc, &s, &c, NULL) == 0)
      (void)container_rm (s, c, true, NULL);
  }
  image_discard (store_root, vm_field (rc, "image"));
  /* The driver's cleanup removed the worker's cgroup, unless its monitor died before it could. */
  const char *cgroup = vm_field (rc, "cgroup");
  struct cgroup_fs fs = { 0 };
  if (cgroup && cgroup[0] && cgroup_fs_detect ("/sys/fs/cgroup", &fs, NULL) == 0)
    (void)cgroup_destroy (&fs, cgroup, NULL);
  cgroup_fs_clear (&fs);
}

/* --- exec ------------------------------------------------------------------------------------------------------------
 */

int
rt_vm_exec (const struct rt_ctx *ctx, const struct rt_container *rc, const struct oci_process *p, bool detach,
            const char *pid_file, int console_fd, int *code, isola_error_t *err)
{
  cleanup_store struct isola_store *s = NULL;
  cleanup_container struct container *c = NULL;
  int ret = load_vm_container (ctx, rc, &s, &c, err);
  if (ret == 0 && !container_is_running (c))
    ret = isola_error_fail (err, EINVAL, "cannot exec in a stopped container");
  if (ret < 0)
    return ret;
  bool tty = console_fd >= 0;
  pid_t pid = 0;
  int ready[2] = { -1, -1 };
  if (detach)
    {
      /* The process the caller reaps is a child of ours that relays the session: the caller's stdio and our
         terminal are its own. */
      if (pipe2 (ready, O_CLOEXEC) < 0)
        return isola_error_make (err, errno, "pipe");
      pid = fork ();
      if (pid < 0)
        return isola_error_make (err, errno, "fork");
      if (pid > 0)
        {
          close (ready[1]);
          ready[1] = -1;
          char msg[1024] = "";
          ssize_t n = read (ready[0], msg, sizeof msg - 1);
          close (ready[0]);
          if (n != 1 || msg[0] != '\0')
            {
              msg[n > 0 ? n : 0] = '\0';
              (void)waitpid_retry (pid, NULL);
              return isola_error_fail (err, EIO, "%s", n > 0 ? msg : "the exec's process died");
            }
          *code = 0;
          return pid_file ? rt_write_pid_file (pid_file, pid, err) : 0;
        }
      close (ready[0]);
      int keep[] = { console_fd, ready[1] };
      close_other_fds (keep, ARRAY_SIZE (keep));
      signal (SIGPIPE, SIG_IGN);
    }
  if (tty && (ret = take_terminal (console_fd, err)) < 0)
    goto failed;
  char exec_id[65];
  container_exec_started (c, p->argv, exec_id);
  struct exec_request req = {
    .argv = p->argv,
    .env = p->env,
    .user = p->user,
    .cwd = p->cwd,
    .interactive = true,
    .exec_id = exec_id,
    .io = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .console_socket = -1, .tty = tty },
  };
  struct winsize ws;
  if (tty && ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
    req.io.rows = ws.ws_row, req.io.cols = ws.ws_col;
  struct attach_decoder dec;
  attach_decoder_init (&dec);
  int fd = -1;
  *code = 255;
  ret = driver_of (c)->exec_session (c, &req, &fd, &dec, err);
  if (ret == 0)
    ret = attach_client_wait_started (fd, &dec, code, err);
  if (ret < 0)
    {
      attach_decoder_clear (&dec);
      if (fd >= 0)
        close (fd);
      goto failed;
    }
  if (detach)
    {
      (void)write_all (ready[1], "", 1);
      close (ready[1]);
    }
  *code = relay (fd, &dec, tty);
  attach_decoder_clear (&dec);
  close (fd);
  if (detach)
    _exit (*code);
  return 0;
failed:
  if (detach)
    {
      (void)write_all (ready[1], (*err)->msg, strlen ((*err)->msg));
      _exit (255);
    }
  return ret;
}

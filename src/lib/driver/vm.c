/* The vm isolation driver: each container runs in its own QEMU microvm with isola's guest kernel, and its processes
   are started by the guest agent (src/agent).  The VM worker (QEMU) is the monitor's child and the container's
   State.Pid; the container's processes are not visible on the host.

   start runs in the monitor: it launches the VM, greets the agent and sends START, and hands the monitor the
   channel (virtio-serial, vmproto.h) over which the container's stdio, exit, exec and process listings travel.
   signal, top and exec run in the CLI and go through the monitor's attach socket, since only the monitor talks to
   the agent. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/jbytes.h"
#include "base/json.h"
#include "base/util.h"
#include "container/nsmode.h"
#include "container/runspec.h"
#include "driver/driver.h"
#include "driver/vm_disk.h"
#include "driver/vm_console.h"
#include "driver/vm_jail.h"
#include "driver/vm_launch.h"
#include "driver/vm_net.h"
#include "driver/vm_template.h"
#include "image/erofs.h"
#include "image/image.h"
#include "network/attach.h"
#include "proto/attach.h"
#include "proto/attach_client.h"
#include "proto/qmp.h"
#include "proto/vmproto.h"
#include "sandbox/cgroup.h"
#include "sandbox/nsexec.h"

#define QMP_TIMEOUT_MS 10000

/* --- create ------------------------------------------------------------------------------------------------------ */

static int
vm_create_resources (struct isola_store *s, struct container *c, isola_error_t *err)
{
  const char *image = container_image_id (c);
  if (image == NULL)
    return isola_error_fail (err, EINVAL, "container %.12s has no image", c->id);
  /* The VM has a network stack of its own: the host's cannot be shared with it. */
  if (container_host_network (c))
    return isola_error_fail (err, EINVAL, "--network host is not supported with VM isolation");
  /* Nor can it share another container's: the guest's NIC mirrors a namespace of the container's own. */
  json_t *host = container_host_config (c);
  const char *mode = json_string_value (json_object_get (host, "NetworkMode"));
  if (nsmode_container (mode))
    return isola_error_fail (err, EINVAL,
                             "--network %s is not supported with VM isolation: the container has a kernel of its own, "
                             "so it cannot share another container's network namespace",
                             mode);
  /* Nor can its kernel share a namespace with the host's or another VM's, as in Kata. */
  const char *flag = NULL, *value = NULL;
  if (nsmode_shares_outside (host, &flag, &value))
    return isola_error_fail (err, EINVAL,
                             "%s %s is not supported with VM isolation: the container has a kernel of its own, so it "
                             "cannot share the host's or another container's namespace",
                             flag, value);
  if (json_array_size (json_object_get (host, "Devices")) > 0)
    return isola_error_fail (err, EINVAL,
                             "--device is not supported with VM isolation: the guest has no access to the host's "
                             "devices");
  struct image_record rec = { 0 };
  int ret = image_record_read (s, image, &rec, err);
  if (ret == 0)
    ret = image_erofs_ensure (s, &rec, err);
  image_record_clear (&rec);
  cleanup_free char *upper = container_path (c, "upper.ext4");
  if (ret == 0)
    ret = vm_upper_disk_create (upper, VM_UPPER_DISK_BYTES, err);
  return ret;
}

/* --- start (in the monitor) ------------------------------------------------------------------------------------- */

/* The last line QEMU or the guest's console said, for an error message. */
static char *
last_words (const struct container *c, const char *file)
{
  cleanup_free char *path = container_path (c, file);
  cleanup_free char *text = NULL;
  size_t len = 0;
  if (read_file_bounded (path, 1 << 20, &text, &len, NULL) < 0 || len == 0)
    return NULL;
  while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
    text[--len] = '\0';
  char *nl = strrchr (text, '\n');
  return xstrdup (nl ? nl + 1 : text);
}

static int
boot_failed (const struct container *c, int r, int timeout_s, isola_error_t *err)
{
  cleanup_free char *qemu = last_words (c, "qemu.log");
  cleanup_free char *console = last_words (c, "console.log");
  const char *why = qemu ? qemu : console ? console : "no output";
  if (r == -ETIMEDOUT)
    return isola_error_fail (err, ETIMEDOUT, "the VM did not start within %d s (last console line: %s)", timeout_s,
                             console ? console : "none");
  if (r == -ECHILD)
    return isola_error_fail (err, EIO, "the VM exited while starting: %s", why);
  return isola_error_fail (err, -r, "the VM's agent broke the protocol while starting: %s", strerror (-r));
}

/* HELLO both ways (a VM restored from a template greeted its template's host already), START, then STARTED or
   FAILED.  START carries the host's clock and a fresh seed for the guest's random pool, which a restored VM would
   otherwise share with every other clone of its template. */
static int
greet_agent (struct vm_boot *b, const struct container *c, json_t *start, bool restored, int timeout_s,
             isola_error_t *err)
{
  struct vmproto_frame f;
  int r;
  if (!restored)
    {
      if ((r = vm_boot_next_frame (b, &f)) < 0)
        return boot_failed (c, r, timeout_s, err);
      if ((r = vmproto_check_hello (&f, "the VM's agent", err)) < 0)
        return r;
      struct vmproto_msg hello = vmproto_msg_hello ("isola " ISOLA_VERSION);
      if ((r = vmproto_send (b->fd, &hello)) < 0)
        return isola_error_make (err, -r, "greet the VM's agent");
    }
  if ((r = vm_start_json_stamp (start, err)) < 0)
    return r;
  cleanup_free char *text = json_dumps (start, JSON_COMPACT);
  struct vmproto_msg msg = vmproto_msg_start (text, strlen (text));
  if ((r = vmproto_send (b->fd, &msg)) < 0)
    {
      if (r != -EPIPE && r != -ECONNRESET)
        return isola_error_make (err, -r, "send START to the VM's agent");
      b->exited = true;
      return boot_failed (c, -ECHILD, timeout_s, err);
    }
  for (;;)
    {
      if ((r = vm_boot_next_frame (b, &f)) < 0)
        return boot_failed (c, r, timeout_s, err);
      if (f.stream != VMPROTO_STREAM_MAIN)
        continue;
      if (f.type == VMPROTO_STARTED)
        return 0;
      if (f.type == VMPROTO_FAILED)
        {
          int32_t errnum = EIO;
          uint32_t code = 125;
          char msg_text[VMPROTO_TEXT_MAX + 1];
          if (vmproto_get_failed (&f, &errnum, &code, msg_text, sizeof msg_text) < 0)
            return isola_error_fail (err, EPROTO, "malformed FAILED from the VM's agent");
          /* The errno decides the exit code: 127 for ENOENT, 126 for EACCES (the monitor's rule). */
          int status = code == 127   ? ENOENT
                       : code == 126 ? EACCES
                                     : (errnum == ENOENT || errnum == EACCES ? EIO : errnum);
          return isola_error_fail (err, status, "%s", msg_text);
        }
    }
}

static int
make_channel (int sv[2], isola_error_t *err)
{
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return isola_error_make (err, errno, "socketpair");
  int big = 1 << 20;
  (void)setsockopt (sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  (void)setsockopt (sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  return 0;
}

/* ID/qmp.sock, where the VM's QEMU listens for QMP (pause and unpause connect to it): bound here, through
   /proc/self/fd since a container directory's path can exceed sun_path, and handed to QEMU as a listening socket. */
static int
qmp_listen (const struct container *c, isola_error_t *err)
{
  cleanup_close int dirfd = open (c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return isola_error_make (err, errno, "open `%s`", c->dir);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  snprintf (addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/qmp.sock", dirfd);
  (void)unlinkat (dirfd, "qmp.sock", 0);
  cleanup_close int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind (fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen (fd, 4) < 0)
    return isola_error_make (err, errno, "listen on `%s/qmp.sock`", c->dir);
  return take_fd (&fd);
}

/* The name (sandbox/cgroup.h's) of the worker's cgroup: the one the container was given (VM_WORKER_CGROUP), else
   isola/ID as a process container's. */
static char *
worker_cgroup_name (const struct container *c)
{
  cleanup_free char *path = container_path (c, VM_WORKER_CGROUP);
  char *name = NULL;
  if (read_file_bounded (path, 4096, &name, NULL, NULL) < 0)
    return xstrdup (c->id);
  name[strcspn (name, "\n")] = '\0';
  if (name[0] == '\0')
    {
      free (name);
      return xstrdup (c->id);
    }
  return name;
}

/* The worker's cgroup on the host, so that what QEMU uses counts against the container: --cpus and --cpu-shares as
   given (its vCPUs are its threads), with --memory the guest's memory plus what QEMU needs besides
   (VM_WORKER_OVERHEAD_*_MB), with --pids-limit that plus QEMU's threads.  Not --cpuset-*: those name the guest's
   vCPUs and memory nodes, not the host's.  `update` changes the guest's limits only: the VM's memory is fixed when
   it starts. */
static int
worker_cgroup (const struct vm_settings *vs, const struct vm_layout *l, const struct container *c, const char *name,
               struct cgroup_fs *fs, struct cgroup_placement *out, isola_error_t *err)
{
  struct cgroup_limits asked;
  cgroup_limits_from_host_config (container_host_config (c), &asked);
  int64_t overhead = strcmp (vs->accel, "kvm") == 0 ? VM_WORKER_OVERHEAD_KVM_MB : VM_WORKER_OVERHEAD_TCG_MB;
  struct cgroup_limits limits = {
    .memory = asked.memory > 0 ? (l->memory_mb + overhead) << 20 : 0,
    .nano_cpus = asked.nano_cpus,
    .cpu_shares = asked.cpu_shares,
    .pids = asked.pids > 0 ? asked.pids + VM_WORKER_OVERHEAD_PIDS : 0,
  };
  int ret = cgroup_fs_detect ("/sys/fs/cgroup", fs, err);
  if (ret == 0)
    ret = cgroup_create (fs, name, &limits, out, err);
  return ret;
}

/* One attempt at starting the VM of layout l: restored from state_fd (>= 0) or booted. */
static int
launch (const struct vm_settings *vs, const struct isola_store *s, struct container *c, const struct vm_layout *l,
        const struct vm_share *shares, const struct cgroup_placement *cgroup, const struct vm_net *net,
        struct driver_io *io, json_t *start, int state_fd, pid_t *pid_out, bool *vm_exited, isola_error_t *err)
{
  *vm_exited = false;
  cleanup_free char *console = container_path (c, "console.log");
  cleanup_free char *qemu_log = container_path (c, "qemu.log");
  cleanup_free char *upper = container_path (c, "upper.ext4");
  const char *image = container_image_id (c);
  cleanup_free char *rootfs = image_erofs_path (s, image ? image : "");
  /* The worker opens none of the store's files itself (vm_jail.h): the disks are ours, opened here. */
  cleanup_close int rootfs_fd = open (rootfs, O_RDONLY | O_CLOEXEC);
  if (rootfs_fd < 0)
    return isola_error_make (err, errno, "open the VM's root disk `%s`", rootfs);
  cleanup_close int upper_fd = open (upper, O_RDWR | O_CLOEXEC);
  cleanup_close int upper_ro_fd = open (upper, O_RDONLY | O_CLOEXEC);
  if (upper_fd < 0 || upper_ro_fd < 0)
    return isola_error_make (err, errno, "open the VM's disk `%s`", upper);
  int sv[2] = { -1, -1 };
  int ret = make_channel (sv, err);
  cleanup_close int qmp_fd = ret == 0 ? qmp_listen (c, err) : -1;
  if (qmp_fd < 0 && ret == 0)
    ret = qmp_fd;
  /* The console's copier is the monitor's child, reaped with the rest (the monitor reaps every child). */
  pid_t copier;
  cleanup_close int console_fd = ret == 0 ? vm_console_start (console, &copier, err) : -1;
  if (console_fd < 0 && ret == 0)
    ret = console_fd;
  cleanup_strv char **argv = NULL;
  struct vm_jail jail = { 0 };
  struct vm_instance in = {
    .name = c->id,
    .console_fd = console_fd,
    .rootfs_fd = rootfs_fd,
    .upper_fd = upper_fd,
    .upper_ro_fd = upper_ro_fd,
    .channel_fd = sv[1],
    .taps = net->taps,
    .n_taps = net->n_taps,
    .shares = shares,
  };
  if (ret == 0)
    ret = vm_jail_prepare (vs, l, &in, &jail, err);
  jail.cgroup = cgroup;
  if (ret == 0)
    {
      argv = vm_qemu_argv_for (vs, l, &in);
      cleanup_free char *qmp = xasprintf ("socket,id=ctl,fd=%d,server=on,wait=off", qmp_fd);
      strv_push (&argv, "-chardev");
      strv_push (&argv, qmp);
      strv_push (&argv, "-mon");
      strv_push (&argv, "chardev=ctl,mode=control");
    }
  if (ret == 0 && state_fd >= 0)
    {
      /* QEMU reads the saved VM from the fd and, since it was saved running, runs it at once. */
      cleanup_free char *incoming = xasprintf ("fd:%d", state_fd);
      strv_push (&argv, "-incoming");
      strv_push (&argv, incoming);
    }
  pid_t pid = -1;
  if (ret == 0)
    {
      int keep[7 + VM_NICS] = { sv[1], qmp_fd, rootfs_fd, upper_fd, upper_ro_fd, console_fd };
      size_t n_keep = 6;
      if (state_fd >= 0)
        keep[n_keep++] = state_fd;
      for (size_t i = 0; i < net->n_taps; i++)
        keep[n_keep++] = net->taps[i];
      pid = vm_spawn_qemu (vs, argv, keep, n_keep, qemu_log, &jail, err);
      if (pid < 0)
        ret = (int)pid;
    }
  vm_jail_clear (&jail);
  if (sv[1] >= 0)
    close (sv[1]);
  /* Only QEMU holds the console's socket now: its copier ends with it. */
  if (console_fd >= 0)
    {
      close (console_fd);
      console_fd = -1;
    }
  if (ret < 0)
    {
      if (sv[0] >= 0)
        close (sv[0]);
      return ret;
    }
  trace_mark (state_fd >= 0 ? "monitor: VM restoring" : "monitor: VM launched");
  struct vmproto_decoder *dec = xcalloc (1, sizeof *dec);
  vmproto_decoder_init (dec, VMPROTO_GUEST);
  if (state_fd >= 0)
    vmproto_decoder_resume (dec);
  (void)fcntl (sv[0], F_SETFL, O_NONBLOCK);
  struct vm_boot b
      = { .fd = sv[0], .dec = dec, .qemu = pid, .deadline = monotonic_ms () + vs->boot_timeout_s * 1000LL };
  ret = greet_agent (&b, c, start, state_fd >= 0, vs->boot_timeout_s, err);
  if (ret < 0)
    {
      *vm_exited = b.exited;
      kill (pid, SIGKILL);
      (void)waitpid_retry (pid, NULL);
      close (sv[0]);
      vmproto_decoder_clear (dec);
      free (dec);
      return ret;
    }
  io->channel = sv[0];
  io->channel_dec = dec;
  *pid_out = pid;
  return 0;
}

/* The saved VM of layout l, or -1 (none, or templates are off); *key names it. */
static int
find_template (const struct vm_settings *vs, const struct vm_layout *l, char **key)
{
  int fd = -1;
  *key = vs->template ? vm_template_key (vs, l) : NULL;
  if (*key && vm_template_open (vs, *key, &fd) < 0)
    fd = -1;
  return fd;
}

/* The network namespace the guest's NIC mirrors: the one given by path (--network ns:PATH), else the one
   network_attach made (bridge, a user network), else none. */
static char *
vm_netns_of (const struct container *c)
{
  const char *given = container_netns_path (c);
  return given ? xstrdup (given) : network_netns_path (c);
}

static int
vm_start (const struct isola_store *s, struct container *c, struct driver_io *io, pid_t *pid_out, isola_error_t *err)
{
  struct vm_settings vs;
  int ret = vm_settings_load (s->root, &vs, err);
  if (ret < 0)
    return ret;
  cleanup_json json_t *start = NULL;
  cleanup_free char *upper = container_path (c, "upper.ext4");
  if (!path_exists (upper))
    ret = vm_upper_disk_create (upper, VM_UPPER_DISK_BYTES, err);
  /* On a network (bridge, a user network): its namespace made and set up as a process container's, before START
     is made, since attaching writes the /etc/hosts and /etc/resolv.conf the guest is given. */
  if (ret == 0)
    ret = network_attach (s, c, err);
  trace_mark ("monitor: network attached");
  if (ret == 0)
    ret = vm_start_json (s, c, io, &start, err);
  struct vm_layout l = { 0 };
  struct vm_share *shares = NULL;
  if (ret == 0)
    ret = vm_layout_of (&vs, s, c, &l, &shares, err);
  cleanup_free char *key = NULL;
  int state_fd = ret == 0 ? find_template (&vs, &l, &key) : -1;
  bool exited = false;
  struct cgroup_fs cgfs = { 0 };
  struct cgroup_placement cgroup = { .dir_fd = -1 };
  cleanup_free char *cgroup_name = worker_cgroup_name (c);
  trace_mark ("monitor: VM worker's cgroup");
  if (ret == 0)
    ret = worker_cgroup (&vs, &l, c, cgroup_name, &cgfs, &cgroup, err);
  /* The network namespace, given by path or the network's, mirrored into the guest (vm_net.h); without one the NICs
     have no peer. */
  struct vm_net net = { 0 };
  cleanup_free char *netns = vm_netns_of (c);
  if (ret == 0 && netns)
    {
      trace_mark ("monitor: VM network");
      ret = vm_net_setup (netns, vm_nics (l.n_shares), &net, err);
      if (ret == 0)
        json_object_set (start, "Network", net.config);
    }
  if (ret == 0)
    ret = launch (&vs, s, c, &l, shares, &cgroup, &net, io, start, state_fd, pid_out, &exited, err);
  if (state_fd >= 0)
    {
      close (state_fd);
      /* A template that does not restore (QEMU refused it, or the guest died before answering) is removed, and the
         container boots; QEMU's complaint stays in qemu-restore.log.  One whose guest never answers is removed too,
         but after a whole boot timeout the start has waited long enough. */
      if (ret == -ETIMEDOUT)
        vm_template_discard (&vs, key);
      if (ret < 0 && exited)
        {
          cleanup_free char *log = container_path (c, "qemu.log");
          cleanup_free char *kept = container_path (c, "qemu-restore.log");
          (void)rename (log, kept);
          vm_template_discard (&vs, key);
          if (err)
            isola_error_release (err);
          ret = launch (&vs, s, c, &l, shares, &cgroup, &net, io, start, -1, pid_out, &exited, err);
        }
    }
  /* QEMU holds the taps now: with it gone, they go. */
  vm_net_clear (&net);
  if (ret < 0 && netns)
    (void)vm_net_release (netns, NULL);
  if (ret < 0)
    (void)network_detach (s, c, NULL);
  vm_shares_free (shares, l.n_shares);
  vm_settings_clear (&vs);
  if (ret < 0 && cgfs.root)
    (void)cgroup_destroy (&cgfs, cgroup_name, NULL);
  cgroup_placement_clear (&cgroup);
  cgroup_fs_clear (&cgfs);
  if (ret == 0)
    trace_mark ("monitor: VM container started");
  return ret;
}

/* In the CLI before the monitor starts: the template of c's layout, so that the monitor restores the VM instead of
   booting it.  A template that cannot be made is not an error: the container boots, and that boot reports what is
   wrong in the container's own logs.  A failure is remembered for an hour so that not every start pays for it. */
static int
vm_prepare_start (const struct isola_store *s, const struct container *c, isola_error_t *err)
{
  (void)err;
  struct vm_settings vs;
  if (vm_settings_load (s->root, &vs, NULL) < 0)
    return 0;
  struct vm_layout l;
  struct vm_share *shares = NULL;
  if (vs.template && vm_layout_of (&vs, s, c, &l, &shares, NULL) == 0)
    {
      vm_shares_free (shares, l.n_shares);
      /* Without the image's disk there is nothing to size a template by; the start reports it. */
      if (l.rootfs_bytes > 0)
        (void)vm_template_ensure (&vs, &l, NULL);
    }
  vm_settings_clear (&vs);
  return 0;
}

/* --- signal, top, exec (in the CLI, through the monitor) ---------------------------------------------------------- */

/* Only its monitor reaches a VM container's processes: when the monitor cannot be reached, the container has stopped
   (attach's own message would speak of attaching). */
static int
not_running (const struct container *c, isola_error_t *err)
{
  isola_error_release (err);
  return isola_error_fail (err, ESRCH, "container %s is not running", c->id);
}

static int
vm_signal (struct container *c, int sig, isola_error_t *err)
{
  if (!container_is_running (c) || container_is_restarting (c) || !container_monitor_alive (c))
    return not_running (c, err);
  /* Bounded: a monitor that does not answer (stopped, wedged) is an error, not a hang. */
  int ret = container_signal_monitor (c, sig, err);
  if (ret < 0 && !container_monitor_alive (c))
    return not_running (c, err);
  return ret;
}

static const char *const ps_header[] = { "UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD" };

/* QMP stop and cont on ID/qmp.sock: the whole VM (its vCPUs) stops; the monitor and the channel stay. */
static int
vm_pause (struct container *c, bool paused, isola_error_t *err)
{
  cleanup_close int dirfd = open (c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return isola_error_make (err, errno, "open `%s`", c->dir);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  snprintf (addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/qmp.sock", dirfd);
  cleanup_close int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect (fd, (struct sockaddr *)&addr, sizeof addr) < 0)
    return isola_error_make (err, errno, "connect to the VM's QMP socket `%s/qmp.sock`", c->dir);
  cleanup_free struct qmp *q = xcalloc (1, sizeof *q);
  int ret = qmp_connect (q, fd, QMP_TIMEOUT_MS, err);
  if (ret == 0)
    ret = qmp_execute (q, paused ? "stop" : "cont", NULL, -1, NULL, err);
  return ret;
}

/* A request for the agent through the monitor (ATTACH_RESOURCES or ATTACH_NETWORK, answered by the agent with
   reply_type): *reply is its answer, whose "Error" has already become the error. */
static int
agent_request (struct container *c, uint8_t type, uint8_t reply_type, json_t *request, json_t **reply,
               isola_error_t *err)
{
  if (container_is_paused (c))
    return isola_error_fail (err, EBUSY, "container %s is paused: its VM is stopped, unpause it first", c->id);
  cleanup_free char *text = json_dumps (request, JSON_COMPACT);
  struct attach_decoder dec;
  attach_decoder_init (&dec);
  cleanup_close int fd = -1;
  int ret = container_attach (c, &fd, &dec, err);
  if (ret == 0 && attach_send (fd, type, text, (uint32_t)strlen (text)) < 0)
    ret = isola_error_make (err, errno, "send the request to the monitor of %.12s", c->id);
  struct attach_frame f;
  while (ret == 0 && (ret = attach_client_read_frame (fd, &dec, &f)) == 0 && f.type != reply_type)
    ;
  if (ret < 0)
    {
      attach_decoder_clear (&dec);
      if (err && *err)
        return ret;
      /* A monitor that runs on but hung up knows no such request (an older isola's: it ends a connection that
         sends a type it does not know). */
      if (type == ATTACH_NETWORK && container_monitor_alive (c))
        return isola_error_fail (err, ENOTSUP,
                                 "the monitor of container %s cannot change its networks while it runs (it was started "
                                 "by an older isola: stop the container and start it again)",
                                 c->id);
      return not_running (c, err);
    }
  json_t *j = json_loadb ((const char *)f.payload, f.len, 0, NULL);
  attach_decoder_clear (&dec);
  if (!json_is_object (j))
    {
      json_decref (j);
      return isola_error_fail (err, EPROTO, "malformed answer from the VM's agent");
    }
  const char *e = json_string_value (json_object_get (j, "Error"));
  if (e)
    {
      ret = isola_error_fail (err, EINVAL, "%s", e);
      json_decref (j);
      return ret;
    }
  *reply = j;
  return 0;
}

static int
vm_update (struct container *c, json_t *host_config, isola_error_t *err)
{
  struct cgroup_limits l;
  cgroup_limits_from_host_config (host_config, &l);
  cleanup_json json_t *limits = json_object ();
  cgroup_limits_to_json (&l, limits);
  cleanup_json json_t *request = json_pack ("{s:O}", "Update", limits);
  cleanup_json json_t *reply = NULL;
  return agent_request (c, ATTACH_RESOURCES, ATTACH_RESOURCES_REPLY, request, &reply, err);
}

static int
vm_stats (struct container *c, struct cgroup_stats *out, isola_error_t *err)
{
  cleanup_json json_t *request = json_object ();
  cleanup_json json_t *reply = NULL;
  int ret = agent_request (c, ATTACH_RESOURCES, ATTACH_RESOURCES_REPLY, request, &reply, err);
  if (ret == 0)
    cgroup_stats_from_json (reply, out);
  /* The CPU figures are those of the VM's worker on the host (its cgroup: the vCPUs and the device emulation), what
     the host gives the container, as for a process container; memory, pids and I/O are the guest's. */
  struct cgroup_fs fs = { 0 };
  struct cgroup_stats host;
  cleanup_free char *cgroup_name = worker_cgroup_name (c);
  if (ret == 0 && cgroup_fs_detect ("/sys/fs/cgroup", &fs, NULL) == 0
      && cgroup_stats_read (&fs, cgroup_name, &host, NULL) == 0)
    {
      out->cpu_ns = host.cpu_ns, out->cpu_user_ns = host.cpu_user_ns, out->cpu_system_ns = host.cpu_system_ns;
      memcpy (out->percpu_ns, host.percpu_ns, sizeof host.percpu_ns);
      out->n_percpu = host.n_percpu;
    }
  cgroup_fs_clear (&fs);
  return ret;
}

/* A stopped VM lists nothing: its agent runs only when the VM does. */
static int
vm_top (struct container *c, json_t **rows, isola_error_t *err)
{
  if (container_is_paused (c))
    return isola_error_fail (err, EBUSY, "container %s is paused: its VM is stopped, unpause it to list its processes",
                             c->id);
  struct attach_decoder dec;
  attach_decoder_init (&dec);
  cleanup_close int fd = -1;
  int ret = container_attach (c, &fd, &dec, err);
  if (ret == 0 && attach_send (fd, ATTACH_PS, NULL, 0) < 0)
    ret = isola_error_make (err, errno, "ask the monitor of %.12s for its processes", c->id);
  struct attach_frame f;
  while (ret == 0 && (ret = attach_client_read_frame (fd, &dec, &f)) == 0 && f.type != ATTACH_PS_REPLY)
    ;
  if (ret < 0)
    {
      attach_decoder_clear (&dec);
      return err && *err ? ret : not_running (c, err);
    }
  json_error_t jerr;
  json_t *list = json_loadb ((const char *)f.payload, f.len, 0, &jerr);
  attach_decoder_clear (&dec);
  if (!json_is_array (list))
    {
      json_decref (list);
      return isola_error_fail (err, EPROTO, "malformed process list from the VM");
    }
  json_t *out = json_array ();
  json_t *header = json_array ();
  for (size_t i = 0; i < ARRAY_SIZE (ps_header); i++)
    json_array_append_new (header, json_string (ps_header[i]));
  json_array_append_new (out, header);
  json_array_extend (out, list);
  json_decref (list);
  *rows = out;
  return 0;
}

/* What the agent needs for an exec: the process as the host's exec would make it (nsexec.c's rules). */
static int
exec_json (const struct container *c, const struct exec_request *req, json_t **out, isola_error_t *err)
{
  json_t *host = container_host_config (c);
  uint64_t caps = 0;
  struct runspec_rlimits r = { 0 };
  int ret = nsexec_caps (host, req->privileged, &caps, err);
  if (ret == 0)
    ret = runspec_rlimits_parse (host, &r, err);
  if (ret < 0)
    return ret;
  runspec_rlimits_add_inherited (&r);
  json_t *rlimits = vm_rlimits_json (&r);
  runspec_rlimits_clear (&r);
  cleanup_strv char **env = nsexec_env (c, req);
  /* Byte for byte, also what is not UTF-8 */
  json_t *args = jbytes_exact_array (req->argv), *envj = jbytes_exact_array (env);
  const char *user = req->user && req->user[0] ? req->user : container_user (c);
  const char *cwd = req->cwd && req->cwd[0] ? req->cwd : container_working_dir (c);
  *out = json_pack ("{s:o, s:o, s:s, s:s, s:b, s:b, s:b, s:i, s:i, s:I, s:b, s:o}", "Args", args, "Env", envj, "User",
                    user ? user : "", "Cwd", cwd && cwd[0] ? cwd : "/", "Tty", req->io.tty, "OpenStdin",
                    req->interactive, "Detach", req->detach, "Rows", (int)req->io.rows, "Cols", (int)req->io.cols,
                    "CapKeep", (json_int_t)caps, "NoNewPrivileges", runspec_no_new_privileges (host), "Rlimits",
                    rlimits);
  if (*out)
    {
      cleanup_strv char **groups = nsmode_group_add (host);
      json_object_set_new (*out, "GroupAdd", vm_strv_json (groups));
      json_object_set_new (*out, "ExecID", json_string (req->exec_id ? req->exec_id : ""));
      if (req->untar_dir)
        json_object_set_new (*out, "Untar", json_string (req->untar_dir));
    }
  return *out ? 0 : isola_error_fail (err, ENOMEM, "the exec request");
}

static int
vm_exec_session (struct container *c, const struct exec_request *req, int *fd_out, struct attach_decoder *dec,
                 isola_error_t *err)
{
  if (req->argv == NULL || req->argv[0] == NULL)
    return isola_error_fail (err, EINVAL, "no command specified");
  cleanup_json json_t *j = NULL;
  int ret = exec_json (c, req, &j, err);
  if (ret < 0)
    return ret;
  cleanup_close int fd = -1;
  ret = container_attach (c, &fd, dec, err);
  if (ret < 0)
    return not_running (c, err);
  cleanup_free char *text = json_dumps (j, JSON_COMPACT);
  if (strlen (text) > ATTACH_PAYLOAD_MAX)
    return isola_error_fail (err, E2BIG, "the exec request is too large");
  if (attach_send (fd, ATTACH_EXEC, text, (uint32_t)strlen (text)) < 0)
    return isola_error_make (err, errno, "send the exec request to the monitor of %.12s", c->id);
  *fd_out = take_fd (&fd);
  return 0;
}

/* The VM died with its monitor (PR_SET_PDEATHSIG) or was ended by it; what stays on the host is its files, its
   network's redirections (vm_net.h), its network (the namespace network_attach made, its veth, lease, firewall
   rules and DNS entries: as a process container's) and its worker's cgroup, removed here (and whether the kernel's
   OOM killer ended the worker).  The redirections go first: they live in the namespace that detaching removes. */
static int
vm_cleanup (struct container *c, bool *oom_killed, isola_error_t *err)
{
  cleanup_free char *netns = vm_netns_of (c);
  if (netns)
    (void)vm_net_release (netns, NULL);
  cleanup_free char *cgroup_name = worker_cgroup_name (c);
  int ret = cgroup_release ("/sys/fs/cgroup", cgroup_name, oom_killed, err);
  int net = network_detach_container (c, ret < 0 ? NULL : err);
  return ret < 0 ? ret : net;
}

static unsigned
vm_max_networks (const struct container *c)
{
  return (unsigned)vm_nics_of (c);
}

/* A network connected to or disconnected from the running VM (network/connect.h): the spare NIC's tap wired to
   the new interface, or its tap unwired, then the agent told what its NICs are now (NETWORK), so that it brings the
   NIC up with its address and routes, or down; a default route that moved to another network moves in the guest
   too.  A connect that the guest refuses is unwired again (connect then undoes the rest). */
static int
vm_running_network_changed (struct container *c, const char *ifname, bool connected, isola_error_t *err)
{
  cleanup_free char *netns = network_netns_path (c);
  if (netns == NULL)
    return isola_error_fail (err, ESRCH, "container %.12s has no network namespace", c->id);
  cleanup_json json_t *config = NULL;
  int ret = vm_net_change (netns, ifname, connected, &config, err);
  if (ret < 0)
    return ret;
  cleanup_json json_t *request = json_pack ("{s:O}", "Network", config);
  cleanup_json json_t *reply = NULL;
  ret = agent_request (c, ATTACH_NETWORK, ATTACH_NETWORK_REPLY, request, &reply, err);
  if (ret < 0 && connected)
    (void)vm_net_change (netns, ifname, false, NULL, NULL);
  return ret;
}

/* --- the container's disk on the host (open_layer) ------------------------------------------------------------- */

#define FREEZE_LEASE_S 30 /* how long a frozen disk stays frozen without renewal */

static int
vm_freeze (struct container *c, bool freeze, isola_error_t *err)
{
  cleanup_json json_t *request
      = freeze ? json_pack ("{s:i}", "Freeze", FREEZE_LEASE_S) : json_pack ("{s:b}", "Thaw", 1);
  cleanup_json json_t *reply = NULL;
  return agent_request (c, ATTACH_RESOURCES, ATTACH_RESOURCES_REPLY, request, &reply, err);
}

/* A child that renews the freeze every third of the lease until it is killed (close_layer) or its parent dies. */
static pid_t
spawn_freeze_keeper (struct container *c)
{
  pid_t parent = getpid ();
  pid_t pid = fork ();
  if (pid != 0)
    return pid < 0 ? 0 : pid;
  (void)prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != parent)
    _exit (0);
  for (;;)
    {
      struct timespec nap = { FREEZE_LEASE_S / 3, 0 };
      nanosleep (&nap, NULL);
      if (vm_freeze (c, true, NULL) < 0)
        _exit (1);
    }
}

static void
vm_close_layer (struct container *c, struct driver_layer *l)
{
  if (l->mnt)
    {
      (void)umount2 (l->mnt, MNT_DETACH);
      (void)rmdir (l->mnt);
    }
  if (l->loop_fd >= 0)
    close (l->loop_fd);
  if (l->keeper > 0)
    {
      (void)kill (l->keeper, SIGKILL);
      (void)waitpid (l->keeper, NULL, 0);
    }
  if (l->frozen)
    (void)vm_freeze (c, false, NULL);
  free (l->mnt), free (l->upper), free (l->work);
  *l = (struct driver_layer){ .loop_fd = -1 };
}

/* A paused VM's agent cannot answer: it runs again just for the freeze, which then holds its disk still. */
static int
freeze_running (struct container *c, struct driver_layer *out, isola_error_t *err)
{
  bool paused = container_is_paused (c);
  int ret = paused ? vm_pause (c, false, err) : 0;
  if (ret == 0)
    {
      container_set_paused (c, false);
      ret = vm_freeze (c, true, err);
      container_set_paused (c, paused);
    }
  if (ret == 0)
    {
      out->frozen = true;
      out->keeper = spawn_freeze_keeper (c);
    }
  if (paused)
    {
      cleanup_error isola_error_t ignored = NULL;
      int r = vm_pause (c, true, ret < 0 ? &ignored : err);
      ret = ret < 0 ? ret : r;
    }
  return ret;
}

static int
vm_open_layer (struct container *c, bool writable, struct driver_layer *out, isola_error_t *err)
{
  *out = (struct driver_layer){ .loop_fd = -1 };
  cleanup_free char *disk = container_path (c, "upper.ext4");
  if (writable && container_is_running (c))
    return isola_error_fail (
        err, EBUSY, "copying into a running VM container is not supported yet: stop container %.12s first", c->id);
  int ret = container_is_running (c) ? freeze_running (c, out, err) : 0;
  if (ret == 0)
    ret = vm_disk_mount (disk, c->dir, writable, &out->mnt, &out->loop_fd, err);
  if (ret < 0)
    {
      vm_close_layer (c, out);
      return isola_error_wrap (err, ret, "read the files of container %.12s", c->id);
    }
  /* The agent makes upper/ at the first start: a container never started has no changes. */
  out->upper = xasprintf ("%s/upper", out->mnt);
  out->work = xasprintf ("%s/work", out->mnt);
  if (writable
      && ((mkdir (out->upper, 0755) < 0 && errno != EEXIST) || (mkdir (out->work, 0755) < 0 && errno != EEXIST)))
    {
      ret = isola_error_make (err, errno, "prepare the disk of container %.12s", c->id);
      vm_close_layer (c, out);
      return ret;
    }
  return 0;
}

const struct isola_driver driver_vm = {
  .name = "vm",
  .isolation = "hyperv",
  .default_network = "bridge",
  .networks
  = { .max_networks = VM_NICS, .max_networks_of = vm_max_networks, .running_changed = vm_running_network_changed },
  .create_resources = vm_create_resources,
  .prepare_start = vm_prepare_start,
  .start = vm_start,
  .signal = vm_signal,
  .pause = vm_pause,
  .update = vm_update,
  .stats = vm_stats,
  .top = vm_top,
  .cleanup = vm_cleanup,
  .exec_session = vm_exec_session,
  .open_layer = vm_open_layer,
  .close_layer = vm_close_layer,
};

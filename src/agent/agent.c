/* isola-agent: PID 1 of a VM container's guest, the only program of the VM's initramfs besides isola-init.

   It talks to the container's monitor on the host over the virtio-serial port named "isola.agent" (vmproto.h,
   docs/VMPROTO.md): after HELLO both ways, START describes the container.  The agent mounts the image's erofs disk
   and the container's ext4 disk, combines them with overlayfs, and starts the container's first process with the
   same code that process isolation uses on the host (spawn.c: namespaces, mounts, user, capabilities, seccomp,
   rlimits), inside a cgroup of the guest that carries the memory, CPU and pids limits.  Then it relays: output to
   the host, input, terminal sizes and signals to the processes, `exec` processes (nsexec.c, as on the host) and
   process listings.  When the first process exits it reports the exit, unmounts the writable disk and powers the
   VM off.

   Everything runs in one poll loop; the agent never blocks on the host for long, and what it queues for the host
   is bounded (it stops reading a process's output while the queue is full). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/random.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "base/jbytes.h"
#include "base/json.h"
#include "base/sealed_exe.h"
#include "base/util.h"
#include "proto/vmproto.h"
#include "sandbox/cgroup.h"
#include "sandbox/nsexec.h"
#include "sandbox/seccomp_program.h"
#include "sandbox/spawn.h"

#ifndef BLKFLSBUF
#define BLKFLSBUF _IO (0x12, 97) /* <linux/fs.h>, which clashes with <sys/mount.h> */
#endif

#define PORT_NAME "isola.agent"
#define RUN_DIR   "/run/isola"
/* The table of processes grows as execs come (detached ones stay in it until they end); past this many at once an
   exec is refused with a clear error rather than the guest running out of descriptors or memory. */
#define MAX_PROCS      4096
#define PROCS_TEXT_(n) #n
#define PROCS_TEXT(n)  PROCS_TEXT_ (n)
#define CGROUP_NAME    "container"
/* A process's output: pipes of 1 MiB read 256 KiB at a time and sent at once, so that under TCG (where each system
   call and switch between the process and the agent is emulated) a MiB of output takes a few of each, not dozens. */
#define OUTPUT_PIPE_SIZE (1024 * 1024)
#define OUTPUT_READ_MAX  (256 * 1024)

/* The main process, or an exec. */
struct proc
{
  bool used;
  uint32_t stream;
  pid_t pid;    /* main: the container's first process; exec: the runner that waits for the command */
  int out, err; /* output to relay, -1 once closed; with a terminal, out is its master */
  int in;       /* input: pipe or terminal master; -1 without */
  int console;  /* receives the terminal master; -1 once received or without a terminal */
  int report;   /* exec: the runner's failure report; -1 once read */
  bool tty;
  bool exited;
  int status;     /* wait status */
  bool failed;    /* FAILED was sent: no EXIT follows */
  bool announced; /* STARTED or FAILED went out: the command's output may follow it */
  bool paused;    /* the host asked for no more output for now (PAUSE) */
  /* Input the process has not taken yet: written as `in` accepts it, each byte acknowledged (STDIN_ACK) once
     written, so the host never has more than a window of it on its way (VMPROTO_STDIN_WINDOW). */
  uint8_t *inbuf;
  size_t in_head, in_len, in_cap;
  bool in_eof; /* CLOSE_STDIN came: close `in` once inbuf is written */
};

struct agent
{
  int chan;
  struct vmproto_decoder dec;
  struct vmproto_queue q;
  struct proc *procs; /* [0] is the main process; n_procs slots, unused ones zeroed */
  size_t n_procs;
  json_t *start;
  struct seccomp_program *seccomp;
  struct cgroup_fs cgfs;
  struct cgroup_placement cgroup;
  char **cgroup_procs; /* what an exec joins */
  bool shutting_down;
  long long frozen_until; /* the container's disk is frozen (FIFREEZE) until then (monotonic ms); 0: not frozen */
};

/* --- logging before and besides the channel --------------------------------------------------------------------- */

static void __attribute__ ((format (printf, 1, 2))) say (const char *fmt, ...)
{
  char buf[512];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  dprintf (2, "isola-agent: %s\n", buf);
}

/* With isola.trace=1 on the kernel command line (the host's ISOLA_TRACE), the agent's steps go to the console, and
   so to the VM's console.log, with the time since boot: the guest's half of a start-up timeline. */
static bool tracing;

static void
agent_trace (const char *what)
{
  struct timespec ts;
  if (!tracing || clock_gettime (CLOCK_BOOTTIME, &ts) < 0)
    return;
  dprintf (2, "[%5ld.%06ld] isola-agent: %s\n", (long)ts.tv_sec, ts.tv_nsec / 1000, what);
}

static __attribute__ ((noreturn)) void
power_off (void)
{
  sync ();
  /* Without ACPI the VM cannot power itself off: a reboot, which QEMU's -no-reboot turns into its exit.  Refused
     only where we are not the guest's init but a container's PID 1 that made its command /proc/self/exe (main's
     test cannot tell the two apart): end, rather than hold that container up for good. */
  if (reboot (RB_AUTOBOOT) < 0)
    _exit (1);
  for (;;)
    pause ();
}

/* --- the guest --------------------------------------------------------------------------------------------------- */

static int
mount_early (const char *source, const char *target, const char *type, unsigned long flags, const char *data)
{
  if (mkdir (target, 0755) < 0 && errno != EEXIST)
    return -errno;
  if (mount (source, target, type, flags, data) < 0 && errno != EBUSY)
    return -errno;
  return 0;
}

/* /proc, unless it is there already: the agent may mount it before leaving the initramfs (to load modules, to run
   from a sealed copy), and a second mount would stack over the first. */
static int
mount_proc (void)
{
  if (access ("/proc/self", F_OK) == 0)
    return 0;
  return mount_early ("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/* The options the kernel's command line gives module name ("virtio_mmio.device=..." → "device=..."), as modprobe
   would pass them: that is how QEMU's microvm describes its virtio-mmio devices without ACPI. */
static char *
module_options (const char *name)
{
  cleanup_free char *cmdline = NULL;
  if (read_file_bounded ("/proc/cmdline", 65536, &cmdline, NULL, NULL) < 0)
    return xstrdup ("");
  size_t n = strlen (name);
  char *out = xstrdup ("");
  for (char *tok = strtok (cmdline, " \n"); tok; tok = strtok (NULL, " \n"))
    if (strncmp (tok, name, n) == 0 && tok[n] == '.')
      {
        char *more = xasprintf ("%s%s%s", out, out[0] ? " " : "", tok + n + 1);
        free (out);
        out = more;
      }
  return out;
}

/* A guest kernel with its drivers as modules (Debian's cloud kernel) gets them in the initramfs, with the order to
   load them in (scripts/mkinitramfs.sh); isola's own kernel has everything built in and no such list. */
static void
load_modules (void)
{
  cleanup_file FILE *f = fopen ("/lib/modules/load.order", "re");
  if (f == NULL)
    return;
  (void)mount_proc ();
  char line[512];
  while (fgets (line, sizeof line, f))
    {
      line[strcspn (line, "\n")] = '\0';
      /* The module's name: its file's, without .ko, with '_' for '-'. */
      const char *base = strrchr (line, '/') ? strrchr (line, '/') + 1 : line;
      cleanup_free char *name = xstrdup (base);
      name[strcspn (name, ".")] = '\0';
      for (char *p = name; *p; p++)
        if (*p == '-')
          *p = '_';
      cleanup_free char *options = module_options (name);
      cleanup_close int fd = open (line, O_RDONLY | O_CLOEXEC);
      if (fd < 0 || (syscall (SYS_finit_module, fd, options, 0) < 0 && errno != EEXIST))
        say ("cannot load module %s: %s", line, strerror (errno));
    }
}

/* pivot_root refuses to move the initramfs (rootfs, a mount without a parent) away, and spawn.c pivots into each
   container's root: so the agent makes a bind mount of the initramfs its root, which has rootfs as its parent
   (what switch_root achieves by copying). */
static void
leave_initramfs (void)
{
  if (mkdir ("/newroot", 0755) < 0 && errno != EEXIST)
    return;
  if (mount ("/", "/newroot", NULL, MS_BIND | MS_REC, NULL) < 0 || chdir ("/newroot") < 0
      || mount (".", "/", NULL, MS_MOVE, NULL) < 0 || chroot (".") < 0 || chdir ("/") < 0)
    say ("cannot leave the initramfs: %s", strerror (errno));
}

static int
setup_guest (void)
{
  const unsigned long nodev = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  int ret = mount_proc ();
  if (ret == 0)
    ret = mount_early ("sysfs", "/sys", "sysfs", nodev, NULL);
  if (ret == 0)
    ret = mount_early ("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  if (ret == 0)
    ret = mount_early ("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  if (ret == 0)
    ret = mount_early ("cgroup2", "/sys/fs/cgroup", "cgroup2", nodev, NULL);
  if (ret < 0)
    return ret;
  (void)mkdir (RUN_DIR, 0700);
  /* The container shares the VM's network namespace: the VM is its isolation.  lo is up; the NIC comes up at START
     when the container has a network (net.c). */
  int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr = { 0 };
  strcpy (ifr.ifr_name, "lo");
  if (s >= 0 && ioctl (s, SIOCGIFFLAGS, &ifr) == 0)
    {
      ifr.ifr_flags |= IFF_UP;
      (void)ioctl (s, SIOCSIFFLAGS, &ifr);
    }
  if (s >= 0)
    close (s);
  return 0;
}

/* /sys/class/virtio-ports/vportNpM/name names each port; devtmpfs makes /dev/vportNpM. */
static int
open_channel (void)
{
  for (int tries = 0; tries < 500; tries++)
    {
      cleanup_dir DIR *d = opendir ("/sys/class/virtio-ports");
      for (struct dirent *e; d && (e = readdir (d)) != NULL;)
        {
          if (e->d_name[0] == '.')
            continue;
          char path[300];
          snprintf (path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
          cleanup_free char *name = NULL;
          if (read_file_bounded (path, 256, &name, NULL, NULL) < 0 || strncmp (name, PORT_NAME, strlen (PORT_NAME)))
            continue;
          snprintf (path, sizeof path, "/dev/%s", e->d_name);
          int fd = open (path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
          if (fd >= 0)
            return fd;
        }
      struct timespec nap = { 0, 10 * 1000 * 1000 };
      nanosleep (&nap, NULL);
    }
  return -ENOENT;
}

/* The virtio-blk disk whose serial the host set (/sys/block/vdX/serial), as /dev/vdX. */
static char *
find_disk (const char *serial)
{
  cleanup_dir DIR *d = opendir ("/sys/block");
  for (struct dirent *e; d && (e = readdir (d)) != NULL;)
    {
      if (strncmp (e->d_name, "vd", 2) != 0)
        continue;
      char path[300];
      snprintf (path, sizeof path, "/sys/block/%s/serial", e->d_name);
      cleanup_free char *s = NULL;
      if (read_file_bounded (path, 256, &s, NULL, NULL) == 0 && strncmp (s, serial, strlen (serial)) == 0)
        return xasprintf ("/dev/%s", e->d_name);
    }
  return NULL;
}

/* --- sending --------------------------------------------------------------------------------------------------- */

static void
queue (struct agent *a, struct vmproto_msg m)
{
  if (vmproto_queue_push (&a->q, &m) < 0)
    say ("cannot queue a %s frame", vmproto_type_name (m.type));
}

static void
send_failed (struct agent *a, uint32_t stream, int errnum, int code, const char *msg)
{
  if (errnum <= 0 || errnum > 4095)
    errnum = EIO;
  queue (a, vmproto_msg_failed (stream, errnum, (uint32_t)code, msg));
}

/* Blocks until everything queued has reached the host (or the channel broke). */
static void
flush_all (struct agent *a)
{
  for (int rounds = 0; vmproto_queue_pending (&a->q) && rounds < 10000; rounds++)
    {
      int r = vmproto_queue_flush (&a->q, a->chan);
      if (r <= 0)
        return;
      struct pollfd p = { .fd = a->chan, .events = POLLOUT };
      (void)poll (&p, 1, 100);
    }
}

/* --- the container's setup, from START --------------------------------------------------------------------------- */

static const char *
jstr (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static char **
jstrv (json_t *o, const char *key)
{
  char **v = xcalloc (1, sizeof (char *));
  size_t i;
  json_t *s;
  json_array_foreach (json_object_get (o, key), i, s)
  {
    if (json_is_string (s))
      strv_push (&v, json_string_value (s));
  }
  return v;
}

/* {"Flags": N, "Program": "hex of struct sock_filter[]"} */
static int
seccomp_from_json (json_t *j, struct seccomp_program **out, isola_error_t *err)
{
  *out = NULL;
  if (j == NULL || json_is_null (j))
    return 0;
  const char *hex = jstr (j, "Program");
  size_t len = hex ? strlen (hex) : 0;
  if (len == 0 || len % 16 != 0 || len / 16 > SECCOMP_PROGRAM_MAX)
    return isola_error_fail (err, EINVAL, "malformed seccomp program");
  cleanup_free uint8_t *bytes = xmalloc (len / 2);
  for (size_t i = 0; i < len / 2; i++)
    {
      int hi = hex_digit_value (hex[2 * i]), lo = hex_digit_value (hex[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return isola_error_fail (err, EINVAL, "malformed seccomp program");
      bytes[i] = (uint8_t)(hi << 4 | lo);
    }
  *out = seccomp_program_new ((unsigned)json_integer_value (json_object_get (j, "Flags")), bytes, len / 16);
  return 0;
}

static int
write_run_file (const char *name, const char *content, char **path, isola_error_t *err)
{
  *path = xasprintf (RUN_DIR "/%s", name);
  return write_file_replace (*path, content ? content : "", content ? strlen (content) : 0, 0644, err);
}

/* A VM restored from a template (driver/vm_template.h) has stand-in files behind the disks it was booted with.  The
   kernel drops a disk's cached blocks when its last opener closes it, and nothing opened these since the partition
   scan; dropping them again costs nothing and does not depend on that. */
static void
forget_cached_blocks (const char *disk)
{
  cleanup_close int fd = open (disk, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ioctl (fd, BLKFLSBUF, 0) < 0)
    say ("cannot drop the cached blocks of %s: %s", disk, strerror (errno));
}

/* The image's erofs disk and the container's ext4 disk, by the serials the host gave them. */
static int
mount_disks (isola_error_t *err)
{
  cleanup_free char *rootfs = find_disk ("isola-rootfs");
  cleanup_free char *upper = find_disk ("isola-upper");
  if (rootfs == NULL || upper == NULL)
    return isola_error_fail (err, ENODEV, "the VM's disks are missing");
  forget_cached_blocks (rootfs);
  forget_cached_blocks (upper);
  if (mount_early (rootfs, RUN_DIR "/lower", "erofs", MS_RDONLY, NULL) < 0)
    return isola_error_make (err, errno, "mount the image's root file system (%s)", rootfs);
  /* noinit_itable: the disk is a sparse file on the host, whose unused inode tables already read as zeros. */
  if (mount_early (upper, RUN_DIR "/disk", "ext4", MS_NOATIME, "noinit_itable") < 0)
    return isola_error_make (err, errno, "mount the container's disk (%s)", upper);
  if ((mkdir (RUN_DIR "/disk/upper", 0755) < 0 && errno != EEXIST)
      || (mkdir (RUN_DIR "/disk/work", 0755) < 0 && errno != EEXIST)
      || (mkdir (RUN_DIR "/rootfs", 0755) < 0 && errno != EEXIST))
    return isola_error_make (err, errno, "prepare the container's disk");
  return 0;
}

/* Mounts: {"Type": "9p"|"tmpfs"|"guest", "Source", "Destination", "ReadOnly", "Options"}.  A 9p share is mounted
   under RUN_DIR first and bound from there by spawn, like any bind mount. */
static int hex_bytes (const char *hex, uint8_t *out, size_t n);

/* A file the host passed by content (isola-runtime's file binds, VM_FILE_MOUNTS): a copy of it under RUN_DIR, which
   spawn binds at its destination.  Writes go to the copy, in the guest. */
static int
write_file_mount (json_t *e, size_t i, char **path, isola_error_t *err)
{
  const char *hex = jstr (e, "ContentHex");
  size_t len = hex ? strlen (hex) / 2 : 0;
  cleanup_free uint8_t *data = xmalloc (len + 1);
  if (hex == NULL || hex_bytes (hex, data, len) < 0)
    return isola_error_fail (err, EINVAL, "malformed file mount %zu", i);
  (void)mkdir (RUN_DIR "/files", 0700);
  *path = xasprintf (RUN_DIR "/files/%zu", i);
  mode_t mode = (mode_t)json_integer_value (json_object_get (e, "Mode")) & 07777;
  int ret = write_file_replace (*path, data, len, mode, err);
  if (ret == 0 && chmod (*path, mode) < 0)
    ret = isola_error_make (err, errno, "chmod %s", *path);
  return ret;
}

static int
build_mounts (json_t *list, struct spawn_mount **out, size_t *n_out, isola_error_t *err)
{
  size_t n = json_array_size (list);
  struct spawn_mount *m = xcalloc (n + 1, sizeof *m);
  *out = m;
  *n_out = 0;
  for (size_t i = 0; i < n; i++)
    {
      json_t *e = json_array_get (list, i);
      const char *type = jstr (e, "Type"), *src = jstr (e, "Source"), *dst = jstr (e, "Destination");
      bool ro = json_is_true (json_object_get (e, "ReadOnly"));
      if (type == NULL || dst == NULL)
        return isola_error_fail (err, EINVAL, "malformed mount %zu", i);
      m[i] = (struct spawn_mount){ .destination = xstrdup (dst), .readonly = ro };
      if (strcmp (type, "tmpfs") == 0)
        m[i].tmpfs_options = xstrdup (jstr (e, "Options") ? jstr (e, "Options") : "");
      else if (strcmp (type, "guest") == 0 && src)
        m[i].source = xstrdup (src);
      else if (strcmp (type, "file") == 0)
        {
          int ret = write_file_mount (e, i, (char **)&m[i].source, err);
          if (ret < 0)
            {
              *n_out = i + 1;
              return ret;
            }
        }
      else if (strcmp (type, "9p") == 0 && src)
        {
          cleanup_free char *dir = xasprintf (RUN_DIR "/binds/%zu", i);
          (void)mkdir (RUN_DIR "/binds", 0700);
          /* cache=mmap: writable shared mappings (sqlite's WAL index, LMDB) need it, and it caches nothing else,
             so the host's changes stay visible at once as with the default cache=none. */
          if (mount_early (src, dir, "9p", ro ? MS_RDONLY : 0, "trans=virtio,version=9p2000.L,msize=262144,cache=mmap")
              < 0)
            return isola_error_make (err, errno, "mount the host directory for `%s`", dst);
          m[i].source = take_ptr (&dir);
        }
      else
        return isola_error_fail (err, EINVAL, "malformed mount %zu", i);
      *n_out = i + 1;
    }
  return 0;
}

static int
build_rlimits (json_t *list, struct spawn_rlimit **out, size_t *n_out)
{
  size_t n = json_array_size (list);
  *out = xcalloc (n + 1, sizeof **out);
  for (size_t i = 0; i < n; i++)
    {
      json_t *r = json_array_get (list, i);
      (*out)[i] = (struct spawn_rlimit){ .resource = (int)json_integer_value (json_array_get (r, 0)),
                                         .soft = (uint64_t)json_integer_value (json_array_get (r, 1)),
                                         .hard = (uint64_t)json_integer_value (json_array_get (r, 2)) };
    }
  *n_out = n;
  return 0;
}

/* The guest's cgroup for the container: the limits, the device rules (spawn.c), and what `exec` joins.  Only a
   privileged container without limits has nothing for one to do in a VM of its own (enabling the controllers costs
   ~40 ms under TCG): it stays in the root. */
static int
make_cgroup (struct agent *a, isola_error_t *err)
{
  struct cgroup_limits l;
  cgroup_limits_from_host_config (a->start, &l);
  a->cgroup.dir_fd = -1;
  if (!cgroup_limits_any (&l) && json_is_true (json_object_get (a->start, "Privileged")))
    {
      cgroup_placement_stay ("/sys/fs/cgroup", &a->cgroup);
      a->cgroup_procs = xcalloc (1, sizeof (char *));
      return 0;
    }
  int ret = cgroup_fs_detect ("/sys/fs/cgroup", &a->cgfs, err);
  if (ret == 0)
    ret = cgroup_create (&a->cgfs, CGROUP_NAME, &l, &a->cgroup, err);
  if (ret == 0 && cgroup_procs_paths (&a->cgfs, CGROUP_NAME, &a->cgroup_procs) < 0)
    a->cgroup_procs = xcalloc (1, sizeof (char *));
  return ret;
}

struct stdio_ends
{
  int child[3]; /* the process's ends: stdin, stdout, stderr (or the console socket's) */
};

static void
close_child_ends (struct stdio_ends *e)
{
  for (int i = 0; i < 3; i++)
    if (e->child[i] >= 0)
      close (e->child[i]);
}

/* Pipes, or with a terminal a socket over which the process sends the master of its own terminal. */
static int
make_stdio (struct proc *p, bool tty, bool open_stdin, struct spawn_spec *sp, struct stdio_ends *e, isola_error_t *err)
{
  e->child[0] = e->child[1] = e->child[2] = -1;
  p->out = p->err = p->in = p->console = p->report = -1;
  p->tty = tty;
  if (tty)
    {
      int sv[2];
      if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return isola_error_make (err, errno, "socketpair");
      p->console = sv[0];
      e->child[0] = sv[1];
      sp->tty = true;
      sp->console_socket = sv[1];
      sp->stdin_fd = sp->stdout_fd = sp->stderr_fd = -1;
      return 0;
    }
  int out[2], errp[2], in[2] = { -1, -1 };
  if (pipe2 (out, O_CLOEXEC) < 0 || pipe2 (errp, O_CLOEXEC) < 0 || (open_stdin && pipe2 (in, O_CLOEXEC) < 0))
    return isola_error_make (err, errno, "pipe");
  p->out = out[0], p->err = errp[0], p->in = in[1];
  (void)fcntl (p->out, F_SETPIPE_SZ, OUTPUT_PIPE_SIZE), (void)fcntl (p->err, F_SETPIPE_SZ, OUTPUT_PIPE_SIZE);
  fcntl (p->out, F_SETFL, O_NONBLOCK), fcntl (p->err, F_SETFL, O_NONBLOCK);
  if (p->in >= 0)
    fcntl (p->in, F_SETFL, O_NONBLOCK);
  sp->stdin_fd = in[0], sp->stdout_fd = out[1], sp->stderr_fd = errp[1];
  e->child[0] = in[0], e->child[1] = out[1], e->child[2] = errp[1];
  return 0;
}

struct launch
{
  struct spawn_spec spec;
  char **argv, **env;
  struct spawn_mount *mounts;
  size_t n_mounts;
  struct spawn_rlimit *rlimits;
  char *hostname_file, *hosts_file, *resolv_file;
  char **group_add, **sysctls;
};

static void
launch_clear (struct launch *l)
{
  strv_free (l->argv);
  strv_free (l->env);
  for (size_t i = 0; i < l->n_mounts; i++)
    {
      free ((char *)l->mounts[i].source);
      free ((char *)l->mounts[i].destination);
      free ((char *)l->mounts[i].tmpfs_options);
    }
  free (l->mounts);
  free (l->rlimits);
  free (l->hostname_file), free (l->hosts_file), free (l->resolv_file);
  strv_free (l->group_add);
  strv_free (l->sysctls);
}

/* What START and EXEC share: the process itself. */
static void
process_fields (json_t *j, struct launch *l)
{
  struct spawn_spec *sp = &l->spec;
  l->argv = jbytes_strv (json_object_get (j, "Args"));
  l->env = jbytes_strv (json_object_get (j, "Env"));
  sp->argv = l->argv;
  sp->env = l->env;
  sp->cwd = jstr (j, "Cwd");
  sp->user = jstr (j, "User");
  sp->cap_keep = (uint64_t)json_integer_value (json_object_get (j, "CapKeep"));
  sp->no_new_privileges = json_is_true (json_object_get (j, "NoNewPrivileges"));
  sp->signals_blocked = json_is_true (json_object_get (j, "Init"));
  sp->tty_rows = (unsigned short)json_integer_value (json_object_get (j, "Rows"));
  sp->tty_cols = (unsigned short)json_integer_value (json_object_get (j, "Cols"));
  l->group_add = jstrv (j, "GroupAdd");
  sp->group_add = l->group_add;
  size_t n_rlimits = 0;
  build_rlimits (json_object_get (j, "Rlimits"), &l->rlimits, &n_rlimits);
  sp->rlimits = l->rlimits, sp->n_rlimits = n_rlimits;
}

static int
hex_bytes (const char *hex, uint8_t *out, size_t n)
{
  if (hex == NULL || strlen (hex) != 2 * n)
    return -EINVAL;
  for (size_t i = 0; i < n; i++)
    {
      int hi = hex_digit_value (hex[2 * i]), lo = hex_digit_value (hex[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return -EINVAL;
      out[i] = (uint8_t)(hi << 4 | lo);
    }
  return 0;
}

/* START's clock and seed.  A VM restored from a template wakes with the template's clock and random pool, the
   same in every clone: the clock is set from the host's, and the pool gets the host's fresh seed mixed in and
   credited, and the kernel's generator is reseeded from it, before any process of the container exists. */
static void
adopt_host_time_and_seed (json_t *start)
{
  json_t *t = json_object_get (start, "Time");
  if (json_is_array (t))
    {
      struct timespec ts = { .tv_sec = (time_t)json_integer_value (json_array_get (t, 0)),
                             .tv_nsec = (long)json_integer_value (json_array_get (t, 1)) };
      if (ts.tv_sec > 0 && clock_settime (CLOCK_REALTIME, &ts) < 0)
        say ("cannot set the clock: %s", strerror (errno));
    }
  struct
  {
    struct rand_pool_info info;
    uint8_t seed[32];
  } pool = { .info = { .entropy_count = 256, .buf_size = 32 } };
  if (hex_bytes (jstr (start, "Seed"), pool.seed, sizeof pool.seed) < 0)
    return;
  cleanup_close int fd = open ("/dev/urandom", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ioctl (fd, RNDADDENTROPY, &pool) < 0)
    say ("cannot seed the random pool: %s", strerror (errno));
  /* ENODATA: the generator was not ready before, and the credit above has just seeded it. */
  else if (ioctl (fd, RNDRESEEDCRNG) < 0 && errno != ENODATA)
    say ("cannot reseed the random generator: %s", strerror (errno));
}

static int
start_main (struct agent *a, isola_error_t *err)
{
  adopt_host_time_and_seed (a->start);
  json_t *j = a->start;
  struct launch l = { 0 };
  struct spawn_spec *sp = &l.spec;
  struct proc *p = &a->procs[0];
  struct stdio_ends ends = { { -1, -1, -1 } };
  *p = (struct proc){
    .used = true, .stream = VMPROTO_STREAM_MAIN, .out = -1, .err = -1, .in = -1, .console = -1, .report = -1
  };
  process_fields (j, &l);
  int ret = seccomp_from_json (json_object_get (j, "Seccomp"), &a->seccomp, err);
  if (ret == 0)
    ret = agent_net_configure (json_object_get (j, "Network"), false, err);
  agent_trace ("network configured");
  if (ret == 0)
    ret = mount_disks (err);
  agent_trace ("disks mounted");
  if (ret == 0)
    ret = build_mounts (json_object_get (j, "Mounts"), &l.mounts, &l.n_mounts, err);
  if (ret == 0)
    ret = make_cgroup (a, err);
  if (ret == 0 && (ret = write_run_file ("hostname", jstr (j, "EtcHostname"), &l.hostname_file, err)) == 0
      && (ret = write_run_file ("hosts", jstr (j, "EtcHosts"), &l.hosts_file, err)) == 0)
    ret = write_run_file ("resolv.conf", jstr (j, "EtcResolv"), &l.resolv_file, err);
  if (ret == 0)
    ret = make_stdio (p, json_is_true (json_object_get (j, "Tty")), json_is_true (json_object_get (j, "OpenStdin")), sp,
                      &ends, err);
  if (ret == 0)
    {
      sp->lower = RUN_DIR "/lower";
      sp->upper = RUN_DIR "/disk/upper";
      sp->work = RUN_DIR "/disk/work";
      sp->rootfs = RUN_DIR "/rootfs";
      sp->readonly_rootfs = json_is_true (json_object_get (j, "ReadonlyRootfs"));
      sp->etc_hostname = l.hostname_file, sp->etc_hosts = l.hosts_file, sp->etc_resolv = l.resolv_file;
      sp->hostname = jstr (j, "Hostname");
      sp->host_network = true;
      sp->shm_size = json_integer_value (json_object_get (j, "ShmSize"));
      sp->no_shm = json_is_true (json_object_get (j, "NoShm"));
      sp->cgroupns.mode = json_is_true (json_object_get (j, "HostCgroupns")) ? SPAWN_NS_HOST : SPAWN_NS_PRIVATE;
      l.sysctls = jstrv (j, "Sysctls");
      sp->sysctls = l.sysctls;
      sp->mounts = l.mounts, sp->n_mounts = l.n_mounts;
      sp->seccomp = a->seccomp;
      sp->cgroup = &a->cgroup;
      sp->all_devices = json_is_true (json_object_get (j, "Privileged"));
      ret = spawn_container (sp, &p->pid, err);
    }
  close_child_ends (&ends);
  launch_clear (&l);
  if (ret == 0 && p->console >= 0)
    {
      int master = fd_receive (p->console, false);
      close (p->console);
      p->console = -1;
      if (master < 0)
        {
          kill (p->pid, SIGKILL);
          return isola_error_make (err, -master, "receive the container's terminal");
        }
      fcntl (master, F_SETFL, O_NONBLOCK);
      p->out = master;
      p->in = json_is_true (json_object_get (j, "OpenStdin")) ? master : -1;
    }
  return ret;
}

/* --- exec -------------------------------------------------------------------------------------------------------- */

struct exec_report
{
  int32_t errnum;
  int32_t code;
  char msg[1024];
};

static struct proc *
find_proc (struct agent *a, uint32_t stream)
{
  for (size_t i = 0; i < a->n_procs; i++)
    if (a->procs[i].used && a->procs[i].stream == stream)
      return &a->procs[i];
  return NULL;
}

/* The runner is a child of ours that does what `isola exec` does on the host (nsexec_run_in) and exits with the
   command's code, also for a detached one (-d), so that the host learns of its end (dockerd's exec_die); a failure
   before the command runs comes back over the report pipe. */
/* In a runner: our copies of the agent's ends (another process's stdin above all) would keep them from ever
   closing. */
static void
close_agent_ends (struct agent *a)
{
  for (size_t i = 0; i < a->n_procs; i++)
    {
      struct proc *q = &a->procs[i];
      int *fds[] = { &q->out, &q->err, &q->in, &q->console, &q->report };
      for (size_t k = 0; q->used && k < ARRAY_SIZE (fds); k++)
        if (*fds[k] >= 0)
          (void)close (*fds[k]);
    }
  (void)close (a->chan);
}

static __attribute__ ((noreturn)) void
exec_runner (struct agent *a, struct spawn_spec *sp, int report_fd)
{
  close_agent_ends (a);
  isola_error_t err = NULL;
  int code = 125;
  if (nsexec_run_in (a->procs[0].pid, a->cgroup_procs, sp, false, report_fd, &code, &err) < 0)
    {
      struct exec_report r = { .errnum = err ? err->status : EIO, .code = code };
      snprintf (r.msg, sizeof r.msg, "%s", err && err->msg ? err->msg : "exec failed");
      (void)write_all (report_fd, &r, sizeof r);
    }
  _exit (code);
}

/* The runner of an "Untar" request (cp into the container): the tar on its stdin extracted, the errors on its
   stderr, exit 0 or 1. */
static __attribute__ ((noreturn)) void
untar_runner (struct agent *a, const char *dir, struct spawn_spec *sp, int report_fd)
{
  close_agent_ends (a);
  (void)write_all (report_fd, "S", 1);
  (void)close (report_fd);
  isola_error_t err = NULL;
  int ret = agent_untar (a->procs[0].pid, dir, sp->stdin_fd, &err);
  if (ret < 0)
    dprintf (sp->stderr_fd, "%s\n", err && err->msg ? err->msg : "cannot extract the archive");
  _exit (ret < 0 ? 1 : 0);
}

/* An unused slot for an exec, the table grown (doubled) when all are taken; NULL at MAX_PROCS.  Growing moves the
   table: callers hold no struct proc pointer across it (relay keeps indices). */
static struct proc *
free_proc (struct agent *a)
{
  for (size_t i = 1; i < a->n_procs; i++)
    if (!a->procs[i].used)
      return &a->procs[i];
  if (a->n_procs >= MAX_PROCS)
    return NULL;
  size_t n = a->n_procs * 2 < MAX_PROCS ? a->n_procs * 2 : MAX_PROCS;
  a->procs = xrealloc (a->procs, n * sizeof *a->procs);
  memset (a->procs + a->n_procs, 0, (n - a->n_procs) * sizeof *a->procs);
  struct proc *p = &a->procs[a->n_procs];
  a->n_procs = n;
  return p;
}

static void
start_exec (struct agent *a, uint32_t stream, const uint8_t *json, size_t len)
{
  struct proc *p = free_proc (a);
  cleanup_json json_t *j = json_loadb ((const char *)json, len, 0, NULL);
  if (p == NULL || j == NULL || find_proc (a, stream) || a->procs[0].exited)
    {
      send_failed (a, stream,
                   p == NULL            ? EAGAIN
                   : a->procs[0].exited ? ESRCH
                                        : EINVAL,
                   126,
                   p == NULL ? "too many exec processes in the container (" PROCS_TEXT (MAX_PROCS) " at once)"
                   : a->procs[0].exited ? "the container is not running"
                                        : "malformed exec request");
      return;
    }
  struct launch l = { 0 };
  process_fields (j, &l);
  l.spec.seccomp = a->seccomp;
  bool detach = json_is_true (json_object_get (j, "Detach"));
  struct stdio_ends ends = { { -1, -1, -1 } };
  isola_error_t err = NULL;
  *p = (struct proc){ .used = true, .stream = stream };
  int rep[2] = { -1, -1 };
  int ret = 0;
  p->out = p->err = p->in = p->console = p->report = -1;
  /* Detached, the command has /dev/null for stdio. */
  if (detach)
    l.spec.stdin_fd = l.spec.stdout_fd = l.spec.stderr_fd = -1;
  else
    ret = make_stdio (p, json_is_true (json_object_get (j, "Tty")), json_is_true (json_object_get (j, "OpenStdin")),
                      &l.spec, &ends, &err);
  if (ret == 0 && pipe2 (rep, O_CLOEXEC) < 0)
    ret = isola_error_make (&err, errno, "pipe");
  pid_t pid = ret == 0 ? fork () : -1;
  if (ret == 0 && pid < 0)
    ret = isola_error_make (&err, errno, "fork");
  const char *untar = jstr (j, "Untar");
  if (pid == 0 && untar)
    {
      close (rep[0]);
      untar_runner (a, untar, &l.spec, rep[1]);
    }
  if (pid == 0)
    {
      close (rep[0]);
      exec_runner (a, &l.spec, rep[1]);
    }
  close_child_ends (&ends);
  if (rep[1] >= 0)
    close (rep[1]);
  launch_clear (&l);
  if (ret < 0)
    {
      send_failed (a, stream, err->status, 125, err->msg);
      isola_error_release (&err);
      if (rep[0] >= 0)
        close (rep[0]);
      if (p->out >= 0)
        close (p->out);
      if (p->err >= 0)
        close (p->err);
      if (p->in >= 0)
        close (p->in);
      if (p->console >= 0)
        close (p->console);
      *p = (struct proc){ 0 };
      return;
    }
  p->pid = pid;
  p->report = rep[0];
  (void)fcntl (p->report, F_SETFL, O_NONBLOCK);
}

/* --- relaying ---------------------------------------------------------------------------------------------------- */

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

static void
proc_close_input (struct proc *p)
{
  if (p->in >= 0 && p->in != p->out)
    close (p->in);
  p->in = -1;
  free (p->inbuf);
  p->inbuf = NULL;
  p->in_head = p->in_len = p->in_cap = 0;
  p->in_eof = false;
}

/* Gives the host back the right to send n more bytes of the process's input. */
static void
ack_input (struct agent *a, struct proc *p, size_t n)
{
  while (n > 0)
    {
      uint32_t chunk = n > VMPROTO_STDIN_WINDOW ? VMPROTO_STDIN_WINDOW : (uint32_t)n;
      queue (a, vmproto_msg_stdin_ack (p->stream, chunk));
      n -= chunk;
    }
}

/* The process's input is over (it closed it, or the host did): what is left unwritten is dropped, as a pipe's
   reader that went away drops it, and acknowledged so that the host keeps sending (and dropping) the rest. */
static void
drop_input (struct agent *a, struct proc *p)
{
  ack_input (a, p, p->in_len);
  proc_close_input (p);
}

/* Writes what the process's input takes now, without blocking: the rest waits for POLLOUT. */
static void
write_input (struct agent *a, struct proc *p)
{
  while (p->in >= 0 && p->in_len > 0)
    {
      ssize_t n = write (p->in, p->inbuf + p->in_head, p->in_len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      if (n <= 0)
        {
          drop_input (a, p);
          return;
        }
      p->in_head += (size_t)n;
      p->in_len -= (size_t)n;
      ack_input (a, p, (size_t)n);
    }
  if (p->in_len == 0)
    p->in_head = 0;
  if (p->in_eof && p->in_len == 0)
    proc_close_input (p);
}

static void
take_input (struct agent *a, struct proc *p, const uint8_t *data, size_t len)
{
  if (p->in < 0)
    {
      ack_input (a, p, len); /* no input, or no more: dropped */
      return;
    }
  if (p->in_head + p->in_len + len > p->in_cap)
    {
      if (p->in_len)
        memmove (p->inbuf, p->inbuf + p->in_head, p->in_len);
      p->in_head = 0;
      if (p->in_len + len > p->in_cap)
        {
          p->in_cap = 2 * (p->in_len + len); /* at most twice a window: the host keeps to it */
          p->inbuf = xrealloc (p->inbuf, p->in_cap);
        }
    }
  memcpy (p->inbuf + p->in_head + p->in_len, data, len);
  p->in_len += len;
  write_input (a, p);
}

/* The guest's memory in bytes (MemTotal), 0 when unknown. */
static long long
guest_memory (void)
{
  cleanup_free char *buf = NULL;
  if (read_file_bounded ("/proc/meminfo", 65536, &buf, NULL, NULL) < 0)
    return 0;
  char *p = strstr (buf, "MemTotal:");
  return p ? atoll (p + 9) * 1024 : 0;
}

/* Kernel threads share the root cgroup with the container's processes; some of them could be moved, and must not. */
static bool
kernel_thread (long pid)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%ld/stat", pid);
  cleanup_free char *stat = NULL;
  if (read_file_bounded (path, 4096, &stat, NULL, NULL) < 0)
    return true;
  /* after "pid (comm) ": state ppid pgrp session tty_nr tpgid flags (PF_KTHREAD = 0x00200000) */
  char *p = strrchr (stat, ')');
  unsigned long flags = 0;
  if (p == NULL || sscanf (p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
    return true;
  return (flags & 0x00200000UL) != 0;
}

/* A container that ran without limits is in the guest's root cgroup (make_cgroup): its limits need a cgroup of its
   own, which all its processes (everything but the agent and kernel threads, which cannot move) join. */
static int
move_to_own_cgroup (struct agent *a, const struct cgroup_limits *l, isola_error_t *err)
{
  int ret = cgroup_fs_detect ("/sys/fs/cgroup", &a->cgfs, err);
  struct cgroup_placement pl = { .dir_fd = -1 };
  if (ret == 0)
    ret = cgroup_create (&a->cgfs, CGROUP_NAME, l, &pl, err);
  if (ret < 0)
    {
      cgroup_fs_clear (&a->cgfs);
      return ret;
    }
  cgroup_placement_clear (&pl);
  cleanup_free char *procs = NULL;
  cleanup_free char *to = xasprintf ("/sys/fs/cgroup/isola/%s/cgroup.procs", CGROUP_NAME);
  for (int round = 0; round < 3; round++)
    {
      free (procs);
      procs = NULL;
      if (read_file_bounded ("/sys/fs/cgroup/cgroup.procs", 1 << 20, &procs, NULL, NULL) < 0)
        break;
      for (char *p = procs; *p;)
        {
          char *end;
          long pid = strtol (p, &end, 10);
          if (end == p)
            break;
          p = end + strspn (end, "\n");
          if (pid == getpid () || kernel_thread (pid))
            continue;
          char num[32];
          snprintf (num, sizeof num, "%ld", pid);
          cleanup_close int fd = open (to, O_WRONLY | O_CLOEXEC);
          if (fd >= 0)
            (void)!write (fd, num, strlen (num));
        }
    }
  strv_free (a->cgroup_procs);
  if (cgroup_procs_paths (&a->cgfs, CGROUP_NAME, &a->cgroup_procs) < 0)
    a->cgroup_procs = xcalloc (1, sizeof (char *));
  return 0;
}

static json_t *freeze_request (struct agent *a, json_t *req);

/* RESOURCES: {"Update": limits} sets the container's cgroup limits (`isola update`), the reply {}; {} reads its usage
   (`isola stats`), the reply cgroup_stats_to_json's, with the VM's memory as the limit of an unlimited container.
   {"Freeze": seconds} and {"Thaw": true}: freeze_request.  {"Error": text} when it fails. */
static json_t *
resources_request (struct agent *a, const void *payload, size_t len)
{
  cleanup_json json_t *req = json_loadb (payload, len, 0, NULL);
  json_t *update = json_object_get (req, "Update");
  cleanup_error isola_error_t err = NULL;
  if (!json_is_object (req))
    return json_pack ("{s:s}", "Error", "malformed RESOURCES request");
  if (json_object_get (req, "Freeze") || json_object_get (req, "Thaw"))
    return freeze_request (a, req);
  if (update == NULL)
    {
      /* Usage: the container's own cgroup has it (the guest's root cgroup has no memory.current) */
      struct cgroup_limits none = { 0 };
      struct cgroup_stats st;
      if ((!a->cgfs.root && move_to_own_cgroup (a, &none, &err) < 0)
          || cgroup_stats_read (&a->cgfs, CGROUP_NAME, &st, &err) < 0)
        return json_pack ("{s:s}", "Error", err ? err->msg : "cannot read the container's cgroup");
      if (st.memory_limit == 0 || st.memory_limit > (uint64_t)guest_memory ())
        st.memory_limit = (uint64_t)guest_memory ();
      return cgroup_stats_to_json (&st);
    }
  struct cgroup_limits l;
  cgroup_limits_from_host_config (update, &l);
  long long total = guest_memory ();
  if (l.memory > 0 && total > 0 && l.memory > total)
    {
      cleanup_free char *msg
          = xasprintf ("the memory limit of %lld MiB is above the VM's memory (%lld MiB): stop the container, update "
                       "it and start it again, in a VM of the new size",
                       (long long)(l.memory >> 20), total >> 20);
      return json_pack ("{s:s}", "Error", msg);
    }
  int ret = a->cgfs.root ? cgroup_update (&a->cgfs, CGROUP_NAME, &l, &err) : move_to_own_cgroup (a, &l, &err);
  if (ret < 0)
    return json_pack ("{s:s}", "Error", err ? err->msg : "cannot change the container's cgroup");
  return json_object ();
}

/* The host reads a running container's disk (diff, commit, export): FIFREEZE flushes it whole (journal included)
   and holds every write until FITHAW.  A freeze is a lease that the host renews while it reads, so that a host
   process that dies mid-read leaves the container frozen for at most the lease. */
static int
disk_freeze (struct agent *a, bool freeze)
{
  if (freeze == (a->frozen_until != 0))
    return 0;
  cleanup_close int fd = open (RUN_DIR "/disk", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ioctl (fd, freeze ? FIFREEZE : FITHAW, 0) < 0)
    return -errno;
  a->frozen_until = freeze ? 1 : 0;
  return 0;
}

static void
thaw_expired (struct agent *a)
{
  if (a->frozen_until != 0 && monotonic_ms () >= a->frozen_until && disk_freeze (a, false) < 0)
    say ("cannot thaw the container's disk: %s", strerror (errno));
}

/* {"Freeze": seconds} freezes the disk (or extends the lease), {"Thaw": true} thaws it: the reply {}. */
static json_t *
freeze_request (struct agent *a, json_t *req)
{
  json_t *lease = json_object_get (req, "Freeze");
  bool freeze = json_is_integer (lease) && json_integer_value (lease) > 0 && json_integer_value (lease) <= 3600;
  if (!freeze && !json_is_true (json_object_get (req, "Thaw")))
    return json_pack ("{s:s}", "Error", "malformed freeze request");
  int r = disk_freeze (a, freeze);
  if (r < 0)
    {
      cleanup_free char *msg
          = xasprintf ("cannot %s the container's disk: %s", freeze ? "freeze" : "thaw", strerror (-r));
      return json_pack ("{s:s}", "Error", msg);
    }
  if (freeze)
    a->frozen_until = monotonic_ms () + json_integer_value (lease) * 1000;
  return json_object ();
}

static void
handle_frame (struct agent *a, const struct vmproto_frame *f)
{
  struct proc *p = find_proc (a, f->stream);
  uint32_t sig;
  uint16_t rows, cols;
  switch (f->type)
    {
    case VMPROTO_STDIN:
      if (p)
        take_input (a, p, f->payload, f->len);
      break;
    case VMPROTO_CLOSE_STDIN:
      /* With a terminal, end of input is a ^D sent as data.  A pipe closes after the input before it. */
      if (p && !p->tty)
        {
          p->in_eof = true;
          write_input (a, p);
        }
      break;
    case VMPROTO_RESIZE:
      if (p && p->tty && p->out >= 0 && vmproto_get_resize (f, &rows, &cols) == 0)
        {
          struct winsize ws = { .ws_row = rows, .ws_col = cols };
          (void)ioctl (p->out, TIOCSWINSZ, &ws);
        }
      break;
    case VMPROTO_PAUSE:
    case VMPROTO_RESUME:
      /* The host's reader of this process is behind: its output waits in its pipe, and the process blocks on it,
         instead of filling the channel that every other process shares. */
      if (p)
        p->paused = f->type == VMPROTO_PAUSE;
      break;
    case VMPROTO_SIGNAL:
      if (p && !p->exited && p->pid > 0 && vmproto_get_signal (f, &sig) == 0)
        (void)kill (p->pid, (int)sig);
      break;
    case VMPROTO_EXEC:
      start_exec (a, f->stream, f->payload, f->len);
      break;
    case VMPROTO_PS:
      {
        cleanup_json json_t *rows_json = a->procs[0].exited ? json_array () : agent_ps (a->procs[0].pid);
        cleanup_free char *text = json_dumps (rows_json, JSON_COMPACT);
        queue (a, vmproto_msg_ps_reply (f->stream, text, strlen (text)));
        break;
      }
    case VMPROTO_RESOURCES:
      {
        cleanup_json json_t *reply = resources_request (a, f->payload, f->len);
        cleanup_free char *text = json_dumps (reply, JSON_COMPACT);
        queue (a, vmproto_msg_resources_reply (f->stream, text, strlen (text)));
        break;
      }
    case VMPROTO_NETWORK:
      {
        cleanup_json json_t *req = json_loadb ((const char *)f->payload, f->len, 0, NULL);
        cleanup_error isola_error_t err = NULL;
        cleanup_json json_t *reply = NULL;
        if (!json_is_object (json_object_get (req, "Network")))
          reply = json_pack ("{s:s}", "Error", "malformed NETWORK request");
        else if (agent_net_configure (json_object_get (req, "Network"), true, &err) < 0)
          reply = json_pack ("{s:s}", "Error", err ? err->msg : "cannot change the VM's network");
        else
          reply = json_object ();
        cleanup_free char *text = json_dumps (reply, JSON_COMPACT);
        queue (a, vmproto_msg_network_reply (f->stream, text, strlen (text)));
        break;
      }
    case VMPROTO_SHUTDOWN:
      a->shutting_down = true;
      if (a->procs[0].pid > 0 && !a->procs[0].exited)
        (void)kill (a->procs[0].pid, SIGKILL);
      break;
    default:
      break;
    }
}

/* Returns false at end of file. */
static bool
relay_output (struct agent *a, struct proc *p, int fd, uint16_t type)
{
  static uint8_t buf[OUTPUT_READ_MAX];
  ssize_t n = read (fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0)
    return false;
  if (vmproto_queue_data (&a->q, type, p->stream, buf, (size_t)n) < 0)
    say ("output of stream %u lost", p->stream);
  /* On its way now rather than after another poll. */
  (void)vmproto_queue_flush (&a->q, a->chan);
  return true;
}

/* The runner writes "S" once the command runs, or a whole exec_report when it could not: then STARTED or FAILED
   goes out.  Returns false once the pipe is done with. */
static bool
read_report (struct proc *p, struct agent *a)
{
  struct exec_report r;
  ssize_t n = read (p->report, &r, sizeof r);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return true;
  if (n == 1 && ((char *)&r)[0] == 'S')
    {
      queue (a, vmproto_msg_started (p->stream, (uint32_t)p->pid));
      p->announced = true;
      return true;
    }
  if (n == (ssize_t)sizeof r)
    {
      r.msg[sizeof r.msg - 1] = '\0';
      int code = r.code >= 125 && r.code <= 127 ? r.code : spawn_failure_exit_code (r.errnum);
      send_failed (a, p->stream, r.errnum, code, r.msg);
      p->failed = p->announced = true;
    }
  close_fd (&p->report);
  return false;
}

/* Reaps what has exited; whether any child is left (of PID 1: any process of the guest but the kernel's). */
static bool
reap (struct agent *a, int sigfd)
{
  struct signalfd_siginfo si;
  while (read (sigfd, &si, sizeof si) > 0)
    ;
  int status;
  pid_t pid;
  /* PID 1 reaps every orphan of the guest; only ours are reported. */
  while ((pid = waitpid (-1, &status, WNOHANG)) > 0)
    for (size_t i = 0; i < a->n_procs; i++)
      if (a->procs[i].used && !a->procs[i].exited && a->procs[i].pid == pid)
        {
          a->procs[i].exited = true;
          a->procs[i].status = status;
        }
  return pid == 0;
}

/* A process is done once it exited and its output is drained: then its EXIT goes out, last on its stream. */
static void
finish_done (struct agent *a)
{
  for (size_t i = 0; i < a->n_procs; i++)
    {
      struct proc *p = &a->procs[i];
      if (!p->used || !p->exited)
        continue;
      while (p->report >= 0 && read_report (p, a))
        {
          struct pollfd pfd = { .fd = p->report, .events = POLLIN };
          if (poll (&pfd, 1, 0) <= 0)
            break;
        }
      close_fd (&p->report);
      /* A terminal outlives its process when a background child keeps it: drain what is there, no more. */
      if (p->tty && p->out >= 0)
        {
          while (relay_output (a, p, p->out, VMPROTO_STDOUT))
            {
              struct pollfd pfd = { .fd = p->out, .events = POLLIN };
              if (poll (&pfd, 1, 0) <= 0)
                break;
            }
          if (p->in == p->out)
            p->in = -1;
          close_fd (&p->out);
        }
      if (p->out >= 0 || p->err >= 0)
        continue;
      proc_close_input (p);
      close_fd (&p->console);
      if (i == 0)
        continue; /* the main process's EXIT goes last, after shut_down */
      /* An exec runner exits with the command's code. */
      if (!p->failed)
        queue (a, vmproto_msg_exit (p->stream, (uint32_t)p->status, 0));
      *p = (struct proc){ 0 };
    }
}

enum
{
  P_CHAN,
  P_SIG,
  P_FIRST,
};

static bool
main_done (const struct agent *a)
{
  const struct proc *p = &a->procs[0];
  return p->exited && p->out < 0 && p->err < 0;
}

static void
relay (struct agent *a, int sigfd)
{
  /* Sized anew each round for the table as it is; a poll entry names its process by index, since a request handled
     in the round may grow (move) the table. */
  cleanup_free struct pollfd *fds = NULL;
  cleanup_free struct poll_owner
  {
    size_t proc;
    int which; /* 0 out, 1 err, 2 console, 3 report, 4 input to write */
  } *who = NULL;
  size_t cap = 0;
  while (!main_done (a))
    {
      if (cap < 5 * a->n_procs)
        {
          cap = 5 * a->n_procs;
          fds = xrealloc (fds, (P_FIRST + cap) * sizeof *fds);
          who = xrealloc (who, cap * sizeof *who);
        }
      size_t n = P_FIRST;
      bool room = vmproto_queue_pending (&a->q) < VMPROTO_QUEUE_HIGH;
      fds[P_CHAN] = (struct pollfd){ .fd = a->chan, .events = POLLIN | (vmproto_queue_pending (&a->q) ? POLLOUT : 0) };
      fds[P_SIG] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
      for (size_t i = 0; i < a->n_procs; i++)
        {
          struct proc *p = &a->procs[i];
          if (!p->used)
            continue;
          /* The runner says "S" only once the command runs, so the command's first output can be there before it:
             output waits for STARTED, which the client must see first. */
          bool take = room && !p->paused && (p->announced || p->report < 0);
          int fdv[5] = { take ? p->out : -1, take ? p->err : -1, p->console, p->report, p->in_len ? p->in : -1 };
          for (int k = 0; k < 5; k++)
            if (fdv[k] >= 0)
              {
                who[n - P_FIRST].proc = i, who[n - P_FIRST].which = k;
                fds[n++] = (struct pollfd){ .fd = fdv[k], .events = k == 4 ? POLLOUT : POLLIN };
              }
        }
      if (poll (fds, n, 1000) < 0 && errno != EINTR)
        break;
      thaw_expired (a);
      if (fds[P_CHAN].revents & POLLOUT)
        (void)vmproto_queue_flush (&a->q, a->chan);
      if (fds[P_CHAN].revents & (POLLIN | POLLHUP | POLLERR))
        {
          ssize_t r = vmproto_decoder_read (&a->dec, a->chan);
          struct vmproto_frame f;
          int got;
          while ((got = vmproto_decoder_next (&a->dec, &f)) == 1)
            handle_frame (a, &f);
          if (got < 0)
            say ("protocol error from the host: ending the container");
          if (got < 0 || (r < 0 && r != -EAGAIN && r != -EINTR))
            {
              /* Nobody is listening any more: end the container rather than run it unsupervised. */
              if (a->procs[0].pid > 0 && !a->procs[0].exited)
                kill (a->procs[0].pid, SIGKILL);
            }
        }
      if (fds[P_SIG].revents & POLLIN)
        reap (a, sigfd);
      for (size_t i = P_FIRST; i < n; i++)
        {
          struct proc *p = &a->procs[who[i - P_FIRST].proc];
          if (!(fds[i].revents & (POLLIN | POLLOUT | POLLHUP | POLLERR)) || !p->used)
            continue;
          /* The slot may hold another process by now (one ended and an exec took its place in this round): an
             entry is only for the descriptor it was made for, or the new process's output would go out before its
             STARTED. */
          int now[5] = { p->out, p->err, p->console, p->report, p->in };
          int which = who[i - P_FIRST].which;
          if (now[which] != fds[i].fd || (which < 2 && !p->announced && p->report >= 0))
            continue;
          switch (who[i - P_FIRST].which)
            {
            case 0:
              if (p->out >= 0 && !relay_output (a, p, p->out, VMPROTO_STDOUT))
                {
                  if (p->in == p->out)
                    p->in = -1;
                  close_fd (&p->out);
                }
              break;
            case 1:
              if (p->err >= 0 && !relay_output (a, p, p->err, VMPROTO_STDERR))
                close_fd (&p->err);
              break;
            case 2:
              if (p->console >= 0)
                {
                  int master = fd_receive (p->console, true);
                  if (master >= 0)
                    {
                      fcntl (master, F_SETFL, O_NONBLOCK);
                      p->out = master;
                      p->in = master;
                      close_fd (&p->console);
                    }
                  else if (master != -EAGAIN)
                    close_fd (&p->console);
                }
              break;
            case 3:
              if (p->report >= 0 && !read_report (p, a))
                close_fd (&p->report);
              break;
            case 4:
              write_input (a, p);
              break;
            }
        }
      finish_done (a);
      (void)vmproto_queue_flush (&a->q, a->chan);
    }
}

/* --- start-up and the end ------------------------------------------------------------------------------------------
 */

/* HELLO both ways, then START. */
static int
handshake (struct agent *a)
{
  queue (a, vmproto_msg_hello ("isola-agent " ISOLA_VERSION));
  flush_all (a);
  bool hello = false;
  for (;;)
    {
      struct vmproto_frame f;
      int got;
      while ((got = vmproto_decoder_next (&a->dec, &f)) == 1)
        {
          if (!hello)
            {
              isola_error_t err = NULL;
              if (vmproto_check_hello (&f, "host", &err) < 0)
                {
                  say ("%s", err->msg);
                  isola_error_release (&err);
                  return -EPROTO;
                }
              hello = true;
            }
          else if (f.type == VMPROTO_START)
            {
              a->start = json_loadb ((const char *)f.payload, f.len, 0, NULL);
              return a->start ? 0 : -EINVAL;
            }
        }
      if (got < 0)
        return got;
      struct pollfd p = { .fd = a->chan, .events = POLLIN };
      if (poll (&p, 1, -1) < 0 && errno != EINTR)
        return -errno;
      ssize_t r = vmproto_decoder_read (&a->dec, a->chan);
      if (r == 0)
        {
          /* virtio-serial reads 0 while the host end is not connected yet. */
          struct timespec nap = { 0, 5 * 1000 * 1000 };
          nanosleep (&nap, NULL);
        }
      else if (r < 0 && r != -EAGAIN && r != -EINTR)
        return (int)r;
    }
}

/* How long the processes that SIGKILL did not end may keep the exit from the host (see await_all_gone). */
#define SHUT_DOWN_REAP_MS 10000

/* kill(2) only queues SIGKILL: what holds the writable disk (a process's open files, mappings and working
   directory on the rootfs overlay, and its mount namespace, which holds the overlay and the binds over it) is let go
   in the process's exit, which may come well after.  Every process of the guest is a child of ours once orphaned
   (we are PID 1), and a container's PID namespace ends only after all of its members: once no child is left,
   nothing holds the disk.  Bounded, because a process in uninterruptible sleep (a hung share, a frozen cgroup)
   may never exit, and the host must still hear the exit code. */
static void
await_all_gone (struct agent *a, int sigfd)
{
  long long deadline = monotonic_ms () + SHUT_DOWN_REAP_MS;
  while (reap (a, sigfd))
    {
      long long left = deadline - monotonic_ms ();
      if (left <= 0)
        {
          say ("processes still exiting %d s after SIGKILL: the disk is detached, not unmounted",
               SHUT_DOWN_REAP_MS / 1000);
          return;
        }
      struct pollfd p = { .fd = sigfd, .events = POLLIN };
      (void)poll (&p, 1, (int)left);
    }
}

/* Once the main process is gone: every process of the container dies, the writable disk is unmounted so that all
   of it is on the host's file before the host hears of the exit, and the exit goes out last. */
static void
shut_down (struct agent *a, int sigfd)
{
  (void)disk_freeze (a, false);
  (void)kill (-1, SIGKILL);
  await_all_gone (a, sigfd);
  (void)umount2 (RUN_DIR "/rootfs", MNT_DETACH);
  if (umount (RUN_DIR "/disk") < 0)
    {
      say ("unmount of the container's disk: %s", strerror (errno));
      (void)umount2 (RUN_DIR "/disk", MNT_DETACH);
    }
  sync ();
  flush_all (a);
}

/* The port's writes only hand the bytes to the host's side of the virtqueue: powering off now could lose what QEMU
   has not passed on yet, EXIT included.  The host answers the main process's EXIT (or FAILED) with SHUTDOWN once it
   has it, and so everything before it.  However long a busy host takes to get there, the agent waits: ending the
   VM is the host's call (it ends one that does not power off soon after SHUTDOWN, and the VM dies with it). */
static void
await_host (struct agent *a)
{
  flush_all (a);
  for (;;)
    {
      struct pollfd p = { .fd = a->chan, .events = POLLIN | (vmproto_queue_pending (&a->q) ? POLLOUT : 0) };
      if (poll (&p, 1, -1) <= 0)
        continue;
      if (p.revents & POLLOUT)
        (void)vmproto_queue_flush (&a->q, a->chan);
      ssize_t r = vmproto_decoder_read (&a->dec, a->chan);
      if (r == 0 || (r < 0 && r != -EAGAIN && r != -EINTR))
        return;
      struct vmproto_frame f;
      int got;
      while ((got = vmproto_decoder_next (&a->dec, &f)) == 1)
        if (f.type == VMPROTO_SHUTDOWN)
          return;
      if (got < 0)
        return;
    }
}

int
main (int argc, char **argv)
{
  (void)argc;
  /* Only the guest's init: a container that makes its command /proc/self/exe runs us, and must get nothing. */
  if (getpid () != 1)
    {
      fprintf (stderr, "isola-agent: runs only as the guest's init\n");
      return 127;
    }
  /* The container's processes are forked from the agent: it runs from a sealed copy of itself, so that a
     container that execs /proc/self/exe can neither run nor rewrite the agent's file (base/sealed_exe.h).  That
     needs /proc; the re-execution starts over here. */
  cleanup_error isola_error_t seal_err = NULL;
  if (mount_proc () < 0 || sealed_exe_ensure (argv, &seal_err) < 0)
    {
      say ("cannot run from a sealed copy of the agent: %s", seal_err ? seal_err->msg : strerror (errno));
      power_off ();
    }
  struct agent a = { .chan = -1, .n_procs = 16 };
  a.procs = xcalloc (a.n_procs, sizeof *a.procs);
  vmproto_decoder_init (&a.dec, VMPROTO_HOST);
  vmproto_queue_init (&a.q);
  signal (SIGPIPE, SIG_IGN);
  load_modules ();
  leave_initramfs ();
  cleanup_free char *cmdline = NULL;
  if (setup_guest () < 0)
    say ("setting up the guest failed: %s", strerror (errno));
  tracing = read_file_bounded ("/proc/cmdline", 65536, &cmdline, NULL, NULL) == 0 && strstr (cmdline, "isola.trace=1");
  agent_trace ("guest set up");
  a.chan = open_channel ();
  if (a.chan < 0)
    {
      say ("no virtio-serial port named " PORT_NAME);
      power_off ();
    }
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGCHLD);
  sigprocmask (SIG_BLOCK, &set, NULL);
  int sigfd = signalfd (-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  agent_trace ("channel open");
  if (handshake (&a) < 0)
    {
      say ("no valid START from the host");
      power_off ();
    }
  agent_trace ("START received");
  isola_error_t err = NULL;
  if (start_main (&a, &err) < 0)
    {
      int errnum = err ? err->status : EIO;
      send_failed (&a, VMPROTO_STREAM_MAIN, errnum, spawn_failure_exit_code (errnum), err ? err->msg : "start failed");
      shut_down (&a, sigfd);
      await_host (&a);
      power_off ();
    }
  agent_trace ("container started");
  queue (&a, vmproto_msg_started (VMPROTO_STREAM_MAIN, (uint32_t)a.procs[0].pid));
  (void)vmproto_queue_flush (&a.q, a.chan);
  relay (&a, sigfd);
  agent_trace ("container exited");
  /* Execs end with the container, as with process isolation: each is reported before the main exit. */
  for (size_t i = 1; i < a.n_procs; i++)
    if (a.procs[i].used && !a.procs[i].failed)
      queue (&a, vmproto_msg_exit (a.procs[i].stream, (uint32_t)(a.procs[i].exited ? a.procs[i].status : SIGKILL), 0));
  uint32_t flags = a.cgfs.root && cgroup_oom_killed (&a.cgfs, CGROUP_NAME) ? VMPROTO_EXIT_OOM : 0;
  shut_down (&a, sigfd);
  queue (&a, vmproto_msg_exit (VMPROTO_STREAM_MAIN, (uint32_t)a.procs[0].status, flags));
  await_host (&a);
  agent_trace ("powering off");
  power_off ();
}

/* VM launch: settings, accelerator, QEMU command line, START message (see vm_launch.h). */
#define _GNU_SOURCE
#include "driver/vm_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kvm.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/jbytes.h"
#include "base/json.h"
#include "base/sealed_exe.h"
#include "base/util.h"
#include "container/nsmode.h"
#include "container/runspec.h"
#include "driver/vm_disk.h"
#include "image/erofs.h"
#include "sandbox/caps.h"
#include "sandbox/cgroup.h"
#include "sandbox/seccomp_program.h"

#ifndef ISOLA_LIBDIR
#define ISOLA_LIBDIR "/usr/local/lib/isola"
#endif

/* --- settings -------------------------------------------------------------------------------------------------- */

/* vm/NAME beside our own binary (build/), else ISOLA_LIBDIR/NAME. */
static char *
default_vm_file (const char *name)
{
  cleanup_free char *rel = xasprintf ("vm/%s", name);
  char *p = path_beside_self (rel);
  if (p && access (p, R_OK) == 0)
    return p;
  free (p);
  return xasprintf ("%s/%s", ISOLA_LIBDIR, name);
}

static char *
setting (json_t *vm, const char *key, const char *env)
{
  const char *e = getenv (env);
  if (e && e[0])
    return xstrdup (e);
  const char *v = json_string_value (json_object_get (vm, key));
  return v && v[0] ? xstrdup (v) : NULL;
}

const char *
vm_detect_accel (const char **why)
{
  if (access ("/sys/module/kvm_pvm", F_OK) == 0)
    {
      *why = "/dev/kvm is kvm_pvm, a software-only nested KVM that cannot run a normal guest kernel";
      return "tcg";
    }
  cleanup_close int fd = open ("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    {
      *why = "/dev/kvm is not available";
      return "tcg";
    }
  if (ioctl (fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
    {
      *why = "/dev/kvm speaks another API version";
      return "tcg";
    }
  *why = "/dev/kvm works";
  return "kvm";
}

int
vm_host_cpus (void)
{
  cpu_set_t set;
  int n = sched_getaffinity (0, sizeof set, &set) == 0 ? CPU_COUNT (&set) : (int)sysconf (_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > VM_CPUS_MAX ? VM_CPUS_MAX : n;
}

/* "memory" ("2g", Docker's units) and "cpus" (a number), from the environment or config.json's "vm". */
static int
load_default_size (json_t *vm, struct vm_settings *out, isola_error_t *err)
{
  out->memory_mb = VM_MEMORY_DEFAULT_MB;
  out->cpus = vm_host_cpus ();
  cleanup_free char *memory = setting (vm, "memory", "ISOLA_VM_MEMORY");
  if (memory)
    {
      int64_t bytes = parse_memory_bytes (memory);
      if (bytes < (64 << 20))
        return isola_error_fail (err, EINVAL, "invalid VM memory \"%s\": must be at least 64m (e.g. \"2g\")", memory);
      out->memory_mb = (bytes + (1 << 20) - 1) >> 20;
    }
  cleanup_free char *cpus = setting (vm, "cpus", "ISOLA_VM_CPUS");
  json_t *cj = json_object_get (vm, "cpus");
  long long n = cpus ? strtoll (cpus, NULL, 10) : json_is_integer (cj) ? json_integer_value (cj) : out->cpus;
  if ((cpus && strspn (cpus, "0123456789") != strlen (cpus)) || (cj && !cpus && !json_is_integer (cj)) || n < 1
      || n > VM_CPUS_MAX)
    return isola_error_fail (err, EINVAL, "invalid VM cpus: must be a number from 1 to %d", VM_CPUS_MAX);
  out->cpus = (int)n;
  return 0;
}

int
vm_settings_load (const char *root, struct vm_settings *out, isola_error_t *err)
{
  *out = (struct vm_settings){ .boot_timeout_s = VM_BOOT_TIMEOUT_S };
  cleanup_json json_t *config = NULL;
  int ret = store_config_load (root, &config, err);
  if (ret < 0)
    return ret;
  json_t *vm = json_object_get (config, "vm");
  if ((ret = load_default_size (vm, out, err)) < 0)
    return ret;
  out->qemu = setting (vm, "qemu", "ISOLA_QEMU");
  if (out->qemu == NULL)
    out->qemu = xstrdup ("qemu-system-x86_64");
  out->kernel = setting (vm, "kernel", "ISOLA_VM_KERNEL");
  if (out->kernel == NULL)
    out->kernel = default_vm_file ("vmlinuz");
  out->initrd = setting (vm, "initrd", "ISOLA_VM_INITRD");
  if (out->initrd == NULL)
    out->initrd = default_vm_file ("initramfs.img");
  cleanup_free char *timeout = setting (vm, "boot_timeout", "ISOLA_VM_BOOT_TIMEOUT");
  json_t *t = json_object_get (vm, "boot_timeout");
  if (timeout)
    out->boot_timeout_s = atoi (timeout);
  else if (json_is_integer (t))
    out->boot_timeout_s = (int)json_integer_value (t);
  if (out->boot_timeout_s <= 0)
    out->boot_timeout_s = VM_BOOT_TIMEOUT_S;

  cleanup_free char *template = setting (vm, "template", "ISOLA_VM_TEMPLATE");
  json_t *tj = json_object_get (vm, "template");
  out->template
      = template ? !(strcmp (template, "off") == 0 || strcmp (template, "0") == 0 || strcmp (template, "false") == 0)
                 : !json_is_false (tj);
  cleanup_free char *uid_base = setting (vm, "worker_uid_base", "ISOLA_VM_WORKER_UID_BASE");
  json_t *ub = json_object_get (vm, "worker_uid_base");
  long long base = uid_base               ? strtoll (uid_base, NULL, 10)
                   : json_is_integer (ub) ? json_integer_value (ub)
                                          : VM_WORKER_UID_BASE;
  if ((uid_base && strspn (uid_base, "0123456789") != strlen (uid_base)) || (ub && !uid_base && !json_is_integer (ub))
      || base < 1 || base > (long long)UINT32_MAX - 1 - VM_WORKER_UID_SPAN)
    {
      vm_settings_clear (out);
      return isola_error_fail (err, EINVAL, "invalid VM worker_uid_base: must be a number from 1 to %lld",
                               (long long)UINT32_MAX - 1 - VM_WORKER_UID_SPAN);
    }
  out->worker_uid_base = (uint32_t)base;
  out->template_dir = setting (vm, "template_dir", "ISOLA_VM_TEMPLATE_DIR");
  if (out->template_dir == NULL)
    out->template_dir = xasprintf ("%s/%s", root, STORE_VM_TEMPLATES);
  cleanup_free char *acpi = setting (vm, "acpi", "ISOLA_VM_ACPI");
  out->acpi = (acpi && (strcmp (acpi, "on") == 0 || strcmp (acpi, "1") == 0 || strcmp (acpi, "true") == 0))
              || json_is_true (json_object_get (vm, "acpi"));
  cleanup_free char *accel = setting (vm, "accel", "ISOLA_VM_ACCEL");
  if (accel == NULL || strcmp (accel, "auto") == 0)
    {
      const char *why = NULL;
      out->accel = xstrdup (vm_detect_accel (&why));
      out->accel_why = xstrdup (why);
    }
  else if (strcmp (accel, "kvm") == 0 || strcmp (accel, "tcg") == 0)
    {
      out->accel = take_ptr (&accel);
      out->accel_why = xstrdup ("configured");
    }
  else
    {
      vm_settings_clear (out);
      return isola_error_fail (err, EINVAL, "invalid VM accelerator \"%s\": must be kvm, tcg or auto", accel);
    }
  if (access (out->kernel, R_OK) < 0 || access (out->initrd, R_OK) < 0)
    {
      int e = errno;
      isola_error_fail (err, e, "the VM's kernel `%s` or initramfs `%s` is missing (run `make vm`)", out->kernel,
                        out->initrd);
      vm_settings_clear (out);
      return -e;
    }
  return 0;
}

void
vm_settings_clear (struct vm_settings *s)
{
  free (s->qemu), free (s->kernel), free (s->initrd), free (s->accel), free (s->accel_why);
  free (s->template_dir);
  *s = (struct vm_settings){ 0 };
}

/* --- sizes ------------------------------------------------------------------------------------------------------ */

int64_t
vm_memory_mb (int64_t memory, int64_t default_mb)
{
  if (memory <= 0)
    return default_mb;
  return (memory + (1 << 20) - 1) / (1 << 20) + VM_MEMORY_HEADROOM_MB;
}

int
vm_cpus (int64_t nano_cpus, int default_cpus)
{
  if (nano_cpus <= 0)
    return default_cpus;
  int64_t n = (nano_cpus + 999999999) / 1000000000;
  return n > VM_CPUS_MAX ? VM_CPUS_MAX : (int)n;
}

/* --- the command line ----------------------------------------------------------------------------------------------
 */

/* QEMU option values end at a comma; a comma in a path is written twice. */
static char *
qemu_escape (const char *s)
{
  size_t n = strlen (s);
  char *out = xmalloc (2 * n + 1), *p = out;
  for (; *s; s++)
    {
      *p++ = *s;
      if (*s == ',')
        *p++ = ',';
    }
  *p = '\0';
  return out;
}

static void
push (char ***argv, const char *s)
{
  strv_push (argv, s);
}

static void pushf (char ***argv, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static void
pushf (char ***argv, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *s = NULL;
  if (vasprintf (&s, fmt, ap) < 0)
    abort ();
  va_end (ap);
  strv_push (argv, s);
  free (s);
}

/* Each directory bind mount becomes a 9p share, numbered in the order of the binds (mounts_json says where each
   goes). */
int
vm_layout_of (const struct vm_settings *vs, const struct isola_store *s, const struct container *c,
              struct vm_layout *layout, struct vm_share **shares, isola_error_t *err)
{
  json_t *host = container_host_config (c);
  const char *image = container_image_id (c);
  struct cgroup_limits limits;
  cgroup_limits_from_host_config (host, &limits);
  *layout = (struct vm_layout){
    .memory_mb = vm_memory_mb (limits.memory, vs->memory_mb),
    .cpus = vm_cpus (limits.nano_cpus, vs->cpus),
    .upper_bytes = VM_UPPER_DISK_BYTES,
    .trace = getenv ("ISOLA_TRACE") != NULL,
  };
  *shares = NULL;
  struct stat st;
  cleanup_free char *rootfs = image_erofs_path (s, image ? image : "");
  if (stat (rootfs, &st) == 0)
    layout->rootfs_bytes = (uint64_t)st.st_size;
  cleanup_free char *upper = container_path (c, "upper.ext4");
  if (stat (upper, &st) == 0)
    layout->upper_bytes = (uint64_t)st.st_size;

  struct runspec_mounts m = { 0 };
  int ret = runspec_container_mounts (c, &m, err);
  struct vm_share *out = xcalloc (m.n + 1, sizeof *out);
  size_t n = 0;
  for (size_t i = 0; ret == 0 && i < m.n; i++)
    {
      if (m.items[i].source == NULL)
        continue;
      if (stat (m.items[i].source, &st) < 0 || !S_ISDIR (st.st_mode))
        {
          ret = isola_error_fail (err, ENOTSUP, "VM isolation shares directories only: `%s` is not one",
                                  m.items[i].source);
          break;
        }
      out[n].source = xstrdup (m.items[i].source);
      out[n++].readonly = m.items[i].readonly;
    }
  runspec_mounts_clear (&m);
  if (ret < 0)
    {
      vm_shares_free (out, n);
      return ret;
    }
  layout->n_shares = n;
  *shares = out;
  return 0;
}

size_t
vm_nics (size_t n_shares)
{
  size_t left = n_shares + 3 < VM_TRANSPORTS ? VM_TRANSPORTS - 3 - n_shares : 0;
  return left > VM_NICS ? VM_NICS : left > 0 ? left : 1;
}

size_t
vm_nics_of (const struct container *c)
{
  struct runspec_mounts m = { 0 };
  size_t shares = 0;
  if (runspec_container_mounts (c, &m, NULL) == 0)
    for (size_t i = 0; i < m.n; i++)
      shares += m.items[i].source != NULL;
  runspec_mounts_clear (&m);
  return vm_nics (shares);
}

void
vm_shares_free (struct vm_share *shares, size_t n)
{
  for (size_t i = 0; shares && i < n; i++)
    free (shares[i].source);
  free (shares);
}

char **
vm_qemu_argv_for (const struct vm_settings *vs, const struct vm_layout *l, const struct vm_instance *in)
{
  bool kvm = strcmp (vs->accel, "kvm") == 0;
  char **argv = xcalloc (1, sizeof (char *));
  /* argv[0] and -name make the worker recognisable in ps: "isola-vm" with the container's ID. */
  push (&argv, "isola-vm");
  push (&argv, "-name");
  pushf (&argv, "isola-%s,process=isola-vm", in->name);
  push (&argv, "-M");
  /* Under TCG the guest needs the PIT and PIC for its timers, and the RTC so that it does not probe for one. */
  pushf (&argv, "microvm,x-option-roms=off,pit=on,pic=on,rtc=on,isa-serial=on,acpi=%s", vs->acpi ? "on" : "off");
  push (&argv, "-accel");
  push (&argv, kvm ? "kvm" : "tcg");
  push (&argv, "-cpu");
  push (&argv, kvm ? "host,-arch-capabilities" : "max");
  push (&argv, "-m");
  pushf (&argv, "%lld", (long long)l->memory_mb);
  push (&argv, "-smp");
  pushf (&argv, "%d", l->cpus);
  push (&argv, "-nodefaults");
  push (&argv, "-no-user-config");
  push (&argv, "-nographic");
  push (&argv, "-no-reboot");
  push (&argv, "-sandbox");
  push (&argv, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
  push (&argv, "-kernel");
  push (&argv, vs->kernel);
  push (&argv, "-initrd");
  push (&argv, vs->initrd);
  push (&argv, "-append");
  /* reboot=t with -no-reboot is how the agent ends the VM: without ACPI there is no power-off.  Under TCG the guest
     is told what it would otherwise calibrate, slowly and unreliably on a loaded host: its TSC's rate (it could hang
     calibrating it), that the TSC is reliable (it is the host's), and the LAPIC timer's period (QEMU's APIC timer
     counts 1 GHz, HZ is 250: vm/kernel/patches/lapic-timer-period.patch).  A working LAPIC timer and a clocksource
     good for high resolution let an idle guest stop its tick (NOHZ): ~5% of a host CPU per idle VM without
     (vm/kernel/NOTES.md).  Under KVM all three would be wrong. */
  pushf (&argv, "%s%s",
         kvm ? "console=ttyS0 quiet panic=-1 reboot=t"
             : "console=ttyS0 quiet panic=-1 reboot=t tsc_early_khz=2600000 tsc=reliable lapic_timer_period=4000000",
         l->trace ? " isola.trace=1" : "");
  /* The console goes through a socket to a copier that keeps its latest part (vm_console.h), never into a file
     that the guest could grow without end. */
  push (&argv, "-chardev");
  pushf (&argv, "socket,id=console,fd=%d", in->console_fd);
  push (&argv, "-serial");
  push (&argv, "chardev:console");
  /* The worker cannot open the store's files (driver/vm_jail.h): the disks are descriptors in fd sets. */
  push (&argv, "-add-fd");
  pushf (&argv, "fd=%d,set=1,opaque=rootfs", in->rootfs_fd);
  push (&argv, "-add-fd");
  pushf (&argv, "fd=%d,set=2,opaque=upper", in->upper_fd);
  push (&argv, "-add-fd");
  pushf (&argv, "fd=%d,set=2,opaque=upper-ro", in->upper_ro_fd);
  push (&argv, "-drive");
  push (&argv, "id=rootfs,file=/dev/fdset/1,format=raw,if=none,readonly=on");
  push (&argv, "-device");
  push (&argv, "virtio-blk-device,drive=rootfs,serial=isola-rootfs");
  push (&argv, "-drive");
  push (&argv, "id=upper,file=/dev/fdset/2,format=raw,if=none,discard=unmap");
  push (&argv, "-device");
  push (&argv, "virtio-blk-device,drive=upper,serial=isola-upper");
  push (&argv, "-device");
  push (&argv, "virtio-serial-device,max_ports=2");
  push (&argv, "-chardev");
  pushf (&argv, "socket,id=agent,fd=%d", in->channel_fd);
  push (&argv, "-device");
  push (&argv, "virtserialport,chardev=agent,name=isola.agent");
  /* Every VM has the same NICs, so that one template serves VMs on any number of networks (vm_launch.h): those
     with a tap behind them are a network's, the others have no peer and the guest leaves them down. */
  for (size_t n = 0; n < vm_nics (l->n_shares); n++)
    {
      if (n < in->n_taps)
        {
          push (&argv, "-netdev");
          pushf (&argv, "tap,id=net%zu,fd=%d,vhost=off", n, in->taps[n]);
        }
      push (&argv, "-device");
      cleanup_free char *mac = xasprintf (VM_NIC_MAC_FORMAT, (unsigned)(VM_NIC_MAC_BASE + n));
      if (n < in->n_taps)
        pushf (&argv, "virtio-net-device,id=nic%zu,mac=%s,netdev=net%zu", n, mac, n);
      else
        pushf (&argv, "virtio-net-device,id=nic%zu,mac=%s", n, mac);
    }
  for (size_t i = 0; i < l->n_shares; i++)
    {
      cleanup_free char *path = qemu_escape (in->shares[i].source);
      push (&argv, "-fsdev");
      /* mapped-xattr: what the guest sets (owner, mode, device numbers, symlinks) lives in user.virtfs.* xattrs, and
         what it creates is a plain file or directory of QEMU's user with QEMU's fmode/dmode (0600/0700), so root in
         the guest can never make a setuid file, a device node or a file of another host user through a share
         (README, "Files in VM containers").  Host files without those xattrs show their own owner and mode. */
      pushf (&argv, "local,id=fs%zu,path=%s,security_model=mapped-xattr%s", i, path,
             in->shares[i].readonly ? ",readonly=on" : "");
      push (&argv, "-device");
      pushf (&argv, "virtio-9p-device,fsdev=fs%zu,mount_tag=share%zu", i, i);
    }
  return argv;
}

char **
vm_qemu_argv (const struct vm_settings *vs, const struct isola_store *s, const struct container *c, int channel_fd,
              int console_fd, isola_error_t *err)
{
  struct vm_layout l;
  struct vm_share *shares = NULL;
  if (vm_layout_of (vs, s, c, &l, &shares, err) < 0)
    return NULL;
  struct vm_instance in = {
    .name = c->id,
    .console_fd = console_fd,
    .rootfs_fd = 5,
    .upper_fd = 6,
    .upper_ro_fd = 7,
    .channel_fd = channel_fd,
    .shares = shares,
  };
  char **argv = vm_qemu_argv_for (vs, &l, &in);
  vm_shares_free (shares, l.n_shares);
  return argv;
}

/* --- the channel while starting ---------------------------------------------------------------------------------- */

int
vm_boot_next_frame (struct vm_boot *b, struct vmproto_frame *f)
{
  for (;;)
    {
      int r = vmproto_decoder_next (b->dec, f);
      if (r != 0)
        return r < 0 ? r : 0;
      long long left = b->deadline - monotonic_ms ();
      if (left <= 0)
        return -ETIMEDOUT;
      struct pollfd p = { .fd = b->fd, .events = POLLIN };
      int n = poll (&p, 1, left > 200 ? 200 : (int)left);
      if (n < 0 && errno != EINTR)
        return -errno;
      if (n > 0)
        {
          ssize_t got = vmproto_decoder_read (b->dec, b->fd);
          /* A QEMU that exits before reading what was sent to it resets the connection instead of closing it. */
          if (got == 0 || got == -ECONNRESET)
            {
              b->exited = true;
              return -ECHILD;
            }
          if (got < 0 && got != -EAGAIN && got != -EINTR)
            return (int)got;
        }
      if (waitpid (b->qemu, NULL, WNOHANG) == b->qemu)
        {
          b->exited = true;
          return -ECHILD;
        }
    }
}

/* --- START ------------------------------------------------------------------------------------------------------ */

json_t *
vm_strv_json (char *const *v)
{
  json_t *a = json_array ();
  for (; v && *v; v++)
    json_array_append_new (a, json_string (*v));
  return a;
}

static char *
hex_of (const void *data, size_t len)
{
  static const char digits[] = "0123456789abcdef";
  const uint8_t *p = data;
  char *out = xmalloc (2 * len + 1);
  for (size_t i = 0; i < len; i++)
    {
      out[2 * i] = digits[p[i] >> 4];
      out[2 * i + 1] = digits[p[i] & 15];
    }
  out[2 * len] = '\0';
  return out;
}

static json_t *
seccomp_json (const struct seccomp_program *p)
{
  if (p == NULL)
    return json_null ();
  cleanup_free char *hex = hex_of (p->insns, p->len * 8);
  return json_pack ("{s:I, s:s}", "Flags", (json_int_t)p->flags, "Program", hex);
}

int
vm_start_json_stamp (json_t *start, isola_error_t *err)
{
  struct timespec now;
  uint8_t seed[32];
  clock_gettime (CLOCK_REALTIME, &now);
  if (getrandom (seed, sizeof seed, 0) != (ssize_t)sizeof seed)
    return isola_error_make (err, errno, "getrandom");
  cleanup_free char *hex = hex_of (seed, sizeof seed);
  json_object_set_new (start, "Time", json_pack ("[I, I]", (json_int_t)now.tv_sec, (json_int_t)now.tv_nsec));
  json_object_set_new (start, "Seed", json_string (hex));
  return 0;
}

json_t *
vm_rlimits_json (const struct runspec_rlimits *r)
{
  json_t *a = json_array ();
  for (size_t i = 0; i < r->n; i++)
    json_array_append_new (
        a, json_pack ("[i, I, I]", r->items[i].resource, (json_int_t)r->items[i].soft, (json_int_t)r->items[i].hard));
  return a;
}

/* Binds are 9p shares tagged by their number among the binds (vm_layout_of), tmpfs mounts are made in the guest,
   and --init's binary is the initramfs's own. */
static json_t *
mounts_json (const struct runspec_mounts *m, bool init)
{
  json_t *a = json_array ();
  size_t share = 0;
  for (size_t i = 0; i < m->n; i++)
    {
      const struct spawn_mount *e = &m->items[i];
      if (e->source)
        json_array_append_new (a, json_pack ("{s:s, s:o, s:s, s:b}", "Type", "9p", "Source",
                                             json_sprintf ("share%zu", share++), "Destination", e->destination,
                                             "ReadOnly", e->readonly));
      else
        json_array_append_new (a, json_pack ("{s:s, s:s, s:s}", "Type", "tmpfs", "Destination", e->destination,
                                             "Options", e->tmpfs_options ? e->tmpfs_options : ""));
    }
  if (init)
    json_array_append_new (a, json_pack ("{s:s, s:s, s:s, s:b}", "Type", "guest", "Source", "/isola-init",
                                         "Destination", "/dev/init", "ReadOnly", 1));
  return a;
}

/* The file mounts the container was given by content (VM_FILE_MOUNTS), after its binds. */
static void
add_file_mounts (const struct container *c, json_t *mounts)
{
  cleanup_free char *path = container_path (c, VM_FILE_MOUNTS);
  cleanup_json json_t *files = json_load_file (path, 0, NULL);
  size_t i;
  json_t *f;
  json_array_foreach (files, i, f)
  {
    const char *type = json_string_value (json_object_get (f, "Type"));
    if (type && strcmp (type, "file") == 0)
      json_array_append (mounts, f);
  }
}

static json_t *
file_text (const struct container *c, const char *name)
{
  cleanup_free char *path = container_path (c, name);
  cleanup_free char *text = NULL;
  if (read_file_bounded (path, 1 << 20, &text, NULL, NULL) < 0)
    return json_string ("");
  return json_string (text);
}

/* What spawn.c does in the guest from the container's namespace settings (nsmode.h): the guest's own namespaces
   (create refused the shared ones), /dev/shm, sysctls and extra groups. */
static void
start_json_nsmode (json_t *start, json_t *host)
{
  cleanup_strv char **sysctls = nsmode_sysctls (host);
  cleanup_strv char **groups = nsmode_group_add (host);
  const char *ipc = json_string_value (json_object_get (host, "IpcMode"));
  const char *cgroupns = json_string_value (json_object_get (host, "CgroupnsMode"));
  json_object_set_new (start, "ShmSize", json_integer (nsmode_shm_size (host)));
  json_object_set_new (start, "NoShm", json_boolean (ipc && strcmp (ipc, "none") == 0));
  json_object_set_new (start, "HostCgroupns", json_boolean (cgroupns && strcmp (cgroupns, "host") == 0));
  json_object_set_new (start, "Sysctls", vm_strv_json (sysctls));
  json_object_set_new (start, "GroupAdd", vm_strv_json (groups));
  json_object_set_new (start, "Privileged", json_boolean (json_is_true (json_object_get (host, "Privileged"))));
}

int
vm_start_json (const struct isola_store *s, const struct container *c, const struct driver_io *io, json_t **out,
               isola_error_t *err)
{
  json_t *host = container_host_config (c);
  uint64_t caps = 0;
  struct runspec_mounts m = { 0 };
  struct runspec_rlimits r = { 0 };
  struct seccomp_program *prog = NULL;
  cleanup_free char *cache = store_path (s, STORE_SECCOMP_CACHE);
  int ret = caps_for_host_config (host, &caps, err);
  if (ret == 0)
    ret = runspec_container_mounts (c, &m, err);
  if (ret == 0)
    ret = runspec_rlimits_parse (host, &r, err);
  if (ret == 0)
    runspec_rlimits_add_inherited (&r);
  if (ret == 0)
    ret = seccomp_program_lookup (host, caps, cache, &prog, err);
  if (ret == 0)
    {
      bool init = container_init (c);
      cleanup_strv char **argv = container_argv (c);
      if (init)
        {
          size_t n = strv_len (argv);
          char **with_init = xcalloc (n + 3, sizeof (char *));
          with_init[0] = xstrdup ("/dev/init");
          with_init[1] = xstrdup ("--");
          memcpy (with_init + 2, argv, (n + 1) * sizeof (char *));
          free (argv);
          argv = with_init;
        }
      cleanup_strv char **env = container_env (c);
      const char *hostname = container_hostname (c);
      struct cgroup_limits l;
      cgroup_limits_from_host_config (host, &l);
      const char *cwd = container_working_dir (c);
      const char *user = container_user (c);
      *out = json_pack (
          "{s:o, s:o, s:s, s:s, s:s, s:b, s:b, s:i, s:i, s:I, s:b, s:o, s:o, s:b, s:o, s:o, s:o, s:o}", "Args",
          jbytes_exact_array (argv), "Env", jbytes_exact_array (env), "Cwd", cwd ? cwd : "", "User", user ? user : "",
          "Hostname", hostname ? hostname : "", "Tty", io->tty, "OpenStdin", container_open_stdin (c), "Rows",
          (int)io->rows, "Cols", (int)io->cols, "CapKeep", (json_int_t)caps, "NoNewPrivileges",
          runspec_no_new_privileges (host), "Rlimits", vm_rlimits_json (&r), "Seccomp", seccomp_json (prog),
          "ReadonlyRootfs", container_readonly_rootfs (c), "Mounts", mounts_json (&m, init), "EtcHostname",
          file_text (c, "hostname"), "EtcHosts", file_text (c, "hosts"), "EtcResolv", file_text (c, "resolv.conf"));
      if (*out == NULL)
        ret = isola_error_fail (err, ENOMEM, "build the VM's START message");
      else
        {
          cgroup_limits_to_json (&l, *out);
          json_object_set_new (*out, "Init", json_boolean (init));
          start_json_nsmode (*out, host);
          add_file_mounts (c, json_object_get (*out, "Mounts"));
        }
    }
  runspec_mounts_clear (&m);
  runspec_rlimits_clear (&r);
  seccomp_program_free (prog);
  return ret;
}

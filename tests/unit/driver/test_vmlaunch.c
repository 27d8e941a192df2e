/* The VM launch logic: memory and vCPU sizing, the QEMU command line for TCG and KVM (flags, escaping, disks, the
   agent's port, 9p shares), settings from the environment and config.json, the START message's stamp, the keys
   and lookup of VM templates, the image disk's capacity, and QMP's replies. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "container/container.h"
#include "driver/vm_disk.h"
#include "driver/vm_jail.h"
#include "driver/vm_launch.h"
#include "driver/vm_template.h"
#include "image/erofs.h"
#include "proto/qmp.h"
#include "store/store.h"
#include "tap.h"

static char root[] = "/tmp/isola-unit-vm-XXXXXX";

static void
test_sizes (void)
{
  CHECK (vm_memory_mb (0, VM_MEMORY_DEFAULT_MB) == 2048 && vm_memory_mb (0, 700) == 700,
         "no --memory: the default guest memory, 2 GiB unless configured");
  CHECK (vm_memory_mb (300LL << 20, 2048) == 300 + VM_MEMORY_HEADROOM_MB, "--memory 300m: 300 MiB plus headroom");
  CHECK (vm_memory_mb ((300LL << 20) + 1, 2048) == 301 + VM_MEMORY_HEADROOM_MB, "a partial MiB rounds up");
  CHECK (vm_cpus (0, 3) == 3, "no --cpus: the default vCPUs");
  CHECK (vm_cpus (500000000, 8) == 1 && vm_cpus (1000000000, 8) == 1, "up to one CPU: one vCPU");
  CHECK (vm_cpus (1500000000, 8) == 2 && vm_cpus (2000000000, 8) == 2, "--cpus 1.5 and 2: two vCPUs");
  CHECK (vm_cpus (1000LL * 1000000000, 8) == VM_CPUS_MAX, "vCPUs are capped");
  CHECK (vm_host_cpus () == (int)sysconf (_SC_NPROCESSORS_ONLN) || vm_host_cpus () == VM_CPUS_MAX
             || vm_host_cpus () < (int)sysconf (_SC_NPROCESSORS_ONLN),
         "the host's CPUs: %d", vm_host_cpus ());
}

static bool
argv_has (char **argv, const char *a, const char *b)
{
  for (size_t i = 0; argv && argv[i]; i++)
    if (strcmp (argv[i], a) == 0 && (b == NULL || (argv[i + 1] && strcmp (argv[i + 1], b) == 0)))
      return true;
  return false;
}

static bool
argv_contains (char **argv, const char *needle)
{
  for (size_t i = 0; argv && argv[i]; i++)
    if (strstr (argv[i], needle))
      return true;
  return false;
}

static struct container *
fake_container (const char *host_json)
{
  struct container *c = xcalloc (1, sizeof *c);
  memset (c->id, 'a', 64);
  c->dir = xasprintf ("%s/containers/%s", root, c->id);
  mkdir_p (c->dir, 0700, NULL);
  json_t *host = json_loads (host_json, 0, NULL);
  c->config = json_pack ("{s:s, s:o, s:{s:[s], s:s}}", "Image",
                         "sha256:"
                         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                         "HostConfig", host, "Config", "Cmd", "true", "Hostname", "h");
  c->state = json_object ();
  return c;
}

static void
test_qemu_argv (void)
{
  struct isola_store s = { .root = root, .lock_fd = -1 };
  struct vm_settings vs
      = { .qemu = "qemu-system-x86_64", .kernel = "/k", .initrd = "/i", .accel = "tcg", .memory_mb = 2048, .cpus = 3 };
  cleanup_free char *share = xasprintf ("%s/share,dir", root);
  mkdir (share, 0755);
  cleanup_free char *host
      = xasprintf ("{\"Memory\": 314572800, \"NanoCpus\": 1500000000, \"Binds\": [\"%s:/data:ro\"]}", share);
  struct container *c = fake_container (host);
  cleanup_strv char **argv = vm_qemu_argv (&vs, &s, c, 7, 9, NULL);
  CHECK (argv != NULL, "the command line builds");
  CHECK (argv && strcmp (argv[0], "isola-vm") == 0, "the worker is named isola-vm");
  CHECK (argv_contains (argv, c->id) && argv_contains (argv, "process=isola-vm"), "it names the container's ID");
  CHECK (argv_has (argv, "-accel", "tcg") && argv_has (argv, "-cpu", "max"), "TCG: -accel tcg -cpu max");
  CHECK (argv_contains (argv, "tsc_early_khz=") && argv_contains (argv, "tsc=reliable")
             && argv_contains (argv, "lapic_timer_period=4000000") && !argv_contains (argv, "noapictimer"),
         "TCG: the guest is told its TSC rate and LAPIC timer period, and keeps its LAPIC timer (NOHZ)");
  CHECK (argv_contains (argv, "acpi=off") && argv_contains (argv, "rtc=on"), "microvm without ACPI, with its RTC");
  CHECK (argv_has (argv, "-m", "364") && argv_has (argv, "-smp", "2"), "memory and vCPUs from the limits");
  CHECK (argv_has (argv, "-sandbox", NULL) && argv_has (argv, "-no-reboot", NULL)
             && argv_has (argv, "-nodefaults", NULL),
         "sandboxed, no default devices, a reboot ends it");
  CHECK (argv_contains (argv, "socket,id=agent,fd=7") && argv_contains (argv, "name=isola.agent"),
         "the agent's port is the monitor's socket");
  CHECK (argv_contains (argv, "serial=isola-rootfs") && argv_contains (argv, "serial=isola-upper")
             && argv_contains (argv, "readonly=on"),
         "the image's disk read-only and the container's, by serial");
  CHECK (argv_contains (argv, "socket,id=console,fd=9") && argv_has (argv, "-serial", "chardev:console"),
         "the console goes to its copier's socket, never straight into a file");
  CHECK (argv_has (argv, "-add-fd", "fd=5,set=1,opaque=rootfs") && argv_has (argv, "-add-fd", "fd=6,set=2,opaque=upper")
             && argv_has (argv, "-add-fd", "fd=7,set=2,opaque=upper-ro")
             && argv_contains (argv, "id=rootfs,file=/dev/fdset/1,")
             && argv_contains (argv, "id=upper,file=/dev/fdset/2,"),
         "the disks are descriptors the worker is given, not paths it opens");
  CHECK (argv_contains (argv, "share,,dir,security_model=mapped-xattr,readonly=on")
             && argv_contains (argv, "mount_tag=share0"),
         "a read-only bind is a read-only 9p share, commas in paths doubled, the guest's owners and modes in xattrs");
  CHECK (argv_has (argv, "-device", "virtio-net-device,id=nic0,mac=52:54:00:12:34:56")
             && argv_has (argv, "-device", "virtio-net-device,id=nic3,mac=52:54:00:12:34:59")
             && !argv_contains (argv, "nic4") && !argv_contains (argv, "netdev"),
         "every VM has the same NICs, each with its own MAC (one template serves all), without a peer when it has no "
         "network");
  CHECK (vm_nics (0) == 4 && vm_nics (1) == 4 && vm_nics (2) == 3 && vm_nics (4) == 1 && vm_nics (9) == 1,
         "four NICs, fewer with more than one share (microvm's eight virtio-mmio transports), and always one");
  container_free (c);
  {
    struct vm_layout l = { .memory_mb = 256, .cpus = 1 };
    const int taps[] = { 11, 12 };
    struct vm_instance in = { .name = "x",
                              .console_fd = 3,
                              .rootfs_fd = 4,
                              .upper_fd = 5,
                              .upper_ro_fd = 6,
                              .channel_fd = 7,
                              .taps = taps,
                              .n_taps = 2 };
    cleanup_strv char **net = vm_qemu_argv_for (&vs, &l, &in);
    CHECK (argv_has (net, "-netdev", "tap,id=net0,fd=11,vhost=off")
               && argv_has (net, "-device", "virtio-net-device,id=nic0,mac=52:54:00:12:34:56,netdev=net0")
               && argv_has (net, "-netdev", "tap,id=net1,fd=12,vhost=off")
               && argv_has (net, "-device", "virtio-net-device,id=nic1,mac=52:54:00:12:34:57,netdev=net1")
               && argv_has (net, "-device", "virtio-net-device,id=nic2,mac=52:54:00:12:34:58")
               && !argv_contains (net, "net2,"),
           "on two networks, the first two NICs' peers are the taps the worker is given, the spare ones have none "
           "(driver/vm_net.h)");
  }

  vs.accel = "kvm";
  c = fake_container ("{}");
  cleanup_strv char **kvm = vm_qemu_argv (&vs, &s, c, 7, 9, NULL);
  CHECK (argv_has (kvm, "-accel", "kvm") && argv_has (kvm, "-m", "2048") && argv_has (kvm, "-smp", "3"),
         "KVM; without limits, the settings' memory and vCPUs");
  CHECK (!argv_contains (kvm, "tsc_early_khz") && !argv_contains (kvm, "tsc=reliable")
             && !argv_contains (kvm, "lapic_timer_period"),
         "KVM: no TCG workarounds");
  vs.acpi = true;
  cleanup_strv char **acpi = vm_qemu_argv (&vs, &s, c, 7, 9, NULL);
  CHECK (argv_contains (acpi, "acpi=on") && !argv_contains (acpi, "acpi=off"), "ISOLA_VM_ACPI: devices in ACPI tables");
  container_free (c);

  cleanup_free char *file = xasprintf ("%s/afile", root);
  (void)write_file_atomic (file, "x", 1, 0644, NULL);
  cleanup_free char *fhost = xasprintf ("{\"Binds\": [\"%s:/f\"]}", file);
  c = fake_container (fhost);
  cleanup_error isola_error_t err = NULL;
  CHECK (vm_qemu_argv (&vs, &s, c, 7, 9, &err) == NULL && err && strstr (err->msg, "directories only"),
         "a file bind is refused with a clear message");
  container_free (c);
}

static void
test_settings (void)
{
  struct vm_settings vs;
  cleanup_free char *k = xasprintf ("%s/vmlinuz", root), *i = xasprintf ("%s/initrd", root);
  (void)write_file_atomic (k, "k", 1, 0644, NULL);
  (void)write_file_atomic (i, "i", 1, 0644, NULL);
  setenv ("ISOLA_VM_KERNEL", k, 1);
  setenv ("ISOLA_VM_INITRD", i, 1);
  setenv ("ISOLA_VM_ACCEL", "tcg", 1);
  CHECK (vm_settings_load (root, &vs, NULL) == 0 && strcmp (vs.accel, "tcg") == 0 && strcmp (vs.kernel, k) == 0
             && vs.boot_timeout_s == VM_BOOT_TIMEOUT_S && vs.memory_mb == VM_MEMORY_DEFAULT_MB
             && vs.cpus == vm_host_cpus () && vs.worker_uid_base == VM_WORKER_UID_BASE,
         "settings from the environment; 2 GiB, the host's CPUs and the workers' uids at 0x70000000 by default");
  vm_settings_clear (&vs);
  setenv ("ISOLA_VM_WORKER_UID_BASE", "200000", 1);
  CHECK (vm_settings_load (root, &vs, NULL) == 0 && vs.worker_uid_base == 200000, "ISOLA_VM_WORKER_UID_BASE");
  vm_settings_clear (&vs);
  static const char *const bad_bases[] = { "0", "-5", "4294967000", "x" };
  for (size_t b = 0; b < ARRAY_SIZE (bad_bases); b++)
    {
      cleanup_error isola_error_t base_err = NULL;
      setenv ("ISOLA_VM_WORKER_UID_BASE", bad_bases[b], 1);
      CHECK (vm_settings_load (root, &vs, &base_err) == -EINVAL && strstr (base_err->msg, "worker_uid_base"),
             "worker_uid_base %s is refused (the range must fit below 2^32 - 1)", bad_bases[b]);
    }
  unsetenv ("ISOLA_VM_WORKER_UID_BASE");
  setenv ("ISOLA_VM_MEMORY", "512m", 1);
  setenv ("ISOLA_VM_CPUS", "3", 1);
  CHECK (vm_settings_load (root, &vs, NULL) == 0 && vs.memory_mb == 512 && vs.cpus == 3,
         "ISOLA_VM_MEMORY and ISOLA_VM_CPUS");
  vm_settings_clear (&vs);
  cleanup_error isola_error_t size_err = NULL;
  setenv ("ISOLA_VM_MEMORY", "lots", 1);
  CHECK (vm_settings_load (root, &vs, &size_err) == -EINVAL && strstr (size_err->msg, "lots"),
         "a bad memory size is refused");
  unsetenv ("ISOLA_VM_MEMORY");
  isola_error_release (&size_err);
  setenv ("ISOLA_VM_CPUS", "0", 1);
  CHECK (vm_settings_load (root, &vs, &size_err) == -EINVAL && strstr (size_err->msg, "cpus"),
         "zero vCPUs are refused");
  unsetenv ("ISOLA_VM_CPUS");
  setenv ("ISOLA_VM_ACCEL", "xen", 1);
  cleanup_error isola_error_t err = NULL;
  CHECK (vm_settings_load (root, &vs, &err) == -EINVAL && strstr (err->msg, "xen"), "a bad accelerator is refused");
  unsetenv ("ISOLA_VM_ACCEL");
  cleanup_free char *conf = xasprintf ("%s/config.json", root);
  static const char text[] = "{\"vm\": {\"accel\": \"kvm\", \"boot_timeout\": 7, \"memory\": \"1g\", \"cpus\": 5}}";
  (void)write_file_atomic (conf, text, strlen (text), 0644, NULL);
  CHECK (vm_settings_load (root, &vs, NULL) == 0 && strcmp (vs.accel, "kvm") == 0 && vs.boot_timeout_s == 7
             && vs.memory_mb == 1024 && vs.cpus == 5,
         "settings from config.json");
  vm_settings_clear (&vs);
  unlink (conf);
  setenv ("ISOLA_VM_KERNEL", "/nonexistent/vmlinuz", 1);
  isola_error_release (&err);
  CHECK (vm_settings_load (root, &vs, &err) < 0 && strstr (err->msg, "make vm"),
         "a missing kernel says how to build it");
  unsetenv ("ISOLA_VM_KERNEL");
  unsetenv ("ISOLA_VM_INITRD");
  const char *why = NULL;
  const char *accel = vm_detect_accel (&why);
  CHECK ((strcmp (accel, "kvm") == 0 || strcmp (accel, "tcg") == 0) && why, "detection decides (%s: %s)", accel, why);
}

/* What the worker sees and keeps (vm_jail.h). */
static void
test_jail (void)
{
  struct vm_settings vs
      = { .qemu = "/bin/true", .kernel = "/k", .initrd = "/i", .accel = "tcg", .worker_uid_base = 300000 };
  struct vm_share shares[] = { { .source = "/srv/rw" }, { .source = "/srv/ro", .readonly = true } };
  struct vm_instance in = { .name = "x", .console_fd = -1, .shares = shares };
  struct vm_layout l = { .n_shares = 0 };
  struct vm_jail j;
  CHECK (vm_jail_prepare (&vs, &l, &in, &j, NULL) == 0, "a jail without shares");
  CHECK (j.uid == 300000 + (uid_t)getpid () && j.gid == j.uid && j.caps == 0 && !j.kvm,
         "its own uid and gid (base + our PID), no capabilities");
  bool usr = false, kernel = false, writable = false;
  for (size_t i = 0; i < j.n_binds; i++)
    {
      const struct vm_jail_bind *b = &j.binds[i];
      usr |= strcmp (b->path, "/usr") == 0 && !b->writable && b->exec;
      kernel |= strcmp (b->path, "/k") == 0 && !b->writable && !b->exec;
      writable |= b->writable;
      if (i > 0)
        CHECK (strcmp (j.binds[i - 1].path, b->path) < 0, "binds in order: %s before %s", j.binds[i - 1].path, b->path);
    }
  CHECK (usr && kernel && !writable, "/usr and the kernel read-only, nothing writable (the console is a socket)");
  vm_jail_clear (&j);
  l.n_shares = 2;
  vs.accel = "kvm";
  CHECK (vm_jail_prepare (&vs, &l, &in, &j, NULL) == 0, "a jail with shares");
  bool rw = false, ro = false;
  for (size_t i = 0; i < j.n_binds; i++)
    {
      rw |= strcmp (j.binds[i].path, "/srv/rw") == 0 && j.binds[i].writable;
      ro |= strcmp (j.binds[i].path, "/srv/ro") == 0 && !j.binds[i].writable;
    }
  CHECK (rw && ro && j.caps == VM_JAIL_SHARE_CAPS && j.kvm,
         "the shares as the binds say, the file capabilities 9p needs, /dev/kvm with KVM");
  vm_jail_clear (&j);
}

static void
test_template_keys (void)
{
  cleanup_free char *k = xasprintf ("%s/tk-vmlinuz", root), *i = xasprintf ("%s/tk-initrd", root);
  cleanup_free char *tdir = xasprintf ("%s/%s", root, STORE_VM_TEMPLATES);
  (void)write_file_atomic (k, "k", 1, 0644, NULL);
  (void)write_file_atomic (i, "i", 1, 0644, NULL);
  struct vm_settings vs
      = { .qemu = "/bin/true", .kernel = k, .initrd = i, .accel = "tcg", .template = true, .template_dir = tdir };
  struct vm_layout l = { .memory_mb = 256, .cpus = 1, .rootfs_bytes = 64 << 20, .upper_bytes = 8ULL << 30 };
  cleanup_free char *key = vm_template_key (&vs, &l);
  CHECK (key && strstr (key, "-m\n256\n") && strstr (key, "disks 67108864 8589934592") && strstr (key, k),
         "the key holds the command line, the disks' sizes and the kernel");
  CHECK (key && !strstr (key, "fd=3") && strstr (key, "isola-template"), "with stand-ins for the instance's files");
  cleanup_free char *same = vm_template_key (&vs, &l);
  CHECK (key && same && strcmp (key, same) == 0, "one layout, one key");
  l.memory_mb = 512;
  cleanup_free char *more = vm_template_key (&vs, &l);
  l.memory_mb = 256;
  l.n_shares = 1;
  cleanup_free char *shared = vm_template_key (&vs, &l);
  l.n_shares = 0;
  l.rootfs_bytes = 128 << 20;
  cleanup_free char *bigger = vm_template_key (&vs, &l);
  l.rootfs_bytes = 64 << 20;
  CHECK (more && shared && bigger && strcmp (key, more) && strcmp (key, shared) && strcmp (key, bigger),
         "memory, shares and disk sizes make other layouts");
  /* A rebuilt kernel is another file (the key has its inode, size and mtime). */
  (void)write_file_atomic (k, "kk", 2, 0644, NULL);
  cleanup_free char *rebuilt = vm_template_key (&vs, &l);
  CHECK (rebuilt && strcmp (key, rebuilt) != 0, "a rebuilt kernel changes the key");
  vs.kernel = "/nonexistent";
  CHECK (vm_template_key (&vs, &l) == NULL, "no key without a kernel");
  vs.kernel = k;

  /* Lookup compares the whole key. */
  int fd = -1;
  CHECK (vm_template_open (&vs, rebuilt, &fd) == -ENOENT, "no template yet");
  cleanup_free char *dir
      = xasprintf ("%s/%s/%016llx", root, STORE_VM_TEMPLATES, (unsigned long long)fnv1a64 (rebuilt, strlen (rebuilt)));
  cleanup_free char *key_path = xasprintf ("%s/key", dir), *state = xasprintf ("%s/state", dir);
  (void)mkdir_p (dir, 0700, NULL);
  (void)write_file_atomic (state, "QEVM", 4, 0600, NULL);
  (void)write_file_atomic (key_path, "another key", 11, 0600, NULL);
  CHECK (vm_template_open (&vs, rebuilt, &fd) == -ENOENT, "a template whose stored key differs is not used");
  (void)write_file_atomic (key_path, rebuilt, strlen (rebuilt), 0600, NULL);
  CHECK (vm_template_open (&vs, rebuilt, &fd) == 0 && fd >= 0, "a template whose key matches is opened");
  if (fd >= 0)
    close (fd);
  vm_template_discard (&vs, rebuilt);
  CHECK (vm_template_open (&vs, rebuilt, &fd) == -ENOENT, "a discarded template is not used again");
  vs.template = false;
  CHECK (vm_template_ensure (&vs, &l, NULL) == 0 && !path_exists (key_path), "templates off: nothing is built");
}

static void
test_start_stamp (void)
{
  cleanup_json json_t *a = json_object (), *b = json_object ();
  CHECK (vm_start_json_stamp (a, NULL) == 0 && vm_start_json_stamp (b, NULL) == 0, "START is stamped");
  const char *sa = json_string_value (json_object_get (a, "Seed"));
  const char *sb = json_string_value (json_object_get (b, "Seed"));
  CHECK (sa && sb && strlen (sa) == 64 && strcmp (sa, sb) != 0, "with a fresh 32-byte seed each time");
  json_int_t t = json_integer_value (json_array_get (json_object_get (a, "Time"), 0));
  CHECK (t > 1700000000 && t <= (json_int_t)time (NULL), "and the host's clock");
}

static void
test_disk_sizes (void)
{
  CHECK (image_erofs_disk_bytes (0) == IMAGE_EROFS_DISK_MIN_BYTES
             && image_erofs_disk_bytes (2 << 20) == IMAGE_EROFS_DISK_MIN_BYTES,
         "small images share the smallest disk size");
  CHECK (image_erofs_disk_bytes (IMAGE_EROFS_DISK_MIN_BYTES + 1) == 2 * IMAGE_EROFS_DISK_MIN_BYTES,
         "larger ones the next power of two");
  CHECK (image_erofs_disk_bytes (3ULL << 30) == 4ULL << 30, "3 GiB: 4 GiB");
}

static void
test_qmp_classify (void)
{
  json_t *ret = NULL;
  char *desc = NULL;
  static const char greeting[] = "{\"QMP\": {\"version\": {}, \"capabilities\": []}}";
  static const char reply[] = "{\"return\": {\"status\": \"completed\"}}";
  static const char error[] = "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no such fd\"}}";
  static const char event[] = "{\"event\": \"STOP\", \"timestamp\": {}}";
  CHECK (qmp_classify (greeting, strlen (greeting), &ret, &desc) == QMP_OTHER, "the greeting is not a reply");
  CHECK (qmp_classify (event, strlen (event), &ret, &desc) == QMP_OTHER, "an event is not a reply");
  CHECK (qmp_classify (reply, strlen (reply), &ret, &desc) == QMP_REPLY
             && strcmp (json_string_value (json_object_get (ret, "status")), "completed") == 0,
         "a reply gives its return value");
  json_decref (ret);
  CHECK (qmp_classify (error, strlen (error), &ret, &desc) == QMP_ERROR && strcmp (desc, "no such fd") == 0,
         "an error gives its description");
  free (desc);
  CHECK (qmp_classify ("[1]", 3, &ret, &desc) == -EPROTO && qmp_classify ("{\"ret", 5, &ret, &desc) == -EPROTO,
         "anything else is a protocol error");
}

int
main (void)
{
  if (mkdtemp (root) == NULL)
    return 1;
  test_sizes ();
  test_qemu_argv ();
  test_settings ();
  test_jail ();
  test_template_keys ();
  test_start_stamp ();
  test_disk_sizes ();
  test_qmp_classify ();
  rm_rf (root, NULL);
  return tap_done ();
}

/* The VM launch logic: memory and vCPU sizing, the QEMU command line for TCG and KVM (flags, escaping, disks, the
   agent's port, 9p shares), settings from the environment and config.json, and the START message. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "container.h"
#include "jsonutil.h"
#include "store.h"
#include "tap.h"
#include "util.h"
#include "vmlaunch.h"

static char root[] = "/tmp/isola-unit-vm-XXXXXX";

static void
test_sizes (void)
{
  CHECK (vm_memory_mb (0) == VM_MEMORY_DEFAULT_MB, "no --memory: the default guest memory");
  CHECK (vm_memory_mb (300LL << 20) == 300 + VM_MEMORY_HEADROOM_MB, "--memory 300m: 300 MiB plus headroom");
  CHECK (vm_memory_mb ((300LL << 20) + 1) == 301 + VM_MEMORY_HEADROOM_MB, "a partial MiB rounds up");
  CHECK (vm_cpus (0) == 1 && vm_cpus (500000000) == 1 && vm_cpus (1000000000) == 1, "up to one CPU: one vCPU");
  CHECK (vm_cpus (1500000000) == 2 && vm_cpus (2000000000) == 2, "--cpus 1.5 and 2: two vCPUs");
  CHECK (vm_cpus (1000LL * 1000000000) == 64, "vCPUs are capped");
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
  struct vm_settings vs = { .qemu = "qemu-system-x86_64", .kernel = "/k", .initrd = "/i", .accel = "tcg" };
  cleanup_free char *share = xasprintf ("%s/share,dir", root);
  mkdir (share, 0755);
  cleanup_free char *host
      = xasprintf ("{\"Memory\": 314572800, \"NanoCpus\": 1500000000, \"Binds\": [\"%s:/data:ro\"]}", share);
  struct container *c = fake_container (host);
  cleanup_strv char **argv = vm_qemu_argv (&vs, &s, c, 7, "/log,file", NULL);
  CHECK (argv != NULL, "the command line builds");
  CHECK (argv && strcmp (argv[0], "isola-vm") == 0, "the worker is named isola-vm");
  CHECK (argv_contains (argv, c->id) && argv_contains (argv, "process=isola-vm"), "it names the container's ID");
  CHECK (argv_has (argv, "-accel", "tcg") && argv_has (argv, "-cpu", "max"), "TCG: -accel tcg -cpu max");
  CHECK (argv_contains (argv, "tsc_early_khz=") && argv_contains (argv, "noapictimer"),
         "TCG: the guest is told its TSC rate and skips timer calibration");
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
  CHECK (argv_contains (argv, "file:/log,,file"), "commas in paths are doubled");
  CHECK (argv_contains (argv, "share,,dir,security_model=passthrough,readonly=on")
             && argv_contains (argv, "mount_tag=bind0"),
         "a read-only bind is a read-only 9p share");
  CHECK (!argv_contains (argv, "netdev") && !argv_contains (argv, "virtio-net"), "no network device");
  container_free (c);

  vs.accel = "kvm";
  c = fake_container ("{}");
  cleanup_strv char **kvm = vm_qemu_argv (&vs, &s, c, 7, "/log", NULL);
  CHECK (argv_has (kvm, "-accel", "kvm") && argv_has (kvm, "-m", "256") && argv_has (kvm, "-smp", "1"),
         "KVM, default memory, one vCPU");
  CHECK (!argv_contains (kvm, "tsc_early_khz") && !argv_contains (kvm, "noapictimer"), "KVM: no TCG workarounds");
  vs.acpi = true;
  cleanup_strv char **acpi = vm_qemu_argv (&vs, &s, c, 7, "/log", NULL);
  CHECK (argv_contains (acpi, "acpi=on") && !argv_contains (acpi, "acpi=off"), "ISOLA_VM_ACPI: devices in ACPI tables");
  container_free (c);

  cleanup_free char *file = xasprintf ("%s/afile", root);
  (void)write_file_atomic (file, "x", 1, 0644, NULL);
  cleanup_free char *fhost = xasprintf ("{\"Binds\": [\"%s:/f\"]}", file);
  c = fake_container (fhost);
  cleanup_error isola_error_t err = NULL;
  CHECK (vm_qemu_argv (&vs, &s, c, 7, "/log", &err) == NULL && err && strstr (err->msg, "directories only"),
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
             && vs.boot_timeout_s == VM_BOOT_TIMEOUT_S,
         "settings from the environment");
  vm_settings_clear (&vs);
  setenv ("ISOLA_VM_ACCEL", "xen", 1);
  cleanup_error isola_error_t err = NULL;
  CHECK (vm_settings_load (root, &vs, &err) == -EINVAL && strstr (err->msg, "xen"), "a bad accelerator is refused");
  unsetenv ("ISOLA_VM_ACCEL");
  cleanup_free char *conf = xasprintf ("%s/config.json", root);
  static const char text[] = "{\"vm\": {\"accel\": \"kvm\", \"boot_timeout\": 7}}";
  (void)write_file_atomic (conf, text, strlen (text), 0644, NULL);
  CHECK (vm_settings_load (root, &vs, NULL) == 0 && strcmp (vs.accel, "kvm") == 0 && vs.boot_timeout_s == 7,
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

int
main (void)
{
  if (mkdtemp (root) == NULL)
    return 1;
  test_sizes ();
  test_qemu_argv ();
  test_settings ();
  rm_rf (root, NULL);
  return tap_done ();
}

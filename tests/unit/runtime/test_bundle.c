/* runtime/oci.c: config.json → spawn_spec, what it refuses and what it warns about, signals, rt_id_valid. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "runtime/oci.h"
#include "runtime/state.h"
#include "tap.h"

static char bundle[] = "/tmp/isola-test-oci.XXXXXX";

/* Parses the default spec with edits applied by a caller-provided JSON merge (NULL: none). */
static int
parse_with (const char *patch, struct oci_launch *l, isola_error_t *err)
{
  cleanup_json json_t *config = oci_default_spec ();
  if (patch)
    {
      cleanup_json json_t *p = json_loads (patch, 0, NULL);
      if (p == NULL)
        return -EINVAL;
      json_object_update_recursive (config, p);
    }
  oci_launch_init (l);
  return oci_launch_parse (config, bundle, l, err);
}

static bool
has_warning (const struct oci_launch *l, const char *needle)
{
  for (size_t i = 0; l->warnings && l->warnings[i]; i++)
    if (strstr (l->warnings[i], needle))
      return true;
  return false;
}

static void
test_default_spec (void)
{
  struct oci_launch l;
  cleanup_error isola_error_t err = NULL;
  int ret = parse_with (NULL, &l, &err);
  CHECK (ret == 0, "the default spec parses (%s)", err ? err->msg : "");
  CHECK_STR (l.spec.argv[0], "sh", "args");
  CHECK (l.spec.root_dir && str_has_suffix (l.spec.root_dir, "/rootfs"), "root.path relative to the bundle");
  CHECK (l.spec.readonly_rootfs, "root.readonly");
  CHECK_STR (l.spec.user, "0:0", "user");
  CHECK_STR (l.spec.hostname, "runc", "hostname");
  CHECK (l.process.terminal, "terminal");
  CHECK (l.spec.no_new_privileges, "noNewPrivileges");
  CHECK (l.spec.cap_keep == ((1ull << 29) | (1ull << 5) | (1ull << 10)), "bounding caps AUDIT_WRITE KILL NET_BIND");
  CHECK (l.spec.n_rlimits == 1 && l.spec.rlimits[0].resource == RLIMIT_NOFILE && l.spec.rlimits[0].soft == 1024,
         "rlimits");
  CHECK (l.spec.pid.mode == SPAWN_NS_PRIVATE && l.spec.ipc.mode == SPAWN_NS_PRIVATE
             && l.spec.uts.mode == SPAWN_NS_PRIVATE && l.spec.cgroupns.mode == SPAWN_NS_PRIVATE && !l.spec.host_network,
         "every namespace private");
  CHECK (l.spec.n_mounts == 0, "the default mounts are the sandbox's own");
  CHECK (l.spec.shm_size == 65536 * 1024, "/dev/shm's size from its options");
  CHECK (l.spec.masked_paths && strcmp (l.spec.masked_paths[0], "/proc/acpi") == 0, "maskedPaths are the spec's");
  CHECK (l.spec.readonly_paths && strcmp (l.spec.readonly_paths[4], "/proc/sysrq-trigger") == 0, "readonlyPaths");
  CHECK (!l.spec.all_devices, "a deny-all device rule keeps the default list");
  CHECK (l.warnings == NULL, "no warnings");
  oci_launch_clear (&l);
}

static void
test_fields (void)
{
  struct oci_launch l;
  cleanup_error isola_error_t err = NULL;
  int ret
      = parse_with ("{\"mounts\": [{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"rel\", "
                    "\"options\": [\"rbind\", \"ro\"]}, {\"destination\": \"/t\", \"type\": \"tmpfs\", "
                    "\"options\": [\"size=1m\", \"ro\"]}, {\"destination\": \"/n\", \"type\": \"nfs\"}],"
                    "\"linux\": {\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"pid\"}],"
                    "\"resources\": {\"memory\": {\"limit\": 1000000}, \"cpu\": {\"quota\": 50000, \"period\": "
                    "100000, \"shares\": 512}, \"pids\": {\"limit\": 7}, \"blockIO\": {\"weight\": 10},"
                    "\"devices\": [{\"allow\": true, \"access\": \"rwm\"}]},"
                    "\"sysctl\": {\"kernel.msgmax\": \"4242\"},"
                    "\"devices\": [{\"path\": \"/dev/x\", \"type\": \"c\", \"major\": 1, \"minor\": 3}]},"
                    "\"process\": {\"apparmorProfile\": \"p\", \"oomScoreAdj\": 5, \"user\": {\"uid\": 7, \"gid\": 8,"
                    "\"additionalGids\": [9]}}}",
                    &l, &err);
  CHECK (ret == 0, "parses (%s)", err ? err->msg : "");
  CHECK (l.spec.n_mounts == 2, "bind and tmpfs kept, nfs skipped");
  cleanup_free char *rel = xasprintf ("%s/rel", bundle);
  CHECK_STR (l.spec.mounts[0].source, rel, "a relative bind source is the bundle's");
  CHECK (l.spec.mounts[0].readonly, "ro bind");
  CHECK (l.spec.mounts[1].source == NULL && l.spec.mounts[1].readonly, "tmpfs, ro");
  CHECK_STR (l.spec.mounts[1].tmpfs_options, "size=1m", "tmpfs options without ro");
  CHECK (has_warning (&l, "nfs"), "the nfs mount is warned about");
  CHECK (l.spec.host_network && l.spec.uts.mode == SPAWN_NS_HOST && l.spec.pid.mode == SPAWN_NS_PRIVATE,
         "unlisted namespaces are the host's");
  CHECK (l.limits.memory == 1000000 && l.limits.memory_swap == -1, "memory, unlimited swap when not given");
  CHECK (l.limits.nano_cpus == 500000000 && l.limits.cpu_shares == 512 && l.limits.pids == 7, "cpu and pids");
  CHECK (has_warning (&l, "blockIO"), "blockIO is warned about");
  CHECK (l.spec.all_devices, "an allow-all rule opens every device");
  CHECK (l.spec.n_devices == 1 && S_ISCHR (l.spec.devices[0].mode) && (l.spec.devices[0].mode & 0777) == 0666,
         "a device, mode 0666 by default");
  CHECK (l.spec.sysctls && strcmp (l.spec.sysctls[0], "kernel.msgmax=4242") == 0, "sysctl");
  CHECK (has_warning (&l, "apparmorProfile"), "apparmor warned about");
  CHECK (l.process.has_oom_score_adj && l.process.oom_score_adj == 5, "oomScoreAdj");
  CHECK_STR (l.spec.user, "7:8", "uid:gid");
  CHECK (l.spec.group_add && strcmp (l.spec.group_add[0], "9") == 0, "additionalGids");
  oci_launch_clear (&l);
}

static void
test_refusals (void)
{
  static const struct
  {
    const char *patch, *msg;
  } cases[] = {
    { "{\"linux\": {\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"user\"}]}}", "needs linux.uidMappings" },
    { "{\"linux\": {\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"user\", \"path\": \"/proc/self/ns/user\"}]}}",
      "is the runtime's own user namespace" },
    { "{\"linux\": {\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"user\", \"path\": \"/proc/self/ns/net\"}]}}",
      "is not a namespace of type user" },
    { "{\"linux\": {\"uidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}]}}",
      "user namespaces aren't enabled" },
    { "{\"linux\": {\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"user\"}, {\"type\": \"ipc\", \"path\": "
      "\"/proc/self/ns/ipc\"}]}}",
      "cannot join other namespaces by path" },
    { "{\"linux\": {\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"user\"}], \"uidMappings\": [{\"containerID\": "
      "0, "
      "\"hostID\": 1000, \"size\": 0}], \"gidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}]}}",
      "must be uint32s" },
    { "{\"linux\": {\"namespaces\": [{\"type\": \"pid\"}]}}", "mount namespace" },
    { "{\"linux\": {\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"bogus\"}]}}", "unknown type" },
    { "{\"linux\": {\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"network\", \"path\": \"/nonexistent\"}]}}",
      "/nonexistent" },
    { "{\"process\": {\"args\": []}}", "args must not be empty" },
    { "{\"process\": {\"cwd\": \"rel\"}}", "absolute path" },
    { "{\"process\": {\"rlimits\": [{\"type\": \"RLIMIT_BOGUS\"}]}}", "RLIMIT_BOGUS" },
    { "{\"process\": {\"capabilities\": {\"bounding\": [\"CAP_BOGUS\"]}}}", "CAP_BOGUS" },
    { "{\"root\": {\"path\": \"nosuchdir\"}}", "does not exist" },
    { "{\"mounts\": [{\"destination\": \"rel\", \"type\": \"tmpfs\"}]}", "absolute" },
    { "{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_BOGUS\"}}}", "seccomp" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    {
      struct oci_launch l;
      cleanup_error isola_error_t err = NULL;
      int ret = parse_with (cases[i].patch, &l, &err);
      CHECK (ret < 0 && err && strstr (err->msg, cases[i].msg), "refused: %s (%s)", cases[i].patch,
             err ? err->msg : "accepted");
      oci_launch_clear (&l);
    }
}

/* Namespaces joined by path: only an nsfs file of the type named is opened, so a FIFO there (whose open would block)
   or another kind of namespace is refused.  In a child given minutes: a parse that blocks fails instead of hanging. */
static void
check_ns_path (const char *type, const char *path, const char *want)
{
  cleanup_free char *patch = xasprintf (
      "{\"linux\": {\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"%s\", \"path\": \"%s\"}]}}", type, path);
  pid_t pid = fork ();
  if (pid == 0)
    {
      struct oci_launch l;
      cleanup_error isola_error_t err = NULL;
      int ret = parse_with (patch, &l, &err);
      bool ok = want ? ret < 0 && err && strstr (err->msg, want) : ret == 0;
      oci_launch_clear (&l);
      _exit (ok ? 0 : 1);
    }
  int status = tap_wait_child (pid, 300);
  CHECK (pid > 0 && status == 0, "%s namespace at %s: %s%s", type, path, want ? "refused: " : "joined",
         status == -1 ? " (blocked for 5 minutes)"
         : want       ? want
                      : "");
}

static void
test_namespace_paths (void)
{
  cleanup_free char *fifo = xasprintf ("%s/fifo", bundle);
  CHECK (mkfifo (fifo, 0600) == 0, "mkfifo");
  cleanup_free char *want_fifo = xasprintf ("`%s` is not a namespace of type network", fifo);
  check_ns_path ("network", fifo, want_fifo);
  check_ns_path ("network", "/proc/self/ns/net", NULL);
  check_ns_path ("uts", "/proc/self/ns/uts", NULL);
  check_ns_path ("pid", "/proc/self/ns/uts", "`/proc/self/ns/uts` is not a namespace of type pid");
  check_ns_path ("ipc", "/proc/self/status", "is not a namespace of type ipc");
}

static void
test_seccomp (void)
{
  struct oci_launch l;
  cleanup_error isola_error_t err = NULL;
  int ret = parse_with ("{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": "
                        "[\"SCMP_ARCH_X86_64\"], \"syscalls\": [{\"names\": [\"mkdir\"], \"action\": "
                        "\"SCMP_ACT_ERRNO\", \"errnoRet\": 1}]}}}",
                        &l, &err);
  CHECK (ret == 0 && l.seccomp != NULL && l.spec.seccomp == l.seccomp, "the spec's seccomp compiles (%s)",
         err ? err->msg : "");
  oci_launch_clear (&l);
}

static void
test_signals_and_ids (void)
{
  CHECK (oci_parse_signal ("KILL") == SIGKILL && oci_parse_signal ("SIGTERM") == SIGTERM
             && oci_parse_signal ("9") == SIGKILL && oci_parse_signal ("sigusr1") == SIGUSR1,
         "signals by name and number");
  CHECK (oci_parse_signal ("NOPE") < 0 && oci_parse_signal ("0") < 0 && oci_parse_signal ("") < 0,
         "bad signals refused");
  CHECK (rt_id_valid ("abc-1_2.3+4") && !rt_id_valid ("a/b") && !rt_id_valid ("..") && !rt_id_valid (""),
         "runc's ID rule");
}

static void
test_user_namespace (void)
{
  struct oci_launch l;
  cleanup_error isola_error_t err = NULL;
  int ret = parse_with ("{\"linux\": {\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"user\"}], "
                        "\"uidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 1000}, "
                        "{\"containerID\": 1000, \"hostID\": 2000, \"size\": 1}], "
                        "\"gidMappings\": [{\"containerID\": 0, \"hostID\": 200000, \"size\": 65536}]}}",
                        &l, &err);
  CHECK (ret == 0, "a user namespace with both maps parses");
  CHECK_STR (l.spec.uid_map, "0 100000 1000\n1000 2000 1\n", "uidMappings as uid_map lines");
  CHECK_STR (l.spec.gid_map, "0 200000 65536\n", "gidMappings as gid_map lines");
  oci_launch_clear (&l);
}

/* uid_map texts compare as sets of ranges, whatever their spacing or order (the kernel pads its columns). */
static void
test_id_maps_equal (void)
{
  CHECK (oci_id_maps_equal ("         0     100000      65536\n", "0 100000 65536\n"), "the kernel's padding");
  CHECK (oci_id_maps_equal ("0 1 1\n5 10 2\n", "5 10 2\n0 1 1"), "any order");
  CHECK (!oci_id_maps_equal ("0 100000 65536\n", "0 100000 65535\n"), "another size");
  CHECK (!oci_id_maps_equal ("0 1 1\n5 10 2\n", "0 1 1\n"), "a range more");
  CHECK (!oci_id_maps_equal ("0 1 1\n", NULL) && oci_id_maps_equal ("", NULL), "none is only none");
}

static bool
cgroup_path_is (const char *cgroups_path, bool systemd, const char *want)
{
  cleanup_free char *got = NULL;
  if (rt_cgroup_path ("c1", cgroups_path, systemd, &got, NULL) < 0)
    return want == NULL;
  return want && strcmp (got, want) == 0;
}

static void
test_cgroups_path (void)
{
  CHECK (cgroup_path_is (NULL, false, "runtime-c1") && cgroup_path_is ("", true, "runtime-c1"),
         "no cgroupsPath: isola/runtime-ID");
  CHECK (cgroup_path_is ("/a/b", false, "/a/b"), "an absolute path from the hierarchies' root");
  CHECK (cgroup_path_is ("pod/c1", false, "pod/c1"), "a relative one under isola/");
  CHECK (cgroup_path_is ("/a/../b", false, NULL) && cgroup_path_is ("../x", false, NULL)
             && cgroup_path_is ("/", false, NULL) && cgroup_path_is ("/a//b", false, NULL)
             && cgroup_path_is ("/a/", false, NULL) && cgroup_path_is ("/a/./b", false, NULL),
         "climbing, empty or root paths refused");
  CHECK (cgroup_path_is ("machine.slice:libpod:abc", true, "/machine.slice/libpod-abc.scope"),
         "systemd: slice, then prefix-name.scope");
  CHECK (cgroup_path_is ("kubepods-besteffort-pod1.slice:cri-containerd:abc", true,
                         "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/"
                         "cri-containerd-abc.scope"),
         "systemd: a slice nested as its dashes say");
  CHECK (cgroup_path_is (":isola:abc", true, "/system.slice/isola-abc.scope"), "systemd: system.slice by default");
  CHECK (cgroup_path_is ("-.slice:p:abc", true, "/p-abc.scope"), "systemd: -.slice is the root");
  CHECK (cgroup_path_is ("user.slice:p:sub.slice", true, "/user.slice/sub.slice"), "systemd: a name that is a slice");
  CHECK (cgroup_path_is ("/a/b", true, NULL) && cgroup_path_is ("a:b", true, NULL)
             && cgroup_path_is ("a:b:c:d", true, NULL),
         "systemd: not slice:prefix:name refused");
  CHECK (cgroup_path_is ("bad:p:n", true, NULL) && cgroup_path_is ("a--b.slice:p:n", true, NULL)
             && cgroup_path_is ("-a.slice:p:n", true, NULL) && cgroup_path_is ("a/b.slice:p:n", true, NULL)
             && cgroup_path_is ("a.slice:p:x/y", true, NULL) && cgroup_path_is ("a.slice:p:", true, NULL),
         "systemd: bad slice or unit names refused");
  cleanup_error isola_error_t err = NULL;
  char *out = NULL;
  CHECK (rt_cgroup_path ("c1", "/a/b", true, &out, &err) < 0 && err
             && strstr (err->msg, "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups"),
         "runc's message for a path that is not systemd's form");
}

int
main (void)
{
  if (mkdtemp (bundle) == NULL)
    return 1;
  cleanup_free char *rootfs = xasprintf ("%s/rootfs", bundle);
  mkdir (rootfs, 0755);
  test_default_spec ();
  test_fields ();
  test_refusals ();
  test_namespace_paths ();
  test_seccomp ();
  test_signals_and_ids ();
  test_cgroups_path ();
  test_user_namespace ();
  test_id_maps_equal ();
  (void)rm_rf (bundle, NULL);
  return tap_done ();
}

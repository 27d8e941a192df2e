/* cgroup limits on both layouts, against fake cgroup trees: v2 (what most hosts have) and v1 (this CI host). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "sandbox/cgroup.h"
#include "tap.h"

static void
touch (const char *dir, const char *file, const char *content)
{
  cleanup_free char *p = xasprintf ("%s/%s", dir, file);
  (void)write_file_atomic (p, content, strlen (content), 0644, NULL);
}

static bool
file_is (const char *dir, const char *file, const char *want)
{
  cleanup_free char *p = xasprintf ("%s/%s", dir, file);
  cleanup_free char *buf = NULL;
  return read_file_bounded (p, 4096, &buf, NULL, NULL) == 0 && strcmp (buf, want) == 0;
}

/* A fake cgroup file system cannot create a new cgroup's interface files on mkdir, so the test pre-creates the
   directory with them, as the kernel would. */
static void
test_v2 (const char *root)
{
  touch (root, "cgroup.controllers", "cpu memory pids\n");
  touch (root, "cgroup.subtree_control", "");
  cleanup_free char *parent = xasprintf ("%s/isola", root);
  cleanup_free char *dir = xasprintf ("%s/isola/c1", root);
  mkdir_p (dir, 0755, NULL);
  touch (parent, "cgroup.subtree_control", "");
  static const char *const files[] = { "memory.max", "memory.swap.max", "cpu.max", "pids.max", "cgroup.procs" };
  for (size_t i = 0; i < ARRAY_SIZE (files); i++)
    touch (dir, files[i], "");

  struct cgroup_fs fs = { 0 };
  CHECK (cgroup_fs_detect (root, &fs, NULL) == 0 && fs.v2, "v2 detected by cgroup.controllers");
  struct cgroup_limits l = { .memory = 64 << 20, .nano_cpus = 1500000000, .pids = 42 };
  struct cgroup_placement pl = { .dir_fd = -1 };
  CHECK (cgroup_create (&fs, "c1", &l, &pl, NULL) == 0, "v2 create");
  CHECK (file_is (dir, "memory.max", "67108864"), "v2 memory.max");
  CHECK (file_is (dir, "memory.swap.max", "67108864"), "v2 swap as much again as memory, like docker");
  CHECK (file_is (dir, "cpu.max", "150000 100000"), "v2 cpu.max for --cpus 1.5");
  CHECK (file_is (dir, "pids.max", "42"), "v2 pids.max");
  CHECK (file_is (root, "cgroup.subtree_control", "+memory +cpu +pids"), "controllers delegated from the root");
  CHECK (pl.dir_fd >= 0 && pl.procs && pl.procs[0] == NULL,
         "the first process is cloned into the cgroup: nothing to join afterwards");
  CHECK (!pl.view.tmpfs && strv_len (pl.view.sources) == 1 && strcmp (pl.view.sources[0], dir) == 0
             && strcmp (pl.view.targets[0], "") == 0,
         "v2: the container sees its own cgroup as /sys/fs/cgroup");
  cgroup_placement_clear (&pl);
  touch (dir, "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
  CHECK (cgroup_oom_killed (&fs, "c1"), "v2 OOM kill read from memory.events");
  touch (dir, "memory.events", "oom 0\noom_kill 0\n");
  CHECK (!cgroup_oom_killed (&fs, "c1"), "no OOM kill");
  cgroup_fs_clear (&fs);
}

static void
test_v1 (const char *root)
{
  static const char *const ctrl[] = { "memory", "cpu", "pids" };
  for (size_t i = 0; i < ARRAY_SIZE (ctrl); i++)
    {
      cleanup_free char *dir = xasprintf ("%s/%s/isola/c2", root, ctrl[i]);
      mkdir_p (dir, 0755, NULL);
      touch (dir, "cgroup.procs", "");
    }
  cleanup_free char *mem = xasprintf ("%s/memory/isola/c2", root);
  cleanup_free char *cpu = xasprintf ("%s/cpu/isola/c2", root);
  cleanup_free char *pids = xasprintf ("%s/pids/isola/c2", root);
  touch (mem, "memory.limit_in_bytes", "");
  touch (mem, "memory.memsw.limit_in_bytes", "");
  touch (cpu, "cpu.cfs_period_us", "");
  touch (cpu, "cpu.cfs_quota_us", "");
  touch (pids, "pids.max", "");

  struct cgroup_fs fs = { 0 };
  CHECK (cgroup_fs_detect (root, &fs, NULL) == 0 && !fs.v2, "v1 detected");
  struct cgroup_limits l = { .memory = 32 << 20, .nano_cpus = 500000000, .pids = 7 };
  CHECK (fs.unified == NULL, "no v2 hierarchy beside v1");
  struct cgroup_placement pl = { .dir_fd = -1 };
  CHECK (cgroup_create (&fs, "c2", &l, &pl, NULL) == 0 && pl.dir_fd < 0 && strv_len (pl.procs) == 3,
         "v1 create with all three limits: three hierarchies to join");
  CHECK (pl.view.tmpfs && strv_len (pl.view.sources) == 3 && strcmp (pl.view.sources[0], mem) == 0
             && strcmp (pl.view.targets[0], "memory") == 0 && strcmp (pl.view.sources[1], cpu) == 0
             && strcmp (pl.view.targets[1], "cpu") == 0 && strcmp (pl.view.targets[2], "pids") == 0,
         "v1: a tmpfs with the container's cgroup of each hierarchy at its controller's name");
  cgroup_placement_clear (&pl);
  CHECK (file_is (mem, "memory.limit_in_bytes", "33554432") && file_is (mem, "memory.memsw.limit_in_bytes", "67108864"),
         "v1 memory and memory+swap");
  CHECK (file_is (cpu, "cpu.cfs_quota_us", "50000") && file_is (cpu, "cpu.cfs_period_us", "100000"), "v1 cpu quota");
  CHECK (file_is (pids, "pids.max", "7"), "v1 pids.max");
  touch (mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  CHECK (cgroup_oom_killed (&fs, "c2"), "v1 OOM kill read from memory.oom_control");
  struct cgroup_limits none = { 0 };
  CHECK (cgroup_create (&fs, "c2", &none, &pl, NULL) == 0 && strv_len (pl.procs) == 1
             && str_has_suffix (pl.procs[0], "/pids/isola/c2/cgroup.procs") && pl.devices_v1 == NULL,
         "v1 without limits: only pids, to hold the container's processes");
  cgroup_placement_clear (&pl);
  /* With the devices controller (as real v1 hosts have), its hierarchy too: where the device rules go. */
  cleanup_free char *devices = xasprintf ("%s/devices/isola/c2", root);
  mkdir_p (devices, 0755, NULL);
  touch (devices, "cgroup.procs", "");
  CHECK (cgroup_create (&fs, "c2", &none, &pl, NULL) == 0 && strv_len (pl.procs) == 2 && pl.devices_v1
             && strcmp (pl.devices_v1, devices) == 0 && str_has_suffix (pl.procs[1], "/devices/isola/c2/cgroup.procs"),
         "pure v1 with a devices hierarchy: the container joins it, and its device rules go there");
  cgroup_placement_clear (&pl);
  CHECK (cgroup_procs_paths (&fs, "c2", &pl.procs) == 0 && pl.procs[0]
             && str_has_suffix (pl.procs[strv_len (pl.procs) - 1], "/devices/isola/c2/cgroup.procs"),
         "exec joins the devices cgroup too");
  strv_free (pl.procs);
  pl.procs = NULL;
  cgroup_fs_clear (&fs);
}

/* Hybrid (this CI host): v1 controllers, and a v2 hierarchy without controllers at root/unified that holds each
   container's processes, so that its first process is cloned into it instead of joining v1 hierarchies. */
static void
test_hybrid (const char *root)
{
  static const char *const ctrl[] = { "memory", "cpu", "pids" };
  cleanup_free char *devices = xasprintf ("%s/devices", root);
  mkdir_p (devices, 0755, NULL);
  for (size_t i = 0; i < ARRAY_SIZE (ctrl); i++)
    {
      cleanup_free char *dir = xasprintf ("%s/%s/isola/c3", root, ctrl[i]);
      mkdir_p (dir, 0755, NULL);
      touch (dir, "cgroup.procs", "");
    }
  cleanup_free char *unified = xasprintf ("%s/unified", root);
  cleanup_free char *udir = xasprintf ("%s/unified/isola/c3", root);
  mkdir_p (udir, 0755, NULL);
  touch (unified, "cgroup.controllers", "");
  touch (udir, "cgroup.procs", "");
  cleanup_free char *mem = xasprintf ("%s/memory/isola/c3", root);
  touch (mem, "memory.limit_in_bytes", "");
  /* left frozen by a run whose monitor was killed while the container was paused */
  touch (udir, "cgroup.freeze", "1");

  struct cgroup_fs fs = { 0 };
  CHECK (cgroup_fs_detect (root, &fs, NULL) == 0 && !fs.v2 && fs.unified && str_has_suffix (fs.unified, "/unified"),
         "hybrid detected: v1 with a v2 hierarchy at unified");
  struct cgroup_placement pl = { .dir_fd = -1 };
  struct cgroup_limits none = { 0 };
  CHECK (cgroup_create (&fs, "c3", &none, &pl, NULL) == 0 && pl.dir_fd >= 0 && strv_len (pl.procs) == 0
             && pl.devices_v1 == NULL,
         "no limits: cloned into the v2 cgroup, no v1 hierarchy to join (device rules: a BPF program on the v2 one)");
  CHECK (file_is (udir, "cgroup.freeze", "0"), "a cgroup left frozen by a killed monitor is thawed for the new run");
  cgroup_placement_clear (&pl);
  struct cgroup_limits mem_only = { .memory = 16 << 20 };
  CHECK (cgroup_create (&fs, "c3", &mem_only, &pl, NULL) == 0 && pl.dir_fd >= 0 && strv_len (pl.procs) == 1
             && str_has_suffix (pl.procs[0], "/memory/isola/c3/cgroup.procs")
             && file_is (mem, "memory.limit_in_bytes", "16777216"),
         "--memory: the v1 memory hierarchy too, with the limit");
  CHECK (pl.view.tmpfs && strv_len (pl.view.sources) == 2 && strcmp (pl.view.sources[0], udir) == 0
             && strcmp (pl.view.targets[0], "unified") == 0 && strcmp (pl.view.sources[1], mem) == 0
             && strcmp (pl.view.targets[1], "memory") == 0,
         "hybrid: the v2 cgroup at unified, the memory one at memory");
  cgroup_placement_clear (&pl);
  cgroup_placement_stay ("/sys/fs/cgroup", &pl);
  CHECK (pl.dir_fd < 0 && strv_len (pl.procs) == 0 && strv_len (pl.view.sources) == 1 && !pl.view.tmpfs
             && strcmp (pl.view.sources[0], "/sys/fs/cgroup") == 0 && strcmp (pl.view.targets[0], "") == 0,
         "staying in the root cgroup: nothing to join, the root is the view");
  cgroup_placement_clear (&pl);
  cleanup_strv char **paths = NULL;
  CHECK (cgroup_procs_paths (&fs, "c3", &paths) == 0 && strv_len (paths) == 4
             && str_has_suffix (paths[0], "/unified/isola/c3/cgroup.procs"),
         "exec joins the v2 cgroup and every v1 one that exists");
  cgroup_fs_clear (&fs);
}

/* Docker's resources as runc and crun write them on v2, an update, the freezer and the usage `stats` reads. */
static void
test_v2_resources (const char *root)
{
  touch (root, "cgroup.controllers", "cpu memory pids cpuset\n");
  touch (root, "cgroup.subtree_control", "");
  cleanup_free char *parent = xasprintf ("%s/isola", root);
  cleanup_free char *dir = xasprintf ("%s/isola/r1", root);
  mkdir_p (dir, 0755, NULL);
  touch (parent, "cgroup.subtree_control", "");
  touch (parent, "cpuset.cpus.effective", "0-3\n");
  touch (parent, "cpuset.mems.effective", "0\n");
  static const char *const files[]
      = { "memory.max",  "memory.swap.max", "memory.low", "cpu.max",      "cpu.weight",
          "cpuset.cpus", "cpuset.mems",     "pids.max",   "cgroup.procs", "cgroup.freeze" };
  for (size_t i = 0; i < ARRAY_SIZE (files); i++)
    touch (dir, files[i], "");
  struct cgroup_fs fs = { 0 };
  CHECK (cgroup_fs_detect (root, &fs, NULL) == 0 && fs.v2, "v2");
  struct cgroup_limits l = { .memory = 64 << 20,
                             .memory_swap = 192 << 20,
                             .memory_reservation = 32 << 20,
                             .cpu_shares = 1024,
                             .cpuset_cpus = "1-2",
                             .cpuset_mems = "0" };
  struct cgroup_placement pl = { .dir_fd = -1 };
  CHECK (cgroup_create (&fs, "r1", &l, &pl, NULL) == 0, "v2 create with every resource");
  cgroup_placement_clear (&pl);
  CHECK (file_is (dir, "memory.swap.max", "134217728"), "memory.swap.max is MemorySwap - Memory");
  CHECK (file_is (dir, "memory.low", "33554432"), "the reservation is memory.low");
  CHECK (file_is (dir, "cpu.weight", "39"), "1024 shares are cpu.weight 39");
  CHECK (file_is (dir, "cpuset.cpus", "1-2") && file_is (dir, "cpuset.mems", "0"), "cpuset.cpus and cpuset.mems");
  CHECK (file_is (root, "cgroup.subtree_control", "+memory +cpu +pids +cpuset"), "cpuset delegated when asked for");
  isola_error_t err = NULL;
  struct cgroup_limits bad = { .cpuset_cpus = "5" };
  CHECK (cgroup_create (&fs, "r1", &bad, &pl, &err) == -EINVAL && err
             && strcmp (err->msg, "Requested CPUs are not available - requested 5, available: 0-3") == 0,
         "a cpuset the parent has not is refused with Docker's message");
  isola_error_release (&err);
  mkdir_p (dir, 0755, NULL);
  for (size_t i = 0; i < ARRAY_SIZE (files); i++)
    touch (dir, files[i], "");

  struct cgroup_limits up = { .memory = 128 << 20, .memory_swap = -1, .nano_cpus = 250000000, .pids = 0 };
  CHECK (cgroup_update (&fs, "r1", &up, NULL) == 0 && file_is (dir, "memory.max", "134217728")
             && file_is (dir, "memory.swap.max", "max") && file_is (dir, "cpu.max", "25000 100000")
             && file_is (dir, "pids.max", "max"),
         "update: new limits written, unlimited swap, no pids limit is max");
  CHECK (cgroup_update (&fs, "nosuch", &up, NULL) == -ESRCH, "update of a container without cgroup: ESRCH");

  touch (dir, "cgroup.events", "populated 1\nfrozen 1\n");
  CHECK (cgroup_freeze (&fs, "r1", true, NULL) == 0 && file_is (dir, "cgroup.freeze", "1"),
         "freeze writes cgroup.freeze and waits for frozen 1");
  touch (dir, "cgroup.events", "populated 1\nfrozen 0\n");
  CHECK (cgroup_freeze (&fs, "r1", false, NULL) == 0 && file_is (dir, "cgroup.freeze", "0"), "thaw");

  touch (dir, "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 400\n");
  touch (dir, "memory.current", "1000000\n");
  touch (dir, "memory.stat", "anon 10\ninactive_file 200000\nactive_file 5\n");
  touch (dir, "memory.max", "max\n");
  touch (dir, "io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2\n8:16 rbytes=1 wbytes=2 rios=1 wios=1\n");
  touch (dir, "pids.current", "3\n");
  struct cgroup_stats st;
  CHECK (cgroup_stats_read (&fs, "r1", &st, NULL) == 0 && st.cpu_ns == 1500000 && st.memory == 800000
             && st.memory_limit == 0 && st.read_bytes == 11 && st.write_bytes == 22 && st.pids == 3,
         "v2 stats: CPU time, memory without inactive files, no limit, I/O of every device, pids");
  CHECK (st.cpu_user_ns == 1000000 && st.cpu_system_ns == 400000 && st.n_percpu == 0,
         "v2 stats: user and kernel time, nothing per CPU");
  cleanup_json json_t *j = cgroup_stats_to_json (&st);
  struct cgroup_stats back;
  cgroup_stats_from_json (j, &back);
  CHECK (memcmp (&back, &st, sizeof st) == 0, "stats survive their JSON (the VM's RESOURCES_REPLY)");
  cgroup_fs_clear (&fs);
}

/* The same on v1: soft limit, OOM switch, shares, and a cpuset hierarchy whose cgroups inherit cpus and mems. */
static void
test_v1_resources (const char *root)
{
  static const char *const ctrl[] = { "memory", "cpu", "cpuset", "pids" };
  for (size_t i = 0; i < ARRAY_SIZE (ctrl); i++)
    {
      cleanup_free char *dir = xasprintf ("%s/%s/isola/r2", root, ctrl[i]);
      mkdir_p (dir, 0755, NULL);
      touch (dir, "cgroup.procs", "");
    }
  cleanup_free char *mem = xasprintf ("%s/memory/isola/r2", root);
  cleanup_free char *cpu = xasprintf ("%s/cpu/isola/r2", root);
  cleanup_free char *cs_root = xasprintf ("%s/cpuset", root);
  cleanup_free char *cs_parent = xasprintf ("%s/cpuset/isola", root);
  cleanup_free char *cs = xasprintf ("%s/cpuset/isola/r2", root);
  static const char *const mem_files[]
      = { "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.oom_control" };
  for (size_t i = 0; i < ARRAY_SIZE (mem_files); i++)
    touch (mem, mem_files[i], "");
  touch (cpu, "cpu.shares", "");
  touch (cs_root, "cpuset.cpus", "0-3\n");
  touch (cs_root, "cpuset.mems", "0\n");
  touch (cs_parent, "cpuset.cpus", "\n");
  touch (cs_parent, "cpuset.mems", "\n");
  touch (cs, "cpuset.cpus", "\n");
  touch (cs, "cpuset.mems", "\n");
  struct cgroup_fs fs = { 0 };
  CHECK (cgroup_fs_detect (root, &fs, NULL) == 0 && !fs.v2, "v1");
  struct cgroup_limits l = { .memory = 64 << 20,
                             .memory_swap = -1,
                             .memory_reservation = 16 << 20,
                             .oom_kill_disable = true,
                             .cpu_shares = 512,
                             .cpuset_cpus = "1,3" };
  struct cgroup_placement pl = { .dir_fd = -1 };
  CHECK (cgroup_create (&fs, "r2", &l, &pl, NULL) == 0, "v1 create with every resource");
  CHECK (strv_len (pl.procs) == 4, "memory, cpu, cpuset and pids (no v2 hierarchy: pids holds the processes)");
  cgroup_placement_clear (&pl);
  CHECK (file_is (mem, "memory.memsw.limit_in_bytes", "-1"), "--memory-swap -1: memsw unlimited");
  CHECK (file_is (mem, "memory.soft_limit_in_bytes", "16777216"), "the reservation is the soft limit");
  CHECK (file_is (mem, "memory.oom_control", "1"), "--oom-kill-disable");
  CHECK (file_is (cpu, "cpu.shares", "512"), "cpu.shares");
  CHECK (file_is (cs_parent, "cpuset.cpus", "0-3") && file_is (cs_parent, "cpuset.mems", "0"),
         "isola/ inherits the root's cpus and mems");
  CHECK (file_is (cs, "cpuset.cpus", "1,3") && file_is (cs, "cpuset.mems", "0"),
         "the container's cpus as asked, its mems inherited");

  /* Without a v2 hierarchy, pause needs the freezer: a container joins it from the start. */
  cleanup_free char *fz = xasprintf ("%s/freezer/isola/r2", root);
  mkdir_p (fz, 0755, NULL);
  touch (fz, "cgroup.procs", "");
  touch (fz, "freezer.state", "");
  struct cgroup_limits none = { 0 };
  CHECK (cgroup_create (&fs, "r2", &none, &pl, NULL) == 0 && strv_len (pl.procs) == 2
             && str_has_suffix (pl.procs[1], "/freezer/isola/r2/cgroup.procs"),
         "pure v1: pids and freezer joined even without limits");
  cgroup_placement_clear (&pl);
  CHECK (cgroup_freeze (&fs, "r2", true, NULL) == 0 && file_is (fz, "freezer.state", "FROZEN"),
         "v1 freeze: freezer.state FROZEN");
  CHECK (cgroup_freeze (&fs, "r2", false, NULL) == 0 && file_is (fz, "freezer.state", "THAWED"), "v1 thaw: THAWED");

  /* The CPU time of a v1 cpuacct cgroup: in all, per CPU, and user and kernel in USER_HZ ticks. */
  cleanup_free char *acct = xasprintf ("%s/cpuacct/isola/r2", root);
  mkdir_p (acct, 0755, NULL);
  touch (acct, "cpuacct.usage", "3000\n");
  touch (acct, "cpuacct.usage_percpu", "1000 2000 \n");
  touch (acct, "cpuacct.stat", "user 5\nsystem 2\n");
  uint64_t tick = 1000000000ull / (uint64_t)sysconf (_SC_CLK_TCK);
  struct cgroup_stats st;
  CHECK (cgroup_stats_read (&fs, "r2", &st, NULL) == 0 && st.cpu_ns == 3000 && st.n_percpu == 2
             && st.percpu_ns[0] == 1000 && st.percpu_ns[1] == 2000 && st.cpu_user_ns == 5 * tick
             && st.cpu_system_ns == 2 * tick,
         "v1 cpuacct: usage, usage_percpu, stat");
  cleanup_json json_t *j = cgroup_stats_to_json (&st);
  struct cgroup_stats back;
  cgroup_stats_from_json (j, &back);
  CHECK (back.n_percpu == 2 && back.percpu_ns[1] == 2000 && back.cpu_user_ns == st.cpu_user_ns,
         "the per-CPU figures survive their JSON");
  cgroup_fs_clear (&fs);
}

/* v1 alone: the freezer hierarchy pauses the container; one left frozen (its monitor killed while the container was
   paused) is thawed when the container runs again. */
static void
test_v1_freezer (const char *root)
{
  static const char *const ctrl[] = { "memory", "pids", "freezer" };
  for (size_t i = 0; i < ARRAY_SIZE (ctrl); i++)
    {
      cleanup_free char *dir = xasprintf ("%s/%s/isola/c4", root, ctrl[i]);
      mkdir_p (dir, 0755, NULL);
      touch (dir, "cgroup.procs", "");
    }
  cleanup_free char *freezer = xasprintf ("%s/freezer/isola/c4", root);
  touch (freezer, "freezer.state", "FROZEN");
  struct cgroup_fs fs = { 0 };
  CHECK (cgroup_fs_detect (root, &fs, NULL) == 0 && !fs.v2 && fs.unified == NULL, "v1 detected");
  struct cgroup_placement pl = { .dir_fd = -1 };
  struct cgroup_limits none = { 0 };
  CHECK (cgroup_create (&fs, "c4", &none, &pl, NULL) == 0 && strv_len (pl.procs) == 2
             && str_has_suffix (pl.procs[1], "/freezer/isola/c4/cgroup.procs"),
         "v1 without v2: the pids and freezer hierarchies");
  CHECK (file_is (freezer, "freezer.state", "THAWED"), "a freezer cgroup left frozen is thawed for the new run");
  cgroup_placement_clear (&pl);
  cgroup_fs_clear (&fs);
}

/* An absolute path (isola-runtime's cgroupsPath): the cgroup is there from each hierarchy's root, and on v2 every
   level above it delegates the controllers. */
static void
test_absolute_path (const char *root)
{
  touch (root, "cgroup.controllers", "cpu memory pids\n");
  touch (root, "cgroup.subtree_control", "");
  cleanup_free char *pod = xasprintf ("%s/kubepods/pod1", root), *kube = xasprintf ("%s/kubepods", root);
  cleanup_free char *dir = xasprintf ("%s/kubepods/pod1/c3", root);
  mkdir_p (dir, 0755, NULL);
  touch (kube, "cgroup.subtree_control", "");
  touch (pod, "cgroup.subtree_control", "");
  touch (dir, "pids.max", "");
  touch (dir, "cgroup.procs", "");
  struct cgroup_fs fs = { 0 };
  CHECK (cgroup_fs_detect (root, &fs, NULL) == 0 && fs.v2, "v2 for an absolute path");
  struct cgroup_limits l = { .pids = 9 };
  struct cgroup_placement pl = { .dir_fd = -1 };
  CHECK (cgroup_create (&fs, "/kubepods/pod1/c3", &l, &pl, NULL) == 0 && pl.dir_fd >= 0,
         "an absolute path is created where it says");
  CHECK (file_is (dir, "pids.max", "9"), "its limits are written there");
  CHECK (file_is (root, "cgroup.subtree_control", "+memory +cpu +pids")
             && file_is (kube, "cgroup.subtree_control", "+memory +cpu +pids")
             && file_is (pod, "cgroup.subtree_control", "+memory +cpu +pids"),
         "every level from the root down to its parent delegates the controllers");
  cleanup_free char *isola = xasprintf ("%s/isola", root);
  CHECK (!path_exists (isola), "nothing is made under isola/");
  CHECK (strcmp (pl.view.sources[0], dir) == 0, "the container sees that cgroup");
  cgroup_placement_clear (&pl);
  CHECK (cgroup_procs_paths (&fs, "/kubepods/pod1/c3", &pl.procs) == 0 && strv_len (pl.procs) == 1
             && str_has_suffix (pl.procs[0], "/kubepods/pod1/c3/cgroup.procs"),
         "exec joins it");
  strv_free (pl.procs);
  pl.procs = NULL;
  /* A real cgroup's files go with rmdir; the fake one's are removed first. */
  cleanup_free char *f1 = xasprintf ("%s/pids.max", dir), *f2 = xasprintf ("%s/cgroup.procs", dir);
  unlink (f1);
  unlink (f2);
  CHECK (cgroup_destroy (&fs, "/kubepods/pod1/c3", NULL) == 0 && !path_exists (dir) && path_exists (pod),
         "destroy removes the container's cgroup, not its parents");
  cgroup_fs_clear (&fs);
}

static void
test_translations (void)
{
  CHECK (cgroup_cpu_weight_of_shares (2) == 1 && cgroup_cpu_weight_of_shares (1024) == 39
             && cgroup_cpu_weight_of_shares (262144) == 10000 && cgroup_cpu_weight_of_shares (1) == 1
             && cgroup_cpu_weight_of_shares (1 << 20) == 10000 && cgroup_cpu_weight_of_shares (0) == 0,
         "shares to cpu.weight as runc and crun: [2, 262144] onto [1, 10000]");
  char buf[32];
  cgroup_swap_max (64 << 20, 0, buf, sizeof buf);
  CHECK (strcmp (buf, "67108864") == 0, "default swap: as much as memory");
  cgroup_swap_max (64 << 20, 100 << 20, buf, sizeof buf);
  CHECK (strcmp (buf, "37748736") == 0, "swap is MemorySwap - Memory");
  cgroup_swap_max (64 << 20, -1, buf, sizeof buf);
  CHECK (strcmp (buf, "max") == 0, "-1: max");
  cgroup_swap_max (64 << 20, 64 << 20, buf, sizeof buf);
  CHECK (strcmp (buf, "0") == 0, "MemorySwap = Memory: no swap");
  uint64_t m[CGROUP_CPUSET_MAX / 64];
  CHECK (cgroup_cpuset_parse ("0-2,5,7-8", m) == 0 && m[0] == 0x1a7, "a cpuset list");
  CHECK (cgroup_cpuset_parse ("", m) == 0 && m[0] == 0, "empty");
  CHECK (cgroup_cpuset_parse ("1-", m) < 0 && cgroup_cpuset_parse ("a", m) < 0 && cgroup_cpuset_parse ("3-1", m) < 0
             && cgroup_cpuset_parse ("1,,2", m) < 0 && cgroup_cpuset_parse ("1,", m) < 0
             && cgroup_cpuset_parse ("5000", m) < 0,
         "bad lists");
  CHECK (cgroup_cpuset_check ("1,3", "0-3\n") == 0 && cgroup_cpuset_check ("4", "0-3") == -ERANGE
             && cgroup_cpuset_check ("x", "0-3") == -EINVAL,
         "a cpuset checked against what is available");
  json_t *host
      = json_pack ("{s:I, s:I, s:I, s:s, s:b, s:I}", "Memory", (json_int_t)100, "MemorySwap", (json_int_t)-1,
                   "CpuShares", (json_int_t)7, "CpusetCpus", "0", "OomKillDisable", 1, "PidsLimit", (json_int_t)-1);
  struct cgroup_limits l;
  cgroup_limits_from_host_config (host, &l);
  CHECK (l.memory == 100 && l.memory_swap == -1 && l.cpu_shares == 7 && strcmp (l.cpuset_cpus, "0") == 0
             && l.oom_kill_disable && l.pids == 0 && cgroup_limits_any (&l),
         "limits from a HostConfig");
  json_t *again = json_object ();
  cgroup_limits_to_json (&l, again);
  struct cgroup_limits l2;
  cgroup_limits_from_host_config (again, &l2);
  CHECK (l2.memory == 100 && l2.memory_swap == -1 && l2.cpu_shares == 7 && strcmp (l2.cpuset_cpus, "0") == 0
             && l2.oom_kill_disable,
         "and back through the VM's START");
  json_decref (again);
  json_decref (host);
  struct cgroup_limits none = { 0 };
  CHECK (!cgroup_limits_any (&none), "no limits");
}

static void
test_parsers (void)
{
  CHECK (parse_memory_bytes ("512m") == 512LL << 20, "512m");
  CHECK (parse_memory_bytes ("1g") == 1LL << 30 && parse_memory_bytes ("1GB") == 1LL << 30, "1g, 1GB");
  CHECK (parse_memory_bytes ("100") == 100, "bytes");
  CHECK (parse_memory_bytes ("1.5k") == 1536, "fractions");
  CHECK (parse_memory_bytes ("12x") == -1 && parse_memory_bytes ("-1m") == -1 && parse_memory_bytes ("") == -1,
         "bad sizes");
  CHECK (parse_nano_cpus ("1.5") == 1500000000 && parse_nano_cpus ("0.01") == 10000000, "cpus");
  CHECK (parse_nano_cpus ("abc") == -1 && parse_nano_cpus ("-1") == -1, "bad cpus");
}

int
main (void)
{
  char v2[] = "/tmp/isola-unit-cg2-XXXXXX", v1[] = "/tmp/isola-unit-cg1-XXXXXX", hy[] = "/tmp/isola-unit-cgh-XXXXXX";
  char r2[] = "/tmp/isola-unit-cgr2-XXXXXX", r1[] = "/tmp/isola-unit-cgr1-XXXXXX";
  if (mkdtemp (v2) == NULL || mkdtemp (v1) == NULL || mkdtemp (hy) == NULL || mkdtemp (r2) == NULL
      || mkdtemp (r1) == NULL)
    return 1;
  test_v2_resources (r2);
  test_v1_resources (r1);
  test_translations ();
  char ab[] = "/tmp/isola-unit-cgab-XXXXXX";
  if (mkdtemp (ab) == NULL)
    return 1;
  test_absolute_path (ab);
  rm_rf (ab, NULL);
  rm_rf (r2, NULL);
  rm_rf (r1, NULL);
  test_v2 (v2);
  test_v1 (v1);
  test_hybrid (hy);
  rm_rf (hy, NULL);
  char fz[] = "/tmp/isola-unit-cgfz-XXXXXX";
  if (mkdtemp (fz) == NULL)
    return 1;
  test_v1_freezer (fz);
  rm_rf (fz, NULL);
  test_parsers ();
  rm_rf (v2, NULL);
  rm_rf (v1, NULL);
  return tap_done ();
}

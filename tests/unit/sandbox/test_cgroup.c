/* cgroup limits on both layouts, against fake cgroup trees: v2 (what most hosts have) and v1 (this CI host). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
             && str_has_suffix (pl.procs[0], "/pids/isola/c2/cgroup.procs"),
         "v1 without limits: only pids, to hold the container's processes");
  cgroup_placement_clear (&pl);
  cgroup_fs_clear (&fs);
}

/* Hybrid (this CI host): v1 controllers, and a v2 hierarchy without controllers at root/unified that holds each
   container's processes, so that its first process is cloned into it instead of joining v1 hierarchies. */
static void
test_hybrid (const char *root)
{
  static const char *const ctrl[] = { "memory", "cpu", "pids" };
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

  struct cgroup_fs fs = { 0 };
  CHECK (cgroup_fs_detect (root, &fs, NULL) == 0 && !fs.v2 && fs.unified && str_has_suffix (fs.unified, "/unified"),
         "hybrid detected: v1 with a v2 hierarchy at unified");
  struct cgroup_placement pl = { .dir_fd = -1 };
  struct cgroup_limits none = { 0 };
  CHECK (cgroup_create (&fs, "c3", &none, &pl, NULL) == 0 && pl.dir_fd >= 0 && strv_len (pl.procs) == 0,
         "no limits: cloned into the v2 cgroup, no v1 hierarchy to join");
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
  if (mkdtemp (v2) == NULL || mkdtemp (v1) == NULL || mkdtemp (hy) == NULL)
    return 1;
  test_v2 (v2);
  test_v1 (v1);
  test_hybrid (hy);
  rm_rf (hy, NULL);
  test_parsers ();
  rm_rf (v2, NULL);
  rm_rf (v1, NULL);
  return tap_done ();
}

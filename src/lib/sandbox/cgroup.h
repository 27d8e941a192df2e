/* Resource limits of a container through cgroups: memory, CPU quota and pids, on cgroup v2 (unified) or v1
   (including the hybrid layout with v2 mounted at /sys/fs/cgroup/unified, which lists no controllers we use).
   Each container gets isola/ID in every hierarchy it needs, as Docker uses docker/ID.

   Where a v2 hierarchy exists (v2 hosts, and hybrid ones through .../unified) the container's own cgroup there holds
   all its processes, and the first one is cloned straight into it (clone3 CLONE_INTO_CGROUP).  Writing a pid to
   cgroup.procs instead waits for an RCU grace period, 10-24 ms on this kind of host: half a container start.  So on
   v1 a controller's hierarchy is used only when the container has a limit for it.  Where there is no v2 hierarchy at
   all (a pure v1 host) the container is also in the v1 pids, freezer, cpuacct and devices hierarchies: the last is
   where its device rules go, as runc puts them, since a BPF device program needs a cgroup v2 (devices.h). */
#ifndef ISOLA_CGROUP_H
#define ISOLA_CGROUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

struct cgroup_fs
{
  char *root;    /* normally /sys/fs/cgroup; tests point it at a fake tree */
  bool v2;       /* unified hierarchy at root */
  char *unified; /* a v2 hierarchy for the containers' processes: root on v2, root/unified on hybrid, or NULL */
};

/* HostConfig's resources, Docker's names and units.  On v2 they become what runc and crun write: memory.swap.max is
   MemorySwap - Memory, memory.low the reservation, cpu.weight the shares scaled from [2, 262144] to [1, 10000];
   OomKillDisable has no v2 counterpart and is ignored there, as they do. */
struct cgroup_limits
{
  int64_t memory;             /* bytes, 0 = unlimited */
  int64_t memory_swap;        /* memory + swap in bytes; -1 = unlimited swap, 0 = Docker's default: twice memory */
  int64_t memory_reservation; /* soft limit in bytes (v1 memory.soft_limit_in_bytes, v2 memory.low), 0 = none */
  int64_t nano_cpus;          /* 1e9 = one CPU, 0 = unlimited */
  int64_t cpu_shares;         /* relative CPU weight (v1 cpu.shares, 1024 is the default), 0 = unset */
  const char *cpuset_cpus;    /* "0-2,4" (borrowed), NULL or "" = unset */
  const char *cpuset_mems;    /* memory nodes, the same syntax */
  bool oom_kill_disable;      /* v1 memory.oom_control */
  int64_t pids;               /* 0 = unlimited */
};

/* Looks at root (normally "/sys/fs/cgroup") to tell v2 from v1. */
int cgroup_fs_detect (const char *root, struct cgroup_fs *out, isola_error_t *err);
void cgroup_fs_clear (struct cgroup_fs *fs);

/* Limits from a HostConfig (Memory, MemorySwap, MemoryReservation, NanoCpus, CpuShares, CpusetCpus, CpusetMems,
   OomKillDisable, PidsLimit); the strings are borrowed from it. */
void cgroup_limits_from_host_config (json_t *host_config, struct cgroup_limits *out);
/* The same members set on obj (what cgroup_limits_from_host_config reads back), for the VM's START. */
void cgroup_limits_to_json (const struct cgroup_limits *l, json_t *obj);
/* True when any limit is set. */
bool cgroup_limits_any (const struct cgroup_limits *l);

/* Docker's CPU shares as a v2 cpu.weight (runc's and crun's conversion): 2 → 1, 1024 → 39, 262144 → 10000. */
int64_t cgroup_cpu_weight_of_shares (int64_t shares);
/* The v2 memory.swap.max for memory and memory_swap (Docker's MemorySwap): "max" for -1, the difference for a
   value, as much as memory again by default. */
void cgroup_swap_max (int64_t memory, int64_t memory_swap, char *buf, size_t size);

/* A cpuset list ("0-3,8,10-11": CPUs or memory nodes) as a bit mask of up to CGROUP_CPUSET_MAX.  -1 when it does not
   parse (Docker's "Invalid value"). */
#define CGROUP_CPUSET_MAX 1024
int cgroup_cpuset_parse (const char *list, uint64_t mask[CGROUP_CPUSET_MAX / 64]);
/* 0 when every member of list is in available (both lists); -EINVAL when list does not parse, -ERANGE when it asks
   for one that is not available. */
int cgroup_cpuset_check (const char *list, const char *available);

/* What the container sees at /sys/fs/cgroup, as in Docker: its own cgroups, read-only, so that memory-aware
   runtimes find their limits.  On a v2 host that is the container's cgroup itself; on a v1 or hybrid host a tmpfs
   with the container's cgroup of each v1 hierarchy it is in at /sys/fs/cgroup/CONTROLLER (runc's layout; on v1 a
   container is only in the hierarchies of its limits, see above) and, on hybrid, its v2 one at unified/. */
struct cgroup_view
{
  bool tmpfs;     /* a tmpfs at /sys/fs/cgroup under the binds */
  char **sources; /* directories bound read-only, NULL-terminated */
  char **targets; /* where each goes, relative to /sys/fs/cgroup ("" is /sys/fs/cgroup itself) */
};

/* Where a new container's first process goes. */
struct cgroup_placement
{
  int dir_fd;       /* the v2 cgroup to clone it into (CLONE_INTO_CGROUP), -1 when there is none */
  char **procs;     /* cgroup.procs files it must still be written into (v1), NULL-terminated */
  char *devices_v1; /* its v1 devices cgroup (among procs) where there is no v2 hierarchy at all, else NULL */
  struct cgroup_view view;
};

/* The placement of a process that stays in its parent's cgroup, the root of the v2 hierarchy mounted at root, and
   sees that one (the container of a VM guest with no limits: the whole guest is its). */
void cgroup_placement_stay (const char *root, struct cgroup_placement *out);

/* Creates the container's cgroups and applies the limits. */
int cgroup_create (const struct cgroup_fs *fs, const char *id, const struct cgroup_limits *l,
                   struct cgroup_placement *out, isola_error_t *err);
void cgroup_placement_clear (struct cgroup_placement *p);

/* New limits for a container whose cgroups exist (Docker's update): written over the old ones; on v1, a hierarchy it
   was not in is made and all its processes join it.  A pids limit <= 0 becomes unlimited. */
int cgroup_update (const struct cgroup_fs *fs, const char *id, const struct cgroup_limits *l, isola_error_t *err);

/* What `stats` shows of a container, read from its cgroups. */
#define CGROUP_PERCPU_MAX 256
struct cgroup_stats
{
  uint64_t cpu_ns;                       /* CPU time used, all CPUs */
  uint64_t cpu_user_ns, cpu_system_ns;   /* of which in user and kernel mode */
  uint64_t percpu_ns[CGROUP_PERCPU_MAX]; /* by CPU (v1 cpuacct only: v2 does not count per CPU) */
  size_t n_percpu;
  uint64_t memory;                  /* bytes in use, without inactive page cache (as the docker CLI counts) */
  uint64_t memory_limit;            /* its limit in bytes, 0 = none */
  uint64_t read_bytes, write_bytes; /* block I/O (0 where the container has no io/blkio cgroup) */
  uint64_t pids;                    /* tasks (threads) */
};

/* Reads them: v2 cpu.stat, memory.current/max/stat, io.stat, pids.current; on v1 and hybrid hosts the v1 memory
   and pids cgroups where the container has them, else its v2 (unified) cgroup's cpu.stat and cgroup.threads and the
   resident memory of its processes; the v1 cpuacct cgroup's usage_percpu and stat (user, system), and its usage on
   a host without a v2 hierarchy. */
int cgroup_stats_read (const struct cgroup_fs *fs, const char *id, struct cgroup_stats *out, isola_error_t *err);
/* The CPU figures of a v1 cpuacct directory (cpuacct.usage, usage_percpu, stat) and of a v2 cpu.stat, into out. */
void cgroup_cpuacct_read (const char *dir, struct cgroup_stats *out);
void cgroup_cpu_stat_read (const char *dir, struct cgroup_stats *out);
json_t *cgroup_stats_to_json (const struct cgroup_stats *st);
void cgroup_stats_from_json (json_t *j, struct cgroup_stats *out);

/* Freezes (pause) or thaws the container's processes: cgroup.freeze of its v2 cgroup (a v2 host, or a hybrid one's
   unified hierarchy), else the v1 freezer; waits until the kernel says they are frozen. */
int cgroup_freeze (const struct cgroup_fs *fs, const char *id, bool frozen, isola_error_t *err);

/* Whether the container's processes are frozen (cgroup_freeze's cgroup.freeze or freezer.state says so). */
bool cgroup_frozen (const struct cgroup_fs *fs, const char *id);

/* True when the kernel OOM-killed a process of the container's memory cgroup. */
bool cgroup_oom_killed (const struct cgroup_fs *fs, const char *id);

/* Kills what is left in the container's cgroups and removes them; missing cgroups are fine. */
int cgroup_destroy (const struct cgroup_fs *fs, const char *id, isola_error_t *err);

/* What a driver's cleanup does with a container's cgroups once it has ended: detects the hierarchies at root, tells
   whether the kernel's OOM killer struck (oom_killed may be NULL) and removes them. */
int cgroup_release (const char *root, const char *id, bool *oom_killed, isola_error_t *err);

/* "512m", "1g", "1048576" → bytes (Docker's RAMInBytes: b, k, m, g, t, case-insensitive). -1 on error. */
int64_t parse_memory_bytes (const char *s);
/* "1.5" → 1500000000 nano CPUs. -1 on error. */
int64_t parse_nano_cpus (const char *s);

/* The cgroup.procs files of the container's existing cgroups (those cgroup_create made), for a process that joins
   them (exec).  -ENOENT when there is none: the container is not running. */
int cgroup_procs_paths (const struct cgroup_fs *fs, const char *id, char ***out);

#endif

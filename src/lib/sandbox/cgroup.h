/* Resource limits of a container through cgroups: memory, CPU quota and pids, on cgroup v2 (unified) or v1
   (including the hybrid layout with v2 mounted at /sys/fs/cgroup/unified, which lists no controllers we use).
   Each container gets isola/ID in every hierarchy it needs, as Docker uses docker/ID.

   Where a v2 hierarchy exists (v2 hosts, and hybrid ones through .../unified) the container's own cgroup there holds
   all its processes, and the first one is cloned straight into it (clone3 CLONE_INTO_CGROUP).  Writing a pid to
   cgroup.procs instead waits for an RCU grace period, 10-24 ms on this kind of host: half a container start.  So on
   v1 a controller's hierarchy is used only when the container has a limit for it. */
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

struct cgroup_limits
{
  int64_t memory;    /* bytes, 0 = unlimited */
  int64_t nano_cpus; /* 1e9 = one CPU, 0 = unlimited */
  int64_t pids;      /* 0 = unlimited */
};

/* Looks at root (normally "/sys/fs/cgroup") to tell v2 from v1. */
int cgroup_fs_detect (const char *root, struct cgroup_fs *out, isola_error_t *err);
void cgroup_fs_clear (struct cgroup_fs *fs);

/* Limits from a HostConfig (Memory, NanoCpus, PidsLimit). */
void cgroup_limits_from_host_config (json_t *host_config, struct cgroup_limits *out);

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
  int dir_fd;   /* the v2 cgroup to clone it into (CLONE_INTO_CGROUP), -1 when there is none */
  char **procs; /* cgroup.procs files it must still be written into (v1), NULL-terminated */
  struct cgroup_view view;
};

/* The placement of a process that stays in its parent's cgroup, the root of the v2 hierarchy mounted at root, and
   sees that one (the container of a VM guest with no limits: the whole guest is its). */
void cgroup_placement_stay (const char *root, struct cgroup_placement *out);

/* Creates the container's cgroups and applies the limits. */
int cgroup_create (const struct cgroup_fs *fs, const char *id, const struct cgroup_limits *l,
                   struct cgroup_placement *out, isola_error_t *err);
void cgroup_placement_clear (struct cgroup_placement *p);

/* True when the kernel OOM-killed a process of the container's memory cgroup. */
bool cgroup_oom_killed (const struct cgroup_fs *fs, const char *id);

/* Kills what is left in the container's cgroups and removes them; missing cgroups are fine. */
int cgroup_destroy (const struct cgroup_fs *fs, const char *id, isola_error_t *err);

/* "512m", "1g", "1048576" → bytes (Docker's RAMInBytes: b, k, m, g, t, case-insensitive). -1 on error. */
int64_t parse_memory_bytes (const char *s);
/* "1.5" → 1500000000 nano CPUs. -1 on error. */
int64_t parse_nano_cpus (const char *s);

/* The cgroup.procs files of the container's existing cgroups (those cgroup_create made), for a process that joins
   them (exec).  -ENOENT when there is none: the container is not running. */
int cgroup_procs_paths (const struct cgroup_fs *fs, const char *id, char ***out);

#endif

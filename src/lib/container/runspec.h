/* What a container's HostConfig asks for, independent of the isolation mode: its mounts, rlimits and security
   options.  Parsed at create time (container/spec.h, so bad values fail `create`/`run`) and again by the driver
   that starts it. */
#ifndef ISOLA_RUNSPEC_H
#define ISOLA_RUNSPEC_H

#include <jansson.h>
#include <stdbool.h>

#include "base/error.h"
#include "sandbox/spawn.h"

struct runspec_mounts
{
  struct spawn_mount *items;
  size_t n;
};

struct runspec_rlimits
{
  struct spawn_rlimit *items;
  size_t n;
};

/* One mount a container asks for: an entry of HostConfig.Binds (-v) or HostConfig.Mounts (--mount). */
enum runspec_mount_type
{
  RUNSPEC_MOUNT_BIND,
  RUNSPEC_MOUNT_VOLUME,
  RUNSPEC_MOUNT_TMPFS,
};

struct runspec_mount_spec
{
  enum runspec_mount_type type;
  char *source;      /* bind: absolute host path; volume: its name, NULL for a new anonymous one; tmpfs: NULL */
  char *destination; /* absolute, not "/" */
  char *mode;        /* -v's third field as given ("ro", "rw,z"…), NULL without one or for --mount */
  bool readonly, nocopy;
  char *tmpfs_options; /* tmpfs: "size=N,mode=OCTAL" */
  bool from_mount;     /* given with --mount (HostConfig.Mounts), else -v (HostConfig.Binds) */
};
void runspec_mount_spec_clear (struct runspec_mount_spec *m);

/* Docker's local volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+. */
bool runspec_volume_name_valid (const char *name);

/* -v's syntax, as Docker splits it: DST (an anonymous volume), SRC:DST, DST:MODE or SRC:DST:MODE, where an absolute
   SRC is a bind and any other a volume name, and MODE is ro|rw, z|Z, nocopy (volumes only) and a propagation,
   comma-separated.  EINVAL with Docker's message otherwise.  Nothing is looked at on the host. */
int runspec_parse_bind (const char *spec, struct runspec_mount_spec *out, isola_error_t *err);

/* An entry of HostConfig.Mounts: {"Type": "bind"|"volume"|"tmpfs", "Source", "Target", "ReadOnly",
   "VolumeOptions": {"NoCopy"}, "TmpfsOptions": {"SizeBytes", "Mode"}}, checked as Docker checks it. */
int runspec_parse_mount (json_t *mount, struct runspec_mount_spec *out, isola_error_t *err);

/* --mount's "type=…,source=…,target=…[,readonly][,volume-nocopy][,tmpfs-size=…][,tmpfs-mode=…]" as the docker CLI
   sends it: an entry of HostConfig.Mounts (type defaults to volume).  Options of volume drivers are refused. */
int runspec_mount_flag_json (const char *flag, json_t **out, isola_error_t *err);

/* Checks HostConfig.Binds, .Mounts and .Tmpfs (bind sources must exist) and returns their binds and tmpfs mounts;
   volumes are made and recorded by container/mounts.h. */
int runspec_mounts_parse (json_t *host_config, struct runspec_mounts *out, isola_error_t *err);
/* What a container mounts at start: its recorded mounts (container_mounts), binds and volumes from their host
   directories, in the recorded order. */
struct container;
int runspec_container_mounts (const struct container *c, struct runspec_mounts *out, isola_error_t *err);
void runspec_mounts_clear (struct runspec_mounts *m);

/* HostConfig.Ulimits ([{"Name": "nofile", "Soft": N, "Hard": N}]). */
int runspec_rlimits_parse (json_t *host_config, struct runspec_rlimits *out, isola_error_t *err);
void runspec_rlimits_clear (struct runspec_rlimits *r);
/* Adds, for every limit r does not set, the caller's own: what a process container inherits from its monitor (as a
   Docker container inherits the daemon's), for a VM guest whose kernel has other defaults.  Open files are capped at
   the guest kernel's fs.nr_open (1048576), above which no process can go. */
void runspec_rlimits_add_inherited (struct runspec_rlimits *r);
/* "nofile=1024:2048" → {"Name","Soft","Hard"} (Docker's --ulimit). */
int runspec_ulimit_from_flag (const char *flag, json_t **out, isola_error_t *err);

bool runspec_no_new_privileges (json_t *host_config);

#endif

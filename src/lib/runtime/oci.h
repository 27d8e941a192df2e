/* An OCI runtime spec (a bundle's config.json) as the process sandbox takes it: the spawn_spec of the container's
   first process (or of an exec's process), its cgroup limits, hooks and the rest, for isola-runtime.  What the
   sandbox cannot honour is either refused (EINVAL/ENOTSUP with the field's name) or, for fields that only label
   (AppArmor, SELinux) or tune, a warning, as runc ignores what the host lacks. */
#ifndef ISOLA_RUNTIME_OCI_H
#define ISOLA_RUNTIME_OCI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "sandbox/cgroup.h"
#include "sandbox/seccomp_program.h"
#include "sandbox/spawn.h"

/* The version of the runtime spec we implement (state and features report it). */
#define OCI_VERSION "1.0.2"

/* The process part of a spec: config.json's "process", or exec's --process file / flags. */
struct oci_process
{
  char **argv, **env;
  char *cwd;
  char *user;    /* "uid:gid" */
  char **groups; /* additionalGids, as strings */
  bool terminal;
  uint64_t caps; /* the bounding set: what the process keeps */
  bool no_new_privileges;
  struct spawn_rlimit *rlimits;
  size_t n_rlimits;
  bool has_oom_score_adj;
  int oom_score_adj;
};

/* What a bundle asks for, parsed and checked. */
struct oci_launch
{
  json_t *config; /* the whole document (owned) */
  char *root_dir; /* root.path, absolute */
  struct oci_process process;
  struct spawn_spec spec; /* ready but for stdio, terminal, gate and cgroup, which the caller fills */
  struct spawn_mount *mounts;
  size_t n_mounts;
  struct spawn_device *devices;
  size_t n_devices;
  char **sysctls, **masked, **readonly;
  int ns_fds[4]; /* ipc, pid, uts, net joined by path; -1 */
  struct cgroup_limits limits;
  struct seccomp_program *seccomp;
  char *cgroups_path; /* linux.cgroupsPath as given, or NULL */
  bool userns;        /* a user namespace of its own: spec.uid_map/gid_map are these */
  char *uid_map, *gid_map;
  int userns_fd;   /* a user namespace joined by path (spec.userns_fd), or -1 */
  char **warnings; /* for the log: fields ignored */
};

void oci_launch_init (struct oci_launch *l);
void oci_launch_clear (struct oci_launch *l);

/* Parses bundle/config.json (bundle absolute).  Relative root and bind paths are taken from the bundle. */
int oci_launch_load (const char *bundle, struct oci_launch *l, isola_error_t *err);
/* The same from a document (owned by the caller). */
int oci_launch_parse (json_t *config, const char *bundle, struct oci_launch *l, isola_error_t *err);

/* Whether two uid_map/gid_map texts ("inside outside count" lines, any spacing) map the same ranges, in any order. */
bool oci_id_maps_equal (const char *a, const char *b);

/* An exec's process: a "process" object (runc exec --process), checked as config.json's is. */
int oci_process_parse (json_t *process, struct oci_process *out, isola_error_t *err);
void oci_process_clear (struct oci_process *p);

/* linux.resources' memory (limit, reservation, swap, disableOOMKiller), cpu (shares, quota/period, cpus, mems) and
   pids as the sandbox's limits; the strings are borrowed from res. */
void oci_limits_from_resources (json_t *res, struct cgroup_limits *out);

/* Compiles linux.seccomp (the spec's form: defaultAction, architectures, syscalls) with libseccomp; *out is NULL
   without one.  caps decide Docker-style conditional rules, which a spec's profile does not have. */
int oci_seccomp_compile (json_t *seccomp, uint64_t caps, struct seccomp_program **out, isola_error_t *err);

/* Runs the hooks of one kind (config.json's hooks.NAME: path, args, env, timeout) in order, each with the state
   JSON on its stdin; the first failure stops them. */
int oci_run_hooks (json_t *config, const char *kind, const char *state_json, isola_error_t *err);
/* The same, each hook in the namespaces of process pid (createContainer, startContainer: the container's), its path
   resolved in ours. */
int oci_run_hooks_in (json_t *config, const char *kind, const char *state_json, pid_t pid, isola_error_t *err);

/* A signal as runc's kill takes it: "KILL", "SIGKILL", "9". -1 when unknown. */
int oci_parse_signal (const char *s);

/* The default config.json of `spec` (runc's: sh, a terminal, the usual mounts and namespaces); rootless is not
   supported.  Owned by the caller. */
json_t *oci_default_spec (void);

/* What `features` prints (runtime-spec's features.json). */
json_t *oci_features (void);

#endif

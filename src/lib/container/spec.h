/* A container request: what Docker's `POST /containers/create` takes (Config's fields at the top of the body,
   HostConfig and NetworkingConfig inside it, the name apart as ?name=), typed, and checked in one place before
   anything is made, so every front end (the CLI, which maps its flags onto that JSON as the docker CLI does, and the
   API server) refuses the same requests with the same errors.  container/create.h turns a request into a container.

   Only the front ends link this: checking a request compiles its seccomp program, so it carries libseccomp, which
   the monitor must not. */
#ifndef ISOLA_CONTAINER_SPEC_H
#define ISOLA_CONTAINER_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

/* Memory (and a memory reservation) below this is refused (Docker's minimum). */
#define CONTAINER_SPEC_MIN_MEMORY (6 * 1024 * 1024)

/* A JSON object of strings: labels, or tmpfs mounts (destination → options). */
struct container_spec_map
{
  char **keys, **values;
  size_t n;
};

struct container_spec_ulimit
{
  char *name;         /* "nofile", "nproc"… */
  int64_t soft, hard; /* -1: unlimited */
};

struct container_spec
{
  char *name; /* ?name=; NULL: one is generated */

  /* Config.  NULL strings are unset: the image's value (hostname: the container's short ID). */
  char *image; /* as the user named it: a reference or an ID (prefix) */
  char *hostname, *user, *working_dir, *stop_signal;
  char *mac_address; /* --mac-address: eth0's on the container's network (NULL: Docker's 02:42 + its address) */
  bool has_stop_timeout;
  int stop_timeout; /* seconds */
  bool tty, open_stdin;
  bool attach_stdin, attach_stdout, attach_stderr; /* the streams `run` attaches (recorded for inspect) */
  char **env;                                      /* "K=V" (or "K") over the image's; never NULL */
  /* Docker's rules: NULL entrypoint is the image's; an empty one is none; a non-empty one also drops the image's
     Cmd, and {""} (the docker CLI's `--entrypoint ""`) means none.  A NULL or empty cmd is the image's Cmd unless an
     entrypoint was given. */
  char **entrypoint, **cmd;
  struct container_spec_map labels;
  json_t *healthcheck; /* Config.Healthcheck (container/health.h), or NULL: the image's */
  char **volumes;      /* Config.Volumes' paths (anonymous volumes unless mounted otherwise); never NULL */

  /* HostConfig */
  char *isolation;                 /* NULL: the default driver (driver_lookup) */
  char *network_mode;              /* NULL, "" or "default": none */
  int64_t memory;                  /* bytes, 0: unlimited */
  int64_t memory_swap;             /* memory + swap: -1 unlimited swap, 0 unset (twice memory, as Docker records it) */
  int64_t memory_reservation;      /* soft limit in bytes, 0: none */
  int64_t nano_cpus;               /* 1e9 = one CPU, 0: unlimited */
  int64_t cpu_shares;              /* relative weight, 0: unset (1024) */
  char *cpuset_cpus, *cpuset_mems; /* "0-1,3"; NULL: all */
  int64_t pids_limit;              /* <= 0: unlimited */
  bool auto_remove, init, readonly_rootfs, privileged, oom_kill_disable;
  char **cap_add, **cap_drop, **security_opt, **binds; /* never NULL */
  struct container_spec_map tmpfs;
  struct container_spec_ulimit *ulimits;
  size_t n_ulimits;
  json_t *mounts;     /* HostConfig.Mounts (--mount): a list of objects, checked by runspec_parse_mount; or NULL */
  json_t *log_config; /* HostConfig.LogConfig ({Type, Config}, container/logconfig.h), or NULL: json-file */
  char *restart_name; /* HostConfig.RestartPolicy.Name (container/restart.h); NULL: unset */
  int64_t restart_max_retries;
  /* Namespaces (container/nsmode.h): "", "host", "private", "shareable", "none", "container:NAME" as each allows */
  char *ipc_mode, *pid_mode, *uts_mode, *userns_mode, *cgroupns_mode;
  int64_t shm_size; /* bytes, 0: Docker's 64 MiB */
  struct container_spec_map sysctls;
  char **group_add;    /* never NULL */
  char **volumes_from; /* "NAME[:ro|:rw]"; never NULL */
  json_t *devices;     /* HostConfig.Devices: [{PathOnHost, PathInContainer, CgroupPermissions}], or NULL */

  /* NetworkingConfig.EndpointsConfig's network names; never NULL */
  char **networks;

  /* Ports (container/ports.h): Config.ExposedPorts {"80/tcp": {}} (with the image's), HostConfig.PortBindings
     {"80/tcp": [{HostIp, HostPort}]}, each NULL when absent; HostConfig.PublishAllPorts */
  json_t *exposed_ports, *port_bindings;
  bool publish_all_ports;
  /* Names: Config.Domainname; HostConfig.Dns, DnsSearch, DnsOptions, ExtraHosts ("NAME:IP" or "NAME:host-gateway") */
  char *domainname;
  char **dns, **dns_search, **dns_options, **extra_hosts;
  /* The settings of the one endpoint a container has ({"IPAMConfig": {"IPv4Address"}, "Aliases": [...]}: --ip,
     --network-alias), checked; NULL without any */
  json_t *endpoint;
};

/* Fills *out from Docker's create body and the name (NULL or "": generated).  Members isola does not know are
   ignored, as Docker ignores them; a known member of the wrong type is EINVAL.  *out is untouched on failure. */
int container_spec_from_json (json_t *request, const char *name, struct container_spec *out, isola_error_t *err);
void container_spec_clear (struct container_spec *spec);
static inline void
container_spec_cleanup (struct container_spec *spec)
{
  container_spec_clear (spec);
}
#define cleanup_container_spec __attribute__ ((cleanup (container_spec_cleanup)))

/* Every check of what a request asks for, before its image is merged in (what it inherits from the image is not
   checked, as Docker does not): the image is named, the working directory is absolute, the stop signal exists,
   memory and CPUs are in range, the restart policy is dockerd's, the network mode and security options are supported,
   and the binds, tmpfs mounts, ulimits, capabilities and seccomp profile parse as the drivers will parse them.  The
   seccomp program it compiles is kept in seccomp_cache (sandbox/seccomp_program.h), so a bad profile fails here and
   starts only load it. */
int container_spec_validate (const struct container_spec *spec, const char *seccomp_cache, isola_error_t *err);

/* The checks of the resource limits alone (memory, swap, reservation, CPUs, cpusets), with Docker's messages; for
   an update (Docker's update=true), a swap limit without a memory limit is not refused. */
int container_spec_check_resources (const struct container_spec *spec, bool update, isola_error_t *err);

/* Docker's merge with the image's config (the "config" object of its OCI config): the image's Env with PATH
   defaulted and the request's entries set over it; entrypoint and command by the rules above; WorkingDir, User and
   StopSignal when the request leaves them unset; the image's labels under the request's.  EINVAL "no command
   specified" when the result has no command to run. */
int container_spec_merge_image (struct container_spec *spec, json_t *image_config, isola_error_t *err);

/* The spec's Config and HostConfig in Docker's inspect shape, as config.json records them: Image, Tty, OpenStdin,
   Env, Entrypoint (null when none) and Cmd always, other members only when set. */
json_t *container_spec_config_json (const struct container_spec *spec);
json_t *container_spec_host_config_json (const struct container_spec *spec);
/* NULL, or when the entrypoint, command or environment holds bytes that are not UTF-8 (which Config shows as U+FFFD,
   as Docker does) their exact bytes: {"Entrypoint", "Cmd", "Env"}, arrays of jbytes.h's exact form. */
json_t *container_spec_exact_json (const struct container_spec *spec);

#endif

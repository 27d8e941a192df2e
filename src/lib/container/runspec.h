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

/* HostConfig.Binds ("SRC:DST[:ro|rw]", SRC absolute and existing) and HostConfig.Tmpfs ({"DST": "OPTS"}). */
int runspec_mounts_parse (json_t *host_config, struct runspec_mounts *out, isola_error_t *err);
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

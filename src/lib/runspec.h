/* What a container's config asks for, independent of the isolation mode: its command line, environment, mounts,
   rlimits, network mode and security options.  Parsed at create time (so bad values fail `create`/`run`) and again
   by the driver that starts it. */
#ifndef ISOLA_RUNSPEC_H
#define ISOLA_RUNSPEC_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "spawn.h"

/* The PATH a container gets when its image sets none, as Docker's. */
#define ISOLA_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct run_mounts
{
  struct spawn_mount *items;
  size_t n;
};

struct run_rlimits
{
  struct spawn_rlimit *items;
  size_t n;
};

/* HostConfig.Binds ("SRC:DST[:ro|rw]", SRC absolute and existing) and HostConfig.Tmpfs ({"DST": "OPTS"}). */
int run_mounts_parse (json_t *host_config, struct run_mounts *out, isola_error_t *err);
void run_mounts_clear (struct run_mounts *m);

/* HostConfig.Ulimits ([{"Name": "nofile", "Soft": N, "Hard": N}]). */
int run_rlimits_parse (json_t *host_config, struct run_rlimits *out, isola_error_t *err);
void run_rlimits_clear (struct run_rlimits *r);
/* "nofile=1024:2048" → {"Name","Soft","Hard"} (Docker's --ulimit). */
int run_ulimit_from_flag (const char *flag, json_t **out, isola_error_t *err);

/* Path + Args of the container config. */
char **run_argv (json_t *container_config);
/* Config.Env, never NULL. */
char **run_env (json_t *config);

/* Docker gives every process HOSTNAME=<the container's hostname> unless the config sets it. */
void run_env_add_hostname (char ***env, const char *hostname);

bool run_host_network (json_t *host_config);
bool run_no_new_privileges (json_t *host_config);

/* Checks everything above at create time; the seccomp program it compiles is kept in seccomp_cache (seccomp.h). */
int run_validate (json_t *container_config, const char *seccomp_cache, isola_error_t *err);

#endif

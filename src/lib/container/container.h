/* The container store: ROOT/containers/ID/ holds one container.

   config.json   what `create` decided, in Docker's inspect shape (Id, Name, Created, Path, Args, Image, Config,
                 HostConfig, Endpoint); rewritten only by rename, update and network connect/disconnect
                 (network/connect.h), each under container_lock_config
   state.json    Docker's State object (Status, Running, Pid, ExitCode, OOMKilled, Error, StartedAt, FinishedAt)
                 plus MonitorPid; written by start and by the monitor, always by atomic rename
   ctr.log       the container's output, one JSON object per line (docs/LOGS.md)
   upper/ work/ rootfs/   overlay directories of a process container
   hostname hosts resolv.conf   files bind-mounted into the container
   running.lock  held exclusively by the monitor for as long as the container runs (restarts included): `stop`
                 blocks on it, and a free lock with a "running" state means the monitor died
   name          the container's name (without '/'), a second record of config.json's Name: a name stays taken while
                 either record holds it, so a damaged config.json does not free it
   manual-stop   present once a user stopped or killed the container, until it is started again (Docker's
                 HasBeenManuallyStopped): its monitor does not restart it, nor does a boot an unless-stopped one */
#ifndef ISOLA_CONTAINER_H
#define ISOLA_CONTAINER_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "base/digest.h"
#include "store/store.h"

struct container
{
  char id[DIGEST_HEX_LEN + 1];
  char *dir;
  json_t *config;
  json_t *state;
  /* NULL, or why the record cannot be used (config.json or state.json unreadable, not JSON, missing or mistyped
     fields): such a container loads (container_load_any) as Docker's "dead", with a minimal config that keeps only
     its ID and name, so that ps lists it and rm -f removes it. */
  char *damage;
};

void container_free (struct container *c);
static inline void
cleanup_containerp (struct container **c)
{
  container_free (*c);
}
#define cleanup_container __attribute__ ((cleanup (cleanup_containerp)))

/* What a new container is made of (container/create.h makes it from a request). */
struct container_new
{
  const char *name;     /* NULL or "": generated */
  const char *image_id; /* the image's ID (hex) */
  json_t *config;       /* Config, Docker's shape: its Entrypoint and Cmd make the command line */
  json_t *host_config;  /* HostConfig */
  json_t *mounts;       /* Docker's inspect Mounts (container/mounts.h), or NULL */
  const char *gateway;  /* --add-host NAME:host-gateway's address (the default bridge's gateway), or NULL */
  json_t *exact;        /* NULL, or container_spec_exact_json: the bytes of a command or environment that is not
                           UTF-8, recorded as Exact (Config has them as Docker shows them, with U+FFFD) */
  json_t *endpoint;     /* NULL, or the endpoint settings on its network (container_spec's), recorded as Endpoint */
};

/* Creates ROOT/containers/ID from n (copied) with a new ID, Created and a "created" state; a Config without a
   Hostname gets the short ID.  Needs the store's exclusive lock (names are unique). */
int container_create (struct isola_store *s, const struct container_new *n, struct container **out, isola_error_t *err);

/* A container whose record is damaged is refused (EIO, saying how to remove it) by container_load, and loaded as
   "dead" by container_load_any, for what must still see it: ps, inspect, names, stop, kill, rm. */
int container_load (const struct isola_store *s, const char *id, struct container **out, isola_error_t *err);
int container_load_any (const struct isola_store *s, const char *id, struct container **out, isola_error_t *err);
const char *container_damage (const struct container *c); /* c->damage */

/* Full ID, unique ID prefix or name (with or without the leading '/').  ENOENT: "No such container: X". */
int container_resolve (const struct isola_store *s, const char *what, char id_out[DIGEST_HEX_LEN + 1],
                       isola_error_t *err);

/* IDs of all containers, unsorted. */
int container_list_ids (const struct isola_store *s, char ***out, isola_error_t *err);

int container_write_state (struct container *c, isola_error_t *err);
int container_write_config (struct container *c, isola_error_t *err);

/* For config.json's writers (rename, network connect and disconnect, update), which each read it, change a part and
   write it whole: takes the container directory's flock (exclusive, until *fd_out is closed) and re-reads config.json
   into c, so that one writer's change is never lost to another's older copy.  Taken after the store's and the
   networks' locks, never before them.  ENOENT when the container was removed meanwhile. */
int container_lock_config (struct container *c, int *fd_out, isola_error_t *err);

/* Path of a file in the container's directory. */
char *container_path (const struct container *c, const char *name);

/* True while a monitor holds the container's running lock. */
bool container_monitor_alive (const struct container *c);

/* Reconciles the recorded state with reality: a "running" container whose monitor is gone is recorded as exited
   with a clear error. */
int container_refresh (struct container *c, isola_error_t *err);

/* Reads state.json again. */
int container_reload_state (struct container *c, isola_error_t *err);

/* Blocks until no monitor runs the container, then reloads its state. */
int container_wait_stopped (struct container *c, isola_error_t *err);

/* Records a state transition; the helpers fill Docker's fields consistently. */
void container_set_running (struct container *c, pid_t pid, pid_t monitor_pid);
void container_set_exited (struct container *c, int exit_code, bool oom_killed, const char *error);
/* Between two runs of a container with a restart policy: Docker's "restarting" (Running and Restarting, no Pid),
   with the exit that ended the last run and how often it has been restarted. */
void container_set_restarting (struct container *c, int exit_code, bool oom_killed, int restart_count);
bool container_is_restarting (const struct container *c);
int container_restart_count (const struct container *c); /* RestartCount: restarts since a user started it */

/* The manual-stop marker (see above): set by stop, kill and rm -f before they signal, cleared by start. */
int container_set_manual_stop (const struct container *c, bool stopped, isola_error_t *err);
bool container_manual_stop (const struct container *c);

/* Docker's State.Paused: Status "paused", Running still true. */
void container_set_paused (struct container *c, bool paused);

const char *container_status (const struct container *c);
bool container_is_running (const struct container *c); /* also while paused, as Docker's State.Running */
bool container_is_paused (const struct container *c);
const char *container_name (const struct container *c); /* without the leading '/' */
pid_t container_pid (const struct container *c);

/* What config.json records, read through these: only container.c knows where Docker's inspect shape keeps each
   field.  Config and HostConfig themselves go to the parsers of their members (runspec.h, caps.h, seccomp, cgroup);
   both are NULL in a record without them, which jansson's getters take. */
json_t *container_config (const struct container *c);      /* Config: Env, User, Labels… */
json_t *container_host_config (const struct container *c); /* HostConfig: Binds, CapAdd, Memory… */
json_t *container_endpoint (const struct container *c);    /* --ip, --network-alias: {IPAMConfig, Aliases}, or NULL */
/* Replaces HostConfig in memory (steals host_config); container_write_config records it. */
void container_set_host_config (struct container *c, json_t *host_config);
/* Mounts: what the container mounts, Docker's inspect shape (container/mounts.h); NULL in a record made before
   mounts were recorded. */
json_t *container_mounts (const struct container *c);
const char *container_image_id (const struct container *c);   /* the image's ID (hex), NULL when none is recorded */
const char *container_image_name (const struct container *c); /* Config.Image: the image as it was named, or "" */
const char *container_created (const struct container *c);    /* RFC 3339, or "" */
/* The command line of the container's first process (its entrypoint and command), byte for byte; and as Path and
   Args show it (inspect, ps: bytes that are not UTF-8 as U+FFFD). */
char **container_argv (const struct container *c);
char **container_argv_shown (const struct container *c);
/* A process's environment as Docker's daemon makes it: PATH (the default), HOSTNAME=<Config.Hostname> and with a
   terminal TERM=xterm, each replaced or removed by Config.Env, which is appended.  container_env is the first
   process's (with Config.Tty). */
char **container_env_for (const struct container *c, bool tty);
char **container_env (const struct container *c);
bool container_tty (const struct container *c);
bool container_open_stdin (const struct container *c);
const char *container_user (const struct container *c);        /* NULL when unset */
const char *container_working_dir (const struct container *c); /* NULL when unset or empty */
const char *container_hostname (const struct container *c);
/* The names /etc/hosts gives the container's address, as Docker's: "FQDN SHORT" for a host name with a domain
   (Config.Domainname, or dots in Hostname), else the host name. */
char *container_hosts_names (const struct container *c);
const char *container_label (const struct container *c, const char *key); /* NULL when it has no such label */
const char *container_stop_signal (const struct container *c);            /* NULL when unset (SIGTERM) */
/* Config.StopTimeout in seconds, or fallback when unset. */
int container_stop_timeout (const struct container *c, int fallback);
const char *container_isolation (const struct container *c); /* HostConfig.Isolation, NULL when unset */
bool container_auto_remove (const struct container *c);
bool container_init (const struct container *c);
bool container_readonly_rootfs (const struct container *c);
bool container_host_network (const struct container *c);
/* The PATH of `--network ns:PATH` (sandbox/netns.h), NULL with any other network mode. */
const char *container_netns_path (const struct container *c);

/* Docker-shaped `inspect` object of a container (its config and state, paths, mounts). */
json_t *container_inspect_json (const struct container *c);

/* Gives a container a new (unique, valid) name.  Needs the store's exclusive lock. */
int container_rename (struct isola_store *s, const char *what, const char *new_name, isola_error_t *err);

/* Removes the container's directory (the container must not be running). */
int container_remove (struct isola_store *s, struct container *c, isola_error_t *err);
/* The same in two steps: the container is gone once container_detach returns; *trash is what is left to delete
   (rm_rf) whenever convenient, and a crash before that leaves it in the store's tmp directory, which is cleaned. */
int container_detach (struct isola_store *s, struct container *c, char **trash, isola_error_t *err);

/* True when some container was created from image id. */
bool containers_use_image (const struct isola_store *s, const char *image_id);

/* Connects to a running container's monitor (ID/attach.sock) and checks its greeting (proto/attach_client.h). */
struct attach_decoder;
int container_attach (struct container *c, int *fd_out, struct attach_decoder *dec, isola_error_t *err);

/* Sends sig to the container's main process through its monitor (attach.sock, either mode; the monitor holds the
   config it started from, so this works for a damaged record too).  A monitor that does not answer within
   CONTAINER_MONITOR_ANSWER_MS (stopped, wedged) fails it with ETIMEDOUT: nothing waits on it for ever. */
#define CONTAINER_MONITOR_ANSWER_MS 5000
int container_signal_monitor (const struct container *c, int sig, isola_error_t *err);

#endif

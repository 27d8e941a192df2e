/* isola-runtime's containers: one directory per container under --root (default /run/isola-runtime), holding
   state.json (written whole: temp + rename), the bundle's config.json as it was at create, and exec.fifo while
   the container is created but not started (runc's layout and rules).  The status is never stored: it is read
   from the process (alive, and the same process: its start time), the fifo and the freezer.  Files are replaced
   whole (temp + rename) but not fsynced, as runc and crun write theirs: they describe processes, which a power
   loss ends too, and the root is normally on /run (tmpfs); an fsync on a disk cost 10-15 ms of a ~60 ms run. */
#ifndef ISOLA_RUNTIME_STATE_H
#define ISOLA_RUNTIME_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"

#define RT_DEFAULT_ROOT "/run/isola-runtime"
/* In a VM container's directory while its VM is paused (its status: paused). */
#define RT_VM_PAUSED "vm.paused"

enum rt_status
{
  RT_CREATED,
  RT_RUNNING,
  RT_PAUSED,
  RT_STOPPED,
};

struct rt_container
{
  char *id, *dir;
  json_t *state;  /* state.json: id, pid, start_time, bundle, rootfs, created, annotations, cgroup */
  json_t *config; /* config.json as created */
};

/* runc's rule for IDs: [A-Za-z0-9_+.-]+, and not "." or "..". */
bool rt_id_valid (const char *id);
const char *rt_status_name (enum rt_status s);

/* The name of the container's cgroups (cgroup.h: isola/NAME in each hierarchy). */
char *rt_cgroup_name (const char *id);

/* The container's cgroup as cgroup.h names it, from linux.cgroupsPath as runc reads it: empty, the default
   (rt_cgroup_name: isola/runtime-ID); "/a/b", that path from each hierarchy's root; "a/b", under the default's
   parent (isola/a/b).  With --systemd-cgroup (systemd) the path is "slice:prefix:name": the slice expanded as
   systemd nests slices ("a-b.slice" is a.slice/a-b.slice; "" is system.slice, "-.slice" the root), then
   "prefix-name.scope" (name itself when it ends in .slice).  "..", empty components and bad slice names are
   refused with runc's messages. */
int rt_cgroup_path (const char *id, const char *cgroups_path, bool systemd, char **out, isola_error_t *err);

/* Loads ROOT/ID: -ENOENT with runc's "container does not exist" when there is none. */
int rt_load (const char *root, const char *id, struct rt_container *out, isola_error_t *err);
void rt_container_clear (struct rt_container *c);
int rt_save_state (const struct rt_container *c, isola_error_t *err);

pid_t rt_pid (const struct rt_container *c);
enum rt_status rt_status (const struct rt_container *c);
/* The OCI state JSON (runtime-spec's state): ociVersion, id, status, pid (0 once stopped), bundle, annotations,
   and runc's rootfs, created and owner. */
json_t *rt_state_json (const struct rt_container *c);

/* The start time of a process (field 22 of /proc/PID/stat), 0 when it is gone. */
unsigned long long rt_process_start_time (pid_t pid);

/* The pids in the container's cgroup (its v2 one, else its v1 freezer/pids one); -ENOENT when it has none.  A VM
   container's: its --pid-file process while it lives. */
int rt_cgroup_pids (const struct rt_container *c, pid_t **out, size_t *n, isola_error_t *err);

#endif

/* Isolation drivers: one ops table per isolation mode.  The CLI, the monitor and the container store never ask
   which mode a container uses; they call its driver.  `process` shares the host kernel; `vm` runs the container
   in its own virtual machine. */
#ifndef ISOLA_DRIVER_H
#define ISOLA_DRIVER_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"
#include "container/container.h"
#include "network/connect.h"
#include "proto/attach.h"
#include "store/store.h"

struct vmproto_decoder;
struct cgroup_stats;

struct driver_io
{
  int stdin_fd, stdout_fd, stderr_fd; /* -1: /dev/null */
  /* With tty, the stdio fds are unused: the container makes its own terminal and sends the master over
     console_socket (SCM_RIGHTS), for the monitor to receive once start returns. */
  bool tty;
  int console_socket;
  unsigned short rows, cols; /* the terminal's initial size, 0 when unknown */
  /* Set by a driver whose container's stdio, exit and execs travel over a channel to an agent (vm): the monitor
     relays between it and its clients.  channel_dec holds what was already received (the monitor owns both). */
  int channel;
  struct vmproto_decoder *channel_dec;
};

/* A command to run in a running container (`isola exec`). */
struct exec_request
{
  char *const *argv;   /* argv[0] is looked up in the container's PATH when it has no '/' */
  char *const *env;    /* "K=V" set over the container's Config.Env (NULL-terminated, may be NULL) */
  const char *user;    /* NULL or "": the container's Config.User */
  const char *cwd;     /* NULL or "": the container's Config.WorkingDir, else "/" */
  bool interactive;    /* the command reads io.stdin_fd; otherwise /dev/null */
  bool detach;         /* runs in the background with /dev/null stdio; exec returns once it has started */
  bool privileged;     /* all capabilities instead of the container's */
  const char *exec_id; /* its ID in the events: the monitor, which sees the command end, records its exec_die */
  /* vm: instead of running argv, the agent extracts the tar stream of the session's stdin into this directory of the
     container (cp into a running VM container: src/agent/untar.c).  Only for drivers without running_root. */
  const char *untar_dir;
  struct driver_io io; /* with io.tty, a terminal of the container's whose master is sent over io.console_socket */
};

/* A container's writable layer as a host directory in overlayfs's upper-directory format (image/changes.h). */
struct driver_layer
{
  char *upper;  /* the directory */
  char *work;   /* an empty directory on its file system, overlayfs's workdir when the layer is written (cp) */
  char *mnt;    /* vm: where the container's disk is mounted, in the caller's private mount namespace */
  int loop_fd;  /* vm: the loop device holding it (auto-cleared once unmounted and closed), or -1 */
  pid_t keeper; /* vm: the child renewing the running guest's freeze of the disk, or 0 */
  bool frozen;  /* vm: the guest's disk is frozen until close_layer thaws it */
};

struct isola_driver
{
  const char *name;            /* "process", "vm" */
  const char *isolation;       /* what HostConfig.Isolation shows: "process", "hyperv" */
  const char *default_network; /* HostConfig.NetworkMode without --network: "bridge" (Docker's), or "none" */
  /* How many networks a container can be on at once, 0: no limit (vm: VM_NICS, its guest mirrors each interface of
     the namespace by a NIC: vm_net.h), and how network connect/disconnect change a running container's (process: a
     veth more or less in its namespace; vm: that, then a spare NIC wired to it and the guest told). */
  struct network_limits networks;

  /* Prepares what a new container needs beyond its directory (NULL: nothing), under the store's exclusive lock at
     create time: for vm, the image's root file system image and the container's disk. */
  int (*create_resources) (struct isola_store *s, struct container *c, isola_error_t *err);
  /* Makes what starting needs and keeps across containers (NULL: nothing), in the CLI before the monitor starts and
     without the store's lock: for vm, the template of the container's VM layout (driver/vm_template.h). */
  int (*prepare_start) (const struct isola_store *s, const struct container *c, isola_error_t *err);
  /* Starts the container's first process.  Runs in the monitor, which becomes the process's parent and reaps
     it; *pid_out is the host PID shown as State.Pid (the VM worker's PID for vm). */
  int (*start) (const struct isola_store *s, struct container *c, struct driver_io *io, pid_t *pid_out,
                isola_error_t *err);
  /* Delivers a signal to the container's main process. */
  int (*signal) (struct container *c, int sig, isola_error_t *err);
  /* The container's processes as `ps -ef` rows: an array of arrays of 8 strings (UID PID PPID C STIME TTY TIME
     CMD).  PIDs are as the host sees them for process isolation, as the guest sees them for vm. */
  int (*top) (struct container *c, json_t **rows, isola_error_t *err);
  /* Stops (paused true) or resumes every process of the running container, none of them told: process freezes its
     cgroup, vm stops the whole VM (QMP stop and cont).  Runs in the CLI. */
  int (*pause) (struct container *c, bool paused, isola_error_t *err);
  /* Applies new resource limits (a HostConfig's: sandbox/cgroup.h) to the running container: its cgroups, or its
     guest's cgroup through the monitor and the agent.  Runs in the CLI (update). */
  int (*update) (struct container *c, json_t *host_config, isola_error_t *err);
  /* Reads the running container's usage (`stats`): its cgroups, or its guest's through the monitor and the agent,
     where an unlimited container's memory limit is its VM's memory.  Runs in the CLI. */
  int (*stats) (struct container *c, struct cgroup_stats *out, isola_error_t *err);
  /* Releases what start set up once the container has exited (runs in the monitor, and in `rm` after a crash);
     reports whether the kernel killed it for running out of memory. */
  int (*cleanup) (struct container *c, bool *oom_killed, isola_error_t *err);
  /* Runs a command in the running container with its namespaces, cgroups, user, capabilities and limits, from the
     calling process, and waits for it unless req->detach (NULL for vm; the monitor's health checks use it): *exit_code
     is its status (128+N when signal N killed it).  When it cannot run, the error says why and *exit_code is Docker's:
     127 not found, 126 not runnable or setup failed, 1 when the container is not running. */
  int (*exec) (struct container *c, const struct exec_request *req, int *exit_code, isola_error_t *err);
  /* Starts the command through the container's monitor (`isola exec`) and returns a socket speaking the attach
     protocol for it (STARTED or FAILED first, then its output, EXIT last), for the CLI to relay like `attach`: the
     command is the monitor's (a VM's agent's), so that it can outlive a client that detaches (DETACH), and it is
     never forked from the CLI's executable on the host (CVE-2019-5736). */
  int (*exec_session) (struct container *c, const struct exec_request *req, int *fd_out, struct attach_decoder *dec,
                       isola_error_t *err);
  /* Makes the container's writable layer readable on the host, running or not, and unchanging until close_layer
     (diff, commit, export).  process: its upper directory (the caller pauses it for a steady view).  vm: its disk,
     mounted read-only in a mount namespace of the caller's own (made private on the first call: the mount goes
     with the process, even after kill -9); a running guest first flushes and freezes the disk (the agent's
     FIFREEZE, a lease a child of the caller renews, so that a caller killed mid-read leaves it frozen for a
     bounded time).  writable (cp into a stopped container): the disk mounted read-write, refused (EBUSY) while
     its guest runs, whose own mount of it is the only writer then.  Runs in the CLI. */
  int (*open_layer) (struct container *c, bool writable, struct driver_layer *out, isola_error_t *err);
  void (*close_layer) (struct container *c, struct driver_layer *l);
  /* A running container's root directory as the host reaches it, its mounts included (cp): process: its first
     process's root (/proc/PID/root).  NULL for vm, whose files are the guest's (open_layer reads them). */
  int (*running_root) (struct container *c, int *fd_out, isola_error_t *err);
};

extern const struct isola_driver driver_process, driver_vm;

/* The driver for an isolation name ("process", "vm", "hyperv", "default" or ""); the default comes from
   $ISOLA_ISOLATION, else ROOT/config.json's "isolation", else process.  EINVAL for an unknown name. */
int driver_lookup (const char *root, const char *isolation, const struct isola_driver **out, isola_error_t *err);

/* The driver of an existing container (from HostConfig.Isolation). */
const struct isola_driver *driver_of (const struct container *c);

#endif

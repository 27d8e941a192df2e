/* A container's first process: clone(2) (clone3 into its cgroup when it has one) into new pid, mount, uts, ipc and
   net (unless host) namespaces; in the child, a cgroup namespace, the root filesystem (an overlay of the image's
   snapshots, or of one lower directory the caller mounted, under the container's upper dir), /proc, /sys, /dev and
   friends, pivot_root into it, hostname, user, rlimits, the seccomp program and capabilities, and exec of the
   command.  The caller becomes the container's parent: the process driver in the container's monitor on the host,
   and the agent inside a VM.  An exec into a running container (nsexec.c) uses the second half: spawn_join_setup
   and spawn_exec_command. */
#ifndef ISOLA_SPAWN_H
#define ISOLA_SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/digest.h"
#include "base/error.h"
#include "sandbox/cgroup.h"
#include "sandbox/seccomp_program.h"
#include "store/store.h"

struct spawn_mount
{
  const char *source;      /* host path (bind) or NULL for tmpfs */
  const char *destination; /* absolute path inside the container */
  bool readonly;
  const char *tmpfs_options; /* for tmpfs: "size=64m,mode=1777" or NULL */
};

enum spawn_ns_mode
{
  SPAWN_NS_PRIVATE = 0,
  SPAWN_NS_HOST,
  SPAWN_NS_JOIN,
};

struct spawn_ns
{
  enum spawn_ns_mode mode;
  int fd; /* SPAWN_NS_JOIN: an open namespace file */
};

/* --device: a node made at path (absolute, in the container) with the host device's type, numbers and mode. */
struct spawn_device
{
  char *path;      /* in the container */
  char *host_path; /* bound instead where mknod is refused */
  mode_t mode;     /* S_IFCHR or S_IFBLK | permissions */
  dev_t rdev;
  uid_t uid;
  gid_t gid;
  unsigned cgroup_access; /* what the container may do with it (devices.h's DEVICE_* bits), 0 for all */
};

struct spawn_rlimit
{
  int resource; /* RLIMIT_* */
  uint64_t soft, hard;
};

struct spawn_spec
{
  /* Root filesystem: the image's snapshots (base first) under upper/work, mounted at rootfs.  All three paths are
     directories that exist (container_dir/upper, /work, /rootfs). */
  const struct isola_store *store;
  const digest_hex_t *chain_ids;
  size_t n_layers;
  const char *upper, *work, *rootfs;
  /* Instead of the store's snapshots, one lower directory the caller has mounted (store may then be NULL). */
  const char *lower;
  /* Or a directory used as it is (an OCI bundle's root, which its caller prepared): bound onto itself, no overlay;
     upper, work and store are then unused. */
  const char *root_dir;
  bool readonly_rootfs;

  /* Files bind-mounted over /etc/hostname, /etc/hosts, /etc/resolv.conf (each may be NULL). */
  const char *etc_hostname, *etc_hosts, *etc_resolv;

  char *const *argv; /* argv[0] is looked up in the container's PATH (from env) when it has no '/' */
  char *const *env;  /* "K=V", NULL-terminated */
  const char *cwd;   /* absolute, created when missing; NULL = "/" */
  const char *user;  /* "", "uid", "uid:gid", "name", "name:group" — names resolved in the container's
                        /etc/passwd and /etc/group; supplementary groups from /etc/group */
  const char *hostname;
  bool host_network; /* share the host's network namespace instead of a private one with loopback up */
  int netns_fd;      /* > 0: join this network namespace (an nsfs file, open) instead; loopback is brought up */
  /* The IPC, PID and UTS namespaces, and the cgroup one: private (the default), the host's (caller's), or another
     container's (spawn_ns.fd: its /proc/PID/ns/TYPE, open).  A private cgroup namespace is rooted at the
     container's cgroup; with the host's UTS namespace the hostname is not set. */
  struct spawn_ns ipc, pid, uts, cgroupns;
  bool no_shm;            /* --ipc none: no /dev/shm */
  int shm_fd;             /* with ipc JOIN, > 0: the other container's /dev/shm, a detached mount (open_tree) */
  int64_t shm_size;       /* bytes of the /dev/shm tmpfs; 0: Docker's 64 MiB */
  char *const *sysctls;   /* "key=value", NULL-terminated (or NULL): written under /proc/sys in the container */
  char *const *group_add; /* supplementary groups besides the user's: names (the container's /etc/group) or GIDs */
  const struct spawn_device *devices;
  size_t n_devices;
  /* --privileged: every device may be opened.  Otherwise Docker's default device rules and the --device nodes are
     all the container's processes may open (sandbox/devices.h), through its cgroup v2 (without one, as on a host
     with no unified hierarchy, nothing restricts them). */
  bool all_devices;

  uint64_t cap_keep; /* capability bits the process keeps: the bounding set, and for root also permitted and
                        effective; a non-root user gets none, and the inheritable set stays empty (as in Docker) */
  bool no_new_privileges;
  /* The command starts with every signal blocked: our --init, which takes them from there.  A signal sent before it
     is ready then waits for it; to a PID 1 that has no handler yet, it would be dropped. */
  bool signals_blocked;
  const struct spawn_rlimit *rlimits;
  size_t n_rlimits;
  const struct spawn_mount *mounts;
  size_t n_mounts;

  /* stdio of the container process; -1 means /dev/null. */
  int stdin_fd, stdout_fd, stderr_fd;
  /* With tty, the stdio fds are ignored: the process gets a new terminal from the container's own devpts (so that
     ttyname() and job control work inside) and sends its master over console_socket (SCM_RIGHTS). */
  bool tty;
  int console_socket;
  unsigned short tty_rows, tty_cols; /* initial size of the terminal, 0 when unknown */

  /* The container's cgroups (NULL for none): the process is cloned into the v2 one and written into the others
     before it runs anything of the image's; it then enters a new cgroup namespace rooted there. */
  const struct cgroup_placement *cgroup;

  /* The seccomp program (seccomp_program.h; NULL for none; the caller keeps it).  As in runc, it is
     loaded last before execve when no_new_privileges is set, and otherwise just before the capabilities are
     dropped, since without no_new_privs loading one needs CAP_SYS_ADMIN. */
  const struct seccomp_program *seccomp;

  /* A user namespace of its own (NULL: the host's): the contents of its /proc/PID/uid_map and gid_map ("0 100000
     65536\n", lines of "inside host count"), written by the parent right after clone.  The child waits for them,
     becomes the namespace's root and builds the container as that root: the root filesystem must already belong
     to the mapped range (the caller prepares it, as for runc); device nodes are the host's, bound (mknod is
     refused in a user namespace). */
  const char *uid_map, *gid_map;
  /* > 0: a user namespace to join instead (runc's linux.namespaces "user" with a path: a Kubernetes pod's), whose
     maps are its own (uid_map stays NULL).  A helper joins the container's cgroups and the namespaces given
     by path (as the host's root, who may join any), then this one, and clones the first process as its parent's
     child (CLONE_PARENT), so that its new namespaces belong to the joined one; the process becomes the namespace's
     root (uid and gid 0, which its maps must have) and builds the container as for uid_map. */
  int userns_fd;

  /* An OCI runtime's container (isola-runtime) instead of a monitor's: */
  /* masked and read-only paths, NULL-terminated, replacing Docker's (sandbox_masked_paths) when not NULL */
  const char *const *masked_paths, *const *readonly_paths;
  /* the process outlives its parent (no parent-death signal): `create` exits, the caller's subreaper adopts it */
  bool outlive_parent;
  /* > 0: the exec gate, runc's exec.fifo (an open file, O_PATH is enough).  Once the command has been found, the
     child reports that it is ready (spawn_container returns) and blocks opening the fifo for writing until `start`
     opens it for reading; it writes one byte and execs.  Failures after that point are not reported. */
  int exec_gate_fd;
  /* Descriptors 3 .. 3+preserve_fds-1 stay open in the command (runc's --preserve-fds, LISTEN_FDS). */
  unsigned preserve_fds;
};

/* Sets spec's rlimits on pid (0: the caller) with prlimit.  Raising a hard limit needs CAP_SYS_RESOURCE in the host's
   user namespace, which a process in a user namespace of its own never has: so they are set from outside it (on the
   first process before it becomes the namespace's root, in the helpers before they join one), as runc sets them
   from its parent.  Where even the runtime may not raise it (no CAP_SYS_RESOURCE), the error says so. */
int spawn_set_rlimits (const struct spawn_spec *spec, pid_t pid, isola_error_t *err);

/* Default signal dispositions and an empty mask, for a process about to become a container's. */
void spawn_reset_signals (void);

/* Clones the container's first process.  Returns 0 once the process has exec'd the command, with its host pid.
   When setup or exec fails, the child's error is returned: ENOENT for a command that does not exist (Docker's
   exit code 127), EACCES/ENOEXEC for one that cannot be run (126), others for setup failures (125; a setup step
   that failed with one of those three errnos is reported as EIO, its cause in the message), and the child has been
   reaped.  The child is cloned with fork(2) semantics: call this from a single-threaded process. */
int spawn_container (const struct spawn_spec *spec, pid_t *pid_out, isola_error_t *err);

/* Docker's exit code for a container whose start failed with errnum, by the rule above: 127 for a command that does
   not exist, 126 for one that cannot be run, 125 for a failure of the engine.  The monitor and the VM's agent both
   report it, so that a failed start exits alike in both isolation modes. */
int spawn_failure_exit_code (int errnum);

/* For a process that has already entered a running container's namespaces, cgroups and root (exec): what
   spawn_container's child does once the root is built, with the same rules.  The user from the container's
   /etc/passwd and /etc/group, chdir to cwd (which must exist), rlimits, no_new_privileges, the seccomp filter
   (unless no_new_privileges defers it to spawn_exec_command), capabilities, stdio (with tty, a new terminal of the
   container's devpts).  *env_out is the command's environment: env plus HOME from passwd when missing.  The root
   file system, hostname, mount and cgroup fields are not used. */
int spawn_join_setup (const struct spawn_spec *spec, char ***env_out, isola_error_t *err);

/* Then: looks spec->argv[0] up in env's PATH as spawn_container does, loads the seccomp filter deferred by
   no_new_privileges, and execs.  Returns only on failure, with Docker's message and errno: ENOENT for a command
   that does not exist (exit code 127), others when it cannot run (126) — unless *setup_failed, when loading the
   filter failed. */
int spawn_exec_command (const struct spawn_spec *spec, char *const *env, bool *setup_failed, isola_error_t *err);

/* A bind mount of the host's source (symlinks followed) on dest, which is resolved inside the root whose directory
   rootfd is (symlinks and ".." never leave it) and made to match the source's type when missing: what a container's
   -v gets at its start, for `cp`'s view of a container that is not running (Docker's mountVolumes). */
int spawn_bind_in_root (int rootfd, const char *source, const char *dest, bool readonly, isola_error_t *err);

/* The mount target path (a file, or a directory with dir) inside the directory rootfd, created when missing with its
   parents, as a container's start makes its mount points (symlinks and ".." never leave rootfd): an O_PATH fd of
   it, or a negative errno. */
int spawn_make_mount_target (int rootfd, const char *path, bool dir, isola_error_t *err);

/* Docker's masked and read-only paths, NULL-terminated: what every container but a --privileged one gets (inspect
   shows them as HostConfig.MaskedPaths, ReadonlyPaths). */
extern const char *const sandbox_masked_paths[];
extern const char *const sandbox_readonly_paths[];

#endif

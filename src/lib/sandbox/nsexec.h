/* `isola exec` for process containers: a new process joins a running container.

   The caller forks a helper that enters the namespaces of the container's first process (/proc/PID/ns/…) and forks
   again, since joining a PID namespace only places children in it.  That second child, the command, joins the
   container's cgroups and then its cgroup namespace, becomes the container's user with its capabilities, limits and
   seccomp filter (spawn.c's rules), and execs.  The helper waits for it and exits with its status, so the caller's
   wait for the helper yields the command's exit code.  Failures before the exec come back over a CLOEXEC pipe. */
#ifndef ISOLA_NSEXEC_H
#define ISOLA_NSEXEC_H

#include "base/error.h"
#include "container/container.h"
#include "driver/driver.h"
#include "sandbox/spawn.h"

/* The process driver's exec op (driver.h).  Forks: call it from a single-threaded process. */
int nsexec_run (struct container *c, const struct exec_request *req, int *exit_code, isola_error_t *err);

/* Starts the command without waiting for it (the monitor's exec sessions): *helper_out is a child of ours whose
   exit status will be the command's exit code (128+N for signal N), that passes on the signals a client forwards
   (SIGINT, SIGTERM, SIGHUP, SIGUSR1 …) to the command, and that the command dies with unless req->detach.  When
   the command cannot run, the error and *exit_code are nsexec_run's, and nothing is left to wait for. */
int nsexec_start (struct container *c, const struct exec_request *req, pid_t *helper_out, int *exit_code,
                  isola_error_t *err);

/* The same for a process given by PID (a VM's agent runs it for the container's main process in the guest): the
   cgroup.procs files to join (may be NULL) and a ready spec (argv, env, user, cwd, capabilities, limits, seccomp,
   stdio).  Waits for the command unless detach; started_fd (-1: none) gets one byte once it has started. */
int nsexec_run_in (pid_t pid, char *const *cgroup_procs, const struct spawn_spec *spec, bool detach, int started_fd,
                   int *exit_code, isola_error_t *err);

/* The same, detached: returns once the command has exec'd, with its pid (in our PID namespace) in *command_out;
   the helper has exited, and the command is adopted by our subreaper (an OCI runtime's exec --detach). */
int nsexec_start_in (pid_t pid, char *const *cgroup_procs, const struct spawn_spec *spec, pid_t *command_out,
                     int *exit_code, isola_error_t *err);

/* An exec's capabilities: the container's (HostConfig), or with privileged all that the host allows. */
int nsexec_caps (json_t *host_config, bool privileged, uint64_t *out, isola_error_t *err);

/* Docker's exec environment: the container's (container_env_for, TERM=xterm with the exec's terminal, not the
   container's), then req->env over it. */
char **nsexec_env (const struct container *c, const struct exec_request *req);

#endif

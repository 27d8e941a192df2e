/* The monitor's side of health checks (container/health.h): runs the container's check as an exec in it, through
   its driver (exec, or exec_session for a VM, whose session the monitor itself serves), in a child process so that
   the monitor's loop never waits for it, and records each result in the container's State.Health. */
#ifndef ISOLA_MONITOR_HEALTH_H
#define ISOLA_MONITOR_HEALTH_H

#include <stdbool.h>
#include <sys/types.h>

#include "container/health.h"
#include "driver/driver.h"

struct health_probe
{
  bool enabled;
  struct health_config cfg;
  long long run_started_ms; /* monotonic: when the container's current run started */
  long long next_ms;        /* when the next check starts */
  pid_t pid;                /* the running check's process, 0 for none */
  int out_fd, status_fd;    /* its output, and its exit code once it is over; -1 for none */
  long long deadline_ms;    /* when it has exceeded its timeout */
  long long began_ms;
  char *began; /* its start, RFC 3339 */
  char output[HEALTH_OUTPUT_MAX + 1];
  size_t output_len;
};

/* Reads the container's check (disabled when it has none). */
void health_probe_init (struct health_probe *h, const struct container *c);
void health_probe_clear (struct health_probe *h);

/* A run of the container began: State.Health starts over ("starting"), the first check comes after one interval. */
void health_probe_run_started (struct health_probe *h, struct container *c);
/* The run ended: a running check is ended, and the container is "unhealthy", as Docker leaves a stopped one. */
void health_probe_run_ended (struct health_probe *h, struct container *c);

/* What the monitor's poll adds: up to two fds (-1 when none) and how long it may sleep (-1: no limit). */
void health_probe_fds (const struct health_probe *h, int fds[2]);
int health_probe_timeout_ms (const struct health_probe *h);

/* Starts a check that is due, collects a running one's output, records its result (or its timeout); true when
   State.Health changed and the state is to be written. */
bool health_probe_step (struct health_probe *h, struct container *c, const struct isola_driver *d);

#endif

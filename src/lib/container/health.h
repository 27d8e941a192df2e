/* Health checks (Config.Healthcheck) as dockerd runs them: the check's settings with Docker's defaults, and
   State.Health, the record of its results that inspect and ps show.  The container's monitor runs the checks
   (src/monitor/health.c); this is the pure part, shared with the CLI. */
#ifndef ISOLA_CONTAINER_HEALTH_H
#define ISOLA_CONTAINER_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "container/container.h"

/* Docker's defaults and limits. */
#define HEALTH_DEFAULT_INTERVAL_MS 30000
#define HEALTH_DEFAULT_TIMEOUT_MS  30000
#define HEALTH_DEFAULT_RETRIES     3
#define HEALTH_OUTPUT_MAX          4096 /* bytes of a check's output kept */
#define HEALTH_LOG_MAX             5    /* results kept in State.Health.Log */

struct health_config
{
  char **argv; /* the command: CMD's arguments, or /bin/sh -c for CMD-SHELL */
  long long interval_ms, timeout_ms, start_period_ms;
  int retries;
};

/* Parses a Go duration ("1s", "1m30s", "500ms", "1.5h", "0") into nanoseconds, as pflag's Duration flags do.
   EINVAL: `time: invalid duration "X"`. */
int health_duration_parse (const char *s, int64_t *ns_out, isola_error_t *err);

/* dockerd's checks of a request's Config.Healthcheck (an object, or NULL). */
int health_config_check (json_t *healthcheck, isola_error_t *err);

/* Docker's merge of a request's Healthcheck with the image's: the image's when the request has none, else each
   unset member (empty Test, zero durations and retries) from the image's.  Returns a new reference or NULL. */
json_t *health_config_merge (json_t *request, json_t *image);

/* The container's check with defaults filled in: 1, 0 when it has none (no Healthcheck, an empty Test, ["NONE"]). */
int health_config_of (const struct container *c, struct health_config *out);
void health_config_clear (struct health_config *h);

/* State.Health as a check begins, at each start: {"Status": "starting", "FailingStreak": 0, "Log": []}. */
void health_state_begin (json_t *state);

/* Records one result in State.Health (Docker's handleProbeResult): the log keeps the last HEALTH_LOG_MAX; success
   makes the container healthy; a failure adds to the failing streak, except while it is starting and within its
   start period, and the streak reaching the retries makes it unhealthy.  start and end are RFC 3339 times,
   since_start_ms how long after the container started the check began. */
void health_state_record (json_t *state, const struct health_config *h, const char *start, const char *end,
                          int exit_code, const char *output, long long since_start_ms);

/* The output Docker records for a check that took longer than its timeout: "Health check exceeded timeout (30s)". */
char *health_timeout_message (long long timeout_ms);

/* State.Health.Status: "starting", "healthy", "unhealthy", or NULL when the container has no check. */
const char *health_status (const struct container *c);

#endif

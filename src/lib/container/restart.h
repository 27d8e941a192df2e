/* Restart policies (HostConfig.RestartPolicy) as dockerd applies them: what `--restart` means, whether a container
   whose main process exited runs again, after how long (Docker's back-off), and which containers a boot starts
   (`isola start --all`).  The container's monitor applies them (src/monitor/); this is the pure part, shared with
   the CLI. */
#ifndef ISOLA_CONTAINER_RESTART_H
#define ISOLA_CONTAINER_RESTART_H

#include <jansson.h>
#include <stdbool.h>

#include "base/error.h"
#include "container/container.h"

enum restart_kind
{
  RESTART_NO,
  RESTART_ALWAYS,
  RESTART_UNLESS_STOPPED,
  RESTART_ON_FAILURE,
};

struct restart_policy
{
  enum restart_kind kind;
  int max_retries; /* on-failure: 0 means no limit */
};

/* Docker's back-off: 100 ms, doubled at each restart up to a minute, back to 100 ms once a run lasted 10 s. */
#define RESTART_DELAY_MIN_MS   100
#define RESTART_DELAY_MAX_MS   60000
#define RESTART_RESET_AFTER_MS 10000

/* `--restart VALUE` as the docker CLI parses it: NAME or NAME:COUNT into {"Name", "MaximumRetryCount"}; the name is
   judged by restart_policy_check.  EINVAL with the CLI's messages ("invalid restart policy format", "maximum retry
   count must be an integer"). */
int restart_policy_from_flag (const char *value, json_t **out, isola_error_t *err);

/* dockerd's checks of a request's RestartPolicy (Name, MaximumRetryCount) and AutoRemove, with its messages. */
int restart_policy_check (const char *name, long long max_retries, bool auto_remove, isola_error_t *err);

/* The container's policy, from HostConfig.RestartPolicy ("no" when absent or unknown). */
struct restart_policy restart_policy_of (const struct container *c);

/* Whether the container runs again after its main process exited with exit_code: restart_count is how often it was
   restarted since it was last started by the user, manual_stop whether a user stopped or killed it. */
bool restart_wanted (const struct restart_policy *p, int exit_code, int restart_count, bool manual_stop);

/* The delay before the next restart, given the previous one (0 before the first) and how long the run lasted. */
long long restart_next_delay_ms (long long previous_ms, long long ran_ms);

/* Whether a boot (`isola start --all`) starts the stopped container: always, and unless-stopped unless a user
   stopped it. */
bool restart_at_boot (const struct restart_policy *p, bool manual_stop);

#endif

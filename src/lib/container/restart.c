/* Restart policies, as dockerd's restart manager applies them (see restart.h). */
#define _GNU_SOURCE
#include "container/restart.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

int
restart_policy_from_flag (const char *value, json_t **out, isola_error_t *err)
{
  cleanup_free char *name = xstrdup (value);
  long long count = 0;
  char *colon = strchr (name, ':');
  if (colon)
    {
      *colon++ = '\0';
      if (strchr (colon, ':'))
        return isola_error_fail (err, EINVAL, "invalid restart policy format");
      /* Go's strconv.Atoi: an optional sign and decimal digits, nothing else. */
      char *end;
      errno = 0;
      count = strtoll (colon, &end, 10);
      if (*colon == '\0' || *end || errno || count < INT_MIN || count > INT_MAX || colon[0] == ' ')
        return isola_error_fail (err, EINVAL, "maximum retry count must be an integer");
    }
  *out = json_pack ("{s:s, s:I}", "Name", name, "MaximumRetryCount", (json_int_t)count);
  return 0;
}

static enum restart_kind
kind_of (const char *name, bool *known)
{
  static const struct
  {
    const char *name;
    enum restart_kind kind;
  } names[] = {
    { "", RESTART_NO },
    { "no", RESTART_NO },
    { "always", RESTART_ALWAYS },
    { "unless-stopped", RESTART_UNLESS_STOPPED },
    { "on-failure", RESTART_ON_FAILURE },
  };
  for (size_t i = 0; i < ARRAY_SIZE (names); i++)
    if (strcmp (name, names[i].name) == 0)
      {
        *known = true;
        return names[i].kind;
      }
  *known = false;
  return RESTART_NO;
}

int
restart_policy_check (const char *name, long long max_retries, bool auto_remove, isola_error_t *err)
{
  bool known;
  name = name ? name : "";
  enum restart_kind kind = kind_of (name, &known);
  if (!known)
    return isola_error_fail (err, EINVAL, "invalid restart policy '%s'", name);
  if (kind == RESTART_ON_FAILURE && max_retries < 0)
    return isola_error_fail (err, EINVAL, "maximum retry count cannot be negative");
  if (kind != RESTART_ON_FAILURE && max_retries != 0 && name[0])
    return isola_error_fail (err, EINVAL, "maximum retry count cannot be used with restart policy '%s'", name);
  if (auto_remove && kind != RESTART_NO)
    return isola_error_fail (err, EINVAL, "can't create 'AutoRemove' container with restart policy");
  return 0;
}

struct restart_policy
restart_policy_of (const struct container *c)
{
  json_t *p = json_object_get (container_host_config (c), "RestartPolicy");
  bool known;
  struct restart_policy out = { .kind = kind_of (json_string_value (json_object_get (p, "Name")) ?: "", &known) };
  json_int_t max = json_integer_value (json_object_get (p, "MaximumRetryCount"));
  out.max_retries = max > 0 && max <= INT_MAX ? (int)max : 0;
  return out;
}

bool
restart_wanted (const struct restart_policy *p, int exit_code, int restart_count, bool manual_stop)
{
  if (manual_stop)
    return false;
  switch (p->kind)
    {
    case RESTART_ALWAYS:
    case RESTART_UNLESS_STOPPED:
      return true;
    case RESTART_ON_FAILURE:
      return exit_code != 0 && (p->max_retries == 0 || restart_count < p->max_retries);
    case RESTART_NO:
      break;
    }
  return false;
}

long long
restart_next_delay_ms (long long previous_ms, long long ran_ms)
{
  if (ran_ms >= RESTART_RESET_AFTER_MS || previous_ms <= 0)
    return RESTART_DELAY_MIN_MS;
  long long next = previous_ms * 2;
  return next > RESTART_DELAY_MAX_MS ? RESTART_DELAY_MAX_MS : next;
}

bool
restart_at_boot (const struct restart_policy *p, bool manual_stop)
{
  return p->kind == RESTART_ALWAYS || (p->kind == RESTART_UNLESS_STOPPED && !manual_stop);
}

#define _GNU_SOURCE
/* Restart policies and health checks: the pure parts dockerd's restart manager and health monitor decide with. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "container/health.h"
#include "container/restart.h"
#include "tap.h"

static char *
flag_result (const char *value)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_json json_t *p = NULL;
  if (restart_policy_from_flag (value, &p, &err) < 0)
    return xstrdup (err->msg);
  return json_dumps (p, JSON_COMPACT | JSON_SORT_KEYS);
}

static char *
check_result (const char *name, long long max, bool auto_remove)
{
  cleanup_error isola_error_t err = NULL;
  if (restart_policy_check (name, max, auto_remove, &err) < 0)
    return xstrdup (err->msg);
  return xstrdup ("");
}

static void
test_flag (void)
{
  static const char *const cases[][2] = {
    { "always", "{\"MaximumRetryCount\":0,\"Name\":\"always\"}" },
    { "on-failure:3", "{\"MaximumRetryCount\":3,\"Name\":\"on-failure\"}" },
    { "on-failure:-1", "{\"MaximumRetryCount\":-1,\"Name\":\"on-failure\"}" },
    { "bogus", "{\"MaximumRetryCount\":0,\"Name\":\"bogus\"}" },
    { "on-failure:x", "maximum retry count must be an integer" },
    { "on-failure:", "maximum retry count must be an integer" },
    { "a:1:2", "invalid restart policy format" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    {
      cleanup_free char *got = flag_result (cases[i][0]);
      CHECK_STR (got, cases[i][1], "--restart %s -> %s", cases[i][0], got);
    }
}

static void
test_check (void)
{
  static const struct
  {
    const char *name;
    long long max;
    bool rm;
    const char *msg;
  } cases[] = {
    { "no", 0, false, "" },
    { "", 5, false, "" },
    { "always", 0, false, "" },
    { "unless-stopped", 0, false, "" },
    { "on-failure", 4, false, "" },
    { "on-failure", -1, false, "maximum retry count cannot be negative" },
    { "always", 2, false, "maximum retry count cannot be used with restart policy 'always'" },
    { "sometimes", 0, false, "invalid restart policy 'sometimes'" },
    { "always", 0, true, "can't create 'AutoRemove' container with restart policy" },
    { "no", 0, true, "" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    {
      cleanup_free char *got = check_result (cases[i].name, cases[i].max, cases[i].rm);
      CHECK_STR (got, cases[i].msg, "policy '%s' max %lld rm %d: '%s'", cases[i].name, cases[i].max, cases[i].rm, got);
    }
}

static void
test_decisions (void)
{
  struct restart_policy no = { RESTART_NO, 0 }, always = { RESTART_ALWAYS, 0 };
  struct restart_policy unless = { RESTART_UNLESS_STOPPED, 0 }, failure2 = { RESTART_ON_FAILURE, 2 };
  struct restart_policy failure = { RESTART_ON_FAILURE, 0 };
  CHECK (!restart_wanted (&no, 1, 0, false), "no: never");
  CHECK (restart_wanted (&always, 0, 100, false), "always: also after a success");
  CHECK (!restart_wanted (&always, 1, 0, true), "always: not after a manual stop");
  CHECK (restart_wanted (&unless, 0, 0, false) && !restart_wanted (&unless, 0, 0, true), "unless-stopped");
  CHECK (!restart_wanted (&failure2, 0, 0, false), "on-failure: not after a success");
  CHECK (restart_wanted (&failure2, 3, 0, false) && restart_wanted (&failure2, 3, 1, false), "on-failure:2, 2 tries");
  CHECK (!restart_wanted (&failure2, 3, 2, false), "on-failure:2 stops after 2 restarts");
  CHECK (restart_wanted (&failure, 1, 1000, false), "on-failure: no limit");
  CHECK (restart_at_boot (&always, true) && restart_at_boot (&always, false), "boot: always, even stopped by hand");
  CHECK (restart_at_boot (&unless, false) && !restart_at_boot (&unless, true), "boot: unless-stopped");
  CHECK (!restart_at_boot (&failure, false) && !restart_at_boot (&no, false), "boot: not on-failure nor no");
  long long d = 0, seq[6];
  for (int i = 0; i < 6; i++)
    seq[i] = d = restart_next_delay_ms (d, 50);
  CHECK (seq[0] == 100 && seq[1] == 200 && seq[2] == 400 && seq[5] == 3200, "back-off doubles from 100 ms");
  CHECK (restart_next_delay_ms (51200, 50) == 60000 && restart_next_delay_ms (60000, 50) == 60000, "capped at 1 min");
  CHECK (restart_next_delay_ms (3200, 10000) == 100, "reset after a run of 10 s");
}

static void
test_durations (void)
{
  static const struct
  {
    const char *in;
    int64_t ns;
  } ok[] = { { "0", 0 },
             { "1s", 1000000000 },
             { "500ms", 500000000 },
             { "1m30s", 90000000000 },
             { "1.5h", 5400000000000 },
             { "-2s", -2000000000 },
             { "10us", 10000 },
             { "3ns", 3 } };
  for (size_t i = 0; i < ARRAY_SIZE (ok); i++)
    {
      int64_t ns = -1;
      CHECK (health_duration_parse (ok[i].in, &ns, NULL) == 0 && ns == ok[i].ns, "duration %s", ok[i].in);
    }
  static const char *const bad[][2] = { { "1", "time: missing unit in duration \"1\"" },
                                        { "x", "time: invalid duration \"x\"" },
                                        { "1y", "time: unknown unit \"y\" in duration \"1y\"" },
                                        { "", "time: invalid duration \"\"" } };
  for (size_t i = 0; i < ARRAY_SIZE (bad); i++)
    {
      cleanup_error isola_error_t err = NULL;
      int64_t ns;
      CHECK (health_duration_parse (bad[i][0], &ns, &err) == -EINVAL && strcmp (err->msg, bad[i][1]) == 0,
             "duration '%s' refused: %s", bad[i][0], err ? err->msg : "");
    }
  cleanup_free char *m1 = health_timeout_message (30000), *m2 = health_timeout_message (1500);
  cleanup_free char *m3 = health_timeout_message (200), *m4 = health_timeout_message (90000);
  CHECK_STR (m1, "Health check exceeded timeout (30s)", "timeout message %s", m1);
  CHECK_STR (m2, "Health check exceeded timeout (1.5s)", "timeout message %s", m2);
  CHECK_STR (m3, "Health check exceeded timeout (200ms)", "timeout message %s", m3);
  CHECK_STR (m4, "Health check exceeded timeout (1m30s)", "timeout message %s", m4);
}

static char *
config_check (const char *hc)
{
  cleanup_json json_t *j = json_loads (hc, 0, NULL);
  cleanup_error isola_error_t err = NULL;
  return xstrdup (health_config_check (j, &err) < 0 ? err->msg : "");
}

static void
test_health_config (void)
{
  cleanup_free char *a = config_check ("{\"Test\":[\"CMD\",\"true\"],\"Interval\":1000000}");
  cleanup_free char *b = config_check ("{\"Interval\":999999}");
  cleanup_free char *c = config_check ("{\"Timeout\":5}");
  cleanup_free char *d = config_check ("{\"Retries\":-1}");
  cleanup_free char *e = config_check ("{\"StartPeriod\":10}");
  CHECK_STR (a, "", "1 ms is the least interval");
  CHECK_STR (b, "Interval in Healthcheck cannot be less than 1ms", "%s", b);
  CHECK_STR (c, "Timeout in Healthcheck cannot be less than 1ms", "%s", c);
  CHECK_STR (d, "Retries in Healthcheck cannot be negative", "%s", d);
  CHECK_STR (e, "StartPeriod in Healthcheck cannot be less than 1ms", "%s", e);

  cleanup_json json_t *image = json_pack ("{s:[s,s], s:I, s:i}", "Test", "CMD-SHELL", "check", "Interval",
                                          (json_int_t)5000000000, "Retries", 7);
  cleanup_json json_t *req = json_pack ("{s:I}", "Interval", (json_int_t)1000000000);
  cleanup_json json_t *m = health_config_merge (req, image);
  CHECK (json_integer_value (json_object_get (m, "Interval")) == 1000000000
             && json_integer_value (json_object_get (m, "Retries")) == 7
             && json_array_size (json_object_get (m, "Test")) == 2,
         "the request's members over the image's");
  cleanup_json json_t *only_image = health_config_merge (NULL, image);
  CHECK (json_equal (only_image, image), "no request: the image's");
}

/* A container record with Config.Healthcheck, for health_config_of. */
static void
test_health_state (void)
{
  struct container c
      = { .config = json_pack ("{s:{s:{s:[s,s], s:I, s:I}}}", "Config", "Healthcheck", "Test", "CMD-SHELL", "exit 1",
                               "Interval", (json_int_t)1000000000, "StartPeriod", (json_int_t)3000000000),
          .state = json_object () };
  struct health_config h;
  CHECK (health_config_of (&c, &h) == 1 && strv_len (h.argv) == 3 && strcmp (h.argv[0], "/bin/sh") == 0
             && strcmp (h.argv[2], "exit 1") == 0,
         "CMD-SHELL runs /bin/sh -c");
  CHECK (h.interval_ms == 1000 && h.timeout_ms == 30000 && h.retries == 3 && h.start_period_ms == 3000,
         "Docker's defaults fill what is unset");
  health_state_begin (c.state);
  CHECK_STR (health_status (&c), "starting", "a run begins starting");
  health_state_record (c.state, &h, "t0", "t1", 1, "no", 1000);
  CHECK (json_integer_value (json_object_get (json_object_get (c.state, "Health"), "FailingStreak")) == 0,
         "a failure within the start period does not count");
  for (int i = 0; i < 3; i++)
    health_state_record (c.state, &h, "t0", "t1", 1, "no", 4000 + i);
  CHECK_STR (health_status (&c), "unhealthy", "3 failures after the start period: unhealthy");
  health_state_record (c.state, &h, "t0", "t1", 0, "ok\xff", 9000);
  json_t *health = json_object_get (c.state, "Health");
  CHECK_STR (health_status (&c), "healthy", "a success: healthy");
  CHECK (json_integer_value (json_object_get (health, "FailingStreak")) == 0, "a success ends the streak");
  json_t *log = json_object_get (health, "Log");
  CHECK (json_array_size (log) == 5, "the log keeps the last 5");
  CHECK_STR (json_string_value (json_object_get (json_array_get (log, 4), "Output")), "ok\xef\xbf\xbd",
             "output that is not UTF-8 is kept, repaired");
  health_config_clear (&h);
  json_object_set_new (json_object_get (c.config, "Config"), "Healthcheck", json_pack ("{s:[s]}", "Test", "NONE"));
  CHECK (health_config_of (&c, &h) == 0, "NONE: no check");
  json_decref (c.config);
  json_decref (c.state);
}

int
main (void)
{
  test_flag ();
  test_check ();
  test_decisions ();
  test_durations ();
  test_health_config ();
  test_health_state ();
  return tap_done ();
}

/* events: the container's resource use from its cgroups, in runc's event shape ({"type": "stats", "id", "data":
   {"cpu": {"usage": {"total"}}, "memory": {"usage": {"usage", "limit"}}, "pids": {"current"}, "blkio"}}): once with
   --stats, else every --interval until the container stops.  runc's oom events are not produced. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "runtime.h"
#include "runtime/state.h"
#include "sandbox/cgroup.h"

enum
{
  F_STATS = FLAG_FIRST_ID,
  F_INTERVAL,
};

static const struct flag_def events_flags[] = {
  { "stats", 0, F_STATS, NULL, "display the container's stats then exit" },
  { "interval", 0, F_INTERVAL, "duration", "set the stats collection interval (default 5s)" },
  { NULL },
};

/* A VM container's figures are its guest's cgroup's, read by the agent (vm.c). */
static int
print_stats (const struct rt_ctx *ctx, const struct rt_container *c, isola_error_t *err)
{
  struct cgroup_fs fs = { 0 };
  struct cgroup_stats st;
  int ret = rt_vm_container (c) ? rt_vm_stats (ctx, c, &st, err) : cgroup_fs_detect ("/sys/fs/cgroup", &fs, err);
  if (ret == 0 && !rt_vm_container (c))
    ret = cgroup_stats_read (&fs, json_string_value (json_object_get (c->state, "cgroup")), &st, err);
  cgroup_fs_clear (&fs);
  if (ret < 0)
    return ret;
  cleanup_json json_t *ev
      = json_pack ("{s:s, s:s, s:{s:{s:{s:I}}, s:{s:{s:I, s:I}}, s:{s:I}, s:{s:I, s:I}}}", "type", "stats", "id", c->id,
                   "data", "cpu", "usage", "total", (json_int_t)st.cpu_ns, "memory", "usage", "usage",
                   (json_int_t)st.memory, "limit", (json_int_t)st.memory_limit, "pids", "current", (json_int_t)st.pids,
                   "blkio", "read_bytes", (json_int_t)st.read_bytes, "write_bytes", (json_int_t)st.write_bytes);
  cleanup_free char *text = json_dumps (ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
  printf ("%s\n", text);
  fflush (stdout);
  return 0;
}

/* "5s", "500ms", "1m": Go's durations as the flag takes them; -1 when it does not parse. */
static long long
interval_ms (const char *s)
{
  char *end;
  double v = strtod (s, &end);
  if (end == s || v <= 0)
    return -1;
  if (strcmp (end, "ms") == 0)
    return (long long)v;
  if (strcmp (end, "s") == 0 || *end == '\0')
    return (long long)(v * 1000);
  if (strcmp (end, "m") == 0)
    return (long long)(v * 60000);
  return -1;
}

static int
verb_events (struct rt_ctx *ctx, struct flag_parser *p)
{
  int code = 0, id;
  bool once = false;
  long long every = 5000;
  while ((id = rt_next (ctx, p, &code)) != FLAG_END)
    {
      if (id < 0)
        return code;
      if (id == F_STATS)
        once = p->on;
      else if (id == F_INTERVAL && (every = interval_ms (p->value)) < 0)
        return rt_failf (ctx, "invalid interval: %s", p->value);
    }
  if (rt_args (ctx, p, "events", 1, 1))
    return 1;
  cleanup_error isola_error_t err = NULL;
  struct rt_container c;
  if (rt_load_arg (ctx, p, &c))
    return 1;
  int ret = 0;
  if (rt_status (&c) == RT_STOPPED)
    ret = isola_error_fail (&err, EINVAL, "container with id %s is not running", c.id);
  while (ret == 0)
    {
      ret = print_stats (ctx, &c, &err);
      if (ret < 0 || once)
        break;
      poll (NULL, 0, (int)every);
      if (rt_status (&c) == RT_STOPPED)
        break;
    }
  rt_container_clear (&c);
  return ret < 0 ? rt_fail (ctx, &err) : 0;
}

const struct rt_verb rt_verb_events = { "events", "[command options] <container-id>",
                                        "display container events such as OOM notifications, cpu, memory, and IO "
                                        "usage statistics",
                                        events_flags, verb_events };

/* GET /containers/{id}/stats (Docker's StatsJSON, a sample a second or one: stream=false, one-shot) and POST
   /containers/{id}/update (container/update.h).  The samples are the driver's (driver.h: stats): the container's
   cgroups, or its guest's through its agent; the network counters are its veth's (network/attach.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "container/container.h"
#include "container/update.h"
#include "containers.h"
#include "driver/driver.h"
#include "network/attach.h"
#include "sandbox/cgroup.h"
#include "serve.h"

/* One reading: the container's and the host's CPU time, at a time. */
struct sample
{
  bool ok;
  struct cgroup_stats st;
  uint64_t system_ns; /* the host's CPU time, all CPUs (Docker's system_cpu_usage) */
  struct timespec at;
};

/* /proc/stat's first line, in nanoseconds, as dockerd reads it. */
static uint64_t
host_cpu_ns (void)
{
  FILE *f = fopen ("/proc/stat", "re");
  if (f == NULL)
    return 0;
  unsigned long long v[8] = { 0 };
  int n = fscanf (f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                  &v[7]);
  fclose (f);
  uint64_t ticks = 0;
  for (int i = 0; i < n && i < 8; i++)
    ticks += v[i];
  long hz = sysconf (_SC_CLK_TCK);
  return hz > 0 ? ticks * (1000000000ull / (uint64_t)hz) : 0;
}

static uint64_t
host_memory (void)
{
  long pages = sysconf (_SC_PHYS_PAGES), page = sysconf (_SC_PAGESIZE);
  return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

static void
take_sample (struct container *c, struct sample *s)
{
  *s = (struct sample){ 0 };
  struct timespec at;
  clock_gettime (CLOCK_REALTIME, &at);
  s->ok = container_refresh (c, NULL) == 0 && container_is_running (c) && container_monitor_alive (c)
          && driver_of (c)->stats (c, &s->st, NULL) == 0;
  /* A container that does not run has Docker's empty sample: every member zero, its times Go's zero time. */
  if (!s->ok)
    return;
  s->at = at;
  s->system_ns = host_cpu_ns ();
  if (s->st.memory_limit == 0)
    s->st.memory_limit = host_memory ();
}

static json_t *
time_json (const struct sample *s)
{
  if (s->at.tv_sec == 0)
    return json_string ("0001-01-01T00:00:00Z");
  struct tm tm;
  char date[32];
  gmtime_r (&s->at.tv_sec, &tm);
  strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  return json_sprintf ("%s.%09ldZ", date, s->at.tv_nsec);
}

static json_t *
cpu_json (const struct sample *s)
{
  long cpus = s->ok ? sysconf (_SC_NPROCESSORS_ONLN) : 0;
  json_t *usage = json_pack ("{s:I, s:I, s:I}", "total_usage", (json_int_t)s->st.cpu_ns, "usage_in_kernelmode",
                             (json_int_t)s->st.cpu_system_ns, "usage_in_usermode", (json_int_t)s->st.cpu_user_ns);
  /* dockerd leaves percpu_usage out where the cgroup does not count per CPU (v2), as here. */
  if (s->st.n_percpu > 0)
    {
      json_t *percpu = json_array ();
      for (size_t i = 0; i < s->st.n_percpu; i++)
        json_array_append_new (percpu, json_integer ((json_int_t)s->st.percpu_ns[i]));
      json_object_set_new (usage, "percpu_usage", percpu);
    }
  return json_pack ("{s:o, s:I, s:i, s:{s:i, s:i, s:i}}", "cpu_usage", usage, "system_cpu_usage",
                    (json_int_t)s->system_ns, "online_cpus", (int)cpus, "throttling_data", "periods", 0,
                    "throttled_periods", 0, "throttled_time", 0);
}

static json_t *
blkio_json (const struct sample *s)
{
  json_t *bytes = !s->ok ? json_array ()
                         : json_pack ("[{s:i, s:i, s:s, s:I}, {s:i, s:i, s:s, s:I}]", "major", 0, "minor", 0, "op",
                                      "read", "value", (json_int_t)s->st.read_bytes, "major", 0, "minor", 0, "op",
                                      "write", "value", (json_int_t)s->st.write_bytes);
  /* The lists isola has no figures for are empty, as dockerd's for a device without them. */
  return json_pack ("{s:o, s:[], s:[], s:[], s:[], s:[], s:[], s:[]}", "io_service_bytes_recursive", bytes,
                    "io_serviced_recursive", "io_queue_recursive", "io_service_time_recursive",
                    "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive", "sectors_recursive");
}

/* Docker's types.StatsJSON: this sample and the one before it (precpu_stats, preread). */
static json_t *
stats_json (struct container *c, const struct sample *now, const struct sample *before)
{
  json_t *pids = json_pack ("{s:I}", "current", (json_int_t)now->st.pids);
  json_int_t pids_limit = json_integer_value (json_object_get (container_host_config (c), "PidsLimit"));
  if (now->ok && pids_limit > 0)
    json_object_set_new (pids, "limit", json_integer (pids_limit));
  json_t *memory = now->ok ? json_pack ("{s:I, s:{}, s:I}", "usage", (json_int_t)now->st.memory, "stats", "limit",
                                        (json_int_t)now->st.memory_limit)
                           : json_object ();
  return json_pack ("{s:o, s:o, s:o, s:o, s:i, s:{}, s:o, s:o, s:o, s:s+, s:s, s:o}", "read", time_json (now),
                    "preread", time_json (before), "pids_stats", pids, "blkio_stats", blkio_json (now), "num_procs", 0,
                    "storage_stats", "cpu_stats", cpu_json (now), "precpu_stats", cpu_json (before), "memory_stats",
                    memory, "name", "/", container_name (c), "id", c->id, "networks",
                    now->ok ? network_stats_json (c) : json_object ());
}

struct stats_ctx
{
  struct isola_store *s;
  struct container *c;
  struct MHD_Connection *conn;
  struct sample last;
  bool stream, started;
  char *line;
  size_t len, pos;
};

static void
stats_free (void *cls)
{
  struct stats_ctx *x = cls;
  container_free (x->c);
  store_close (x->s);
  free (x->line);
  free (x);
}

/* Sleeps a second, in steps that notice a client that left; false then. */
static bool
wait_second (struct stats_ctx *x)
{
  for (int i = 0; i < 10; i++)
    {
      if (serve_client_gone (x->conn))
        return false;
      usleep (100 * 1000);
    }
  return true;
}

static ssize_t
stats_read (void *cls, uint64_t pos, char *buf, size_t max)
{
  struct stats_ctx *x = cls;
  if (x->pos >= x->len)
    {
      /* The stream goes on while the container runs; the last line shows it stopped. */
      if (x->started && (!x->stream || !x->last.ok))
        return MHD_CONTENT_READER_END_OF_STREAM;
      if (x->started && !wait_second (x))
        return MHD_CONTENT_READER_END_WITH_ERROR;
      x->started = true;
      struct sample now;
      take_sample (x->c, &now);
      cleanup_json json_t *j = stats_json (x->c, &now, &x->last);
      x->last = now;
      cleanup_free char *text = json_dumps (j, JSON_COMPACT);
      free (x->line);
      x->line = xasprintf ("%s\n", text);
      x->len = strlen (x->line), x->pos = 0;
    }
  return (ssize_t)serve_stream_take (buf, max, x->line, x->len, &x->pos);
}

static enum MHD_Result
stats (struct serve_request *r, struct isola_store *s, struct container *c)
{
  const char *stream = serve_query (r, "stream");
  /* The stream's own store and container: the route's go when this returns. */
  cleanup_error isola_error_t err = NULL;
  struct isola_store *own_s = NULL;
  struct container *own_c = NULL;
  if (store_open (serve_root, STORE_LOCK_NONE, &own_s, &err) < 0 || container_load_any (own_s, c->id, &own_c, &err) < 0)
    {
      store_close (own_s);
      return serve_reply_isola_error (r, err);
    }
  c = own_c;
  struct stats_ctx *x = xcalloc (1, sizeof *x);
  x->conn = r->conn;
  x->stream = stream == NULL || *stream == '\0' || serve_query_bool (r, "stream");
  /* stream=false: two samples a second apart, so that precpu_stats has the first (the CLI's CPU %); one-shot: one. */
  if (!x->stream && !serve_query_bool (r, "one-shot"))
    {
      take_sample (c, &x->last);
      if (x->last.ok)
        usleep (1000 * 1000);
    }
  x->s = own_s, x->c = own_c;
  return serve_reply_stream (r, 200, "application/json", stats_read, x, stats_free);
}

/* --- update ---------------------------------------------------------------------------------------------------- */

/* The members of Docker's UpdateConfig that isola applies; any other with a value is refused. */
static const char *const update_members[]
    = { "Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpusetCpus", "CpusetMems", "PidsLimit" };

static bool
is_unset (json_t *v)
{
  return v == NULL || json_is_null (v) || json_is_false (v) || (json_is_integer (v) && json_integer_value (v) == 0)
         || (json_is_real (v) && json_real_value (v) == 0) || (json_is_string (v) && json_string_length (v) == 0)
         || (json_is_array (v) && json_array_size (v) == 0) || (json_is_object (v) && json_object_size (v) == 0);
}

static const char *
unsupported_member (json_t *body)
{
  const char *key;
  json_t *v;
  json_object_foreach (body, key, v)
  {
    bool known = false;
    for (size_t i = 0; i < ARRAY_SIZE (update_members) && !known; i++)
      known = strcmp (key, update_members[i]) == 0;
    if (known)
      continue;
    if (strcmp (key, "RestartPolicy") == 0)
      {
        const char *name = json_string_value (json_object_get (v, "Name"));
        if (name && *name)
          return key;
        continue;
      }
    if (!is_unset (v))
      return key;
  }
  return NULL;
}

static enum MHD_Result
update (struct serve_request *r, struct isola_store *s, struct container *c)
{
  enum MHD_Result reply;
  cleanup_json json_t *body = serve_body_json (r, &reply);
  if (body == NULL)
    return reply;
  const char *bad = unsupported_member (body);
  if (bad)
    return serve_reply_error (r, 400, "isola update does not support %s", bad);
  cleanup_error isola_error_t err = NULL;
  if (container_update (c, body, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_json (r, 200, json_pack ("{s:[]}", "Warnings"));
}

static const struct serve_container_route routes[] = {
  { "GET", "/containers/*/stats", stats },
  { "POST", "/containers/*/update", update },
};

enum MHD_Result
serve_stats (struct serve_request *r)
{
  return serve_container_routes (r, routes, ARRAY_SIZE (routes));
}

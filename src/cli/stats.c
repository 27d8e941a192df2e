/* `isola stats`: Docker's live table of the containers' resource usage (or one sample with --no-stream), read from
   their cgroups by their drivers (a VM container's from its guest, through its agent).  CPU % is the CPU time used
   between two samples over the time between them, as the docker CLI computes it; NET I/O is 0B / 0B while isola
   has no networks. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "driver/driver.h"
#include "sandbox/cgroup.h"

struct stats_opts
{
  bool no_stream, all, no_trunc;
  const char *format;
  char **names; /* as given: each is shown as Container */
  int n_names;
};

/* One container across samples. */
struct sampled
{
  struct container *c;
  char *shown; /* Docker's .Container: the name or ID given, else the short ID */
  bool ok;
  struct cgroup_stats st;
  long long at_ns;
  double cpu_percent;
};

static long long
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t
host_memory (void)
{
  long pages = sysconf (_SC_PHYS_PAGES), page = sysconf (_SC_PAGESIZE);
  return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

static void
sample (struct sampled *s)
{
  struct cgroup_stats st;
  long long at = now_ns ();
  bool ok
      = container_is_running (s->c) && container_monitor_alive (s->c) && driver_of (s->c)->stats (s->c, &st, NULL) == 0;
  if (ok && s->ok && at > s->at_ns)
    s->cpu_percent
        = st.cpu_ns >= s->st.cpu_ns ? (double)(st.cpu_ns - s->st.cpu_ns) * 100.0 / (double)(at - s->at_ns) : 0;
  else
    s->cpu_percent = 0;
  if (ok && st.memory_limit == 0)
    st.memory_limit = host_memory ();
  s->ok = ok;
  s->st = ok ? st : (struct cgroup_stats){ 0 };
  s->at_ns = at;
}

/* A row as Docker's {{json .}} has it: its fields sorted by name. */
static json_t *
stats_row (const struct sampled *s, bool no_trunc)
{
  char cpu[32], mem_perc[32], pids[32];
  snprintf (cpu, sizeof cpu, "%.2f%%", s->cpu_percent);
  double mp = s->st.memory_limit ? (double)s->st.memory * 100.0 / (double)s->st.memory_limit : 0;
  snprintf (mem_perc, sizeof mem_perc, "%.2f%%", mp);
  snprintf (pids, sizeof pids, "%llu", (unsigned long long)s->st.pids);
  cleanup_free char *used = binary_size (s->st.memory), *limit = binary_size (s->st.memory_limit);
  cleanup_free char *rd = human_size ((int64_t)s->st.read_bytes), *wr = human_size ((int64_t)s->st.write_bytes);
  cleanup_free char *mem = xasprintf ("%s / %s", used, limit);
  cleanup_free char *blk = xasprintf ("%s / %s", rd, wr);
  return json_pack ("{s:s, s:s, s:s, s:s%, s:s, s:s, s:s, s:s, s:s}", "BlockIO", blk, "CPUPerc", cpu, "Container",
                    s->shown, "ID", s->c->id, (size_t)(no_trunc ? 64 : 12), "MemPerc", mem_perc, "MemUsage", mem,
                    "Name", container_name (s->c), "NetIO", "0B / 0B", "PIDs", pids);
}

static int
print_samples (struct sampled *list, size_t n, const struct stats_opts *o, isola_error_t *err)
{
  cleanup_json json_t *rows = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (rows, stats_row (&list[i], o->no_trunc));
  if (!cli_format_is_default (o->format))
    {
      cleanup_json json_t *headers
          = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Container", "CONTAINER", "ID", "CONTAINER ID",
                       "Name", "NAME", "CPUPerc", "CPU %", "MemUsage", "MEM USAGE / LIMIT", "MemPerc", "MEM %", "NetIO",
                       "NET I/O", "BlockIO", "BLOCK I/O", "PIDs", "PIDS");
      return cli_print_listing (o->format, rows, headers, err);
    }
  static const char *const keys[] = { "ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs" };
  struct table *t = table_new ();
  table_add (
      t,
      (const char *[]){ "CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS" },
      8);
  for (size_t i = 0; i < n; i++)
    {
      const char *cells[ARRAY_SIZE (keys)];
      for (size_t k = 0; k < ARRAY_SIZE (keys); k++)
        cells[k] = json_string_value (json_object_get (json_array_get (rows, i), keys[k]));
      table_add (t, cells, (int)ARRAY_SIZE (keys));
    }
  table_print (t);
  table_free (t);
  return 0;
}

static void
samples_free (struct sampled *list, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      container_free (list[i].c);
      free (list[i].shown);
    }
  free (list);
}

/* The containers named (each must exist), or the running ones (every one with --all), oldest first as Docker. */
static int
collect (struct cli_ctx *ctx, const struct stats_opts *o, struct sampled **out, size_t *n_out)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *store = NULL;
  cleanup_strv char **ids = NULL;
  if (store_open (ctx->root, STORE_LOCK_NONE, &store, &err) < 0)
    return cli_fail (&err);
  if (o->n_names == 0 && container_list_ids (store, &ids, &err) < 0)
    return cli_fail (&err);
  size_t max = o->n_names ? (size_t)o->n_names : strv_len (ids);
  struct sampled *list = xcalloc (max + 1, sizeof *list);
  size_t n = 0;
  for (size_t i = 0; i < max; i++)
    {
      struct container *c = NULL;
      char id[DIGEST_HEX_LEN + 1];
      if (o->n_names && container_resolve (store, o->names[i], id, &err) < 0)
        {
          samples_free (list, n);
          return cli_fail (&err);
        }
      if (container_load (store, o->n_names ? id : ids[i], &c, NULL) < 0)
        continue;
      (void)container_refresh (c, NULL);
      if (!o->n_names && !o->all && !container_is_running (c))
        {
          container_free (c);
          continue;
        }
      list[n].c = c;
      list[n++].shown = o->n_names ? xstrdup (o->names[i]) : xasprintf ("%.12s", c->id);
    }
  *out = list;
  *n_out = n;
  return 0;
}

static void
nap_ms (long ms)
{
  struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep (&t, NULL);
}

static int
show_stats (struct cli_ctx *ctx, const struct stats_opts *o)
{
  cleanup_error isola_error_t err = NULL;
  struct sampled *list = NULL;
  size_t n = 0;
  int ret = collect (ctx, o, &list, &n);
  if (ret != 0)
    return ret;
  for (size_t i = 0; i < n; i++)
    sample (&list[i]);
  if (o->no_stream)
    {
      /* CPU % needs a second sample. */
      nap_ms (500);
      for (size_t i = 0; i < n; i++)
        sample (&list[i]);
      ret = print_samples (list, n, o, &err) < 0 ? cli_fail (&err) : 0;
      samples_free (list, n);
      return ret;
    }
  /* Live: Docker's redraw, once a second, of the containers named, or of those running now (all with --all). */
  for (;;)
    {
      nap_ms (1000);
      struct sampled *fresh = NULL;
      size_t m = 0;
      if ((ret = collect (ctx, o, &fresh, &m)) != 0)
        break;
      for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
          if (strcmp (fresh[i].c->id, list[j].c->id) == 0)
            fresh[i].ok = list[j].ok, fresh[i].st = list[j].st, fresh[i].at_ns = list[j].at_ns;
      samples_free (list, n);
      list = fresh, n = m;
      for (size_t i = 0; i < n; i++)
        sample (&list[i]);
      printf ("\033[2J\033[H");
      if (print_samples (list, n, o, &err) < 0)
        {
          ret = cli_fail (&err);
          break;
        }
      fflush (stdout);
    }
  samples_free (list, n);
  return ret;
}

static int
run_stats (struct cli_ctx *ctx, int argc, char **argv)
{
  struct stats_opts o = { 0 };
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_stats, argc, argv);
  while ((c = cli_flag_next (&cmd_stats, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'a':
        o.all = p.on;
        break;
      case 'S':
        o.no_stream = p.on;
        break;
      case 'T':
        o.no_trunc = p.on;
        break;
      case 'F':
        o.format = p.value;
        break;
      }
  if (c < 0)
    return exit_code;
  o.names = p.args;
  o.n_names = p.nargs;
  return show_stats (ctx, &o);
}

const struct cli_command cmd_stats = {
  .name = "stats",
  .run = run_stats,
  .usage = "isola stats [OPTIONS] [CONTAINER...]",
  .summary = "Display a live stream of container(s) resource usage statistics",
  .flags = (const struct flag_def[]){
      { "all", 'a', 'a', NULL, "Show all containers (default shows just running)" },
      { "format", 0, 'F', "string", "Pretty-print using a Go template: 'table TEMPLATE', 'json' or TEMPLATE" },
      { "no-stream", 0, 'S', NULL, "Disable streaming stats and only pull the first result" },
      { "no-trunc", 0, 'T', NULL, "Do not truncate output" },
      { 0 },
  },
};

/* `isola update`: new resource limits for containers, as Docker's (container/update.h).  The flags become the body
   of Docker's `POST /containers/ID/update`, which the library merges and checks. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/update.h"
#include "sandbox/cgroup.h"

enum
{
  OPT_CPUS = 1000,
  OPT_MEMORY_SWAP,
  OPT_MEMORY_RESERVATION,
  OPT_CPUSET_CPUS,
  OPT_CPUSET_MEMS,
  OPT_PIDS_LIMIT,
};

/* One flag's member of the body; 0, or the exit code of a value that does not parse. */
static int
update_flag (const struct flag_parser *p, int c, json_t *body)
{
  const char *arg = p->value;
  char *end;
  int64_t v;
  switch (c)
    {
    case 'm':
    case OPT_MEMORY_RESERVATION:
      if ((v = parse_memory_bytes (arg)) < 0)
        return cli_flag_invalid (&cmd_update, p, "invalid size");
      json_object_set_new (body, c == 'm' ? "Memory" : "MemoryReservation", json_integer (v));
      return 0;
    case OPT_MEMORY_SWAP:
      v = strcmp (arg, "-1") == 0 ? -1 : parse_memory_bytes (arg);
      if (v < 0 && strcmp (arg, "-1") != 0)
        return cli_flag_invalid (&cmd_update, p, "invalid size");
      json_object_set_new (body, "MemorySwap", json_integer (v));
      return 0;
    case OPT_CPUS:
      if ((v = parse_nano_cpus (arg)) < 0)
        return cli_flag_invalid (&cmd_update, p, NULL);
      json_object_set_new (body, "NanoCpus", json_integer (v));
      return 0;
    case 'c':
    case OPT_PIDS_LIMIT:
      v = strtoll (arg, &end, 10);
      if (*end || end == arg)
        return cli_flag_invalid (&cmd_update, p, NULL);
      json_object_set_new (body, c == 'c' ? "CpuShares" : "PidsLimit", json_integer (v));
      return 0;
    case OPT_CPUSET_CPUS:
    case OPT_CPUSET_MEMS:
      json_object_set_new (body, c == OPT_CPUSET_CPUS ? "CpusetCpus" : "CpusetMems", json_string (arg));
      return 0;
    }
  return EXIT_USAGE;
}

static int
update_one (struct isola_store *s, struct container *c, void *arg, isola_error_t *err)
{
  (void)s;
  return container_update (c, arg, err);
}

static int
run_update (struct cli_ctx *ctx, int argc, char **argv)
{
  struct flag_parser p;
  int c, exit_code = 0;
  cleanup_json json_t *body = json_object ();
  cli_flags_init (&p, &cmd_update, argc, argv);
  while ((c = cli_flag_next (&cmd_update, &p, &exit_code)) > 0)
    if ((exit_code = update_flag (&p, c, body)) != 0)
      return exit_code;
  if (c < 0)
    return exit_code;
  if (p.nargs < 1)
    return cli_usage_error (&cmd_update, "\"isola update\" requires at least 1 argument.");
  if (json_object_size (body) == 0)
    {
      fprintf (stderr, "Error: you must provide one or more flags when using this command\n");
      return EXIT_CMD_FAILED;
    }
  return cli_each_container (ctx, p.args, p.nargs, update_one, body, true);
}

const struct cli_command cmd_update = {
  .name = "update",
  .run = run_update,
  .usage = "isola update [OPTIONS] CONTAINER [CONTAINER...]",
  .summary = "Update configuration of one or more containers",
  .flags = (const struct flag_def[]){
      { "cpu-shares", 'c', 'c', "int", "CPU shares (relative weight)" },
      { "cpus", 0, OPT_CPUS, "decimal", "Number of CPUs" },
      { "cpuset-cpus", 0, OPT_CPUSET_CPUS, "string", "CPUs in which to allow execution (0-3, 0,1)" },
      { "cpuset-mems", 0, OPT_CPUSET_MEMS, "string", "MEMs in which to allow execution (0-3, 0,1)" },
      { "memory", 'm', 'm', "bytes", "Memory limit (a VM container's at most its VM's memory while it runs)" },
      { "memory-reservation", 0, OPT_MEMORY_RESERVATION, "bytes", "Memory soft limit" },
      { "memory-swap", 0, OPT_MEMORY_SWAP, "bytes",
        "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" },
      { "pids-limit", 0, OPT_PIDS_LIMIT, "int", "Tune container pids limit (set -1 for unlimited)" },
      { 0 },
  },
};

#define _GNU_SOURCE
#include <stdio.h>

#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/lifecycle.h"
#include "container/restart.h"

/* --all: what dockerd does when it starts (after a reboot): every stopped container whose restart policy says it
   should be running runs again, detached: always, and unless-stopped unless a user stopped it.  A boot unit calls it
   (contrib/isola-restart.service).  Prints the name of each container started. */
static int
start_all (struct cli_ctx *ctx)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *store = NULL;
  cleanup_strv char **ids = NULL;
  if (store_open (ctx->root, STORE_LOCK_NONE, &store, &err) < 0 || container_list_ids (store, &ids, &err) < 0)
    return cli_fail (&err);
  int exit_code = 0;
  for (size_t i = 0; ids[i]; i++)
    {
      cleanup_container struct container *c = NULL;
      /* A container that was running when the host went down has a dead monitor: refresh records its end. */
      if (container_load (store, ids[i], &c, NULL) < 0 || container_refresh (c, NULL) < 0 || container_is_running (c))
        continue;
      struct restart_policy policy = restart_policy_of (c);
      if (!restart_at_boot (&policy, container_manual_stop (c)))
        continue;
      if (cli_start_container (ctx, c, NULL) != 0)
        exit_code = 1;
      else
        printf ("%s\n", container_name (c));
    }
  return exit_code;
}

static int
run_start (struct cli_ctx *ctx, int argc, char **argv)
{
  bool attach = false, interactive = false, all = false;
  const char *detach_keys = NULL;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_start, argc, argv);
  while ((c = cli_flag_next (&cmd_start, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'a':
        attach = p.on;
        break;
      case 'i':
        interactive = p.on;
        break;
      case 'k':
        detach_keys = p.value;
        break;
      case 'A':
        all = p.on;
        break;
      }
  if (c < 0)
    return exit_code;
  if (all && (p.nargs > 0 || attach || interactive))
    return cli_usage_error (&cmd_start, "--all starts every container its restart policy asks for: it takes no "
                                        "container and no --attach or --interactive");
  if (all)
    return start_all (ctx);
  if (p.nargs < 1)
    return cli_usage_error (&cmd_start, "\"isola start\" requires at least 1 argument.");
  if (attach && p.nargs > 1)
    return cli_usage_error (&cmd_start, "you cannot start and attach multiple containers at once");
  for (int i = 0; i < p.nargs; i++)
    {
      cleanup_store struct isola_store *store = NULL;
      cleanup_container struct container *ctr = NULL;
      if (cli_load_container (ctx, p.args[i], &store, &ctr))
        {
          exit_code = 1;
          continue;
        }
      if (container_is_running (ctr))
        {
          if (!attach)
            printf ("%s\n", p.args[i]);
          continue;
        }
      /* As Docker's start: every stream, and our signals forwarded unless the container has a terminal. */
      struct cli_attach_opts o = { .tty = container_tty (ctr),
                                   .stdin = interactive && container_open_stdin (ctr),
                                   .stdout = true,
                                   .stderr = true,
                                   .proxy_signals = !container_tty (ctr) };
      if ((attach || interactive) && cli_detach_keys (ctx, detach_keys, &o))
        return 1;
      int code = cli_start_container (ctx, ctr, attach || interactive ? &o : NULL);
      if (attach || interactive)
        return code;
      if (code != 0)
        exit_code = 1;
      else
        printf ("%s\n", p.args[i]);
    }
  return exit_code;
}

const struct cli_command cmd_start = {
  .name = "start",
  .run = run_start,
  .usage = "isola start [OPTIONS] CONTAINER [CONTAINER...]",
  .summary = "Start one or more stopped containers",
  .flags = (const struct flag_def[]){
      { "all", 0, 'A', NULL, "Start every stopped container whose restart policy runs it after a reboot (always, and\n"
        "unless-stopped unless stopped by the user), as dockerd does when it starts" },
      { "attach", 'a', 'a', NULL, "Attach STDOUT/STDERR and forward signals" },
      { "detach-keys", 0, 'k', "string", "Override the key sequence for detaching a container" },
      { "interactive", 'i', 'i', NULL, "Attach container's STDIN" },
      { 0 },
  },
};

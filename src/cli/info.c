/* `isola info`: Docker's `docker info` (driver/info.h); `--format` renders the same object as JSON or a template. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "base/gotemplate.h"
#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "driver/info.h"
#include "store/store.h"

static const struct flag_def info_flags[] = {
  { "format", 'f', 'f', "string", "Format the output using the given Go template" },
  { 0 },
};

static const char *
str (json_t *info, const char *key)
{
  const char *v = json_string_value (json_object_get (info, key));
  return v ? v : "";
}

static long long
num (json_t *info, const char *key)
{
  return (long long)json_integer_value (json_object_get (info, key));
}

static void
print_info (json_t *info)
{
  printf ("Client:\n Context:    default\n Debug Mode: false\n\nServer:\n");
  printf (" Containers: %lld\n  Running: %lld\n  Paused: %lld\n  Stopped: %lld\n", num (info, "Containers"),
          num (info, "ContainersRunning"), num (info, "ContainersPaused"), num (info, "ContainersStopped"));
  printf (" Images: %lld\n", num (info, "Images"));
  printf (" Server Version: %s\n", str (info, "ServerVersion"));
  printf (" Storage Driver: %s\n", str (info, "Driver"));
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (info, "DriverStatus"), i, v)
      printf ("  %s: %s\n", json_string_value (json_array_get (v, 0)), json_string_value (json_array_get (v, 1)));
  printf (" Logging Driver: %s\n", str (info, "LoggingDriver"));
  printf (" Cgroup Driver: %s\n", str (info, "CgroupDriver"));
  printf (" Cgroup Version: %s\n", str (info, "CgroupVersion"));
  printf (" Isolation:");
  json_array_foreach (json_object_get (info, "Isolations"), i, v)
  {
    const char *name = json_string_value (json_object_get (v, "Name"));
    const char *reason = json_string_value (json_object_get (v, "Reason"));
    bool dflt = strcmp (name, str (info, "DefaultIsolation")) == 0;
    printf ("%s %s%s", i ? "," : "", name, dflt ? " (default)" : "");
    if (!json_is_true (json_object_get (v, "Available")))
      printf (" (not available: %s)", reason ? reason : "");
  }
  printf ("\n");
  if (str (info, "VMAccelerator")[0])
    printf (" VM Accelerator: %s (%s)\n", str (info, "VMAccelerator"), str (info, "VMAcceleratorReason"));
  printf (" Kernel Version: %s\n", str (info, "KernelVersion"));
  printf (" Operating System: %s\n", str (info, "OperatingSystem"));
  printf (" OSType: %s\n", str (info, "OSType"));
  printf (" Architecture: %s\n", str (info, "Architecture"));
  printf (" CPUs: %lld\n", num (info, "NCPU"));
  cleanup_free char *mem = binary_size ((uint64_t)num (info, "MemTotal"));
  printf (" Total Memory: %s\n", mem);
  printf (" Name: %s\n", str (info, "Name"));
  printf (" Docker Root Dir: %s\n", str (info, "DockerRootDir"));
  printf (" Debug Mode: false\n Experimental: false\n Live Restore Enabled: false\n\n");
}

static int
run_info (struct cli_ctx *ctx, int argc, char **argv)
{
  const struct cli_command *cmd = &cmd_info;
  const char *format = NULL;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, cmd, argc, argv);
  while ((c = cli_flag_next (cmd, &p, &exit_code)) > 0)
    if (c == 'f')
      format = p.value;
  if (c < 0)
    return exit_code;
  if (p.nargs != 0)
    return cli_usage_error (cmd, "\"isola info\" accepts no arguments.");
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *store = NULL;
  cleanup_json json_t *info = NULL;
  if (store_open (ctx->root, STORE_LOCK_SHARED, &store, &err) < 0 || engine_info_json (store, &info, &err) < 0)
    return cli_fail (&err);
  if (format == NULL || format[0] == '\0')
    {
      print_info (info);
      return 0;
    }
  cleanup_free char *text = NULL;
  if (strcmp (format, "json") == 0)
    text = json_dumps (info, JSON_COMPACT);
  else if (gotemplate_render (format, info, NULL, &text, &err) < 0)
    return cli_fail (&err);
  printf ("%s\n", text);
  return 0;
}

const struct cli_command cmd_info = {
  .name = "info",
  .run = run_info,
  .usage = "isola info [OPTIONS]",
  .summary = "Display system-wide information",
  .flags = info_flags,
};

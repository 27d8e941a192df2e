/* `isola create` and `isola run`: Docker's flags mapped onto the body of Docker's `POST /containers/create`, as the
   docker CLI does before it posts it; the library checks that request and makes the container
   (container/create.h), so these commands and the API server refuse the same requests with the same errors.  Only
   a flag's syntax is checked here. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/create.h"
#include "container/lifecycle.h"
#include "container/runspec.h"
#include "proto/attach.h"
#include "sandbox/cgroup.h"
#include "sandbox/seccomp_program.h"

enum
{
  OPT_RM = 1000,
  OPT_NAME,
  OPT_ENV_FILE,
  OPT_ENTRYPOINT,
  OPT_ISOLATION,
  OPT_CPUS,
  OPT_PIDS_LIMIT,
  OPT_READ_ONLY,
  OPT_CAP_ADD,
  OPT_CAP_DROP,
  OPT_PRIVILEGED,
  OPT_SECURITY_OPT,
  OPT_TMPFS,
  OPT_NETWORK,
  OPT_INIT,
  OPT_STOP_SIGNAL,
  OPT_STOP_TIMEOUT,
  OPT_ULIMIT,
  OPT_MOUNT,
  OPT_HELP,
};

static const struct option run_longopts[] = {
  { "detach", no_argument, NULL, 'd' },
  { "interactive", no_argument, NULL, 'i' },
  { "tty", no_argument, NULL, 't' },
  { "rm", no_argument, NULL, OPT_RM },
  { "name", required_argument, NULL, OPT_NAME },
  { "env", required_argument, NULL, 'e' },
  { "env-file", required_argument, NULL, OPT_ENV_FILE },
  { "workdir", required_argument, NULL, 'w' },
  { "user", required_argument, NULL, 'u' },
  { "hostname", required_argument, NULL, 'h' },
  { "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
  { "isolation", required_argument, NULL, OPT_ISOLATION },
  { "memory", required_argument, NULL, 'm' },
  { "cpus", required_argument, NULL, OPT_CPUS },
  { "pids-limit", required_argument, NULL, OPT_PIDS_LIMIT },
  { "read-only", no_argument, NULL, OPT_READ_ONLY },
  { "cap-add", required_argument, NULL, OPT_CAP_ADD },
  { "cap-drop", required_argument, NULL, OPT_CAP_DROP },
  { "privileged", no_argument, NULL, OPT_PRIVILEGED },
  { "security-opt", required_argument, NULL, OPT_SECURITY_OPT },
  { "volume", required_argument, NULL, 'v' },
  { "tmpfs", required_argument, NULL, OPT_TMPFS },
  { "mount", required_argument, NULL, OPT_MOUNT },
  { "network", required_argument, NULL, OPT_NETWORK },
  { "net", required_argument, NULL, OPT_NETWORK },
  { "init", no_argument, NULL, OPT_INIT },
  { "stop-signal", required_argument, NULL, OPT_STOP_SIGNAL },
  { "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
  { "ulimit", required_argument, NULL, OPT_ULIMIT },
  { "label", required_argument, NULL, 'l' },
  { "help", no_argument, NULL, OPT_HELP },
  { NULL, 0, NULL, 0 },
};

struct run_opts
{
  bool detach, interactive, tty;
  const char *name; /* Docker's ?name= */
  json_t *request;  /* the create body: Config's members, and HostConfig */
  json_t *host;     /* its HostConfig */
  char **env;       /* -e / --env-file entries */
};

static void
run_opts_init (struct run_opts *o)
{
  memset (o, 0, sizeof (*o));
  o->request = json_object ();
  o->host = json_object ();
  o->env = xcalloc (1, sizeof (char *));
  json_object_set (o->request, "HostConfig", o->host);
}

static void
run_opts_clear (struct run_opts *o)
{
  json_decref (o->request);
  json_decref (o->host);
  strv_free (o->env);
}

static json_t *
array_member (json_t *o, const char *key)
{
  json_t *a = json_object_get (o, key);
  if (!json_is_array (a))
    {
      a = json_array ();
      json_object_set_new (o, key, a);
    }
  return a;
}

/* "KEY=VALUE" (or "KEY") into the object o[member]: --label, and --tmpfs with ':' between path and options. */
static void
map_member_set (json_t *o, const char *member, const char *flag, char separator)
{
  json_t *map = json_object_get (o, member);
  if (!json_is_object (map))
    json_object_set_new (o, member, map = json_object ());
  cleanup_free char *key = xstrdup (flag);
  char *value = strchr (key, separator);
  if (value)
    *value++ = '\0';
  json_object_set_new (map, key, json_string (value ? value : ""));
}

/* The docker CLI reads a seccomp profile file and sends its content, so the container does not depend on the file
   later; other options go as given, for the library to judge. */
static int
security_opt (const char *opt, json_t **out, isola_error_t *err)
{
  bool seccomp = str_has_prefix (opt, "seccomp=") || str_has_prefix (opt, "seccomp:");
  const char *value = seccomp ? opt + 8 : NULL;
  if (!seccomp || strcmp (value, "unconfined") == 0 || strcmp (value, "builtin") == 0)
    {
      *out = json_string (opt);
      return 0;
    }
  cleanup_free char *profile = NULL;
  int ret = read_file_bounded (value, SECCOMP_PROFILE_MAX, &profile, NULL, err);
  if (ret < 0)
    return ret;
  *out = json_sprintf ("seccomp=%s", profile);
  return 0;
}

/* Flags with a number: -m, --cpus, --pids-limit, --stop-timeout. */
static int
numeric_flag (const struct cli_command *cmd, int c, const char *arg, struct run_opts *o)
{
  char *end;
  switch (c)
    {
    case 'm':
      {
        int64_t bytes = parse_memory_bytes (arg);
        if (bytes < 0)
          return cli_usage_error (cmd, "invalid argument \"%s\" for \"-m, --memory\" flag: invalid size", arg);
        json_object_set_new (o->host, "Memory", json_integer (bytes));
        return 0;
      }
    case OPT_CPUS:
      {
        int64_t nano = parse_nano_cpus (arg);
        if (nano < 0)
          return cli_usage_error (cmd, "invalid argument \"%s\" for \"--cpus\" flag", arg);
        json_object_set_new (o->host, "NanoCpus", json_integer (nano));
        return 0;
      }
    case OPT_PIDS_LIMIT:
      {
        long long n = strtoll (arg, &end, 10);
        if (*end || end == arg)
          return cli_usage_error (cmd, "invalid argument \"%s\" for \"--pids-limit\" flag", arg);
        json_object_set_new (o->host, "PidsLimit", json_integer (n));
        return 0;
      }
    case OPT_STOP_TIMEOUT:
      {
        long t = strtol (arg, &end, 10);
        if (*end || end == arg)
          return cli_usage_error (cmd, "invalid argument \"%s\" for \"--stop-timeout\" flag", arg);
        json_object_set_new (o->request, "StopTimeout", json_integer (t));
        return 0;
      }
    }
  return EXIT_USAGE;
}

/* Flags that take a list or a map: repeated, each adds an entry. */
static int
list_flag (const struct cli_command *cmd, int c, const char *arg, struct run_opts *o)
{
  cleanup_error isola_error_t err = NULL;
  json_t *entry = NULL;
  switch (c)
    {
    case OPT_CAP_ADD:
      json_array_append_new (array_member (o->host, "CapAdd"), json_string (arg));
      return 0;
    case OPT_CAP_DROP:
      json_array_append_new (array_member (o->host, "CapDrop"), json_string (arg));
      return 0;
    case 'v':
      /* As the docker CLI: a path alone is an anonymous volume (Config.Volumes), anything else a bind. */
      if (strchr (arg, ':') == NULL)
        {
          json_t *volumes = json_object_get (o->request, "Volumes");
          if (!json_is_object (volumes))
            json_object_set_new (o->request, "Volumes", volumes = json_object ());
          json_object_set_new (volumes, arg, json_object ());
        }
      else
        json_array_append_new (array_member (o->host, "Binds"), json_string (arg));
      return 0;
    case OPT_MOUNT:
      if (runspec_mount_flag_json (arg, &entry, &err) < 0)
        return cli_usage_error (cmd, "invalid argument \"%s\" for \"--mount\" flag: %s", arg, err->msg);
      json_array_append_new (array_member (o->host, "Mounts"), entry);
      return 0;
    case OPT_TMPFS:
      map_member_set (o->host, "Tmpfs", arg, ':');
      return 0;
    case 'l':
      map_member_set (o->request, "Labels", arg, '=');
      return 0;
    case OPT_SECURITY_OPT:
      if (security_opt (arg, &entry, &err) < 0)
        return cli_usage_error (cmd, "invalid --security-opt: %s", err->msg);
      json_array_append_new (array_member (o->host, "SecurityOpt"), entry);
      return 0;
    case OPT_ULIMIT:
      if (runspec_ulimit_from_flag (arg, &entry, &err) < 0)
        return cli_usage_error (cmd, "invalid argument \"%s\" for \"--ulimit\" flag: %s", arg, err->msg);
      json_array_append_new (array_member (o->host, "Ulimits"), entry);
      return 0;
    }
  return EXIT_USAGE;
}

/* Flags that set one member of the body: to their argument, or to true for a switch. */
static const struct
{
  int flag;
  bool host_config; /* a member of HostConfig, else of Config */
  bool is_switch;
  const char *member;
} member_flags[] = {
  { 'w', false, false, "WorkingDir" },
  { 'u', false, false, "User" },
  { 'h', false, false, "Hostname" },
  { OPT_STOP_SIGNAL, false, false, "StopSignal" },
  { OPT_ISOLATION, true, false, "Isolation" },
  { OPT_NETWORK, true, false, "NetworkMode" },
  { OPT_RM, true, true, "AutoRemove" },
  { OPT_INIT, true, true, "Init" },
  { OPT_READ_ONLY, true, true, "ReadonlyRootfs" },
  { OPT_PRIVILEGED, true, true, "Privileged" },
};

/* Each flag's member of the create body; returns 0, or the exit code of a flag that does not parse. */
static int
run_flag (const struct cli_command *cmd, int c, const char *arg, struct run_opts *o)
{
  cleanup_error isola_error_t err = NULL;
  for (size_t i = 0; i < ARRAY_SIZE (member_flags); i++)
    if (member_flags[i].flag == c)
      {
        json_t *value = member_flags[i].is_switch ? json_true () : json_string (arg);
        json_object_set_new (member_flags[i].host_config ? o->host : o->request, member_flags[i].member, value);
        return 0;
      }
  switch (c)
    {
    case 'd':
      o->detach = true;
      return 0;
    case 'i':
      o->interactive = true;
      return 0;
    case 't':
      o->tty = true;
      return 0;
    case OPT_NAME:
      o->name = arg;
      return 0;
    case 'e':
      cli_env_add (&o->env, arg);
      return 0;
    case OPT_ENV_FILE:
      if (cli_env_file_add (&o->env, arg, &err) < 0)
        return cli_fail (&err), EXIT_USAGE;
      return 0;
    case OPT_ENTRYPOINT:
      /* `--entrypoint ""` is [""]: no entrypoint, and not the image's command either. */
      json_object_set_new (o->request, "Entrypoint", json_pack ("[s]", arg));
      return 0;
    case 'm':
    case OPT_CPUS:
    case OPT_PIDS_LIMIT:
    case OPT_STOP_TIMEOUT:
      return numeric_flag (cmd, c, arg, o);
    default:
      return list_flag (cmd, c, arg, o);
    }
}

/* Returns 0, -1 after --help, or the exit code of a bad flag. */
static int
parse_run_flags (const struct cli_command *cmd, int argc, char **argv, struct run_opts *o, struct cli_ctx *ctx)
{
  int c, exit_code = 0;
  optind = 0;
  while ((c = cli_getopt (ctx, cmd, argc, argv, "+dite:w:u:h:m:v:l:", run_longopts, &exit_code)) != -1)
    {
      if (c == CLI_OPT_HELP || c == '?')
        return c == CLI_OPT_HELP ? -1 : exit_code;
      int ret = run_flag (cmd, c, optarg, o);
      if (ret != 0)
        return ret;
    }
  return 0;
}

/* The rest of the body: the image and command from the arguments, and what the flags left to the end. */
static void
finish_request (struct run_opts *o, const char *image, char **args)
{
  json_object_set_new (o->request, "Image", json_string (image));
  if (args[0])
    {
      json_t *cmd = json_array ();
      for (size_t i = 0; args[i]; i++)
        json_array_append_new (cmd, json_string (args[i]));
      json_object_set_new (o->request, "Cmd", cmd);
    }
  json_t *env = json_array ();
  for (size_t i = 0; o->env[i]; i++)
    json_array_append_new (env, json_string (o->env[i]));
  json_object_set_new (o->request, "Env", env);
  json_object_set_new (o->request, "Tty", json_boolean (o->tty));
  json_object_set_new (o->request, "OpenStdin", json_boolean (o->interactive));
}

/* --- starting and attaching --------------------------------------------------------------------------------- */

int
cli_start_container (struct cli_ctx *ctx, struct container *c, bool attach, bool attach_stdin)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *store = NULL;
  if (store_open (ctx->root, STORE_LOCK_NONE, &store, &err) < 0)
    {
      cli_fail (&err);
      return 125;
    }
  struct attach_decoder dec;
  attach_decoder_init (&dec);
  int fd = -1, code = 0;
  struct winsize ws;
  (void)cli_window_size (&ws);
  unsigned short size[2] = { ws.ws_row, ws.ws_col };
  if (container_start (store, c, attach ? &fd : NULL, &dec, size, &code, &err) < 0)
    {
      fprintf (stderr, "Error: failed to start container %.12s: %s\n", c->id, err->msg);
      attach_decoder_clear (&dec);
      return code;
    }
  trace_mark ("cli: started");
  if (attach)
    {
      struct cli_attach_opts o = { .tty = container_tty (c), .stdin = attach_stdin && container_open_stdin (c) };
      o.proxy_signals = !o.tty;
      code = cli_attach_loop (fd, &dec, &o);
      trace_mark ("cli: exit code received");
      close (fd);
    }
  attach_decoder_clear (&dec);
  return code;
}

static int
run_or_create (struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv, bool start)
{
  struct run_opts o;
  run_opts_init (&o);
  int ret = parse_run_flags (cmd, argc, argv, &o, ctx);
  if (ret == 0 && optind >= argc)
    ret = cli_usage_error (cmd, "\"%s\" requires at least 1 argument.", start ? "isola run" : "isola create");
  if (ret == 0 && start && o.interactive && o.tty && !o.detach && !isatty (STDIN_FILENO))
    {
      fprintf (stderr, "Error: the input device is not a TTY\n");
      ret = 1;
    }
  if (ret != 0)
    {
      run_opts_clear (&o);
      return ret < 0 ? 0 : ret;
    }
  bool detach = start && o.detach;
  finish_request (&o, argv[optind], argv + optind + 1);
  cleanup_error isola_error_t err = NULL;
  cleanup_container struct container *c = NULL;
  ret = container_create_from_request (ctx->root, o.request, o.name, &c, &err);
  trace_mark ("cli: created");
  run_opts_clear (&o);
  if (ret < 0)
    {
      fprintf (stderr, "Error: %s\n", err ? err->msg : "cannot create the container");
      return 125;
    }
  if (!start)
    {
      printf ("%s\n", c->id);
      return 0;
    }
  int code = cli_start_container (ctx, c, !detach, o.interactive);
  if (code == 0 && detach)
    printf ("%s\n", c->id);
  return code;
}

static int
run_create (struct cli_ctx *ctx, int argc, char **argv)
{
  return run_or_create (ctx, &cmd_create, argc, argv, false);
}

static int
run_run (struct cli_ctx *ctx, int argc, char **argv)
{
  return run_or_create (ctx, &cmd_run, argc, argv, true);
}

#define RUN_OPTIONS                                                                                                    \
  "      --cap-add list             Add Linux capabilities\n"                                                          \
  "      --cap-drop list            Drop Linux capabilities\n"                                                         \
  "  -e, --env list                 Set environment variables\n"                                                       \
  "      --env-file list            Read in a file of environment variables\n"                                         \
  "      --entrypoint string        Overwrite the default ENTRYPOINT of the image\n"                                   \
  "  -h, --hostname string          Container host name\n"                                                             \
  "      --cpus decimal             Number of CPUs\n"                                                                  \
  "  -m, --memory bytes             Memory limit\n"                                                                    \
  "      --pids-limit int           Tune container pids limit (set -1 for unlimited)\n"                                \
  "      --init                     Run an init inside the container that forwards signals and reaps processes\n"      \
  "  -i, --interactive              Keep STDIN open even if not attached\n"                                            \
  "      --isolation string         Container isolation technology: process, vm (alias hyperv) or default:\n"          \
  "                                 $ISOLA_ISOLATION, else ROOT/config.json's \"isolation\", else process\n"           \
  "  -l, --label list               Set meta data on a container\n"                                                    \
  "      --mount mount              Attach a filesystem mount to the container (type=volume|bind|tmpfs)\n"             \
  "      --name string              Assign a name to the container\n"                                                  \
  "      --network string           Connect a container to a network: none (default) or host (process isolation)\n"    \
  "      --privileged               Give extended privileges to this container\n"                                      \
  "      --read-only                Mount the container's root filesystem as read only\n"                              \
  "      --rm                       Automatically remove the container when it exits\n"                                \
  "      --security-opt list        Security Options (seccomp=PROFILE.json|unconfined, no-new-privileges)\n"           \
  "      --stop-signal string       Signal to stop the container\n"                                                    \
  "      --stop-timeout int         Timeout (in seconds) to stop a container\n"                                        \
  "      --tmpfs list               Mount a tmpfs directory\n"                                                         \
  "  -t, --tty                      Allocate a pseudo-TTY\n"                                                           \
  "      --ulimit ulimit            Ulimit options\n"                                                                  \
  "  -u, --user string              Username or UID (format: <name|uid>[:<group|gid>])\n"                              \
  "  -v, --volume list              Bind mount a volume (HOSTDIR:CTRDIR[:ro], VOLUME:CTRDIR[:ro], CTRDIR)\n"           \
  "  -w, --workdir string           Working directory inside the container\n"

const struct cli_command cmd_run = {
  .name = "run",
  .run = run_run,
  .usage = "isola run [OPTIONS] IMAGE [COMMAND] [ARG...]",
  .summary = "Create and run a new container from an image",
  .options = "  -d, --detach                   Run container in background and print container ID\n" RUN_OPTIONS,
};

const struct cli_command cmd_create = {
  .name = "create",
  .run = run_create,
  .usage = "isola create [OPTIONS] IMAGE [COMMAND] [ARG...]",
  .summary = "Create a new container",
  .options = RUN_OPTIONS,
};

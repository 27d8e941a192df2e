/* `isola create` and `isola run`: Docker's flags turned into a container config (Docker's inspect shape). */
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
#include "container/lifecycle.h"
#include "container/runspec.h"
#include "container/spec.h"
#include "driver/driver.h"
#include "image/image.h"
#include "image/oci.h"
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
  json_t *config; /* container config being built */
  json_t *cfg;    /* its "Config" */
  json_t *host;   /* its "HostConfig" */
  char **env;     /* -e / --env-file entries, applied over the image's */
  const char *entrypoint;
  bool has_entrypoint;
};

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

/* Docker's CLI reads a seccomp profile file at create time and keeps its content, so the container does not
   depend on the file later; other options are kept as given. */
static json_t *
security_opt (const char *opt, isola_error_t *err)
{
  if (strncmp (opt, "no-new-privileges", 17) == 0)
    return json_string (opt);
  if (strncmp (opt, "seccomp=", 8) != 0 && strncmp (opt, "seccomp:", 8) != 0)
    {
      isola_error_fail (err, EINVAL, "\"%s\": only seccomp=PROFILE|unconfined and no-new-privileges are supported",
                        opt);
      return NULL;
    }
  const char *value = opt + 8;
  if (strcmp (value, "unconfined") == 0 || strcmp (value, "builtin") == 0)
    return json_string (opt);
  cleanup_free char *profile = NULL;
  if (read_file_bounded (value, SECCOMP_PROFILE_MAX, &profile, NULL, err) < 0)
    return NULL;
  return json_sprintf ("seccomp=%s", profile);
}

static int
parse_run_flags (const struct cli_command *cmd, int argc, char **argv, struct run_opts *o, struct cli_ctx *ctx)
{
  int c, exit_code = 0;
  cleanup_error isola_error_t err = NULL;
  optind = 0;
  while ((c = cli_getopt (ctx, cmd, argc, argv, "+ditre:w:u:h:m:v:l:", run_longopts, &exit_code)) != -1)
    {
      switch (c)
        {
        case 'd':
          o->detach = true;
          break;
        case 'i':
          o->interactive = true;
          break;
        case 't':
          o->tty = true;
          break;
        case OPT_RM:
          json_object_set_new (o->host, "AutoRemove", json_true ());
          break;
        case OPT_NAME:
          json_object_set_new (o->config, "Name", json_string (optarg));
          break;
        case 'e':
          cli_env_add (&o->env, optarg);
          break;
        case OPT_ENV_FILE:
          if (cli_env_file_add (&o->env, optarg, &err) < 0)
            {
              cli_fail (&err);
              return EXIT_USAGE;
            }
          break;
        case 'w':
          if (optarg[0] != '/')
            return cli_usage_error (cmd, "the working directory '%s' is invalid, it needs to be an absolute path",
                                    optarg);
          json_object_set_new (o->cfg, "WorkingDir", json_string (optarg));
          break;
        case 'u':
          json_object_set_new (o->cfg, "User", json_string (optarg));
          break;
        case 'h':
          json_object_set_new (o->cfg, "Hostname", json_string (optarg));
          break;
        case OPT_ENTRYPOINT:
          o->entrypoint = optarg;
          o->has_entrypoint = true;
          break;
        case OPT_ISOLATION:
          json_object_set_new (o->host, "Isolation", json_string (optarg));
          break;
        case 'm':
          {
            int64_t bytes = parse_memory_bytes (optarg);
            if (bytes < 0)
              return cli_usage_error (cmd, "invalid argument \"%s\" for \"-m, --memory\" flag: invalid size", optarg);
            if (bytes > 0 && bytes < 6 * 1024 * 1024)
              return cli_usage_error (cmd, "Minimum memory limit allowed is 6MB");
            json_object_set_new (o->host, "Memory", json_integer (bytes));
            break;
          }
        case OPT_CPUS:
          {
            int64_t nano = parse_nano_cpus (optarg);
            long ncpu = sysconf (_SC_NPROCESSORS_ONLN);
            if (nano < 0)
              return cli_usage_error (cmd, "invalid argument \"%s\" for \"--cpus\" flag", optarg);
            if (nano != 0 && (nano < 10000000 || nano > ncpu * 1000000000LL))
              return cli_usage_error (cmd, "range of CPUs is from 0.01 to %ld.00, as there are only %ld CPUs available",
                                      ncpu, ncpu);
            json_object_set_new (o->host, "NanoCpus", json_integer (nano));
            break;
          }
        case OPT_PIDS_LIMIT:
          {
            char *end;
            long long n = strtoll (optarg, &end, 10);
            if (*end || end == optarg)
              return cli_usage_error (cmd, "invalid argument \"%s\" for \"--pids-limit\" flag", optarg);
            json_object_set_new (o->host, "PidsLimit", json_integer (n <= 0 ? 0 : n));
            break;
          }
        case OPT_INIT:
          json_object_set_new (o->host, "Init", json_true ());
          break;
        case OPT_READ_ONLY:
          json_object_set_new (o->host, "ReadonlyRootfs", json_true ());
          break;
        case OPT_CAP_ADD:
          json_array_append_new (array_member (o->host, "CapAdd"), json_string (optarg));
          break;
        case OPT_CAP_DROP:
          json_array_append_new (array_member (o->host, "CapDrop"), json_string (optarg));
          break;
        case OPT_PRIVILEGED:
          json_object_set_new (o->host, "Privileged", json_true ());
          break;
        case OPT_SECURITY_OPT:
          {
            json_t *opt = security_opt (optarg, &err);
            if (opt == NULL)
              return cli_usage_error (cmd, "invalid --security-opt: %s", err->msg);
            json_array_append_new (array_member (o->host, "SecurityOpt"), opt);
            break;
          }
        case 'v':
          json_array_append_new (array_member (o->host, "Binds"), json_string (optarg));
          break;
        case OPT_TMPFS:
          {
            cleanup_free char *dst = xstrdup (optarg);
            char *colon = strchr (dst, ':');
            if (colon)
              *colon = '\0';
            json_t *t = json_object_get (o->host, "Tmpfs");
            if (!json_is_object (t))
              json_object_set_new (o->host, "Tmpfs", t = json_object ());
            json_object_set_new (t, dst, json_string (colon ? colon + 1 : ""));
            break;
          }
        case OPT_NETWORK:
          if (strcmp (optarg, "none") != 0 && strcmp (optarg, "host") != 0)
            return cli_usage_error (cmd, "network \"%s\" is not supported yet: use none or host", optarg);
          json_object_set_new (o->host, "NetworkMode", json_string (optarg));
          break;
        case OPT_STOP_SIGNAL:
          if (signal_from_name (optarg) < 0)
            return cli_usage_error (cmd, "invalid signal: %s", optarg);
          json_object_set_new (o->cfg, "StopSignal", json_string (optarg));
          break;
        case OPT_STOP_TIMEOUT:
          {
            char *end;
            long t = strtol (optarg, &end, 10);
            if (*end || end == optarg)
              return cli_usage_error (cmd, "invalid argument \"%s\" for \"--stop-timeout\" flag", optarg);
            json_object_set_new (o->cfg, "StopTimeout", json_integer (t));
            break;
          }
        case OPT_ULIMIT:
          {
            json_t *u = NULL;
            if (runspec_ulimit_from_flag (optarg, &u, &err) < 0)
              return cli_usage_error (cmd, "invalid argument \"%s\" for \"--ulimit\" flag: %s", optarg, err->msg);
            json_array_append_new (array_member (o->host, "Ulimits"), u);
            break;
          }
        case 'l':
          {
            cleanup_free char *kv = xstrdup (optarg);
            char *eq = strchr (kv, '=');
            if (eq)
              *eq = '\0';
            json_t *labels = json_object_get (o->cfg, "Labels");
            if (!json_is_object (labels))
              json_object_set_new (o->cfg, "Labels", labels = json_object ());
            json_object_set_new (labels, kv, json_string (eq ? eq + 1 : ""));
            break;
          }
        default:
          return c == CLI_OPT_HELP ? -1 : exit_code;
        }
    }
  return 0;
}

static void
env_merge (json_t *env, const char *kv)
{
  size_t klen = strcspn (kv, "=");
  size_t i;
  json_t *v;
  json_array_foreach (env, i, v)
  {
    const char *s = json_string_value (v);
    if (s && strncmp (s, kv, klen) == 0 && (s[klen] == '=' || s[klen] == '\0'))
      {
        json_array_set_new (env, i, json_string (kv));
        return;
      }
  }
  json_array_append_new (env, json_string (kv));
}

/* Entrypoint and command from the image, overridden by --entrypoint and the command line, as docker does. */
static void
apply_image_config (struct run_opts *o, json_t *image_cfg, char **args)
{
  json_t *env = json_array ();
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (image_cfg, "Env"), i, v) if (json_is_string (v)) json_array_append (env, v);
  bool has_path = false;
  json_array_foreach (env, i, v) if (str_has_prefix (json_string_value (v), "PATH=")) has_path = true;
  if (!has_path)
    json_array_insert_new (env, 0, json_string ("PATH=" ISOLA_DEFAULT_PATH));
  for (i = 0; o->env[i]; i++)
    env_merge (env, o->env[i]);
  json_object_set_new (o->cfg, "Env", env);

  json_t *entrypoint = json_array ();
  if (o->has_entrypoint)
    {
      if (o->entrypoint[0])
        json_array_append_new (entrypoint, json_string (o->entrypoint));
    }
  else if (json_is_array (json_object_get (image_cfg, "Entrypoint")))
    json_array_extend (entrypoint, json_object_get (image_cfg, "Entrypoint"));
  json_t *cmd = json_array ();
  if (args[0])
    for (i = 0; args[i]; i++)
      json_array_append_new (cmd, json_string (args[i]));
  else if (!o->has_entrypoint && json_is_array (json_object_get (image_cfg, "Cmd")))
    json_array_extend (cmd, json_object_get (image_cfg, "Cmd"));

  json_t *all = json_array ();
  json_array_extend (all, entrypoint);
  json_array_extend (all, cmd);
  json_object_set_new (o->cfg, "Entrypoint",
                       json_array_size (entrypoint) ? entrypoint : (json_decref (entrypoint), json_null ()));
  json_object_set_new (o->cfg, "Cmd", cmd);
  if (json_array_size (all) > 0)
    {
      json_object_set (o->config, "Path", json_array_get (all, 0));
      json_array_remove (all, 0);
    }
  json_object_set_new (o->config, "Args", all);

  static const char *const inherited[] = { "WorkingDir", "User", "StopSignal" };
  for (i = 0; i < ARRAY_SIZE (inherited); i++)
    if (json_object_get (o->cfg, inherited[i]) == NULL && json_is_string (json_object_get (image_cfg, inherited[i])))
      json_object_set (o->cfg, inherited[i], json_object_get (image_cfg, inherited[i]));
  json_t *labels = json_object_get (image_cfg, "Labels");
  if (json_is_object (labels))
    {
      json_t *mine = json_object_get (o->cfg, "Labels");
      if (!json_is_object (mine))
        json_object_set_new (o->cfg, "Labels", mine = json_object ());
      const char *k;
      json_object_foreach (labels, k, v) if (json_object_get (mine, k) == NULL) json_object_set (mine, k, v);
    }
}

/* Creates the container under the store's exclusive lock, which is released before it starts. */
static int
create_container (struct cli_ctx *ctx, struct run_opts *o, const char *image, char **args, struct container **out,
                  isola_error_t *err)
{
  const struct isola_driver *driver;
  const char *iso = json_string_value (json_object_get (o->host, "Isolation"));
  if (driver_lookup (ctx->root && ctx->root[0] ? ctx->root : ISOLA_DEFAULT_ROOT, iso, &driver, err) < 0)
    return -EINVAL;
  json_object_set_new (o->host, "Isolation", json_string (driver->isolation));
  if (json_object_get (o->host, "NetworkMode") == NULL)
    json_object_set_new (o->host, "NetworkMode", json_string ("none"));

  cleanup_store struct isola_store *store = NULL;
  if (store_open (ctx->root, STORE_LOCK_EXCLUSIVE, &store, err) < 0)
    return -EIO;
  cleanup_json json_t *refs = NULL;
  digest_hex_t id;
  if (refs_read (store, &refs, err) < 0 || image_resolve (store, refs, image, id, err) < 0)
    return -ENOENT;
  struct oci_config cfg = { 0 };
  if (image_read_config (store, id, &cfg, err) < 0)
    return -EIO;
  json_object_set_new (o->config, "Image", json_sprintf ("sha256:%s", id));
  json_object_set_new (o->cfg, "Image", json_string (image));
  json_object_set_new (o->cfg, "Tty", json_boolean (o->tty));
  json_object_set_new (o->cfg, "OpenStdin", json_boolean (o->interactive));
  apply_image_config (o, json_object_get (cfg.json, "config"), args);
  oci_config_clear (&cfg);
  cleanup_free char *seccomp_cache = store_path (store, STORE_SECCOMP_CACHE);
  if (runspec_validate (o->config, seccomp_cache, err) < 0)
    return -EINVAL;
  int ret = container_create (store, o->config, out, err);
  if (ret == 0 && driver->create_resources && (ret = driver->create_resources (store, *out, err)) < 0)
    {
      (void)container_remove (store, *out, NULL);
      container_free (*out);
      *out = NULL;
    }
  trace_mark ("cli: created");
  return ret;
}

static void
run_opts_init (struct run_opts *o)
{
  memset (o, 0, sizeof (*o));
  o->config = json_object ();
  o->cfg = json_object ();
  o->host = json_object ();
  o->env = xcalloc (1, sizeof (char *));
  json_object_set (o->config, "Config", o->cfg);
  json_object_set (o->config, "HostConfig", o->host);
}

static void
run_opts_clear (struct run_opts *o)
{
  json_decref (o->config);
  json_decref (o->cfg);
  json_decref (o->host);
  strv_free (o->env);
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
      json_t *config = json_object_get (c->config, "Config");
      struct cli_attach_opts o = { .tty = json_is_true (json_object_get (config, "Tty")),
                                   .stdin = attach_stdin && json_is_true (json_object_get (config, "OpenStdin")) };
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
  if (ret != 0)
    {
      run_opts_clear (&o);
      return ret < 0 ? 0 : ret;
    }
  if (optind >= argc)
    {
      run_opts_clear (&o);
      return cli_usage_error (cmd, "\"%s\" requires at least 1 argument.", start ? "isola run" : "isola create");
    }
  if (start && o.interactive && o.tty && !o.detach && !isatty (STDIN_FILENO))
    {
      run_opts_clear (&o);
      fprintf (stderr, "Error: the input device is not a TTY\n");
      return 1;
    }
  if (!start && o.detach)
    o.detach = false;
  cleanup_error isola_error_t err = NULL;
  cleanup_container struct container *c = NULL;
  if (create_container (ctx, &o, argv[optind], argv + optind + 1, &c, &err) < 0)
    {
      run_opts_clear (&o);
      fprintf (stderr, "Error: %s\n", err ? err->msg : "cannot create the container");
      return 125;
    }
  run_opts_clear (&o);
  if (!start)
    {
      printf ("%s\n", c->id);
      return 0;
    }
  int code = cli_start_container (ctx, c, !o.detach, o.interactive);
  if (code == 0 && o.detach)
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
  "  -v, --volume list              Bind mount a volume (HOSTDIR:CTRDIR[:ro])\n"                                       \
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

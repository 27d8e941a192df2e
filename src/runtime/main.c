/* isola-runtime's global flags, logging and dispatch. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "runtime.h"
#include "runtime/state.h"

static const struct rt_verb *const verbs[] = {
  &rt_verb_create, &rt_verb_delete, &rt_verb_events, &rt_verb_exec,  &rt_verb_features,
  &rt_verb_kill,   &rt_verb_list,   &rt_verb_pause,  &rt_verb_ps,    &rt_verb_resume,
  &rt_verb_run,    &rt_verb_spec,   &rt_verb_start,  &rt_verb_state, &rt_verb_update,
};

enum
{
  G_ROOT = FLAG_FIRST_ID,
  G_LOG,
  G_LOG_FORMAT,
  G_DEBUG,
  G_SYSTEMD,
  G_CRIU,
  G_ROOTLESS,
  G_VERSION,
};

static const struct flag_def global_flags[] = {
  { "root", 0, G_ROOT, "string",
    "root directory for storage of container state (default $ISOLA_RUNTIME_ROOT, else isola-runtime.json's "
    "\"root\" beside the binary, else \"" RT_DEFAULT_ROOT "\")" },
  { "log", 0, G_LOG, "string", "set the log file to write isola-runtime logs to (default is stderr)" },
  { "log-format", 0, G_LOG_FORMAT, "string", "set the log format ('text' (default), or 'json')" },
  { "debug", 0, G_DEBUG, NULL, "enable debug logging" },
  { "systemd-cgroup", 0, G_SYSTEMD, NULL, "cgroupsPath is slice:prefix:name (systemd's slice and scope paths)" },
  { "criu", 0, G_CRIU, "string", "accepted and ignored (no checkpointing)" },
  { "rootless", 0, G_ROOTLESS, "string", "accepted and ignored" },
  { "version", 'v', G_VERSION, NULL, "print the version" },
  { NULL },
};

/* runc's logrus lines: text "time=… level=… msg=…", or one JSON object per line. */
static void
log_line (struct rt_ctx *ctx, const char *level, const char *msg)
{
  FILE *f = stderr;
  cleanup_file FILE *file = NULL;
  if (ctx->log_path && ctx->log_path[0])
    {
      file = fopen (ctx->log_path, "ae");
      if (file)
        f = file;
    }
  cleanup_free char *now = time_rfc3339_now ();
  if (ctx->log_json)
    {
      cleanup_json json_t *o = json_pack ("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", now);
      cleanup_free char *text = json_dumps (o, JSON_COMPACT | JSON_PRESERVE_ORDER);
      fprintf (f, "%s\n", text);
    }
  else
    {
      cleanup_json json_t *quoted = json_string (msg);
      cleanup_free char *q = json_dumps (quoted, JSON_ENCODE_ANY);
      fprintf (f, "time=\"%s\" level=%s msg=%s\n", now, level, q);
    }
}

void
rt_warn (struct rt_ctx *ctx, const char *msg)
{
  log_line (ctx, "warning", msg);
}

int
rt_fail (struct rt_ctx *ctx, isola_error_t *err)
{
  const char *msg = err && *err && (*err)->msg ? (*err)->msg : "failed";
  /* With a log file the caller reads it; runc also says it on stderr. */
  if (ctx->log_path && ctx->log_path[0])
    log_line (ctx, "error", msg);
  fprintf (stderr, "%s\n", msg);
  return 1;
}

int
rt_failf (struct rt_ctx *ctx, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = NULL;
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  struct isola_error_s e = { .status = EINVAL, .msg = msg };
  isola_error_t err = &e;
  int ret = rt_fail (ctx, &err);
  free (msg);
  return ret;
}

int
rt_args (struct rt_ctx *ctx, struct flag_parser *p, const char *verb, int min, int max)
{
  if (p->nargs >= min && (max < 0 || p->nargs <= max))
    return 0;
  if (min == max)
    return rt_failf (ctx, "%s: \"%s\" requires exactly %d argument(s)", verb, verb, min);
  return rt_failf (ctx, "%s: \"%s\" requires a minimum of %d argument(s)", verb, verb, min);
}

int
rt_write_pid_file (const char *path, int pid, isola_error_t *err)
{
  char buf[32];
  int n = snprintf (buf, sizeof buf, "%d", pid);
  cleanup_free char *abs = path[0] == '/' ? xstrdup (path) : NULL;
  if (abs == NULL)
    {
      cleanup_free char *cwd = getcwd (NULL, 0);
      abs = xasprintf ("%s/%s", cwd ? cwd : ".", path);
    }
  return write_file_replace (abs, buf, (size_t)n, 0644, err);
}

int
rt_load_arg (struct rt_ctx *ctx, const struct flag_parser *p, struct rt_container *c)
{
  cleanup_error isola_error_t err = NULL;
  return rt_load (ctx->root, p->args[0], c, &err) < 0 ? rt_fail (ctx, &err) : 0;
}

int
rt_connect_console (const char *path, isola_error_t *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof addr.sun_path)
    return isola_error_fail (err, ENAMETOOLONG, "console socket path too long: %s", path);
  strcpy (addr.sun_path, path);
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return isola_error_make (err, errno, "socket");
  if (connect (fd, (struct sockaddr *)&addr, sizeof addr) < 0)
    {
      int saved = errno;
      close (fd);
      return isola_error_make (err, saved, "connect to the console socket %s", path);
    }
  return fd;
}

/* isola-runtime.json beside the path we were called by (argv[0]; a symlink's directory, not its target's), or NULL.
   Callers drop --root and the environment on some calls (podman runs `delete` with neither, and conmon with an
   environment of its own), so a runtime installed for one caller (a test's, a second podman's) names its state
   directory there ("root"), and its default isolation ("isolation"). */
static json_t *
runtime_config (const char *argv0)
{
  const char *slash = argv0 ? strrchr (argv0, '/') : NULL;
  if (slash == NULL)
    return NULL;
  cleanup_free char *path = xasprintf ("%.*s/isola-runtime.json", (int)(slash - argv0), argv0);
  return json_load_file (path, 0, NULL);
}

/* The default --root: $ISOLA_RUNTIME_ROOT, else the config's "root", else /run/isola-runtime. */
static char *
configured_root (json_t *config)
{
  const char *env = getenv ("ISOLA_RUNTIME_ROOT");
  if (env && env[0])
    return xstrdup (env);
  const char *root = json_string_value (json_object_get (config, "root"));
  return root && root[0] == '/' ? xstrdup (root) : NULL;
}

/* The isolation of a bundle without the io.isola.isolation annotation: the config's "isolation", else vm when
   called as isola-runtime-vm, else process. */
static char *
configured_isolation (json_t *config)
{
  const char *mode = json_string_value (json_object_get (config, "isolation"));
  if (mode && mode[0])
    return xstrdup (mode);
  return xstrdup (strcmp (program_invocation_short_name, "isola-runtime-vm") == 0 ? "vm" : "process");
}

static void
usage (FILE *f)
{
  fprintf (f, "NAME:\n   isola-runtime - an OCI runtime over isola's process sandbox\n\nUSAGE:\n"
              "   isola-runtime [global options] command [command options] [arguments...]\n\nCOMMANDS:\n");
  for (size_t i = 0; i < ARRAY_SIZE (verbs); i++)
    fprintf (f, "   %-10s %s\n", verbs[i]->name, verbs[i]->summary);
  cleanup_free char *opts = flags_usage (global_flags);
  fprintf (f, "\nGLOBAL OPTIONS:\n%s", opts);
}

static void
verb_usage (const struct rt_verb *v)
{
  printf ("NAME:\n   isola-runtime %s - %s\n\nUSAGE:\n   isola-runtime %s %s\n", v->name, v->summary, v->name,
          v->usage);
  if (v->flags && v->flags[0].name)
    {
      cleanup_free char *opts = flags_usage (v->flags);
      printf ("\nOPTIONS:\n%s", opts);
    }
}

static const struct flag_def no_flags[] = { { NULL } };
static const struct rt_verb *current_verb;

int
rt_next (struct rt_ctx *ctx, struct flag_parser *p, int *exit_code)
{
  cleanup_error isola_error_t err = NULL;
  int id = flags_next (p, &err);
  if (id == FLAG_HELP)
    {
      verb_usage (current_verb);
      *exit_code = 0;
      return -1;
    }
  if (id < 0)
    {
      *exit_code = rt_fail (ctx, &err);
      return -1;
    }
  return id;
}

/* The verb's flags come before its arguments (urfave/cli's rule, which runc's callers follow). */
static int
run_verb (struct rt_ctx *ctx, const struct rt_verb *v, int argc, char **argv)
{
  struct flag_parser p;
  current_verb = v;
  flags_init (&p, v->flags ? v->flags : no_flags, false, argc, argv);
  return v->run (ctx, &p);
}

int
main (int argc, char **argv)
{
  cleanup_json json_t *config = runtime_config (argv[0]);
  cleanup_free char *configured = configured_root (config);
  cleanup_free char *isolation = configured_isolation (config);
  struct rt_ctx ctx = { .root = configured ? configured : RT_DEFAULT_ROOT, .isolation = isolation };
  struct flag_parser p;
  flags_init (&p, global_flags, false, argc, argv);
  cleanup_error isola_error_t err = NULL;
  int id;
  while ((id = flags_next (&p, &err)) != FLAG_END)
    {
      if (id < 0)
        {
          fprintf (stderr, "%s\n", err->msg);
          return 1;
        }
      switch (id)
        {
        case FLAG_HELP:
          usage (stdout);
          return 0;
        case G_ROOT:
          ctx.root = p.value;
          break;
        case G_LOG:
          ctx.log_path = p.value;
          break;
        case G_LOG_FORMAT:
          if (strcmp (p.value, "json") != 0 && strcmp (p.value, "text") != 0)
            return rt_failf (&ctx, "invalid log-format: %s", p.value);
          ctx.log_json = strcmp (p.value, "json") == 0;
          break;
        case G_DEBUG:
          ctx.debug = p.on;
          break;
        case G_SYSTEMD:
          ctx.systemd_cgroup = p.on;
          break;
        case G_VERSION:
          printf ("isola-runtime version %s\nspec: 1.0.2\n", ISOLA_VERSION);
          return 0;
        default:
          break;
        }
    }
  if (p.nargs == 0)
    {
      usage (stdout);
      return 0;
    }
  for (size_t i = 0; i < ARRAY_SIZE (verbs); i++)
    if (strcmp (verbs[i]->name, p.args[0]) == 0)
      return run_verb (&ctx, verbs[i], p.nargs, p.args);
  fprintf (stderr, "No help topic for '%s'\n", p.args[0]);
  return 3;
}

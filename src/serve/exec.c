/* Exec endpoints: create (a record in memory, as dockerd keeps them), start (hijacked, or detached), resize, inspect.
   The command runs through the container's monitor (driver exec_session, as `isola exec`), in either mode. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/digest.h"
#include "base/json.h"
#include "base/util.h"
#include "container/container.h"
#include "container/container_event.h"
#include "container/lifecycle.h"
#include "containers.h"
#include "driver/driver.h"
#include "hijack.h"
#include "proto/attach_client.h"
#include "serve.h"

struct exec_record
{
  char id[DIGEST_HEX_LEN + 1];
  char container[DIGEST_HEX_LEN + 1];
  char event_id[65]; /* the execID of its events */
  json_t *config;    /* the create body: Cmd, Env, User, WorkingDir, Tty, Attach*, Privileged, DetachKeys */
  bool started, running;
  int exit_code; /* -1 until it ended */
  int session;   /* the monitor's session while it runs (resize), else -1 */
  pthread_mutex_t send_lock;
  struct exec_record *next;
};

/* Kept for the server's life, as dockerd keeps them until their container goes: at most this many, oldest
   finished ones dropped first. */
#define EXEC_RECORDS_MAX 1024
static pthread_mutex_t execs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct exec_record *execs;
static size_t n_execs;

static void
drop_oldest_finished (void)
{
  struct exec_record **last = NULL;
  for (struct exec_record **q = &execs; *q; q = &(*q)->next)
    if (!(*q)->running && (*q)->started)
      last = q;
  if (last == NULL)
    return;
  struct exec_record *e = *last;
  *last = e->next;
  json_decref (e->config);
  pthread_mutex_destroy (&e->send_lock);
  free (e);
  n_execs--;
}

/* The record (execs_lock held by the caller), by ID or unique prefix. */
static struct exec_record *
find_exec (const char *id)
{
  struct exec_record *found = NULL;
  size_t len = strlen (id);
  for (struct exec_record *e = execs; e; e = e->next)
    if (strncmp (e->id, id, len) == 0)
      {
        if (found)
          return NULL;
        found = e;
      }
  return found;
}

static char **
strv_of (json_t *a)
{
  char **v = xcalloc (1, sizeof (char *));
  size_t i;
  json_t *s;
  json_array_foreach (a, i, s)
  {
    if (json_is_string (s))
      strv_push (&v, json_string_value (s));
  }
  return v;
}

static bool
config_bool (const struct exec_record *e, const char *key)
{
  return json_is_true (json_object_get (e->config, key));
}

static enum MHD_Result
exec_create (struct serve_request *r, struct isola_store *s, struct container *c)
{
  enum MHD_Result reply;
  cleanup_json json_t *body = serve_body_json (r, &reply);
  if (body == NULL)
    return reply;
  json_t *cmd = json_object_get (body, "Cmd");
  if (!json_is_array (cmd) || json_array_size (cmd) == 0)
    return serve_reply_error (r, 400, "No exec command specified");
  const char *keys = json_string_value (json_object_get (body, "DetachKeys"));
  struct detach_keys parsed;
  if (keys && *keys && detach_keys_parse (keys, &parsed) < 0)
    return serve_reply_error (r, 400, "Invalid escape keys (%s) provided", keys);
  const char *wd = json_string_value (json_object_get (body, "WorkingDir"));
  if (wd && wd[0] && wd[0] != '/')
    return serve_reply_error (r, 400, "the working directory '%s' is invalid, it needs to be an absolute path", wd);
  if (!container_is_running (c))
    return serve_reply_error (r, 409, "Container %s is not running", c->id);
  if (container_is_paused (c))
    return serve_reply_error (r, 409, "Container %s is paused, unpause the container before exec", r->arg[0]);
  struct exec_record *e = xcalloc (1, sizeof *e);
  random_id_hex (e->id);
  memcpy (e->container, c->id, sizeof e->container);
  e->config = json_incref (body);
  e->exit_code = -1;
  e->session = -1;
  pthread_mutex_init (&e->send_lock, NULL);
  pthread_mutex_lock (&execs_lock);
  if (n_execs >= EXEC_RECORDS_MAX)
    drop_oldest_finished ();
  e->next = execs;
  execs = e;
  n_execs++;
  pthread_mutex_unlock (&execs_lock);
  return serve_reply_json (r, 201, json_pack ("{s:s}", "Id", e->id));
}

/* Starts e's command through its container's monitor: 0 and the session, or the error and Docker's exit code. */
static int
start_session (struct exec_record *e, bool detach, int *fd, struct attach_decoder *dec, int *code, isola_error_t *err)
{
  cleanup_store struct isola_store *s = NULL;
  cleanup_container struct container *c = NULL;
  int ret = store_open (serve_root, STORE_LOCK_NONE, &s, err);
  if (ret == 0)
    ret = container_load (s, e->container, &c, err);
  if (ret == 0)
    ret = container_refresh (c, err);
  if (ret < 0)
    return ret;
  if (!container_is_running (c))
    return isola_error_fail (err, EINVAL, "container %s is not running", c->id);
  if ((ret = container_seccomp_ensure (s, c, err)) < 0)
    return ret;
  cleanup_strv char **argv = strv_of (json_object_get (e->config, "Cmd"));
  cleanup_strv char **env = strv_of (json_object_get (e->config, "Env"));
  struct exec_request req = {
    .argv = argv,
    .env = env,
    .user = json_string_value (json_object_get (e->config, "User")),
    .cwd = json_string_value (json_object_get (e->config, "WorkingDir")),
    .interactive = config_bool (e, "AttachStdin") && !detach,
    .detach = detach,
    .privileged = config_bool (e, "Privileged"),
    .io = { .stdin_fd = -1,
            .stdout_fd = -1,
            .stderr_fd = -1,
            .console_socket = -1,
            .tty = config_bool (e, "Tty") && !detach },
  };
  container_exec_started (c, argv, e->event_id);
  ret = driver_of (c)->exec_session (c, &req, fd, dec, err);
  if (ret == 0 && (ret = attach_client_wait_started (*fd, dec, code, err)) < 0)
    {
      close (*fd);
      *fd = -1;
    }
  return ret;
}

static void
finish (struct exec_record *e, int code)
{
  pthread_mutex_lock (&execs_lock);
  e->running = false;
  e->exit_code = code;
  e->session = -1;
  pthread_mutex_unlock (&execs_lock);
  cleanup_store struct isola_store *s = NULL;
  cleanup_container struct container *c = NULL;
  if (store_open (serve_root, STORE_LOCK_NONE, &s, NULL) == 0 && container_load (s, e->container, &c, NULL) == 0)
    container_exec_died (c, e->event_id, code);
}

struct exec_start_ctx
{
  struct exec_record *e;
  int fd;
  struct attach_decoder dec;
  char *failure; /* why it did not start (then fd is -1), and the exit code it ends with */
  int failure_code;
};

static void
exec_start_free (void *cls)
{
  struct exec_start_ctx *x = cls;
  if (x->fd >= 0)
    close (x->fd);
  attach_decoder_clear (&x->dec);
  free (x->failure);
  free (x);
}

/* As dockerd: the error on the stream (stdout), the code in the exec's record. */
static void
report_failure (struct exec_start_ctx *x, int sock, const struct relay_opts *o)
{
  cleanup_free char *msg = xasprintf ("%s\r\n", x->failure);
  size_t len = strlen (msg);
  if (!o->tty)
    {
      uint8_t hdr[8] = { 1, 0, 0, 0 };
      attach_put_u32 (hdr + 4, (uint32_t)len);
      (void)send_all (sock, hdr, sizeof hdr);
    }
  (void)send_all (sock, msg, len);
  finish (x->e, x->failure_code);
}

static void
exec_hijacked (void *cls, int sock, const char *extra, size_t extra_len)
{
  struct exec_start_ctx *x = cls;
  struct exec_record *e = x->e;
  const char *spec = json_string_value (json_object_get (e->config, "DetachKeys"));
  struct detach_keys keys = { 0 };
  (void)detach_keys_parse (spec && *spec ? spec : DETACH_KEYS_DEFAULT, &keys);
  struct relay_opts o = { .tty = config_bool (e, "Tty"),
                          /* as dockerd: the keys detach a terminal's session only */
                          .keys = config_bool (e, "Tty") ? &keys : NULL,
                          .stdin = config_bool (e, "AttachStdin"),
                          .stdout = config_bool (e, "AttachStdout"),
                          .stderr = config_bool (e, "AttachStderr"),
                          .send_lock = &e->send_lock };
  if (x->failure)
    report_failure (x, sock, &o);
  else
    {
      int code = serve_relay (sock, x->fd, &x->dec, &o, extra, extra_len);
      if (code == SERVE_RELAY_DETACHED)
        {
          /* The command runs on in the monitor, unwatched (as exec -d). */
          pthread_mutex_lock (&execs_lock);
          e->running = false;
          e->session = -1;
          pthread_mutex_unlock (&execs_lock);
        }
      else
        /* Recorded before the client sees the end: the docker CLI inspects the exec for its code right then. */
        finish (e, code < 0 ? 126 : code);
    }
  (void)shutdown (sock, SHUT_WR);
}

static enum MHD_Result
exec_start (struct serve_request *r)
{
  enum MHD_Result reply;
  cleanup_json json_t *body = serve_body_json (r, &reply);
  if (body == NULL)
    return reply;
  bool detach = json_is_true (json_object_get (body, "Detach"));
  pthread_mutex_lock (&execs_lock);
  struct exec_record *e = find_exec (r->arg[0]);
  bool started = e && e->started;
  if (e && !started)
    e->started = e->running = true;
  pthread_mutex_unlock (&execs_lock);
  if (e == NULL)
    return serve_reply_error (r, 404, "No such exec instance: %s", r->arg[0]);
  if (started)
    return serve_reply_error (r, 409, "Error: Exec command %s has already run", e->id);
  struct exec_start_ctx *x = xcalloc (1, sizeof *x);
  x->e = e;
  attach_decoder_init (&x->dec);
  cleanup_error isola_error_t err = NULL;
  int code = 126;
  if (start_session (e, detach, &x->fd, &x->dec, &code, &err) < 0)
    {
      if (detach)
        {
          finish (e, code);
          exec_start_free (x);
          return serve_reply_isola_error (r, err);
        }
      x->failure = xstrdup (err ? err->msg : "cannot start the command");
      x->failure_code = code;
      x->fd = -1;
      return serve_reply_hijack (r, exec_hijacked, x, exec_start_free);
    }
  if (detach)
    {
      /* The monitor runs it on with /dev/null for stdio; its end is not waited for (as `isola exec -d`). */
      pthread_mutex_lock (&execs_lock);
      e->running = false;
      pthread_mutex_unlock (&execs_lock);
      exec_start_free (x);
      return serve_reply_empty (r, 200);
    }
  pthread_mutex_lock (&execs_lock);
  e->session = x->fd;
  pthread_mutex_unlock (&execs_lock);
  return serve_reply_hijack (r, exec_hijacked, x, exec_start_free);
}

static enum MHD_Result
exec_resize (struct serve_request *r)
{
  long long h = serve_query_int (r, "h", -1), w = serve_query_int (r, "w", -1);
  if (h < 0 || w < 0 || h > 65535 || w > 65535)
    return serve_reply_error (r, 400, "invalid size");
  pthread_mutex_lock (&execs_lock);
  struct exec_record *e = find_exec (r->arg[0]);
  int ret = -ENOENT;
  if (e && e->session >= 0)
    {
      uint8_t p[4] = { (uint8_t)(h >> 8), (uint8_t)h, (uint8_t)(w >> 8), (uint8_t)w };
      pthread_mutex_lock (&e->send_lock);
      ret = attach_send (e->session, ATTACH_RESIZE, p, 4);
      pthread_mutex_unlock (&e->send_lock);
    }
  pthread_mutex_unlock (&execs_lock);
  if (e == NULL)
    return serve_reply_error (r, 404, "No such exec instance: %s", r->arg[0]);
  if (ret < 0)
    return serve_reply_error (r, 409, "exec %s is not running", e->id);
  return serve_reply_empty (r, 200);
}

static enum MHD_Result
exec_inspect (struct serve_request *r)
{
  pthread_mutex_lock (&execs_lock);
  struct exec_record *e = find_exec (r->arg[0]);
  json_t *out = NULL;
  if (e)
    {
      json_t *cmd = json_object_get (e->config, "Cmd");
      json_t *args = json_array ();
      for (size_t i = 1; i < json_array_size (cmd); i++)
        json_array_append (args, json_array_get (cmd, i));
      out = json_pack ("{s:s, s:b, s:o, s:{s:b, s:s, s:o, s:b, s:s}, s:b, s:b, s:b, s:b, s:s, s:s, s:i}", "ID", e->id,
                       "Running", e->running, "ExitCode",
                       e->exit_code >= 0 ? json_integer (e->exit_code) : json_null (), "ProcessConfig", "tty",
                       config_bool (e, "Tty"), "entrypoint", json_string_value (json_array_get (cmd, 0)) ?: "",
                       "arguments", args, "privileged", config_bool (e, "Privileged"), "user",
                       json_string_value (json_object_get (e->config, "User")) ?: "", "OpenStdin",
                       config_bool (e, "AttachStdin"), "OpenStderr", config_bool (e, "AttachStderr"), "OpenStdout",
                       config_bool (e, "AttachStdout"), "CanRemove", 0, "ContainerID", e->container, "DetachKeys",
                       json_string_value (json_object_get (e->config, "DetachKeys")) ?: "", "Pid", 0);
    }
  pthread_mutex_unlock (&execs_lock);
  if (out == NULL)
    return serve_reply_error (r, 404, "No such exec instance: %s", r->arg[0]);
  return serve_reply_json (r, 200, out);
}

enum MHD_Result
serve_exec (struct serve_request *r)
{
  static const struct serve_container_route create[] = { { "POST", "/containers/*/exec", exec_create } };
  enum MHD_Result ret = serve_container_routes (r, create, ARRAY_SIZE (create));
  if (ret != SERVE_NOT_MINE)
    return ret;
  if (serve_route (r, "POST", "/exec/*/start"))
    return exec_start (r);
  if (serve_route (r, "POST", "/exec/*/resize"))
    return exec_resize (r);
  if (serve_route (r, "GET", "/exec/*/json"))
    return exec_inspect (r);
  return SERVE_NOT_MINE;
}

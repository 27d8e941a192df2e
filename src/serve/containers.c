/* Container endpoints: create (through the one spec path, container/create.h), list, inspect, start, stop, restart,
   kill, rm, top, rename, pause, unpause, resize.  Attach, wait and logs, which stream, are in containers_io.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "container/container.h"
#include "container/create.h"
#include "container/filters.h"
#include "container/inspect_shape.h"
#include "container/lifecycle.h"
#include "container/listing.h"
#include "container/volume.h"
#include "containers.h"
#include "driver/driver.h"
#include "filters.h"
#include "hijack.h"
#include "network/attach.h"
#include "proto/attach_client.h"
#include "serve.h"

int
serve_load_container (struct serve_request *r, const char *what, struct isola_store **s, struct container **c,
                      enum MHD_Result *reply)
{
  cleanup_error isola_error_t err = NULL;
  char id[DIGEST_HEX_LEN + 1];
  if (store_open (serve_root, STORE_LOCK_NONE, s, &err) < 0 || container_resolve (*s, what, id, &err) < 0
      || container_load_any (*s, id, c, &err) < 0 || container_refresh (*c, &err) < 0)
    {
      *reply = serve_reply_isola_error (r, err);
      return -1;
    }
  network_reap (*s, *c);
  return 0;
}

/* --- create --------------------------------------------------------------------------------------------------- */

static enum MHD_Result
create (struct serve_request *r)
{
  enum MHD_Result ret;
  cleanup_json json_t *body = serve_body_json (r, &ret);
  if (body == NULL)
    return ret;
  const char *name = serve_query (r, "name");
  /* The docker CLI names a container with or without Docker's leading slash. */
  if (name && name[0] == '/')
    name++;
  cleanup_error isola_error_t err = NULL;
  cleanup_container struct container *c = NULL;
  if (container_create_from_request (serve_root, body, name, &c, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_json (r, 201, json_pack ("{s:s, s:[]}", "Id", c->id, "Warnings"));
}

/* --- list ----------------------------------------------------------------------------------------------------- */

static int64_t
seconds_of (const char *rfc3339)
{
  int64_t t = 0;
  return rfc3339 && time_parse_rfc3339 (rfc3339, &t) == 0 ? t : 0;
}

/* Docker's types.Container. */
static json_t *
list_entry (struct container *c, int64_t now)
{
  cleanup_strv char **argv = container_argv_shown (c);
  cleanup_free char *cmd = xstrdup (argv && argv[0] ? argv[0] : "");
  for (size_t i = 1; argv && argv[0] && argv[i]; i++)
    {
      char *next = xasprintf (strchr (argv[i], ' ') ? "%s '%s'" : "%s %s", cmd, argv[i]);
      free (cmd);
      cmd = next;
    }
  cleanup_free char *status = container_status_text (c, now);
  cleanup_free char *name = xasprintf ("/%s", container_name (c));
  const char *image_id = container_image_id (c);
  cleanup_free char *image_digest = image_id ? xasprintf ("sha256:%s", image_id) : xstrdup ("");
  json_t *labels = json_object_get (container_config (c), "Labels");
  const char *net = json_string_value (json_object_get (container_host_config (c), "NetworkMode"));
  json_t *settings = network_settings_json (c);
  json_t *networks = json_incref (json_object_get (settings, "Networks"));
  json_decref (settings);
  json_t *mounts = container_mounts (c);
  return json_pack ("{s:s, s:[s], s:s, s:s, s:s, s:I, s:[], s:O, s:s, s:s, s:{s:s}, s:{s:o}, s:O, s:s}", "Id", c->id,
                    "Names", name, "Image", container_image_name (c), "ImageID", image_digest, "Command", cmd,
                    "Created", (json_int_t)seconds_of (container_created (c)), "Ports", "Labels",
                    labels ? labels : json_object (), "State", container_status (c), "Status", status, "HostConfig",
                    "NetworkMode", net ? net : "default", "NetworkSettings", "Networks",
                    networks ? networks : json_object (), "Mounts", mounts ? mounts : json_array (), "Isolation",
                    container_isolation (c) ?: "process");
}

static int
newest_first (const void *a, const void *b)
{
  struct container *const *x = a, *const *y = b;
  return -strcmp (container_created (*x), container_created (*y));
}

static enum MHD_Result
list (struct serve_request *r)
{
  cleanup_strv char **filters = NULL;
  if (filters_parse (serve_query (r, "filters"), &filters) < 0)
    return serve_reply_error (r, 400, "invalid filter '%s'", serve_query (r, "filters"));
  bool all = serve_query_bool (r, "all");
  long long limit = serve_query_int (r, "limit", -1);
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  cleanup_strv char **ids = NULL;
  if (store_open (serve_root, STORE_LOCK_NONE, &s, &err) < 0 || container_list_ids (s, &ids, &err) < 0)
    return serve_reply_isola_error (r, err);
  size_t n = strv_len (ids), k = 0;
  struct container **cs = xcalloc (n + 1, sizeof *cs);
  for (size_t i = 0; i < n; i++)
    {
      struct container *c = NULL;
      if (container_load_any (s, ids[i], &c, NULL) < 0)
        continue; /* removed meanwhile */
      (void)container_refresh (c, NULL);
      network_reap (s, c);
      if (container_listed (c, all || limit > 0, filters))
        cs[k++] = c;
      else
        container_free (c);
    }
  qsort (cs, k, sizeof *cs, newest_first);
  json_t *out = json_array ();
  int64_t now = time (NULL);
  for (size_t i = 0; i < k; i++)
    {
      if (limit <= 0 || (long long)i < limit)
        json_array_append_new (out, list_entry (cs[i], now));
      container_free (cs[i]);
    }
  free (cs);
  return serve_reply_json (r, 200, out);
}

/* --- one container -------------------------------------------------------------------------------------------- */

static enum MHD_Result
inspect (struct serve_request *r, struct isola_store *s, struct container *c)
{
  json_t *o = container_inspect_json (c);
  json_object_set_new (o, "NetworkSettings", network_settings_json (c));
  container_inspect_complete (o);
  return serve_reply_json (r, 200, o);
}

/* The monitor container_start forked is our child: a thread reaps it when it ends. */
static void *
reap (void *arg)
{
  (void)waitpid ((pid_t)(intptr_t)arg, NULL, 0);
  return NULL;
}

static void
reap_later (struct container *c)
{
  (void)container_reload_state (c, NULL);
  json_int_t pid = json_integer_value (json_object_get (c->state, "MonitorPid"));
  pthread_t t;
  pthread_attr_t attr;
  if (pid <= 0)
    return;
  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize (&attr, 64 * 1024);
  if (pthread_create (&t, &attr, reap, (void *)(intptr_t)pid) != 0)
    (void)waitpid ((pid_t)pid, NULL, WNOHANG);
  pthread_attr_destroy (&attr);
}

/* Starts c, handing its session to an attach that waits for it (docker run attaches, then starts). */
int
serve_start (struct isola_store *s, struct container *c, isola_error_t *err, int *code)
{
  bool attached = serve_attach_waiting (c->id);
  struct attach_decoder dec;
  attach_decoder_init (&dec);
  int fd = -1;
  int ret = container_start (s, c, attached ? &fd : NULL, &dec, NULL, code, err);
  if (ret == 0)
    reap_later (c);
  if (attached)
    serve_attach_started (c->id, ret == 0 ? fd : -1, &dec);
  attach_decoder_clear (&dec);
  return ret;
}

static enum MHD_Result
reply_start_error (struct serve_request *r, isola_error_t err, int code)
{
  /* The docker CLI tells "not found" (127) and "cannot invoke" (126) by the message; dockerd says 400 for them. */
  return serve_reply_error (r, code == 126 || code == 127 ? 400 : serve_status_of (err ? err->status : EIO), "%s",
                            err ? err->msg : "cannot start the container");
}

static enum MHD_Result
start (struct serve_request *r, struct isola_store *s, struct container *c)
{
  if (container_is_running (c))
    return serve_reply_empty (r, 304);
  cleanup_error isola_error_t err = NULL;
  int code = 125;
  if (serve_start (s, c, &err, &code) < 0)
    return reply_start_error (r, err, code);
  return serve_reply_empty (r, 204);
}

static int
timeout_of (struct serve_request *r)
{
  return (int)serve_query_int (r, "t", -1);
}

static enum MHD_Result
stop (struct serve_request *r, struct isola_store *s, struct container *c)
{
  if (!container_is_running (c))
    return serve_reply_empty (r, 304);
  cleanup_error isola_error_t err = NULL;
  if (container_stop (c, timeout_of (r), &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_empty (r, 204);
}

static enum MHD_Result
restart (struct serve_request *r, struct isola_store *s, struct container *c)
{
  cleanup_error isola_error_t err = NULL;
  int code = 125;
  if (container_is_running (c) && container_stop (c, timeout_of (r), &err) < 0)
    return serve_reply_isola_error (r, err);
  if (container_refresh (c, &err) < 0 || serve_start (s, c, &err, &code) < 0)
    return reply_start_error (r, err, code);
  return serve_reply_empty (r, 204);
}

static enum MHD_Result
kill_container (struct serve_request *r, struct isola_store *s, struct container *c)
{
  const char *name = serve_query (r, "signal");
  int sig = name && *name ? signal_from_name (name) : SIGKILL;
  if (sig < 0)
    return serve_reply_error (r, 400, "Invalid signal: %s", name);
  if (!container_is_running (c))
    return serve_reply_error (r, 409, "Cannot kill container: %s: Container %s is not running", r->arg[0], c->id);
  cleanup_error isola_error_t err = NULL;
  if (container_kill (c, sig, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_empty (r, 204);
}

static enum MHD_Result
remove_container (struct serve_request *r, struct isola_store *s, struct container *c)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_json json_t *mounts = json_incref (container_mounts (c));
  if (container_rm (s, c, serve_query_bool (r, "force"), &err) < 0)
    return serve_reply_isola_error (r, err);
  /* ?v: its anonymous volumes go with it (named ones stay), as with rm -v. */
  if (serve_query_bool (r, "v"))
    (void)volume_release_anonymous (s->root, mounts, NULL);
  return serve_reply_empty (r, 204);
}

static enum MHD_Result
top (struct serve_request *r, struct isola_store *s, struct container *c)
{
  if (!container_is_running (c))
    return serve_reply_error (r, 409, "Container %s is not running", c->id);
  const char *ps_args = serve_query (r, "ps_args");
  if (ps_args && *ps_args && strcmp (ps_args, "-ef") != 0)
    return serve_reply_error (r, 400, "isola top shows ps -ef's columns only: ps_args %s is not supported", ps_args);
  cleanup_error isola_error_t err = NULL;
  json_t *rows = NULL;
  if (driver_of (c)->top (c, &rows, &err) < 0)
    return serve_reply_isola_error (r, err);
  /* The driver's rows start with ps's header, which Docker gives as Titles. */
  if (json_array_size (rows) > 0
      && strcmp (json_string_value (json_array_get (json_array_get (rows, 0), 0)) ?: "", "UID") == 0)
    json_array_remove (rows, 0);
  return serve_reply_json (r, 200,
                           json_pack ("{s:[s,s,s,s,s,s,s,s], s:o}", "Titles", "UID", "PID", "PPID", "C", "STIME", "TTY",
                                      "TIME", "CMD", "Processes", rows));
}

static enum MHD_Result
rename_container (struct serve_request *r)
{
  const char *name = serve_query (r, "name");
  if (name == NULL || *name == '\0')
    return serve_reply_error (r, 400, "Neither old nor new names may be empty");
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  if (store_open (serve_root, STORE_LOCK_EXCLUSIVE, &s, &err) < 0
      || container_rename_logged (s, r->arg[0], name[0] == '/' ? name + 1 : name, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_empty (r, 204);
}

static enum MHD_Result
pause_or_unpause (struct serve_request *r, struct container *c, bool pause)
{
  cleanup_error isola_error_t err = NULL;
  if ((pause ? container_pause : container_unpause) (c, &err) < 0)
    return serve_reply_error (r, err->status == EINVAL ? 409 : serve_status_of (err->status), "%s", err->msg);
  return serve_reply_empty (r, 204);
}

/* The terminal's size, sent to the monitor over a session of its own. */
static enum MHD_Result
pause_container (struct serve_request *r, struct isola_store *s, struct container *c)
{
  return pause_or_unpause (r, c, true);
}

static enum MHD_Result
unpause_container (struct serve_request *r, struct isola_store *s, struct container *c)
{
  return pause_or_unpause (r, c, false);
}

static enum MHD_Result
resize (struct serve_request *r, struct isola_store *s, struct container *c)
{
  long long h = serve_query_int (r, "h", -1), w = serve_query_int (r, "w", -1);
  if (h < 0 || w < 0 || h > 65535 || w > 65535)
    return serve_reply_error (r, 400, "invalid size: h=%s w=%s", serve_query (r, "h") ?: "",
                              serve_query (r, "w") ?: "");
  if (!container_is_running (c))
    return serve_reply_error (r, 409, "Container %s is not running", c->id);
  cleanup_error isola_error_t err = NULL;
  if (serve_send_resize (c, NULL, (unsigned)h, (unsigned)w, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_empty (r, 200);
}

int
serve_send_resize (struct container *c, int *session, unsigned rows, unsigned cols, isola_error_t *err)
{
  uint8_t p[4] = { (uint8_t)(rows >> 8), (uint8_t)rows, (uint8_t)(cols >> 8), (uint8_t)cols };
  if (session)
    return attach_send (*session, ATTACH_RESIZE, p, 4);
  struct attach_decoder dec;
  attach_decoder_init (&dec);
  int fd = -1;
  int ret = container_attach (c, &fd, &dec, err);
  attach_decoder_clear (&dec);
  if (ret < 0)
    return ret;
  ret = attach_send (fd, ATTACH_RESIZE, p, 4);
  close (fd);
  return ret;
}

enum MHD_Result
serve_container_routes (struct serve_request *r, const struct serve_container_route *routes, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (serve_route (r, routes[i].method, routes[i].pattern))
      {
        enum MHD_Result reply;
        cleanup_store struct isola_store *s = NULL;
        cleanup_container struct container *c = NULL;
        if (serve_load_container (r, r->arg[0], &s, &c, &reply) < 0)
          return reply;
        return routes[i].fn (r, s, c);
      }
  return SERVE_NOT_MINE;
}

static const struct serve_container_route routes[] = {
  { "GET", "/containers/*/json", inspect },
  { "POST", "/containers/*/start", start },
  { "POST", "/containers/*/stop", stop },
  { "POST", "/containers/*/restart", restart },
  { "POST", "/containers/*/kill", kill_container },
  { "DELETE", "/containers/*", remove_container },
  { "GET", "/containers/*/top", top },
  { "POST", "/containers/*/pause", pause_container },
  { "POST", "/containers/*/unpause", unpause_container },
  { "POST", "/containers/*/resize", resize },
  { "POST", "/containers/*/attach", serve_attach },
  { "POST", "/containers/*/wait", serve_wait },
  { "GET", "/containers/*/logs", serve_logs },
};

enum MHD_Result
serve_containers (struct serve_request *r)
{
  if (serve_route (r, "POST", "/containers/create"))
    return create (r);
  if (serve_route (r, "GET", "/containers/json"))
    return list (r);
  if (serve_route (r, "POST", "/containers/*/rename"))
    return rename_container (r);
  return serve_container_routes (r, routes, ARRAY_SIZE (routes));
}

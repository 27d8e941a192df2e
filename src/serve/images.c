/* Image endpoints: list, inspect, tag, remove, load (the body is an archive), get (save, streamed from a thread
   through a pipe), and create (pull, through the registry client: image/pull_remote.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "image/history.h"
#include "image/image.h"
#include "image/load.h"
#include "auth.h"
#include "image/pull_remote.h"
#include "image/push.h"
#include "image/remove.h"
#include "image/save.h"
#include "serve.h"
#include "store/store.h"

static int64_t
seconds_of (const char *rfc3339)
{
  int64_t t = 0;
  return rfc3339 && time_parse_rfc3339 (rfc3339, &t) == 0 ? t : 0;
}

/* Docker's types.ImageSummary, from the image's inspect. */
static json_t *
summary_of (json_t *inspect)
{
  json_t *labels = json_object_get (json_object_get (inspect, "Config"), "Labels");
  json_t *tags = json_object_get (inspect, "RepoTags");
  json_t *size = json_object_get (inspect, "Size");
  return json_pack ("{s:O, s:s, s:O, s:O, s:I, s:O, s:O, s:i, s:O, s:i}", "Id", json_object_get (inspect, "Id"),
                    "ParentId", "", "RepoTags", tags ? tags : json_array (), "RepoDigests",
                    json_object_get (inspect, "RepoDigests") ?: json_array (), "Created",
                    (json_int_t)seconds_of (json_string_value (json_object_get (inspect, "Created"))), "Size",
                    size ? size : json_integer (0), "VirtualSize", size ? size : json_integer (0), "SharedSize", -1,
                    "Labels", json_is_object (labels) ? labels : json_object (), "Containers", -1);
}

static enum MHD_Result
list (struct serve_request *r)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  cleanup_strv char **ids = NULL;
  cleanup_json json_t *refs = NULL;
  if (store_open (serve_root, STORE_LOCK_SHARED, &s, &err) < 0 || refs_read (s, &refs, &err) < 0
      || image_list_ids (s, &ids, &err) < 0)
    return serve_reply_isola_error (r, err);
  /* ?all: isola keeps no intermediate images, so all and not all list the same. */
  json_t *out = json_array ();
  for (size_t i = 0; ids && ids[i]; i++)
    {
      cleanup_json json_t *inspect = NULL;
      if (image_inspect_json (s, refs, ids[i], &inspect, NULL) == 0)
        json_array_append_new (out, summary_of (inspect));
    }
  return serve_reply_json (r, 200, out);
}

static enum MHD_Result
inspect (struct serve_request *r)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  cleanup_json json_t *refs = NULL;
  json_t *out = NULL;
  digest_hex_t id;
  if (store_open (serve_root, STORE_LOCK_SHARED, &s, &err) < 0 || refs_read (s, &refs, &err) < 0
      || image_resolve (s, refs, r->arg[0], id, &err) < 0 || image_inspect_json (s, refs, id, &out, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_json (r, 200, out);
}

/* Docker's HistoryResponseItem rows, newest first. */
static enum MHD_Result
history (struct serve_request *r)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  cleanup_json json_t *refs = NULL;
  digest_hex_t id;
  struct image_history_row *rows = NULL;
  size_t n = 0;
  if (store_open (serve_root, STORE_LOCK_SHARED, &s, &err) < 0 || refs_read (s, &refs, &err) < 0
      || image_resolve (s, refs, r->arg[0], id, &err) < 0 || image_history (s, id, &rows, &n, &err) < 0)
    return serve_reply_isola_error (r, err);
  json_t *out = json_array ();
  for (size_t i = 0; i < n; i++)
    {
      json_t *tags = NULL;
      cleanup_json json_t *inspect = NULL;
      if (rows[i].id[0] && image_inspect_json (s, refs, rows[i].id, &inspect, NULL) == 0
          && json_array_size (json_object_get (inspect, "RepoTags")) > 0)
        tags = json_incref (json_object_get (inspect, "RepoTags"));
      json_array_append_new (
          out, json_pack ("{s:o, s:I, s:s, s:o, s:I, s:s}", "Id",
                          rows[i].id[0] ? json_sprintf ("sha256:%s", rows[i].id) : json_string ("<missing>"), "Created",
                          (json_int_t)rows[i].created, "CreatedBy", rows[i].created_by ? rows[i].created_by : "",
                          "Tags", tags ? tags : json_null (), "Size", (json_int_t)rows[i].size, "Comment",
                          rows[i].comment ? rows[i].comment : ""));
    }
  image_history_free (rows, n);
  return serve_reply_json (r, 200, out);
}

static enum MHD_Result
tag (struct serve_request *r)
{
  const char *repo = serve_query (r, "repo"), *t = serve_query (r, "tag");
  if (repo == NULL || *repo == '\0')
    return serve_reply_error (r, 400, "repository name must have at least one component");
  cleanup_free char *target = t && *t ? xasprintf ("%s:%s", repo, t) : xstrdup (repo);
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  cleanup_json json_t *refs = NULL;
  digest_hex_t id;
  if (store_open (serve_root, STORE_LOCK_EXCLUSIVE, &s, &err) < 0 || refs_read (s, &refs, &err) < 0
      || image_resolve (s, refs, r->arg[0], id, &err) < 0 || image_tag (s, id, target, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_empty (r, 201);
}

static enum MHD_Result
remove_image (struct serve_request *r)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  struct rmi_report rep = { 0 };
  if (store_open (serve_root, STORE_LOCK_COLLECT, &s, &err) < 0
      || image_remove (s, r->arg[0], serve_query_bool (r, "force"), &rep, &err) < 0)
    {
      rmi_report_clear (&rep);
      return serve_reply_isola_error (r, err);
    }
  json_t *out = json_array ();
  for (size_t i = 0; rep.untagged && rep.untagged[i]; i++)
    json_array_append_new (out, json_pack ("{s:s}", "Untagged", rep.untagged[i]));
  for (size_t i = 0; rep.deleted && rep.deleted[i]; i++)
    json_array_append_new (out, json_pack ("{s:s}", "Deleted", rep.deleted[i]));
  rmi_report_clear (&rep);
  return serve_reply_json (r, 200, out);
}

/* The body is in r->body_fd (http.c streams it there). */
static enum MHD_Result
load (struct serve_request *r)
{
  if (r->body_fd < 0 || lseek (r->body_fd, 0, SEEK_SET) < 0)
    return serve_reply_error (r, 500, "the request body was not kept");
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  struct load_result res = { 0 };
  if (store_open (serve_root, STORE_LOCK_NONE, &s, &err) < 0 || image_load (s, r->body_fd, &res, &err) < 0)
    {
      load_result_clear (&res);
      return serve_reply_isola_error (r, err);
    }
  /* As dockerd with quiet=0: a JSON message a line. */
  cleanup_free char *text = xstrdup ("");
  for (size_t i = 0; i < res.n_images; i++)
    {
      char **tags = res.images[i].tags;
      for (size_t t = 0; tags[t]; t++)
        {
          cleanup_json json_t *m = json_pack ("{s:o}", "stream", json_sprintf ("Loaded image: %s\n", tags[t]));
          cleanup_free char *line = json_dumps (m, JSON_COMPACT);
          char *next = xasprintf ("%s%s\n", text, line);
          free (text);
          text = next;
        }
      if (tags[0] == NULL)
        {
          cleanup_json json_t *m
              = json_pack ("{s:o}", "stream", json_sprintf ("Loaded image ID: sha256:%s\n", res.images[i].id));
          cleanup_free char *line = json_dumps (m, JSON_COMPACT);
          char *next = xasprintf ("%s%s\n", text, line);
          free (text);
          text = next;
        }
    }
  load_result_clear (&res);
  return serve_reply (r, 200, "application/json", text, strlen (text));
}

/* --- get (save) ----------------------------------------------------------------------------------------------- */

struct save_job
{
  char **names;
  int fd; /* the pipe's write end */
};

static void *
save_thread (void *arg)
{
  struct save_job *j = arg;
  cleanup_store struct isola_store *s = NULL;
  if (store_open (serve_root, STORE_LOCK_SHARED, &s, NULL) == 0)
    (void)image_save (s, j->names, j->fd, NULL);
  /* A failure midway ends the stream short, which the client's tar reader notices. */
  close (j->fd);
  strv_free (j->names);
  free (j);
  return NULL;
}

static enum MHD_Result
add_name (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
  if (strcmp (key, "names") == 0 && value && *value)
    strv_push (cls, value);
  return MHD_YES;
}

static enum MHD_Result
get (struct serve_request *r, const char *one)
{
  char **names = xcalloc (1, sizeof (char *));
  if (one)
    strv_push (&names, one);
  else
    MHD_get_connection_values (r->conn, MHD_GET_ARGUMENT_KIND, add_name, &names);
  if (names[0] == NULL)
    {
      strv_free (names);
      return serve_reply_error (r, 400, "no image names given");
    }
  /* Every name is checked before the 200 goes, so that a missing image is Docker's 404. */
  {
    cleanup_error isola_error_t err = NULL;
    cleanup_store struct isola_store *s = NULL;
    cleanup_json json_t *refs = NULL;
    digest_hex_t id;
    int ret = store_open (serve_root, STORE_LOCK_SHARED, &s, &err);
    if (ret == 0)
      ret = refs_read (s, &refs, &err);
    for (size_t i = 0; ret == 0 && names[i]; i++)
      ret = image_resolve (s, refs, names[i], id, &err);
    if (ret < 0)
      {
        strv_free (names);
        return serve_reply_isola_error (r, err);
      }
  }
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    {
      strv_free (names);
      return serve_reply_error (r, 500, "pipe: %s", strerror (errno));
    }
  struct save_job *j = xmalloc (sizeof *j);
  *j = (struct save_job){ names, p[1] };
  pthread_t t;
  if (pthread_create (&t, NULL, save_thread, j) != 0)
    {
      close (p[0]), close (p[1]);
      strv_free (names);
      free (j);
      return serve_reply_error (r, 500, "cannot start the archive's writer");
    }
  pthread_detach (t);
  return serve_reply_pipe (r, p[0], "application/x-tar");
}

/* Docker's progress messages of a pull, one JSON object a line; the byte counts of a download are left out (the
   reply is sent once the pull is over, so they would only make it longer). */
static void
on_pull_progress (void *arg, enum pull_event ev, const char *id, int64_t done, int64_t total)
{
  (void)done, (void)total;
  static const char *const texts[] = {
    [PULL_HEADER] = NULL,
    [PULL_LAYER_EXISTS] = "Already exists",
    [PULL_LAYER_WAITING] = "Pulling fs layer",
    [PULL_LAYER_DOWNLOADING] = NULL,
    [PULL_LAYER_VERIFIED] = "Download complete",
    [PULL_LAYER_EXTRACTING] = "Extracting",
    [PULL_LAYER_COMPLETE] = "Pull complete",
  };
  json_t *lines = arg;
  if (ev == PULL_HEADER)
    json_array_append_new (lines, json_pack ("{s:s}", "status", id));
  else if ((size_t)ev < sizeof texts / sizeof texts[0] && texts[ev])
    json_array_append_new (lines, json_pack ("{s:s, s:s}", "status", texts[ev], "id", id));
}

/* Whether the client of a pull or push has gone (its connection's socket fd closed by the peer): checked at most
   four times a second, as the registry client asks at every turn of a transfer. */
struct client_watch
{
  int fd;
  struct timespec checked;
  bool gone;
};

static bool
client_watch_gone (void *arg)
{
  struct client_watch *w = arg;
  struct timespec now;
  clock_gettime (CLOCK_MONOTONIC, &now);
  long long ms = (now.tv_sec - w->checked.tv_sec) * 1000LL + (now.tv_nsec - w->checked.tv_nsec) / 1000000;
  if (!w->gone && ms >= 250)
    {
      w->checked = now;
      w->gone = serve_fd_gone (w->fd);
    }
  return w->gone;
}

static enum MHD_Result
create (struct serve_request *r)
{
  const char *from = serve_query (r, "fromImage"), *t = serve_query (r, "tag");
  if (serve_query (r, "fromSrc"))
    return serve_reply_error (r, 501, "isola serve does not import over the API yet: use isola import");
  if (from == NULL || *from == '\0')
    return serve_reply_error (r, 400, "fromImage is required");
  cleanup_free char *ref = t && *t && !strchr (from, '@') ? xasprintf ("%s:%s", from, t) : xstrdup (from);
  cleanup_error isola_error_t err = NULL;
  cleanup_json json_t *lines = json_array ();
  struct registry_auth_header auth = { 0 };
  struct registry_login login;
  (void)serve_registry_login (r, &auth, &login);
  /* A client that leaves ends the pull (a registry that never answers would hold this thread until its timeout). */
  struct client_watch client = { .fd = serve_client_fd (r->conn) };
  login.gone = client_watch_gone, login.gone_arg = &client;
  struct pull_options opts = { .platform = serve_query (r, "platform"), .login = &login };
  if (opts.platform && !*opts.platform)
    opts.platform = NULL;
  struct pull_result res = { 0 };
  int ret = image_pull_remote (serve_root, ref, &opts, on_pull_progress, lines, &res, &err);
  registry_auth_header_clear (&auth);
  if (ret < 0)
    return serve_reply_error (r, serve_status_of (err ? err->status : EIO), "%s", err ? err->msg : "cannot pull");
  json_array_append_new (lines, json_pack ("{s:o}", "status", json_sprintf ("Digest: sha256:%s", res.repo_digest)));
  json_array_append_new (lines, json_pack ("{s:s+++}", "status", "Status: ",
                                           res.up_to_date ? "Image is up to date" : "Downloaded newer image", " for ",
                                           res.familiar));
  pull_result_clear (&res);
  cleanup_free char *body = xstrdup ("");
  size_t i;
  json_t *line;
  json_array_foreach (lines, i, line)
  {
    cleanup_free char *text = json_dumps (line, JSON_COMPACT);
    char *next = xasprintf ("%s%s\r\n", body, text);
    free (body);
    body = next;
  }
  return serve_reply (r, 200, "application/json", body, strlen (body));
}

/* --- push: the registry client in a thread, its progress streamed through a pipe as Docker's JSON lines ------- */

struct push_job
{
  char *ref;
  int fd; /* the pipe's write end */
  struct registry_auth_header auth;
  struct registry_login login; /* credentials into auth, or none (the server's config.json); the watch of client */
  struct client_watch client;  /* fd: a dup of the connection's socket, which the request may close before us */
};

static void
push_line (int fd, json_t *line)
{
  cleanup_free char *text = json_dumps (line, JSON_COMPACT);
  json_decref (line);
  cleanup_free char *out = xasprintf ("%s\r\n", text ? text : "{}");
  /* A client that left: nobody hears it; the registry client sees it gone at its next check and ends the push. */
  (void)write_all (fd, out, strlen (out));
}

static void
on_push_progress (void *arg, const struct push_progress *p)
{
  static const char *const texts[] = {
    [PUSH_LAYER_PREPARING] = "Preparing",
    [PUSH_LAYER_EXISTS] = "Layer already exists",
    [PUSH_LAYER_PUSHING] = "Pushing",
    [PUSH_LAYER_PUSHED] = "Pushed",
  };
  int fd = *(int *)arg;
  if (p->ev == PUSH_HEADER)
    push_line (fd, json_pack ("{s:s}", "status", p->id));
  else if (p->ev == PUSH_LAYER_MOUNTED)
    push_line (fd, json_pack ("{s:o, s:{}, s:s}", "status", json_sprintf ("Mounted from %s", p->from ? p->from : ""),
                              "progressDetail", "id", p->id));
  else if (p->ev == PUSH_LAYER_PUSHING)
    push_line (fd, json_pack ("{s:s, s:{s:I, s:I}, s:s}", "status", "Pushing", "progressDetail", "current",
                              (json_int_t)p->done, "total", (json_int_t)p->total, "id", p->id));
  else if ((size_t)p->ev < ARRAY_SIZE (texts) && texts[p->ev])
    push_line (fd, json_pack ("{s:s, s:{}, s:s}", "status", texts[p->ev], "progressDetail", "id", p->id));
}

static void *
push_thread (void *arg)
{
  struct push_job *j = arg;
  cleanup_error isola_error_t err = NULL;
  struct push_result res = { 0 };
  if (image_push (serve_root, j->ref, &j->login, on_push_progress, &j->fd, &res, &err) < 0)
    {
      /* As dockerd once the stream has begun: the error in it. */
      const char *msg = err ? err->msg : "the push failed";
      push_line (j->fd, json_pack ("{s:{s:s}, s:s}", "errorDetail", "message", msg, "error", msg));
    }
  else
    {
      push_line (j->fd, json_pack ("{s:o}", "status",
                                   json_sprintf ("%s: digest: sha256:%s size: %zu", res.tag, res.digest, res.size)));
      push_line (j->fd, json_pack ("{s:{}, s:{s:s, s:o, s:I}}", "progressDetail", "aux", "Tag", res.tag, "Digest",
                                   json_sprintf ("sha256:%s", res.digest), "Size", (json_int_t)res.size));
    }
  push_result_clear (&res);
  /* The watch first: the connection must not outlive its response's end through our dup of its socket. */
  if (j->client.fd >= 0)
    close (j->client.fd);
  close (j->fd);
  free (j->ref);
  registry_auth_header_clear (&j->auth);
  free (j);
  return NULL;
}

static enum MHD_Result
push (struct serve_request *r)
{
  const char *t = serve_query (r, "tag");
  cleanup_free char *ref = t && *t ? xasprintf ("%s:%s", r->arg[0], t) : xstrdup (r->arg[0]);
  /* What is not in the store is refused before the stream begins. */
  {
    cleanup_error isola_error_t err = NULL;
    cleanup_store struct isola_store *s = NULL;
    cleanup_json json_t *refs = NULL;
    digest_hex_t id;
    if (store_open (serve_root, STORE_LOCK_SHARED, &s, &err) < 0 || refs_read (s, &refs, &err) < 0)
      return serve_reply_isola_error (r, err);
    if (image_resolve (s, refs, ref, id, NULL) < 0)
      return serve_reply_error (r, 404, "An image does not exist locally with the tag: %s", r->arg[0]);
  }
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return serve_reply_error (r, 500, "pipe: %s", strerror (errno));
  struct push_job *j = xcalloc (1, sizeof *j);
  j->ref = take_ptr (&ref);
  j->fd = p[1];
  (void)serve_registry_login (r, &j->auth, &j->login);
  /* A client that leaves ends the push, as a pull: the thread outlives this callback, so it watches a dup of the
     socket (the connection stays until the pipe ends, but its fd is libmicrohttpd's). */
  j->client.fd = fcntl (serve_client_fd (r->conn), F_DUPFD_CLOEXEC, 3);
  j->login.gone = client_watch_gone, j->login.gone_arg = &j->client;
  pthread_t thread;
  if (pthread_create (&thread, NULL, push_thread, j) != 0)
    {
      if (j->client.fd >= 0)
        close (j->client.fd);
      close (p[0]), close (p[1]);
      free (j->ref);
      registry_auth_header_clear (&j->auth);
      free (j);
      return serve_reply_error (r, 500, "cannot start the push");
    }
  pthread_detach (thread);
  return serve_reply_pipe (r, p[0], "application/json");
}

enum MHD_Result
serve_images (struct serve_request *r)
{
  if (serve_route (r, "GET", "/images/json"))
    return list (r);
  if (serve_route (r, "POST", "/images/load"))
    return load (r);
  if (serve_route (r, "GET", "/images/get"))
    return get (r, NULL);
  if (serve_route (r, "POST", "/images/create"))
    return create (r);
  if (serve_route (r, "GET", "/images/**/json"))
    return inspect (r);
  if (serve_route (r, "POST", "/images/**/push"))
    return push (r);
  if (serve_route (r, "GET", "/images/**/history"))
    return history (r);
  if (serve_route (r, "GET", "/images/**/get"))
    return get (r, r->arg[0]);
  if (serve_route (r, "POST", "/images/**/tag"))
    return tag (r);
  if (serve_route (r, "DELETE", "/images/**"))
    return remove_image (r);
  return SERVE_NOT_MINE;
}

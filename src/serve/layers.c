/* The endpoints over a container's file system, each a job in a child process (serve/job.h): archive (HEAD and GET
   stat and read a path, PUT extracts a tar into a directory: `docker cp`, container/copy.h), changes (`docker
   diff`), export, and commit (container/layer.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "container/copy.h"
#include "container/layer.h"
#include "containers.h"
#include "image/reference.h"
#include "job.h"
#include "serve.h"

/* What a job does its work on.  The child opens the store and the container again: it has none of the server's
   descriptors (serve/job.h), the store's lock files included. */
struct fs_job
{
  char id[DIGEST_HEX_LEN + 1];
  struct isola_store *s; /* the child's */
  struct container *c;
  const char *label; /* the container as the client named it */
  const char *path;
  int body_fd;
  bool copy_ids;
  bool pause;
  struct commit_options commit;
};

/* A job on c for r (the container as the client named it, the path's first variable). */
static struct fs_job
fs_job_of (struct serve_request *r, struct container *c)
{
  struct fs_job f = { .label = r->arg[0], .body_fd = -1 };
  memcpy (f.id, c->id, sizeof f.id);
  return f;
}

/* In the child: f's store and container (freed with the child). */
static int
open_container (struct fs_job *f, isola_error_t *err)
{
  int ret = store_open (serve_root, STORE_LOCK_NONE, &f->s, err);
  if (ret == 0)
    ret = container_load_any (f->s, f->id, &f->c, err);
  if (ret == 0)
    ret = container_refresh (f->c, err);
  return ret;
}

/* --- archive ------------------------------------------------------------------------------------------------- */

static void
send_stat (void *arg, const struct container_path_stat *st)
{
  (void)serve_job_send (*(int *)arg, json_pack ("{s:o}", "stat", container_path_stat_json (st)));
}

static int
archive_get_job (void *arg, int msg, int data, isola_error_t *err)
{
  struct fs_job *f = arg;
  int opened = open_container (f, err);
  if (opened < 0)
    return opened;
  return container_archive_get (f->s, f->c, f->path, f->label, data, send_stat, &msg, err);
}

/* The header's value: the stat's JSON in base64 (Go's StdEncoding). */
static char *
stat_header (json_t *stat)
{
  cleanup_free char *text = json_dumps (stat, JSON_COMPACT);
  size_t n = strlen (text);
  char *out = xmalloc (4 * ((n + 2) / 3) + 1);
  EVP_EncodeBlock ((unsigned char *)out, (const unsigned char *)text, (int)n);
  return out;
}

static enum MHD_Result
archive_get (struct serve_request *r, struct fs_job *f)
{
  bool head = strcmp (r->method, "HEAD") == 0;
  struct serve_job j;
  cleanup_error isola_error_t err = NULL;
  if (serve_job_start (archive_get_job, f, !head, &j, &err) < 0)
    return serve_reply_isola_error (r, err);
  json_t *m = NULL;
  if (serve_job_next (&j, &m) != 1 || json_object_get (m, "stat") == NULL)
    {
      json_decref (m);
      return serve_job_reply_error (r, &j);
    }
  cleanup_free char *value = stat_header (json_object_get (m, "stat"));
  json_decref (m);
  if (!head)
    return serve_job_reply_stream (r, &j, "application/x-tar", "X-Docker-Container-Path-Stat", value);
  if (serve_job_finish (&j, &err) < 0)
    return serve_reply_isola_error (r, err);
  struct MHD_Response *resp = MHD_create_response_from_buffer (0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (resp)
    {
      MHD_add_response_header (resp, "X-Docker-Container-Path-Stat", value);
      MHD_add_response_header (resp, "Content-Type", "application/json");
    }
  return serve_reply_response (r, 200, resp);
}

static void
check_extraction_point (void *arg, const struct container_path_stat *st)
{
  *(bool *)arg = (st->mode & (1u << 31)) != 0;
}

static int
archive_put_job (void *arg, int msg, int data, isola_error_t *err)
{
  struct fs_job *f = arg;
  int opened = open_container (f, err);
  if (opened < 0)
    return opened;
  bool is_dir = false;
  /* dockerd's answers first: a path that is not there (404), or not a directory (400). */
  int ret = container_archive_get (f->s, f->c, f->path, f->label, -1, check_extraction_point, &is_dir, err);
  if (ret < 0)
    return ret;
  if (!is_dir)
    return isola_error_fail (err, ENOTDIR, "extraction point is not a directory"); /* dockerd: 500 */
  struct copy_options o = { .label = f->label, .archive = f->copy_ids, .stdio_fd = f->body_fd };
  return container_copy_in (f->s, f->c, "-", f->path, &o, err);
}

static enum MHD_Result
archive_put (struct serve_request *r, struct fs_job *f)
{
  if (r->body_fd < 0 || lseek (r->body_fd, 0, SEEK_SET) < 0)
    return serve_reply_error (r, 500, "the request body was not kept");
  f->body_fd = r->body_fd;
  f->copy_ids = serve_query_bool (r, "copyUIDGID");
  struct serve_job j;
  cleanup_error isola_error_t err = NULL;
  if (serve_job_start_keeping (archive_put_job, f, false, r->body_fd, &j, &err) < 0 || serve_job_finish (&j, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_empty (r, 200);
}

static enum MHD_Result
archive (struct serve_request *r, struct isola_store *s, struct container *c)
{
  struct fs_job job = fs_job_of (r, c), *f = &job;
  f->path = serve_query (r, "path");
  if (f->path == NULL || *f->path == '\0')
    return serve_reply_error (r, 400, "bad parameter: pathcannot be empty"); /* dockerd's words */
  return strcmp (r->method, "PUT") == 0 ? archive_put (r, f) : archive_get (r, f);
}

/* --- changes, export ----------------------------------------------------------------------------------------- */

static int
changes_job (void *arg, int msg, int data, isola_error_t *err)
{
  struct fs_job *f = arg;
  int opened = open_container (f, err);
  if (opened < 0)
    return opened;
  struct layer_change *changes = NULL;
  size_t n = 0;
  int ret = container_changes (f->s, f->c, &changes, &n, err);
  if (ret < 0)
    return ret;
  json_t *out = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (out, json_pack ("{s:s, s:i}", "Path", changes[i].path, "Kind", (int)changes[i].kind));
  layer_changes_free (changes, n);
  return serve_job_send (msg, json_pack ("{s:o}", "result", out));
}

static enum MHD_Result
changes (struct serve_request *r, struct isola_store *s, struct container *c)
{
  struct fs_job job = fs_job_of (r, c), *f = &job;
  return serve_job_reply_result (r, changes_job, f, 200);
}

static int
export_job (void *arg, int msg, int data, isola_error_t *err)
{
  struct fs_job *f = arg;
  int opened = open_container (f, err);
  if (opened < 0)
    return opened;
  return container_export (f->s, f->c, data, err);
}

static enum MHD_Result
export_container (struct serve_request *r, struct isola_store *s, struct container *c)
{
  struct fs_job job = fs_job_of (r, c), *f = &job;
  struct serve_job j;
  cleanup_error isola_error_t err = NULL;
  if (serve_job_start (export_job, f, true, &j, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_job_reply_stream (r, &j, "application/x-tar", NULL, NULL);
}

/* --- commit -------------------------------------------------------------------------------------------------- */

static int
commit_job (void *arg, int msg, int data, isola_error_t *err)
{
  struct fs_job *f = arg;
  int opened = open_container (f, err);
  if (opened < 0)
    return opened;
  digest_hex_t id;
  int ret = container_commit (f->s, f->c, f->pause, &f->commit, id, err);
  if (ret < 0)
    return ret;
  return serve_job_send (msg, json_pack ("{s:{s:s+}}", "result", "Id", "sha256:", id));
}

static enum MHD_Result
add_change (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
  if (strcmp (key, "changes") == 0 && value && *value)
    strv_push (cls, value);
  return MHD_YES;
}

/* The body is a Config to commit instead of the container's (the docker CLI sends null); isola commits the
   container's own, with the changes. */
static bool
body_has_config (const struct serve_request *r)
{
  if (r->body_len == 0)
    return false;
  cleanup_json json_t *j = json_loadb (r->body, r->body_len, JSON_DECODE_ANY, NULL);
  return !(json_is_null (j) || (json_is_object (j) && json_object_size (j) == 0));
}

static enum MHD_Result
commit (struct serve_request *r)
{
  const char *container = serve_query (r, "container"), *repo = serve_query (r, "repo"), *tag = serve_query (r, "tag");
  if (container == NULL || *container == '\0')
    return serve_reply_error (r, 400, "No container specified");
  if (body_has_config (r))
    return serve_reply_error (r, 400,
                              "isola commit takes no Config in the body: use changes (Dockerfile instructions)");
  cleanup_free char *ref = NULL;
  if (repo && *repo)
    {
      cleanup_free char *given = tag && *tag ? xasprintf ("%s:%s", repo, tag) : xstrdup (repo);
      cleanup_error isola_error_t err = NULL;
      struct image_ref parsed = { 0 };
      if (image_ref_parse_tagged (given, &parsed, &err) < 0)
        return serve_reply_isola_error (r, err);
      ref = image_ref_string (&parsed);
      image_ref_clear (&parsed);
    }
  enum MHD_Result reply;
  cleanup_store struct isola_store *s = NULL;
  cleanup_container struct container *c = NULL;
  if (serve_load_container (r, container, &s, &c, &reply) < 0)
    return reply;
  cleanup_strv char **changes = xcalloc (1, sizeof (char *));
  MHD_get_connection_values (r->conn, MHD_GET_ARGUMENT_KIND, add_change, &changes);
  const char *pause = serve_query (r, "pause");
  struct fs_job f = {
    .label = container,
    /* dockerd: pause unless the client says otherwise */
    .pause = pause == NULL || *pause == '\0' || serve_query_bool (r, "pause"),
    .commit
    = { .tag = ref, .changes = changes, .author = serve_query (r, "author"), .comment = serve_query (r, "comment") }
  };
  memcpy (f.id, c->id, sizeof f.id);
  return serve_job_reply_result (r, commit_job, &f, 201);
}

/* --- routes -------------------------------------------------------------------------------------------------- */

static const struct serve_container_route routes[] = {
  { "GET", "/containers/*/archive", archive },
  { "PUT", "/containers/*/archive", archive },
  { "GET", "/containers/*/changes", changes },
  { "GET", "/containers/*/export", export_container },
};

enum MHD_Result
serve_layers (struct serve_request *r)
{
  if (serve_route (r, "POST", "/commit"))
    return commit (r);
  return serve_container_routes (r, routes, ARRAY_SIZE (routes));
}

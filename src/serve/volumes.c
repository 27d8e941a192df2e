/* Volume endpoints (the local driver, container/volume.h): list, create, inspect, remove, prune. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "container/volume.h"
#include "serve.h"
#include "store/store.h"

static enum MHD_Result
list (struct serve_request *r)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  cleanup_strv char **names = NULL;
  if (store_open (serve_root, STORE_LOCK_SHARED, &s, &err) < 0 || volume_list (s, &names, &err) < 0)
    return serve_reply_isola_error (r, err);
  json_t *vols = json_array ();
  for (size_t i = 0; names[i]; i++)
    {
      json_t *v = NULL;
      if (volume_inspect_json (s, names[i], &v, NULL) == 0)
        json_array_append_new (vols, v);
    }
  return serve_reply_json (r, 200, json_pack ("{s:o, s:[]}", "Volumes", vols, "Warnings"));
}

static enum MHD_Result
create (struct serve_request *r)
{
  enum MHD_Result reply;
  cleanup_json json_t *body = serve_body_json (r, &reply);
  if (body == NULL)
    return reply;
  const char *driver = json_string_value (json_object_get (body, "Driver"));
  if (driver && *driver && strcmp (driver, "local") != 0)
    return serve_reply_error (r, 404, "error looking up volume plugin %s: plugin \"%s\" not found", driver, driver);
  json_t *opts = json_object_get (body, "DriverOpts");
  if (json_object_size (opts) > 0)
    return serve_reply_error (r, 400, "isola's local volumes take no driver options");
  const char *name = json_string_value (json_object_get (body, "Name"));
  json_t *labels = json_object_get (body, "Labels");
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  cleanup_free char *made = NULL;
  json_t *out = NULL;
  if (store_open (serve_root, STORE_LOCK_EXCLUSIVE, &s, &err) < 0
      || volume_create (s, name && *name ? name : NULL, json_is_object (labels) ? labels : NULL, &made, NULL, &err) < 0
      || volume_inspect_json (s, made, &out, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_json (r, 201, out);
}

static enum MHD_Result
inspect (struct serve_request *r)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  json_t *out = NULL;
  if (store_open (serve_root, STORE_LOCK_SHARED, &s, &err) < 0 || volume_inspect_json (s, r->arg[0], &out, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_json (r, 200, out);
}

static enum MHD_Result
remove_volume (struct serve_request *r)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  if (store_open (serve_root, STORE_LOCK_EXCLUSIVE, &s, &err) < 0 || volume_remove (s, r->arg[0], &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_empty (r, 204);
}

static enum MHD_Result
prune (struct serve_request *r)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  cleanup_strv char **removed = NULL;
  int64_t reclaimed = 0;
  /* API 1.41 prunes every unused volume; only 1.42 (Docker 23) keeps named ones unless filters has all=true. */
  if (store_open (serve_root, STORE_LOCK_EXCLUSIVE, &s, &err) < 0
      || volume_prune (s, true, &removed, &reclaimed, &err) < 0)
    return serve_reply_isola_error (r, err);
  json_t *names = json_array ();
  for (size_t i = 0; removed && removed[i]; i++)
    json_array_append_new (names, json_string (removed[i]));
  return serve_reply_json (r, 200,
                           json_pack ("{s:o, s:I}", "VolumesDeleted", names, "SpaceReclaimed", (json_int_t)reclaimed));
}

enum MHD_Result
serve_volumes (struct serve_request *r)
{
  if (serve_route (r, "GET", "/volumes"))
    return list (r);
  if (serve_route (r, "POST", "/volumes/create"))
    return create (r);
  if (serve_route (r, "POST", "/volumes/prune"))
    return prune (r);
  if (serve_route (r, "GET", "/volumes/*"))
    return inspect (r);
  if (serve_route (r, "DELETE", "/volumes/*"))
    return remove_volume (r);
  return SERVE_NOT_MINE;
}

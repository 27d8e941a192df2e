/* What frees space: POST /containers/prune, /images/prune, /volumes/prune, /networks/prune (Docker's filters:
   until, label, label!, and dangling for images) and GET /system/df (container/system.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "container/filters.h"
#include "container/system.h"
#include "container/volume.h"
#include "filters.h"
#include "image/remove.h"
#include "network/network.h"
#include "serve.h"
#include "store/store.h"

static void
cleanup_prune_filterp (struct prune_filter *f)
{
  prune_filter_clear (f);
}
#define cleanup_prune_filter __attribute__ ((cleanup (cleanup_prune_filterp)))

static json_t *
json_strings (char **v)
{
  json_t *a = json_array ();
  for (size_t i = 0; v && v[i]; i++)
    json_array_append_new (a, json_string (v[i]));
  return a;
}

static int
prune_containers (struct isola_store *s, const struct prune_filter *f, char **others, json_t **out, isola_error_t *err)
{
  cleanup_strv char **removed = NULL;
  int64_t reclaimed = 0;
  int ret = container_prune (s, f, &removed, &reclaimed, err);
  if (ret == 0)
    *out = json_pack ("{s:o, s:I}", "ContainersDeleted", json_strings (removed), "SpaceReclaimed",
                      (json_int_t)reclaimed);
  return ret;
}

static int
prune_images (struct isola_store *s, const struct prune_filter *f, char **others, json_t **out, isola_error_t *err)
{
  /* dangling=false: every image no container uses (prune -a), not only the untagged ones. */
  bool all = false;
  for (size_t i = 0; others[i]; i++)
    {
      const char *v = others[i] + strlen ("dangling=");
      if (strcasecmp (v, "false") == 0 || strcmp (v, "0") == 0)
        all = true;
      else if (!(strcasecmp (v, "true") == 0 || strcmp (v, "1") == 0))
        return isola_error_fail (err, EINVAL, "invalid filter 'dangling=%s'", v);
    }
  struct rmi_report rep = { 0 };
  int64_t reclaimed = 0;
  int ret = image_prune_filtered (s, all, f, &rep, &reclaimed, err);
  if (ret == 0)
    {
      json_t *deleted = json_array ();
      for (size_t i = 0; rep.untagged && rep.untagged[i]; i++)
        json_array_append_new (deleted, json_pack ("{s:s}", "Untagged", rep.untagged[i]));
      for (size_t i = 0; rep.deleted && rep.deleted[i]; i++)
        json_array_append_new (deleted, json_pack ("{s:s}", "Deleted", rep.deleted[i]));
      *out = json_pack ("{s:o, s:I}", "ImagesDeleted", deleted, "SpaceReclaimed", (json_int_t)reclaimed);
    }
  rmi_report_clear (&rep);
  return ret;
}

/* API 1.41 (Docker 20.10) prunes every unused volume, named ones too; the anonymous-only default came with 1.42
   (Docker 23 gives older clients the old behaviour as well). */
static int
prune_volumes (struct isola_store *s, const struct prune_filter *f, char **others, json_t **out, isola_error_t *err)
{
  cleanup_strv char **removed = NULL;
  int64_t reclaimed = 0;
  int ret = volume_prune_filtered (s, true, f, &removed, &reclaimed, err);
  if (ret == 0)
    *out = json_pack ("{s:o, s:I}", "VolumesDeleted", json_strings (removed), "SpaceReclaimed", (json_int_t)reclaimed);
  return ret;
}

/* A network record's Created and Labels against the filters. */
static bool
network_may_go (json_t *record, void *arg)
{
  int64_t created = 0;
  const char *made = json_string_value (json_object_get (record, "Created"));
  if (made)
    (void)time_parse_rfc3339 (made, &created);
  return prune_filter_matches (arg, created, json_object_get (record, "Labels"));
}

static int
prune_networks (struct isola_store *s, const struct prune_filter *f, char **others, json_t **out, isola_error_t *err)
{
  cleanup_strv char **removed = NULL;
  int ret = network_prune_if (s, network_may_go, (void *)f, &removed, err);
  if (ret == 0)
    *out = json_pack ("{s:o}", "NetworksDeleted", json_strings (removed));
  return ret;
}

static const struct
{
  const char *path;
  const char *const *also; /* the filters besides until and label */
  /* Containers without the store's lock, as container verbs: each container is locked as it goes.  Images with
     the collection lock: blobs go. */
  enum store_lock_mode lock;
  int (*prune) (struct isola_store *s, const struct prune_filter *f, char **others, json_t **out, isola_error_t *err);
} prunes[] = {
  { "/containers/prune", NULL, STORE_LOCK_NONE, prune_containers },
  { "/images/prune", (const char *const[]){ "dangling", NULL }, STORE_LOCK_COLLECT, prune_images },
  { "/volumes/prune", NULL, STORE_LOCK_EXCLUSIVE, prune_volumes },
  { "/networks/prune", NULL, STORE_LOCK_SHARED, prune_networks },
};

static enum MHD_Result
df (struct serve_request *r)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  json_t *out = NULL;
  if (store_open (serve_root, STORE_LOCK_SHARED, &s, &err) < 0 || system_df (s, &out, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_json (r, 200, out);
}

enum MHD_Result
serve_prune (struct serve_request *r)
{
  if (serve_route (r, "GET", "/system/df"))
    return df (r);
  for (size_t i = 0; i < ARRAY_SIZE (prunes); i++)
    if (serve_route (r, "POST", prunes[i].path))
      {
        cleanup_prune_filter struct prune_filter f = { 0 };
        cleanup_strv char **others = NULL;
        cleanup_error isola_error_t err = NULL;
        cleanup_store struct isola_store *s = NULL;
        json_t *out = NULL;
        if (filters_prune (serve_query (r, "filters"), prunes[i].also, &f, &others, &err) < 0
            || store_open (serve_root, prunes[i].lock, &s, &err) < 0 || prunes[i].prune (s, &f, others, &out, &err) < 0)
          return serve_reply_isola_error (r, err);
        return serve_reply_json (r, 200, out);
      }
  return SERVE_NOT_MINE;
}

/* What frees space: POST /containers/prune, /images/prune, /volumes/prune, /networks/prune (Docker's filters:
   until, label, label!, and dangling for images) and GET /system/df (container/system.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
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

/* r's filters into f (also: the other keys the endpoint knows); -1 after replying 400. */
static int
filters_of (struct serve_request *r, const char *const *also, struct prune_filter *f, char ***others,
            enum MHD_Result *reply)
{
  cleanup_error isola_error_t err = NULL;
  if (serve_prune_filter (serve_query (r, "filters"), also, f, others, &err) < 0)
    {
      *reply = serve_reply_isola_error (r, err);
      return -1;
    }
  return 0;
}

static enum MHD_Result
prune_containers (struct serve_request *r)
{
  enum MHD_Result reply;
  cleanup_prune_filter struct prune_filter f = { 0 };
  cleanup_strv char **others = NULL, **removed = NULL;
  if (filters_of (r, NULL, &f, &others, &reply) < 0)
    return reply;
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  int64_t reclaimed = 0;
  /* Without the store's lock, as container verbs: each container is locked as it goes. */
  if (store_open (serve_root, STORE_LOCK_NONE, &s, &err) < 0 || container_prune (s, &f, &removed, &reclaimed, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_json (
      r, 200,
      json_pack ("{s:o, s:I}", "ContainersDeleted", json_strings (removed), "SpaceReclaimed", (json_int_t)reclaimed));
}

static enum MHD_Result
prune_images (struct serve_request *r)
{
  enum MHD_Result reply;
  cleanup_prune_filter struct prune_filter f = { 0 };
  cleanup_strv char **others = NULL;
  static const char *const also[] = { "dangling", NULL };
  if (filters_of (r, also, &f, &others, &reply) < 0)
    return reply;
  /* dangling=false: every image no container uses (prune -a), not only the untagged ones. */
  bool all = false;
  for (size_t i = 0; others[i]; i++)
    {
      const char *v = others[i] + strlen ("dangling=");
      if (strcasecmp (v, "false") == 0 || strcmp (v, "0") == 0)
        all = true;
      else if (!(strcasecmp (v, "true") == 0 || strcmp (v, "1") == 0))
        return serve_reply_error (r, 400, "invalid filter 'dangling=%s'", v);
    }
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  struct rmi_report rep = { 0 };
  int64_t reclaimed = 0;
  if (store_open (serve_root, STORE_LOCK_COLLECT, &s, &err) < 0
      || image_prune_filtered (s, all, &f, &rep, &reclaimed, &err) < 0)
    {
      rmi_report_clear (&rep);
      return serve_reply_isola_error (r, err);
    }
  json_t *deleted = json_array ();
  for (size_t i = 0; rep.untagged && rep.untagged[i]; i++)
    json_array_append_new (deleted, json_pack ("{s:s}", "Untagged", rep.untagged[i]));
  for (size_t i = 0; rep.deleted && rep.deleted[i]; i++)
    json_array_append_new (deleted, json_pack ("{s:s}", "Deleted", rep.deleted[i]));
  rmi_report_clear (&rep);
  return serve_reply_json (r, 200,
                           json_pack ("{s:o, s:I}", "ImagesDeleted", deleted, "SpaceReclaimed", (json_int_t)reclaimed));
}

static enum MHD_Result
prune_volumes (struct serve_request *r)
{
  enum MHD_Result reply;
  cleanup_prune_filter struct prune_filter f = { 0 };
  cleanup_strv char **others = NULL, **removed = NULL;
  if (filters_of (r, NULL, &f, &others, &reply) < 0)
    return reply;
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  int64_t reclaimed = 0;
  /* API 1.41 (Docker 20.10) prunes every unused volume, named ones too; the anonymous-only default came with 1.42
     (Docker 23 gives older clients the old behaviour as well). */
  if (store_open (serve_root, STORE_LOCK_EXCLUSIVE, &s, &err) < 0
      || volume_prune_filtered (s, true, &f, &removed, &reclaimed, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_json (
      r, 200,
      json_pack ("{s:o, s:I}", "VolumesDeleted", json_strings (removed), "SpaceReclaimed", (json_int_t)reclaimed));
}

static enum MHD_Result
prune_networks (struct serve_request *r)
{
  enum MHD_Result reply;
  cleanup_prune_filter struct prune_filter f = { 0 };
  cleanup_strv char **others = NULL, **removed = NULL;
  if (filters_of (r, NULL, &f, &others, &reply) < 0)
    return reply;
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  if (store_open (serve_root, STORE_LOCK_SHARED, &s, &err) < 0 || network_prune_filtered (s, &f, &removed, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_json (r, 200, json_pack ("{s:o}", "NetworksDeleted", json_strings (removed)));
}

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
  if (serve_route (r, "POST", "/containers/prune"))
    return prune_containers (r);
  if (serve_route (r, "POST", "/images/prune"))
    return prune_images (r);
  if (serve_route (r, "POST", "/volumes/prune"))
    return prune_volumes (r);
  if (serve_route (r, "POST", "/networks/prune"))
    return prune_networks (r);
  if (serve_route (r, "GET", "/system/df"))
    return df (r);
  return SERVE_NOT_MINE;
}

/* The whole store at once (see system.h). */
#define _GNU_SOURCE
#include "container/system.h"

#include <errno.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/json.h"
#include "base/util.h"
#include "container/container.h"
#include "container/lifecycle.h"
#include "container/volume.h"
#include "image/image.h"
#include "image/oci.h"
#include "image/remove.h"

static __thread int64_t tree_bytes;

static int
count_bytes (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  if (flag == FTW_F)
    tree_bytes += (int64_t)st->st_blocks * 512;
  return 0;
}

int64_t
system_tree_bytes (const char *path)
{
  tree_bytes = 0;
  (void)nftw (path, count_bytes, 16, FTW_PHYS | FTW_MOUNT);
  return tree_bytes;
}

/* A container's own layer: upper/ (process) and its disk (vm), whichever it has. */
static int64_t
container_size_rw (const struct container *c)
{
  cleanup_free char *upper = container_path (c, "upper"), *disk = container_path (c, "upper.ext4");
  return system_tree_bytes (upper) + system_tree_bytes (disk);
}

/* How many images use each snapshot: {"CHAIN": n}. */
static json_t *
snapshot_users (const struct isola_store *s, char **ids)
{
  json_t *users = json_object ();
  for (size_t i = 0; ids[i]; i++)
    {
      struct image_record rec = { 0 };
      if (image_record_read (s, ids[i], &rec, NULL) < 0)
        continue;
      for (size_t l = 0; l < rec.n_layers; l++)
        {
          json_t *n = json_object_get (users, rec.chain_ids[l]);
          json_object_set_new (users, rec.chain_ids[l], json_integer (json_integer_value (n) + 1));
        }
      image_record_clear (&rec);
    }
  return users;
}

static json_t *
df_images (const struct isola_store *s, json_t *containers, int64_t *layers_size, isola_error_t *err)
{
  cleanup_strv char **ids = NULL;
  if (image_list_ids (s, &ids, err) < 0)
    return NULL;
  cleanup_json json_t *refs = NULL;
  if (refs_read (s, &refs, err) < 0)
    return NULL;
  cleanup_json json_t *users = snapshot_users (s, ids);
  const char *chain;
  json_t *n;
  *layers_size = 0;
  json_object_foreach (users, chain, n) *layers_size += snapshot_size (s, chain);
  json_t *images = json_array ();
  for (size_t i = 0; ids[i]; i++)
    {
      struct image_record rec = { 0 };
      if (image_record_read (s, ids[i], &rec, NULL) < 0)
        continue;
      int64_t size = 0, shared = 0;
      for (size_t l = 0; l < rec.n_layers; l++)
        {
          int64_t b = snapshot_size (s, rec.chain_ids[l]);
          size += b;
          if (json_integer_value (json_object_get (users, rec.chain_ids[l])) > 1)
            shared += b;
        }
      int n_containers = 0;
      size_t k;
      json_t *c;
      json_array_foreach (containers, k, c)
      {
        const char *image = json_string_value (json_object_get (c, "ImageID"));
        n_containers += image && strcmp (image + strlen ("sha256:"), ids[i]) == 0;
      }
      cleanup_strv char **tags = refs_tags_of (refs, ids[i]);
      json_t *repo_tags = json_array ();
      for (size_t t = 0; tags[t]; t++)
        json_array_append_new (repo_tags, json_string (tags[t]));
      cleanup_free char *id = xasprintf ("sha256:%s", ids[i]);
      json_array_append_new (images, json_pack ("{s:s, s:o, s:I, s:I, s:I, s:I, s:i}", "Id", id, "RepoTags", repo_tags,
                                                "Created", (json_int_t)rec.created, "Size", (json_int_t)size,
                                                "SharedSize", (json_int_t)shared, "VirtualSize", (json_int_t)size,
                                                "Containers", n_containers));
      image_record_clear (&rec);
    }
  return images;
}

/* Docker's Status of a container: "Up 2 minutes", "Exited (0) 3 seconds ago", "Created". */
static char *
status_text (const struct container *c, const char *state)
{
  int64_t now = (int64_t)time (NULL), t = 0;
  if (strcmp (state, "running") == 0)
    {
      (void)time_parse_rfc3339 (json_string_value (json_object_get (c->state, "StartedAt")) ?: "", &t);
      cleanup_free char *d = human_duration (now - t);
      return xasprintf ("Up %s", d);
    }
  if (strcmp (state, "exited") == 0)
    {
      (void)time_parse_rfc3339 (json_string_value (json_object_get (c->state, "FinishedAt")) ?: "", &t);
      cleanup_free char *d = human_duration (now - t);
      return xasprintf ("Exited (%d) %s ago", (int)json_integer_value (json_object_get (c->state, "ExitCode")), d);
    }
  return xstrdup ("Created");
}

static json_t *
df_containers (const struct isola_store *s, isola_error_t *err)
{
  cleanup_strv char **ids = NULL;
  if (container_list_ids (s, &ids, err) < 0)
    return NULL;
  json_t *out = json_array ();
  for (size_t i = 0; ids[i]; i++)
    {
      cleanup_container struct container *c = NULL;
      if (container_load_any (s, ids[i], &c, NULL) < 0)
        continue;
      const char *status = container_status (c);
      if (container_is_running (c) && !container_monitor_alive (c))
        status = "exited";
      cleanup_strv char **argv = container_argv (c);
      cleanup_free char *command = xstrdup ("");
      for (size_t a = 0; argv && argv[a]; a++)
        {
          char *next = xasprintf ("%s%s%s", command, a ? " " : "", argv[a]);
          free (command);
          command = next;
        }
      cleanup_free char *name = xasprintf ("/%s", container_name (c));
      const char *image_id = container_image_id (c);
      cleanup_free char *full_image = xasprintf ("sha256:%s", image_id ? image_id : "");
      int64_t created = 0;
      (void)time_parse_rfc3339 (container_created (c), &created);
      json_t *mounts = container_mounts (c);
      cleanup_free char *status_line = status_text (c, status);
      json_array_append_new (out, json_pack ("{s:s, s:[s], s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:o}", "Id", c->id,
                                             "Names", name, "Image", container_image_name (c), "ImageID", full_image,
                                             "Command", command, "Created", (json_int_t)created, "State", status,
                                             "Status", status_line, "SizeRw", (json_int_t)container_size_rw (c),
                                             "Mounts", mounts ? json_deep_copy (mounts) : json_array ()));
    }
  return out;
}

static json_t *
df_volumes (const struct isola_store *s, isola_error_t *err)
{
  cleanup_strv char **names = NULL;
  if (volume_list (s, &names, err) < 0)
    return NULL;
  json_t *out = json_array ();
  for (size_t i = 0; names[i]; i++)
    {
      cleanup_strv char **users = volume_users (s, names[i]);
      cleanup_free char *data = volume_data_path (s, names[i]);
      json_t *v = NULL;
      if (volume_inspect_json (s, names[i], &v, NULL) < 0)
        continue;
      json_object_set_new (v, "UsageData",
                           json_pack ("{s:I, s:I}", "Size", (json_int_t)system_tree_bytes (data), "RefCount",
                                      (json_int_t)strv_len (users)));
      json_array_append_new (out, v);
    }
  return out;
}

int
system_df (const struct isola_store *s, json_t **out, isola_error_t *err)
{
  cleanup_json json_t *containers = df_containers (s, err);
  if (containers == NULL)
    return -EIO;
  int64_t layers = 0;
  cleanup_json json_t *images = df_images (s, containers, &layers, err);
  if (images == NULL)
    return -EIO;
  cleanup_json json_t *volumes = df_volumes (s, err);
  if (volumes == NULL)
    return -EIO;
  *out = json_pack ("{s:I, s:O, s:O, s:O, s:[]}", "LayersSize", (json_int_t)layers, "Images", images, "Containers",
                    containers, "Volumes", volumes, "BuildCache");
  return 0;
}

void
prune_filter_clear (struct prune_filter *f)
{
  strv_free (f->labels);
  strv_free (f->not_labels);
  f->labels = f->not_labels = NULL;
}

int
prune_filter_add_label (struct prune_filter *f, const char *arg, isola_error_t *err)
{
  if (str_has_prefix (arg, "label="))
    strv_push (&f->labels, arg + strlen ("label="));
  else if (str_has_prefix (arg, "label!="))
    strv_push (&f->not_labels, arg + strlen ("label!="));
  else
    {
      const char *eq = strchr (arg, '=');
      return isola_error_fail (err, EINVAL, "invalid filter '%.*s'", eq ? (int)(eq - arg) : (int)strlen (arg), arg);
    }
  return 0;
}

/* KEY or KEY=VALUE among labels. */
static bool
label_present (json_t *labels, const char *want)
{
  const char *eq = strchr (want, '=');
  cleanup_free char *key = eq ? strndup (want, (size_t)(eq - want)) : xstrdup (want);
  const char *have = json_string_value (json_object_get (labels, key));
  return have && (eq == NULL || strcmp (have, eq + 1) == 0);
}

bool
prune_filter_matches (const struct prune_filter *f, int64_t created, json_t *labels)
{
  if (f == NULL)
    return true;
  if (f->has_until && created >= f->until)
    return false;
  for (size_t i = 0; f->labels && f->labels[i]; i++)
    if (!label_present (labels, f->labels[i]))
      return false;
  for (size_t i = 0; f->not_labels && f->not_labels[i]; i++)
    if (label_present (labels, f->not_labels[i]))
      return false;
  return true;
}

static bool
image_may_go (const struct isola_store *s, const char *id, void *arg)
{
  const struct prune_filter *f = arg;
  struct oci_config cfg = { 0 };
  if (image_read_config (s, id, &cfg, NULL) < 0)
    return prune_filter_matches (f, 0, NULL);
  int64_t created = 0;
  const char *when = json_string_value (json_object_get (cfg.json, "created"));
  if (when)
    (void)time_parse_rfc3339 (when, &created);
  bool go = prune_filter_matches (f, created, json_object_get (json_object_get (cfg.json, "config"), "Labels"));
  oci_config_clear (&cfg);
  return go;
}

int
image_prune_filtered (struct isola_store *s, bool all, const struct prune_filter *f, struct rmi_report *rep,
                      int64_t *reclaimed, isola_error_t *err)
{
  return image_prune_if (s, all, f ? image_may_go : NULL, (void *)f, rep, reclaimed, err);
}

static bool
volume_may_go (const struct isola_store *s, const char *name, void *arg)
{
  cleanup_json json_t *v = NULL;
  if (volume_inspect_json (s, name, &v, NULL) < 0)
    return false;
  return prune_filter_matches (arg, 0, json_object_get (v, "Labels"));
}

int
volume_prune_filtered (struct isola_store *s, bool all, const struct prune_filter *f, char ***removed,
                       int64_t *reclaimed, isola_error_t *err)
{
  if (f && f->has_until)
    return isola_error_fail (err, EINVAL, "invalid filter 'until'");
  return volume_prune_if (s, all, f ? volume_may_go : NULL, (void *)f, removed, reclaimed, err);
}

int
container_prune (struct isola_store *s, const struct prune_filter *f, char ***removed, int64_t *reclaimed,
                 isola_error_t *err)
{
  cleanup_strv char **ids = NULL;
  int ret = container_list_ids (s, &ids, err);
  if (ret < 0)
    return ret;
  cleanup_strv char **gone = xcalloc (1, sizeof (char *));
  *reclaimed = 0;
  for (size_t i = 0; ids[i]; i++)
    {
      cleanup_container struct container *c = NULL;
      if (container_load_any (s, ids[i], &c, NULL) < 0 || container_refresh (c, NULL) < 0 || container_is_running (c))
        continue;
      int64_t created = 0;
      (void)time_parse_rfc3339 (container_created (c), &created);
      if (!prune_filter_matches (f, created, json_object_get (container_config (c), "Labels")))
        continue;
      int64_t bytes = container_size_rw (c);
      if (container_rm (s, c, false, NULL) < 0)
        continue;
      *reclaimed += bytes;
      strv_push (&gone, c->id);
    }
  *removed = take_ptr (&gone);
  return 0;
}

/* Volumes of the local driver (see volume.h). */
#define _GNU_SOURCE
#include "container/volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/digest.h"
#include "base/util.h"
#include "container/container.h"
#include "container/runspec.h"
#include "store/journal.h"

#define VOLUME_META     "volume.json"
#define VOLUME_META_MAX (1 << 20)

static char *
volume_dir (const struct isola_store *s, const char *name)
{
  return store_path (s, "volumes/%s", name);
}

char *
volume_data_path (const struct isola_store *s, const char *name)
{
  return store_path (s, "volumes/%s/_data", name);
}

bool
volume_exists (const struct isola_store *s, const char *name)
{
  if (!runspec_volume_name_valid (name))
    return false;
  cleanup_free char *p = volume_data_path (s, name);
  return path_exists (p);
}

/* A complete volume directory in tmp/ (its data directory and its metadata, synced), then one rename. */
static int
publish_volume (struct isola_store *s, const char *name, json_t *meta, isola_error_t *err)
{
  cleanup_free char *staging = NULL, *parent = store_path (s, "volumes");
  int ret = mkdir_p (parent, 0701, err);
  if (ret == 0)
    ret = store_make_tmp (s, "volume", &staging, err);
  if (ret < 0)
    return ret;
  cleanup_free char *data = xasprintf ("%s/_data", staging), *meta_path = xasprintf ("%s/" VOLUME_META, staging);
  cleanup_free char *text = json_dumps (meta, JSON_SORT_KEYS | JSON_COMPACT);
  if (mkdir (data, 0755) < 0)
    ret = isola_error_make (err, errno, "mkdir `%s`", data);
  if (ret == 0)
    ret = write_file_atomic (meta_path, text, strlen (text), 0600, err);
  if (ret == 0 && fsync_dir (staging) < 0)
    ret = isola_error_make (err, errno, "fsync `%s`", staging);
  cleanup_free char *final = volume_dir (s, name);
  if (ret == 0 && rename (staging, final) < 0)
    ret = isola_error_make (err, errno, "create volume %s", name);
  if (ret == 0)
    (void)fsync_dir (parent);
  else
    (void)rm_rf (staging, NULL);
  return ret;
}

static void
volume_event (const struct isola_store *s, const char *name, const char *action)
{
  cleanup_json json_t *attrs = json_pack ("{s:s}", "driver", "local");
  (void)journal_log (s->root, "volume", action, name, attrs, NULL);
}

int
volume_create (struct isola_store *s, const char *name, json_t *labels, char **name_out, bool *created,
               isola_error_t *err)
{
  char generated[65];
  if (name == NULL)
    random_id_hex (generated);
  else if (!runspec_volume_name_valid (name))
    return isola_error_fail (err, EINVAL,
                             "create %s: \"%s\" includes invalid characters for a local volume name, only "
                             "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, "
                             "use absolute path",
                             name, name);
  const char *n = name ? name : generated;
  bool fresh = !volume_exists (s, n);
  if (fresh)
    {
      char now[32];
      time_t t = time (NULL);
      struct tm tm;
      strftime (now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime_r (&t, &tm)); /* Docker's: RFC 3339 in seconds */
      cleanup_json json_t *l = labels ? json_deep_copy (labels) : json_object ();
      if (name == NULL)
        json_object_set_new (l, VOLUME_ANONYMOUS_LABEL, json_string (""));
      cleanup_json json_t *meta = json_pack ("{s:s, s:O, s:{}}", "CreatedAt", now, "Labels", l, "Options");
      int ret = publish_volume (s, n, meta, err);
      if (ret < 0)
        return ret;
    }
  /* Docker tells of every create, also of a volume that was there. */
  volume_event (s, n, "create");
  if (name_out)
    *name_out = xstrdup (n);
  if (created)
    *created = fresh;
  return 0;
}

static int
no_such_volume (isola_error_t *err, const char *name)
{
  return isola_error_fail (err, ENOENT, "No such volume: %s", name);
}

static json_t *
read_meta (const struct isola_store *s, const char *name)
{
  cleanup_free char *path = store_path (s, "volumes/%s/" VOLUME_META, name);
  cleanup_free char *text = NULL;
  if (read_file_bounded (path, VOLUME_META_MAX, &text, NULL, NULL) < 0)
    return NULL;
  json_t *j = json_loads (text, 0, NULL);
  if (!json_is_object (j))
    {
      json_decref (j);
      return NULL;
    }
  return j;
}

int
volume_inspect_json (const struct isola_store *s, const char *name, json_t **out, isola_error_t *err)
{
  if (!volume_exists (s, name))
    return no_such_volume (err, name);
  cleanup_json json_t *meta = read_meta (s, name);
  cleanup_free char *data = volume_data_path (s, name);
  json_t *labels = json_object_get (meta, "Labels"), *options = json_object_get (meta, "Options");
  const char *created = json_string_value (json_object_get (meta, "CreatedAt"));
  *out = json_pack ("{s:s, s:s, s:O, s:s, s:s, s:O, s:s}", "CreatedAt", created ? created : "", "Driver", "local",
                    "Labels", json_is_object (labels) ? labels : json_null (), "Mountpoint", data, "Name", name,
                    "Options", json_is_object (options) && json_object_size (options) ? options : json_null (), "Scope",
                    "local");
  return 0;
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

int
volume_list (const struct isola_store *s, char ***out, isola_error_t *err)
{
  cleanup_free char *parent = store_path (s, "volumes");
  cleanup_strv char **names = xcalloc (1, sizeof (char *));
  cleanup_dir DIR *d = opendir (parent);
  if (d == NULL && errno != ENOENT)
    return isola_error_make (err, errno, "open `%s`", parent);
  struct dirent *e;
  while (d && (e = readdir (d)) != NULL)
    if (volume_exists (s, e->d_name))
      strv_push (&names, e->d_name);
  qsort (names, strv_len (names), sizeof (char *), compare_names);
  *out = take_ptr (&names);
  return 0;
}

static bool
mounts_use (json_t *mounts, const char *name)
{
  size_t i;
  json_t *m;
  json_array_foreach (mounts, i, m)
  {
    const char *type = json_string_value (json_object_get (m, "Type"));
    const char *n = json_string_value (json_object_get (m, "Name"));
    if (type && n && strcmp (type, "volume") == 0 && strcmp (n, name) == 0)
      return true;
  }
  return false;
}

char **
volume_users (const struct isola_store *s, const char *name)
{
  char **users = xcalloc (1, sizeof (char *));
  cleanup_strv char **ids = NULL;
  if (container_list_ids (s, &ids, NULL) < 0)
    return users;
  for (size_t i = 0; ids[i]; i++)
    {
      cleanup_container struct container *c = NULL;
      if (container_load (s, ids[i], &c, NULL) == 0 && mounts_use (container_mounts (c), name))
        strv_push (&users, c->id);
    }
  qsort (users, strv_len (users), sizeof (char *), compare_names);
  return users;
}

/* Renamed into tmp/ first: the volume is gone at once, and a crash leaves only garbage that tmp's cleaning takes. */
static int
delete_volume (struct isola_store *s, const char *name, isola_error_t *err)
{
  cleanup_free char *trash = NULL, *dir = volume_dir (s, name);
  int ret = store_make_tmp (s, "volume-rm", &trash, err);
  if (ret < 0)
    return ret;
  cleanup_free char *target = xasprintf ("%s/v", trash);
  if (rename (dir, target) < 0)
    {
      ret = isola_error_make (err, errno, "remove %s", name);
      (void)rm_rf (trash, NULL);
      return ret;
    }
  volume_event (s, name, "destroy");
  return rm_rf (trash, err);
}

int
volume_remove (struct isola_store *s, const char *name, isola_error_t *err)
{
  if (!volume_exists (s, name))
    return no_such_volume (err, name);
  cleanup_strv char **users = volume_users (s, name);
  if (users[0])
    {
      cleanup_free char *list = xstrdup ("");
      for (size_t i = 0; users[i]; i++)
        {
          char *next = xasprintf ("%s%s%s", list, i ? ", " : "", users[i]);
          free (list);
          list = next;
        }
      return isola_error_fail (err, EBUSY, "remove %s: volume is in use - [%s]", name, list);
    }
  return delete_volume (s, name, err);
}

static int64_t tree_bytes;

static int
count_bytes (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  if (flag == FTW_F)
    tree_bytes += (int64_t)st->st_blocks * 512;
  return 0;
}

static int64_t
tree_size (const char *path)
{
  tree_bytes = 0;
  (void)nftw (path, count_bytes, 16, FTW_PHYS | FTW_MOUNT);
  return tree_bytes;
}

static bool
is_anonymous (const struct isola_store *s, const char *name)
{
  cleanup_json json_t *meta = read_meta (s, name);
  return json_object_get (json_object_get (meta, "Labels"), VOLUME_ANONYMOUS_LABEL) != NULL;
}

int
volume_prune (struct isola_store *s, bool all, char ***removed, int64_t *reclaimed, isola_error_t *err)
{
  return volume_prune_if (s, all, NULL, NULL, removed, reclaimed, err);
}

int
volume_prune_if (struct isola_store *s, bool all,
                 bool (*may_go) (const struct isola_store *s, const char *name, void *arg), void *arg, char ***removed,
                 int64_t *reclaimed, isola_error_t *err)
{
  cleanup_strv char **names = NULL;
  int ret = volume_list (s, &names, err);
  if (ret < 0)
    return ret;
  cleanup_strv char **gone = xcalloc (1, sizeof (char *));
  *reclaimed = 0;
  for (size_t i = 0; names[i]; i++)
    {
      cleanup_strv char **users = volume_users (s, names[i]);
      if (users[0] || (!all && !is_anonymous (s, names[i])) || (may_go && !may_go (s, names[i], arg)))
        continue;
      cleanup_free char *data = volume_data_path (s, names[i]);
      int64_t bytes = tree_size (data);
      if ((ret = delete_volume (s, names[i], err)) < 0)
        return ret;
      *reclaimed += bytes;
      strv_push (&gone, names[i]);
    }
  *removed = take_ptr (&gone);
  return 0;
}

int
volume_remove_anonymous (struct isola_store *s, json_t *mounts, isola_error_t *err)
{
  size_t i;
  json_t *m;
  int ret = 0;
  json_array_foreach (mounts, i, m)
  {
    const char *type = json_string_value (json_object_get (m, "Type"));
    const char *name = json_string_value (json_object_get (m, "Name"));
    if (type == NULL || name == NULL || strcmp (type, "volume") != 0 || !volume_exists (s, name)
        || !is_anonymous (s, name))
      continue;
    cleanup_strv char **users = volume_users (s, name);
    if (users[0] == NULL && ret == 0)
      ret = delete_volume (s, name, err);
  }
  return ret;
}

static bool
has_volumes (json_t *mounts)
{
  size_t i;
  json_t *m;
  json_array_foreach (mounts, i, m) if (json_string_value (json_object_get (m, "Name"))) return true;
  return false;
}

int
volume_release_anonymous (const char *root, json_t *mounts, isola_error_t *err)
{
  if (!has_volumes (mounts))
    return 0;
  cleanup_store struct isola_store *s = NULL;
  int ret = store_open (root, STORE_LOCK_EXCLUSIVE, &s, err);
  if (ret == 0)
    ret = volume_remove_anonymous (s, mounts, err);
  return ret;
}

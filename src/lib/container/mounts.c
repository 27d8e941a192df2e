/* A new container's mounts (see mounts.h). */
#define _GNU_SOURCE
#include "container/mounts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "base/json.h"
#include "base/subprocess.h"
#include "base/util.h"
#include "container/container.h"
#include "container/runspec.h"
#include "container/volume.h"
#include "image/image.h"
#include "sandbox/overlay.h"

/* --- seeding -------------------------------------------------------------------------------------------------- */

static bool
dir_is_empty (const char *path)
{
  cleanup_dir DIR *d = opendir (path);
  if (d == NULL)
    return false;
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
      return false;
  return true;
}

struct seed
{
  const struct isola_store *store;
  const struct image_record *image;
  const char *mountpoint; /* where the child mounts the image */
  const char *path;       /* in the image, absolute */
  char source[64];        /* cp's source, filled in by the child: /proc/self/fd/N/. */
};

/* In cp's process before it runs: the image is mounted in a mount namespace of its own, which dies with cp, so
   nothing stays mounted whatever happens; the path is resolved beneath the image's root (no symlink leads out),
   and cp reads it through the descriptor.  No directory there: exit 0 without copying. */
static int
seed_prepare (void *arg)
{
  struct seed *sd = arg;
  cleanup_error isola_error_t err = NULL;
  if (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    {
      dprintf (2, "private mount namespace: %s\n", strerror (errno));
      return -1;
    }
  if (overlay_mount_layers (sd->store, sd->image->chain_ids, sd->image->n_layers, NULL, NULL, sd->mountpoint, &err) < 0)
    {
      dprintf (2, "%s\n", err->msg);
      return -1;
    }
  int root = open (sd->mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int fd = root < 0 ? -1 : open_beneath (root, sd->path + 1, O_PATH | O_DIRECTORY, 0);
  if (fd < 0)
    _exit (0);
  int inherited = dup (fd); /* without O_CLOEXEC: cp reads through it */
  if (inherited < 0)
    return -1;
  snprintf (sd->source, sizeof sd->source, "/proc/self/fd/%d/.", inherited);
  return 0;
}

int
volume_seed_from_image (struct isola_store *s, const char *volume, const char *image_id, const char *path,
                        isola_error_t *err)
{
  cleanup_free char *data = volume_data_path (s, volume);
  if (!dir_is_empty (data))
    return 0;
  /* The copy replaces the data directory, and a container already using the volume would keep writing into the
     directory it has mounted, no longer the volume's: an empty volume that another container has is left empty
     (Docker would copy into it in place; nothing is lost this way). */
  cleanup_strv char **users = volume_users (s, volume);
  if (users && users[0])
    return 0;
  struct image_record image = { 0 };
  int ret = image_record_read (s, image_id, &image, err);
  if (ret < 0)
    return ret;
  cleanup_free char *staging = store_path (s, "volumes/%s/_seed", volume), *mnt = NULL;
  /* A crash in an earlier copy leaves its staging directory: it is not the volume's, start again. */
  if ((ret = rm_rf (staging, err)) == 0)
    ret = store_make_tmp (s, "seed", &mnt, err);
  if (ret == 0 && image.n_layers > 0)
    {
      struct seed sd = { .store = s, .image = &image, .mountpoint = mnt, .path = path };
      char *const argv[] = { "cp", "-a", "--", sd.source, staging, NULL };
      ret = subprocess_run (argv, seed_prepare, &sd, err);
    }
  /* The image has a directory there: its copy replaces the empty data directory (rename(2) replaces an empty
     directory atomically, and refuses one a container has written to meanwhile: that one is kept). */
  /* Docker copies from the container's root, where its init layer adds /etc/mtab (spawn.c makes it at start). */
  if (ret == 0 && strcmp (path, "/etc") == 0 && path_exists (staging))
    {
      cleanup_free char *mtab = xasprintf ("%s/mtab", staging);
      if (symlink ("/proc/mounts", mtab) < 0 && errno != EEXIST)
        ret = isola_error_make (err, errno, "seed volume %s: /etc/mtab", volume);
    }
  if (ret == 0 && path_exists (staging))
    {
      if (rename (staging, data) < 0 && errno != ENOTEMPTY && errno != EEXIST)
        ret = isola_error_make (err, errno, "seed volume %s", volume);
      (void)rm_rf (staging, NULL);
      cleanup_free char *dir = store_path (s, "volumes/%s", volume);
      (void)fsync_dir (dir);
    }
  if (mnt)
    (void)rmdir (mnt);
  image_record_clear (&image);
  return ret;
}

/* --- the record ----------------------------------------------------------------------------------------------- */

static char *
normalize (const char *dst)
{
  char *p = xstrdup (dst);
  size_t len = strlen (p);
  while (len > 1 && p[len - 1] == '/')
    p[--len] = '\0';
  return p;
}

static size_t
depth (const char *path)
{
  size_t n = 0;
  for (const char *p = path; *p; p++)
    n += *p == '/';
  return n;
}

static const char *
destination_of (json_t *m)
{
  return json_string_value (json_object_get (m, "Destination"));
}

static bool
mounted_at (json_t *record, const char *dst)
{
  size_t i;
  json_t *m;
  json_array_foreach (record, i, m) if (strcmp (destination_of (m), dst) == 0) return true;
  return false;
}

static int
add_entry (json_t *record, json_t *entry, isola_error_t *err)
{
  if (mounted_at (record, destination_of (entry)))
    {
      int ret = isola_error_fail (err, EINVAL, "Duplicate mount point: %s", destination_of (entry));
      json_decref (entry);
      return ret;
    }
  json_array_append_new (record, entry);
  return 0;
}

static json_t *
bind_entry (const struct runspec_mount_spec *ms, const char *dst)
{
  return json_pack ("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type", "bind", "Source", ms->source, "Destination", dst, "Mode",
                    ms->mode ? ms->mode : "", "RW", !ms->readonly, "Propagation", "rprivate");
}

static json_t *
tmpfs_entry (const char *dst, const char *options, bool readonly)
{
  return json_pack ("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type", "tmpfs", "Source", "", "Destination", dst, "Mode",
                    options ? options : "", "RW", !readonly, "Propagation", "");
}

/* Docker records "z" as the mode of a -v volume without one, "" for --mount and anonymous ones. */
static int
volume_entry (struct isola_store *s, const struct runspec_mount_spec *ms, const char *dst, const char *image_id,
              json_t *record, isola_error_t *err)
{
  if (mounted_at (record, dst))
    return isola_error_fail (err, EINVAL, "Duplicate mount point: %s", dst);
  cleanup_free char *name = NULL;
  int ret = volume_create (s, ms->source, NULL, &name, NULL, err);
  if (ret < 0)
    return ret;
  cleanup_free char *data = volume_data_path (s, name);
  const char *mode = ms->mode ? ms->mode : (ms->from_mount || ms->source == NULL ? "" : "z");
  ret = add_entry (record,
                   json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "Type", "volume", "Name", name, "Source",
                              data, "Destination", dst, "Driver", "local", "Mode", mode, "RW", !ms->readonly,
                              "Propagation", ""),
                   err);
  if (ret == 0 && !ms->nocopy)
    ret = volume_seed_from_image (s, name, image_id, dst, err);
  return ret;
}

static int
spec_entry (struct isola_store *s, const struct runspec_mount_spec *ms, const char *image_id, json_t *record,
            isola_error_t *err)
{
  cleanup_free char *dst = normalize (ms->destination);
  switch (ms->type)
    {
    case RUNSPEC_MOUNT_BIND:
      return add_entry (record, bind_entry (ms, dst), err);
    case RUNSPEC_MOUNT_TMPFS:
      return add_entry (record, tmpfs_entry (dst, ms->tmpfs_options, ms->readonly), err);
    case RUNSPEC_MOUNT_VOLUME:
      return volume_entry (s, ms, dst, image_id, record, err);
    }
  return 0;
}

static int
requested_entries (struct isola_store *s, json_t *host_config, const char *image_id, json_t *record, isola_error_t *err)
{
  size_t i;
  json_t *v;
  int ret = 0;
  json_array_foreach (json_object_get (host_config, "Binds"), i, v)
  {
    struct runspec_mount_spec ms = { 0 };
    ret = runspec_parse_bind (json_string_value (v), &ms, err);
    if (ret == 0)
      ret = spec_entry (s, &ms, image_id, record, err);
    runspec_mount_spec_clear (&ms);
    if (ret < 0)
      return ret;
  }
  json_array_foreach (json_object_get (host_config, "Mounts"), i, v)
  {
    struct runspec_mount_spec ms = { 0 };
    ret = runspec_parse_mount (v, &ms, err);
    if (ret == 0)
      ret = spec_entry (s, &ms, image_id, record, err);
    runspec_mount_spec_clear (&ms);
    if (ret < 0)
      return ret;
  }
  const char *key;
  json_object_foreach (json_object_get (host_config, "Tmpfs"), key, v)
  {
    cleanup_free char *dst = normalize (key);
    if ((ret = add_entry (record, tmpfs_entry (dst, json_string_value (v), false), err)) < 0)
      return ret;
  }
  return 0;
}

/* Config.Volumes' paths that nothing else is mounted on get anonymous volumes. */
static int
anonymous_entries (struct isola_store *s, char *const *config_volumes, const char *image_id, json_t *record,
                   isola_error_t *err)
{
  for (size_t i = 0; config_volumes && config_volumes[i]; i++)
    {
      cleanup_free char *dst = normalize (config_volumes[i]);
      if (mounted_at (record, dst))
        continue;
      struct runspec_mount_spec ms = { .type = RUNSPEC_MOUNT_VOLUME, .destination = dst };
      int ret = volume_entry (s, &ms, dst, image_id, record, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

int
volumes_from_parse (const char *spec, char **name_out, char **mode_out, isola_error_t *err)
{
  cleanup_free char *name = xstrdup (spec);
  char *mode = strchr (name, ':');
  if (mode)
    *mode++ = '\0';
  if (name[0] == '\0')
    return isola_error_fail (err, EINVAL, "invalid volumes-from: %s", spec);
  if (mode && strcmp (mode, "ro") != 0 && strcmp (mode, "rw") != 0)
    return isola_error_fail (err, EINVAL, "invalid mode: %s", mode);
  if (mode_out)
    *mode_out = xstrdup (mode ? mode : "");
  if (name_out)
    *name_out = take_ptr (&name);
  return 0;
}

/* The binds and volumes of another container, on the destinations the request leaves free. */
static int
volumes_from_entries (struct isola_store *s, json_t *host_config, json_t *record, isola_error_t *err)
{
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (host_config, "VolumesFrom"), i, v)
  {
    cleanup_free char *name = NULL, *mode = NULL;
    char id[DIGEST_HEX_LEN + 1];
    cleanup_container struct container *other = NULL;
    int ret = volumes_from_parse (json_string_value (v), &name, &mode, err);
    if (ret == 0)
      ret = container_resolve (s, name, id, err);
    if (ret == 0)
      ret = container_load (s, id, &other, err);
    if (ret < 0)
      return ret;
    size_t j;
    json_t *m;
    json_array_foreach (container_mounts (other), j, m)
    {
      const char *type = json_string_value (json_object_get (m, "Type"));
      if (type == NULL || strcmp (type, "tmpfs") == 0 || mounted_at (record, destination_of (m)))
        continue;
      json_t *copy = json_deep_copy (m);
      if (mode[0])
        json_object_set_new (copy, "RW", json_boolean (strcmp (mode, "rw") == 0));
      json_array_append_new (record, copy);
    }
  }
  return 0;
}

/* Parents before children, as Docker mounts them; otherwise in the order asked (a stable insertion sort). */
static json_t *
sorted_by_depth (json_t *record)
{
  json_t *out = json_array ();
  size_t i;
  json_t *m;
  json_array_foreach (record, i, m)
  {
    size_t at = json_array_size (out);
    while (at > 0 && depth (destination_of (json_array_get (out, at - 1))) > depth (destination_of (m)))
      at--;
    json_array_insert (out, at, m);
  }
  return out;
}

/* Two mounts on one path are refused before any volume is made for either. */
static int
check_duplicates (json_t *host_config, isola_error_t *err)
{
  cleanup_strv char **seen = xcalloc (1, sizeof (char *));
  size_t i;
  json_t *v;
  const char *key;
  json_array_foreach (json_object_get (host_config, "Binds"), i, v)
  {
    struct runspec_mount_spec ms = { 0 };
    if (runspec_parse_bind (json_string_value (v), &ms, NULL) == 0)
      strv_push (&seen, ms.destination);
    runspec_mount_spec_clear (&ms);
  }
  json_array_foreach (json_object_get (host_config, "Mounts"), i, v)
  {
    struct runspec_mount_spec ms = { 0 };
    if (runspec_parse_mount (v, &ms, NULL) == 0)
      strv_push (&seen, ms.destination);
    runspec_mount_spec_clear (&ms);
  }
  json_object_foreach (json_object_get (host_config, "Tmpfs"), key, v) strv_push (&seen, key);
  for (i = 0; seen[i]; i++)
    {
      cleanup_free char *a = normalize (seen[i]);
      for (size_t j = 0; j < i; j++)
        {
          cleanup_free char *b = normalize (seen[j]);
          if (strcmp (a, b) == 0)
            return isola_error_fail (err, EINVAL, "Duplicate mount point: %s", a);
        }
    }
  return 0;
}

int
container_mounts_prepare (struct isola_store *s, json_t *host_config, char *const *config_volumes, const char *image_id,
                          json_t **out, isola_error_t *err)
{
  cleanup_json json_t *record = json_array ();
  int ret = check_duplicates (host_config, err);
  if (ret == 0)
    ret = requested_entries (s, host_config, image_id, record, err);
  if (ret == 0)
    ret = volumes_from_entries (s, host_config, record, err);
  if (ret == 0)
    ret = anonymous_entries (s, config_volumes, image_id, record, err);
  if (ret < 0)
    {
      (void)volume_remove_anonymous (s, record, NULL);
      return ret;
    }
  *out = sorted_by_depth (record);
  return 0;
}

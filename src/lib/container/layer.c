#define _GNU_SOURCE
#include "container/layer.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "container/lifecycle.h"
#include "driver/driver.h"
#include "image/image.h"
#include "sandbox/overlay.h"

struct open_layer
{
  struct container *c;
  const struct isola_driver *d;
  struct driver_layer dl;
  struct image_record image;
  bool opened, paused;
};

static void
layer_close (struct open_layer *l)
{
  if (l->paused)
    (void)container_unpause (l->c, NULL);
  if (l->opened)
    l->d->close_layer (l->c, &l->dl);
  image_record_clear (&l->image);
}

static int
layer_open (struct isola_store *s, struct container *c, bool pause, struct open_layer *l, isola_error_t *err)
{
  *l = (struct open_layer){ .c = c, .d = driver_of (c) };
  const char *image = container_image_id (c);
  if (image == NULL)
    return isola_error_fail (err, EINVAL, "container %.12s has no image", c->id);
  int ret = image_record_read (s, image, &l->image, err);
  if (ret == 0 && (ret = l->d->open_layer (c, &l->dl, err)) == 0)
    l->opened = true;
  /* After open_layer: a VM's agent must still answer it, and its freeze already holds the disk still. */
  if (ret == 0 && pause && container_is_running (c) && !container_is_paused (c))
    {
      ret = container_pause (c, err);
      l->paused = ret == 0;
    }
  if (ret < 0)
    layer_close (l);
  return ret;
}

/* The image's layer directories, nearest first. */
static char **
lower_dirs (const struct isola_store *s, const struct image_record *image)
{
  char **dirs = xcalloc (1, sizeof (char *));
  for (size_t i = image->n_layers; i-- > 0;)
    {
      cleanup_free char *fs = snapshot_fs (s, image->chain_ids[i]);
      strv_push (&dirs, fs);
    }
  return dirs;
}

int
container_changes (struct isola_store *s, struct container *c, struct layer_change **out, size_t *n_out,
                   isola_error_t *err)
{
  struct open_layer l;
  int ret = layer_open (s, c, false, &l, err);
  if (ret < 0)
    return ret;
  cleanup_strv char **lowers = lower_dirs (s, &l.image);
  ret = layer_changes (l.dl.upper, lowers, out, n_out, err);
  layer_close (&l);
  return ret;
}

int
container_commit (struct isola_store *s, struct container *c, bool pause, const struct commit_options *o,
                  digest_hex_t id_out, isola_error_t *err)
{
  struct open_layer l;
  int ret = layer_open (s, c, pause, &l, err);
  if (ret < 0)
    return ret;
  struct commit_options opts = *o;
  opts.container_id = c->id;
  opts.container_config = container_config (c);
  ret = image_commit (s, l.dl.upper, l.image.id, &opts, id_out, err);
  layer_close (&l);
  return ret;
}

int
container_export (struct isola_store *s, struct container *c, int fd, isola_error_t *err)
{
  struct open_layer l;
  int ret = layer_open (s, c, false, &l, err);
  if (ret < 0)
    return ret;
  /* The merged view is mounted in the private mount namespace a VM's layer already made, or one of our own. */
  cleanup_free char *view = container_path (c, "export-XXXXXX");
  if (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    ret = isola_error_make (err, errno, "make a private mount namespace");
  else if (mkdtemp (view) == NULL)
    ret = isola_error_make (err, errno, "make a directory in `%s`", c->dir);
  else
    {
      struct stat st;
      const char *top = stat (l.dl.upper, &st) == 0 ? l.dl.upper : NULL;
      ret = overlay_mount_view (s, l.image.chain_ids, l.image.n_layers, top, view, err);
      if (ret == 0)
        {
          ret = tree_tar_write (view, fd, err);
          (void)umount2 (view, MNT_DETACH);
        }
      (void)rmdir (view);
    }
  layer_close (&l);
  return ret;
}

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
layer_open_as (struct isola_store *s, struct container *c, bool pause, bool writable, struct open_layer *l,
               isola_error_t *err)
{
  *l = (struct open_layer){ .c = c, .d = driver_of (c) };
  const char *image = container_image_id (c);
  if (image == NULL)
    return isola_error_fail (err, EINVAL, "container %.12s has no image", c->id);
  int ret = image_record_read (s, image, &l->image, err);
  if (ret == 0 && (ret = l->d->open_layer (c, writable, &l->dl, err)) == 0)
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

static int
layer_open (struct isola_store *s, struct container *c, bool pause, struct open_layer *l, isola_error_t *err)
{
  return layer_open_as (s, c, pause, false, l, err);
}

/* Mounts made here live in a mount namespace of the process's own, gone with it. */
static int
private_mounts (isola_error_t *err)
{
  static bool done;
  if (!done && (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0))
    return isola_error_make (err, errno, "make a private mount namespace");
  done = true;
  return 0;
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
  if (opts.container_config == NULL) /* the builder gives its own: the step's command as Docker records it */
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
  if ((ret = private_mounts (err)) < 0)
    ;
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

struct container_root_priv
{
  struct open_layer l;
  bool opened;
};

void
container_root_close (struct container_root *r)
{
  if (r->fd >= 0)
    close (r->fd);
  if (r->view)
    {
      (void)umount2 (r->view, MNT_DETACH);
      (void)rmdir (r->view);
      free (r->view);
    }
  if (r->priv && r->priv->opened)
    layer_close (&r->priv->l);
  if (r->paused)
    (void)container_unpause (r->c, NULL);
  free (r->priv);
  *r = (struct container_root){ .fd = -1 };
}

/* A running process container: its own root, frozen while we work in it, so that none of its processes can swap
   a directory for a symlink under our feet. */
static int
open_running_root (struct container *c, const struct isola_driver *d, struct container_root *r, isola_error_t *err)
{
  int ret = d->running_root (c, &r->fd, err);
  if (ret == 0 && !container_is_paused (c))
    {
      ret = container_pause (c, err);
      r->paused = ret == 0;
    }
  return ret;
}

int
container_root_open (struct isola_store *s, struct container *c, bool writable, struct container_root *r,
                     isola_error_t *err)
{
  *r = (struct container_root){ .fd = -1, .c = c };
  const struct isola_driver *d = driver_of (c);
  int ret;
  if (container_is_running (c) && d->running_root)
    {
      ret = open_running_root (c, d, r, err);
      if (ret < 0)
        container_root_close (r);
      return ret;
    }
  r->priv = xcalloc (1, sizeof (*r->priv));
  ret = layer_open_as (s, c, false, writable, &r->priv->l, err);
  r->priv->opened = ret == 0;
  struct open_layer *l = &r->priv->l;
  cleanup_free char *view = container_path (c, "cp-XXXXXX");
  if (ret == 0)
    ret = private_mounts (err);
  if (ret == 0 && mkdtemp (view) == NULL)
    ret = isola_error_make (err, errno, "make a directory in `%s`", c->dir);
  else if (ret == 0)
    {
      r->view = xstrdup (view);
      struct stat st;
      const char *top = stat (l->dl.upper, &st) == 0 ? l->dl.upper : NULL;
      if (writable)
        ret = overlay_mount_layers (s, l->image.chain_ids, l->image.n_layers, l->dl.upper, l->dl.work, view, err);
      else
        ret = overlay_mount_view (s, l->image.chain_ids, l->image.n_layers, top, view, err);
      if (ret < 0)
        {
          (void)rmdir (r->view);
          free (r->view);
          r->view = NULL;
        }
    }
  if (ret == 0 && (r->fd = open (view, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    ret = isola_error_make (err, errno, "open `%s`", view);
  if (ret < 0)
    container_root_close (r);
  return ret;
}

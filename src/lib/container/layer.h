/* What a container changed and what it holds, in either isolation mode: its writable layer through its driver
   (driver.h: open_layer), over its image's snapshots.  diff, commit and export. */
#ifndef ISOLA_CONTAINER_LAYER_H
#define ISOLA_CONTAINER_LAYER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/digest.h"
#include "container/container.h"
#include "image/changes.h"
#include "image/commit.h"
#include "store/store.h"

/* Docker's `diff`. */
int container_changes (struct isola_store *s, struct container *c, struct layer_change **out, size_t *n_out,
                       isola_error_t *err);

/* Docker's `commit`: pause (Docker's -p, default true) stops a running container's processes while its layer is
   read.  o->container_id is the container's, and o->container_config its Config unless given. */
int container_commit (struct isola_store *s, struct container *c, bool pause, const struct commit_options *o,
                      digest_hex_t id_out, isola_error_t *err);

/* Docker's `export`: the container's whole file system (its image and its changes, not its volumes) as a tar on
   fd. */
int container_export (struct isola_store *s, struct container *c, int fd, isola_error_t *err);

/* A container's root file system for cp, running or not, in either mode: fd is its root directory, in which paths
   are to be resolved with RESOLVE_IN_ROOT.  A running process container's own root (its volumes included), frozen
   meanwhile; otherwise its image's layers under its writable layer, mounted in a private mount namespace of the
   caller's (writable: for writing into it; refused for a running VM, whose guest is the only writer). */
struct container_root_priv;
struct container_root
{
  int fd;
  struct container *c;
  char *view;
  bool paused;
  struct container_root_priv *priv;
};

int container_root_open (struct isola_store *s, struct container *c, bool writable, struct container_root *r,
                         isola_error_t *err);
void container_root_close (struct container_root *r);

#endif

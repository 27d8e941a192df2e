/* `isola cp`: Docker's copy semantics between a container and the host, in either isolation mode
   (container/layer.h: container_root).  Paths in the container resolve inside its root (openat2 RESOLVE_IN_ROOT:
   an absolute symlink or ".." never leads out of it), and what is copied is walked without following symlinks;
   writes in either direction refuse to pass through a symlink (libarchive's secure extraction), so that nothing in
   the container can make cp read or write outside it.  The error messages are the docker CLI's. */
#ifndef ISOLA_COPY_H
#define ISOLA_COPY_H

#include <stdbool.h>

#include "container/container.h"
#include "store/store.h"

struct copy_options
{
  const char *label; /* the container as the user named it, for messages ("c1") */
  bool archive;      /* -a: keep uid/gid (into the container; otherwise root's) */
  bool follow_link;  /* -L: a symlink source is copied as what it points to */
  int stdio_fd;      /* "-": the tar stream's descriptor (stdout out of the container, stdin into it) */
};

/* src in the container; dst a host path or "-" (a tar of src on o->stdio_fd). */
int container_copy_out (struct isola_store *s, struct container *c, const char *src, const char *dst,
                        const struct copy_options *o, isola_error_t *err);

/* src a host path or "-" (a tar read from o->stdio_fd, extracted into the directory dst); dst in the container. */
int container_copy_in (struct isola_store *s, struct container *c, const char *src, const char *dst,
                       const struct copy_options *o, isola_error_t *err);

#endif

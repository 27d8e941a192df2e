/* `isola cp`: Docker's copy semantics between a container and the host, in either isolation mode
   (container/layer.h: container_root).  Paths in the container resolve inside its root (openat2 RESOLVE_IN_ROOT:
   an absolute symlink or ".." never leads out of it), and what is copied is walked without following symlinks;
   writes in either direction refuse to pass through a symlink (libarchive's secure extraction), so that nothing in
   the container can make cp read or write outside it.  The error messages are the docker CLI's. */
#ifndef ISOLA_COPY_H
#define ISOLA_COPY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

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

/* Docker's ContainerPathStat of a path of the container, its last element not followed (the Engine API's HEAD and
   GET /containers/{id}/archive send it in the X-Docker-Container-Path-Stat header). */
struct container_path_stat
{
  char *name; /* the cleaned path's last element ("/" for the root) */
  int64_t size;
  uint32_t mode; /* Go's os.FileMode: the permission bits and Go's type and setuid/setgid/sticky bits */
  struct timespec mtime;
  char *link_target; /* a symlink's target resolved in the container (absolute, every link followed), or NULL */
};
void container_path_stat_clear (struct container_path_stat *st);
/* {"name", "size", "mode", "mtime" (RFC 3339, UTC, nanoseconds), "linkTarget"}, as dockerd encodes it. */
json_t *container_path_stat_json (const struct container_path_stat *st);

/* The Engine API's GET archive: the stat of path, handed to on_stat (may be NULL) before anything is written, then,
   when fd >= 0, path as a tar on fd (what `isola cp CONTAINER:PATH -` writes).  ENOENT "Could not find the file
   PATH in container LABEL" when path does not exist; the container's root is opened once for both. */
int container_archive_get (struct isola_store *s, struct container *c, const char *path, const char *label, int fd,
                           void (*on_stat) (void *arg, const struct container_path_stat *st), void *arg,
                           isola_error_t *err);

#endif

/* A new container's mounts, decided once at create: its binds (-v SRC:DST, --mount type=bind), volumes (-v NAME:DST,
   --mount type=volume, and an anonymous volume for each path of Config.Volumes — the request's `-v /path` and the
   image's VOLUME — that nothing else is mounted on), and tmpfs mounts (--tmpfs, --mount type=tmpfs).  Volumes that
   do not exist are made, and a volume that is empty is seeded with what the image has at its path (unless nocopy),
   as Docker does.  The result is recorded in the container's config.json as Docker's inspect `Mounts`, in the order
   they are mounted (shallower destinations first), and is what both drivers mount (runspec_container_mounts). */
#ifndef ISOLA_MOUNTS_H
#define ISOLA_MOUNTS_H

#include <jansson.h>

#include "base/error.h"
#include "store/store.h"

/* host_config: the request's HostConfig (Binds, Mounts, Tmpfs), already checked (runspec_mounts_parse);
   config_volumes: Config.Volumes' paths.  Needs the store's exclusive lock.  On failure no anonymous volume made
   here is left. */
int container_mounts_prepare (struct isola_store *s, json_t *host_config, char *const *config_volumes,
                              const char *image_id, json_t **out, isola_error_t *err);

/* --volumes-from NAME[:ro|:rw]: the container's name (*name_out, may be NULL) and whether the mounts become
   read-only or writable (*mode_out: "ro", "rw", or "" to keep each mount's own; may be NULL).  EINVAL for another
   mode.  The mounts of that container (binds and volumes, not tmpfs) are added at create, after the request's own,
   which win on the same destination. */
int volumes_from_parse (const char *spec, char **name_out, char **mode_out, isola_error_t *err);

/* Copies the image's content at path (its merged layers, a directory) into the volume when the volume is empty:
   into a staging directory beside `_data` that replaces the empty `_data` by one rename, so a crash never leaves a
   half-seeded volume that looks seeded.  Ownership, modes, timestamps, xattrs and symlinks are kept.  Nothing
   happens when the image has no directory there or the volume is not empty. */
int volume_seed_from_image (struct isola_store *s, const char *volume, const char *image_id, const char *path,
                            isola_error_t *err);

#endif

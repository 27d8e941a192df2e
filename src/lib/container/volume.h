/* Named and anonymous volumes of the local driver: ROOT/volumes/NAME/ holds `_data/` (what containers mount) and
   `volume.json` ({"CreatedAt", "Labels", "Options"}).  A volume directory is built in tmp/ and renamed into place,
   and removed by being renamed into tmp/ first, so it is complete or absent.  Callers hold the store's exclusive
   lock to change volumes (shared to read them); which containers use a volume is read from their records' Mounts
   (container/mounts.h). */
#ifndef ISOLA_VOLUME_H
#define ISOLA_VOLUME_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

/* The label Docker (23 and later) puts on anonymous volumes: `volume prune` removes only those unless --all. */
#define VOLUME_ANONYMOUS_LABEL "com.docker.volume.anonymous"

/* ROOT/volumes/NAME/_data */
char *volume_data_path (const struct isola_store *s, const char *name);
bool volume_exists (const struct isola_store *s, const char *name);

/* Creates the volume name (NULL: a new anonymous volume with a random 64-hex name and VOLUME_ANONYMOUS_LABEL)
   with labels (an object of strings, may be NULL).  An existing volume of that name is kept as it is, as Docker
   does.  *name_out (may be NULL) gets the name, *created (may be NULL) whether it is new. */
int volume_create (struct isola_store *s, const char *name, json_t *labels, char **name_out, bool *created,
                   isola_error_t *err);

/* Docker's `volume inspect` object: CreatedAt, Driver, Labels, Mountpoint, Name, Options, Scope.  ENOENT "no such
   volume: NAME". */
int volume_inspect_json (const struct isola_store *s, const char *name, json_t **out, isola_error_t *err);

/* Names of all volumes, sorted; never NULL on success. */
int volume_list (const struct isola_store *s, char ***out, isola_error_t *err);

/* IDs of the containers, running or not, whose recorded mounts use the volume; never NULL. */
char **volume_users (const struct isola_store *s, const char *name);

/* Removes a volume no container uses: EBUSY "remove NAME: volume is in use - [ID…]" otherwise, ENOENT for a
   missing one. */
int volume_remove (struct isola_store *s, const char *name, isola_error_t *err);

/* Removes every unused volume (only the anonymous ones unless all); *removed gets their names, *reclaimed the
   bytes their files took. */
int volume_prune (struct isola_store *s, bool all, char ***removed, int64_t *reclaimed, isola_error_t *err);
/* The same, removing only the volumes may_go (NULL: all) accepts (prune's filters, container/system.h). */
int volume_prune_if (struct isola_store *s, bool all,
                     bool (*may_go) (const struct isola_store *s, const char *name, void *arg), void *arg,
                     char ***removed, int64_t *reclaimed, isola_error_t *err);

/* The anonymous volumes among recorded mounts (a removed container's: `rm -v`, `run --rm`) that no container
   uses any longer are removed; the others are left, as Docker leaves them. */
int volume_remove_anonymous (struct isola_store *s, json_t *mounts, isola_error_t *err);
/* The same for a caller without the store's lock (`rm -v`, the monitor of a --rm container): takes it. */
int volume_release_anonymous (const char *root, json_t *mounts, isola_error_t *err);

#endif

/* The whole store at once, as Docker's `system df` and `system prune` see it: what images, containers and volumes
   take on disk and what removing the unused ones would give back. */
#ifndef ISOLA_SYSTEM_H
#define ISOLA_SYSTEM_H

#include <jansson.h>
#include <stdint.h>

#include "store/store.h"

/* Docker's GET /system/df body: LayersSize (the bytes of every snapshot images use, each once), Images
   ([{Id, RepoTags, Created, Size, SharedSize, Containers}]: SharedSize counts the snapshots another image also
   has), Containers ([{Id, Names, Image, Command, Created, State, Status, SizeRw, Mounts}]: SizeRw is the container's
   own layer: the files of upper/, and the blocks of a VM container's disk), Volumes ([{Name, UsageData: {Size,
   RefCount}}]) and BuildCache ([]).  Needs the store's shared lock. */
int system_df (const struct isola_store *s, json_t **out, isola_error_t *err);

/* Removes every container that is not running (`container prune`): *removed their IDs, *reclaimed their own
   layers' bytes. */
int container_prune (struct isola_store *s, char ***removed, int64_t *reclaimed, isola_error_t *err);

/* The bytes under path (regular files' blocks, not crossing mounts). */
int64_t system_tree_bytes (const char *path);

#endif

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

/* Docker's prune filters: until (created before then), label=KEY[=VALUE] (every one matches), label!=KEY[=VALUE]
   (none matches). */
struct prune_filter
{
  bool has_until;
  int64_t until; /* seconds since the epoch */
  char **labels;
  char **not_labels;
};
void prune_filter_clear (struct prune_filter *f);
/* Adds "label=…" or "label!=…"; EINVAL "invalid filter 'KEY'" for another key (until is the caller's to parse). */
int prune_filter_add_label (struct prune_filter *f, const char *arg, isola_error_t *err);
/* Whether something created then (seconds; 0 when unknown) with these labels (an object, may be NULL) may go. */
bool prune_filter_matches (const struct prune_filter *f, int64_t created, json_t *labels);

/* Removes every container that is not running (`container prune`) and that f (may be NULL) lets go: *removed their
   IDs, *reclaimed their own layers' bytes. */
int container_prune (struct isola_store *s, const struct prune_filter *f, char ***removed, int64_t *reclaimed,
                     isola_error_t *err);

/* `image prune` with f (image/remove.h's image_prune, through its keep callback); needs the exclusive lock. */
struct rmi_report;
int image_prune_filtered (struct isola_store *s, bool all, const struct prune_filter *f, struct rmi_report *rep,
                          int64_t *reclaimed, isola_error_t *err);
/* `volume prune` of the anonymous volumes (or all) with f; until is refused, as Docker's volumes take no until. */
int volume_prune_filtered (struct isola_store *s, bool all, const struct prune_filter *f, char ***removed,
                           int64_t *reclaimed, isola_error_t *err);

/* The bytes under path (regular files' blocks, not crossing mounts). */
int64_t system_tree_bytes (const char *path);

#endif

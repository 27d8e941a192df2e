/* The store: one root directory (default /var/lib/isola) that holds every image, blob and snapshot.

   ROOT/lock                 flock(2): shared for readers, exclusive for any mutation; and its first byte's OFD lock
                             (fcntl(2), independent of the flock), the collection lock: shared while a load or
                             import stages outside the store lock, exclusive for whoever deletes blobs and snapshots
                             (rmi, prune), so that nothing a staged image is about to reference is collected.
                             Always taken before the flock.
   ROOT/blobs/sha256/HEX     content-addressed blobs (manifests, configs, layers), verified when written
   ROOT/snapshots/CHAIN/fs   unpacked layers keyed by ChainID; CHAIN/meta.json records diff ID and size
   ROOT/images/ID.json       one record per image (ID = config digest)
   ROOT/refs.json            tags: "name:tag" -> image ID
   ROOT/mounts/ID            mount points of `isola image mount`
   ROOT/builder/cache/KEY    the build cache: the image a build step made (build/executor.h)
   ROOT/builder/work/PID-*   builds in progress
   ROOT/tmp                  staging; anything here is garbage once the exclusive lock is held, but for the
                             staging directories whose flock a load or import holds (store_stage_begin)

   Every mutation is staged in tmp/ and published by rename(2) under the exclusive lock, so a crash at any point
   leaves either the old or the new state visible, plus garbage that the next mutation or `image prune` removes. */
#ifndef ISOLA_STORE_H
#define ISOLA_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/digest.h"
#include <jansson.h>

#include "base/error.h"

#define ISOLA_DEFAULT_ROOT "/var/lib/isola"

/* Optional settings an administrator writes (docs/STORE.md): ROOT/config.json. */
#define STORE_CONFIG "config.json"

/* ROOT/config.json parsed, or *out NULL when there is none.  EINVAL, naming the file, for one that is not JSON. */
int store_config_load (const char *root, json_t **out, isola_error_t *err);

/* Compiled seccomp programs (sandbox/seccomp_program.c), under the root: a cache, safe to delete at any time. */
#define STORE_SECCOMP_CACHE "cache/seccomp"

struct isola_store
{
  char *root;
  int lock_fd;
  bool locked_exclusive;
  int collect_fd;   /* holds the collection lock, or -1 */
  bool may_collect; /* the collection lock is held exclusively: blobs and snapshots may be deleted */
  int staging_fd;   /* holds the flock of the staging directory of store_stage_begin, or -1 */
};

enum store_lock_mode
{
  STORE_LOCK_NONE, /* for a container's monitor, which only touches its own container's directory */
  STORE_LOCK_SHARED,
  STORE_LOCK_EXCLUSIVE,
  STORE_LOCK_COLLECT, /* exclusive, after the collection lock (exclusive): for rmi and prune, which delete blobs */
};

/* Opens (creating if needed) the store at root and takes the lock in the given mode.  An exclusive opener also
   clears leftovers of interrupted operations from tmp/. */
int store_open (const char *root, enum store_lock_mode mode, struct isola_store **out, isola_error_t *err);
void store_close (struct isola_store *s);
static inline void
cleanup_storep (struct isola_store **s)
{
  store_close (*s);
}
#define cleanup_store __attribute__ ((cleanup (cleanup_storep)))

/* ROOT/<printf-formatted relative path> */
char *store_path (const struct isola_store *s, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

/* A fresh directory under ROOT/tmp. */
int store_make_tmp (struct isola_store *s, const char *prefix, char **out, isola_error_t *err);

/* For a long mutation (load, import) on a store opened with STORE_LOCK_NONE: takes the collection lock (shared) and
   makes a staging directory under ROOT/tmp that exclusive openers leave alone while we hold its flock, all without
   holding the store lock, which readers (`images`) and other writers keep using while we stage.  Publish with
   store_lock (s, STORE_LOCK_EXCLUSIVE); everything is released by store_close. */
int store_stage_begin (struct isola_store *s, const char *prefix, char **out, isola_error_t *err);

/* Takes the store lock in mode now (from STORE_LOCK_NONE): exclusive clears tmp/ as store_open does. */
int store_lock (struct isola_store *s, enum store_lock_mode mode, isola_error_t *err);

/* Blobs. */
char *blob_path (const struct isola_store *s, const char *hex);
bool blob_exists (const struct isola_store *s, const char *hex);
/* Publishes a staged file (inside ROOT/tmp) whose content the caller has verified to hash to HEX; the file is
   hard-linked, not copied, so publishing is one atomic link(2). */
int blob_publish_verified (struct isola_store *s, const char *staged, const char *hex, isola_error_t *err);
int blob_read (const struct isola_store *s, const char *hex, size_t max, char **out, size_t *len, isola_error_t *err);
int blob_remove (struct isola_store *s, const char *hex, isola_error_t *err);

/* Snapshots. */
char *snapshot_dir (const struct isola_store *s, const char *chain_hex);
char *snapshot_fs (const struct isola_store *s, const char *chain_hex);
bool snapshot_exists (const struct isola_store *s, const char *chain_hex);
/* Unpacked size recorded in the snapshot's meta.json (0 when unknown). */
int64_t snapshot_size (const struct isola_store *s, const char *chain_hex);

#endif

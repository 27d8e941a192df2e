/* Bringing images into the store, shared by load and import.  Everything is first staged and verified under
   ROOT/tmp (blobs hashed, layers unpacked and their diff IDs checked against the config); only then does
   ingest_commit publish it: blobs by link(2), snapshots and records by rename(2), tags last.  A failure before the
   commit leaves the store exactly as it was; a failure during it is rolled back. */
#ifndef ISOLA_INGEST_H
#define ISOLA_INGEST_H

#include <stddef.h>

#include "base/digest.h"
#include "image/image.h"
#include "store/store.h"

struct ingest_blob
{
  char *path; /* staged file, content verified to hash to hex */
  digest_hex_t hex;
};

struct ingest_snapshot
{
  char *dir; /* staged snapshot directory: fs/ and meta.json */
  digest_hex_t chain;
};

struct ingest_image
{
  struct image_record rec;
  char **tags; /* normalized "name:tag" */
};

struct ingest_plan
{
  struct isola_store *store;
  char *staging; /* a directory under ROOT/tmp owned by the plan's user */
  struct ingest_blob *blobs;
  size_t n_blobs;
  struct ingest_snapshot *snaps;
  size_t n_snaps;
  struct ingest_image *images;
  size_t n_images;
  int snapshots_created;
  int snapshots_reused;
};

void ingest_init (struct ingest_plan *p, struct isola_store *s, const char *staging);

/* A staging directory for a plan.  On a store opened without a lock (STORE_LOCK_NONE), the plan stages outside the
   store lock (store_stage_begin: readers and other writers go on meanwhile; nothing it reuses from the store is
   collected) and ingest_commit takes the exclusive lock to publish; on one opened exclusive, all happens under it. */
int ingest_staging (struct isola_store *s, const char *prefix, char **out, isola_error_t *err);
void ingest_clear (struct ingest_plan *p);

/* Adds a verified staged blob (no-op when the store or the plan already has it). */
void ingest_add_blob (struct ingest_plan *p, const char *path, const char *hex);

/* Adds an image: its manifest and config are already verified blobs of the plan or the store; layer_paths are the
   staged layer blobs in manifest order (base first).  Unpacks each layer not yet in the store into a staged
   snapshot, checking it against the config's diff IDs.  tags are normalized "name:tag" strings. */
int ingest_add_image (struct ingest_plan *p, const char *manifest_hex, const char *config_hex, const char *config,
                      size_t config_len, char *const *layer_paths, size_t n_layers, char *const *tags,
                      isola_error_t *err);

int ingest_commit (struct ingest_plan *p, isola_error_t *err);

/* Stores a small in-memory blob (manifest, config); returns its digest. */
int blob_put (struct isola_store *s, const void *data, size_t len, digest_hex_t out, isola_error_t *err);

/* ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)), over "sha256:…" strings. */
void chain_id_next (const char *parent_chain_hex, const char *diff_id_hex, digest_hex_t out);

#endif

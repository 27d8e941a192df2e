/* Images in the store: their records, their tags, resolving what a user typed to an image, inspect (removal is
   image/remove.h).  Callers hold the store lock (shared to read, exclusive to change). */
#ifndef ISOLA_IMAGE_H
#define ISOLA_IMAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/digest.h"
#include "store/store.h"

struct image_record
{
  digest_hex_t id;         /* config digest: the image ID */
  digest_hex_t manifest;   /* manifest blob digest */
  int64_t size;            /* sum of the layers' unpacked sizes */
  int64_t created;         /* from the config, seconds since the epoch (0 when absent) */
  digest_hex_t *chain_ids; /* snapshots, base layer first */
  size_t n_layers;
  char *loaded_at;     /* RFC 3339 time the image entered the store */
  digest_hex_t parent; /* the image it was committed from ("" for none: loaded and imported images), as Docker's
                          Parent: `history` names its layers, `inspect` shows it */
  char **repo_digests; /* "name@sha256:HEX" a registry named the image by (pull, push); NULL when none */
};

/* The digest ("sha256:HEX") a registry gave the image in repository name, or NULL (a pointer into r). */
const char *image_record_repo_digest (const struct image_record *r, const char *name);

/* Adds "name@digest" to the record's repository digests, replacing one of the same name; true if it changed. */
bool image_record_add_repo_digest (struct image_record *r, const char *name_at_digest);

void image_record_clear (struct image_record *r);
int image_record_read (const struct isola_store *s, const char *id, struct image_record *out, isola_error_t *err);
/* ROOT/images/ID.json */
char *image_record_path (const struct isola_store *s, const char *id);
int image_record_write (struct isola_store *s, const struct image_record *r, isola_error_t *err);
bool image_exists (const struct isola_store *s, const char *id);
/* IDs of all images, sorted. */
int image_list_ids (const struct isola_store *s, char ***out, isola_error_t *err);

/* The images whose parent is id (committed or built from it), as Docker's image store's Children: rmi refuses to
   delete an image that has some, and `images` hides untagged ones with children (intermediate images). */
bool image_has_children (const struct isola_store *s, const char *id);

/* Tags live in one JSON object {"name:tag": "ID"} replaced atomically. */
int refs_read (const struct isola_store *s, json_t **out, isola_error_t *err);
int refs_write (struct isola_store *s, json_t *refs, isola_error_t *err);
/* Tags of an image, sorted; never NULL. */
char **refs_tags_of (json_t *refs, const char *id);

/* Resolves a name[:tag], name@digest, full ID, "sha256:ID" or unique ID prefix.  ENOENT: "No such image: X";
   EINVAL for an ambiguous prefix or a malformed reference. */
int image_resolve (const struct isola_store *s, json_t *refs, const char *what, digest_hex_t out, isola_error_t *err);

/* Points tag (parsed and normalized) at image id. */
int image_tag (struct isola_store *s, const char *id, const char *target, isola_error_t *err);

/* Docker-shaped `image inspect` object. */
int image_inspect_json (const struct isola_store *s, json_t *refs, const char *id, json_t **out, isola_error_t *err);

/* Reads and parses an image's config blob. */
struct oci_config;
int image_read_config (const struct isola_store *s, const char *id, struct oci_config *out, isola_error_t *err);

#endif

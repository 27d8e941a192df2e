/* Pulling an image from a registry (registry.h) into the store, through the same staging and publication as `load`
   (ingest.h): manifests, config and layers are verified while they stream into ROOT/tmp, layers are unpacked and
   checked against the config's diff IDs, and only then is the image published under the store lock.  An
   interrupted or failed pull leaves the store as it was.  This code links libcurl: the static `isola` does not
   carry it, its `pull` runs isola-registry (src/registry/). */
#ifndef ISOLA_PULL_REMOTE_H
#define ISOLA_PULL_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/digest.h"
#include "base/error.h"
#include "image/registry.h"

struct pull_options
{
  const char *platform;               /* "os/arch[/variant]", NULL for this host's */
  const struct registry_login *login; /* NULL: the credentials of config.json */
};

enum pull_event
{
  PULL_HEADER,            /* text: "TAG: Pulling from REPO" */
  PULL_LAYER_EXISTS,      /* "Already exists" */
  PULL_LAYER_WAITING,     /* "Pulling fs layer" */
  PULL_LAYER_DOWNLOADING, /* done of total bytes */
  PULL_LAYER_VERIFIED,    /* "Verifying Checksum", "Download complete" */
  PULL_LAYER_EXTRACTING,  /* the layers are unpacked */
  PULL_LAYER_COMPLETE,    /* "Pull complete" */
};

/* id: a layer's short digest, or the header's text. */
typedef void (*pull_progress_fn) (void *arg, enum pull_event ev, const char *id, int64_t done, int64_t total);

struct pull_result
{
  digest_hex_t id;          /* the image */
  digest_hex_t repo_digest; /* what the registry named it by (the index for a multi-platform image) */
  char *full_name;          /* "docker.io/library/busybox:latest", Docker's last line */
  char *familiar;           /* "busybox:latest" (or name@digest) */
  bool up_to_date;          /* nothing new: Docker's "Image is up to date" */
};
void pull_result_clear (struct pull_result *r);

int image_pull_remote (const char *root, const char *reference, const struct pull_options *opts, pull_progress_fn fn,
                       void *arg, struct pull_result *out, isola_error_t *err);

/* The tags of reference's repository (pull -a), sorted as the registry lists them. */
int image_list_remote_tags (const char *root, const char *reference, char ***out, isola_error_t *err);

#endif

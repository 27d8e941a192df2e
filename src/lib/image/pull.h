/* Pulling images from a registry, and the --pull policy of `run`/`create` (Docker's: always, missing, never).
   There is no registry client yet (issue 13): image_pull is where it plugs in, and until then it fails with
   ENOTSUP, which `--pull missing` (the default) takes as "use what is local" and `--pull always` reports. */
#ifndef ISOLA_IMAGE_PULL_H
#define ISOLA_IMAGE_PULL_H

#include "base/error.h"

enum image_pull_policy
{
  IMAGE_PULL_MISSING, /* the default: pull only an image that is not in the store */
  IMAGE_PULL_ALWAYS,
  IMAGE_PULL_NEVER,
  IMAGE_PULL_POLICY_MAX,
  IMAGE_PULL_POLICY_INVALID = -1,
};

/* "always", "missing" or "never" ("" is missing, as the docker CLI takes it); IMAGE_PULL_POLICY_INVALID else. */
enum image_pull_policy image_pull_policy_from_name (const char *name);

/* Pulls reference into the store at root (NULL: the default).  ENOTSUP for now: no registry client. */
int image_pull (const char *root, const char *reference, isola_error_t *err);

#endif

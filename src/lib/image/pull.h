/* The --pull policy of `run`/`create` (Docker's: always, missing, never).  The pull itself is
   image/pull_remote.h, which the CLI reaches through isola-registry (src/cli/registry.c). */
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

#endif

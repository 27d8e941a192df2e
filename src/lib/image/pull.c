/* The --pull policy (pull.h). */
#define _GNU_SOURCE
#include "image/pull.h"

#include <errno.h>
#include <string.h>

enum image_pull_policy
image_pull_policy_from_name (const char *name)
{
  static const char *const names[IMAGE_PULL_POLICY_MAX] = {
    [IMAGE_PULL_MISSING] = "missing",
    [IMAGE_PULL_ALWAYS] = "always",
    [IMAGE_PULL_NEVER] = "never",
  };
  if (name[0] == '\0')
    return IMAGE_PULL_MISSING;
  for (int i = 0; i < IMAGE_PULL_POLICY_MAX; i++)
    if (strcmp (name, names[i]) == 0)
      return (enum image_pull_policy)i;
  return IMAGE_PULL_POLICY_INVALID;
}

/* Pushing an image of the store to a registry (registry.h) as it is: its blobs (those the registry lacks), then its
   manifest, byte for byte, so that a pull of what was pushed gives the same image ID and digest.  Links libcurl:
   run by isola-registry (src/registry/). */
#ifndef ISOLA_PUSH_H
#define ISOLA_PUSH_H

#include <stdint.h>

#include "base/digest.h"
#include "base/error.h"
#include "image/registry.h"

enum push_event
{
  PUSH_HEADER, /* text: "The push refers to repository [NAME]" */
  PUSH_LAYER_PREPARING,
  PUSH_LAYER_EXISTS,  /* "Layer already exists" */
  PUSH_LAYER_PUSHING, /* done of total bytes sent */
  PUSH_LAYER_PUSHED,
  PUSH_LAYER_MOUNTED, /* from: the repository the registry mounted it from */
};

struct push_progress
{
  enum push_event ev;
  const char *id; /* a layer's short diff ID (as Docker shows it), or the header's text */
  int64_t done, total;
  const char *from;
};

typedef void (*push_progress_fn) (void *arg, const struct push_progress *p);

struct push_result
{
  digest_hex_t digest; /* the manifest's */
  size_t size;         /* the manifest's */
  char *tag;
};
void push_result_clear (struct push_result *r);

/* login: the credentials to push with, NULL for those of config.json. */
int image_push (const char *root, const char *reference, const struct registry_login *login, push_progress_fn fn,
                void *arg, struct push_result *out, isola_error_t *err);

#endif

/* Pushing an image of the store to a registry (registry.h) as it is: its blobs (those the registry lacks), then its
   manifest, byte for byte, so that a pull of what was pushed gives the same image ID and digest.  Links libcurl:
   run by isola-registry (src/registry/). */
#ifndef ISOLA_PUSH_H
#define ISOLA_PUSH_H

#include <stdint.h>

#include "base/digest.h"
#include "base/error.h"

enum push_event
{
  PUSH_HEADER, /* text: "The push refers to repository [NAME]" */
  PUSH_LAYER_PREPARING,
  PUSH_LAYER_EXISTS, /* "Layer already exists" */
  PUSH_LAYER_PUSHING,
  PUSH_LAYER_PUSHED,
};

typedef void (*push_progress_fn) (void *arg, enum push_event ev, const char *id);

struct push_result
{
  digest_hex_t digest; /* the manifest's */
  size_t size;         /* the manifest's */
  char *tag;
};
void push_result_clear (struct push_result *r);

int image_push (const char *root, const char *reference, push_progress_fn fn, void *arg, struct push_result *out,
                isola_error_t *err);

#endif

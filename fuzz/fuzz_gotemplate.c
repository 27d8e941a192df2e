/* libFuzzer target: `--format` templates (gotemplate.c), rendered against a container-like object or, after a NUL
   byte in the input, against the JSON that follows it (inspect renders records a container's files shaped); each
   plain and as Docker's typed container and image structs (inspect_shape.c), which also completes the object as
   dockerd sends it.  Any template renders or fails with a message, and a rendering is a string. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/gotemplate.h"
#include "base/util.h"
#include "container/inspect_shape.h"
#include "image/inspect_shape.h"

static const char object_json[]
    = "{\"Id\":\"0123abcd\",\"Name\":\"/web\",\"State\":{\"Status\":\"running\",\"Pid\":42,\"Running\":true,"
      "\"ExitCode\":0,\"StartedAt\":\"2024-01-02T03:04:05Z\",\"Health\":null},\"Config\":{\"Labels\":{\"a\":\"b\","
      "\"com.x\":\"\"},\"Env\":[\"A=1\",\"B=2\"],\"Cmd\":[\"sh\",\"-c\",\"x\"]},\"Mounts\":[{\"Source\":\"/s\","
      "\"Destination\":\"/d\"}],\"HostConfig\":{\"Memory\":1.5e9,\"CpuShares\":-1},\"RepoTags\":[],\"Size\":0}";

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static json_t *fixed;
  if (fixed == NULL)
    fixed = json_loads (object_json, 0, NULL);
  cleanup_free char *tmpl = strndup ((const char *)data, size);
  if (tmpl == NULL)
    return 0;
  size_t tlen = strlen (tmpl);
  json_t *own = NULL;
  if (tlen + 1 < size)
    own = json_loadb ((const char *)data + tlen + 1, size - tlen - 1, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

  json_t *objs[] = { fixed, own };
  for (size_t i = 0; i < 2; i++)
    {
      if (objs[i] == NULL)
        continue;
      const struct gotype_field *types[] = { NULL, container_inspect_types, image_inspect_types };
      for (size_t t = 0; t < 3; t++)
        {
          char *out = NULL;
          cleanup_error isola_error_t err = NULL;
          int ret = gotemplate_render (tmpl, objs[i], types[t], &out, &err);
          if (ret < 0 ? err == NULL || err->msg == NULL : out == NULL || err != NULL)
            abort ();
          free (out);
        }
      if (json_is_object (objs[i]) && objs[i] != fixed)
        container_inspect_complete (objs[i]);
    }
  json_decref (own);
  return 0;
}

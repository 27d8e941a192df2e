/* libFuzzer target for the Engine API's create body (POST /containers/create, also what the CLI's flags become):
   arbitrary bytes as the JSON body, typed, checked as create checks it (seccomp programs cached in a scratch
   directory, so the default profile is compiled once); what passes is merged with an image's config as create merges
   it; each stage is written back in inspect's shape; then released.  A refusal always explains itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/json.h"
#include "base/util.h"
#include "container/spec.h"

static char cache[] = "/tmp/isola-fuzz-create-XXXXXX";

static void
remove_scratch (void)
{
  (void)rm_rf (cache, NULL);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void)argc, (void)argv;
  if (mkdtemp (cache) == NULL)
    abort ();
  atexit (remove_scratch);
  return 0;
}

static void
check_shapes (const struct container_spec *spec)
{
  cleanup_json json_t *config = container_spec_config_json (spec);
  cleanup_json json_t *host = container_spec_host_config_json (spec);
  cleanup_json json_t *exact = container_spec_exact_json (spec);
  if (!json_is_object (config) || !json_is_object (host) || (exact != NULL && !json_is_object (exact)))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  cleanup_json json_t *body = json_loadb ((const char *)data, size, JSON_ALLOW_NUL, NULL);
  if (body == NULL)
    return 0;
  cleanup_container_spec struct container_spec spec = { 0 };
  cleanup_error isola_error_t err = NULL;
  if (container_spec_from_json (body, NULL, &spec, &err) < 0)
    {
      if (err == NULL || err->msg == NULL || spec.image != NULL || spec.env != NULL)
        abort ();
      return 0;
    }
  if (err != NULL || spec.env == NULL || spec.binds == NULL || spec.networks == NULL)
    abort ();
  check_shapes (&spec);
  int ret = container_spec_validate (&spec, cache, &err);
  if (ret < 0 ? err == NULL || err->msg == NULL : err != NULL)
    abort ();
  if (ret < 0)
    return 0;
  ret = container_spec_check_resources (&spec, true, &err);
  if (ret < 0 ? err == NULL : err != NULL)
    abort ();
  if (ret < 0)
    abort (); /* what create accepts, update accepts */
  cleanup_json json_t *image = json_pack ("{s:[s], s:[s], s:s, s:{s:s}, s:s}", "Env", "PATH=/usr/bin", "Cmd", "sh",
                                          "WorkingDir", "/srv", "Labels", "a", "b", "User", "daemon");
  ret = container_spec_merge_image (&spec, image, &err);
  if (ret < 0 ? err == NULL : err != NULL)
    abort ();
  check_shapes (&spec);
  return 0;
}

/* spec (a default config.json) and features (what this runtime implements). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "runtime.h"
#include "runtime/oci.h"

enum
{
  F_BUNDLE = FLAG_FIRST_ID,
  F_ROOTLESS,
};

static const struct flag_def spec_flags[] = {
  { "bundle", 'b', F_BUNDLE, "string", "path to the root of the bundle directory" },
  { "rootless", 0, F_ROOTLESS, NULL, "generate a configuration for a rootless container (not supported)" },
  { NULL },
};

static int
verb_spec (struct rt_ctx *ctx, struct flag_parser *p)
{
  int code = 0, id;
  const char *bundle = ".";
  while ((id = rt_next (ctx, p, &code)) != FLAG_END)
    {
      if (id < 0)
        return code;
      if (id == F_BUNDLE)
        bundle = p->value;
      else if (id == F_ROOTLESS && p->on)
        return rt_failf (ctx, "rootless containers are not supported by isola-runtime");
    }
  if (rt_args (ctx, p, "spec", 0, 0))
    return 1;
  cleanup_free char *path = xasprintf ("%s/config.json", bundle);
  if (access (path, F_OK) == 0)
    return rt_failf (ctx, "File %s exists. Remove it first", path);
  cleanup_json json_t *spec = oci_default_spec ();
  cleanup_free char *text = json_dumps (spec, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
  cleanup_error isola_error_t err = NULL;
  if (write_file_atomic (path, text, strlen (text), 0666 & ~0022, &err) < 0)
    return rt_fail (ctx, &err);
  return 0;
}

static int
verb_features (struct rt_ctx *ctx, struct flag_parser *p)
{
  int code = 0, id;
  while ((id = rt_next (ctx, p, &code)) != FLAG_END)
    if (id < 0)
      return code;
  cleanup_json json_t *f = oci_features ();
  cleanup_free char *text = json_dumps (f, JSON_INDENT (4) | JSON_PRESERVE_ORDER);
  printf ("%s\n", text);
  return 0;
}

const struct rt_verb rt_verb_spec
    = { "spec", "[command options]", "create a new specification file", spec_flags, verb_spec };
const struct rt_verb rt_verb_features = { "features", "", "show the enabled features", NULL, verb_features };

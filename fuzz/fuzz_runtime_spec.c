/* libFuzzer target for OCI runtime specs (a bundle's config.json, what containerd, podman or Kubernetes hand
   isola-runtime): arbitrary bytes as the document, parsed against a scratch bundle with a rootfs, then released.
   Namespace paths are only ever opened as namespaces (sandbox/netns.h), so a path the input names is never read. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/util.h"
#include "runtime/oci.h"

static char bundle[] = "/tmp/isola-fuzz-bundle-XXXXXX";

static void
remove_scratch (void)
{
  (void)rm_rf (bundle, NULL);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void)argc, (void)argv;
  if (mkdtemp (bundle) == NULL)
    abort ();
  atexit (remove_scratch);
  cleanup_free char *rootfs = xasprintf ("%s/rootfs", bundle);
  if (mkdir (rootfs, 0755) < 0)
    abort ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  cleanup_json json_t *config = json_loadb ((const char *)data, size, 0, NULL);
  if (config == NULL)
    return 0;
  struct oci_launch l;
  oci_launch_init (&l);
  cleanup_error isola_error_t err = NULL;
  int ret = oci_launch_parse (config, bundle, &l, &err);
  if (ret < 0 ? err == NULL || err->msg == NULL : err != NULL)
    abort ();
  if (ret == 0 && (l.root_dir == NULL || l.spec.argv == NULL || l.spec.argv[0] == NULL || l.spec.env == NULL))
    abort ();
  oci_launch_clear (&l);
  return 0;
}

/* libFuzzer target for the manifest-level documents: the same bytes go to the kind guesser and every parser
   (index, manifest, docker save manifest.json), since an archive may hand any blob to any of them. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "image/oci.h"

static void
check_descriptor (const struct oci_descriptor *d)
{
  if (d->size < 0 || !digest_hex_valid (d->digest))
    abort ();
}

static void
fuzz_index (const char *buf, size_t len)
{
  struct oci_index ix = { 0 };
  cleanup_error isola_error_t err = NULL;
  if (oci_index_parse (buf, len, &ix, &err) < 0)
    {
      if (err == NULL || ix.manifests != NULL)
        abort ();
      return;
    }
  if (ix.n_manifests > OCI_MAX_MANIFESTS)
    abort ();
  for (size_t i = 0; i < ix.n_manifests; i++)
    check_descriptor (&ix.manifests[i]);
  oci_index_clear (&ix);
}

static void
fuzz_manifest (const char *buf, size_t len)
{
  struct oci_manifest m = { 0 };
  cleanup_error isola_error_t err = NULL;
  if (oci_manifest_parse (buf, len, &m, &err) < 0)
    {
      if (err == NULL || m.layers != NULL)
        abort ();
      return;
    }
  if (m.media_type == NULL || m.n_layers > OCI_MAX_LAYERS)
    abort ();
  check_descriptor (&m.config);
  for (size_t i = 0; i < m.n_layers; i++)
    {
      check_descriptor (&m.layers[i]);
      (void)oci_layer_media_compression (m.layers[i].media_type);
    }
  oci_manifest_clear (&m);
}

static void
fuzz_save (const char *buf, size_t len)
{
  struct docker_save_entry *e = NULL;
  size_t n = 0;
  cleanup_error isola_error_t err = NULL;
  if (docker_save_manifest_parse (buf, len, &e, &n, &err) < 0)
    {
      if (err == NULL || e != NULL)
        abort ();
      return;
    }
  for (size_t i = 0; i < n; i++)
    {
      if (!archive_path_is_safe (e[i].config_path) || e[i].repo_tags == NULL)
        abort ();
      for (size_t j = 0; j < e[i].n_layers; j++)
        if (!archive_path_is_safe (e[i].layer_paths[j]))
          abort ();
    }
  docker_save_entries_free (e, n);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *buf = (const char *)data;
  (void)oci_document_kind (buf, size);
  fuzz_index (buf, size);
  fuzz_manifest (buf, size);
  fuzz_save (buf, size);
  return 0;
}

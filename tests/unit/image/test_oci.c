/* Unit tests for the OCI / Docker JSON parsers: valid documents of each kind, and every way a field can be
   missing, mistyped or out of bounds.  Documents are written with single quotes (J() turns them into double
   quotes) to keep them readable.  CHECK evaluates its condition twice, so parses happen before it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "image/oci.h"
#include "tap.h"

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

#define DESC(mt, hex, size) "{'mediaType':'" mt "','digest':'sha256:" hex "','size':" #size "}"

#define CONFIG_DESC DESC (MT_OCI_CONFIG, HEX_A, 100)
#define LAYER_B     DESC (MT_OCI_LAYER_GZIP, HEX_B, 200)
#define LAYER_C     DESC (MT_OCI_LAYER_TAR, HEX_C, 300)

/* printf-formats a document and turns its single quotes into JSON's double quotes. */
static char *J (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static char *
J (const char *fmt, ...)
{
  char *s = NULL;
  va_list ap;
  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) < 0)
    abort ();
  va_end (ap);
  for (char *p = s; *p; p++)
    if (*p == '\'')
      *p = '"';
  return s;
}

/* "[item,item,...]" with n copies of item, for the count limits. */
static char *
repeat_array (const char *item, size_t n)
{
  size_t len = strlen (item);
  char *s = xmalloc (n * (len + 1) + 3);
  char *p = s;
  *p++ = '[';
  for (size_t i = 0; i < n; i++)
    {
      if (i)
        *p++ = ',';
      memcpy (p, item, len);
      p += len;
    }
  *p++ = ']';
  *p = '\0';
  return s;
}

/* Each try_* parses a document, checks that a failure left the out-parameter zeroed, and clears. */
typedef int (*try_fn) (const char *doc, isola_error_t *err);

static int
try_index (const char *doc, isola_error_t *err)
{
  struct oci_index x = { 0 };
  int ret = oci_index_parse (doc, strlen (doc), &x, err);
  if (ret < 0)
    CHECK (x.media_type == NULL && x.manifests == NULL && x.n_manifests == 0, "failed index parse leaves out zeroed");
  oci_index_clear (&x);
  return ret;
}

static int
try_manifest (const char *doc, isola_error_t *err)
{
  struct oci_manifest x = { 0 };
  int ret = oci_manifest_parse (doc, strlen (doc), &x, err);
  if (ret < 0)
    CHECK (x.media_type == NULL && x.layers == NULL && x.config.media_type == NULL,
           "failed manifest parse leaves out zeroed");
  oci_manifest_clear (&x);
  return ret;
}

static int
try_config (const char *doc, isola_error_t *err)
{
  struct oci_config x = { 0 };
  int ret = oci_config_parse (doc, strlen (doc), &x, err);
  if (ret < 0)
    CHECK (x.json == NULL && x.os == NULL && x.diff_ids == NULL, "failed config parse leaves out zeroed");
  oci_config_clear (&x);
  return ret;
}

static int
try_save (const char *doc, isola_error_t *err)
{
  struct docker_save_entry *e = NULL;
  size_t n = 0;
  int ret = docker_save_manifest_parse (doc, strlen (doc), &e, &n, err);
  if (ret < 0)
    CHECK (e == NULL && n == 0, "failed manifest.json parse leaves out untouched");
  docker_save_entries_free (e, n);
  return ret;
}

/* Expects fn(doc) to fail with -status and a message containing needle.  Takes ownership of doc. */
static void
expect_fail (try_fn fn, char *doc, int status, const char *needle)
{
  cleanup_error isola_error_t err = NULL;
  int ret = fn (doc, &err);
  CHECK (ret == -status, "refused with %s (ret %d): %.100s", strerror (status), ret, doc);
  CHECK (err && err->status == status && err->msg && strstr (err->msg, needle), "message has `%s`: %s", needle,
         err && err->msg ? err->msg : "(none)");
  free (doc);
}

static void
expect_ok (try_fn fn, char *doc)
{
  cleanup_error isola_error_t err = NULL;
  int ret = fn (doc, &err);
  CHECK (ret == 0, "accepted: %.100s%s%s", doc, err ? " — " : "", err ? err->msg : "");
  free (doc);
}

static void
test_index_valid (void)
{
  cleanup_free char *doc
      = J ("{'schemaVersion':2,'mediaType':'%s','manifests':["
           "{'mediaType':'%s','digest':'sha256:%s','size':500,"
           " 'annotations':{'%s':'busybox:latest','%s':'docker.io/library/busybox:latest','other':'x'},"
           " 'platform':{'os':'linux','architecture':'amd64','variant':'v8'}},"
           "{'mediaType':'%s','digest':'sha256:%s','size':0}],"
           "'annotations':{'x':'y'}}",
           MT_OCI_INDEX, MT_OCI_MANIFEST, HEX_A, ANNOTATION_REF_NAME, ANNOTATION_CONTAINERD_NAME, MT_OCI_INDEX, HEX_B);
  struct oci_index ix = { 0 };
  cleanup_error isola_error_t err = NULL;
  int ret = oci_index_parse (doc, strlen (doc), &ix, &err);
  CHECK (ret == 0, "OCI index parses%s%s", err ? ": " : "", err ? err->msg : "");
  CHECK_STR (ix.media_type, MT_OCI_INDEX, "index media type");
  CHECK (ix.n_manifests == 2, "two manifests");
  if (ix.n_manifests == 2)
    {
      struct oci_descriptor *d = &ix.manifests[0];
      CHECK_STR (d->media_type, MT_OCI_MANIFEST, "manifest[0] media type");
      CHECK_STR (d->digest, HEX_A, "manifest[0] digest is the hex part");
      CHECK (d->size == 500, "manifest[0] size");
      CHECK_STR (d->ref_name, "busybox:latest", "ref.name annotation");
      CHECK_STR (d->containerd_name, "docker.io/library/busybox:latest", "containerd name annotation");
      CHECK_STR (d->platform_os, "linux", "platform os");
      CHECK_STR (d->platform_arch, "amd64", "platform arch");
      d = &ix.manifests[1];
      CHECK_STR (d->media_type, MT_OCI_INDEX, "nested index descriptor kept");
      CHECK (d->size == 0 && d->ref_name == NULL && d->platform_os == NULL, "manifest[1] optional fields absent");
    }
  oci_index_clear (&ix);
  CHECK (ix.manifests == NULL && ix.n_manifests == 0 && ix.media_type == NULL, "index clear zeroes");

  /* No mediaType: still an OCI index, reported as absent. */
  cleanup_free char *bare = J ("{'schemaVersion':2,'manifests':[]}");
  ret = oci_index_parse (bare, strlen (bare), &ix, &err);
  CHECK (ret == 0 && ix.media_type == NULL && ix.n_manifests == 0, "index without mediaType, empty manifests");
  oci_index_clear (&ix);

  cleanup_free char *list
      = J ("{'schemaVersion':2,'mediaType':'%s','manifests':["
           "{'mediaType':'%s','digest':'sha256:%s','size':7143,'platform':{'architecture':'arm64','os':'linux'}}]}",
           MT_DOCKER_LIST, MT_DOCKER_MANIFEST, HEX_C);
  ret = oci_index_parse (list, strlen (list), &ix, &err);
  CHECK (ret == 0, "Docker manifest list parses");
  CHECK_STR (ix.media_type, MT_DOCKER_LIST, "list media type");
  CHECK (ix.n_manifests == 1 && ix.manifests[0].size == 7143, "list entry");
  if (ix.n_manifests == 1)
    CHECK_STR (ix.manifests[0].platform_arch, "arm64", "list entry platform");
  oci_index_clear (&ix);

  /* Size bounds: 2^53 is the largest accepted. */
  expect_ok (try_index, J ("{'schemaVersion':2,'manifests':[" DESC (MT_OCI_MANIFEST, HEX_A, 9007199254740992) "]}"));
  /* Null annotations/platform are treated as absent. */
  expect_ok (try_index, J ("{'schemaVersion':2,'manifests':[{'mediaType':'x','digest':'sha256:" HEX_A
                           "','size':1,'annotations':null,'platform':null}]}"));
}

static void
test_index_invalid (void)
{
  expect_fail (try_index, J ("{'manifests':[]}"), EINVAL, "invalid image index: schemaVersion: missing");
  expect_fail (try_index, J ("{'schemaVersion':1,'manifests':[]}"), EINVAL, "schemaVersion: unsupported");
  expect_fail (try_index, J ("{'schemaVersion':'2','manifests':[]}"), EINVAL,
               "schemaVersion: must be an integer, not a string");
  expect_fail (try_index, J ("{'schemaVersion':2.0,'manifests':[]}"), EINVAL, "schemaVersion: must be an integer");
  expect_fail (try_index, J ("{'schemaVersion':2,'mediaType':'%s','manifests':[]}", MT_OCI_MANIFEST), EINVAL,
               "mediaType: unexpected");
  expect_fail (try_index, J ("{'schemaVersion':2,'mediaType':7,'manifests':[]}"), EINVAL,
               "mediaType: must be a string");
  expect_fail (try_index, J ("{'schemaVersion':2}"), EINVAL, "manifests: missing");
  expect_fail (try_index, J ("{'schemaVersion':2,'manifests':{}}"), EINVAL, "manifests: must be an array");
  expect_fail (try_index, J ("{'schemaVersion':2,'manifests':null}"), EINVAL, "manifests: must be an array");
  expect_fail (try_index, J ("{'schemaVersion':2,'manifests':[1]}"), EINVAL, "manifests[0]: must be an object");
  expect_fail (try_index,
               J ("{'schemaVersion':2,'manifests':[" CONFIG_DESC ",{'digest':'sha256:" HEX_A "','size':1}]}"), EINVAL,
               "invalid image index: manifests[1].mediaType: missing");
  expect_fail (try_index, J ("{'schemaVersion':2,'manifests':[{'mediaType':1,'digest':'sha256:" HEX_A "','size':1}]}"),
               EINVAL, "manifests[0].mediaType: must be a string");
  expect_fail (try_index, J ("{'schemaVersion':2,'manifests':[{'mediaType':'x','size':1}]}"), EINVAL,
               "manifests[0].digest: missing");
  expect_fail (try_index, J ("{'schemaVersion':2,'manifests':[{'mediaType':'x','digest':'sha256:abc','size':1}]}"),
               EINVAL, "manifests[0].digest: invalid digest");
  expect_fail (try_index,
               J ("{'schemaVersion':2,'manifests':[{'mediaType':'x','digest':'sha256:" HEX_A "0','size':1}]}"), EINVAL,
               "manifests[0].digest");
  expect_fail (try_index,
               J ("{'schemaVersion':2,'manifests':[{'mediaType':'x','digest':'sha512:" HEX_A HEX_A "','size':1}]}"),
               ENOTSUP, "manifests[0].digest: unsupported digest algorithm");
  expect_fail (try_index, J ("{'schemaVersion':2,'manifests':[" DESC ("x", HEX_A, -1) "]}"), EINVAL,
               "manifests[0].size: out of range");
  expect_fail (try_index, J ("{'schemaVersion':2,'manifests':[" DESC ("x", HEX_A, 9007199254740993) "]}"), EINVAL,
               "manifests[0].size: out of range");
  expect_fail (try_index, J ("{'schemaVersion':2,'manifests':[" DESC ("x", HEX_A, 1.5) "]}"), EINVAL,
               "manifests[0].size: must be an integer");
  expect_fail (try_index, J ("{'schemaVersion':2,'manifests':[" DESC ("x", HEX_A, '1') "]}"), EINVAL,
               "manifests[0].size: must be an integer, not a string");
  expect_fail (try_index, J ("{'schemaVersion':2,'manifests':[{'mediaType':'x','digest':'sha256:" HEX_A "'}]}"), EINVAL,
               "manifests[0].size: missing");
  expect_fail (
      try_index,
      J ("{'schemaVersion':2,'manifests':[{'mediaType':'x','digest':'sha256:" HEX_A "','size':1,'annotations':[]}]}"),
      EINVAL, "manifests[0].annotations: must be an object");
  expect_fail (try_index,
               J ("{'schemaVersion':2,'manifests':[{'mediaType':'x','digest':'sha256:" HEX_A
                  "','size':1,'annotations':{'%s':5}}]}",
                  ANNOTATION_REF_NAME),
               EINVAL, "manifests[0].annotations." ANNOTATION_REF_NAME ": must be a string");
  expect_fail (try_index,
               J ("{'schemaVersion':2,'manifests':[{'mediaType':'x','digest':'sha256:" HEX_A
                  "','size':1,'platform':{'os':'linux','architecture':true}}]}"),
               EINVAL, "manifests[0].platform.architecture: must be a string, not a boolean");
  expect_fail (try_index, J ("{'schemaVersion':2,'schemaVersion':2,'manifests':[]}"), EINVAL, "duplicate");
  expect_fail (try_index, J ("{'schemaVersion':2,'manifests':[]"), EINVAL, "invalid image index");
  expect_fail (try_index, J ("{'schemaVersion':2,'manifests':[]} x"), EINVAL, "invalid image index");
  expect_fail (try_index, xstrdup (""), EINVAL, "invalid image index");
  expect_fail (try_index, J ("[]"), EINVAL, "invalid image index: must be an object, not an array");
  expect_fail (try_index,
               J ("{'schemaVersion':2,'manifests':[{'mediaType':'a\\u0000b','digest':'sha256:" HEX_A "','size':1}]}"),
               EINVAL, "invalid image index");

  cleanup_free char *many = repeat_array (DESC ("x", HEX_A, 1), OCI_MAX_MANIFESTS + 1);
  expect_fail (try_index, J ("{'schemaVersion':2,'manifests':%s}", many), E2BIG, "manifests: 10001 entries");
  cleanup_free char *max = repeat_array (DESC ("x", HEX_A, 1), OCI_MAX_MANIFESTS);
  expect_ok (try_index, J ("{'schemaVersion':2,'manifests':%s}", max));

  /* Documents over OCI_JSON_MAX are refused before parsing. */
  size_t big_len = OCI_JSON_MAX + 1;
  char *big = xmalloc (big_len + 1);
  memset (big, ' ', big_len);
  memcpy (big, "{}", 2);
  big[big_len] = '\0';
  expect_fail (try_index, big, EFBIG, "more than");
}

static void
test_manifest_valid (void)
{
  cleanup_free char *doc = J ("{'schemaVersion':2,'mediaType':'%s','config':" CONFIG_DESC ",'layers':[" LAYER_B
                              "," LAYER_C "],'annotations':{'a':'b'}}",
                              MT_OCI_MANIFEST);
  struct oci_manifest m = { 0 };
  cleanup_error isola_error_t err = NULL;
  int ret = oci_manifest_parse (doc, strlen (doc), &m, &err);
  CHECK (ret == 0, "OCI manifest parses%s%s", err ? ": " : "", err ? err->msg : "");
  CHECK_STR (m.media_type, MT_OCI_MANIFEST, "manifest media type");
  CHECK_STR (m.config.media_type, MT_OCI_CONFIG, "config media type");
  CHECK_STR (m.config.digest, HEX_A, "config digest");
  CHECK (m.config.size == 100, "config size");
  CHECK (m.n_layers == 2, "two layers");
  if (m.n_layers == 2)
    {
      CHECK_STR (m.layers[0].digest, HEX_B, "layer 0 digest (base first)");
      CHECK (m.layers[1].size == 300, "layer 1 size");
      CHECK (oci_layer_media_compression (m.layers[0].media_type) == LAYER_COMPRESSION_GZIP, "layer 0 gzip");
      CHECK (oci_layer_media_compression (m.layers[1].media_type) == LAYER_COMPRESSION_NONE, "layer 1 tar");
    }
  oci_manifest_clear (&m);
  CHECK (m.media_type == NULL && m.layers == NULL && m.n_layers == 0 && m.config.media_type == NULL,
         "manifest clear zeroes");

  cleanup_free char *bare = J ("{'schemaVersion':2,'config':" CONFIG_DESC ",'layers':[]}");
  ret = oci_manifest_parse (bare, strlen (bare), &m, &err);
  CHECK (ret == 0, "manifest without mediaType and with zero layers");
  CHECK_STR (m.media_type, MT_OCI_MANIFEST, "absent mediaType means OCI");
  CHECK (m.n_layers == 0, "zero layers");
  oci_manifest_clear (&m);

  cleanup_free char *docker = J ("{'schemaVersion':2,'mediaType':'%s','config':%s,'layers':[%s]}", MT_DOCKER_MANIFEST,
                                 DESC (MT_DOCKER_CONFIG, HEX_A, 1469), DESC (MT_DOCKER_LAYER_GZIP, HEX_B, 2));
  ret = oci_manifest_parse (docker, strlen (docker), &m, &err);
  CHECK (ret == 0, "Docker schema 2 manifest parses");
  CHECK_STR (m.media_type, MT_DOCKER_MANIFEST, "docker media type");
  CHECK_STR (m.config.media_type, MT_DOCKER_CONFIG, "docker config media type");
  CHECK (m.n_layers == 1, "docker layer");
  oci_manifest_clear (&m);

  cleanup_free char *max = repeat_array (LAYER_B, OCI_MAX_LAYERS);
  expect_ok (try_manifest, J ("{'schemaVersion':2,'config':" CONFIG_DESC ",'layers':%s}", max));
}

static void
test_manifest_invalid (void)
{
  expect_fail (try_manifest, J ("{'schemaVersion':2,'layers':[]}"), EINVAL, "invalid image manifest: config: missing");
  expect_fail (try_manifest, J ("{'schemaVersion':2,'config':[],'layers':[]}"), EINVAL,
               "config: must be an object, not an array");
  expect_fail (try_manifest, J ("{'schemaVersion':2,'config':{'mediaType':'x','size':1},'layers':[]}"), EINVAL,
               "config.digest: missing");
  expect_fail (try_manifest, J ("{'schemaVersion':2,'config':{'digest':'sha256:" HEX_A "','size':1},'layers':[]}"),
               EINVAL, "config.mediaType: missing");
  expect_fail (try_manifest, J ("{'schemaVersion':2,'config':" CONFIG_DESC "}"), EINVAL, "layers: missing");
  expect_fail (try_manifest, J ("{'schemaVersion':2,'config':" CONFIG_DESC ",'layers':'x'}"), EINVAL,
               "layers: must be an array");
  expect_fail (try_manifest,
               J ("{'schemaVersion':2,'config':" CONFIG_DESC ",'layers':[" LAYER_B "," LAYER_C
                  ",{'mediaType':'x','digest':'sha256:" HEX_A "X','size':1}]}"),
               EINVAL, "invalid image manifest: layers[2].digest: invalid digest");
  expect_fail (try_manifest,
               J ("{'schemaVersion':2,'config':" CONFIG_DESC ",'layers':[{'mediaType':'x','digest':5,'size':1}]}"),
               EINVAL, "layers[0].digest: must be a string, not a number");
  expect_fail (try_manifest, J ("{'schemaVersion':2,'config':" CONFIG_DESC ",'layers':[" DESC ("x", HEX_A, -5) "]}"),
               EINVAL, "layers[0].size: out of range");
  expect_fail (
      try_manifest,
      J ("{'schemaVersion':2,'config':{'mediaType':'x','digest':'sha512:" HEX_A HEX_A "','size':1},'layers':[]}"),
      ENOTSUP, "config.digest: unsupported digest algorithm");
  expect_fail (try_manifest, J ("{'schemaVersion':1,'config':" CONFIG_DESC ",'layers':[]}"), EINVAL,
               "schemaVersion: unsupported version");
  expect_fail (try_manifest, J ("{'config':" CONFIG_DESC ",'layers':[]}"), EINVAL, "schemaVersion: missing");
  expect_fail (try_manifest,
               J ("{'schemaVersion':2,'mediaType':'%s','config':" CONFIG_DESC ",'layers':[]}", MT_OCI_INDEX), EINVAL,
               "mediaType: unexpected");
  expect_fail (try_manifest, J ("{'schemaVersion':2,'config':" CONFIG_DESC ",'layers':[],'layers':[]}"), EINVAL,
               "duplicate");
  expect_fail (try_manifest, J ("null"), EINVAL, "invalid image manifest");
  expect_fail (try_manifest, J ("'string'"), EINVAL, "invalid image manifest"); /* jansson wants an object or array */

  cleanup_free char *many = repeat_array (LAYER_B, OCI_MAX_LAYERS + 1);
  expect_fail (try_manifest, J ("{'schemaVersion':2,'config':" CONFIG_DESC ",'layers':%s}", many), E2BIG,
               "layers: 1001 entries, more than the 1000 allowed");
}

static void
test_config (void)
{
  cleanup_free char *doc
      = J ("{'architecture':'amd64','os':'linux','created':'2024-01-02T03:04:05Z',"
           "'config':{'Cmd':['sh'],'Env':['PATH=/bin']},"
           "'rootfs':{'type':'layers','diff_ids':['sha256:%s','sha256:%s']},'history':[{'created_by':'x'}]}",
           HEX_B, HEX_C);
  struct oci_config c = { 0 };
  cleanup_error isola_error_t err = NULL;
  int ret = oci_config_parse (doc, strlen (doc), &c, &err);
  CHECK (ret == 0, "config parses%s%s", err ? ": " : "", err ? err->msg : "");
  CHECK_STR (c.architecture, "amd64", "architecture");
  CHECK_STR (c.os, "linux", "os");
  CHECK_STR (c.created, "2024-01-02T03:04:05Z", "created");
  CHECK (c.n_diff_ids == 2, "two diff_ids");
  if (c.n_diff_ids == 2)
    {
      CHECK_STR (c.diff_ids[0], HEX_B, "diff_id 0 (base first)");
      CHECK_STR (c.diff_ids[1], HEX_C, "diff_id 1");
    }
  json_t *cmd = c.json ? json_object_get (json_object_get (c.json, "config"), "Cmd") : NULL;
  CHECK (json_is_array (cmd) && json_array_size (cmd) == 1, "whole document kept in json");
  oci_config_clear (&c);
  CHECK (c.json == NULL && c.os == NULL && c.diff_ids == NULL && c.n_diff_ids == 0, "config clear zeroes");

  cleanup_free char *nocreated = J ("{'architecture':'arm64','os':'linux','rootfs':{'type':'layers','diff_ids':[]}}");
  ret = oci_config_parse (nocreated, strlen (nocreated), &c, &err);
  CHECK (ret == 0 && c.created == NULL && c.n_diff_ids == 0, "config without created, no layers");
  oci_config_clear (&c);
  expect_ok (try_config, J ("{'architecture':'a','os':'o','created':null,'rootfs':{'type':'layers','diff_ids':[]}}"));

  expect_fail (try_config, J ("{'os':'linux','rootfs':{'type':'layers','diff_ids':[]}}"), EINVAL,
               "invalid image config: architecture: missing");
  expect_fail (try_config, J ("{'architecture':'a','os':1,'rootfs':{'type':'layers','diff_ids':[]}}"), EINVAL,
               "os: must be a string");
  expect_fail (try_config, J ("{'architecture':'a','rootfs':{'type':'layers','diff_ids':[]}}"), EINVAL, "os: missing");
  expect_fail (try_config, J ("{'architecture':'a','os':'o','created':5,'rootfs':{'type':'layers','diff_ids':[]}}"),
               EINVAL, "created: must be a string");
  expect_fail (try_config, J ("{'architecture':'a','os':'o'}"), EINVAL, "rootfs: missing");
  expect_fail (try_config, J ("{'architecture':'a','os':'o','rootfs':'x'}"), EINVAL, "rootfs: must be an object");
  expect_fail (try_config, J ("{'architecture':'a','os':'o','rootfs':{'type':'tar','diff_ids':[]}}"), EINVAL,
               "rootfs.type: must be \"layers\"");
  expect_fail (try_config, J ("{'architecture':'a','os':'o','rootfs':{'diff_ids':[]}}"), EINVAL,
               "rootfs.type: missing");
  expect_fail (try_config, J ("{'architecture':'a','os':'o','rootfs':{'type':'layers'}}"), EINVAL,
               "rootfs.diff_ids: missing");
  expect_fail (try_config,
               J ("{'architecture':'a','os':'o','rootfs':{'type':'layers','diff_ids':['sha256:" HEX_A "','bad']}}"),
               EINVAL, "invalid image config: rootfs.diff_ids[1]: invalid digest");
  expect_fail (try_config, J ("{'architecture':'a','os':'o','rootfs':{'type':'layers','diff_ids':[7]}}"), EINVAL,
               "rootfs.diff_ids[0]: must be a string");
  expect_fail (try_config,
               J ("{'architecture':'a','os':'o','rootfs':{'type':'layers','diff_ids':['sha512:" HEX_A HEX_A "']}}"),
               ENOTSUP, "rootfs.diff_ids[0]: unsupported digest algorithm");
  expect_fail (try_config, J ("{'architecture':'a','architecture':'b','os':'o'}"), EINVAL, "duplicate");
  expect_fail (try_config, J ("[1]"), EINVAL, "invalid image config: must be an object");
  expect_fail (try_config, J ("{"), EINVAL, "invalid image config");

  cleanup_free char *many = repeat_array ("'sha256:" HEX_A "'", OCI_MAX_LAYERS + 1);
  expect_fail (try_config, J ("{'architecture':'a','os':'o','rootfs':{'type':'layers','diff_ids':%s}}", many), E2BIG,
               "rootfs.diff_ids: 1001 entries");
  cleanup_free char *max = repeat_array ("'sha256:" HEX_A "'", OCI_MAX_LAYERS);
  expect_ok (try_config, J ("{'architecture':'a','os':'o','rootfs':{'type':'layers','diff_ids':%s}}", max));
}

static void
test_save_manifest (void)
{
  cleanup_free char *doc = J ("[{'Config':'blobs/sha256/%s','RepoTags':['busybox:latest','Foo:bar'],"
                              "'Layers':['blobs/sha256/%s','./layer.tar'],'LayerSources':{'x':{}}},"
                              "{'Config':'c.json','RepoTags':null,'Layers':[]},"
                              "{'Config':'d.json','Layers':['l']}]",
                              HEX_A, HEX_B);
  struct docker_save_entry *e = NULL;
  size_t n = 0;
  cleanup_error isola_error_t err = NULL;
  int ret = docker_save_manifest_parse (doc, strlen (doc), &e, &n, &err);
  CHECK (ret == 0, "manifest.json parses%s%s", err ? ": " : "", err ? err->msg : "");
  CHECK (n == 3, "three entries");
  if (n == 3)
    {
      CHECK_STR (e[0].config_path, "blobs/sha256/" HEX_A, "config path");
      CHECK (strv_len (e[0].repo_tags) == 2, "two tags");
      CHECK_STR (e[0].repo_tags[1], "Foo:bar", "tags are returned as given");
      CHECK (e[0].n_layers == 2 && strv_len (e[0].layer_paths) == 2, "two layers, NULL-terminated");
      CHECK_STR (e[0].layer_paths[1], "./layer.tar", "./ path accepted");
      CHECK (e[1].repo_tags != NULL && e[1].repo_tags[0] == NULL, "null RepoTags gives an empty vector");
      CHECK (e[1].n_layers == 0 && e[1].layer_paths && e[1].layer_paths[0] == NULL, "zero layers");
      CHECK (e[2].repo_tags != NULL && e[2].repo_tags[0] == NULL, "absent RepoTags gives an empty vector");
    }
  docker_save_entries_free (e, n);

  cleanup_free char *empty = J ("[]");
  e = NULL;
  ret = docker_save_manifest_parse (empty, strlen (empty), &e, &n, &err);
  CHECK (ret == 0 && n == 0, "empty manifest.json");
  docker_save_entries_free (e, n);

  expect_fail (try_save, J ("[{'Config':'../x','Layers':[]}]"), EINVAL, "[0].Config: unsafe path `../x`");
  expect_fail (try_save, J ("[{'Config':'c','Layers':['ok','/abs']}]"), EINVAL, "[0].Layers[1]: unsafe path `/abs`");
  expect_fail (try_save, J ("[{'Config':'c','Layers':['a/../../b']}]"), EINVAL, "unsafe path `a/../../b`");
  expect_fail (try_save, J ("[{'Config':'c','Layers':['']}]"), EINVAL, "unsafe path");
  expect_fail (try_save, J ("[{'Config':'c','Layers':['x/..']}]"), EINVAL, "unsafe path");
  expect_fail (try_save, J ("[{'Config':'c','Layers':[]},{'Layers':[]}]"), EINVAL,
               "invalid docker save manifest.json: [1].Config: missing");
  expect_fail (try_save, J ("[{'Config':3,'Layers':[]}]"), EINVAL, "[0].Config: must be a string");
  expect_fail (try_save, J ("[{'Config':'c'}]"), EINVAL, "[0].Layers: missing");
  expect_fail (try_save, J ("[{'Config':'c','Layers':[1]}]"), EINVAL, "[0].Layers[0]: must be a string");
  expect_fail (try_save, J ("[{'Config':'c','Layers':[],'RepoTags':'x'}]"), EINVAL, "[0].RepoTags: must be an array");
  expect_fail (try_save, J ("[{'Config':'c','Layers':[],'RepoTags':['a',null]}]"), EINVAL,
               "[0].RepoTags[1]: must be a string, not null");
  expect_fail (try_save, J ("[5]"), EINVAL, "[0]: must be an object");
  expect_fail (try_save, J ("{'Config':'c'}"), EINVAL, "must be an array, not an object");
  expect_fail (try_save, J ("[{'Config':'c','Config':'d','Layers':[]}]"), EINVAL, "duplicate");

  cleanup_free char *layers = repeat_array ("'l'", OCI_MAX_LAYERS + 1);
  expect_fail (try_save, J ("[{'Config':'c','Layers':%s}]", layers), E2BIG, "[0].Layers: 1001 entries");
  cleanup_free char *entries = repeat_array ("{'Config':'c','Layers':[]}", OCI_MAX_MANIFESTS + 1);
  expect_fail (try_save, J ("%s", entries), E2BIG, "10001 entries");
}

static void
test_archive_paths (void)
{
  static const char *const safe[] = { "a", "a/b", "./x", "blobs/sha256/x", "..a", "a..", "a/...", "a/.b", "." };
  static const char *const unsafe[] = { "", "/", "/abs", "..", "../x", "a/..", "a/../b", "a/../../b", "./../x" };
  for (size_t i = 0; i < ARRAY_SIZE (safe); i++)
    CHECK (archive_path_is_safe (safe[i]), "safe path `%s`", safe[i]);
  for (size_t i = 0; i < ARRAY_SIZE (unsafe); i++)
    CHECK (!archive_path_is_safe (unsafe[i]), "unsafe path `%s`", unsafe[i]);
  CHECK (!archive_path_is_safe (NULL), "NULL path is unsafe");
}

static void
check_kind (const char *doc, const char *want)
{
  const char *got = oci_document_kind (doc, strlen (doc));
  CHECK (want ? (got && strcmp (got, want) == 0) : got == NULL, "kind %s for %.80s (got %s)", want ? want : "NULL", doc,
         got ? got : "NULL");
}

static void
test_document_kind (void)
{
  static const char *const kinds[] = { MT_OCI_INDEX, MT_DOCKER_LIST, MT_OCI_MANIFEST, MT_DOCKER_MANIFEST };
  for (size_t i = 0; i < ARRAY_SIZE (kinds); i++)
    {
      cleanup_free char *doc = J ("{'mediaType':'%s'}", kinds[i]);
      check_kind (doc, kinds[i]);
    }
  cleanup_free char *a = J ("{'schemaVersion':2,'manifests':[]}");
  cleanup_free char *b = J ("{'schemaVersion':2,'config':{},'layers':[]}");
  cleanup_free char *c = J ("{'mediaType':'%s','manifests':[]}", MT_OCI_CONFIG);
  cleanup_free char *d = J ("{'config':{}}");
  cleanup_free char *e = J ("{'mediaType':5,'manifests':[]}");
  cleanup_free char *f = J ("{'manifests':[],'manifests':[]}");
  cleanup_free char *g = J ("{'config':[],'layers':[]}");
  check_kind (a, MT_OCI_INDEX);
  check_kind (b, MT_OCI_MANIFEST);
  check_kind (c, NULL);
  check_kind (d, NULL);
  check_kind (e, NULL);
  check_kind (f, NULL);
  check_kind (g, NULL);
  check_kind ("[]", NULL);
  check_kind ("{", NULL);
  check_kind ("", NULL);
  check_kind ("{}", NULL);
  CHECK (oci_document_kind ("{}", OCI_JSON_MAX + 1) == NULL, "kind: oversized length refused without reading");
}

static void
test_compression (void)
{
  static const struct
  {
    const char *mt;
    enum layer_compression want;
  } cases[] = {
    { MT_OCI_LAYER_TAR, LAYER_COMPRESSION_NONE },
    { MT_OCI_LAYER_GZIP, LAYER_COMPRESSION_GZIP },
    { MT_OCI_LAYER_ZSTD, LAYER_COMPRESSION_ZSTD },
    { "application/vnd.oci.image.layer.nondistributable.v1.tar", LAYER_COMPRESSION_NONE },
    { "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LAYER_COMPRESSION_GZIP },
    { "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", LAYER_COMPRESSION_ZSTD },
    { MT_DOCKER_LAYER_GZIP, LAYER_COMPRESSION_GZIP },
    { MT_DOCKER_LAYER_FOREIGN, LAYER_COMPRESSION_GZIP },
    { MT_OCI_CONFIG, LAYER_COMPRESSION_UNKNOWN },
    { "application/vnd.oci.image.layer.v1.tar+bzip2", LAYER_COMPRESSION_UNKNOWN },
    { "", LAYER_COMPRESSION_UNKNOWN },
  };
  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    CHECK (oci_layer_media_compression (cases[i].mt) == cases[i].want, "compression of `%s`", cases[i].mt);
  CHECK (oci_layer_media_compression (NULL) == LAYER_COMPRESSION_UNKNOWN, "compression of NULL");
}

/* Clear functions must cope with structs a failed parse (or a caller) filled only in part. */
static void
test_clear_partial (void)
{
  struct oci_manifest m = { 0 };
  m.media_type = xstrdup ("x");
  m.config.ref_name = xstrdup ("r");
  m.layers = xcalloc (3, sizeof (*m.layers));
  m.n_layers = 3;
  m.layers[0].media_type = xstrdup ("l");
  m.layers[1].platform_arch = xstrdup ("amd64");
  oci_manifest_clear (&m);
  CHECK (m.media_type == NULL && m.layers == NULL && m.n_layers == 0 && m.config.ref_name == NULL,
         "partial manifest cleared");
  oci_manifest_clear (&m);
  oci_manifest_clear (NULL);

  struct oci_index ix = { 0 };
  ix.manifests = xcalloc (2, sizeof (*ix.manifests));
  ix.n_manifests = 2;
  ix.manifests[1].containerd_name = xstrdup ("c");
  oci_index_clear (&ix);
  CHECK (ix.manifests == NULL && ix.n_manifests == 0, "partial index cleared");
  oci_index_clear (NULL);

  struct oci_config c = { 0 };
  c.json = json_object ();
  c.os = xstrdup ("linux");
  oci_config_clear (&c);
  CHECK (c.json == NULL && c.os == NULL, "partial config cleared");
  oci_config_clear (NULL);

  struct oci_descriptor d = { 0 };
  d.platform_os = xstrdup ("linux");
  oci_descriptor_clear (&d);
  CHECK (d.platform_os == NULL, "descriptor cleared");
  oci_descriptor_clear (NULL);

  struct docker_save_entry *e = xcalloc (2, sizeof (*e));
  e[0].config_path = xstrdup ("c");
  docker_save_entries_free (e, 2);
  docker_save_entries_free (NULL, 0);
  CHECK (1, "partial docker save entries freed");
}

int
main (void)
{
  test_index_valid ();
  test_index_invalid ();
  test_manifest_valid ();
  test_manifest_invalid ();
  test_config ();
  test_save_manifest ();
  test_archive_paths ();
  test_document_kind ();
  test_compression ();
  test_clear_partial ();
  return tap_done ();
}

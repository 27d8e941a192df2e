/* Parsers for the JSON documents of OCI images and Docker archives: image index (and Docker manifest list),
   image manifest (OCI and Docker schema 2), image config, and `docker save`'s manifest.json.  All input is
   untrusted: sizes and counts are bounded, digests validated, archive paths checked to stay relative. */
#ifndef ISOLA_OCI_H
#define ISOLA_OCI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/digest.h"
#include "base/error.h"

#define OCI_JSON_MAX      (8 * 1024 * 1024) /* largest manifest/index/config document we accept */
#define OCI_MAX_LAYERS    1000
#define OCI_MAX_MANIFESTS 10000

#define MT_OCI_INDEX            "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST         "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG           "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER_TAR        "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP       "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD       "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_DOCKER_LIST          "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST      "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CONFIG        "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER_GZIP    "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_DOCKER_LAYER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

#define ANNOTATION_REF_NAME        "org.opencontainers.image.ref.name"
#define ANNOTATION_CONTAINERD_NAME "io.containerd.image.name"

enum layer_compression
{
  LAYER_COMPRESSION_UNKNOWN = 0,
  LAYER_COMPRESSION_NONE,
  LAYER_COMPRESSION_GZIP,
  LAYER_COMPRESSION_ZSTD,
};

/* Maps a layer media type (OCI, OCI non-distributable, Docker) to its compression; UNKNOWN when it is not a
   layer type we can unpack. */
enum layer_compression oci_layer_media_compression (const char *media_type);

struct oci_descriptor
{
  char *media_type;       /* may be NULL in a docker manifest.json-derived descriptor */
  digest_hex_t digest;    /* hex part of "sha256:…" */
  int64_t size;           /* >= 0 */
  char *ref_name;         /* annotation org.opencontainers.image.ref.name, or NULL */
  char *containerd_name;  /* annotation io.containerd.image.name, or NULL */
  char *platform_os;      /* platform.os, or NULL */
  char *platform_arch;    /* platform.architecture, or NULL */
  char *platform_variant; /* platform.variant, or NULL */
};

struct oci_index
{
  char *media_type; /* NULL when absent */
  struct oci_descriptor *manifests;
  size_t n_manifests;
};

struct oci_manifest
{
  char *media_type; /* MT_OCI_MANIFEST or MT_DOCKER_MANIFEST; absent in the document means OCI */
  struct oci_descriptor config;
  struct oci_descriptor *layers;
  size_t n_layers;
};

struct oci_config
{
  json_t *json;           /* the whole document, owned */
  char *architecture;     /* required */
  char *os;               /* required */
  char *created;          /* may be NULL */
  digest_hex_t *diff_ids; /* rootfs.diff_ids, in order (base first) */
  size_t n_diff_ids;
};

/* One entry of `docker save`'s manifest.json. */
struct docker_save_entry
{
  char *config_path;  /* relative path inside the archive, checked */
  char **repo_tags;   /* NULL-terminated, may be empty */
  char **layer_paths; /* relative paths, checked */
  size_t n_layers;
};

/* Returns the kind of a top-level JSON document by its mediaType (or shape when mediaType is absent):
   one of MT_OCI_INDEX, MT_DOCKER_LIST, MT_OCI_MANIFEST, MT_DOCKER_MANIFEST, or NULL. */
const char *oci_document_kind (const char *buf, size_t len);

int oci_index_parse (const char *buf, size_t len, struct oci_index *out, isola_error_t *err);
int oci_manifest_parse (const char *buf, size_t len, struct oci_manifest *out, isola_error_t *err);
int oci_config_parse (const char *buf, size_t len, struct oci_config *out, isola_error_t *err);
int docker_save_manifest_parse (const char *buf, size_t len, struct docker_save_entry **out, size_t *n_out,
                                isola_error_t *err);

void oci_descriptor_clear (struct oci_descriptor *d);
void oci_index_clear (struct oci_index *i);
void oci_manifest_clear (struct oci_manifest *m);
void oci_config_clear (struct oci_config *c);
void docker_save_entries_free (struct docker_save_entry *e, size_t n);

/* Docker's container.Config as its API prints it (an image's Config and ContainerConfig, a container's Config):
   every member, in Docker's order, with its zero value ("", false, null) where config (may be NULL) has none, and
   the members Go omits when empty (ExposedPorts, Healthcheck, ArgsEscaped, StopSignal, StopTimeout, Shell…) only
   when config has them.  A new reference. */
json_t *oci_docker_container_config (json_t *config);

/* True for a path that is relative, non-empty, and has no ".." component (archive member names). */
int archive_path_is_safe (const char *path);

#endif

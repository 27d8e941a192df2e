/* Image references as Docker understands them ("busybox", "busybox:1.36", "localhost:5000/team/app@sha256:…").
   Names are kept in Docker's familiar form: "docker.io/library/busybox" is stored and shown as "busybox". */
#ifndef ISOLA_REFERENCE_H
#define ISOLA_REFERENCE_H

#include "base/error.h"

#define REF_NAME_MAX 255
#define REF_TAG_MAX  128

struct image_ref
{
  char *name;   /* familiar repository name, never NULL after a successful parse */
  char *tag;    /* "latest" when neither a tag nor a digest was given; NULL when only a digest was */
  char *digest; /* "sha256:<hex>" or NULL */
};

/* Parses and normalizes a reference.  Errors (EINVAL) name the offending input, e.g.
   "invalid reference format: repository name must be lowercase". */
int image_ref_parse (const char *s, struct image_ref *out, isola_error_t *err);

/* Parses "NAME[:TAG]" for commands that take a repository with an optional tag only (tag, import);
   digests are refused. */
int image_ref_parse_tagged (const char *s, struct image_ref *out, isola_error_t *err);

void image_ref_clear (struct image_ref *r);

/* "name:tag", "name@digest" or "name:tag@digest". */
char *image_ref_string (const struct image_ref *r);

/* Fully qualified form for archive annotations: "docker.io/library/busybox:latest". */
char *image_ref_full_string (const struct image_ref *r);

/* Where a repository lives: its registry domain as named ("docker.io" for Docker Hub, "localhost:5000") and its
   path there ("library/busybox").  Both newly allocated. */
int image_ref_locate (const struct image_ref *r, char **domain, char **path);

/* The host that serves a domain's registry API: Docker Hub's is "registry-1.docker.io", others serve their own. */
const char *image_ref_registry_host (const char *domain);

/* True when s could be an image ID or ID prefix (1–64 lowercase hex characters, optionally "sha256:"-prefixed). */
int image_ref_looks_like_id (const char *s);

#endif

/* A client of one repository of an OCI distribution registry (the protocol of Docker Hub and the `registry`
   server), over libcurl.  Opening it pings /v2/ to find the scheme and the authentication the registry asks for
   (anonymous or credentialed Bearer tokens, Basic), with the credentials of Docker's config.json (registry_auth.h).
   Plain HTTP only for loopback registries and those listed in ROOT/config.json's "insecure-registries", as Docker
   allows; a registry's own CA from /etc/isola/certs.d/HOST/ca.crt or /etc/docker/certs.d/HOST/ca.crt.
   Everything read is bounded, every blob is checked against its digest and size while it streams, and credentials
   are never sent to another host when a redirect leads there.
   A config.json entry with an identity token (a refresh token a login got) trades it for access tokens with
   OAuth2's refresh grant (POST to the realm), as Docker does.
   $ISOLA_REGISTRY_TIMEOUT (seconds, default 30) is how long a registry may send nothing before a request fails.
   $ISOLA_PUSH_CHUNK_SIZE (bytes, default 64 MiB): a pushed blob larger than this goes up in PATCH chunks of this
   size (the distribution spec's chunked upload); a registry that refuses a blob in one PUT (413, 405, 501) gets
   it in chunks too. */
#ifndef ISOLA_REGISTRY_H
#define ISOLA_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/digest.h"
#include "base/error.h"

#define REGISTRY_MANIFEST_MAX (4 * 1024 * 1024) /* as containerd's bound on a manifest */
#define REGISTRY_PARALLEL     3                 /* layers downloaded at once, as Docker */

struct registry_client;

/* Opens repository repo ("library/busybox") of the registry named domain ("docker.io", "localhost:5000");
   actions are the token scope's ("pull", "pull,push").  root (may be NULL) holds config.json. */
int registry_open (const char *root, const char *domain, const char *repo, const char *actions,
                   struct registry_client **out, isola_error_t *err);
void registry_close (struct registry_client *c);

/* What the one a pull or push is for gives the registry client: credentials given with its request (the API's
   X-Registry-Auth: a user and password, or an identity token, which is traded with OAuth2's refresh grant as one
   of config.json is; neither: those of config.json), and whether it has gone (gone NULL: never), which ends the
   requests under way (checked as they wait, at least once a second). */
struct registry_login
{
  const char *user, *password;
  const char *identity;
  bool (*gone) (void *arg);
  void *gone_arg;
};
/* registry_open with login's credentials and gone when login is not NULL. */
int registry_open_as (const char *root, const char *domain, const char *repo, const char *actions,
                      const struct registry_login *login, struct registry_client **out, isola_error_t *err);

/* The mirrors to try before the registry of domain: ROOT/config.json's "registry-mirrors" (as dockerd's
   daemon.json) for docker.io, none for any other. */
int registry_mirrors (const char *root, const char *domain, char ***out, isola_error_t *err);

/* Opens repository repo of domain at a mirror ("https://HOST[:PORT]", or http:// as written), without credentials. */
int registry_open_mirror (const char *root, const char *domain, const char *mirror, const char *repo,
                          struct registry_client **out, isola_error_t *err);
static inline void
cleanup_registryp (struct registry_client **c)
{
  registry_close (*c);
}
#define cleanup_registry __attribute__ ((cleanup (cleanup_registryp)))

struct registry_manifest
{
  char *body;
  size_t len;
  char *media_type; /* Content-Type */
  digest_hex_t hex; /* sha256 of body */
};
void registry_manifest_clear (struct registry_manifest *m);

/* GETs the manifest named by reference (a tag or "sha256:HEX"), accepting the OCI and Docker manifests and
   indexes.  ENOENT with Docker's "manifest unknown" wording when there is none; a digest reference is checked. */
int registry_get_manifest (struct registry_client *c, const char *reference, struct registry_manifest *out,
                           isola_error_t *err);

/* GETs a small blob (an image config) into memory, checked against hex and size. */
int registry_get_blob (struct registry_client *c, const char *hex, int64_t size, size_t max, char **out, size_t *len,
                       isola_error_t *err);

enum registry_blob_event
{
  REGISTRY_BLOB_STARTED,
  REGISTRY_BLOB_PROGRESS,
  REGISTRY_BLOB_VERIFIED,
};

struct registry_blob
{
  digest_hex_t hex;
  int64_t size;
  const char *path; /* the file to create (O_EXCL) with the content */
};

typedef void (*registry_progress_fn) (void *arg, size_t index, enum registry_blob_event ev, int64_t done);

/* Downloads blobs, `parallel` at a time, each checked against its digest and size as it streams; the first
   failure stops them all (the files written so far are the caller's to remove). */
int registry_fetch_blobs (struct registry_client *c, const struct registry_blob *blobs, size_t n, int parallel,
                          registry_progress_fn fn, void *arg, isola_error_t *err);

/* The repository's tags (GET /v2/NAME/tags/list). */
int registry_list_tags (struct registry_client *c, char ***out, isola_error_t *err);

/* Push: whether the repository has a blob (HEAD); a cross-repository mount or an upload (POST, then PUT with the
   digest, or PATCH chunks before it); a manifest PUT under reference (a tag), with its media type. */
int registry_blob_exists (struct registry_client *c, const char *hex, bool *exists, isola_error_t *err);
typedef void (*registry_upload_fn) (void *arg, int64_t done);
/* With mount_from (another repository of the registry), the registry is first asked to mount the blob from there
   (*mounted then); otherwise, or when it does not, the blob is uploaded (fn, if not NULL, sees the bytes sent). */
int registry_upload_blob (struct registry_client *c, const char *hex, const char *path, int64_t size,
                          const char *mount_from, bool *mounted, registry_upload_fn fn, void *arg, isola_error_t *err);
/* Asks the token service for pull access to repo too (the source of a cross-repository mount). */
void registry_add_pull_scope (struct registry_client *c, const char *repo);
int registry_put_manifest (struct registry_client *c, const char *reference, const char *media_type, const char *body,
                           size_t len, isola_error_t *err);

/* Checks user/password against the registry named domain (its /v2/ and, for a Bearer registry, its token
   service), as `docker login` does before it stores them.  With identity not NULL the token service is asked for a
   refresh token too (offline_token=true, as Docker's login asks): *identity is the one it gave, or NULL. */
int registry_check_login (const char *root, const char *domain, const char *user, const char *password, char **identity,
                          isola_error_t *err);
/* Checks an identity token (a refresh token an earlier login got) against domain's token service, as `docker
   login` does when its config.json holds one: the refresh grant must give an access token.  *identity is the token
   to keep (the service may have given a new one). */
int registry_check_identity (const char *root, const char *domain, const char *token, char **identity,
                             isola_error_t *err);

#endif

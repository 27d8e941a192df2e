/* Registry credentials in Docker's own file and format, so that `docker login` and `isola login` share them:
   $DOCKER_CONFIG/config.json, else ~/.docker/config.json, {"auths": {"SERVER": {"auth": base64("user:pass")}}}.
   Docker Hub's key is "https://index.docker.io/v1/"; other registries are keyed by HOST[:PORT] (a key written as
   a URL, "https://HOST/", is found too).  A registry with a credential helper (`credHelpers` by host name, else
   `credsStore`) has its credentials kept by docker-credential-NAME (get, store, erase; JSON on stdin and stdout, as
   Docker runs them), and the file only names it: "auths": {"SERVER": {}}. */
#ifndef ISOLA_REGISTRY_AUTH_H
#define ISOLA_REGISTRY_AUTH_H

#include <stdbool.h>

#include "base/error.h"

/* The file Docker's CLI uses. */
char *registry_auth_file (void);

/* A server as `docker login` and the API's serveraddress name it ("https://HOST[:PORT]/v1/", "HOST[:PORT]", Docker
   Hub's spellings, NULL for Docker Hub) → the registry domain that references and the store use. */
char *registry_server_domain (const char *server);

/* The key of a registry domain in "auths". */
char *registry_auth_key (const char *domain);

/* The credentials stored for domain: *user and *password newly allocated, both NULL when there are none. */
int registry_auth_get (const char *domain, char **user, char **password, isola_error_t *err);

/* registry_auth_get with the identity token too: Docker's "identitytoken", an OAuth2 refresh token that a login got
   from the registry's token service in place of the password (a credential helper answers it as Username
   "<token>"); *identity newly allocated, or NULL. */
int registry_auth_get_identity (const char *domain, char **user, char **password, char **identity, isola_error_t *err);

/* An "auth" value, base64 of "USER:PASSWORD" (the password may hold ':'): -EINVAL when it is not one. */
int registry_auth_decode (const char *b64, char **user, char **password);

/* Stores credentials for domain (the file is replaced atomically, mode 0600, other keys kept). */
int registry_auth_store (const char *domain, const char *user, const char *password, isola_error_t *err);

/* Stores an identity token for domain instead of a password: "auth" is base64("user:") and "identitytoken" the
   token, as Docker writes them; through a credential helper, Username "<token>" and the token as Secret. */
int registry_auth_store_identity (const char *domain, const char *user, const char *identity, isola_error_t *err);

/* Removes domain's credentials; *found says whether there were any. */
int registry_auth_erase (const char *domain, bool *found, isola_error_t *err);

/* Credentials a client sends with a request, as the Docker Engine API's X-Registry-Auth header carries them: base64url
   (padded or not; the standard alphabet too, as dockerd accepts) of {"username", "password", "identitytoken",
   "serveraddress"}.  Fields absent are NULL. */
struct registry_auth_header
{
  char *username, *password, *identitytoken, *serveraddress;
};
void registry_auth_header_clear (struct registry_auth_header *h);
/* Decodes header (at most REGISTRY_AUTH_HEADER_MAX bytes).  An empty header, or one of "{}", is no credentials (all
   NULL), as dockerd takes it; anything else that does not decode is EINVAL. */
#define REGISTRY_AUTH_HEADER_MAX (64 * 1024)
int registry_auth_header_parse (const char *header, struct registry_auth_header *out, isola_error_t *err);

#endif

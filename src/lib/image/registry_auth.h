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

/* The key of a registry domain in "auths". */
char *registry_auth_key (const char *domain);

/* The credentials stored for domain: *user and *password newly allocated, both NULL when there are none. */
int registry_auth_get (const char *domain, char **user, char **password, isola_error_t *err);

/* An "auth" value, base64 of "USER:PASSWORD" (the password may hold ':'): -EINVAL when it is not one. */
int registry_auth_decode (const char *b64, char **user, char **password);

/* Stores credentials for domain (the file is replaced atomically, mode 0600, other keys kept). */
int registry_auth_store (const char *domain, const char *user, const char *password, isola_error_t *err);

/* Removes domain's credentials; *found says whether there were any. */
int registry_auth_erase (const char *domain, bool *found, isola_error_t *err);

#endif

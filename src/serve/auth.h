/* Registry credentials from the API's clients (auth.c): POST /auth and the X-Registry-Auth header. */
#ifndef ISOLA_SERVE_AUTH_H
#define ISOLA_SERVE_AUTH_H

#include "image/registry.h"
#include "image/registry_auth.h"
#include "serve.h"

/* The credentials of r's X-Registry-Auth header, in *login (pointing into *h, which the caller clears): its
   identity token, else its username and password; NULL when it has neither (the registry client then uses the
   server's config.json; *login is zeroed). */
const struct registry_login *serve_registry_login (struct serve_request *r, struct registry_auth_header *h,
                                                   struct registry_login *login);

#endif

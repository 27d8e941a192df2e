/* Registry credentials from the client, as dockerd takes them: POST /auth (`docker login`) checks them against the
   registry and stores nothing, answering the refresh token a token service gave (IdentityToken), which the CLI then
   keeps in its config.json in place of the password; pull and push take the credentials from the X-Registry-Auth
   header of their request: an identity token (traded with OAuth2's refresh grant), else a username and password.
   Without either, the registry client uses the server's config.json (isola login's), where dockerd would go
   anonymous. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "auth.h"
#include "base/json.h"
#include "base/util.h"
#include "image/registry.h"

const struct registry_login *
serve_registry_login (struct serve_request *r, struct registry_auth_header *h, struct registry_login *login)
{
  const char *header = MHD_lookup_connection_value (r->conn, MHD_HEADER_KIND, "X-Registry-Auth");
  *login = (struct registry_login){ 0 };
  /* A header that does not decode counts as none, as dockerd takes it ("to increase compatibility"). */
  if (registry_auth_header_parse (header, h, NULL) < 0)
    return NULL;
  /* As Docker's token handler: an identity token goes before the password (the CLI sends the user with it). */
  if (h->identitytoken)
    login->identity = h->identitytoken;
  else if (h->username && h->password)
    login->user = h->username, login->password = h->password;
  else
    return NULL;
  return login;
}

static enum MHD_Result
auth (struct serve_request *r)
{
  enum MHD_Result reply;
  cleanup_json json_t *body = serve_body_json (r, &reply);
  if (body == NULL)
    return reply;
  const char *user = json_string_value (json_object_get (body, "username"));
  const char *password = json_string_value (json_object_get (body, "password"));
  const char *token = json_string_value (json_object_get (body, "identitytoken"));
  cleanup_free char *domain = registry_server_domain (json_string_value (json_object_get (body, "serveraddress")));
  cleanup_error isola_error_t err = NULL;
  if (user && *user == '\0')
    user = NULL;
  cleanup_free char *identity = NULL;
  /* `docker login HOST` with an identity token in the CLI's config.json sends it (and no password): it is checked
     by trading it, as dockerd does. */
  int ret = token && *token && (password == NULL || *password == '\0')
                ? registry_check_identity (serve_root, domain, token, &identity, &err)
                : registry_check_login (serve_root, domain, user, user ? (password ? password : "") : NULL, &identity,
                                        &err);
  if (ret < 0)
    /* dockerd's status for credentials the registry refused; the CLI prints the message after "Error response
       from daemon: ". */
    return serve_reply_error (r, err->status == EACCES ? 401 : serve_status_of (err->status), "%s", err->msg);
  /* dockerd passes on the refresh token the token service gave (Docker's login asks for one: offline_token), and
     the CLI keeps it instead of the password. */
  reply = serve_reply_json (
      r, 200, json_pack ("{s:s, s:s}", "Status", "Login Succeeded", "IdentityToken", identity ? identity : ""));
  if (identity)
    explicit_bzero (identity, strlen (identity));
  return reply;
}

enum MHD_Result
serve_auth (struct serve_request *r)
{
  if (serve_route (r, "POST", "/auth"))
    return auth (r);
  return SERVE_NOT_MINE;
}

/* Registry credentials from the client, as dockerd takes them: POST /auth (`docker login`) checks them against the
   registry and stores nothing (the CLI keeps them in its own config.json); pull and push take them from the
   X-Registry-Auth header of their request.  Without a header's username and password, the registry client uses the
   server's config.json (isola login's), where dockerd would go anonymous. */
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
  if (registry_auth_header_parse (header, h, NULL) < 0 || h->username == NULL || h->password == NULL)
    return NULL;
  login->user = h->username, login->password = h->password;
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
  cleanup_free char *domain = registry_server_domain (json_string_value (json_object_get (body, "serveraddress")));
  cleanup_error isola_error_t err = NULL;
  if (user && *user == '\0')
    user = NULL;
  cleanup_free char *identity = NULL;
  if (registry_check_login (serve_root, domain, user, user ? (password ? password : "") : NULL, &identity, &err) < 0)
    /* dockerd's status for credentials the registry refused; the CLI prints the message after "Error response
       from daemon: ". */
    return serve_reply_error (r, err->status == EACCES ? 401 : serve_status_of (err->status), "%s", err->msg);
  /* No IdentityToken for the client, even when the token service gave one (dockerd passes it on): the CLI would
     then keep the token instead of the password and send it in X-Registry-Auth, which pull and push here do not
     trade yet (serve_registry_login takes a username and password). */
  if (identity)
    explicit_bzero (identity, strlen (identity));
  return serve_reply_json (r, 200, json_pack ("{s:s, s:s}", "Status", "Login Succeeded", "IdentityToken", ""));
}

enum MHD_Result
serve_auth (struct serve_request *r)
{
  if (serve_route (r, "POST", "/auth"))
    return auth (r);
  return SERVE_NOT_MINE;
}

/* System endpoints: /_ping, /version, /info, /system/df. */
#define _GNU_SOURCE
#include <sys/utsname.h>

#include "base/json.h"
#include "base/util.h"
#include "driver/info.h"
#include "serve.h"
#include "store/store.h"

#include "git_rev.h"

static enum MHD_Result
ping (struct serve_request *r)
{
  struct MHD_Response *resp = MHD_create_response_from_buffer (2, (void *)"OK", MHD_RESPMEM_PERSISTENT);
  if (resp == NULL)
    return MHD_NO;
  serve_add_headers (resp);
  MHD_add_response_header (resp, "Content-Type", "text/plain; charset=utf-8");
  MHD_add_response_header (resp, "Cache-Control", "no-cache, no-store, must-revalidate");
  MHD_add_response_header (resp, "Pragma", "no-cache");
  enum MHD_Result ret = MHD_queue_response (r->conn, 200, resp);
  MHD_destroy_response (resp);
  return ret;
}

static enum MHD_Result
version (struct serve_request *r)
{
  struct utsname u;
  if (uname (&u) < 0)
    u.release[0] = '\0';
  json_t *details = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ApiVersion", SERVE_API_VERSION, "MinAPIVersion",
                               SERVE_MIN_API_VERSION, "GitCommit", ISOLA_GIT_REV, "GoVersion", "", "Os", "linux",
                               "Arch", "amd64", "KernelVersion", u.release);
  json_t *v = json_pack ("{s:{s:s}, s:[{s:s, s:s, s:o}], s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Platform",
                         "Name", "isola", "Components", "Name", "Engine", "Version", ISOLA_VERSION, "Details", details,
                         "Version", ISOLA_VERSION, "ApiVersion", SERVE_API_VERSION, "MinAPIVersion",
                         SERVE_MIN_API_VERSION, "GitCommit", ISOLA_GIT_REV, "GoVersion", "", "Os", "linux", "Arch",
                         "amd64", "KernelVersion", u.release, "BuildTime", "");
  return serve_reply_json (r, 200, v);
}

static enum MHD_Result
info (struct serve_request *r)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  json_t *out = NULL;
  if (store_open (serve_root, STORE_LOCK_SHARED, &s, &err) < 0 || engine_info_json (s, &out, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_json (r, 200, out);
}

enum MHD_Result
serve_system (struct serve_request *r)
{
  if (serve_route (r, "GET", "/_ping"))
    return ping (r);
  if (serve_route (r, "GET", "/version"))
    return version (r);
  if (serve_route (r, "GET", "/info"))
    return info (r);
  return SERVE_NOT_MINE;
}

/* A process container's exec request on the wire (see process_exec.h).  Unlike a VM's (vm.c's exec_json), it
   carries what the user asked for, not the resolved process: the monitor resolves it with nsexec's rules from the
   container's record, as the CLI did when it ran execs itself. */
#define _GNU_SOURCE
#include "driver/process_exec.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/jbytes.h"
#include "base/json.h"
#include "base/util.h"
#include "proto/attach_client.h"

static json_t *
encode (const struct exec_request *req)
{
  /* Byte for byte, also what is not UTF-8 */
  json_t *args = jbytes_exact_array (req->argv), *env = jbytes_exact_array (req->env);
  return json_pack ("{s:o, s:o, s:s, s:s, s:b, s:b, s:b, s:b, s:i, s:i, s:s}", "Args", args, "Env", env, "User",
                    req->user ? req->user : "", "Cwd", req->cwd ? req->cwd : "", "Tty", req->io.tty, "OpenStdin",
                    req->interactive, "Detach", req->detach, "Privileged", req->privileged, "Rows", (int)req->io.rows,
                    "Cols", (int)req->io.cols, "ExecID", req->exec_id ? req->exec_id : "");
}

int
process_exec_session (struct container *c, const struct exec_request *req, int *fd_out, struct attach_decoder *dec,
                      isola_error_t *err)
{
  if (req->argv == NULL || req->argv[0] == NULL)
    return isola_error_fail (err, EINVAL, "no command specified");
  cleanup_json json_t *j = encode (req);
  cleanup_free char *text = j ? json_dumps (j, JSON_COMPACT) : NULL;
  if (text == NULL)
    return isola_error_fail (err, ENOMEM, "the exec request");
  if (strlen (text) > ATTACH_PAYLOAD_MAX)
    return isola_error_fail (err, E2BIG, "the exec request is too large");
  cleanup_close int fd = -1;
  if (container_attach (c, &fd, dec, err) < 0)
    {
      isola_error_release (err);
      return isola_error_fail (err, ESRCH, "container %s is not running", c->id);
    }
  if (attach_send (fd, ATTACH_EXEC, text, (uint32_t)strlen (text)) < 0)
    return isola_error_make (err, errno, "send the exec request to the monitor of %.12s", c->id);
  *fd_out = take_fd (&fd);
  return 0;
}

static char *
string_of (json_t *j, const char *key)
{
  const char *s = json_string_value (json_object_get (j, key));
  return xstrdup (s ? s : "");
}

static unsigned short
size_of (json_t *j, const char *key)
{
  json_int_t v = json_integer_value (json_object_get (j, key));
  return v > 0 && v <= 0xffff ? (unsigned short)v : 0;
}

int
process_exec_decode (const uint8_t *payload, size_t len, struct process_exec_wire *w, isola_error_t *err)
{
  memset (w, 0, sizeof (*w));
  cleanup_json json_t *j = json_loadb ((const char *)payload, len, 0, NULL);
  json_t *args = json_object_get (j, "Args");
  if (!json_is_object (j) || !json_is_array (args) || json_array_size (args) == 0)
    return isola_error_fail (err, EINVAL, "a malformed exec request");
  w->argv = jbytes_strv (args);
  w->env = jbytes_strv (json_object_get (j, "Env"));
  if (w->argv == NULL || w->argv[0] == NULL)
    {
      process_exec_wire_clear (w);
      return isola_error_fail (err, EINVAL, "a malformed exec request");
    }
  w->user = string_of (j, "User");
  w->cwd = string_of (j, "Cwd");
  w->exec_id = string_of (j, "ExecID");
  struct exec_request *r = &w->req;
  *r = (struct exec_request){
    .argv = w->argv,
    .env = w->env,
    .user = w->user,
    .cwd = w->cwd,
    .interactive = json_is_true (json_object_get (j, "OpenStdin")),
    .detach = json_is_true (json_object_get (j, "Detach")),
    .privileged = json_is_true (json_object_get (j, "Privileged")),
    .exec_id = w->exec_id,
    .io = { .stdin_fd = -1,
            .stdout_fd = -1,
            .stderr_fd = -1,
            .console_socket = -1,
            .channel = -1,
            .tty = json_is_true (json_object_get (j, "Tty")),
            .rows = size_of (j, "Rows"),
            .cols = size_of (j, "Cols") },
  };
  return 0;
}

void
process_exec_wire_clear (struct process_exec_wire *w)
{
  strv_free (w->argv);
  strv_free (w->env);
  free (w->user);
  free (w->cwd);
  free (w->exec_id);
  memset (w, 0, sizeof (*w));
}

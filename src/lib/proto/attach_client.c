/* The client side of the attach protocol (see attach_client.h). */
#define _GNU_SOURCE
#include "proto/attach_client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/util.h"

int
attach_client_read_frame (int fd, struct attach_decoder *dec, struct attach_frame *f)
{
  for (;;)
    {
      int r = attach_decoder_next (dec, f);
      if (r != 0)
        return r < 0 ? r : 0;
      uint8_t buf[4096];
      ssize_t n = read (fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -EPIPE;
      attach_decoder_feed (dec, buf, (size_t)n);
    }
}

int
attach_client_expect_hello (int fd, struct attach_decoder *dec, isola_error_t *err)
{
  struct attach_frame f;
  int r = attach_client_read_frame (fd, dec, &f);
  /* A monitor that cannot take one more client says why in place of its HELLO. */
  if (r == 0 && f.type == ATTACH_FAILED && f.len >= 4)
    return isola_error_fail (err, EMFILE, "%.*s", (int)(f.len - 4), (const char *)f.payload + 4);
  if (r < 0 || f.type != ATTACH_HELLO || f.len != 1)
    return isola_error_fail (err, EPROTO,
                             "the container monitor did not answer (is isola-monitor installed beside "
                             "isola?)");
  if (f.payload[0] != ATTACH_VERSION)
    return isola_error_fail (err, EPROTO, "the container monitor speaks attach protocol %d, not %d", f.payload[0],
                             ATTACH_VERSION);
  return 0;
}

int
attach_client_wait_started (int fd, struct attach_decoder *dec, int *exit_code, isola_error_t *err)
{
  struct attach_frame f;
  if (attach_client_read_frame (fd, dec, &f) < 0)
    return isola_error_fail (err, EIO, "the container monitor exited before starting the container");
  if (f.type == ATTACH_STARTED)
    {
      *exit_code = 0;
      return 0;
    }
  if (f.type == ATTACH_FAILED && f.len >= 4)
    {
      int code = (int)attach_get_u32 (f.payload);
      *exit_code = code;
      return isola_error_fail (err,
                               code == 127   ? ENOENT
                               : code == 126 ? EACCES
                                             : EIO,
                               "%.*s", (int)(f.len - 4), (const char *)f.payload + 4);
    }
  return isola_error_fail (err, EPROTO, "unexpected message %d from the container monitor", f.type);
}

int
attach_client_connect (const char *dir, const char *peer, int *fd_out, struct attach_decoder *dec, isola_error_t *err)
{
  /* Through the directory's fd: a container directory's path can be longer than sun_path. */
  cleanup_close int dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return isola_error_make (err, errno, "open `%s`", dir);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  snprintf (addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/attach.sock", dirfd);
  cleanup_close int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect (fd, (struct sockaddr *)&addr, sizeof addr) < 0)
    return isola_error_make (err, errno, "connect to %s", peer);
  int ret = attach_client_expect_hello (fd, dec, err);
  if (ret < 0)
    return ret;
  *fd_out = take_fd (&fd);
  return 0;
}

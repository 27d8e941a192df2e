/* Reading a container's log (see logreader.h). */
#define _GNU_SOURCE
#include "container/logreader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "container/logconfig.h"
#include "container/logfile.h"

/* --- reading the files of a log ------------------------------------------------------------------------------- */

/* The log is read in big blocks: a 100 MB log is a million records or more. */
#define LOG_READ_BLOCK (1024 * 1024)

static void
log_files_clear (struct log_reader *r)
{
  for (size_t i = 0; i < r->n; i++)
    close (r->fds[i]);
  free (r->fds);
  free (r->inos);
  r->fds = NULL, r->inos = NULL, r->n = r->cur = 0;
}

/* Opens ctr.log, then ctr.log.1, ctr.log.2 …: a rotation while we do so shifts the names by one, and then a file we
   already hold comes again under its next name and is skipped, so that the files are each held once, in order,
   whatever the monitor does meanwhile (the oldest may be rotated away, as with Docker). */
static void
log_files_open (struct log_reader *r)
{
  size_t cap = (size_t)(r->max_file > 0 ? r->max_file : 1), n = 0;
  int *fds = xcalloc (cap, sizeof (int));
  ino_t *inos = xcalloc (cap, sizeof (ino_t));
  for (int i = 0; i < r->max_file || i == 0; i++)
    {
      cleanup_free char *name = log_config_file (r->path, i);
      int fd = open (name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      struct stat st;
      if (fd < 0)
        continue;
      bool again = fstat (fd, &st) < 0;
      for (size_t j = 0; j < n && !again; j++)
        again = inos[j] == st.st_ino;
      if (again)
        {
          close (fd);
          continue;
        }
      fds[n] = fd, inos[n] = st.st_ino, n++;
    }
  /* Newest first so far: reverse. */
  for (size_t i = 0; i < n / 2; i++)
    {
      int t = fds[i];
      fds[i] = fds[n - 1 - i], fds[n - 1 - i] = t;
      ino_t u = inos[i];
      inos[i] = inos[n - 1 - i], inos[n - 1 - i] = u;
    }
  r->fds = fds, r->inos = inos, r->n = n, r->cur = 0;
}

void
log_reader_open (struct log_reader *r, const char *path, int max_file)
{
  *r = (struct log_reader){ .path = xstrdup (path), .max_file = max_file };
  log_files_open (r);
}

void
log_reader_close (struct log_reader *r)
{
  log_files_clear (r);
  free (r->path);
  free (r->buf);
  *r = (struct log_reader){ 0 };
}

int
log_reader_tail (struct log_reader *r, long n)
{
  if (n < 0 || r->n == 0)
    return 0;
  /* From the newest file back, until the lines are found. */
  size_t first = r->n;
  off_t start = 0;
  long want = n, got;
  while (first > 0 && (first == r->n || want > 0))
    {
      first--;
      start = n == 0 ? lseek (r->fds[first], 0, SEEK_END) : log_tail_offset (r->fds[first], want, &got);
      if (n == 0)
        break;
      want -= got;
    }
  for (size_t i = first + 1; i < r->n; i++)
    if (lseek (r->fds[i], 0, SEEK_SET) < 0)
      return -errno;
  r->cur = first;
  return lseek (r->fds[first], start, SEEK_SET) < 0 ? -errno : 0;
}

int
log_reader_next (struct log_reader *r, const char **lines, size_t *len)
{
  if (r->returned > 0)
    {
      memmove (r->buf, r->buf + r->returned, r->len - r->returned);
      r->len -= r->returned;
      r->returned = 0;
    }
  while (r->cur < r->n)
    {
      if (r->cap - r->len < LOG_READ_BLOCK)
        {
          r->cap = r->len + LOG_READ_BLOCK;
          r->buf = xrealloc (r->buf, r->cap);
        }
      ssize_t got = read (r->fds[r->cur], r->buf + r->len, LOG_READ_BLOCK);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        {
          if (r->cur + 1 >= r->n)
            return 0;
          /* A rotated file ends with a whole record. */
          r->cur++;
          r->len = 0;
          continue;
        }
      r->len += (size_t)got;
      const char *nl = memrchr (r->buf, '\n', r->len);
      if (nl)
        {
          *lines = r->buf;
          *len = r->returned = (size_t)(nl - r->buf) + 1;
          return 1;
        }
    }
  return 0;
}

bool
log_reader_follow (struct log_reader *r)
{
  if (r->n == 0)
    {
      /* No file yet: the first one, once the monitor has made it. */
      log_files_open (r);
      return r->n > 0;
    }
  int fd = r->fds[r->n - 1];
  ino_t ino = r->inos[r->n - 1];
  struct stat st;
  /* With max-file 1 the file is emptied instead: from its beginning again. */
  if (fstat (fd, &st) == 0 && lseek (fd, 0, SEEK_CUR) > st.st_size)
    {
      (void)lseek (fd, 0, SEEK_SET);
      r->len = r->returned = 0;
      return true;
    }
  if (stat (r->path, &st) == 0 && st.st_ino == ino)
    {
      r->draining = false;
      return false;
    }
  /* Rotated: nothing is written to a file once it is renamed, but it may have grown since the caller read it: once
     more to its end first. */
  if (!r->draining)
    {
      r->draining = true;
      return true;
    }
  r->draining = false;
  /* Next: the file that came after it, or, when that has gone already, the oldest there is; none yet: look again
     later. */
  struct log_reader now = { .path = r->path, .max_file = r->max_file };
  log_files_open (&now);
  size_t i = 0;
  while (i < now.n && now.inos[i] != ino)
    i++;
  size_t next = i < now.n ? i + 1 : 0;
  if (next >= now.n)
    {
      log_files_clear (&now);
      return false;
    }
  log_files_clear (r);
  r->fds = now.fds, r->inos = now.inos, r->n = now.n, r->cur = next;
  r->len = r->returned = 0;
  return true;
}

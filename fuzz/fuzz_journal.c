/* libFuzzer target: the event journal as `isola events` reads it (journal.c).  The bytes are ROOT/events/journal,
   cut in two at the first NUL byte into journal.1 (the rotated one) and journal.  Its records are written by isola
   under a lock, but a cut write, a full disk or a hand edit can leave anything there: every line must be read or
   skipped, every event read must be an object, and Docker's filters must match against any object. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "store/journal.h"

static json_t *filters[6];

static void
make_filters (void)
{
  static const char *const args[][3] = {
    { "type=container", "event=exec_start", NULL },  { "image=busybox:latest", "image=sha256:ab", NULL },
    { "container=web", "label=a=b", NULL },          { "volume=v", "label=com.x", NULL },
    { "event=die", "type=image", "container=0123" }, { "label=", "image=", "event=" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (args); i++)
    {
      filters[i] = json_object ();
      for (size_t j = 0; j < 3 && args[i][j]; j++)
        if (journal_filter_add (filters[i], args[i][j], NULL) < 0)
          abort ();
    }
}

static void
write_file (const char *dir, const char *name, const uint8_t *p, size_t n)
{
  cleanup_free char *path = xasprintf ("%s/%s", dir, name);
  cleanup_close int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write_all (fd, p, n) < 0)
    abort ();
}

/* One root for the whole run (on /dev/shm when there is one: the reader's opens and inotify watch are the cost),
   its files rewritten for every input, removed at exit. */
static char *root, *dir;

static void
remove_root (void)
{
  (void)rm_rf (root, NULL);
}

static void
make_root (void)
{
  const char *parent = access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  if (make_temp_dir (parent, "isola-fuzz-journal", &root, NULL) < 0)
    abort ();
  dir = xasprintf ("%s/%s", root, JOURNAL_DIR);
  if (mkdir (dir, 0700) < 0)
    abort ();
  atexit (remove_root);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (filters[0] == NULL)
    {
      make_filters ();
      make_root ();
    }
  const uint8_t *nul = memchr (data, '\0', size);
  if (nul != NULL)
    {
      write_file (dir, "journal.1", data, (size_t)(nul - data));
      write_file (dir, "journal", nul + 1, size - (size_t)(nul - data) - 1);
    }
  else
    {
      cleanup_free char *old = xasprintf ("%s/journal.1", dir);
      (void)unlink (old);
      write_file (dir, "journal", data, size);
    }

  struct journal_reader *r = NULL;
  cleanup_error isola_error_t err = NULL;
  if (journal_reader_open (root, false, &r, &err) < 0)
    abort ();
  json_t *ev = NULL;
  int ret;
  size_t n = 0;
  while ((ret = journal_reader_next (r, &ev, &err)) == 1)
    {
      if (!json_is_object (ev) || ++n > size)
        abort ();
      for (size_t i = 0; i < ARRAY_SIZE (filters); i++)
        (void)journal_filter_match (filters[i], ev);
      json_decref (ev);
    }
  if (ret != 0)
    abort ();
  journal_reader_free (r);
  return 0;
}

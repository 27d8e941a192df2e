/* The event journal: records in Docker's shape, appends, torn records, rotation, readers, filters. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "store/journal.h"
#include "tap.h"

static char root[] = "/tmp/isola-unit-journal-XXXXXX";

static void
test_event_shape (void)
{
  cleanup_json json_t *attrs = json_pack ("{s:s, s:s, s:s}", "name", "foo", "image", "busybox", "a", "1");
  cleanup_json json_t *ev = journal_event_new ("container", "start", "abc", attrs, 1700000000123456789LL);
  cleanup_free char *text = json_dumps (ev, JSON_COMPACT);
  CHECK_STR (text,
             "{\"status\":\"start\",\"id\":\"abc\",\"from\":\"busybox\",\"Type\":\"container\",\"Action\":\"start\","
             "\"Actor\":{\"ID\":\"abc\",\"Attributes\":{\"a\":\"1\",\"image\":\"busybox\",\"name\":\"foo\"}},"
             "\"scope\":\"local\",\"time\":1700000000,\"timeNano\":1700000000123456789}",
             "a container event: legacy fields, sorted attributes, time in seconds and nanoseconds");
  cleanup_json json_t *vol = journal_event_new ("volume", "create", "v", NULL, 5);
  CHECK (json_object_get (vol, "status") == NULL && json_object_get (vol, "id") == NULL,
         "a volume event has no legacy fields");
}

static int
read_all (struct journal_reader *r, char ***actions)
{
  json_t *ev;
  int n = 0, ret;
  while ((ret = journal_reader_next (r, &ev, NULL)) == 1)
    {
      strv_push (actions, json_string_value (json_object_get (ev, "Action")));
      json_decref (ev);
      n++;
    }
  return ret < 0 ? ret : n;
}

static void
test_append_and_read (void)
{
  CHECK (journal_log (root, "container", "create", "c1", NULL, NULL) == 0, "an event is appended");
  cleanup_free char *path = xasprintf ("%s/events/journal", root);
  int fd = open (path, O_WRONLY | O_APPEND);
  CHECK (fd >= 0 && write (fd, "{\"Action\":\"torn", 15) == 15, "a torn record is left at the end");
  close (fd);
  CHECK (journal_log (root, "container", "start", "c1", NULL, NULL) == 0, "the next event is appended");
  cleanup_journal_reader struct journal_reader *r = NULL;
  CHECK (journal_reader_open (root, false, &r, NULL) == 0, "a reader opens");
  cleanup_strv char **actions = xcalloc (1, sizeof (char *));
  CHECK (read_all (r, &actions) == 2 && strcmp (actions[0], "create") == 0 && strcmp (actions[1], "start") == 0,
         "the reader skips the torn record and reads both events");
  cleanup_journal_reader struct journal_reader *tail = NULL;
  CHECK (journal_reader_open (root, true, &tail, NULL) == 0, "a reader from the end opens");
  CHECK (journal_log (root, "container", "die", "c1", NULL, NULL) == 0, "another event");
  cleanup_strv char **later = xcalloc (1, sizeof (char *));
  CHECK (read_all (tail, &later) == 1 && strcmp (later[0], "die") == 0, "from the end: only the new event");
  CHECK (journal_reader_wait (tail, 0) == 0, "wait returns");

  /* Rotation: grow the journal past the limit with events, then one more rotates it. */
  int before = 0;
  struct stat st;
  while (stat (path, &st) == 0 && st.st_size < JOURNAL_ROTATE_BYTES)
    {
      (void)journal_log (root, "image", "tag", "sha256:0123456789", NULL, NULL);
      before++;
    }
  CHECK (journal_log (root, "container", "destroy", "c1", NULL, NULL) == 0, "an event past the limit");
  cleanup_free char *old = xasprintf ("%s/events/journal.1", root);
  CHECK (path_exists (old) && stat (path, &st) == 0 && st.st_size < 1024, "the journal was rotated into journal.1");
  cleanup_strv char **rest = xcalloc (1, sizeof (char *));
  int n = read_all (tail, &rest);
  CHECK (n == before + 1 && strcmp (rest[n - 1], "destroy") == 0, "a following reader crosses the rotation (%d)", n);
  cleanup_journal_reader struct journal_reader *fresh = NULL;
  cleanup_strv char **all = xcalloc (1, sizeof (char *));
  CHECK (journal_reader_open (root, false, &fresh, NULL) == 0 && read_all (fresh, &all) == before + 4,
         "a new reader reads journal.1, then the journal");
}

static bool
matches (const char *const *filters, json_t *ev)
{
  cleanup_json json_t *f = json_object ();
  for (size_t i = 0; filters[i]; i++)
    if (journal_filter_add (f, filters[i], NULL) < 0)
      return false;
  return journal_filter_match (f, ev);
}

static void
test_filters (void)
{
  cleanup_json json_t *attrs = json_pack ("{s:s, s:s, s:s}", "name", "web", "image", "busybox:latest", "tier", "db");
  cleanup_json json_t *ev = journal_event_new ("container", "exec_start: sh -c true", "abcdef", attrs, 1);
  CHECK (matches ((const char *[]){ NULL }, ev), "no filter matches");
  CHECK (matches ((const char *[]){ "container=web", NULL }, ev), "container by name");
  CHECK (matches ((const char *[]){ "container=abc", NULL }, ev), "container by ID prefix");
  CHECK (!matches ((const char *[]){ "container=other", NULL }, ev), "another container");
  CHECK (matches ((const char *[]){ "image=busybox", NULL }, ev), "image without its tag");
  CHECK (matches ((const char *[]){ "image=busybox:latest", NULL }, ev), "image with its tag");
  CHECK (!matches ((const char *[]){ "image=busy", NULL }, ev), "image names match whole");
  CHECK (matches ((const char *[]){ "event=exec_start", NULL }, ev), "exec_start matches the action it begins");
  CHECK (!matches ((const char *[]){ "event=exec", NULL }, ev), "other events match whole");
  CHECK (matches ((const char *[]){ "type=image", "type=container", NULL }, ev), "values of a key: any");
  CHECK (!matches ((const char *[]){ "type=container", "container=other", NULL }, ev), "keys: all");
  CHECK (matches ((const char *[]){ "label=tier", NULL }, ev), "label by key");
  CHECK (matches ((const char *[]){ "label=tier=db", NULL }, ev), "label by key and value");
  CHECK (!matches ((const char *[]){ "label=tier=web", NULL }, ev), "label of another value");
  cleanup_json json_t *f = json_object ();
  cleanup_error isola_error_t err = NULL;
  CHECK (journal_filter_add (f, "bogus=1", &err) == -EINVAL && strcmp (err->msg, "invalid filter 'bogus'") == 0,
         "an unknown key is refused");
}

int
main (void)
{
  if (mkdtemp (root) == NULL)
    return 1;
  test_event_shape ();
  test_append_and_read ();
  test_filters ();
  (void)rm_rf (root, NULL);
  return tap_done ();
}

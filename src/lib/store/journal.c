/* The event journal (see journal.h). */
#define _GNU_SOURCE
#include "store/journal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"

static int
compare_keys (const void *a, const void *b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

/* Go encodes a map with its keys sorted. */
static json_t *
sorted_attributes (json_t *attributes)
{
  json_t *out = json_object ();
  size_t n = json_object_size (attributes), i = 0;
  if (n == 0)
    return out;
  cleanup_free const char **keys = xcalloc (n, sizeof *keys);
  const char *k;
  json_t *v;
  json_object_foreach (attributes, k, v)
  {
    if (json_is_string (v))
      keys[i++] = k;
  }
  qsort (keys, i, sizeof *keys, compare_keys);
  for (size_t j = 0; j < i; j++)
    json_object_set (out, keys[j], json_object_get (attributes, keys[j]));
  return out;
}

json_t *
journal_event_new (const char *type, const char *action, const char *actor_id, json_t *attributes, int64_t time_nano)
{
  json_t *ev = json_object ();
  json_t *attrs = sorted_attributes (attributes);
  /* Docker's daemon fills the deprecated status, id and from of container and image events. */
  if (strcmp (type, "container") == 0 || strcmp (type, "image") == 0)
    {
      json_object_set_new (ev, "status", json_string (action));
      json_object_set_new (ev, "id", json_string (actor_id));
      const char *from = json_string_value (json_object_get (attrs, "image"));
      if (strcmp (type, "container") == 0 && from && from[0])
        json_object_set_new (ev, "from", json_string (from));
    }
  json_object_set_new (ev, "Type", json_string (type));
  json_object_set_new (ev, "Action", json_string (action));
  json_object_set_new (ev, "Actor", json_pack ("{s:s, s:o}", "ID", actor_id, "Attributes", attrs));
  json_object_set_new (ev, "scope", json_string ("local"));
  json_object_set_new (ev, "time", json_integer (time_nano / 1000000000));
  json_object_set_new (ev, "timeNano", json_integer (time_nano));
  return ev;
}

static int64_t
now_nano (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
open_journal_for_append (const char *dir, isola_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/journal", dir);
  int fd = open (path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return isola_error_make (err, errno, "open `%s`", path);
  struct stat st;
  if (fstat (fd, &st) == 0 && st.st_size >= JOURNAL_ROTATE_BYTES)
    {
      cleanup_free char *old = xasprintf ("%s/journal.1", dir);
      if (rename (path, old) == 0)
        {
          (void)close (fd);
          fd = open (path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
          if (fd < 0)
            return isola_error_make (err, errno, "open `%s`", path);
        }
    }
  return fd;
}

int
journal_log (const char *root, const char *type, const char *action, const char *actor_id, json_t *attributes,
             isola_error_t *err)
{
  cleanup_free char *dir = xasprintf ("%s/%s", root, JOURNAL_DIR);
  if (mkdir (dir, 0700) < 0 && errno != EEXIST)
    return isola_error_make (err, errno, "create `%s`", dir);
  cleanup_free char *lock = xasprintf ("%s/lock", dir);
  cleanup_close int lock_fd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0)
    return isola_error_make (err, errno, "open `%s`", lock);
  while (flock (lock_fd, LOCK_EX) < 0)
    if (errno != EINTR)
      return isola_error_make (err, errno, "lock `%s`", lock);
  cleanup_close int fd = open_journal_for_append (dir, err);
  if (fd < 0)
    return fd;
  /* Stamped under the lock: the journal's lines are in the order of their times. */
  cleanup_json json_t *ev = journal_event_new (type, action, actor_id, attributes, now_nano ());
  cleanup_free char *text = json_dumps (ev, JSON_COMPACT);
  if (text == NULL)
    return isola_error_fail (err, ENOMEM, "encode an event");
  /* A record cut by a power failure gets its end of line, so that it stays a line of its own. */
  struct stat st;
  char last = '\n';
  bool torn = fstat (fd, &st) == 0 && st.st_size > 0 && pread (fd, &last, 1, st.st_size - 1) == 1 && last != '\n';
  cleanup_free char *line = xasprintf ("%s%s\n", torn ? "\n" : "", text);
  int ret = write_all (fd, line, strlen (line));
  if (ret < 0)
    return isola_error_make (err, -ret, "append to the event journal");
  return 0;
}

struct journal_reader
{
  char *dir, *path;
  int old_fd; /* read first: journal.1, or a journal renamed away while we read it */
  int cur_fd; /* the journal, -1 until it exists */
  int inotify_fd;
  char *buf; /* bytes read and not returned yet: at most one partial line once the complete ones are taken */
  size_t len, cap;
};

void
journal_reader_free (struct journal_reader *r)
{
  if (r == NULL)
    return;
  if (r->old_fd >= 0)
    (void)close (r->old_fd);
  if (r->cur_fd >= 0)
    (void)close (r->cur_fd);
  if (r->inotify_fd >= 0)
    (void)close (r->inotify_fd);
  free (r->dir);
  free (r->path);
  free (r->buf);
  free (r);
}

static bool
same_file (int a, int b)
{
  struct stat sa, sb;
  return a >= 0 && b >= 0 && fstat (a, &sa) == 0 && fstat (b, &sb) == 0 && sa.st_ino == sb.st_ino
         && sa.st_dev == sb.st_dev;
}

int
journal_reader_open (const char *root, bool from_end, struct journal_reader **out, isola_error_t *err)
{
  struct journal_reader *r = xcalloc (1, sizeof *r);
  r->old_fd = r->cur_fd = r->inotify_fd = -1;
  cleanup_free struct journal_reader *guard = r;
  r->dir = xasprintf ("%s/%s", root, JOURNAL_DIR);
  r->path = xasprintf ("%s/journal", r->dir);
  if (mkdir (r->dir, 0700) < 0 && errno != EEXIST)
    {
      int ret = isola_error_make (err, errno, "create `%s`", r->dir);
      journal_reader_free (take_ptr (&guard));
      return ret;
    }
  /* Watched before the journal is opened: nothing appended in between goes unnoticed. */
  r->inotify_fd = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  if (r->inotify_fd < 0
      || inotify_add_watch (r->inotify_fd, r->dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
    {
      int ret = isola_error_make (err, errno, "watch `%s`", r->dir);
      journal_reader_free (take_ptr (&guard));
      return ret;
    }
  r->cur_fd = open (r->path, O_RDONLY | O_CLOEXEC);
  if (from_end)
    {
      if (r->cur_fd >= 0)
        (void)lseek (r->cur_fd, 0, SEEK_END);
    }
  else
    {
      cleanup_free char *old = xasprintf ("%s/journal.1", r->dir);
      r->old_fd = open (old, O_RDONLY | O_CLOEXEC);
      /* Rotated between the two opens: journal.1 is the journal we hold. */
      if (same_file (r->old_fd, r->cur_fd))
        {
          (void)close (r->old_fd);
          r->old_fd = -1;
        }
    }
  *out = take_ptr (&guard);
  return 0;
}

/* A complete line in the buffer: 1 and *event when it is a JSON object, 0 when there is none; others are dropped. */
static int
take_line (struct journal_reader *r, json_t **event)
{
  for (;;)
    {
      char *nl = r->len ? memchr (r->buf, '\n', r->len) : NULL;
      if (nl == NULL)
        return 0;
      size_t n = (size_t)(nl - r->buf);
      json_t *ev = n ? json_loadb (r->buf, n, 0, NULL) : NULL;
      memmove (r->buf, nl + 1, r->len - n - 1);
      r->len -= n + 1;
      if (json_is_object (ev))
        {
          *event = ev;
          return 1;
        }
      json_decref (ev);
    }
}

/* Reads more of fd into the buffer: its byte count, 0 at its end. */
static ssize_t
fill (struct journal_reader *r, int fd)
{
  if (r->cap - r->len < 65536)
    {
      r->cap = r->cap * 2 + 65536;
      r->buf = xrealloc (r->buf, r->cap);
    }
  ssize_t n;
  do
    n = read (fd, r->buf + r->len, r->cap - r->len);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    r->len += (size_t)n;
  return n;
}

/* The journal was rotated when its path names another file now: what we hold is complete once read to its end. */
static bool
rotated (struct journal_reader *r)
{
  struct stat now, ours;
  if (fstat (r->cur_fd, &ours) < 0)
    return false;
  if (stat (r->path, &now) < 0)
    return errno == ENOENT;
  return now.st_ino != ours.st_ino || now.st_dev != ours.st_dev;
}

int
journal_reader_next (struct journal_reader *r, json_t **event, isola_error_t *err)
{
  for (;;)
    {
      if (take_line (r, event))
        return 1;
      if (r->cur_fd < 0)
        {
          r->cur_fd = open (r->path, O_RDONLY | O_CLOEXEC);
          if (r->cur_fd < 0 && r->old_fd < 0)
            return errno == ENOENT ? 0 : isola_error_make (err, errno, "open `%s`", r->path);
        }
      int fd = r->old_fd >= 0 ? r->old_fd : r->cur_fd;
      ssize_t n = fill (r, fd);
      if (n < 0)
        return isola_error_make (err, errno, "read the event journal");
      if (n > 0)
        continue;
      if (fd == r->old_fd)
        {
          /* A torn record at the end of a finished file goes with it. */
          (void)close (r->old_fd);
          r->old_fd = -1;
          r->len = 0;
          continue;
        }
      if (!rotated (r))
        return 0;
      /* Read the renamed journal to its end (a writer may have appended since our last read), then the new one. */
      r->old_fd = r->cur_fd;
      r->cur_fd = -1;
    }
}

int
journal_reader_wait (struct journal_reader *r, int timeout_ms)
{
  struct pollfd p = { .fd = r->inotify_fd, .events = POLLIN };
  int n = poll (&p, 1, timeout_ms);
  if (n < 0)
    return -errno;
  char buf[4096];
  while (read (r->inotify_fd, buf, sizeof buf) > 0)
    ;
  return 0;
}

/* --- filters ------------------------------------------------------------------------------------------------- */

static const char *const filter_keys[] = { "config", "container", "daemon", "event",  "image",   "label", "network",
                                           "node",   "plugin",    "scope",  "secret", "service", "type",  "volume" };

int
journal_filter_add (json_t *filters, const char *arg, isola_error_t *err)
{
  const char *eq = strchr (arg, '=');
  if (eq == NULL)
    return isola_error_fail (err, EINVAL, "bad format of filter (expected name=value)");
  cleanup_free char *key = strndup (arg, (size_t)(eq - arg));
  /* Docker lower-cases and trims the key. */
  for (char *k = key; *k; k++)
    *k = (char)tolower ((unsigned char)*k);
  bool known = false;
  for (size_t i = 0; i < ARRAY_SIZE (filter_keys); i++)
    known = known || strcmp (filter_keys[i], key) == 0;
  if (!known)
    return isola_error_fail (err, EINVAL, "invalid filter '%s'", key);
  json_t *values = json_object_get (filters, key);
  if (values == NULL)
    json_object_set_new (filters, key, values = json_array ());
  json_array_append_new (values, json_string (eq + 1));
  return 0;
}

/* filters.Args.ExactMatch: no value for key, or source is one of them. */
static bool
exact_match (json_t *filters, const char *key, const char *source)
{
  json_t *values = json_object_get (filters, key);
  if (json_array_size (values) == 0)
    return true;
  size_t i;
  json_t *v;
  json_array_foreach (values, i, v)
  {
    if (source && strcmp (json_string_value (v), source) == 0)
      return true;
  }
  return false;
}

/* filters.Args.FuzzyMatch: ExactMatch, or a value is a prefix of source. */
static bool
fuzzy_match (json_t *filters, const char *key, const char *source)
{
  if (exact_match (filters, key, source))
    return true;
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (filters, key), i, v)
  {
    if (source && str_has_prefix (source, json_string_value (v)))
      return true;
  }
  return false;
}

static const char *
attribute (json_t *event, const char *key)
{
  return json_string_value (json_object_get (json_object_get (json_object_get (event, "Actor"), "Attributes"), key));
}

/* The actor's ID or name attribute match the filter key (a prefix will do). */
static bool
fuzzy_match_name (json_t *filters, const char *key, json_t *event)
{
  const char *id = json_string_value (json_object_get (json_object_get (event, "Actor"), "ID"));
  return fuzzy_match (filters, key, id) || fuzzy_match (filters, key, attribute (event, "name"));
}

/* A reference without its tag or digest ("busybox:1" -> "busybox"); an ID stays as it is. */
static char *
strip_tag (const char *ref)
{
  if (ref == NULL)
    return NULL;
  if (str_has_prefix (ref, "sha256:"))
    return xstrdup (ref);
  char *s = xstrdup (ref);
  char *at = strchr (s, '@');
  if (at)
    *at = '\0';
  char *slash = strrchr (s, '/');
  char *colon = strrchr (slash ? slash : s, ':');
  if (colon)
    *colon = '\0';
  return s;
}

static bool
image_matches (json_t *filters, json_t *event)
{
  const char *id = json_string_value (json_object_get (json_object_get (event, "Actor"), "ID"));
  const char *type = json_string_value (json_object_get (event, "Type"));
  const char *name = attribute (event, type && strcmp (type, "image") == 0 ? "name" : "image");
  cleanup_free char *id_stripped = strip_tag (id), *name_stripped = strip_tag (name);
  return exact_match (filters, "image", id) || exact_match (filters, "image", name)
         || exact_match (filters, "image", id_stripped) || exact_match (filters, "image", name_stripped);
}

static bool
event_matches (json_t *filters, json_t *event)
{
  const char *action = json_string_value (json_object_get (event, "Action"));
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (filters, "event"), i, v)
  {
    const char *want = json_string_value (v);
    if (strcmp (want, "exec_create") == 0 || strcmp (want, "exec_start") == 0 || strcmp (want, "health_status") == 0)
      return fuzzy_match (filters, "event", action);
  }
  return exact_match (filters, "event", action);
}

static bool
labels_match (json_t *filters, json_t *event)
{
  json_t *attrs = json_object_get (json_object_get (event, "Actor"), "Attributes");
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (filters, "label"), i, v)
  {
    const char *want = json_string_value (v);
    const char *eq = strchr (want, '=');
    cleanup_free char *key = eq ? strndup (want, (size_t)(eq - want)) : xstrdup (want);
    const char *have = json_string_value (json_object_get (attrs, key));
    if (have == NULL || (eq && strcmp (have, eq + 1) != 0))
      return false;
  }
  return true;
}

bool
journal_filter_match (json_t *filters, json_t *event)
{
  if (json_object_size (filters) == 0)
    return true;
  static const char *const by_name[]
      = { "config", "container", "daemon", "network", "node", "plugin", "secret", "service", "volume" };
  for (size_t i = 0; i < ARRAY_SIZE (by_name); i++)
    if (!fuzzy_match_name (filters, by_name[i], event))
      return false;
  return event_matches (filters, event)
         && exact_match (filters, "type", json_string_value (json_object_get (event, "Type")))
         && exact_match (filters, "scope", json_string_value (json_object_get (event, "scope")))
         && image_matches (filters, event) && labels_match (filters, event);
}

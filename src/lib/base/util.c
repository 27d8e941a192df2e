#define _GNU_SOURCE
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <time.h>

void *
xmalloc (size_t n)
{
  void *p = malloc (n ? n : 1);
  if (p == NULL)
    abort ();
  return p;
}

void *
xcalloc (size_t n, size_t size)
{
  void *p = calloc (n ? n : 1, size ? size : 1);
  if (p == NULL)
    abort ();
  return p;
}

void *
xrealloc (void *p, size_t n)
{
  p = realloc (p, n ? n : 1);
  if (p == NULL)
    abort ();
  return p;
}

char *
xstrdup (const char *s)
{
  char *r = strdup (s ? s : "");
  if (r == NULL)
    abort ();
  return r;
}

char *
xasprintf (const char *fmt, ...)
{
  char *r = NULL;
  va_list ap;
  va_start (ap, fmt);
  int n = vasprintf (&r, fmt, ap);
  va_end (ap);
  if (n < 0)
    abort ();
  return r;
}

void
strv_free (char **v)
{
  if (v == NULL)
    return;
  for (char **p = v; *p; p++)
    free (*p);
  free (v);
}

size_t
strv_len (char *const *v)
{
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

void
strv_push (char ***v, const char *s)
{
  size_t n = strv_len (*v);
  *v = xrealloc (*v, (n + 2) * sizeof (char *));
  (*v)[n] = xstrdup (s);
  (*v)[n + 1] = NULL;
}

bool
strv_contains (char *const *v, const char *s)
{
  for (size_t i = 0; v && v[i]; i++)
    if (strcmp (v[i], s) == 0)
      return true;
  return false;
}

bool
str_has_prefix (const char *s, const char *prefix)
{
  return strncmp (s, prefix, strlen (prefix)) == 0;
}

bool
str_has_suffix (const char *s, const char *suffix)
{
  size_t a = strlen (s), b = strlen (suffix);
  return a >= b && strcmp (s + a - b, suffix) == 0;
}

int
mkdir_p (const char *path, mode_t mode, isola_error_t *err)
{
  /* Usually everything but the last component exists, or all of it. */
  if (mkdir (path, mode) == 0 || errno == EEXIST)
    return 0;
  cleanup_free char *buf = xstrdup (path);
  for (char *p = buf + 1; *p; p++)
    {
      if (*p != '/')
        continue;
      *p = '\0';
      if (mkdir (buf, mode) < 0 && errno != EEXIST)
        return isola_error_make (err, errno, "mkdir `%s`", buf);
      *p = '/';
    }
  if (mkdir (buf, mode) < 0 && errno != EEXIST)
    return isola_error_make (err, errno, "mkdir `%s`", buf);
  return 0;
}

static int rm_rf_children (int dfd, dev_t dev, isola_error_t *err);

static int
rm_rf_entry (int dirfd, const char *name, dev_t parent_dev, isola_error_t *err)
{
  struct stat st;
  if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : isola_error_make (err, errno, "stat `%s`", name);

  if (!S_ISDIR (st.st_mode))
    {
      if (unlinkat (dirfd, name, 0) < 0 && errno != ENOENT)
        return isola_error_make (err, errno, "unlink `%s`", name);
      return 0;
    }
  /* Never descend into something mounted below us: deleting a mount's contents by accident is unrecoverable. */
  if (parent_dev != 0 && st.st_dev != parent_dev)
    return isola_error_fail (err, EBUSY, "refusing to remove `%s`: it is a mount point", name);

  int dfd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0)
    return errno == ENOENT ? 0 : isola_error_make (err, errno, "open `%s`", name);
  int ret = rm_rf_children (dfd, st.st_dev, err);
  close (dfd);
  if (ret < 0)
    return isola_error_wrap (err, ret, "%s", name);
  if (unlinkat (dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return isola_error_make (err, errno, "rmdir `%s`", name);
  return 0;
}

static int
rm_rf_children (int dfd, dev_t dev, isola_error_t *err)
{
  int dup_fd = dup (dfd);
  if (dup_fd < 0)
    return isola_error_make (err, errno, "dup");
  cleanup_dir DIR *d = fdopendir (dup_fd);
  if (d == NULL)
    {
      close (dup_fd);
      return isola_error_make (err, errno, "opendir");
    }
  struct dirent *de;
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      int ret = rm_rf_entry (dfd, de->d_name, dev, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

int
rm_rf_at (int dirfd, const char *name, isola_error_t *err)
{
  return rm_rf_entry (dirfd, name, 0, err);
}

int
rm_rf (const char *path, isola_error_t *err)
{
  return rm_rf_entry (AT_FDCWD, path, 0, err);
}

/* The whole buffer, through write(2), or send(2) without SIGPIPE for a socket. */
static int
put_all (int fd, const void *buf, size_t len, bool socket)
{
  const char *p = buf;
  while (len > 0)
    {
      ssize_t n = socket ? send (fd, p, len, MSG_NOSIGNAL) : write (fd, p, len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -errno;
        }
      p += n;
      len -= (size_t)n;
    }
  return 0;
}

int
write_all (int fd, const void *buf, size_t len)
{
  return put_all (fd, buf, len, false);
}

int
send_all (int sock, const void *buf, size_t len)
{
  return put_all (sock, buf, len, true);
}

int
fsync_dir (const char *path)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  int ret = fsync (fd) < 0 ? -errno : 0;
  close (fd);
  return ret;
}

static char *
dir_of (const char *path)
{
  char *d = xstrdup (path);
  char *slash = strrchr (d, '/');
  if (slash == NULL)
    strcpy (d, ".");
  else if (slash == d)
    d[1] = '\0';
  else
    *slash = '\0';
  return d;
}

static int
write_file_renamed (const char *path, const void *data, size_t len, mode_t mode, bool durable, isola_error_t *err)
{
  cleanup_free char *dir = dir_of (path);
  const char *base = strrchr (path, '/') ? strrchr (path, '/') + 1 : path;
  cleanup_free char *tmp = xasprintf ("%s/.tmp-%s-XXXXXX", dir, base);
  cleanup_close int fd = mkostemp (tmp, O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "create temporary file in `%s`", dir);
  int ret = write_all (fd, data, len);
  if (ret == 0 && fchmod (fd, mode) < 0)
    ret = -errno;
  if (ret == 0 && durable && fsync (fd) < 0)
    ret = -errno;
  if (ret == 0 && rename (tmp, path) < 0)
    ret = -errno;
  if (ret < 0)
    {
      (void)unlink (tmp);
      return isola_error_make (err, -ret, "write `%s`", path);
    }
  if (durable)
    (void)fsync_dir (dir);
  return 0;
}

int
write_file_atomic (const char *path, const void *data, size_t len, mode_t mode, isola_error_t *err)
{
  return write_file_renamed (path, data, len, mode, true, err);
}

int
write_file_replace (const char *path, const void *data, size_t len, mode_t mode, isola_error_t *err)
{
  return write_file_renamed (path, data, len, mode, false, err);
}

int
read_fd_bounded (int fd, size_t max, char **out, size_t *out_len, isola_error_t *err)
{
  size_t cap = 4096, len = 0;
  cleanup_free char *buf = xmalloc (cap + 1);
  for (;;)
    {
      if (len == cap)
        {
          if (cap >= max + 1)
            return isola_error_fail (err, EFBIG, "file larger than the limit of %zu bytes", max);
          cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
          buf = xrealloc (buf, cap + 1);
        }
      ssize_t n = read (fd, buf + len, cap - len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return isola_error_make (err, errno, "read");
        }
      if (n == 0)
        break;
      len += (size_t)n;
    }
  if (len > max)
    return isola_error_fail (err, EFBIG, "file larger than the limit of %zu bytes", max);
  buf[len] = '\0';
  if (out_len)
    *out_len = len;
  *out = take_ptr (&buf);
  return 0;
}

int
read_file_bounded (const char *path, size_t max, char **out, size_t *out_len, isola_error_t *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return isola_error_make (err, errno, "open `%s`", path);
  int ret = read_fd_bounded (fd, max, out, out_len, err);
  if (ret < 0)
    return isola_error_wrap (err, ret, "%s", path);
  return 0;
}

int
make_temp_dir (const char *parent, const char *prefix, char **out, isola_error_t *err)
{
  char *t = xasprintf ("%s/%s-XXXXXX", parent, prefix);
  if (mkdtemp (t) == NULL)
    {
      int e = errno;
      free (t);
      return isola_error_make (err, e, "create temporary directory in `%s`", parent);
    }
  *out = t;
  return 0;
}

bool
path_exists (const char *path)
{
  struct stat st;
  return lstat (path, &st) == 0;
}

char *
time_rfc3339_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r (&ts.tv_sec, &tm);
  char buf[64];
  strftime (buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return xasprintf ("%s.%09ldZ", buf, ts.tv_nsec);
}

int
time_parse_rfc3339 (const char *s, int64_t *secs_out)
{
  struct tm tm = { 0 };
  const char *p = strptime (s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (p == NULL)
    return -EINVAL;
  if (*p == '.')
    {
      p++;
      while (*p >= '0' && *p <= '9')
        p++;
    }
  int64_t offset = 0;
  if (*p == 'Z' || *p == 'z')
    p++;
  else if (*p == '+' || *p == '-')
    {
      int sign = *p == '-' ? -1 : 1;
      if (!isdigit ((unsigned char)p[1]) || !isdigit ((unsigned char)p[2]) || p[3] != ':'
          || !isdigit ((unsigned char)p[4]) || !isdigit ((unsigned char)p[5]))
        return -EINVAL;
      int hh = (p[1] - '0') * 10 + (p[2] - '0'), mm = (p[4] - '0') * 10 + (p[5] - '0');
      offset = sign * (hh * 3600 + mm * 60);
      p += 6;
    }
  else
    return -EINVAL;
  if (*p != '\0')
    return -EINVAL;
  *secs_out = (int64_t)timegm (&tm) - offset;
  return 0;
}

/* go-units' sizes: base 1000 or 1024 units, digits significant digits. */
static char *
size_with_units (double size, double base, const char *const *units, size_t n_units, int digits)
{
  size_t i = 0;
  while (size >= base && i + 1 < n_units)
    {
      size /= base;
      i++;
    }
  return xasprintf ("%.*g%s", digits, size, units[i]);
}

char *
human_size_digits (int64_t bytes, int digits)
{
  static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB" };
  return size_with_units ((double)bytes, 1000.0, units, ARRAY_SIZE (units), digits);
}

char *
human_size (int64_t bytes)
{
  return human_size_digits (bytes, 3);
}

char *
binary_size (uint64_t bytes)
{
  static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
  return size_with_units ((double)bytes, 1024.0, units, ARRAY_SIZE (units), 4);
}

char *
human_duration (int64_t seconds)
{
  if (seconds < 1)
    return xstrdup ("Less than a second");
  if (seconds == 1)
    return xstrdup ("1 second");
  if (seconds < 60)
    return xasprintf ("%d seconds", (int)seconds);
  int64_t minutes = seconds / 60;
  if (minutes == 1)
    return xstrdup ("About a minute");
  if (minutes < 60)
    return xasprintf ("%d minutes", (int)minutes);
  int64_t hours = (seconds + 1800) / 3600;
  if (hours == 1)
    return xstrdup ("About an hour");
  if (hours < 48)
    return xasprintf ("%d hours", (int)hours);
  if (hours < 24 * 7 * 2)
    return xasprintf ("%d days", (int)(hours / 24));
  if (hours < 24 * 30 * 2)
    return xasprintf ("%d weeks", (int)(hours / 24 / 7));
  if (hours < 24 * 365 * 2)
    return xasprintf ("%d months", (int)(hours / 24 / 30));
  return xasprintf ("%d years", (int)(seconds / 3600 / 24 / 365));
}

int
openat2_scoped (int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve)
{
  struct open_how how = {
    .flags = (uint64_t)(flags | O_CLOEXEC),
    .mode = (flags & O_CREAT) ? mode : 0,
    .resolve = resolve,
  };
  int fd, tries = 0;
  /* Each try is a path walk: a few hundred are microseconds, and outlast any burst of mounts. */
  do
    fd = (int)syscall (SYS_openat2, dirfd, path, &how, sizeof (how));
  while (fd < 0 && (errno == EINTR || (errno == EAGAIN && ++tries < 512)));
  return fd < 0 ? -errno : fd;
}

int
open_beneath (int dirfd, const char *path, int flags, mode_t mode)
{
  return openat2_scoped (dirfd, path, flags, mode, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
}

void
trace_mark (const char *what)
{
  static int checked, fd = -1;
  if (!checked)
    {
      const char *path = getenv ("ISOLA_TRACE");
      fd = path && *path ? open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
      checked = 1;
    }
  if (fd < 0)
    return;
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  char line[256];
  int n = snprintf (line, sizeof line, "%lld.%06ld %d %s\n", (long long)ts.tv_sec, ts.tv_nsec / 1000, (int)getpid (),
                    what);
  if (n > 0)
    (void)write_all (fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

int
fd_send_with (int sock, int fd, const void *data, size_t len)
{
  struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  memset (&u, 0, sizeof u);
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  struct cmsghdr *cmsg = CMSG_FIRSTHDR (&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cmsg), &fd, sizeof (int));
  ssize_t n;
  do
    n = sendmsg (sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  /* A few hundred bytes at most: the socket takes them whole or the peer is gone. */
  return n == (ssize_t)len ? 0 : -(n < 0 ? errno : EPROTO);
}

int
fd_send (int sock, int fd)
{
  return fd_send_with (sock, fd, "F", 1);
}

int
fd_receive (int sock, bool nonblock)
{
  char data;
  struct iovec iov = { .iov_base = &data, .iov_len = 1 };
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  ssize_t n;
  do
    n = recvmsg (sock, &msg, MSG_CMSG_CLOEXEC | (nonblock ? MSG_DONTWAIT : 0));
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -errno;
  struct cmsghdr *cmsg = n > 0 ? CMSG_FIRSTHDR (&msg) : NULL;
  if (cmsg == NULL || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS
      || cmsg->cmsg_len != CMSG_LEN (sizeof (int)))
    return -EPROTO;
  int fd;
  memcpy (&fd, CMSG_DATA (cmsg), sizeof fd);
  return fd;
}

pid_t
waitpid_retry (pid_t pid, int *status)
{
  pid_t r;
  do
    r = waitpid (pid, status, 0);
  while (r < 0 && errno == EINTR);
  return r;
}

int
exit_code_of_status (int status)
{
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return 255;
}

bool
pid_namespace_of (pid_t pid, char *buf, size_t len)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/ns/pid", (int)pid);
  ssize_t n = pid > 0 && len > 1 ? readlink (path, buf, len - 1) : -1;
  if (n <= 0)
    return false;
  buf[n] = '\0';
  return true;
}

bool
same_pid_namespace (pid_t pid, const char *ns)
{
  char link[128];
  return pid_namespace_of (pid, link, sizeof link) && strcmp (link, ns) == 0;
}

uint64_t
fnv1a64 (const char *p, size_t len)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
  return h;
}

long long
monotonic_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
path_is_mount_point (const char *path)
{
  char real[4096];
  if (realpath (path, real) == NULL)
    return false;
  cleanup_file FILE *f = fopen ("/proc/self/mountinfo", "re");
  if (f == NULL)
    return false;
  cleanup_free char *line = NULL;
  size_t cap = 0;
  while (getline (&line, &cap, f) > 0)
    {
      /* Field 5 is the mount point, with spaces and backslashes octal-escaped. */
      char *field = line;
      for (int i = 0; i < 4 && field; i++)
        field = strchr (field, ' ') ? strchr (field, ' ') + 1 : NULL;
      if (field == NULL)
        continue;
      size_t len = strcspn (field, " \n");
      if (len == strlen (real) && strncmp (field, real, len) == 0)
        return true;
    }
  return false;
}

/* Small helpers shared by the whole library: cleanup attributes, checked allocation, file-system primitives
   (atomic writes, recursive removal) and bounded file reads.  All fallible helpers follow error.h. */
#ifndef ISOLA_UTIL_H
#define ISOLA_UTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "base/error.h"

static inline void
cleanup_freep (void *p)
{
  free (*(void **)p);
}

static inline void
cleanup_closep (int *fd)
{
  if (*fd >= 0)
    (void)close (*fd);
}

static inline void
cleanup_dirp (DIR **d)
{
  if (*d)
    (void)closedir (*d);
}

static inline void
cleanup_filep (FILE **f)
{
  if (*f)
    (void)fclose (*f);
}

#define cleanup_free  __attribute__ ((cleanup (cleanup_freep)))
#define cleanup_close __attribute__ ((cleanup (cleanup_closep)))
#define cleanup_dir   __attribute__ ((cleanup (cleanup_dirp)))
#define cleanup_file  __attribute__ ((cleanup (cleanup_filep)))

/* Hands ownership of a cleanup-managed pointer or fd to the caller. */
static inline void *
take_ptr (void *pp)
{
  void **p = pp;
  void *v = *p;
  *p = NULL;
  return v;
}
static inline int
take_fd (int *fd)
{
  int v = *fd;
  *fd = -1;
  return v;
}

#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

void *xmalloc (size_t n);
void *xcalloc (size_t n, size_t size);
void *xrealloc (void *p, size_t n);
char *xstrdup (const char *s);
char *xasprintf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* NULL-terminated string vectors. */
void strv_free (char **v);
size_t strv_len (char *const *v);
void strv_push (char ***v, const char *s);
bool strv_contains (char *const *v, const char *s);
static inline void
cleanup_strvp (char ***v)
{
  strv_free (*v);
}
#define cleanup_strv __attribute__ ((cleanup (cleanup_strvp)))

bool str_has_prefix (const char *s, const char *prefix);
/* The value of a hex digit (either case), or -1. */
static inline int
hex_digit_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}
bool str_has_suffix (const char *s, const char *suffix);

/* mkdir -p; existing directories are fine. */
int mkdir_p (const char *path, mode_t mode, isola_error_t *err);

/* rm -rf that never follows symlinks and does not cross into other mounts' contents by path games. */
int rm_rf (const char *path, isola_error_t *err);
int rm_rf_at (int dirfd, const char *name, isola_error_t *err);

/* Writes data to DIR/.tmp-NAME-XXXX, fsyncs it and renames it over PATH: readers see the old or the new file,
   never a partial one. */
int write_file_atomic (const char *path, const void *data, size_t len, mode_t mode, isola_error_t *err);

/* The same without fsync: still all-or-nothing for readers and after a crash of the process, for state that is
   rewritten often and whose loss on power failure is harmless (a container's state and config). */
int write_file_replace (const char *path, const void *data, size_t len, mode_t mode, isola_error_t *err);

/* Reads a whole file that must not exceed max bytes (untrusted input is bounded).  The buffer is NUL-terminated. */
int read_file_bounded (const char *path, size_t max, char **out, size_t *out_len, isola_error_t *err);
int read_fd_bounded (int fd, size_t max, char **out, size_t *out_len, isola_error_t *err);

/* Writes all bytes, retrying on short writes and EINTR. */
int write_all (int fd, const void *buf, size_t len);
/* write_all for a stream socket whose peer may be gone: -EPIPE instead of SIGPIPE, which would kill the CLI. */
int send_all (int sock, const void *buf, size_t len);

/* Passing one fd over a unix socket (SCM_RIGHTS): a container's terminal master travels this way.  fd_receive
   returns the fd (close-on-exec) or a negative errno; nonblock fails with -EAGAIN instead of waiting. */
int fd_send (int sock, int fd);
/* The same fd sent along with data (e.g. a QMP command line), which the peer reads as ordinary bytes. */
int fd_send_with (int sock, int fd, const void *data, size_t len);
int fd_receive (int sock, bool nonblock);

/* waitpid(pid, status, 0), retried on EINTR. */
pid_t waitpid_retry (pid_t pid, int *status);

/* Docker's exit code for a wait status: the process's code, or 128+N when signal N killed it (255 otherwise). */
int exit_code_of_status (int status);

/* fsync a directory so a rename inside it is durable. */
int fsync_dir (const char *path);

/* A fresh, unique directory under parent (mkdtemp). */
int make_temp_dir (const char *parent, const char *prefix, char **out, isola_error_t *err);

bool path_exists (const char *path);

/* DIR/name where DIR holds our own executable (isola's binaries find each other and build/vm/ this way); NULL when
   /proc/self/exe cannot be read. */

/* The PID namespace of process pid as /proc/PID/ns/pid reads ("pid:[4026531836]"); false when it is gone. */
bool pid_namespace_of (pid_t pid, char *buf, size_t len);
/* Whether process pid is in the PID namespace ns (what /proc/PID/ns/pid reads, "pid:[4026531836]"). */
bool same_pid_namespace (pid_t pid, const char *ns);

/* openat2(2) with the given RESOLVE_* flags; returns the fd or a negative errno.  Retried when interrupted, and on
   EAGAIN: a scoped walk (RESOLVE_BENEATH, RESOLVE_IN_ROOT) that meets ".." fails so when any mount or rename
   happened on the system meanwhile, which other containers and copies make all the time. */
int openat2_scoped (int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve);

/* openat2(RESOLVE_BENEATH): opens path relative to dirfd, refusing anything ("..", absolute symlinks, symlinks
   pointing out) that would resolve outside dirfd.  Returns the fd or a negative errno. */
int open_beneath (int dirfd, const char *path, int flags, mode_t mode);

/* With $ISOLA_TRACE set to a file, appends "SECONDS.MICROS PID what" to it: a timeline of container start-up
   across the CLI, the monitor and the container's setup, for bench/ and for debugging.  Costs nothing unset. */
void trace_mark (const char *what);

/* Current time as RFC 3339 with nanoseconds in UTC, as Docker prints it. */
char *time_rfc3339_now (void);
/* Parses RFC 3339 (the subset images use); returns 0 on success. */
int time_parse_rfc3339 (const char *s, int64_t *secs_out);

/* Docker's human renderings: "4.26MB" (decimal units, 3 significant digits: images), the same with other
   precisions (go-units' HumanSize, 4: system df, prune totals), "3.827GiB" (binary units, 4 digits: go-units'
   BytesSize, stats and info) and "2 weeks" (no "ago"). */
char *human_size (int64_t bytes);
char *human_size_digits (int64_t bytes, int digits);
char *binary_size (uint64_t bytes);
char *human_duration (int64_t seconds);

/* CLOCK_MONOTONIC in milliseconds: deadlines. */
long long monotonic_ms (void);

/* FNV-1a, 64 bits: names cache files after their keys (which the files hold whole, to compare). */
uint64_t fnv1a64 (const char *p, size_t len);

/* True when path is a mount point (it is listed in /proc/self/mountinfo). */
bool path_is_mount_point (const char *path);

#endif

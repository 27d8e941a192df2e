/* Compiled seccomp programs, their cache, and loading them (see seccomp_program.h for why the cache exists).

   A cache file is named by a hash of its key and holds the whole key, which is compared byte for byte before the
   program is used: a hash collision or a stale file costs a compilation, never a wrong filter.  The key names the
   seccomp code isola was built from by a hash of its sources (ISOLA_SECCOMP_CODE, from the Makefile), since the
   default profile's tables are compiled in: the CLI, which compiles the program at create time, and the monitor,
   which loads it at start, are different binaries with the same code. */
#define _GNU_SOURCE
#include "sandbox/seccomp_program.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
/* Only for the version macros: nothing here calls libseccomp. */
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/util.h"

#define CACHE_MAGIC       "ISOLABPF"
#define CACHE_HEADER      24 /* magic, key length, flags, instructions (u32 each, native order) */
#define CACHE_KEY_MAX     (SECCOMP_PROFILE_MAX + 4096)
#define CACHE_FILE_MAX    (CACHE_HEADER + CACHE_KEY_MAX + SECCOMP_PROGRAM_MAX * sizeof (struct sock_filter))
#define CACHE_ENTRIES_MAX 64

struct seccomp_program *
seccomp_program_new (unsigned flags, const void *insns, size_t len)
{
  struct seccomp_program *p = xcalloc (1, sizeof *p);
  p->flags = flags;
  p->len = len;
  p->insns = xmalloc (len * sizeof (struct sock_filter));
  memcpy (p->insns, insns, len * sizeof (struct sock_filter));
  return p;
}

void
seccomp_program_free (struct seccomp_program *p)
{
  if (p)
    free (p->insns);
  free (p);
}

int
seccomp_program_install (const struct seccomp_program *p, isola_error_t *err)
{
  if (p == NULL)
    return 0;
  struct sock_fprog prog = { .len = (unsigned short)p->len, .filter = p->insns };
  if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags, &prog) < 0)
    return isola_error_make (err, errno, "load the seccomp filter");
  return 0;
}

/* --- the cache's key ---------------------------------------------------------------------------------------------- */

/* Everything the program depends on; false when the build did not say which seccomp code it has (no cache). */
static bool
cache_key (const struct seccomp_source *src, uint64_t caps, char **key, size_t *key_len)
{
#ifdef ISOLA_SECCOMP_CODE
  const char *code = ISOLA_SECCOMP_CODE;
#else
  const char *code = NULL;
#endif
  struct utsname u;
  if (code == NULL || uname (&u) < 0)
    return false;
  cleanup_free char *head
      = xasprintf ("isola seccomp cache 1\ncode %s\nlibseccomp %s\nkernel %s\ncaps %016llx\nsource %s\n", code,
                   seccomp_library_version (), u.release, (unsigned long long)caps,
                   src->kind == SECCOMP_SOURCE_BUILTIN ? "builtin" : "json");
  size_t head_len = strlen (head);
  size_t body_len = src->kind == SECCOMP_SOURCE_JSON ? src->len : 0;
  if (head_len + body_len > CACHE_KEY_MAX)
    return false;
  *key = xmalloc (head_len + body_len + 1);
  memcpy (*key, head, head_len);
  if (body_len)
    memcpy (*key + head_len, src->json, body_len);
  *key_len = head_len + body_len;
  return true;
}

/* --- cache files ------------------------------------------------------------------------------------------------- */

static struct seccomp_program *
cache_read (const char *path, const char *key, size_t key_len)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (read_file_bounded (path, CACHE_FILE_MAX, &buf, &len, NULL) < 0 || len < CACHE_HEADER
      || memcmp (buf, CACHE_MAGIC, 8) != 0)
    return NULL;
  uint32_t stored_key_len, flags, n;
  memcpy (&stored_key_len, buf + 8, 4);
  memcpy (&flags, buf + 12, 4);
  memcpy (&n, buf + 16, 4);
  if (stored_key_len != key_len || n == 0 || n > SECCOMP_PROGRAM_MAX
      || len != CACHE_HEADER + key_len + (size_t)n * sizeof (struct sock_filter)
      || memcmp (buf + CACHE_HEADER, key, key_len) != 0)
    return NULL;
  return seccomp_program_new (flags, buf + CACHE_HEADER + key_len, n);
}

/* A cache that outgrows its bound (many custom profiles) is emptied: it refills with what is used. */
static void
cache_trim (const char *dir)
{
  cleanup_dir DIR *d = opendir (dir);
  if (d == NULL)
    return;
  size_t n = 0;
  for (struct dirent *e; (e = readdir (d)) != NULL;)
    n += e->d_name[0] != '.';
  if (n < CACHE_ENTRIES_MAX)
    return;
  rewinddir (d);
  for (struct dirent *e; (e = readdir (d)) != NULL;)
    if (e->d_name[0] != '.')
      (void)unlinkat (dirfd (d), e->d_name, 0);
}

static void
cache_write (const char *dir, const char *path, const char *key, size_t key_len, const struct seccomp_program *p)
{
  if (mkdir_p (dir, 0700, NULL) < 0)
    return;
  cache_trim (dir);
  size_t insns = p->len * sizeof (struct sock_filter);
  cleanup_free char *buf = xcalloc (1, CACHE_HEADER + key_len + insns);
  uint32_t fields[3] = { (uint32_t)key_len, p->flags, (uint32_t)p->len };
  memcpy (buf, CACHE_MAGIC, 8);
  memcpy (buf + 8, fields, sizeof fields);
  memcpy (buf + CACHE_HEADER, key, key_len);
  memcpy (buf + CACHE_HEADER + key_len, p->insns, insns);
  (void)write_file_atomic (path, buf, CACHE_HEADER + key_len + insns, 0600, NULL);
}

struct seccomp_program *
seccomp_cache_find (const struct seccomp_source *src, uint64_t caps, const char *cache_dir,
                    struct seccomp_cache_slot *slot)
{
  *slot = (struct seccomp_cache_slot){ 0 };
  if (cache_dir == NULL || !cache_key (src, caps, &slot->key, &slot->key_len))
    return NULL;
  slot->path = xasprintf ("%s/%016llx.bpf", cache_dir, (unsigned long long)fnv1a64 (slot->key, slot->key_len));
  return cache_read (slot->path, slot->key, slot->key_len);
}

void
seccomp_cache_store (const struct seccomp_cache_slot *slot, const char *cache_dir, const struct seccomp_program *p)
{
  if (slot->path && p)
    cache_write (cache_dir, slot->path, slot->key, slot->key_len, p);
}

void
seccomp_cache_slot_clear (struct seccomp_cache_slot *slot)
{
  free (slot->key);
  free (slot->path);
  *slot = (struct seccomp_cache_slot){ 0 };
}

int
seccomp_program_lookup (json_t *host_config, uint64_t caps, const char *cache_dir, struct seccomp_program **out,
                        isola_error_t *err)
{
  *out = NULL;
  struct seccomp_source src;
  int ret = seccomp_source_for_host_config (host_config, &src, err);
  if (ret == 0 && src.kind != SECCOMP_SOURCE_NONE)
    {
      struct seccomp_cache_slot slot;
      *out = seccomp_cache_find (&src, caps, cache_dir, &slot);
      seccomp_cache_slot_clear (&slot);
      if (*out == NULL)
        ret = isola_error_fail (err, ENOENT, "the container's seccomp filter is not in `%s`: start it again",
                                cache_dir ? cache_dir : "(no cache)");
    }
  seccomp_source_clear (&src);
  return ret;
}

/* --- HostConfig ------------------------------------------------------------------------------------------------ */

/* The value of the last "seccomp=..." (or "seccomp:...") option, as Docker lets a later option win; NULL when
   there is none. */
static const char *
seccomp_option (json_t *host_config)
{
  const char *value = NULL;
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (host_config, "SecurityOpt"), i, v)
  {
    const char *s = json_string_value (v);
    if (s && (str_has_prefix (s, "seccomp=") || str_has_prefix (s, "seccomp:")))
      value = s + strlen ("seccomp=");
  }
  return value;
}

void
seccomp_source_clear (struct seccomp_source *src)
{
  free (src->json);
  free (src->path);
  *src = (struct seccomp_source){ 0 };
}

int
seccomp_source_for_host_config (json_t *host_config, struct seccomp_source *out, isola_error_t *err)
{
  const char *opt = seccomp_option (host_config);
  bool privileged = json_is_true (json_object_get (host_config, "Privileged"));
  *out = (struct seccomp_source){ .kind = SECCOMP_SOURCE_BUILTIN };
  if ((opt == NULL && privileged) || (opt && strcmp (opt, "unconfined") == 0))
    out->kind = SECCOMP_SOURCE_NONE;
  else if (opt == NULL || strcmp (opt, "builtin") == 0)
    out->kind = SECCOMP_SOURCE_BUILTIN;
  else if (opt[strspn (opt, " \t\r\n")] == '{')
    {
      out->kind = SECCOMP_SOURCE_JSON;
      out->len = strlen (opt);
      out->json = xstrdup (opt);
    }
  else if (opt[0] == '/')
    {
      out->kind = SECCOMP_SOURCE_JSON;
      out->path = xstrdup (opt);
      int ret = read_file_bounded (opt, SECCOMP_PROFILE_MAX, &out->json, &out->len, err);
      if (ret < 0)
        {
          seccomp_source_clear (out);
          return isola_error_wrap (err, ret, "seccomp profile `%s`", opt);
        }
    }
  else
    return isola_error_fail (err, EINVAL,
                             "invalid --security-opt seccomp=\"%s\": expected unconfined, builtin, a JSON profile or "
                             "the absolute path of one",
                             opt);
  return 0;
}

/* The version isola was built against, not seccomp_version(): calling into libseccomp from the cache lookup would
   link all of it into binaries that only look programs up (the monitor).  Debian ships the headers and the library
   in one version. */
#define STR_(x) #x
#define STR(x)  STR_ (x)

const char *
seccomp_library_version (void)
{
  return STR (SCMP_VER_MAJOR) "." STR (SCMP_VER_MINOR) "." STR (SCMP_VER_MICRO);
}

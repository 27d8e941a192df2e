/* .dockerignore and the build context, with Docker 20.10's rules (see context.h).  Docker compiles each pattern to
   a Go regular expression; the same language is matched here directly, with a memo so that no pattern takes more
   than pattern length × path length steps. */
#define _GNU_SOURCE
#include "build/context.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/digest.h"
#include "base/util.h"

static bool
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

char *
path_clean (const char *path)
{
  size_t n = strlen (path);
  if (n == 0)
    return xstrdup (".");
  bool rooted = path[0] == '/';
  char *out = xmalloc (n + 2);
  size_t w = 0, dotdot = 0; /* dotdot: where ".." may no longer be removed */
  size_t r = 0;
  if (rooted)
    {
      out[w++] = '/';
      r = 1;
      dotdot = 1;
    }
  while (r < n)
    {
      if (path[r] == '/')
        r++;
      else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/'))
        r++;
      else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == n || path[r + 2] == '/'))
        {
          r += 2;
          if (w > dotdot)
            {
              w--;
              while (w > dotdot && out[w] != '/')
                w--;
            }
          else if (!rooted)
            {
              if (w > 0)
                out[w++] = '/';
              out[w++] = '.';
              out[w++] = '.';
              dotdot = w;
            }
        }
      else
        {
          if ((rooted && w != 1) || (!rooted && w != 0))
            out[w++] = '/';
          for (; r < n && path[r] != '/'; r++)
            out[w++] = path[r];
        }
    }
  if (w == 0)
    out[w++] = '.';
  out[w] = '\0';
  return out;
}

/* ---- .dockerignore ---------------------------------------------------------------------------------------------- */

char **
dockerignore_read (const char *buf, size_t len)
{
  char **out = xcalloc (1, sizeof (char *));
  const char *p = buf, *end = buf + len;
  bool first = true;
  while (p < end)
    {
      const char *nl = memchr (p, '\n', (size_t)(end - p));
      const char *stop = nl ? nl : end;
      cleanup_free char *line = strndup (p, (size_t)(stop - p));
      p = nl ? nl + 1 : end;
      size_t ln = strlen (line);
      if (ln > 0 && line[ln - 1] == '\r')
        line[--ln] = '\0';
      char *s = line;
      if (first && ln >= 3 && memcmp (s, "\xEF\xBB\xBF", 3) == 0)
        s += 3;
      first = false;
      if (*s == '#')
        continue;
      while (is_space (*s))
        s++;
      size_t sl = strlen (s);
      while (sl > 0 && is_space (s[sl - 1]))
        s[--sl] = '\0';
      if (*s == '\0')
        continue;
      bool invert = *s == '!';
      if (invert)
        {
          s++;
          while (is_space (*s))
            s++;
        }
      cleanup_free char *pattern = NULL;
      if (*s)
        {
          pattern = path_clean (s);
          if (strlen (pattern) > 1 && pattern[0] == '/')
            memmove (pattern, pattern + 1, strlen (pattern));
        }
      cleanup_free char *entry = xasprintf ("%s%s", invert ? "!" : "", pattern ? pattern : "");
      strv_push (&out, entry);
    }
  return out;
}

/* A class "[...]" as Go's regexp reads it (Docker hands it over unchanged): "^" negates, "a-z" ranges, "\" escapes.
   Sets *len to the class's length in the pattern; false when it does not close. */
static bool
class_parse (const char *p, size_t *len)
{
  size_t i = 1;
  if (p[i] == '^')
    i++;
  bool first = true;
  for (; p[i]; i++)
    {
      if (p[i] == ']' && !first)
        {
          *len = i + 1;
          return true;
        }
      if (p[i] == '\\' && p[i + 1])
        i++;
      first = false;
    }
  return false;
}

static bool
class_matches (const char *p, size_t len, char c)
{
  size_t i = 1, end = len - 1;
  bool negate = false, hit = false;
  if (p[i] == '^')
    {
      negate = true;
      i++;
    }
  while (i < end)
    {
      char lo = p[i];
      if (lo == '\\' && i + 1 < end)
        lo = p[++i];
      char hi = lo;
      if (i + 2 < end && p[i + 1] == '-')
        {
          hi = p[i + 2];
          if (hi == '\\' && i + 3 < end)
            {
              hi = p[i + 3];
              i++;
            }
          i += 2;
        }
      if ((unsigned char)c >= (unsigned char)lo && (unsigned char)c <= (unsigned char)hi)
        hit = true;
      i++;
    }
  return hit != negate;
}

struct glob
{
  const char *pat, *str;
  size_t plen, slen;
  unsigned char *memo; /* (plen+1)*(slen+1): 0 unknown, 1 no, 2 yes */
};

static bool
glob_at (struct glob *g, size_t pi, size_t si)
{
  unsigned char *m = &g->memo[pi * (g->slen + 1) + si];
  if (*m)
    return *m == 2;
  bool r = false;
  const char *p = g->pat + pi, *s = g->str + si;
  if (pi == g->plen)
    r = si == g->slen;
  else if (p[0] == '*' && p[1] == '*')
    {
      size_t next = pi + 2;
      if (g->pat[next] == '/')
        next++;
      if (next == g->plen)
        r = true;
      else
        {
          r = glob_at (g, next, si);
          for (size_t k = si; !r && k < g->slen; k++)
            if (g->str[k] == '/')
              r = glob_at (g, next, k + 1);
        }
    }
  else if (p[0] == '*')
    {
      for (size_t k = si;; k++)
        {
          if (glob_at (g, pi + 1, k))
            {
              r = true;
              break;
            }
          if (k == g->slen || g->str[k] == '/')
            break;
        }
    }
  else if (si < g->slen)
    {
      size_t len;
      if (p[0] == '?')
        r = *s != '/' && glob_at (g, pi + 1, si + 1);
      else if (p[0] == '[' && class_parse (p, &len))
        r = class_matches (p, len, *s) && glob_at (g, pi + len, si + 1);
      else if (p[0] == '\\' && p[1])
        r = p[1] == *s && glob_at (g, pi + 2, si + 1);
      else
        r = p[0] == *s && glob_at (g, pi + 1, si + 1);
    }
  *m = r ? 2 : 1;
  return r;
}

bool
dockerignore_glob (const char *pattern, const char *path)
{
  struct glob g = { .pat = pattern, .str = path, .plen = strlen (pattern), .slen = strlen (path) };
  g.memo = xcalloc ((g.plen + 1) * (g.slen + 1), 1);
  bool r = glob_at (&g, 0, 0);
  free (g.memo);
  return r;
}

/* filepath.Match's syntax check, which NewPatternMatcher runs on every pattern: classes must close, a "\" must
   escape something, a range needs both ends. */
static bool
pattern_valid (const char *p)
{
  for (size_t i = 0; p[i]; i++)
    {
      if (p[i] == '\\')
        {
          if (p[i + 1] == '\0')
            return false;
          i++;
        }
      else if (p[i] == '[')
        {
          size_t len;
          if (!class_parse (p + i, &len))
            return false;
          i += len - 1;
        }
    }
  return true;
}

void
dockerignore_clear (struct dockerignore *ig)
{
  if (ig == NULL)
    return;
  for (size_t i = 0; i < ig->n; i++)
    free (ig->p[i].text);
  free (ig->p);
  memset (ig, 0, sizeof *ig);
}

int
dockerignore_compile (char *const *patterns, struct dockerignore *out, isola_error_t *err)
{
  memset (out, 0, sizeof *out);
  size_t n = strv_len (patterns);
  out->p = xcalloc (n + 1, sizeof *out->p);
  for (size_t i = 0; i < n; i++)
    {
      const char *s = patterns[i];
      while (is_space (*s))
        s++;
      cleanup_free char *trimmed = xstrdup (s);
      size_t tl = strlen (trimmed);
      while (tl > 0 && is_space (trimmed[tl - 1]))
        trimmed[--tl] = '\0';
      if (tl == 0)
        continue;
      cleanup_free char *clean = path_clean (trimmed);
      struct ignore_pattern *ip = &out->p[out->n];
      const char *text = clean;
      if (text[0] == '!')
        {
          if (text[1] == '\0')
            {
              dockerignore_clear (out);
              return isola_error_fail (err, EINVAL, "illegal exclusion pattern: \"!\"");
            }
          ip->exclusion = true;
          out->exclusions = true;
          text++;
        }
      if (!pattern_valid (text))
        {
          dockerignore_clear (out);
          return isola_error_fail (err, EINVAL, "syntax error in pattern");
        }
      ip->text = xstrdup (text);
      ip->n_dirs = 1;
      for (const char *c = text; *c; c++)
        ip->n_dirs += *c == '/';
      out->n++;
    }
  return 0;
}

bool
dockerignore_matches (const struct dockerignore *ig, const char *path)
{
  bool matched = false;
  const char *slash = strrchr (path, '/');
  /* filepath.Dir(file) split on "/": the parent's parts, none when the parent is "." */
  size_t parent_dirs = 0;
  if (slash)
    {
      parent_dirs = 1;
      for (const char *c = path; c < slash; c++)
        parent_dirs += *c == '/';
    }
  for (size_t i = 0; ig && i < ig->n; i++)
    {
      const struct ignore_pattern *p = &ig->p[i];
      bool match = dockerignore_glob (p->text, path);
      if (!match && slash && p->n_dirs <= parent_dirs)
        {
          /* The parent cut to the pattern's depth. */
          const char *c = path;
          for (size_t d = 0; d < p->n_dirs; d++)
            {
              c = strchr (c, '/');
              if (d + 1 < p->n_dirs)
                c++;
            }
          cleanup_free char *prefix = strndup (path, (size_t)(c - path));
          match = dockerignore_glob (p->text, prefix);
        }
      if (match)
        matched = !p->exclusion;
    }
  return matched;
}

int
dockerignore_excludes (const char *file, char *const *patterns, bool *out, isola_error_t *err)
{
  struct dockerignore ig;
  int ret = dockerignore_compile (patterns, &ig, err);
  if (ret < 0)
    return ret;
  cleanup_free char *clean = path_clean (file);
  *out = strcmp (clean, ".") != 0 && dockerignore_matches (&ig, clean);
  dockerignore_clear (&ig);
  return 0;
}

int
dockerignore_keep_build_files (char ***patterns, const char *dockerfile, isola_error_t *err)
{
  bool excluded;
  int ret = dockerignore_excludes (".dockerignore", *patterns, &excluded, err);
  if (ret < 0)
    return ret;
  if (excluded)
    strv_push (patterns, "!.dockerignore");
  if (dockerfile == NULL)
    return 0;
  if ((ret = dockerignore_excludes (dockerfile, *patterns, &excluded, err)) < 0)
    return ret;
  if (excluded)
    {
      cleanup_free char *keep = xasprintf ("!%s", dockerfile);
      strv_push (patterns, keep);
    }
  return 0;
}

/* ---- the walk ---------------------------------------------------------------------------------------------------- */

void
context_list_clear (struct context_list *l)
{
  if (l == NULL)
    return;
  for (size_t i = 0; i < l->n; i++)
    free (l->e[i].path);
  free (l->e);
  memset (l, 0, sizeof *l);
}

struct walk
{
  const struct dockerignore *ig;
  struct context_list *out;
  size_t cap;
};

static void
walk_add (struct walk *w, const char *path, const struct stat *st)
{
  if (w->out->n == w->cap)
    {
      w->cap = w->cap ? w->cap * 2 : 64;
      w->out->e = xrealloc (w->out->e, w->cap * sizeof *w->out->e);
    }
  w->out->e[w->out->n++] = (struct context_entry){ .path = xstrdup (path), .st = *st };
}

/* An excluded directory is still walked when an exception pattern begins with it ("!dir/keep" under "dir"). */
static bool
exception_reaches_into (const struct dockerignore *ig, const char *dir)
{
  cleanup_free char *dir_slash = xasprintf ("%s/", dir);
  for (size_t i = 0; i < ig->n; i++)
    {
      if (!ig->p[i].exclusion)
        continue;
      cleanup_free char *pat_slash = xasprintf ("%s/", ig->p[i].text);
      if (str_has_prefix (pat_slash, dir_slash))
        return true;
    }
  return false;
}

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

static int
walk_dir (struct walk *w, int dirfd, const char *rel, isola_error_t *err)
{
  int fd = dup (dirfd);
  if (fd < 0)
    return isola_error_make (err, errno, "dup");
  cleanup_dir DIR *d = fdopendir (fd);
  if (d == NULL)
    {
      close (fd);
      return isola_error_make (err, errno, "read %s", *rel ? rel : ".");
    }
  cleanup_strv char **names = xcalloc (1, sizeof (char *));
  struct dirent *de;
  while ((errno = 0, de = readdir (d)) != NULL)
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      strv_push (&names, de->d_name);
  if (errno)
    return isola_error_make (err, errno, "read %s", *rel ? rel : ".");
  qsort (names, strv_len (names), sizeof (char *), cmp_names);
  for (size_t i = 0; names[i]; i++)
    {
      cleanup_free char *path = *rel ? xasprintf ("%s/%s", rel, names[i]) : xstrdup (names[i]);
      struct stat st;
      if (fstatat (dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
        return isola_error_make (err, errno, "stat %s", path);
      bool dir = S_ISDIR (st.st_mode);
      if (w->ig && dockerignore_matches (w->ig, path))
        {
          if (!dir || !w->ig->exclusions || !exception_reaches_into (w->ig, path))
            continue;
        }
      else
        walk_add (w, path, &st);
      if (dir)
        {
          cleanup_close int sub = openat (dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (sub < 0)
            return isola_error_make (err, errno, "open %s", path);
          int ret = walk_dir (w, sub, path, err);
          if (ret < 0)
            return ret;
        }
    }
  return 0;
}

int
context_walk (const char *root, const struct dockerignore *ig, struct context_list *out, isola_error_t *err)
{
  memset (out, 0, sizeof *out);
  cleanup_close int fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open the build context %s", root);
  struct walk w = { .ig = ig, .out = out };
  int ret = walk_dir (&w, fd, "", err);
  if (ret < 0)
    context_list_clear (out);
  return ret;
}

/* ---- sources resolved in the context ------------------------------------------------------------------------------
 */

#define MAX_LINKS 255

int
context_resolve (const char *root, const char *path, char **out, isola_error_t *err)
{
  const char *p = path;
  if (p[0] == '/' && p[1])
    p++;
  if (p[0] == '.' && p[1] == '/')
    p += 2;
  cleanup_free char *clean = path_clean (p);
  if (strcmp (clean, "..") == 0 || str_has_prefix (clean, "../"))
    return isola_error_fail (err, EPERM, "forbidden path outside the build context: %s ()", path);

  /* FollowSymlinkInScope: resolved holds the path so far, relative to root; todo what is left to walk. */
  cleanup_free char *resolved = xstrdup ("");
  cleanup_free char *todo = strcmp (clean, ".") == 0 ? xstrdup ("") : xstrdup (clean);
  int links = 0;
  while (*todo)
    {
      char *slash = strchr (todo, '/');
      cleanup_free char *part = slash ? strndup (todo, (size_t)(slash - todo)) : xstrdup (todo);
      char *rest = xstrdup (slash ? slash + 1 : "");
      free (todo);
      todo = rest;
      if (*part == '\0' || strcmp (part, ".") == 0)
        continue;
      if (strcmp (part, "..") == 0)
        {
          char *up = strrchr (resolved, '/');
          if (up)
            *up = '\0';
          else
            resolved[0] = '\0';
          continue;
        }
      cleanup_free char *candidate = *resolved ? xasprintf ("%s/%s", resolved, part) : xstrdup (part);
      cleanup_free char *full = xasprintf ("%s/%s", root, candidate);
      struct stat st;
      if (lstat (full, &st) < 0 || !S_ISLNK (st.st_mode))
        {
          free (resolved);
          resolved = take_ptr (&candidate);
          continue;
        }
      if (++links > MAX_LINKS)
        return isola_error_fail (err, ELOOP, "%s: too many links", path);
      char target[PATH_MAX];
      ssize_t n = readlink (full, target, sizeof target - 1);
      if (n < 0)
        return isola_error_make (err, errno, "readlink %s", candidate);
      target[n] = '\0';
      /* An absolute target starts again from the root; a relative one from the link's directory. */
      if (target[0] == '/')
        resolved[0] = '\0';
      char *joined = *todo ? xasprintf ("%s/%s", target, todo) : xstrdup (target);
      free (todo);
      todo = joined;
    }
  *out = *resolved ? take_ptr (&resolved) : xstrdup (".");
  return 0;
}

int
context_resolve_named (const char *root, const char *path, char **out, isola_error_t *err)
{
  cleanup_free char *resolved = NULL;
  int ret = context_resolve (root, path, &resolved, err);
  if (ret < 0)
    return ret;
  cleanup_free char *clean = path_clean (path);
  const char *slash = strrchr (clean, '/');
  const char *base = slash ? slash + 1 : clean;
  /* "x/..", "." and "/" name nothing of their own */
  if (*base == '\0' || strcmp (base, ".") == 0 || strcmp (base, "..") == 0)
    {
      *out = take_ptr (&resolved);
      return 0;
    }
  cleanup_free char *dir = slash && slash != clean ? strndup (clean, (size_t)(slash - clean)) : xstrdup (".");
  cleanup_free char *dir_resolved = NULL;
  if ((ret = context_resolve (root, dir, &dir_resolved, err)) < 0)
    return ret;
  cleanup_free char *named = strcmp (dir_resolved, ".") == 0 ? xstrdup (base) : xasprintf ("%s/%s", dir_resolved, base);
  cleanup_free char *full = xasprintf ("%s/%s", root, named);
  struct stat st;
  if (lstat (full, &st) == 0 && S_ISLNK (st.st_mode))
    *out = take_ptr (&named);
  else
    *out = take_ptr (&resolved);
  return 0;
}

/* A source as context_resolve_named gives it, with a last link followed (in the root): where its content is. */
static int
follow_last_link (const char *root, const char *rel, char **out, isola_error_t *err)
{
  cleanup_free char *full = xasprintf ("%s/%s", root, rel);
  struct stat st;
  if (lstat (full, &st) == 0 && S_ISLNK (st.st_mode))
    return context_resolve (root, rel, out, err);
  *out = xstrdup (rel);
  return 0;
}

/* ---- content hashes ------------------------------------------------------------------------------------------------
 */

/* One entry's hash: its header (as a tar header would carry it) then its content. */
static int
entry_hash (int rootfd, const char *rel, const struct stat *st, digest_hex_t out, isola_error_t *err)
{
  cleanup_digester digester_t *d = digester_new ();
  char head[256];
  int n = snprintf (head, sizeof head, "%o\n%u\n%u\n%lld\n", (unsigned)st->st_mode, (unsigned)st->st_uid,
                    (unsigned)st->st_gid, S_ISREG (st->st_mode) ? (long long)st->st_size : 0LL);
  digester_update (d, rel, strlen (rel) + 1);
  digester_update (d, head, (size_t)n);
  if (S_ISLNK (st->st_mode))
    {
      char target[PATH_MAX];
      ssize_t len = readlinkat (rootfd, rel, target, sizeof target);
      if (len < 0)
        return isola_error_make (err, errno, "readlink %s", rel);
      digester_update (d, target, (size_t)len);
    }
  else if (S_ISREG (st->st_mode))
    {
      cleanup_close int fd = openat (rootfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0)
        return isola_error_make (err, errno, "open %s", rel);
      char buf[65536];
      ssize_t got;
      while ((got = read (fd, buf, sizeof buf)) > 0)
        digester_update (d, buf, (size_t)got);
      if (got < 0)
        return isola_error_make (err, errno, "read %s", rel);
    }
  digester_final (d, out);
  return 0;
}

static int
collect_hashes (int rootfd, const char *rel, char ***hashes, isola_error_t *err)
{
  struct stat st;
  if (fstatat (rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return isola_error_make (err, errno, "stat %s", rel);
  digest_hex_t hex;
  int ret = entry_hash (rootfd, rel, &st, hex, err);
  if (ret < 0)
    return ret;
  strv_push (hashes, hex);
  if (!S_ISDIR (st.st_mode))
    return 0;
  cleanup_close int fd = openat (rootfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open %s", rel);
  cleanup_dir DIR *dir = fdopendir (fd);
  if (dir == NULL)
    return isola_error_make (err, errno, "read %s", rel);
  fd = -1;
  struct dirent *de;
  while ((de = readdir (dir)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      cleanup_free char *child = strcmp (rel, ".") == 0 ? xstrdup (de->d_name) : xasprintf ("%s/%s", rel, de->d_name);
      if ((ret = collect_hashes (rootfd, child, hashes, err)) < 0)
        return ret;
    }
  return 0;
}

/* A source named by a link is copied under the link's name: that name is in its hash too, so that no copy cached
   before links kept their names (isola then copied the target under its own name) is taken for one. */
static int
link_named (const char *named, const char *rel, char **hash)
{
  if (strcmp (named, rel) == 0)
    return 0;
  cleanup_digester digester_t *d = digester_new ();
  digester_update (d, named, strlen (named) + 1);
  digester_update (d, *hash, strlen (*hash));
  digest_hex_t hex;
  digester_final (d, hex);
  const char *kind = str_has_prefix (*hash, "dir:") ? "dir" : "file";
  free (*hash);
  *hash = xasprintf ("%s:%s", kind, hex);
  return 0;
}

int
context_source_hash (const char *root, const char *named, char **out, isola_error_t *err)
{
  cleanup_free char *rel = NULL;
  int followed = follow_last_link (root, named, &rel, err);
  if (followed < 0)
    return followed;
  cleanup_close int rootfd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return isola_error_make (err, errno, "open the build context %s", root);
  struct stat st;
  if (fstatat (rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT)
        return isola_error_fail (err, ENOENT,
                                 "file not found in build context or excluded by .dockerignore: stat %s: file does not "
                                 "exist",
                                 rel);
      return isola_error_make (err, errno, "stat %s", rel);
    }
  if (!S_ISDIR (st.st_mode))
    {
      digest_hex_t hex;
      int ret = entry_hash (rootfd, rel, &st, hex, err);
      if (ret < 0)
        return ret;
      *out = xasprintf ("file:%s", hex);
      return link_named (named, rel, out);
    }
  cleanup_strv char **hashes = xcalloc (1, sizeof (char *));
  int ret = collect_hashes (rootfd, rel, &hashes, err);
  if (ret < 0)
    return ret;
  size_t n = strv_len (hashes);
  qsort (hashes, n, sizeof (char *), cmp_names);
  cleanup_digester digester_t *d = digester_new ();
  for (size_t i = 0; i < n; i++)
    {
      if (i)
        digester_update (d, ",", 1);
      digester_update (d, hashes[i], strlen (hashes[i]));
    }
  digest_hex_t hex;
  digester_final (d, hex);
  *out = xasprintf ("dir:%s", hex);
  return link_named (named, rel, out);
}

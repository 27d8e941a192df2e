/* .dockerignore and the build context: the pattern rules, the walk checked against what dockerd 20.10 put in an
   image for the same context and .dockerignore (docker_ignore_cases.h), sources resolved inside the context, and
   the content hashes COPY's cache key uses. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "build/context.h"
#include "tap.h"

#include "docker_ignore_cases.h"

static void
write_file (const char *dir, const char *rel, const char *content)
{
  cleanup_free char *path = xasprintf ("%s/%s", dir, rel);
  cleanup_free char *parent = xstrdup (path);
  *strrchr (parent, '/') = '\0';
  cleanup_error isola_error_t err = NULL;
  (void)mkdir_p (parent, 0755, &err);
  cleanup_close int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0)
    (void)write_all (fd, content, strlen (content));
}

static void
test_read (void)
{
  const char *text = "\xEF\xBB\xBF# comment\n  spaced  \n! negated \n/abs/path\n./rel//x/../y\n\n#!notcomment\n"
                     "dir/\n";
  cleanup_strv char **p = dockerignore_read (text, strlen (text));
  const char *want[] = { "spaced", "!negated", "abs/path", "rel/y", "dir", NULL };
  bool same = strv_len (p) == 5;
  for (size_t i = 0; same && want[i]; i++)
    same = strcmp (p[i], want[i]) == 0;
  CHECK (same, "ReadAll: comments, blanks, \"!\", a leading \"/\", filepath.Clean, a trailing \"/\"");

  struct dockerignore ig;
  cleanup_error isola_error_t err = NULL;
  char *bang[] = { "!", NULL };
  CHECK (dockerignore_compile (bang, &ig, &err) == -EINVAL
             && strcmp (err->msg, "illegal exclusion pattern: \"!\"") == 0,
         "a lone \"!\" is refused as Docker does");
  isola_error_release (&err);
  char *bad[] = { "a[b", NULL };
  CHECK (dockerignore_compile (bad, &ig, &err) == -EINVAL && strcmp (err->msg, "syntax error in pattern") == 0,
         "an unclosed class is refused");
}

static void
test_glob (void)
{
  const struct
  {
    const char *pattern, *path;
    bool match;
  } cases[] = {
    { "*.md", "a.md", true },
    { "*.md", "dir/a.md", false },
    { "**/*.md", "dir/sub/a.md", true },
    { "**/*.md", "a.md", true },
    { "dir/**", "dir/x/y", true },
    { "dir/**", "dir", false },
    { "**", "anything/at/all", true },
    { "a/**/b", "a/b", true },
    { "a/**/b", "a/x/y/b", true },
    { "a?c", "abc", true },
    { "a?c", "a/c", false },
    { "[ab].txt", "b.txt", true },
    { "[^ab].txt", "c.txt", true },
    { "[^ab].txt", "a.txt", false },
    { "[a-c]x", "bx", true },
    { "\\*", "*", true },
    { "\\*", "a", false },
    { "we+ird(1).txt", "we+ird(1).txt", true },
    { "a.b", "axb", false },
    { "*", "", true },
    { "*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },
  };
  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    CHECK (dockerignore_glob (cases[i].pattern, cases[i].path) == cases[i].match, "%s %s %s", cases[i].pattern,
           cases[i].match ? "matches" : "does not match", cases[i].path);

  char *pats[] = { "dir", "!dir/keep", "*/deep", NULL };
  struct dockerignore ig;
  cleanup_error isola_error_t err = NULL;
  dockerignore_compile (pats, &ig, &err);
  CHECK (dockerignore_matches (&ig, "dir/x") && !dockerignore_matches (&ig, "dir/keep")
             && dockerignore_matches (&ig, "a/deep/b") && !dockerignore_matches (&ig, "a/b/deep"),
         "a parent directory's match, cut to the pattern's depth (Docker 20.10's Matches)");
  dockerignore_clear (&ig);
}

static int
cmp_strp (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* The walk plus what the daemon does with it (drops a Dockerfile or .dockerignore that the patterns excluded):
   the files, sorted, one a line. */
static char *
sent_files (const char *dir, const char *dockerignore)
{
  cleanup_strv char **orig = dockerignore_read (dockerignore, strlen (dockerignore));
  cleanup_strv char **pats = dockerignore_read (dockerignore, strlen (dockerignore));
  cleanup_error isola_error_t err = NULL;
  struct dockerignore ig;
  struct context_list l;
  if (dockerignore_keep_build_files (&pats, "Dockerfile", &err) < 0 || dockerignore_compile (pats, &ig, &err) < 0)
    return xstrdup (err->msg);
  int ret = context_walk (dir, &ig, &l, &err);
  dockerignore_clear (&ig);
  if (ret < 0)
    return xstrdup (err->msg);
  bool drop_df = false, drop_di = false;
  (void)dockerignore_excludes ("Dockerfile", orig, &drop_df, &err);
  (void)dockerignore_excludes (".dockerignore", orig, &drop_di, &err);
  cleanup_strv char **files = xcalloc (1, sizeof (char *));
  for (size_t i = 0; i < l.n; i++)
    {
      const char *p = l.e[i].path;
      if (S_ISDIR (l.e[i].st.st_mode) || (drop_df && strcmp (p, "Dockerfile") == 0)
          || (drop_di && strcmp (p, ".dockerignore") == 0))
        continue;
      strv_push (&files, p);
    }
  context_list_clear (&l);
  /* Docker's export lists in byte order; the walk is lexical per directory. */
  size_t n = strv_len (files);
  qsort (files, n, sizeof (char *), cmp_strp);
  size_t len = 1;
  for (size_t i = 0; i < n; i++)
    len += strlen (files[i]) + 1;
  char *out = xcalloc (1, len);
  for (size_t i = 0; i < n; i++)
    {
      strcat (out, files[i]);
      strcat (out, "\n");
    }
  return out;
}

static void
test_walk_against_docker (const char *tmp)
{
  for (size_t c = 0; c < ARRAY_SIZE (ignore_cases); c++)
    {
      cleanup_free char *dir = xasprintf ("%s/ctx%zu", tmp, c);
      for (size_t i = 0; ignore_tree[i]; i++)
        write_file (dir, ignore_tree[i], ignore_tree[i]);
      write_file (dir, "Dockerfile", "FROM scratch\nCOPY . /\n");
      write_file (dir, ".dockerignore", ignore_cases[c].dockerignore);
      cleanup_free char *got = sent_files (dir, ignore_cases[c].dockerignore);
      CHECK_STR (got, ignore_cases[c].sent, "context %zu: the files dockerd 20.10 copied", c);
      if (strcmp (got, ignore_cases[c].sent) != 0)
        printf ("# got:\n%s# want:\n%s", got, ignore_cases[c].sent);
    }
}

static void
test_resolve (const char *tmp)
{
  cleanup_free char *root = xasprintf ("%s/resolve", tmp);
  write_file (root, "dir/file", "x");
  cleanup_free char *l1 = xasprintf ("%s/abs", root), *l2 = xasprintf ("%s/dir/up", root),
                    *l3 = xasprintf ("%s/loop", root);
  CHECK (symlink ("/dir/file", l1) == 0 && symlink ("../../../../outside", l2) == 0 && symlink ("loop", l3) == 0,
         "symlinks made");
  const struct
  {
    const char *in, *out, *error;
  } cases[] = {
    { "dir/file", "dir/file", NULL },
    { "/dir/./file", "dir/file", NULL },
    { "./dir", "dir", NULL },
    { ".", ".", NULL },
    { "abs", "dir/file", NULL },
    { "dir/up", "outside", NULL },
    { "dir/up/x", "outside/x", NULL },
    { "../x", NULL, "forbidden path outside the build context: ../x ()" },
    { "dir/../../x", NULL, "forbidden path outside the build context: dir/../../x ()" },
    { "loop", NULL, "loop: too many links" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    {
      cleanup_free char *out = NULL;
      cleanup_error isola_error_t err = NULL;
      int ret = context_resolve (root, cases[i].in, &out, &err);
      if (cases[i].out)
        CHECK (ret == 0 && strcmp (out, cases[i].out) == 0, "%s resolves to %s (got %s)", cases[i].in, cases[i].out,
               ret == 0 ? out : err->msg);
      else
        CHECK (ret < 0 && strcmp (err->msg, cases[i].error) == 0, "%s: %s (got %s)", cases[i].in, cases[i].error,
               ret == 0 ? out : err->msg);
    }
}

static char *
hash_of (const char *root, const char *rel)
{
  char *out = NULL;
  cleanup_error isola_error_t err = NULL;
  if (context_source_hash (root, rel, &out, &err) < 0)
    return xstrdup (err->msg);
  return out;
}

static void
test_hashes (const char *tmp)
{
  cleanup_free char *root = xasprintf ("%s/hash", tmp);
  write_file (root, "d/a", "one");
  write_file (root, "d/sub/b", "two");
  write_file (root, "f", "one");
  cleanup_free char *f1 = hash_of (root, "f"), *d1 = hash_of (root, "d"), *a1 = hash_of (root, "d/a");
  CHECK (str_has_prefix (f1, "file:") && strlen (f1) == 5 + 64, "a file's hash: file:HEX (%s)", f1);
  CHECK (str_has_prefix (d1, "dir:") && strlen (d1) == 4 + 64, "a directory's hash: dir:HEX (%s)", d1);
  CHECK (strcmp (f1, a1) != 0, "the same content elsewhere in the context hashes differently (the path is in it)");
  cleanup_free char *f2 = hash_of (root, "f");
  CHECK_STR (f1, f2, "the same file: the same hash");
  write_file (root, "d/sub/b", "changed");
  cleanup_free char *d2 = hash_of (root, "d");
  CHECK (strcmp (d1, d2) != 0, "a change deep in a directory changes its hash");
  cleanup_free char *fp = xasprintf ("%s/f", root);
  chmod (fp, 0600);
  cleanup_free char *f3 = hash_of (root, "f");
  CHECK (strcmp (f1, f3) != 0, "a mode change changes the hash");
  cleanup_free char *missing = hash_of (root, "nothere");
  CHECK_STR (missing, "file not found in build context or excluded by .dockerignore: stat nothere: file does not exist",
             "a missing source: Docker's message");
}

int
main (void)
{
  char tmpl[] = "/tmp/test_context.XXXXXX";
  if (mkdtemp (tmpl) == NULL)
    return 1;
  test_read ();
  test_glob ();
  test_walk_against_docker (tmpl);
  test_resolve (tmpl);
  test_hashes (tmpl);
  cleanup_error isola_error_t err = NULL;
  (void)rm_rf (tmpl, &err);
  return tap_done ();
}

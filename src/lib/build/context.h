/* The build context: .dockerignore as Docker 20.10 reads and matches it (builder/dockerignore, pkg/fileutils:
   comments, `!` exceptions, `**`, a leading `/`, `filepath.Clean` of each pattern, a parent directory's match
   covering what is under it), the walk that lists what the docker CLI would send (archive.TarWithOptions' rules for
   skipping directories), and source paths resolved inside the context as the classic builder resolves them
   (a path that leaves it by `..` is refused; symlinks stay inside, as symlink.FollowSymlinkInScope keeps them). */
#ifndef ISOLA_BUILD_CONTEXT_H
#define ISOLA_BUILD_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "base/error.h"

/* Reads a .dockerignore (ReadAll): one pattern a line, `#` lines skipped, blanks trimmed, each pattern cleaned and
   a leading "/" dropped, "!" kept in front.  The list is NULL-terminated. */
char **dockerignore_read (const char *buf, size_t len);

/* Docker's CLI never leaves out the Dockerfile or .dockerignore themselves (TrimBuildFilesFromExcludes): adds the
   "!NAME" exceptions when a pattern would exclude them.  dockerfile is the Dockerfile's path in the context, NULL
   when it comes from stdin. */
int dockerignore_keep_build_files (char ***patterns, const char *dockerfile, isola_error_t *err);

/* fileutils.Matches(file, patterns): whether the patterns exclude file (cleaned; "." never).  The daemon also uses
   it after reading the context: a Dockerfile or .dockerignore that the original patterns exclude was sent only
   for the builder to read, and is dropped from the context before any COPY (remotecontext's removeDockerfile). */
int dockerignore_excludes (const char *file, char *const *patterns, bool *out, isola_error_t *err);

struct ignore_pattern
{
  char *text; /* cleaned, without the "!" */
  bool exclusion;
  size_t n_dirs; /* its "/"-separated parts */
};

struct dockerignore
{
  struct ignore_pattern *p;
  size_t n;
  bool exclusions; /* some pattern is an exception */
};

/* NewPatternMatcher: EINVAL for a lone "!" ("illegal exclusion pattern: \"!\"") or a malformed pattern ("syntax
   error in pattern"). */
int dockerignore_compile (char *const *patterns, struct dockerignore *out, isola_error_t *err);
void dockerignore_clear (struct dockerignore *ig);

/* PatternMatcher.Matches of Docker 20.10: whether the slash-separated relative path is excluded (the last pattern
   that matches it, or its parent directory cut to the pattern's depth, decides). */
bool dockerignore_matches (const struct dockerignore *ig, const char *path);

/* One glob of a pattern against a whole path: `*` and `?` stop at "/", `**` crosses directories, `[...]` classes,
   `\` escapes.  Exposed for the tests. */
bool dockerignore_glob (const char *pattern, const char *path);

struct context_entry
{
  char *path; /* relative to the context, "/"-separated, never "." */
  struct stat st;
};

struct context_list
{
  struct context_entry *e;
  size_t n;
};

/* Walks the context directory in lexical order without following symlinks and lists what is sent: an excluded
   file is left out, an excluded directory is left out with its contents unless an exception pattern may reach
   inside it (then only its own entry goes). ig may be NULL (nothing excluded). */
int context_walk (const char *root, const struct dockerignore *ig, struct context_list *out, isola_error_t *err);
void context_list_clear (struct context_list *l);

/* A COPY/ADD source path resolved in the context: cleaned, a leading "/" or "./" dropped, refused with Docker's
   "forbidden path outside the build context: PATH ()" when `..` leaves it; then every symlink on the way read and
   kept inside the root as FollowSymlinkInScope does (an absolute target starts from the root, `..` stops at it).
   *out is relative to root ("." for the root itself). */
int context_resolve (const char *root, const char *path, char **out, isola_error_t *err);

/* The same, but for the last component, which stays as written when it is a symlink: Docker names the copy of a
   source by the path as written (`COPY lnk /x/` makes /x/lnk) and takes its content from the link's target
   (context_source_hash and the copier follow such a last link). */
int context_resolve_named (const char *root, const char *path, char **out, isola_error_t *err);

/* The content hash of a source (resolved by context_resolve_named) that COPY/ADD's cache key uses, in Docker's shapes:
   "file:HEX" for one file (its path in the context, type, permissions, owner, size, link target and content), and
   "dir:HEX" for a directory (the sorted hashes of it and of everything under it, joined by ","). */
int context_source_hash (const char *root, const char *rel, char **out, isola_error_t *err);

/* filepath.Clean for "/"-separated paths. */
char *path_clean (const char *path);

#endif

/* COPY and ADD's file work, as Docker 20.10's classic builder does it (builder/dockerfile/copy.go): the sources
   named in a root (the context, or an image's root file system for --from) with wildcards expanded, then written
   under the destination inside the root file system of the image being built (paths resolved in that root: a
   symlink in the image never leads out of it), owned by root or --chown's owner, with --chmod's mode, a local tar
   archive extracted by ADD. */
#ifndef ISOLA_BUILD_COPIER_H
#define ISOLA_BUILD_COPIER_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"

/* The sources of one COPY/ADD resolved in src_root (context_resolve's rules): each a path relative to src_root,
   "." for the root itself; a source with a wildcard (`*`, `?`, `[`) expands to the entries it matches (a matched
   directory whole), in lexical order.  Errors are Docker's: "no source files were specified" for a pattern that
   matches nothing, "file not found in build context or excluded by .dockerignore: stat X: file does not exist",
   "forbidden path outside the build context: X ()".  ADD of a URL is refused. */
int copier_sources (const char *src_root, char *const *srcs, bool add, char ***out, isola_error_t *err);

struct copier_options
{
  const char *dest;    /* as substituted; relative to workdir when not absolute */
  const char *workdir; /* the config's WorkingDir, or NULL */
  bool add;            /* ADD: a source that is a tar archive is extracted into dest */
  const char *chown;   /* --chown: user[:group], names looked up in the destination's /etc/passwd and /etc/group */
  const char *chmod;   /* --chmod: octal */
};

/* Writes the sources (copier_sources) from src_root under o->dest in the root file system dst_root (a directory
   fd).  More than one source needs a destination ending in "/" (Docker's message). */
int copier_copy (const char *src_root, char *const *sources, int dst_root, const struct copier_options *o,
                 isola_error_t *err);

/* Makes dir (absolute, cleaned) in dst_root with its missing parents, mode 0755, owned by root: WORKDIR's
   directory. */
int copier_mkdir (int dst_root, const char *dir, isola_error_t *err);

#endif

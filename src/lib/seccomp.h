/* Seccomp filters for process-isolated containers, built with libseccomp: Docker's default profile (compiled in
   as C tables), or a Docker-format JSON profile named by HostConfig.SecurityOpt "seccomp=...", or none
   ("seccomp=unconfined", or a privileged container with no profile of its own).

   This file shares its name with libseccomp's <seccomp.h>, which src/lib on the include path hides.  Callers of
   this API need only the opaque scmp_filter_ctx below; seccomp.c, which needs libseccomp itself, defines
   ISOLA_SECCOMP_WITH_LIBSECCOMP and includes us as <seccomp.h> (found through the include path, so that
   #include_next reaches the next directory: libseccomp's). */
#ifndef ISOLA_SECCOMP_H
#define ISOLA_SECCOMP_H

#ifdef ISOLA_SECCOMP_WITH_LIBSECCOMP
#include_next <seccomp.h>
#endif

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* libseccomp's filter handle, spelled exactly as libseccomp does so that both declarations can meet. */
typedef void *scmp_filter_ctx;

/* A profile (file or inline JSON) larger than this is refused: the JSON is untrusted. */
#define SECCOMP_PROFILE_MAX (1024 * 1024)

/* The filter a container gets from its HostConfig (SecurityOpt, Privileged) and capability set (the bounding
   set; it decides rules with includes/excludes "caps", as in Docker).  *out is NULL when the container runs
   unconfined; otherwise release it with seccomp_profile_release.  SecurityOpt forms, as Docker accepts them
   (':' may replace '='):
     seccomp=unconfined       no filter
     seccomp=builtin          Docker's default profile, also used when no seccomp option is given
     seccomp={...}            an inline JSON profile (what the docker CLI sends after reading the file)
     seccomp=/abs/path.json   a JSON profile read from that file
   A privileged container runs unconfined unless it names a profile, as in Docker. */
int seccomp_profile_for_host_config (json_t *host_config, uint64_t caps, scmp_filter_ctx *out, isola_error_t *err);

/* Docker's default profile for a container with these capabilities. */
int seccomp_profile_default (uint64_t caps, scmp_filter_ctx *out, isola_error_t *err);

/* Builds the filter from a Docker-format JSON profile of len bytes (not necessarily NUL-terminated; at most
   SECCOMP_PROFILE_MAX).  A profile with neither defaultAction nor syscalls means no filter (*out = NULL), as in
   Docker.  Syscall names this libseccomp does not know are skipped, as runc does. */
int seccomp_profile_parse (const char *buf, size_t len, uint64_t caps, scmp_filter_ctx *out, isola_error_t *err);

/* Loads the filter into the calling thread (NULL: nothing to do).  Without no_new_privs this needs
   CAP_SYS_ADMIN. */
int seccomp_profile_install (scmp_filter_ctx filter, isola_error_t *err);

/* Frees a filter (NULL is fine); returns NULL so that `f = seccomp_profile_release (f)` is always safe. */
scmp_filter_ctx seccomp_profile_release (scmp_filter_ctx filter);

#endif

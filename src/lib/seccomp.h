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

/* Frees a filter (NULL is fine); returns NULL so that `f = seccomp_profile_release (f)` is always safe. */
scmp_filter_ctx seccomp_profile_release (scmp_filter_ctx filter);

/* --- what a HostConfig asks for, before anything is built ------------------------------------------------------ */

enum seccomp_source_kind
{
  SECCOMP_SOURCE_NONE,    /* unconfined */
  SECCOMP_SOURCE_BUILTIN, /* Docker's default profile */
  SECCOMP_SOURCE_JSON,    /* a JSON profile: inline, or read from path */
};

struct seccomp_source
{
  enum seccomp_source_kind kind;
  char *json; /* SECCOMP_SOURCE_JSON: the profile's bytes */
  size_t len;
  char *path; /* the file it was read from, for messages; NULL when inline */
};

/* Resolves the SecurityOpt forms above (reading a profile file) without building anything. */
int seccomp_source_for_host_config (json_t *host_config, struct seccomp_source *out, isola_error_t *err);
/* The filter for a source and capability set; *out is NULL for SECCOMP_SOURCE_NONE. */
int seccomp_source_build (const struct seccomp_source *src, uint64_t caps, scmp_filter_ctx *out, isola_error_t *err);
void seccomp_source_clear (struct seccomp_source *src);

/* --- compiled programs (seccomp_bpf.c) -------------------------------------------------------------------------

   libseccomp turns Docker's default profile into BPF in ~10 ms here, a third of a container start, and building
   its rule database takes ~3 ms more.  The program depends only on the profile, the capabilities, the kernel
   version, libseccomp and isola's own build, so it is compiled once and kept in a cache keyed by exactly those;
   a container start then reads one small file and calls seccomp(2) itself. */

/* libseccomp's version, "2.5.4". */
const char *seccomp_library_version (void);

/* The kernel's limit on a filter's length (BPF_MAXINSNS). */
#define SECCOMP_PROGRAM_MAX 4096

struct seccomp_program
{
  unsigned flags; /* SECCOMP_FILTER_FLAG_* for seccomp(SECCOMP_SET_MODE_FILTER) */
  size_t len;     /* instructions */
  void *insns;    /* struct sock_filter[len] */
};

/* A program owning a copy of len instructions. */
struct seccomp_program *seccomp_program_new (unsigned flags, const void *insns, size_t len);
void seccomp_program_free (struct seccomp_program *p);

/* Compiles a filter (libseccomp's BPF generation). */
int seccomp_compile (scmp_filter_ctx filter, struct seccomp_program **out, isola_error_t *err);

/* The program for a container's HostConfig and capabilities; *out is NULL when it runs unconfined.  cache_dir (may
   be NULL: no cache) holds compiled programs; a missing or unusable cache only costs the compilation. */
int seccomp_program_for_host_config (json_t *host_config, uint64_t caps, const char *cache_dir,
                                     struct seccomp_program **out, isola_error_t *err);

/* The same from the cache only: ENOENT when it is not there.  What a container's monitor and exec use, so that
   neither carries libseccomp: the CLI compiles the program before it starts either (container_start,
   container_seccomp_ensure), and a static binary that only looks programs up leaves libseccomp out. */
int seccomp_program_lookup (json_t *host_config, uint64_t caps, const char *cache_dir, struct seccomp_program **out,
                            isola_error_t *err);

/* Loads the program into the calling thread (NULL: nothing to do).  Without no_new_privs this needs
   CAP_SYS_ADMIN. */
int seccomp_program_install (const struct seccomp_program *p, isola_error_t *err);

#endif

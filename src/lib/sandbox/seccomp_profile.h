/* The seccomp profile compiler, built on libseccomp: Docker's default profile (compiled in as C tables), or a
   Docker-format JSON profile named by HostConfig.SecurityOpt "seccomp=...", or none ("seccomp=unconfined", or a
   privileged container with no profile of its own), turned into a program (seccomp_program.h).  Only the CLI links
   this: it compiles a container's program into the cache before anything loads it. */
#ifndef ISOLA_SECCOMP_PROFILE_H
#define ISOLA_SECCOMP_PROFILE_H

#include <jansson.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "sandbox/seccomp_program.h"

/* The filter a container gets from its HostConfig (SecurityOpt, Privileged) and capability set (the bounding
   set; it decides rules with includes/excludes "caps", as in Docker).  *out is NULL when the container runs
   unconfined; otherwise release it with seccomp_profile_release.  The SecurityOpt forms are seccomp_program.h's. */
int seccomp_profile_for_host_config (json_t *host_config, uint64_t caps, scmp_filter_ctx *out, isola_error_t *err);

/* Docker's default profile for a container with these capabilities. */
int seccomp_profile_default (uint64_t caps, scmp_filter_ctx *out, isola_error_t *err);

/* Builds the filter from a Docker-format JSON profile of len bytes (not necessarily NUL-terminated; at most
   SECCOMP_PROFILE_MAX).  A profile with neither defaultAction nor syscalls means no filter (*out = NULL), as in
   Docker.  Syscall names this libseccomp does not know are skipped, as runc does. */
int seccomp_profile_parse (const char *buf, size_t len, uint64_t caps, scmp_filter_ctx *out, isola_error_t *err);

/* Frees a filter (NULL is fine); returns NULL so that `f = seccomp_profile_release (f)` is always safe. */
scmp_filter_ctx seccomp_profile_release (scmp_filter_ctx filter);

/* The filter for a source and capability set; *out is NULL for SECCOMP_SOURCE_NONE. */
int seccomp_source_build (const struct seccomp_source *src, uint64_t caps, scmp_filter_ctx *out, isola_error_t *err);

/* Compiles a filter (libseccomp's BPF generation). */
int seccomp_compile (scmp_filter_ctx filter, struct seccomp_program **out, isola_error_t *err);

/* The program for a container's HostConfig and capabilities, from the cache or compiled into it; *out is NULL when
   it runs unconfined.  cache_dir (may be NULL: no cache) holds compiled programs; a missing or unusable cache only
   costs the compilation. */
int seccomp_program_for_host_config (json_t *host_config, uint64_t caps, const char *cache_dir,
                                     struct seccomp_program **out, isola_error_t *err);

#endif

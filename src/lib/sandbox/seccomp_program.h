/* Compiled seccomp programs: what a container's process loads, and the cache of them.  Nothing here uses
   libseccomp, so the monitor, exec and the guest agent, which only look programs up and load them, carry none of it;
   the profile compiler (seccomp_profile.h) fills the cache.

   libseccomp turns Docker's default profile into BPF in ~10 ms here, a third of a container start, and building
   its rule database takes ~3 ms more.  The program depends only on the profile, the capabilities, the kernel
   version, libseccomp and isola's own build, so it is compiled once and kept in a cache keyed by exactly those;
   a container start then reads one small file and calls seccomp(2) itself. */
#ifndef ISOLA_SECCOMP_PROGRAM_H
#define ISOLA_SECCOMP_PROGRAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* A profile (file or inline JSON) larger than this is refused: the JSON is untrusted. */
#define SECCOMP_PROFILE_MAX (1024 * 1024)

/* The kernel's limit on a filter's length (BPF_MAXINSNS). */
#define SECCOMP_PROGRAM_MAX 4096

/* --- what a HostConfig asks for, before anything is built ------------------------------------------------------

   SecurityOpt forms, as Docker accepts them (':' may replace '='):
     seccomp=unconfined       no filter
     seccomp=builtin          Docker's default profile, also used when no seccomp option is given
     seccomp={...}            an inline JSON profile (what the docker CLI sends after reading the file)
     seccomp=/abs/path.json   a JSON profile read from that file
   A privileged container runs unconfined unless it names a profile, as in Docker. */

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
void seccomp_source_clear (struct seccomp_source *src);

/* --- programs ---------------------------------------------------------------------------------------------------- */

struct seccomp_program
{
  unsigned flags; /* SECCOMP_FILTER_FLAG_* for seccomp(SECCOMP_SET_MODE_FILTER) */
  size_t len;     /* instructions */
  void *insns;    /* struct sock_filter[len] */
};

/* A program owning a copy of len instructions. */
struct seccomp_program *seccomp_program_new (unsigned flags, const void *insns, size_t len);
void seccomp_program_free (struct seccomp_program *p);

/* Loads the program into the calling thread (NULL: nothing to do).  Without no_new_privs this needs
   CAP_SYS_ADMIN. */
int seccomp_program_install (const struct seccomp_program *p, isola_error_t *err);

/* The program for a container's HostConfig and capabilities from the cache only: *out is NULL when it runs
   unconfined, ENOENT when the program is not there.  What a container's monitor and exec use: the CLI compiles the
   program before it starts either (container_start, container_seccomp_ensure). */
int seccomp_program_lookup (json_t *host_config, uint64_t caps, const char *cache_dir, struct seccomp_program **out,
                            isola_error_t *err);

/* --- the cache, for the compiler ----------------------------------------------------------------------------------

   A cache file is named by a hash of its key and holds the whole key, compared byte for byte before use. */

struct seccomp_cache_slot
{
  char *key; /* everything the program depends on */
  size_t key_len;
  char *path; /* NULL: no cache to use */
};

/* The cached program for src and caps, or NULL; slot says where a program compiled instead is to be stored. */
struct seccomp_program *seccomp_cache_find (const struct seccomp_source *src, uint64_t caps, const char *cache_dir,
                                            struct seccomp_cache_slot *slot);
/* Stores a compiled program in its slot (best effort: a cache that cannot be written only costs compilations). */
void seccomp_cache_store (const struct seccomp_cache_slot *slot, const char *cache_dir,
                          const struct seccomp_program *p);
void seccomp_cache_slot_clear (struct seccomp_cache_slot *slot);

/* The libseccomp version isola was built against, "2.5.4": part of the cache's key. */
const char *seccomp_library_version (void);

#endif

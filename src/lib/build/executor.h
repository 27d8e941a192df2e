/* `isola build`: runs a build plan (build/plan.h) as Docker 20.10's classic builder does.  Each step makes an
   image over the previous one (intermediate images, whose `parent` chains them): metadata steps an image with the
   new config and an empty_layer history entry; RUN a container made through the one create path
   (container_create_from_request) in the chosen isolation mode, its output streamed, its layer committed; COPY and
   ADD the sources written into a layer over the parent's file system; WORKDIR its directory.  The cache keeps, for
   each step's key (build_cache_key: parent image, the step's command as Docker records it, the config Docker's
   cache compares), the image it made: ROOT/builder/cache/KEY holds its ID, written after the image is published,
   so that a crash leaves either no entry or an entry naming a complete image (one whose image is gone is a miss).
   Nothing here prints: progress goes through a callback, which the CLI prints as Docker's classic output. */
#ifndef ISOLA_BUILD_EXECUTOR_H
#define ISOLA_BUILD_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "base/digest.h"
#include "base/error.h"

enum build_event_kind
{
  BUILD_EVENT_CONTEXT,  /* len: the bytes of the context as the docker CLI would send it (its tar) */
  BUILD_EVENT_STEP,     /* text: the instruction ("Step N/M : " + text); step, n_steps */
  BUILD_EVENT_TRIGGERS, /* step: how many ONBUILD triggers of the base image run now */
  BUILD_EVENT_RUNNING,  /* text: the container's ID (" ---> Running in ID") */
  BUILD_EVENT_OUTPUT,   /* text, len: what the RUN step wrote; stream 1 or 2 */
  BUILD_EVENT_REMOVED,  /* text: the intermediate container's ID, removed */
  BUILD_EVENT_CACHED,   /* the step's image came from the cache */
  BUILD_EVENT_IMAGE,    /* text: the image the step (or FROM) left, "" for FROM scratch */
  BUILD_EVENT_WARNING,  /* text: Docker's warnings and notes */
};

struct build_event
{
  enum build_event_kind kind;
  const char *text;
  size_t len;
  int stream;
  int step, n_steps;
};

typedef void (*build_progress_fn) (const struct build_event *ev, void *arg);

struct build_options
{
  const char *context_dir; /* the context: a directory, */
  int context_tar_fd;      /* or a tar (any compression) read from this fd when context_dir is NULL */
  const char *dockerfile;  /* -f: a path (relative to the working directory) for a directory context, a name in the
                              tar for a tar context; NULL: Dockerfile in the context */
  char *const *build_args; /* K=V or K, NULL-terminated, may be NULL */
  const char *target;      /* --target, or NULL */
  char *const *labels;     /* --label K=V, may be NULL */
  char *const *tags;       /* -t, normalized "name:tag", may be NULL */
  bool no_cache, pull;
  const char *isolation; /* process, vm, hyperv; NULL: the store's default */
  const char *network;   /* --network, or NULL (the default bridge) */
  build_progress_fn progress;
  void *progress_arg;
  /* Fetches an image that is not in the store (or every base image with pull): 0 when it is there now.  The CLI's
     pull prints Docker's progress; NULL: images must be in the store. */
  int (*pull_image) (const char *name, void *arg);
  void *pull_arg;
};

struct build_result
{
  digest_hex_t id;
  /* The error happened while steps ran (Docker prints it as it is, after the steps' output), not while reading
     the Dockerfile or the context (Docker's "Error response from daemon"). */
  bool in_step;
  /* What `docker build` exits with: a failed RUN's exit code (as the docker CLI takes the error's code), else 1. */
  int exit_code;
};

/* Builds in the store at root (NULL: the default); on success result->id is the image, tagged with o->tags. */
int build_run (const char *root, const struct build_options *o, struct build_result *result, isola_error_t *err);

#endif

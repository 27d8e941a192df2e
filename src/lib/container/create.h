/* One path from a container request to a container, for every front end: the CLI's `create` and `run`, and the
   Docker Engine API's `POST /containers/create`. */
#ifndef ISOLA_CONTAINER_CREATE_H
#define ISOLA_CONTAINER_CREATE_H

#include <jansson.h>

#include "base/error.h"
#include "container/container.h"

/* Makes a container from Docker's create body (container/spec.h) and a name (?name=; NULL or "": generated) in the
   store at root (NULL: the default): checks the request, resolves its image and merges the image's config, picks
   its isolation driver (HostConfig.Isolation, else the store's default), records the container and has the driver
   make what it needs (a VM's disk).  Holds the store's exclusive lock until it returns.  On failure nothing is left
   in the store, and the callee's error is returned: EINVAL for a bad request, ENOENT for an unknown image, EEXIST
   for a name in use… */
int container_create_from_request (const char *root, json_t *request, const char *name, struct container **out,
                                   isola_error_t *err);

#endif

/* Docker's container inspect shape, in one place for every front end (the CLI's inspect, the API server's
   GET /containers/ID/json): the Go types of Docker 20.10's types.ContainerJSON (what the docker CLI runs `--format`
   templates over) and the key set dockerd 20.10 sends, with its values for what isola has nothing to say about. */
#ifndef ISOLA_INSPECT_SHAPE_H
#define ISOLA_INSPECT_SHAPE_H

#include "base/gotemplate.h"

/* The fields of types.ContainerJSON (Docker 20.10), as gotemplate.h describes them. */
extern const struct gotype_field container_inspect_types[];

/* Completes a container's inspect object in place to dockerd 20.10's key set and order. */
void container_inspect_complete (json_t *obj);

#endif

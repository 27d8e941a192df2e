/* Dockerfile instructions applied to an image config, as `docker import --change` takes them:
   CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL. */
#ifndef ISOLA_CONFIG_CHANGE_H
#define ISOLA_CONFIG_CHANGE_H

#include <jansson.h>

#include "base/error.h"

/* Applies one instruction to the "config" object of an image config.  EINVAL with a message on bad input. */
int config_apply_change (json_t *config, const char *change, isola_error_t *err);

#endif

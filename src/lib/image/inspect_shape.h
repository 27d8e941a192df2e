/* Docker's image inspect shape, for every front end: the Go types of Docker 20.10's types.ImageInspect (what the
   docker CLI runs `image inspect --format` templates over).  image_inspect_json (image.c) makes its key set. */
#ifndef ISOLA_IMAGE_INSPECT_SHAPE_H
#define ISOLA_IMAGE_INSPECT_SHAPE_H

#include "base/gotemplate.h"

/* The fields of types.ImageInspect (Docker 20.10), as gotemplate.h describes them. */
extern const struct gotype_field image_inspect_types[];

/* container.HealthConfig at p */
#define DOCKER_HEALTHCONFIG_TYPES(p)                                                                                   \
  { p, "*struct,omitempty" }, { p ".Test", "[]string" }, { p ".Interval", "duration,omitempty" },                      \
      { p ".Timeout", "duration,omitempty" }, { p ".StartPeriod", "duration,omitempty" },                              \
  {                                                                                                                    \
    p ".Retries", "int,omitempty"                                                                                      \
  }

/* The fields of container.Config at p (a container's Config, an image's ContainerConfig) */
#define DOCKER_CONTAINER_CONFIG_TYPES(p)                                                                               \
  { p ".Hostname", "string" }, { p ".Domainname", "string" }, { p ".User", "string" }, { p ".AttachStdin", "bool" },   \
      { p ".AttachStdout", "bool" }, { p ".AttachStderr", "bool" },                                                    \
      { p ".ExposedPorts", "map[string]struct,omitempty" }, { p ".Tty", "bool" }, { p ".OpenStdin", "bool" },          \
      { p ".StdinOnce", "bool" }, { p ".Env", "[]string" }, { p ".Cmd", "[]string" },                                  \
      DOCKER_HEALTHCONFIG_TYPES (p ".Healthcheck"), { p ".ArgsEscaped", "bool,omitempty" }, { p ".Image", "string" },  \
      { p ".Volumes", "map[string]struct" }, { p ".WorkingDir", "string" }, { p ".Entrypoint", "[]string" },           \
      { p ".NetworkDisabled", "bool,omitempty" }, { p ".MacAddress", "string,omitempty" },                             \
      { p ".OnBuild", "[]string" }, { p ".Labels", "map[string]string,fill={}" },                                      \
      { p ".StopSignal", "string,omitempty" }, { p ".StopTimeout", "*int,omitempty" },                                 \
  {                                                                                                                    \
    p ".Shell", "[]string,omitempty"                                                                                   \
  }

#endif

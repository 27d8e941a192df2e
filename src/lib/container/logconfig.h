/* A container's logging driver: HostConfig.LogConfig ({"Type": "json-file", "Config": {"max-size": "10m"}}), as
   `--log-driver` and `--log-opt` set it.  isola has Docker's default, json-file (ctr.log, container/logfile.h, with
   its max-size and max-file rotation), and none (nothing written: `logs` has nothing to read). */
#ifndef ISOLA_LOGCONFIG_H
#define ISOLA_LOGCONFIG_H

#include <jansson.h>
#include <stdint.h>

#include "base/error.h"

#define LOG_DRIVER_DEFAULT "json-file"

enum log_driver
{
  LOG_DRIVER_JSON_FILE,
  LOG_DRIVER_NONE,
};

struct log_config
{
  enum log_driver driver;
  int64_t max_size; /* json-file: rotate once the file has this many bytes (decimal units, as Docker); 0: never */
  int max_file;     /* json-file: files kept, ctr.log and ctr.log.1 … ctr.log.(max_file-1); >= 1 */
};

/* HostConfig.LogConfig typed and checked (NULL, or a Type of "": json-file with no rotation): Docker's messages for
   an unknown driver ("logger: no log driver named 'x' is registered"), an unknown option ("unknown log opt 'x' for
   json-file log driver") and bad values; EINVAL too for Docker's drivers and options isola does not have. */
int log_config_parse (json_t *log_config, struct log_config *out, isola_error_t *err);

/* The docker CLI's --log-opt list into LogConfig ({"Type": driver or "", "Config": {...}}); EINVAL "invalid logging
   opts for driver none" when options go with none. */
int log_config_from_flags (const char *driver, char *const *opts, json_t **out, isola_error_t *err);

/* The LogConfig that inspect shows: Type defaulted to json-file, Config to {}.  A new reference. */
json_t *log_config_settled (json_t *log_config);

/* The path of a json-file log's n-th rotated file: "PATH.n" (n >= 1), or PATH itself for n 0.  Free it. */
char *log_config_file (const char *path, int n);

#endif

/* libFuzzer target for `--change` instructions (commit and import, also the API's ?changes=; image/config_change.c):
   each line of the input is one instruction, applied in turn to an image's "config" object, which must stay an
   object whatever is refused. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "image/config_change.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  cleanup_free char *text = strndup ((const char *)data, size);
  if (text == NULL)
    return 0;
  cleanup_json json_t *config = json_pack ("{s:[s], s:[s], s:s, s:{s:{}}, s:{s:s}}", "Env", "PATH=/bin", "Cmd", "sh",
                                           "WorkingDir", "/", "ExposedPorts", "80/tcp", "Labels", "a", "b");
  char *save = NULL;
  for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      cleanup_error isola_error_t err = NULL;
      int ret = config_apply_change (config, line, &err);
      if (ret < 0 ? err == NULL || err->msg == NULL : err != NULL)
        abort ();
      if (!json_is_object (config))
        abort ();
    }
  cleanup_free char *dump = json_dumps (config, JSON_COMPACT);
  if (dump == NULL)
    abort ();
  return 0;
}

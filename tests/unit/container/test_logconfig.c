/* HostConfig.LogConfig (container/logconfig.h): drivers, json-file's options and their errors, Docker's messages. */
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "container/logconfig.h"
#include "tap.h"

static int
parse (const char *json, struct log_config *lc, char **msg)
{
  cleanup_json json_t *j = json ? json_loads (json, 0, NULL) : NULL;
  cleanup_error isola_error_t err = NULL;
  int ret = log_config_parse (j, lc, &err);
  *msg = err ? xstrdup (err->msg) : NULL;
  return ret;
}

static void
check_ok (const char *json, enum log_driver driver, int64_t max_size, int max_file)
{
  struct log_config lc = { 0 };
  cleanup_free char *msg = NULL;
  int ret = parse (json, &lc, &msg);
  CHECK (ret == 0 && lc.driver == driver && lc.max_size == max_size && lc.max_file == max_file,
         "%s: driver %d, max-size %lld, max-file %d (got %d %d %lld %d %s)", json ? json : "NULL", driver,
         (long long)max_size, max_file, ret, lc.driver, (long long)lc.max_size, lc.max_file, msg ? msg : "");
}

static void
check_bad (const char *json, const char *want)
{
  struct log_config lc;
  cleanup_free char *msg = NULL;
  int ret = parse (json, &lc, &msg);
  CHECK (ret < 0 && msg && strstr (msg, want), "%s is refused: %s (got %s)", json, want, msg ? msg : "nothing");
}

int
main (void)
{
  check_ok (NULL, LOG_DRIVER_JSON_FILE, 0, 1);
  check_ok ("{\"Type\":\"\",\"Config\":{}}", LOG_DRIVER_JSON_FILE, 0, 1);
  check_ok ("{\"Type\":\"none\"}", LOG_DRIVER_NONE, 0, 1);
  check_ok ("{\"Type\":\"json-file\",\"Config\":{\"max-size\":\"10k\",\"max-file\":\"3\"}}", LOG_DRIVER_JSON_FILE,
            10000, 3);
  check_ok ("{\"Config\":{\"max-size\":\"1.5MB\"}}", LOG_DRIVER_JSON_FILE, 1500000, 1);
  check_ok ("{\"Config\":{\"max-size\":\"2 GiB\",\"compress\":\"false\"}}", LOG_DRIVER_JSON_FILE, 2000000000, 1);
  check_ok ("{\"Config\":{\"max-size\":\"512\"}}", LOG_DRIVER_JSON_FILE, 512, 1);
  check_bad ("{\"Type\":\"nosuch\"}", "logger: no log driver named 'nosuch' is registered");
  check_bad ("{\"Type\":\"local\"}", "log driver 'local' is not supported yet");
  check_bad ("{\"Config\":{\"color\":\"red\"}}", "unknown log opt 'color' for json-file log driver");
  check_bad ("{\"Config\":{\"max-size\":\"0\"}}", "max-size must be a positive number");
  check_bad ("{\"Config\":{\"max-size\":\"ten\"}}", "invalid size: 'ten'");
  check_bad ("{\"Config\":{\"max-file\":\"0\"}}", "max-file cannot be less than 1");
  check_bad ("{\"Config\":{\"max-file\":\"x\"}}", "invalid syntax");
  check_bad ("{\"Config\":{\"compress\":\"true\"}}", "compress=true is not supported yet");
  check_bad ("{\"Config\":{\"tag\":\"x\"}}", "log opt 'tag'");
  check_bad ("{\"Type\":1}", "LogConfig.Type must be a string");

  char *opts[] = { "max-size=1k", "flag", NULL };
  json_t *lc = NULL;
  cleanup_error isola_error_t err = NULL;
  CHECK (log_config_from_flags ("json-file", opts, &lc, &err) == 0, "flags to LogConfig");
  cleanup_free char *dump = json_dumps (lc, JSON_SORT_KEYS | JSON_COMPACT);
  CHECK_STR (dump, "{\"Config\":{\"flag\":\"\",\"max-size\":\"1k\"},\"Type\":\"json-file\"}", "KEY=VALUE and KEY (%s)",
             dump);
  json_decref (lc);
  CHECK (log_config_from_flags ("none", opts, &lc, &err) < 0
             && strstr (err->msg, "invalid logging opts for driver none"),
         "options with none are refused");
  cleanup_json json_t *settled = log_config_settled (NULL);
  cleanup_free char *s = json_dumps (settled, JSON_COMPACT);
  CHECK_STR (s, "{\"Type\":\"json-file\",\"Config\":{}}", "settled default (%s)", s);
  return tap_done ();
}

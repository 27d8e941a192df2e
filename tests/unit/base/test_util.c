/* Helpers with Docker-visible output (sizes, durations), time parsing, atomic writes, changes, templates. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/gotemplate.h"
#include "base/json.h"
#include "base/util.h"
#include "image/config_change.h"
#include "tap.h"

static void
check_size (int64_t bytes, const char *want)
{
  cleanup_free char *s = human_size (bytes);
  CHECK_STR (s, want, "human_size(%lld) = %s (got %s)", (long long)bytes, want, s);
}

static void
check_duration (int64_t secs, const char *want)
{
  cleanup_free char *s = human_duration (secs);
  CHECK_STR (s, want, "human_duration(%lld) = %s (got %s)", (long long)secs, want, s);
}

static void
test_human (void)
{
  check_size (0, "0B");
  check_size (999, "999B");
  check_size (1000, "1kB");
  check_size (4261723, "4.26MB");
  check_size (1500000000, "1.5GB");
  check_duration (0, "Less than a second");
  check_duration (1, "1 second");
  check_duration (45, "45 seconds");
  check_duration (90, "About a minute");
  check_duration (600, "10 minutes");
  check_duration (3600, "About an hour");
  check_duration (5 * 3600, "5 hours");
  check_duration (3 * 86400, "3 days");
  check_duration (20 * 86400, "2 weeks");
  check_duration (100 * 86400, "3 months");
  check_duration (800 * 86400, "2 years");
}

static void
test_time (void)
{
  int64_t t = 0;
  CHECK (time_parse_rfc3339 ("2024-01-02T03:04:05Z", &t) == 0 && t == 1704164645, "parse UTC time");
  CHECK (time_parse_rfc3339 ("2024-01-02T03:04:05.123456789Z", &t) == 0 && t == 1704164645, "parse fractions");
  CHECK (time_parse_rfc3339 ("2024-01-02T05:04:05+02:00", &t) == 0 && t == 1704164645, "parse offset");
  CHECK (time_parse_rfc3339 ("yesterday", &t) < 0, "refuse garbage");
}

static void
test_atomic_write (void)
{
  char dir[] = "/tmp/isola-unit-util-XXXXXX";
  if (mkdtemp (dir) == NULL)
    return;
  cleanup_free char *p = xasprintf ("%s/f", dir);
  CHECK (write_file_atomic (p, "one", 3, 0644, NULL) == 0, "atomic write");
  CHECK (write_file_atomic (p, "two!", 4, 0644, NULL) == 0, "atomic overwrite");
  cleanup_free char *buf = NULL;
  size_t len;
  CHECK (read_file_bounded (p, 10, &buf, &len, NULL) == 0 && len == 4 && strcmp (buf, "two!") == 0,
         "reads the new content");
  cleanup_free char *sub = xasprintf ("%s/a/b/c", dir);
  CHECK (mkdir_p (sub, 0755, NULL) == 0 && path_exists (sub), "mkdir_p");
  CHECK (rm_rf (dir, NULL) == 0 && !path_exists (dir), "rm_rf");
}

static json_t *
apply (const char *change, int *ret)
{
  json_t *c = json_object ();
  *ret = config_apply_change (c, change, NULL);
  return c;
}

static void
test_changes (void)
{
  int ret;
  cleanup_json json_t *a = apply ("CMD [\"sh\", \"-c\", \"echo hi\"]", &ret);
  CHECK (ret == 0 && json_array_size (json_object_get (a, "Cmd")) == 3, "CMD JSON form");
  cleanup_json json_t *b = apply ("ENTRYPOINT echo hello", &ret);
  CHECK (ret == 0
             && strcmp (json_string_value (json_array_get (json_object_get (b, "Entrypoint"), 2)), "echo hello") == 0,
         "ENTRYPOINT shell form wraps in /bin/sh -c");
  cleanup_json json_t *c = apply ("ENV A=1 B=\"two words\"", &ret);
  CHECK (ret == 0 && json_array_size (json_object_get (c, "Env")) == 2
             && strcmp (json_string_value (json_array_get (json_object_get (c, "Env"), 1)), "B=two words") == 0,
         "ENV pairs with quotes");
  config_apply_change (c, "ENV A 3", NULL);
  CHECK (strcmp (json_string_value (json_array_get (json_object_get (c, "Env"), 0)), "A=3") == 0,
         "ENV legacy form replaces an existing variable");
  cleanup_json json_t *d = apply ("EXPOSE 80 53/udp", &ret);
  CHECK (ret == 0 && json_object_get (json_object_get (d, "ExposedPorts"), "80/tcp")
             && json_object_get (json_object_get (d, "ExposedPorts"), "53/udp"),
         "EXPOSE defaults to tcp");
  cleanup_json json_t *e = apply ("EXPOSE 99999", &ret);
  CHECK (ret == -EINVAL, "EXPOSE refuses an invalid port");
  cleanup_json json_t *f = apply ("RUN rm -rf /", &ret);
  CHECK (ret == -EINVAL, "RUN is not a valid change");
  cleanup_json json_t *g = apply ("workdir /srv", &ret);
  CHECK (ret == 0 && strcmp (json_string_value (json_object_get (g, "WorkingDir")), "/srv") == 0,
         "instructions are case-insensitive");
  cleanup_json json_t *h = apply ("LABEL a=b \"c d\"=e", &ret);
  CHECK (ret == 0 && json_object_size (json_object_get (h, "Labels")) == 2, "LABEL pairs");
  cleanup_json json_t *i = apply ("ENV A=\"unterminated", &ret);
  CHECK (ret == -EINVAL, "ENV refuses an unterminated quote");
}

static void
check_format (const char *tmpl, const char *want)
{
  cleanup_json json_t *obj = json_loads ("{\"Id\":\"sha256:ab\",\"Config\":{\"Cmd\":[\"sh\",\"-c\"],"
                                         "\"Labels\":{\"k\":\"v\"},\"N\":3,\"E\":null}}",
                                         0, NULL);
  cleanup_free char *out = NULL;
  int ret = gotemplate_render (tmpl, obj, NULL, &out, NULL);
  CHECK (ret == 0 && strcmp (out, want) == 0, "template %s renders %s (got %s)", tmpl, want, out ? out : "(error)");
}

static void
test_format (void)
{
  check_format ("{{.Id}}", "sha256:ab");
  check_format ("id={{.Id}} n={{.Config.N}}", "id=sha256:ab n=3");
  check_format ("{{json .Config.Cmd}}", "[\"sh\",\"-c\"]");
  check_format ("{{.Config.Cmd}}", "[sh -c]");
  check_format ("{{index .Config.Labels \"k\"}}", "v");
  check_format ("{{.Config.Labels}}", "map[k:v]");
  check_format ("{{.Config.E}}", "<no value>");
  /* A map (an object without capitalised keys, as a Go struct's fields are) without the key: <no value>. */
  check_format ("{{.Config.Labels.nope}}", "<no value>");
  cleanup_json json_t *obj = json_pack ("{s:s, s:{}}", "Id", "x", "Labels");
  cleanup_free char *out = NULL;
  CHECK (gotemplate_render ("{{.Missing}}", obj, NULL, &out, NULL) == -EINVAL, "unknown field of a struct is an error");
  cleanup_free char *none = NULL;
  CHECK (gotemplate_render ("{{.Labels.a}}", obj, NULL, &none, NULL) == 0 && strcmp (none, "<no value>") == 0,
         "a key an empty map lacks: <no value>");
  CHECK (gotemplate_render ("{{.Id", obj, NULL, &out, NULL) == -EINVAL, "unclosed action is an error");
}

int
main (void)
{
  test_format ();
  test_human ();
  test_time ();
  test_atomic_write ();
  test_changes ();
  return tap_done ();
}

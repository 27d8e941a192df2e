/* Helpers with Docker-visible output (sizes, durations), time parsing, atomic writes, changes, templates. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/digest.h"
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

/* A Go struct: Name string, P *struct{X int}, S []string, M map[string]string, In struct{A string; D duration},
   embedded struct{E bool}, T time, O string omitempty, L []*struct{K string}. */
static const struct gotype_field types[] = {
  { "Name", "string" },
  { "P", "*struct" },
  { "P.X", "int" },
  { "S", "[]string,fill=[]" },
  { "M", "map[string]string" },
  { "In", "struct" },
  { "In.A", "string" },
  { "In.D", "duration" },
  { "(Emb)", "struct,embed" },
  { "(Emb).E", "bool" },
  { "T", "time" },
  { "O", "string,omitempty" },
  { "L", "[]*struct" },
  { "L.*.K", "string" },
  { 0 },
};

static void
check_typed (json_t *obj, const char *tmpl, const char *want)
{
  cleanup_free char *out = NULL;
  cleanup_error isola_error_t err = NULL;
  int ret = gotemplate_render (tmpl, obj, types, &out, &err);
  const char *got = ret == 0 ? out : err && err->msg ? err->msg : "(error)";
  CHECK (strcmp (got, want) == 0, "typed %s renders %s (got %s)", tmpl, want, got);
}

static void
test_typed (void)
{
  cleanup_json json_t *empty = json_pack ("{s:s}", "Name", "n");
  /* what is missing prints as Go's zero value of its type */
  check_typed (empty, "{{.P}} {{.S}} {{.M}} {{.In}} {{.E}} {{.T}} [{{.O}}]",
               "<nil> [] map[] { 0s} false 0001-01-01 00:00:00 +0000 UTC []");
  check_typed (empty, "{{json .P}} {{json .S}} {{json .M}} {{json .In}} {{json .O}}",
               "null null null {\"A\":\"\",\"D\":0} \"\"");
  /* json of a struct: every field in order, the embedded one's inline, omitempty ones only when set */
  check_typed (empty, "{{json .}}",
               "{\"Name\":\"n\",\"P\":null,\"S\":null,\"M\":null,\"In\":{\"A\":\"\",\"D\":0},\"E\":false,"
               "\"T\":\"0001-01-01T00:00:00Z\",\"L\":null}");
  /* a struct as fmt's %v: fields in braces, an embedded struct in its own, a pointer inside a value as an address */
  cleanup_json json_t *full = json_loads ("{\"Name\":\"n\",\"P\":{\"X\":3},\"S\":[\"a\",\"b\"],\"M\":{\"z\":\"1\","
                                          "\"a\":\"<&>\"},\"In\":{\"A\":\"x\",\"D\":3723500000000},\"E\":true,"
                                          "\"T\":\"2024-01-02T03:04:05.120Z\",\"O\":\"o\",\"L\":[{\"K\":\"k\"}]}",
                                          0, NULL);
  check_typed (full, "{{.P}} {{.S}} {{.M}} {{.In}} {{.E}} {{.T}} {{.O}} {{.L}}",
               "{3} [a b] map[a:<&> z:1] {x 1h2m3.5s} true 2024-01-02 03:04:05.12 +0000 UTC o [0xc000010000]");
  check_typed (full, "{{.}}",
               "{n 0xc000010000 [a b] map[a:<&> z:1] {x 1h2m3.5s} {true} 2024-01-02 03:04:05.12 +0000 UTC o "
               "[0xc000010000]}");
  /* json: maps sorted, HTML escaped as encoding/json does */
  check_typed (full, "{{json .M}} {{json .P}}", "{\"a\":\"\\u003c\\u0026\\u003e\",\"z\":\"1\"} {\"X\":3}");
  check_typed (full, "{{.M.z}} [{{.M.nope}}] [{{index .M \"nope\"}}] {{.P.X}}", "1 [<no value>] [] 3");
  check_typed (full, "{{index .S 1}} {{index .L 0}}", "b {k}");
  check_typed (full, "{{index .S 2}}",
               "template: :1:2: executing \"\" at <index .S 2>: error calling index: index out of range: 2");
  /* what the struct lacks (or a nil pointer on the way) runs again over the raw JSON, where a missing key is an
     error at Go's position: the chain's second field */
  check_typed (full, "{{.Extra}}", "template: :1:2: executing \"\" at <.Extra>: map has no entry for key \"Extra\"");
  check_typed (empty, "ab{{.P.X}}", "template: :1:6: executing \"\" at <.P.X>: map has no entry for key \"P\"");
  cleanup_json json_t *extra = json_pack ("{s:s, s:{s:i}}", "Name", "n", "Extra", "Y", 1);
  check_typed (extra, "{{.Extra.Y}} {{json .Extra}}", "1 {\"Y\":1}");
  cleanup_free char *out = NULL;
  CHECK (gotemplate_render ("{{.Nope}}", empty, types, &out, NULL) == -ENODATA, "a failing template: -ENODATA");
  CHECK (gotemplate_render ("{{.Name", empty, types, &out, NULL) == -EINVAL, "a template that does not parse: -EINVAL");

  /* completing an object as dockerd sends it: missing fields added (their fill, or zero), keys in field order, the
     keys it does not know kept after them; omitempty ones not added */
  cleanup_json json_t *obj = json_loads ("{\"Own\":1,\"In\":{\"D\":5},\"L\":[{}],\"Name\":\"n\"}", 0, NULL);
  gotype_complete (obj, types);
  cleanup_free char *s = json_dumps (obj, JSON_COMPACT);
  CHECK_STR (s,
             "{\"Name\":\"n\",\"P\":null,\"S\":[],\"M\":null,\"In\":{\"A\":\"\",\"D\":5},\"E\":false,"
             "\"T\":\"0001-01-01T00:00:00Z\",\"L\":[{\"K\":\"\"}],\"Own\":1}",
             "gotype_complete (got %s)", s);
}

/* 20,000 IDs: of random hex, ~0.35 % have a short form of digits only (~70 here); none may (random_id_hex). */
static void
test_random_ids (void)
{
  size_t digits_only = 0, bad = 0;
  for (int i = 0; i < 20000; i++)
    {
      digest_hex_t id;
      random_id_hex (id);
      if (!digest_hex_valid (id))
        bad++;
      if (strspn (id, "0123456789") >= 12)
        digits_only++;
    }
  CHECK (bad == 0, "random IDs are 64 lowercase hex characters (%zu were not)", bad);
  CHECK (digits_only == 0, "no random ID's short form is all digits, as Docker's (%zu were)", digits_only);
}

int
main (void)
{
  test_random_ids ();
  test_format ();
  test_typed ();
  test_human ();
  test_time ();
  test_atomic_write ();
  test_changes ();
  return tap_done ();
}

/* gotemplate: Go's text/template language as its documentation and implementation define it (every expectation
   is what Go 1.20's text/template prints), with the docker CLI's functions. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/gotemplate.h"
#include "base/json.h"
#include "base/util.h"
#include "tap.h"

static const char container[]
    = "{\"Name\":\"/"
      "web\",\"Id\":\"abc\",\"State\":{\"Running\":true,\"Status\":\"running\",\"Pid\":42,\"Health\":null},"
      "\"Config\":{\"Cmd\":[\"sh\",\"-c\",\"echo hi\"],\"Labels\":{\"b\":\"2\",\"a\":\"1\",\"c\":\"\"},\"Env\":[],"
      "\"Tty\":false,\"StopTimeout\":0},\"Mounts\":[{\"Source\":\"/s1\",\"Destination\":\"/d1\"},"
      "{\"Source\":\"/s2\",\"Destination\":\"/d2\"}],\"NetworkSettings\":{\"Networks\":{\"net2\":{\"IPAddress\":"
      "\"10.0.0.3\"},\"bridge\":{\"IPAddress\":\"172.17.0.2\"}}},\"Size\":1.5,\"Big\":1500000000.0,\"Empty\":\"\","
      "\"Status\":\"Up 2 minutes\",\"Names\":\"web\"}";

static json_t *
object (void)
{
  static json_t *obj;
  if (obj == NULL)
    obj = json_loads (container, 0, NULL);
  return obj;
}

static void
check (const char *tmpl, const char *want)
{
  cleanup_free char *out = NULL;
  cleanup_error isola_error_t err = NULL;
  int ret = gotemplate_render (tmpl, object (), NULL, &out, &err);
  const char *got = ret == 0 ? out : err && err->msg ? err->msg : "(error)";
  CHECK (strcmp (got, want) == 0, "%s renders \"%s\" (got \"%s\")", tmpl, want, got);
}

/* A template that fails: the message as the CLI prints it after "template parsing error: ". */
static void
check_fails (const char *tmpl, int status, const char *want)
{
  cleanup_free char *out = NULL;
  cleanup_error isola_error_t err = NULL;
  int ret = gotemplate_render (tmpl, object (), NULL, &out, &err);
  const char *got = ret == 0 ? out : err && err->msg ? err->msg : "(no message)";
  CHECK (ret == -status && strcmp (got, want) == 0, "%s fails with %d \"%s\" (got %d \"%s\")", tmpl, -status, want, ret,
         got);
}

static void
test_text_and_fields (void)
{
  check ("plain text", "plain text");
  check ("", "");
  check ("{{.Name}}", "/web");
  check ("{{.State.Status}}/{{.State.Pid}}", "running/42");
  check ("{{.Config.Cmd}}", "[sh -c echo hi]");
  check ("{{.Config.Labels}}", "map[a:1 b:2 c:]");
  check ("{{.State.Health}}", "<no value>");
  check ("{{.Size}} {{.Big}}", "1.5 1.5e+09");
}

static void
test_trim_and_comments (void)
{
  check ("a  {{- .Names -}}  b", "awebb");
  check ("a \n\t{{- .Names}} b", "aweb b");
  check ("{{.Names -}}\n\n  x", "webx");
  check ("a{{/* a comment */}}b", "ab");
  check ("a {{- /* trimmed */ -}} b", "ab");
  check ("{{- .Names}}", "web");
  check ("{{-3}}", "-3");
  check_fails ("{{/* open", EINVAL, "template: :1: unclosed comment");
  check_fails ("{{/* x */ .Names}}", EINVAL, "template: :1: comment ends before closing delimiter");
}

static void
test_if_else (void)
{
  check ("{{if .State.Running}}up{{else}}down{{end}}", "up");
  check ("{{if .Config.Tty}}tty{{else}}no tty{{end}}", "no tty");
  check ("{{if .Empty}}x{{else if .Config.Env}}env{{else if .Config.Cmd}}cmd{{else}}none{{end}}", "cmd");
  check ("{{if .Config.StopTimeout}}t{{end}}|{{if .Config.Labels}}l{{end}}|{{if .State.Health}}h{{end}}", "|l|");
  check ("{{if and .State.Running .Names}}both{{end}}", "both");
  check ("{{if not .Config.Tty}}!tty{{end}}", "!tty");
  check ("{{if eq .State.Status \"running\" \"paused\"}}live{{end}}", "live");
  check_fails ("{{if .Names}}x", EINVAL, "template: :1: unexpected EOF");
  check_fails ("{{end}}", EINVAL, "template: :1: unexpected {{end}}");
  check_fails ("{{else}}", EINVAL, "template: :1: unexpected {{else}}");
  check_fails ("{{if}}x{{end}}", EINVAL, "template: :1: missing value for if");
}

static void
test_range (void)
{
  check ("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "172.17.0.2 10.0.0.3 ");
  check ("{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}};{{end}}",
         "bridge=172.17.0.2;net2=10.0.0.3;");
  check ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}},{{end}}", "a=1,b=2,c=,");
  check ("{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}", "/s1:/d1 /s2:/d2 ");
  check ("{{range $i, $m := .Mounts}}{{$i}}{{$m.Source}}{{end}}", "0/s11/s2");
  check ("{{range $e := .Config.Cmd}}[{{$e}}]{{end}}", "[sh][-c][echo hi]");
  check ("{{range .Config.Env}}x{{else}}empty{{end}}", "empty");
  check ("{{range .State.Health}}x{{else}}nil{{end}}", "nil");
  check ("{{range .Config.Cmd}}{{if eq . \"-c\"}}{{continue}}{{end}}{{.}};{{end}}", "sh;echo hi;");
  check ("{{range .Config.Cmd}}{{if eq . \"-c\"}}{{break}}{{end}}{{.}};{{end}}", "sh;");
  check ("{{range .Mounts}}{{$.Names}}{{end}}", "webweb");
  check ("{{range 3}}{{.}}{{end}}", "012");
  check_fails ("{{range .Names}}x{{end}}", ENODATA,
               "template: :1:8: executing \"\" at <.Names>: range can't iterate over web");
  check_fails ("{{break}}", EINVAL, "template: :1: {{break}} outside {{range}}");
}

static void
test_with_and_variables (void)
{
  check ("{{with .State}}{{.Status}}{{end}}", "running");
  check ("{{with .State.Health}}{{.Status}}{{else}}no health{{end}}", "no health");
  check ("{{with $x := .Names}}{{$x}}{{end}}", "web");
  check ("{{$x := .Names}}{{$x}}-{{$x = \"db\"}}{{$x}}", "web-db");
  check ("{{$n := len .Mounts}}{{if gt $n 1}}many{{end}}", "many");
  check ("{{$.Names}}", "web");
  check ("{{if true}}{{$x := 1}}{{$x}}{{end}}", "1");
  check_fails ("{{if true}}{{$x := 1}}{{end}}{{$x}}", EINVAL, "template: :1: undefined variable \"$x\"");
  check_fails ("{{$y}}", EINVAL, "template: :1: undefined variable \"$y\"");
}

static void
test_pipelines_and_literals (void)
{
  check ("{{.Names | upper}}", "WEB");
  check ("{{.Names | printf \"%s!\"}}", "web!");
  check ("{{.Status | lower | title}}", "Up 2 Minutes");
  check ("{{(index .Mounts 1).Source}}", "/s2");
  check ("{{(.State).Status}}", "running");
  check ("{{\"a\\tb\\u00e9\"}} {{`raw\\n`}} {{3}} {{-2}} {{1.5}} {{0x10}} {{'a'}} {{true}}",
         "a\tb\xc3\xa9 raw\\n 3 -2 1.5 16 97 true");
  check ("{{print \"a\" 1 2 \"b\"}}", "a1 2b");
  check ("{{println 1 \"x\"}}", "1 x\n");
  check ("{{print .State.Running .Config.Cmd}}", "true [sh -c echo hi]");
  check_fails ("{{}}", EINVAL, "template: :1: missing value for command");
  check_fails ("{{.Names", EINVAL, "template: :1: unclosed action");
  check_fails ("{{nope .Names}}", EINVAL, "template: :1: function \"nope\" not defined");
  check_fails ("{{\"abc}}", EINVAL, "template: :1: unterminated quoted string");
  check_fails ("{{(.Names}}", EINVAL, "template: :1: unclosed left paren");
  check_fails ("{{.Names | \"x\"}}", EINVAL, "template: :1: non executable command in pipeline stage 2");
  check_fails ("a\n{{if}}", EINVAL, "template: :2: missing value for if");
  check_fails ("{{\"x\" 1}}", ENODATA,
               "template: :1:2: executing \"\" at <\"x\">: can't give argument to non-function \"x\"");
  check_fails ("{{nil}}", ENODATA, "template: :1:2: executing \"\" at <nil>: nil is not a command");
}

static void
test_builtins (void)
{
  check ("{{len .Mounts}} {{len .Config.Labels}} {{len .Names}} {{len .Config.Env}}", "2 3 3 0");
  check ("{{index .Config.Cmd 2}} {{index .Config.Labels \"b\"}} {{index .NetworkSettings.Networks \"net2\" "
         "\"IPAddress\"}}",
         "echo hi 2 10.0.0.3");
  check ("[{{index .Config.Labels \"zz\"}}]", "[<no value>]");
  check ("{{slice .Names 1}} {{slice .Names 0 2}} {{slice .Config.Cmd 1 2}}", "eb we [-c]");
  check ("{{and 1 0 2}} {{and 1 2}} {{or 0 \"\" .Names}} {{or 0 false}}", "0 2 web false");
  check ("{{or .State.Running .Nope.Deeper}}", "true"); /* short-circuit: the second is never evaluated */
  check ("{{not 0}} {{not .Names}}", "true false");
  check ("{{eq 1 1}} {{eq \"a\" \"b\"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2}}",
         "true false true true true true false");
  check ("{{eq .State.Pid 42}} {{lt .Size 2}}", "true true");
  check ("{{html \"<a href='x'>&\\\"\"}}", "&lt;a href=&#39;x&#39;&gt;&amp;&#34;");
  check ("{{js \"it's <b>\"}}", "it\\'s \\u003Cb\\u003E");
  check ("{{urlquery \"a b&c=d/é\"}}", "a+b%26c%3Dd%2F%C3%A9");
  check_fails ("{{index .Config.Cmd 5}}", ENODATA,
               "template: :1:2: executing \"\" at <index .Config.Cmd 5>: error calling index: index out of range: 5");
  check_fails ("{{len 3}}", ENODATA, "template: :1:2: executing \"\" at <len 3>: error calling len: len of type int");
  check_fails ("{{not 1 2}}", ENODATA,
               "template: :1:2: executing \"\" at <not>: wrong number of args for not: want 1 got 2");
  check_fails ("{{lt true false}}", ENODATA,
               "template: :1:2: executing \"\" at <lt true false>: error calling lt: invalid type for comparison");
  check_fails (
      "{{eq .Mounts 1}}", ENODATA,
      "template: :1:2: executing \"\" at <eq .Mounts 1>: error calling eq: non-comparable type []interface {}");
  check_fails ("{{eq \"a\" 1}}", ENODATA,
               "template: :1:2: executing \"\" at <eq \"a\" 1>: error calling eq: incompatible types for comparison");
}

static void
test_printf (void)
{
  check ("{{printf \"%s:%d\" .Names 3}}", "web:3");
  check ("{{printf \"%v %v %v\" .Config.Cmd .Config.Labels .State.Running}}", "[sh -c echo hi] map[a:1 b:2 c:] true");
  check ("{{printf \"%q %t %x %X %o %b %c\" .Names true 255 \"hi\" 8 5 65}}", "\"web\" true ff 6869 10 101 A");
  check ("[{{printf \"%5s|%-5s|%05d|%-4d|%+d\" \"ab\" \"ab\" 42 7 3}}]", "[   ab|ab   |00042|7   |+3]");
  check ("{{printf \"%.2f %6.1f %e %g %v\" 3.14159 2.0 1500.0 0.5 .Size}}", "3.14    2.0 1.500000e+03 0.5 1.5");
  check ("{{printf \"%.2s|%3.1s|100%%\" \"héllo\" \"xyz\"}}", "hé|  x|100%");
  check ("{{printf \"%d %s\" \"x\" 3}}", "%!d(string=x) %!s(int=3)");
  check ("{{printf \"%d %d\" 1}}", "1 %!d(MISSING)");
  check ("{{printf \"%d\" 1 \"x\"}}", "1%!(EXTRA string=x)");
  check ("{{printf \"%v %s\" .State.Health .State.Health}}", "<nil> %!s(<nil>)");
  check ("{{printf \"%x\" -255}}", "-ff");
}

static void
test_docker_functions (void)
{
  check ("{{join .Config.Cmd \" \"}}", "sh -c echo hi");
  check ("{{join .Config.Env \",\"}}", "");
  check ("{{split \"a,b,,c\" \",\"}} {{len (split .Names \"\")}}", "[a b  c] 3");
  check ("{{range split \"x:y\" \":\"}}<{{.}}>{{end}}", "<x><y>");
  check ("{{upper .Names}} {{lower \"AbC\"}} {{title \"hello wide_world foo-bar\"}}",
         "WEB abc Hello Wide_world Foo-Bar");
  check ("{{truncate .Names 2}} {{truncate .Names 10}}", "we web");
  check ("[{{pad .Names 2 1}}] [{{pad .Empty 2 1}}]", "[  web ] []");
  check ("{{json .Config.Cmd}} {{json .Names}} {{json 3}} {{json \"<&>\"}}",
         "[\"sh\",\"-c\",\"echo hi\"] \"web\" 3 \"\\u003c\\u0026\\u003e\"");
  check ("{{.Names | json}}", "\"web\"");
  check_fails (
      "{{join .Names \",\"}}", ENODATA,
      "template: :1:2: executing \"\" at <join .Names \",\">: wrong type for value; expected []string; got string");
  check_fails ("{{upper 3}}", ENODATA, "template: :1:8: executing \"\" at <3>: expected string; found 3");
}

/* the typed mode: a Go struct Name string, P *struct{X int}, S []string, M map[string]string, L []*struct{K string} */
static const struct gotype_field types[] = {
  { "Name", "string" },  { "P", "*struct" },           { "P.X", "int" },
  { "S", "[]string" },   { "M", "map[string]string" }, { "L", "[]*struct" },
  { "L.*.K", "string" }, { "D", "duration" },          { 0 },
};

static void
check_typed (const char *json, const char *tmpl, const char *want)
{
  cleanup_json json_t *obj = json_loads (json, 0, NULL);
  cleanup_free char *out = NULL;
  cleanup_error isola_error_t err = NULL;
  int ret = gotemplate_render (tmpl, obj, types, &out, &err);
  const char *got = ret == 0 ? out : err && err->msg ? err->msg : "(error)";
  CHECK (strcmp (got, want) == 0, "typed %s renders \"%s\" (got \"%s\")", tmpl, want, got);
}

static void
test_typed (void)
{
  const char *full = "{\"Name\":\"n\",\"P\":{\"X\":3},\"S\":[\"a\",\"b\"],\"M\":{\"z\":\"1\",\"a\":\"2\"},"
                     "\"L\":[{\"K\":\"k1\"},{\"K\":\"k2\"}],\"D\":1500000000}";
  check_typed (full, "{{range .L}}{{.K}} {{end}}", "k1 k2 ");
  check_typed (full, "{{range $k, $v := .M}}{{$k}}{{$v}}{{end}}", "a2z1");
  check_typed (full, "{{with .P}}{{.X}}{{end}} {{if .P}}p{{end}}", "3 p");
  check_typed (full, "{{len .S}} {{len .M}} {{join .S \"+\"}} {{upper .Name}}", "2 2 a+b N");
  check_typed (full, "{{printf \"%v|%d|%s\" .P .P.X .D}}", "&{3}|3|1.5s");
  check_typed (full, "{{index .L 1}} {{(index .L 0).K}}", "{k2} k1");
  check_typed (full, "{{eq .P.X 3}} {{.D}}", "true 1.5s");
  /* index of a struct (a JSON object too) fails typed, as Go's "can't index item of type", and the raw fallback
     indexes the object (it read past the type's name once: fuzz_gotemplate) */
  check_typed (full, "{{index . \"Name\"}} {{index .P \"X\"}} {{index .L 0 \"K\"}}", "n 3 k1");
  /* what is nil in the struct: false, empty, and the typed zero values */
  const char *empty = "{\"Name\":\"\"}";
  check_typed (empty, "{{if .P}}p{{else}}no p{{end}} {{len .S}} {{len .M}} {{range .S}}x{{else}}none{{end}}",
               "no p 0 0 none");
  check_typed (empty, "{{with .P}}{{.X}}{{else}}nil{{end}} {{.P}} {{.S}} {{.M}} [{{.Name}}]", "nil <nil> [] map[] []");
  /* a nil pointer on the way fails typed, and the raw fallback's error is the one shown */
  check_typed (empty, "{{.P.X}}", "template: :1:4: executing \"\" at <.P.X>: map has no entry for key \"P\"");
  check_typed (full, "{{.Nope}}", "template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\"");
  check_typed (full, "{{range .L}}{{.Nope}}{{end}}",
               "template: :1:14: executing \"\" at <.Nope>: map has no entry for key \"Nope\"");
}

int
main (void)
{
  test_text_and_fields ();
  test_trim_and_comments ();
  test_if_else ();
  test_range ();
  test_with_and_variables ();
  test_pipelines_and_literals ();
  test_builtins ();
  test_printf ();
  test_docker_functions ();
  test_typed ();
  json_decref (object ());
  return tap_done ();
}

/* Byte strings in JSON (base/jbytes.h): Go's U+FFFD for what is shown, an exact form that round-trips any bytes. */
#include <stdlib.h>
#include <string.h>

#include "base/jbytes.h"
#include "base/json.h"
#include "base/util.h"
#include "tap.h"

static void
test_valid (void)
{
  CHECK (utf8_valid ("plain ascii"), "ASCII is UTF-8");
  CHECK (utf8_valid ("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), "2, 3 and 4 byte sequences");
  CHECK (!utf8_valid ("\xff"), "0xff never starts a sequence");
  CHECK (!utf8_valid ("\xc0\xaf"), "an overlong form");
  CHECK (!utf8_valid ("\xed\xa0\x80"), "a surrogate");
  CHECK (!utf8_valid ("\xf4\x90\x80\x80"), "beyond U+10FFFF");
  CHECK (!utf8_valid ("\xe2\x82"), "a sequence cut short");
}

static void
test_shown (void)
{
  cleanup_json json_t *a = jbytes_shown ("a\xff\xfe"
                                         "b\xc3\xa9");
  CHECK_STR (json_string_value (a),
             "a\xef\xbf\xbd\xef\xbf\xbd"
             "b\xc3\xa9",
             "one U+FFFD for each bad byte, the rest kept");
  cleanup_json json_t *b = jbytes_shown ("\xe2\x82");
  CHECK_STR (json_string_value (b), "\xef\xbf\xbd\xef\xbf\xbd", "a cut sequence: one U+FFFD a byte, as Go");
}

static void
round_trip (const char *s, const char *what)
{
  cleanup_json json_t *j = jbytes_exact (s);
  cleanup_free char *text = json_dumps (j, JSON_COMPACT | JSON_ENCODE_ANY);
  cleanup_json json_t *back = json_loads (text, JSON_DECODE_ANY, NULL);
  cleanup_free char *v = jbytes_value (back);
  CHECK_STR (v, s, "round trip through JSON text: %s", what);
}

static void
test_exact (void)
{
  round_trip ("", "empty");
  round_trip ("UTF-8 \xc3\xa9", "UTF-8 stays a string");
  round_trip ("\xff\xfe\x01 x", "bytes that are not UTF-8");
  cleanup_json json_t *s = jbytes_exact ("ok");
  CHECK (json_is_string (s), "valid UTF-8 is a plain string");
  cleanup_json json_t *h = jbytes_exact ("\xff");
  CHECK_STR (json_string_value (json_object_get (h, "Hex")), "ff", "else {\"Hex\"}");
  static const char *const bad[] = { "{\"Hex\": \"f\"}",
                                     "{\"Hex\": \"zz\"}",
                                     "{\"Hex\": \"6100\"}",
                                     "{\"Hex\": \"61\", \"X\": 1}",
                                     "{\"Hex\": 1}",
                                     "5",
                                     "null" };
  for (size_t i = 0; i < ARRAY_SIZE (bad); i++)
    {
      cleanup_json json_t *j = json_loads (bad[i], JSON_DECODE_ANY, NULL);
      cleanup_free char *v = jbytes_value (j);
      CHECK (v == NULL, "refused: %s", bad[i]);
    }
  char *const v[] = { "a", "\xff", NULL };
  cleanup_json json_t *arr = jbytes_exact_array (v);
  cleanup_strv char **back = jbytes_strv (arr);
  CHECK (strv_len (back) == 2 && strcmp (back[1], "\xff") == 0, "arrays round-trip");
  CHECK (!strv_utf8_valid (v) && strv_utf8_valid ((char *const[]){ "a", NULL }), "strv_utf8_valid");
}

int
main (void)
{
  test_valid ();
  test_shown ();
  test_exact ();
  return tap_done ();
}

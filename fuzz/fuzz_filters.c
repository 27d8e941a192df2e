/* libFuzzer target for the Engine API's ?filters= (container/filters.h), as list, prune and events read it: arbitrary
   bytes as the query's value, parsed, turned into prune filters and event filters, and matched against a volume, a
   network and an event. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "container/filters.h"
#include "store/journal.h"

static void
fuzz_prune (const char *text)
{
  static const char *const also[] = { "dangling", "all", NULL };
  struct prune_filter f = { 0 };
  cleanup_strv char **others = NULL;
  cleanup_error isola_error_t err = NULL;
  int ret = filters_prune (text, also, &f, &others, &err);
  if (ret < 0 ? err == NULL || err->msg == NULL : err != NULL || others == NULL)
    abort ();
  if (ret == 0)
    {
      cleanup_json json_t *labels = json_pack ("{s:s, s:s}", "a", "b", "com.example", "");
      (void)prune_filter_matches (&f, 1700000000, labels);
      (void)prune_filter_matches (&f, 0, NULL);
    }
  prune_filter_clear (&f);
}

static void
fuzz_events (char **kv)
{
  cleanup_json json_t *filters = json_object ();
  for (size_t i = 0; kv && kv[i]; i++)
    {
      cleanup_error isola_error_t err = NULL;
      if (journal_filter_add (filters, kv[i], &err) < 0)
        {
          if (err == NULL || err->msg == NULL)
            abort ();
          return;
        }
    }
  cleanup_json json_t *attrs = json_pack ("{s:s, s:s, s:s}", "name", "web", "image", "busybox:latest", "a", "b");
  cleanup_json json_t *event
      = journal_event_new ("container", "exec_start: sh", "0123456789abcdef", attrs, 1700000000000000000);
  (void)journal_filter_match (filters, event);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  cleanup_free char *text = strndup ((const char *)data, size);
  if (text == NULL)
    return 0;
  cleanup_strv char **kv = NULL;
  if (filters_parse (text, &kv) == 0)
    {
      for (size_t i = 0; kv && kv[i]; i++)
        if (strchr (kv[i], '=') == NULL)
          abort ();
      static const char *const keys[] = { "name", "id", "label", "driver", NULL };
      cleanup_json json_t *volume = json_pack ("{s:s, s:s, s:s, s:{s:s}}", "Name", "data", "Id", "abc123", "Driver",
                                               "local", "Labels", "a", "b");
      cleanup_json json_t *network
          = json_pack ("{s:s, s:s, s:s, s:n}", "Name", "bridge", "Id", "f00", "Driver", "bridge", "Labels");
      bool listed = true;
      for (size_t i = 0; kv && kv[i]; i++)
        listed = listed && filters_listed (keys, kv[i]);
      if (listed)
        (void)filters_pass (volume, kv), (void)filters_pass (network, kv);
      fuzz_events (kv);
    }
  else if (kv != NULL)
    abort ();
  fuzz_prune (text);
  return 0;
}

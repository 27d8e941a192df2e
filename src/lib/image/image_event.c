/* An image's events (see image_event.h). */
#define _GNU_SOURCE
#include "image/image_event.h"

#include "base/json.h"
#include "base/util.h"
#include "image/oci.h"
#include "store/journal.h"

void
image_event (const struct isola_store *s, const char *id, const char *name, const char *action)
{
  cleanup_free char *full = xasprintf ("sha256:%s", id);
  cleanup_json json_t *attrs = json_object ();
  struct oci_config cfg = { 0 };
  cleanup_free char *text = NULL;
  size_t len = 0;
  if (blob_exists (s, id) && blob_read (s, id, OCI_JSON_MAX, &text, &len, NULL) == 0
      && oci_config_parse (text, len, &cfg, NULL) == 0)
    {
      const char *k;
      json_t *v;
      json_object_foreach (json_object_get (json_object_get (cfg.json, "config"), "Labels"), k, v)
      {
        if (json_is_string (v))
          json_object_set (attrs, k, v);
      }
    }
  oci_config_clear (&cfg);
  json_object_set_new (attrs, "name", json_string (name ? name : full));
  (void)journal_log (s->root, "image", action, full, attrs, NULL);
}

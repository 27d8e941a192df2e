#define _GNU_SOURCE
#include "image/history.h"

#include <errno.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "image/image.h"
#include "image/ingest.h"
#include "image/oci.h"

void
image_history_free (struct image_history_row *rows, size_t n)
{
  for (size_t i = 0; rows && i < n; i++)
    free (rows[i].created_by), free (rows[i].comment);
  free (rows);
}

static int64_t
entry_created (json_t *h)
{
  int64_t t = 0;
  const char *v = json_string_value (json_object_get (h, "created"));
  return v && time_parse_rfc3339 (v, &t) == 0 ? t : 0;
}

static char *
entry_string (json_t *h, const char *key)
{
  const char *v = json_string_value (json_object_get (h, key));
  return xstrdup (v ? v : "");
}

/* Fills rows oldest first, walking the layers as the non-empty entries consume them. */
static int
history_rows (const struct isola_store *s, const struct oci_config *cfg, struct image_history_row *rows,
              isola_error_t *err)
{
  json_t *history = json_object_get (cfg->json, "history");
  size_t layer = 0, i;
  json_t *h;
  digest_hex_t chain = "";
  json_array_foreach (history, i, h)
  {
    struct image_history_row *r = &rows[i];
    r->created = entry_created (h);
    r->created_by = entry_string (h, "created_by");
    r->comment = entry_string (h, "comment");
    if (json_is_true (json_object_get (h, "empty_layer")))
      continue;
    if (layer >= cfg->n_diff_ids)
      return isola_error_fail (err, EINVAL, "too many non-empty layers in History section");
    digest_hex_t next;
    chain_id_next (layer ? chain : NULL, cfg->diff_ids[layer], next);
    memcpy (chain, next, sizeof chain);
    int64_t size = snapshot_size (s, chain);
    r->size = size > 0 ? size : 0;
    layer++;
  }
  return 0;
}

/* The newest row is the image; each older row the parent of the one above, while there is one. */
static void
name_rows (const struct isola_store *s, const char *id, struct image_history_row *rows, size_t n)
{
  digest_hex_t cur;
  memcpy (cur, id, sizeof cur);
  for (size_t i = n; i-- > 0;)
    {
      memcpy (rows[i].id, cur, sizeof cur);
      struct image_record rec = { 0 };
      if (image_record_read (s, cur, &rec, NULL) < 0)
        return;
      memcpy (cur, rec.parent, sizeof cur);
      image_record_clear (&rec);
      if (cur[0] == '\0' || !image_exists (s, cur))
        return;
    }
}

int
image_history (const struct isola_store *s, const char *id, struct image_history_row **out, size_t *n_out,
               isola_error_t *err)
{
  struct oci_config cfg = { 0 };
  int ret = image_read_config (s, id, &cfg, err);
  if (ret < 0)
    return ret;
  size_t n = json_array_size (json_object_get (cfg.json, "history"));
  struct image_history_row *rows = xcalloc (n ? n : 1, sizeof (*rows));
  ret = history_rows (s, &cfg, rows, err);
  oci_config_clear (&cfg);
  if (ret < 0)
    {
      image_history_free (rows, n);
      return ret;
    }
  name_rows (s, id, rows, n);
  /* Newest first, as Docker lists them. */
  for (size_t i = 0; i < n / 2; i++)
    {
      struct image_history_row t = rows[i];
      rows[i] = rows[n - 1 - i];
      rows[n - 1 - i] = t;
    }
  *out = rows;
  *n_out = n;
  return 0;
}

#define _GNU_SOURCE
#include "image/image.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/util.h"
#include "image/image_event.h"
#include "image/oci.h"
#include "image/reference.h"

#define RECORD_MAX (1024 * 1024)
#define REFS_MAX   (64 * 1024 * 1024)

void
image_record_clear (struct image_record *r)
{
  free (r->chain_ids);
  free (r->loaded_at);
  strv_free (r->repo_digests);
  memset (r, 0, sizeof (*r));
}

char *
image_record_path (const struct isola_store *s, const char *id)
{
  return store_path (s, "images/%s.json", id);
}

bool
image_exists (const struct isola_store *s, const char *id)
{
  cleanup_free char *p = image_record_path (s, id);
  return path_exists (p);
}

static int
record_hex_field (json_t *o, const char *key, digest_hex_t out)
{
  const char *v = json_string_value (json_object_get (o, key));
  if (!digest_hex_valid (v))
    return -EINVAL;
  memcpy (out, v, DIGEST_HEX_LEN + 1);
  return 0;
}

static int
record_parse (json_t *o, struct image_record *r)
{
  if (record_hex_field (o, "id", r->id) < 0 || record_hex_field (o, "manifest", r->manifest) < 0)
    return -EINVAL;
  r->size = json_integer_value (json_object_get (o, "size"));
  r->created = json_integer_value (json_object_get (o, "created"));
  const char *loaded = json_string_value (json_object_get (o, "loaded_at"));
  r->loaded_at = xstrdup (loaded ? loaded : "");
  const char *parent = json_string_value (json_object_get (o, "parent"));
  if (parent && digest_hex_valid (parent))
    memcpy (r->parent, parent, DIGEST_HEX_LEN + 1);
  size_t k;
  json_t *d;
  json_array_foreach (json_object_get (o, "repo_digests"), k, d)
  {
    if (json_is_string (d))
      strv_push (&r->repo_digests, json_string_value (d));
  }
  json_t *chain = json_object_get (o, "chain_ids");
  if (!json_is_array (chain))
    return -EINVAL;
  r->n_layers = json_array_size (chain);
  r->chain_ids = xcalloc (r->n_layers, sizeof (digest_hex_t));
  for (size_t i = 0; i < r->n_layers; i++)
    {
      const char *v = json_string_value (json_array_get (chain, i));
      if (!digest_hex_valid (v))
        return -EINVAL;
      memcpy (r->chain_ids[i], v, DIGEST_HEX_LEN + 1);
    }
  return 0;
}

int
image_record_read (const struct isola_store *s, const char *id, struct image_record *out, isola_error_t *err)
{
  if (!digest_hex_valid (id))
    return isola_error_fail (err, EINVAL, "invalid image ID `%s`", id);
  cleanup_free char *path = image_record_path (s, id);
  cleanup_free char *buf = NULL;
  size_t len = 0;
  int ret = read_file_bounded (path, RECORD_MAX, &buf, &len, NULL);
  if (ret == -ENOENT)
    return isola_error_fail (err, ENOENT, "No such image: %s", id);
  if (ret < 0)
    return isola_error_make (err, -ret, "read image record `%s`", path);
  cleanup_json json_t *o = json_loadb (buf, len, 0, NULL);
  struct image_record r = { 0 };
  if (o == NULL || record_parse (o, &r) < 0 || strcmp (r.id, id) != 0)
    {
      image_record_clear (&r);
      return isola_error_fail (err, EINVAL, "corrupt image record `%s`", path);
    }
  *out = r;
  return 0;
}

int
image_record_write (struct isola_store *s, const struct image_record *r, isola_error_t *err)
{
  cleanup_json json_t *chain = json_array ();
  for (size_t i = 0; i < r->n_layers; i++)
    json_array_append_new (chain, json_string (r->chain_ids[i]));
  cleanup_json json_t *o = json_pack ("{s:s, s:s, s:I, s:I, s:O, s:s}", "id", r->id, "manifest", r->manifest, "size",
                                      (json_int_t)r->size, "created", (json_int_t)r->created, "chain_ids", chain,
                                      "loaded_at", r->loaded_at ? r->loaded_at : "");
  if (o == NULL)
    return isola_error_fail (err, ENOMEM, "cannot encode image record");
  if (r->parent[0])
    json_object_set_new (o, "parent", json_string (r->parent));
  if (r->repo_digests && r->repo_digests[0])
    {
      json_t *a = json_array ();
      for (size_t i = 0; r->repo_digests[i]; i++)
        json_array_append_new (a, json_string (r->repo_digests[i]));
      json_object_set_new (o, "repo_digests", a);
    }
  cleanup_free char *text = json_dumps (o, JSON_COMPACT | JSON_SORT_KEYS);
  cleanup_free char *path = image_record_path (s, r->id);
  return write_file_atomic (path, text, strlen (text), 0644, err);
}

const char *
image_record_repo_digest (const struct image_record *r, const char *name)
{
  size_t n = strlen (name);
  for (size_t i = 0; r->repo_digests && r->repo_digests[i]; i++)
    if (strncmp (r->repo_digests[i], name, n) == 0 && r->repo_digests[i][n] == '@')
      return r->repo_digests[i] + n + 1;
  return NULL;
}

bool
image_record_add_repo_digest (struct image_record *r, const char *name_at_digest)
{
  const char *at = strrchr (name_at_digest, '@');
  size_t n = at ? (size_t)(at - name_at_digest) : strlen (name_at_digest);
  for (size_t i = 0; r->repo_digests && r->repo_digests[i]; i++)
    if (strncmp (r->repo_digests[i], name_at_digest, n) == 0 && r->repo_digests[i][n] == '@')
      {
        if (strcmp (r->repo_digests[i], name_at_digest) == 0)
          return false;
        free (r->repo_digests[i]);
        r->repo_digests[i] = xstrdup (name_at_digest);
        return true;
      }
  strv_push (&r->repo_digests, name_at_digest);
  return true;
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

int
image_list_ids (const struct isola_store *s, char ***out, isola_error_t *err)
{
  cleanup_free char *dir = store_path (s, "images");
  cleanup_dir DIR *d = opendir (dir);
  if (d == NULL)
    return isola_error_make (err, errno, "open `%s`", dir);
  cleanup_strv char **ids = xcalloc (1, sizeof (char *));
  struct dirent *de;
  while ((de = readdir (d)))
    {
      if (!str_has_suffix (de->d_name, ".json") || strlen (de->d_name) != DIGEST_HEX_LEN + 5)
        continue;
      char hex[DIGEST_HEX_LEN + 1];
      memcpy (hex, de->d_name, DIGEST_HEX_LEN);
      hex[DIGEST_HEX_LEN] = '\0';
      if (digest_hex_valid (hex))
        strv_push (&ids, hex);
    }
  qsort (ids, strv_len (ids), sizeof (char *), compare_strings);
  *out = take_ptr (&ids);
  return 0;
}

bool
image_has_children (const struct isola_store *s, const char *id)
{
  cleanup_strv char **ids = NULL;
  if (image_list_ids (s, &ids, NULL) < 0)
    return false;
  bool found = false;
  for (size_t i = 0; !found && ids[i]; i++)
    {
      struct image_record rec = { 0 };
      if (image_record_read (s, ids[i], &rec, NULL) < 0)
        continue;
      found = strcmp (rec.parent, id) == 0;
      image_record_clear (&rec);
    }
  return found;
}

int
refs_read (const struct isola_store *s, json_t **out, isola_error_t *err)
{
  cleanup_free char *path = store_path (s, "refs.json");
  cleanup_free char *buf = NULL;
  size_t len = 0;
  int ret = read_file_bounded (path, REFS_MAX, &buf, &len, NULL);
  if (ret == -ENOENT)
    {
      *out = json_object ();
      return 0;
    }
  if (ret < 0)
    return isola_error_make (err, -ret, "read `%s`", path);
  json_error_t jerr;
  json_t *o = json_loadb (buf, len, 0, &jerr);
  if (!json_is_object (o))
    {
      json_decref (o);
      return isola_error_fail (err, EINVAL, "corrupt tag file `%s`", path);
    }
  *out = o;
  return 0;
}

int
refs_write (struct isola_store *s, json_t *refs, isola_error_t *err)
{
  cleanup_free char *text = json_dumps (refs, JSON_INDENT (1) | JSON_SORT_KEYS);
  if (text == NULL)
    return isola_error_fail (err, ENOMEM, "cannot encode tags");
  cleanup_free char *path = store_path (s, "refs.json");
  return write_file_atomic (path, text, strlen (text), 0644, err);
}

char **
refs_tags_of (json_t *refs, const char *id)
{
  char **tags = xcalloc (1, sizeof (char *));
  const char *key;
  json_t *val;
  json_object_foreach (refs, key, val)
  {
    const char *v = json_string_value (val);
    if (v && strcmp (v, id) == 0)
      strv_push (&tags, key);
  }
  qsort (tags, strv_len (tags), sizeof (char *), compare_strings);
  return tags;
}

static int
resolve_id_prefix (const struct isola_store *s, const char *prefix, const char *what, digest_hex_t out,
                   isola_error_t *err)
{
  size_t plen = strlen (prefix);
  cleanup_strv char **ids = NULL;
  int ret = image_list_ids (s, &ids, err);
  if (ret < 0)
    return ret;
  const char *found = NULL;
  for (size_t i = 0; ids[i]; i++)
    {
      if (strncmp (ids[i], prefix, plen) != 0)
        continue;
      if (found)
        return isola_error_fail (err, EINVAL, "ambiguous image ID prefix `%s`: it matches several images", what);
      found = ids[i];
    }
  if (found == NULL)
    return isola_error_fail (err, ENOENT, "No such image: %s", what);
  memcpy (out, found, DIGEST_HEX_LEN + 1);
  return 0;
}

static bool
is_hex_string (const char *s)
{
  if (*s == '\0' || strlen (s) > DIGEST_HEX_LEN)
    return false;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
      return false;
  return true;
}

/* name@sha256:D names the image whose manifest is D and which carries a tag in repository name. */
static bool
resolve_by_digest (const struct isola_store *s, json_t *refs, const struct image_ref *r, digest_hex_t out)
{
  const char *key;
  json_t *val;
  size_t nlen = strlen (r->name);
  json_object_foreach (refs, key, val)
  {
    const char *id = json_string_value (val);
    if (id == NULL || strncmp (key, r->name, nlen) != 0 || key[nlen] != ':')
      continue;
    struct image_record rec = { 0 };
    if (image_record_read (s, id, &rec, NULL) < 0)
      continue;
    bool match = strcmp (rec.manifest, r->digest + 7) == 0;
    image_record_clear (&rec);
    if (match)
      {
        memcpy (out, id, DIGEST_HEX_LEN + 1);
        return true;
      }
  }
  /* Or the image a registry named so (a pull by digest tags nothing). */
  cleanup_strv char **ids = NULL;
  if (image_list_ids (s, &ids, NULL) < 0)
    return false;
  for (size_t i = 0; ids[i]; i++)
    {
      struct image_record rec = { 0 };
      if (image_record_read (s, ids[i], &rec, NULL) < 0)
        continue;
      const char *d = image_record_repo_digest (&rec, r->name);
      bool match = d && strcmp (d, r->digest) == 0;
      image_record_clear (&rec);
      if (match)
        {
          memcpy (out, ids[i], DIGEST_HEX_LEN + 1);
          return true;
        }
    }
  return false;
}

int
image_resolve (const struct isola_store *s, json_t *refs, const char *what, digest_hex_t out, isola_error_t *err)
{
  if (str_has_prefix (what, "sha256:"))
    {
      if (!is_hex_string (what + 7))
        return isola_error_fail (err, EINVAL, "invalid image ID `%s`", what);
      return resolve_id_prefix (s, what + 7, what, out, err);
    }

  struct image_ref r = { 0 };
  if (image_ref_parse (what, &r, NULL) == 0)
    {
      bool found = false;
      if (r.digest)
        found = resolve_by_digest (s, refs, &r, out);
      else
        {
          cleanup_free char *key = image_ref_string (&r);
          const char *id = json_string_value (json_object_get (refs, key));
          if (id && digest_hex_valid (id))
            {
              memcpy (out, id, DIGEST_HEX_LEN + 1);
              found = true;
            }
        }
      cleanup_free char *shown = image_ref_string (&r);
      image_ref_clear (&r);
      if (found)
        return 0;
      if (!is_hex_string (what))
        return isola_error_fail (err, ENOENT, "No such image: %s", shown);
    }
  if (is_hex_string (what))
    return resolve_id_prefix (s, what, what, out, err);
  /* Not a valid reference and not an ID: let the reference parser say what is wrong with it. */
  int ret = image_ref_parse (what, &r, err);
  image_ref_clear (&r);
  return ret < 0 ? ret : isola_error_fail (err, ENOENT, "No such image: %s", what);
}

int
image_tag (struct isola_store *s, const char *id, const char *target, isola_error_t *err)
{
  struct image_ref r = { 0 };
  int ret = image_ref_parse_tagged (target, &r, err);
  if (ret < 0)
    return ret;
  cleanup_free char *key = image_ref_string (&r);
  image_ref_clear (&r);

  cleanup_json json_t *refs = NULL;
  ret = refs_read (s, &refs, err);
  if (ret < 0)
    return ret;
  json_object_set_new (refs, key, json_string (id));
  ret = refs_write (s, refs, err);
  if (ret == 0)
    image_event (s, id, key, "tag");
  return ret;
}

/* --- inspect ----------------------------------------------------------------------------------------------- */

int
image_read_config (const struct isola_store *s, const char *id, struct oci_config *out, isola_error_t *err)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  int ret = blob_read (s, id, OCI_JSON_MAX, &buf, &len, err);
  if (ret < 0)
    return ret;
  return oci_config_parse (buf, len, out, err);
}

static json_t *
string_array (char **v)
{
  json_t *a = json_array ();
  for (size_t i = 0; v && v[i]; i++)
    json_array_append_new (a, json_string (v[i]));
  return a;
}

/* What a registry named the image by, then the manifest's digest for the other repositories it is tagged in. */
static json_t *
repo_digests (char **tags, const struct image_record *rec)
{
  const char *manifest = rec->manifest;
  cleanup_strv char **names = xcalloc (1, sizeof (char *));
  for (size_t i = 0; rec->repo_digests && rec->repo_digests[i]; i++)
    strv_push (&names, rec->repo_digests[i]);
  for (size_t i = 0; tags[i]; i++)
    {
      cleanup_free char *name = xstrdup (tags[i]);
      char *colon = strrchr (name, ':');
      if (colon)
        *colon = '\0';
      cleanup_free char *d = xasprintf ("%s@sha256:%s", name, manifest);
      if (!strv_contains (names, d) && image_record_repo_digest (rec, name) == NULL)
        strv_push (&names, d);
    }
  return string_array (names);
}

static json_t *
config_string (json_t *config, const char *key)
{
  const char *v = json_string_value (json_object_get (config, key));
  return json_string (v ? v : "");
}

static json_t *
graph_driver (const struct isola_store *s, const struct image_record *rec)
{
  json_t *data = json_object ();
  if (rec->n_layers > 0)
    {
      cleanup_free char *upper = snapshot_fs (s, rec->chain_ids[rec->n_layers - 1]);
      json_object_set_new (data, "UpperDir", json_string (upper));
    }
  if (rec->n_layers > 1)
    {
      char *lower = NULL;
      for (size_t i = rec->n_layers - 1; i-- > 0;)
        {
          cleanup_free char *p = snapshot_fs (s, rec->chain_ids[i]);
          char *next = lower ? xasprintf ("%s:%s", lower, p) : xstrdup (p);
          free (lower);
          lower = next;
        }
      json_object_set_new (data, "LowerDir", json_string (lower));
      free (lower);
    }
  return json_pack ("{s:o, s:s}", "Data", data, "Name", "overlay");
}

int
image_inspect_json (const struct isola_store *s, json_t *refs, const char *id, json_t **out, isola_error_t *err)
{
  struct image_record rec = { 0 };
  int ret = image_record_read (s, id, &rec, err);
  if (ret < 0)
    return ret;
  struct oci_config cfg = { 0 };
  ret = image_read_config (s, id, &cfg, err);
  if (ret < 0)
    {
      image_record_clear (&rec);
      return ret;
    }
  cleanup_strv char **tags = refs_tags_of (refs, id);
  json_t *layers = json_array ();
  for (size_t i = 0; i < cfg.n_diff_ids; i++)
    json_array_append_new (layers, json_sprintf ("sha256:%s", cfg.diff_ids[i]));
  json_t *container_config = json_object_get (cfg.json, "container_config");

  json_t *o = json_object ();
  json_object_set_new (o, "Id", json_sprintf ("sha256:%s", id));
  json_object_set_new (o, "RepoTags", string_array (tags));
  json_object_set_new (o, "RepoDigests", repo_digests (tags, &rec));
  json_object_set_new (o, "Parent", rec.parent[0] ? json_sprintf ("sha256:%s", rec.parent) : json_string (""));
  json_object_set_new (o, "Comment", config_string (cfg.json, "comment"));
  json_object_set_new (o, "Created", json_string (cfg.created ? cfg.created : ""));
  json_object_set_new (o, "Container", config_string (cfg.json, "container"));
  json_object_set_new (o, "ContainerConfig", oci_docker_container_config (container_config));
  json_object_set_new (o, "DockerVersion", config_string (cfg.json, "docker_version"));
  json_object_set_new (o, "Author", config_string (cfg.json, "author"));
  json_object_set_new (o, "Config", oci_docker_container_config (json_object_get (cfg.json, "config")));
  json_object_set_new (o, "Architecture", json_string (cfg.architecture));
  if (json_is_string (json_object_get (cfg.json, "variant")))
    json_object_set (o, "Variant", json_object_get (cfg.json, "variant"));
  json_object_set_new (o, "Os", json_string (cfg.os));
  json_object_set_new (o, "Size", json_integer (rec.size));
  json_object_set_new (o, "VirtualSize", json_integer (rec.size));
  json_object_set_new (o, "GraphDriver", graph_driver (s, &rec));
  json_object_set_new (o, "RootFS", json_pack ("{s:s, s:o}", "Type", "layers", "Layers", layers));
  json_object_set_new (o, "Metadata", json_pack ("{s:s}", "LastTagTime", rec.loaded_at));
  oci_config_clear (&cfg);
  image_record_clear (&rec);
  *out = o;
  return 0;
}

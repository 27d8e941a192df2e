#define _GNU_SOURCE
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "image/image.h"
#include "image/oci.h"
#include "image/reference.h"

struct image_row
{
  char *repo, *tag, *id, *digest, *created, *size;
  int64_t created_at, size_bytes;
};

struct images_opts
{
  bool quiet, digests, no_trunc, all;
  struct image_ref filter; /* name empty when none */
  bool filter_has_tag;
  char **filters;     /* --filter "key=value" */
  const char *format; /* --format, NULL for the default table */
  /* before= and since=: the named images' creation times, resolved once the store is open */
  int64_t before, since;
  bool has_before, has_since;
};

/* The keys of Docker's `images --filter`. */
static const char *const filter_keys[] = { "dangling", "reference", "label", "before", "since" };

static int
compare_rows (const void *a, const void *b)
{
  const struct image_row *x = a, *y = b;
  if (x->created_at != y->created_at)
    return x->created_at > y->created_at ? -1 : 1;
  int c = strcmp (x->repo, y->repo);
  return c ? c : strcmp (x->tag, y->tag);
}

/* The values of one filter key, e.g. every reference=…; NULL when the key is not used. */
static char **
filter_values (const struct images_opts *o, const char *key)
{
  char **values = NULL;
  size_t klen = strlen (key);
  for (size_t i = 0; o->filters && o->filters[i]; i++)
    if (strncmp (o->filters[i], key, klen) == 0 && o->filters[i][klen] == '=')
      {
        if (values == NULL)
          values = xcalloc (1, sizeof (char *));
        strv_push (&values, o->filters[i] + klen + 1);
      }
  return values;
}

/* reference=PATTERN: Docker matches "repo:tag" and "repo" with path.Match ('*' stops at '/'). */
static bool
reference_matches (const struct images_opts *o, const char *repo, const char *tag)
{
  cleanup_strv char **patterns = filter_values (o, "reference");
  if (patterns == NULL)
    return true;
  cleanup_free char *full = xasprintf ("%s:%s", repo, tag);
  for (size_t i = 0; patterns[i]; i++)
    if (fnmatch (patterns[i], full, FNM_PATHNAME) == 0 || fnmatch (patterns[i], repo, FNM_PATHNAME) == 0)
      return true;
  return false;
}

static bool
row_matches (const struct images_opts *o, const char *repo, const char *tag)
{
  if (!reference_matches (o, repo, tag))
    return false;
  if (o->filter.name == NULL)
    return true;
  if (strcmp (repo, o->filter.name) != 0)
    return false;
  return !o->filter_has_tag || strcmp (tag, o->filter.tag) == 0;
}

/* label=KEY or label=KEY=VALUE against the image config's labels: any of them. */
static bool
labels_match (struct isola_store *store, const char *id, char **wanted)
{
  struct oci_config cfg = { 0 };
  if (image_read_config (store, id, &cfg, NULL) < 0)
    return false;
  json_t *labels = json_object_get (json_object_get (cfg.json, "config"), "Labels");
  bool any = false;
  for (size_t i = 0; !any && wanted[i]; i++)
    {
      cleanup_free char *key = xstrdup (wanted[i]);
      char *value = strchr (key, '=');
      if (value)
        *value++ = '\0';
      const char *have = json_string_value (json_object_get (labels, key));
      any = have && (value == NULL || strcmp (have, value) == 0);
    }
  oci_config_clear (&cfg);
  return any;
}

/* The filters that concern the image as a whole: dangling, label, before, since (keys ANDed, values ORed). */
static bool
image_wanted (struct isola_store *store, const struct image_record *rec, char **tags, const struct images_opts *o)
{
  /* Docker hides intermediate images (untagged, with children) unless -a. */
  if (!o->all && tags[0] == NULL && image_has_children (store, rec->id))
    return false;
  cleanup_strv char **dangling = filter_values (o, "dangling");
  if (dangling && (strcmp (dangling[0], "true") == 0) != (tags[0] == NULL))
    return false;
  cleanup_strv char **labels = filter_values (o, "label");
  if (labels && !labels_match (store, rec->id, labels))
    return false;
  if (o->has_before && rec->created >= o->before)
    return false;
  return !o->has_since || rec->created > o->since;
}

static void
add_row (struct image_row **rows, size_t *n, const struct image_record *rec, const char *repo, const char *tag,
         const struct images_opts *o, int64_t now)
{
  *rows = xrealloc (*rows, (*n + 1) * sizeof (**rows));
  struct image_row *r = &(*rows)[(*n)++];
  r->repo = xstrdup (repo);
  r->tag = xstrdup (tag);
  r->id = o->no_trunc ? xasprintf ("sha256:%s", rec->id) : xasprintf ("%.12s", rec->id);
  const char *repo_digest = image_record_repo_digest (rec, repo);
  r->digest = repo_digest ? xstrdup (repo_digest) : xasprintf ("sha256:%s", rec->manifest);
  cleanup_free char *ago = human_duration (now - rec->created);
  r->created = rec->created > 0 ? xasprintf ("%s ago", ago) : xstrdup ("N/A");
  r->size = human_size (rec->size);
  r->created_at = rec->created;
  r->size_bytes = rec->size;
}

static void
add_image_rows (struct image_row **rows, size_t *n, const struct image_record *rec, char **tags,
                const struct images_opts *o, int64_t now)
{
  cleanup_strv char **references = filter_values (o, "reference");
  /* An image pulled by digest only shows as its repository with no tag, as Docker shows it. */
  for (size_t i = 0; tags[0] == NULL && rec->repo_digests && rec->repo_digests[i]; i++)
    {
      cleanup_free char *repo = xstrdup (rec->repo_digests[i]);
      *strrchr (repo, '@') = '\0';
      if (row_matches (o, repo, "<none>"))
        add_row (rows, n, rec, repo, "<none>", o, now);
    }
  bool named = rec->repo_digests && rec->repo_digests[0];
  if (tags[0] == NULL && !named && o->filter.name == NULL && references == NULL)
    add_row (rows, n, rec, "<none>", "<none>", o, now);
  for (size_t i = 0; tags[i]; i++)
    {
      cleanup_free char *repo = xstrdup (tags[i]);
      char *colon = strrchr (repo, ':');
      *colon = '\0';
      if (row_matches (o, repo, colon + 1))
        add_row (rows, n, rec, repo, colon + 1, o, now);
    }
}

/* An image as Docker's images --format sees it, its fields sorted by name as Docker's {{json .}}. */
static json_t *
image_row_json (const struct image_row *r)
{
  cleanup_free char *created_at = r->created_at > 0 ? cli_created_at (r->created_at) : xstrdup ("");
  return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Containers", "N/A", "CreatedAt",
                    created_at, "CreatedSince", r->created, "Digest", r->digest, "ID", r->id, "Repository", r->repo,
                    "SharedSize", "N/A", "Size", r->size, "Tag", r->tag, "UniqueSize", "N/A", "VirtualSize", r->size);
}

static int
print_formatted (struct image_row *rows, size_t n, const struct images_opts *o, isola_error_t *err)
{
  cleanup_json json_t *list = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (list, image_row_json (&rows[i]));
  cleanup_json json_t *headers = json_pack (
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Containers", "CONTAINERS", "CreatedAt", "CREATED AT",
      "CreatedSince", "CREATED", "Digest", "DIGEST", "ID", "IMAGE ID", "Repository", "REPOSITORY", "SharedSize",
      "SHARED SIZE", "Size", "SIZE", "Tag", "TAG", "UniqueSize", "UNIQUE SIZE", "VirtualSize", "VIRTUAL SIZE");
  return cli_print_listing (o->format, list, headers, err);
}

static void
print_rows (struct image_row *rows, size_t n, const struct images_opts *o)
{
  if (o->quiet)
    {
      for (size_t i = 0; i < n; i++)
        printf ("%s\n", rows[i].id);
      return;
    }
  struct table *t = table_new ();
  if (o->digests)
    table_add (t, (const char *[]){ "REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE" }, 6);
  else
    table_add (t, (const char *[]){ "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE" }, 5);
  for (size_t i = 0; i < n; i++)
    {
      struct image_row *r = &rows[i];
      if (o->digests)
        table_add (t, (const char *[]){ r->repo, r->tag, r->digest, r->id, r->created, r->size }, 6);
      else
        table_add (t, (const char *[]){ r->repo, r->tag, r->id, r->created, r->size }, 5);
    }
  table_print (t);
  table_free (t);
}

static void
free_rows (struct image_row *rows, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (rows[i].repo), free (rows[i].tag), free (rows[i].id);
      free (rows[i].digest), free (rows[i].created), free (rows[i].size);
    }
  free (rows);
}

static int
list_images (struct isola_store *store, const struct images_opts *o, isola_error_t *err)
{
  cleanup_json json_t *refs = NULL;
  cleanup_strv char **ids = NULL;
  int ret = refs_read (store, &refs, err);
  if (ret == 0)
    ret = image_list_ids (store, &ids, err);
  if (ret < 0)
    return ret;
  struct image_row *rows = xcalloc (1, sizeof (*rows));
  size_t n = 0;
  int64_t now = (int64_t)time (NULL);
  for (size_t i = 0; ret == 0 && ids[i]; i++)
    {
      struct image_record rec = { 0 };
      ret = image_record_read (store, ids[i], &rec, err);
      if (ret < 0)
        break;
      cleanup_strv char **tags = refs_tags_of (refs, ids[i]);
      if (image_wanted (store, &rec, tags, o))
        add_image_rows (&rows, &n, &rec, tags, o, now);
      image_record_clear (&rec);
    }
  if (ret == 0)
    {
      qsort (rows, n, sizeof (*rows), compare_rows);
      if (o->quiet || cli_format_is_default (o->format))
        print_rows (rows, n, o);
      else
        ret = print_formatted (rows, n, o, err);
    }
  free_rows (rows, n);
  return ret;
}

/* A --filter as given: a known key, and for dangling a boolean; returns 0 or the usage error's exit code. */
static int
check_filter (const char *filter)
{
  const char *eq = strchr (filter, '=');
  if (eq == NULL)
    return cli_usage_error (&cmd_images, "bad format of filter (expected name=value)");
  bool known = false;
  for (size_t i = 0; i < ARRAY_SIZE (filter_keys); i++)
    known |= strlen (filter_keys[i]) == (size_t)(eq - filter) && strncmp (filter, filter_keys[i], eq - filter) == 0;
  if (!known)
    return cli_usage_error (&cmd_images, "invalid filter '%.*s'", (int)(eq - filter), filter);
  if (str_has_prefix (filter, "dangling=") && strcmp (eq + 1, "true") != 0 && strcmp (eq + 1, "false") != 0)
    return cli_usage_error (&cmd_images, "invalid filter '%s'", filter);
  return 0;
}

/* before=IMAGE and since=IMAGE: that image's creation time. */
static int
resolve_time_filter (struct isola_store *store, struct images_opts *o, const char *key, int64_t *out, bool *has,
                     isola_error_t *err)
{
  cleanup_strv char **values = filter_values (o, key);
  if (values == NULL)
    return 0;
  cleanup_json json_t *refs = NULL;
  digest_hex_t id;
  struct image_record rec = { 0 };
  int ret = refs_read (store, &refs, err);
  if (ret == 0)
    ret = image_resolve (store, refs, values[0], id, err);
  if (ret == 0)
    ret = image_record_read (store, id, &rec, err);
  if (ret < 0)
    return ret;
  *out = rec.created;
  *has = true;
  image_record_clear (&rec);
  return 0;
}

static int
run_images (struct cli_ctx *ctx, int argc, char **argv)
{
  struct images_opts o = { 0 };
  cleanup_strv char **filters = xcalloc (1, sizeof (char *));
  o.filters = filters;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_images, argc, argv);
  while ((c = cli_flag_next (&cmd_images, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'a':
        o.all = p.on;
        break;
      case 'q':
        o.quiet = p.on;
        break;
      case 'D':
        o.digests = p.on;
        break;
      case 'T':
        o.no_trunc = p.on;
        break;
      case 'f':
        if ((exit_code = check_filter (p.value)))
          return exit_code;
        strv_push (&filters, p.value);
        o.filters = filters;
        break;
      case 'F':
        o.format = p.value;
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs > 1)
    return cli_usage_error (&cmd_images, "\"isola images\" requires at most 1 argument.");

  cleanup_error isola_error_t err = NULL;
  if (p.nargs == 1)
    {
      const char *arg = p.args[0];
      if (image_ref_parse (arg, &o.filter, &err) < 0)
        return cli_fail (&err);
      o.filter_has_tag = strchr (strrchr (arg, '/') ? strrchr (arg, '/') : arg, ':') != NULL;
    }
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, false, &store)) == 0
      && (resolve_time_filter (store, &o, "before", &o.before, &o.has_before, &err) < 0
          || resolve_time_filter (store, &o, "since", &o.since, &o.has_since, &err) < 0
          || list_images (store, &o, &err) < 0))
    exit_code = cli_fail (&err);
  image_ref_clear (&o.filter);
  return exit_code;
}

const struct cli_command cmd_images = {
  .name = "images",
  .run = run_images,
  .usage = "isola images [OPTIONS] [REPOSITORY[:TAG]]",
  .summary = "List images",
  .flags = (const struct flag_def[]){
      { "all", 'a', 'a', NULL, "Show all images (default hides intermediate images)" },
      { "digests", 0, 'D', NULL, "Show digests" },
      { "filter", 'f', 'f', "filter",
        "Filter output based on conditions provided (dangling=true|false, reference=PATTERN,\n"
        "label=KEY[=VALUE], before=IMAGE, since=IMAGE)" },
      { "format", 0, 'F', "string",
        "Format output using a custom template:\n"
        "'table':            Print output in table format with column headers (default)\n"
        "'table TEMPLATE':   Print output in table format using the given Go template\n"
        "'json':             Print in JSON format\n"
        "'TEMPLATE':         Print output using the given Go template" },
      { "no-trunc", 0, 'T', NULL, "Don't truncate output" },
      { "quiet", 'q', 'q', NULL, "Only show image IDs" },
      { 0 },
  },
};

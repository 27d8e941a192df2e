#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "image/image.h"
#include "image/reference.h"

struct image_row
{
  char *repo, *tag, *id, *digest, *created, *size;
  int64_t created_at;
};

struct images_opts
{
  bool quiet, digests, no_trunc;
  struct image_ref filter; /* name empty when none */
  bool filter_has_tag;
};

static int
compare_rows (const void *a, const void *b)
{
  const struct image_row *x = a, *y = b;
  if (x->created_at != y->created_at)
    return x->created_at > y->created_at ? -1 : 1;
  int c = strcmp (x->repo, y->repo);
  return c ? c : strcmp (x->tag, y->tag);
}

static bool
row_matches (const struct images_opts *o, const char *repo, const char *tag)
{
  if (o->filter.name == NULL)
    return true;
  if (strcmp (repo, o->filter.name) != 0)
    return false;
  return !o->filter_has_tag || strcmp (tag, o->filter.tag) == 0;
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
  r->digest = xasprintf ("sha256:%s", rec->manifest);
  cleanup_free char *ago = human_duration (now - rec->created);
  r->created = rec->created > 0 ? xasprintf ("%s ago", ago) : xstrdup ("N/A");
  r->size = human_size (rec->size);
  r->created_at = rec->created;
}

static void
add_image_rows (struct image_row **rows, size_t *n, const struct image_record *rec, char **tags,
                const struct images_opts *o, int64_t now)
{
  if (tags[0] == NULL && o->filter.name == NULL)
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
      add_image_rows (&rows, &n, &rec, tags, o, now);
      image_record_clear (&rec);
    }
  if (ret == 0)
    {
      qsort (rows, n, sizeof (*rows), compare_rows);
      print_rows (rows, n, o);
    }
  free_rows (rows, n);
  return ret;
}

static int
run_images (struct cli_ctx *ctx, int argc, char **argv)
{
  struct images_opts o = { 0 };
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_images, argc, argv);
  while ((c = cli_flag_next (&cmd_images, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'a': /* isola stores no intermediate images: -a lists the same */
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
  if ((exit_code = cli_open_store (ctx, false, &store)) == 0 && list_images (store, &o, &err) < 0)
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
      { "no-trunc", 0, 'T', NULL, "Don't truncate output" },
      { "quiet", 'q', 'q', NULL, "Only show image IDs" },
      { 0 },
  },
};

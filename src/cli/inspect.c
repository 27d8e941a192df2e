#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/gotemplate.h"
#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "network/attach.h"
#include "container/container.h"
#include "container/inspect_shape.h"
#include "image/image.h"
#include "image/inspect_shape.h"

/* Each object through the template of its Go type, as Docker's CLI: a template that does not parse is a usage
   error (64); one that fails on an object is reported after the others are printed (1), and when nothing was
   printed, an empty line is. */
static int
print_formatted (json_t *items, const struct gotype_field **types, const char *format)
{
  size_t i, printed = 0;
  json_t *item;
  int exit_code = 0;
  cleanup_free char *errors = NULL;
  json_array_foreach (items, i, item)
  {
    cleanup_free char *text = NULL;
    cleanup_error isola_error_t err = NULL;
    int ret = gotemplate_render (format, item, types[i], &text, &err);
    const char *msg = err && err->msg ? err->msg : "unknown error";
    if (ret == -ENODATA)
      {
        char *more = xasprintf ("%s%stemplate parsing error: %s", errors ? errors : "", errors ? "\n" : "", msg);
        free (errors);
        errors = more;
        exit_code = EXIT_CMD_FAILED;
        continue;
      }
    if (ret < 0)
      {
        fprintf (stderr, "template parsing error: %s\n", msg);
        return 64;
      }
    printf ("%s\n", text);
    printed++;
  }
  if (printed == 0)
    putchar ('\n');
  if (errors)
    fprintf (stderr, "%s\n", errors);
  return exit_code;
}

/* Docker prints what it found (or "[]") and then fails if any name was unknown. */
static int
inspect_images (struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv)
{
  const char *format = NULL, *type = NULL;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, cmd, argc, argv);
  while ((c = cli_flag_next (cmd, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'f':
        format = p.value;
        break;
      case 't':
        if (strcmp (p.value, "image") != 0 && strcmp (p.value, "container") != 0)
          return cli_usage_error (cmd, "unsupported --type \"%s\": image or container", p.value);
        type = p.value;
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs < 1)
    return cli_usage_error (cmd, "\"%s\" requires at least 1 argument.", cmd->usage);

  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, false, &store)))
    return exit_code;
  bool images_only = cmd == &cmd_image_inspect || (type && strcmp (type, "image") == 0);
  bool containers_only = cmd == &cmd_container_inspect || (type && strcmp (type, "container") == 0);
  cleanup_error isola_error_t err = NULL;
  cleanup_json json_t *refs = NULL;
  if (refs_read (store, &refs, &err) < 0)
    return cli_fail (&err);
  cleanup_json json_t *items = json_array ();
  cleanup_free const struct gotype_field **types = xcalloc ((size_t)p.nargs + 1, sizeof (*types));
  for (int i = 0; i < p.nargs; i++)
    {
      cleanup_error isola_error_t one = NULL;
      digest_hex_t id;
      json_t *obj = NULL;
      char cid[DIGEST_HEX_LEN + 1];
      cleanup_container struct container *ctr = NULL;
      if (!images_only && container_resolve (store, p.args[i], cid, NULL) == 0
          && container_load_any (store, cid, &ctr, NULL) == 0)
        {
          (void)container_refresh (ctr, NULL);
          network_reap (store, ctr);
          types[json_array_size (items)] = container_inspect_types;
          json_t *o = container_inspect_json (ctr);
          json_object_set_new (o, "NetworkSettings", network_settings_json (ctr));
          container_inspect_complete (o);
          json_array_append_new (items, o);
          continue;
        }
      if (containers_only)
        {
          isola_error_fail (&one, ENOENT, "No such container: %s", p.args[i]);
          exit_code = cli_fail (&one);
          continue;
        }
      int ret = image_resolve (store, refs, p.args[i], id, &one);
      /* Docker's inspect of any kind of object names none of them when nothing has that name. */
      if (ret == -ENOENT && !images_only)
        {
          isola_error_release (&one);
          isola_error_fail (&one, ENOENT, "No such object: %s", p.args[i]);
        }
      if (ret < 0 || image_inspect_json (store, refs, id, &obj, &one) < 0)
        {
          exit_code = cli_fail (&one);
          continue;
        }
      types[json_array_size (items)] = image_inspect_types;
      json_array_append_new (items, obj);
    }
  if (format)
    {
      int ret = print_formatted (items, types, format);
      return ret ? ret : exit_code;
    }
  cleanup_free char *text = json_dumps (items, JSON_INDENT (4));
  printf ("%s\n", text);
  return exit_code;
}

static int
run_inspect (struct cli_ctx *ctx, int argc, char **argv)
{
  return inspect_images (ctx, &cmd_inspect, argc, argv);
}

static int
run_image_inspect (struct cli_ctx *ctx, int argc, char **argv)
{
  return inspect_images (ctx, &cmd_image_inspect, argc, argv);
}

static int
run_container_inspect (struct cli_ctx *ctx, int argc, char **argv)
{
  return inspect_images (ctx, &cmd_container_inspect, argc, argv);
}

/* image inspect and container inspect inspect one kind of object: no --type. */
static const struct flag_def inspect_one_kind_flags[] = {
  { "format", 'f', 'f', "string", "Format output using a Go template ({{.Id}}, {{json .Config}})" },
  { 0 },
};

static const struct flag_def inspect_flags[] = {
  { "format", 'f', 'f', "string", "Format output using a Go template ({{.Id}}, {{json .Config}})" },
  { "type", 0, 't', "string", "Only inspect objects of the given type (container, image)" },
  { 0 },
};

const struct cli_command cmd_inspect = {
  .name = "inspect",
  .run = run_inspect,
  .usage = "isola inspect [OPTIONS] NAME|ID [NAME|ID...]",
  .summary = "Return low-level information on isola objects",
  .flags = inspect_flags,
};

const struct cli_command cmd_image_inspect = {
  .name = "inspect",
  .run = run_image_inspect,
  .usage = "isola image inspect [OPTIONS] IMAGE [IMAGE...]",
  .summary = "Display detailed information on one or more images",
  .flags = inspect_one_kind_flags,
};

const struct cli_command cmd_container_inspect = {
  .name = "inspect",
  .run = run_container_inspect,
  .usage = "isola container inspect [OPTIONS] CONTAINER [CONTAINER...]",
  .summary = "Display detailed information on one or more containers",
  .flags = inspect_one_kind_flags,
};

#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "image/image.h"
#include "image/mount.h"
#include "image/remove.h"
#include "sandbox/overlay.h"

static int
run_image_prune (struct cli_ctx *ctx, int argc, char **argv)
{
  bool all = false, force = false;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_image_prune, argc, argv);
  while ((c = cli_flag_next (&cmd_image_prune, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'a':
        all = p.on;
        break;
      case 'f':
        force = p.on;
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs != 0)
    return cli_usage_error (&cmd_image_prune, "\"isola image prune\" accepts no arguments.");
  if (!force
      && !cli_confirm (all ? "WARNING! This will remove all images without at least one container associated to them."
                           : "WARNING! This will remove all dangling images."))
    return 0;

  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store_as (ctx, STORE_LOCK_COLLECT, &store)))
    return exit_code;
  cleanup_error isola_error_t err = NULL;
  struct rmi_report rep = { 0 };
  int64_t reclaimed = 0;
  int ret = image_prune (store, all, &rep, &reclaimed, &err);
  if (rep.deleted || rep.untagged)
    {
      printf ("Deleted Images:\n");
      for (size_t i = 0; rep.untagged && rep.untagged[i]; i++)
        printf ("untagged: %s\n", rep.untagged[i]);
      for (size_t i = 0; rep.deleted && rep.deleted[i]; i++)
        printf ("deleted: %s\n", rep.deleted[i]);
      printf ("\n");
    }
  rmi_report_clear (&rep);
  if (ret < 0)
    return cli_fail (&err);
  cleanup_free char *size = human_size (reclaimed);
  printf ("Total reclaimed space: %s\n", size);
  return 0;
}

static int
list_mounts (struct isola_store *store)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_strv char **ids = NULL;
  cleanup_json json_t *refs = NULL;
  if (image_list_ids (store, &ids, &err) < 0 || refs_read (store, &refs, &err) < 0)
    return cli_fail (&err);
  for (size_t i = 0; ids[i]; i++)
    {
      if (!image_is_mounted (store, ids[i]))
        continue;
      cleanup_strv char **tags = refs_tags_of (refs, ids[i]);
      cleanup_free char *path = image_mount_point (store, ids[i]);
      printf ("%s %s\n", tags[0] ? tags[0] : ids[i], path);
    }
  return 0;
}

static int
run_image_mount (struct cli_ctx *ctx, int argc, char **argv)
{
  struct flag_parser p;
  int exit_code = 0;
  if (cli_flags_parse_all (&cmd_image_mount, &p, argc, argv, &exit_code) < 0)
    return exit_code;
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, true, &store)))
    return exit_code;
  if (p.nargs == 0)
    return list_mounts (store);
  cleanup_json json_t *refs = NULL;
  cleanup_error isola_error_t err = NULL;
  if (refs_read (store, &refs, &err) < 0)
    return cli_fail (&err);
  for (int i = 0; i < p.nargs; i++)
    {
      cleanup_error isola_error_t one = NULL;
      digest_hex_t id;
      cleanup_free char *path = NULL;
      if (image_resolve (store, refs, p.args[i], id, &one) < 0 || image_mount (store, id, &path, &one) < 0)
        exit_code = cli_fail (&one);
      else
        printf ("%s\n", path);
    }
  return exit_code;
}

static int
run_image_unmount (struct cli_ctx *ctx, int argc, char **argv)
{
  bool all = false;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_image_unmount, argc, argv);
  while ((c = cli_flag_next (&cmd_image_unmount, &p, &exit_code)) > 0)
    if (c == 'a')
      all = p.on;
  if (c < 0)
    return exit_code;
  if (p.nargs == 0 && !all)
    return cli_usage_error (&cmd_image_unmount, "\"isola image unmount\" requires at least 1 argument or --all.");
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, true, &store)))
    return exit_code;
  cleanup_json json_t *refs = NULL;
  cleanup_strv char **ids = NULL;
  cleanup_error isola_error_t err = NULL;
  if (refs_read (store, &refs, &err) < 0 || (all && image_list_ids (store, &ids, &err) < 0))
    return cli_fail (&err);
  int n = all ? (int)strv_len (ids) : p.nargs;
  for (int i = 0; i < n; i++)
    {
      cleanup_error isola_error_t one = NULL;
      digest_hex_t id;
      if (all)
        memcpy (id, ids[i], sizeof id);
      if ((!all && image_resolve (store, refs, p.args[i], id, &one) < 0) || image_unmount (store, id, &one) < 0)
        exit_code = cli_fail (&one);
      else if (!all)
        printf ("%s\n", id);
    }
  return exit_code;
}

const struct cli_command cmd_image_prune = {
  .name = "prune",
  .run = run_image_prune,
  .usage = "isola image prune [OPTIONS]",
  .summary = "Remove unused images",
  .flags = (const struct flag_def[]){
      { "all", 'a', 'a', NULL, "Remove all unused images, not just dangling ones" },
      { "force", 'f', 'f', NULL, "Do not prompt for confirmation" },
      { 0 },
  },
};

const struct cli_command cmd_image_mount = {
  .name = "mount",
  .run = run_image_mount,
  .usage = "isola image mount [IMAGE...]",
  .summary = "Mount an image's root filesystem read-only and print where (lists mounted images without arguments)",
};

const struct cli_command cmd_image_unmount = {
  .name = "unmount",
  .run = run_image_unmount,
  .usage = "isola image unmount [OPTIONS] IMAGE [IMAGE...]",
  .summary = "Unmount an image's root filesystem",
  .flags = (const struct flag_def[]){
      { "all", 'a', 'a', NULL, "Unmount all mounted images" },
      { 0 },
  },
};

/* `isola image SUBCOMMAND`: Docker's management command, with its aliases for the top-level verbs.  The listing
   keeps Docker's shorter lines where isola's own summary says more. */
static const struct cli_subcommand image_subcommands[] = {
  { .name = "build", .cmd = &cmd_build },
  { .name = "history", .cmd = &cmd_history },
  { .name = "import", .cmd = &cmd_import },
  { .name = "inspect", .cmd = &cmd_image_inspect },
  { .name = "load", .cmd = &cmd_load, .summary = "Load an image from a tar archive or STDIN" },
  { .name = "ls", .cmd = &cmd_images },
  { .name = "list", .cmd = &cmd_images, .alias = true },
  { .name = "mount", .cmd = &cmd_image_mount, .summary = "Mount an image's root filesystem read-only" },
  { .name = "prune", .cmd = &cmd_image_prune },
  { .name = "pull", .cmd = &cmd_pull },
  { .name = "push", .cmd = &cmd_push },
  { .name = "rm", .cmd = &cmd_rmi },
  { .name = "remove", .cmd = &cmd_rmi, .alias = true },
  { .name = "save", .cmd = &cmd_save, .summary = "Save one or more images to a tar archive" },
  { .name = "tag", .cmd = &cmd_tag },
  { .name = "unmount", .cmd = &cmd_image_unmount },
  { .name = "umount", .cmd = &cmd_image_unmount, .alias = true },
};

static int
run_image (struct cli_ctx *ctx, int argc, char **argv)
{
  return cli_run_subcommand (ctx, &cmd_image, image_subcommands, ARRAY_SIZE (image_subcommands), argc, argv);
}

const struct cli_command cmd_image = {
  .name = "image",
  .run = run_image,
  .usage = "isola image COMMAND",
  .summary = "Manage images",
};

#define _GNU_SOURCE
#include "build/executor.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "build/context.h"
#include "build/copier.h"
#include "build/dockerfile.h"
#include "build/plan.h"
#include "container/container.h"
#include "container/create.h"
#include "container/layer.h"
#include "container/lifecycle.h"
#include "container/volume.h"
#include "image/commit.h"
#include "image/image.h"
#include "image/oci.h"
#include "proto/attach.h"
#include "proto/attach_client.h"
#include "sandbox/overlay.h"
#include "store/store.h"

struct builder
{
  const char *root;
  const struct build_options *o;
  struct isola_store *store; /* opened without a lock, for lookups; every change opens its own */
  char *work;                /* ROOT/builder/work/PID-XXXXXX: the context, the steps' layers */
  char *context;             /* work/context */
  int64_t context_bytes;     /* its size as the docker CLI's tar of it */
  int n_steps, step, n_layer_dirs;
  int run_code; /* a failed RUN's exit code */
  struct build_plan plan;
  char **stage_images; /* the image each stage ended with */
  json_t **stage_configs;
};

static void
emit (struct builder *b, enum build_event_kind kind, const char *text)
{
  if (b->o->progress == NULL)
    return;
  struct build_event ev = {
    .kind = kind, .text = text ? text : "", .len = text ? strlen (text) : 0, .step = b->step, .n_steps = b->n_steps
  };
  b->o->progress (&ev, b->o->progress_arg);
}

static json_t *
string_array (char *const *v)
{
  json_t *a = json_array ();
  for (size_t i = 0; v && v[i]; i++)
    json_array_append_new (a, json_string (v[i]));
  return a;
}

static char *
joined (char *const *v)
{
  cleanup_free char *out = xstrdup ("");
  for (size_t i = 0; v && v[i]; i++)
    {
      char *next = xasprintf ("%s%s%s", out, i ? " " : "", v[i]);
      free (out);
      out = next;
    }
  return take_ptr (&out);
}

/* --- the work directory ------------------------------------------------------------------------------------- */

/* Work directories of builds whose process is gone (killed): their mounts died with their children. */
static void
remove_stale_work (const char *parent)
{
  cleanup_dir DIR *d = opendir (parent);
  struct dirent *de;
  while (d && (de = readdir (d)))
    {
      long pid = strtol (de->d_name, NULL, 10);
      if (pid <= 0 || (kill ((pid_t)pid, 0) < 0 && errno == ESRCH))
        {
          if (de->d_name[0] == '.')
            continue;
          cleanup_free char *p = xasprintf ("%s/%s", parent, de->d_name);
          (void)rm_rf (p, NULL);
        }
    }
}

static int
make_work (struct builder *b, isola_error_t *err)
{
  cleanup_free char *parent = store_path (b->store, "builder/work");
  cleanup_free char *cache = store_path (b->store, "builder/cache");
  int ret = mkdir_p (parent, 0700, err);
  if (ret == 0)
    ret = mkdir_p (cache, 0700, err);
  if (ret < 0)
    return ret;
  remove_stale_work (parent);
  cleanup_free char *prefix = xasprintf ("%d-", (int)getpid ());
  ret = make_temp_dir (parent, prefix, &b->work, err);
  if (ret == 0)
    {
      b->context = xasprintf ("%s/context", b->work);
      if (mkdir (b->context, 0755) < 0)
        ret = isola_error_make (err, errno, "mkdir `%s`", b->context);
    }
  return ret;
}

/* --- the context -------------------------------------------------------------------------------------------- */

static int
copy_file_data (const char *from, const char *to, const struct stat *st, isola_error_t *err)
{
  cleanup_close int in = open (from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0)
    return isola_error_make (err, errno, "open `%s`", from);
  cleanup_close int out = open (to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0)
    return isola_error_make (err, errno, "create `%s`", to);
  char buf[65536];
  ssize_t n;
  while ((n = read (in, buf, sizeof buf)) > 0)
    if (write_all (out, buf, (size_t)n) < 0)
      return isola_error_make (err, errno, "write `%s`", to);
  if (n < 0)
    return isola_error_make (err, errno, "read `%s`", from);
  struct timespec ts[2] = { st->st_atim, st->st_mtim };
  if (fchown (out, st->st_uid, st->st_gid) < 0 || fchmod (out, st->st_mode & 07777) < 0 || futimens (out, ts) < 0)
    return isola_error_make (err, errno, "set the owner, mode and times of `%s`", to);
  return 0;
}

/* One entry of the walk into the work context: files hard-linked (the same inode: the same content hash), or
   copied across file systems. */
static int
take_entry (const char *from_root, const char *to_root, const struct context_entry *e, isola_error_t *err)
{
  cleanup_free char *from = xasprintf ("%s/%s", from_root, e->path);
  cleanup_free char *to = xasprintf ("%s/%s", to_root, e->path);
  if (S_ISDIR (e->st.st_mode))
    {
      if (mkdir (to, 0700) < 0 && errno != EEXIST)
        return isola_error_make (err, errno, "mkdir `%s`", to);
      if (lchown (to, e->st.st_uid, e->st.st_gid) < 0)
        return isola_error_make (err, errno, "chown `%s`", to);
      return 0;
    }
  if (S_ISLNK (e->st.st_mode))
    {
      char target[PATH_MAX];
      ssize_t n = readlink (from, target, sizeof target - 1);
      if (n < 0)
        return isola_error_make (err, errno, "readlink `%s`", from);
      target[n] = '\0';
      if (symlink (target, to) < 0)
        return isola_error_make (err, errno, "symlink `%s`", to);
      if (lchown (to, e->st.st_uid, e->st.st_gid) < 0)
        return isola_error_make (err, errno, "chown `%s`", to);
      return 0;
    }
  if (S_ISREG (e->st.st_mode))
    {
      if (link (from, to) == 0)
        return 0;
      return copy_file_data (from, to, &e->st, err);
    }
  return 0; /* devices, sockets and fifos are not sent */
}

/* Directories' modes and times once their contents are in (a read-only directory is filled first). */
static void
finish_dirs (const char *to_root, const struct context_list *l)
{
  for (size_t i = l->n; i-- > 0;)
    {
      const struct context_entry *e = &l->e[i];
      if (!S_ISDIR (e->st.st_mode))
        continue;
      cleanup_free char *to = xasprintf ("%s/%s", to_root, e->path);
      struct timespec ts[2] = { e->st.st_atim, e->st.st_mtim };
      (void)chmod (to, e->st.st_mode & 07777);
      (void)utimensat (AT_FDCWD, to, ts, AT_SYMLINK_NOFOLLOW);
    }
}

static int
read_dockerignore (const char *dir, char ***patterns, isola_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/.dockerignore", dir);
  cleanup_free char *buf = NULL;
  size_t len = 0;
  int ret = read_file_bounded (path, DOCKERFILE_MAX, &buf, &len, err);
  if (ret == -ENOENT)
    {
      isola_error_release (err);
      *patterns = xcalloc (1, sizeof (char *));
      return 0;
    }
  if (ret < 0)
    return ret;
  *patterns = dockerignore_read (buf, len);
  return 0;
}

/* The Dockerfile's path inside the context dir, or NULL when it is outside (the docker CLI then sends it apart). */
static char *
dockerfile_in_context (const char *context, const char *dockerfile)
{
  cleanup_free char *ctx = realpath (context, NULL);
  cleanup_free char *df = realpath (dockerfile, NULL);
  if (ctx == NULL || df == NULL)
    return NULL;
  size_t n = strlen (ctx);
  if (strncmp (df, ctx, n) != 0 || df[n] != '/')
    return NULL;
  return xstrdup (df + n + 1);
}

/* What the docker CLI sends of a directory: the walk without what .dockerignore excludes. */
static int
take_directory_context (struct builder *b, const char *dockerfile, char ***patterns, isola_error_t *err)
{
  int ret = read_dockerignore (b->o->context_dir, patterns, err);
  cleanup_strv char **send = NULL;
  cleanup_free char *rel = dockerfile_in_context (b->o->context_dir, dockerfile);
  if (ret == 0)
    {
      send = xcalloc (1, sizeof (char *));
      for (size_t i = 0; (*patterns)[i]; i++)
        strv_push (&send, (*patterns)[i]);
      ret = dockerignore_keep_build_files (&send, rel, err);
    }
  struct dockerignore ig = { 0 };
  struct context_list l = { 0 };
  if (ret == 0)
    ret = dockerignore_compile (send, &ig, err);
  if (ret == 0)
    ret = context_walk (b->o->context_dir, &ig, &l, err);
  /* The docker CLI's tar: a 512-byte header an entry, file contents in 512-byte blocks, two blocks at the end. */
  b->context_bytes = 1024;
  for (size_t i = 0; ret == 0 && i < l.n; i++)
    {
      b->context_bytes += 512 + (S_ISREG (l.e[i].st.st_mode) ? (l.e[i].st.st_size + 511) / 512 * 512 : 0);
      ret = take_entry (b->o->context_dir, b->context, &l.e[i], err);
    }
  if (ret == 0)
    finish_dirs (b->context, &l);
  context_list_clear (&l);
  dockerignore_clear (&ig);
  return ret;
}

/* The stream saved (a pipe cannot be read twice): a tar, or Docker's other form of `build -`, a Dockerfile alone. */
static int
save_stream (struct builder *b, char **path, bool *is_tar, isola_error_t *err)
{
  *path = xasprintf ("%s/stdin", b->work);
  cleanup_close int out = open (*path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0)
    return isola_error_make (err, errno, "create `%s`", *path);
  char buf[65536];
  ssize_t n;
  while ((n = read (b->o->context_tar_fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0 && write_all (out, buf, (size_t)n) < 0)
      return isola_error_make (err, errno, "write `%s`", *path);
  if (n < 0)
    return isola_error_make (err, errno, "read the context");
  off_t end = lseek (out, 0, SEEK_CUR);
  b->context_bytes = end > 0 ? (int64_t)end : 0;
  struct archive *a = archive_read_new ();
  archive_read_support_filter_all (a);
  archive_read_support_format_tar (a);
  struct archive_entry *e;
  *is_tar
      = archive_read_open_filename (a, *path, 65536) == ARCHIVE_OK && archive_read_next_header (a, &e) == ARCHIVE_OK;
  archive_read_free (a);
  return 0;
}

/* A context sent as a tar: extracted as the daemon's remotecontext does, nothing left out. */
static int
take_tar_context (struct builder *b, char ***patterns, isola_error_t *err)
{
  cleanup_free char *saved = NULL;
  bool is_tar = false;
  int ret = save_stream (b, &saved, &is_tar, err);
  if (ret < 0)
    return ret;
  if (!is_tar)
    {
      cleanup_free char *df = xasprintf ("%s/Dockerfile", b->context);
      if (rename (saved, df) < 0)
        return isola_error_make (err, errno, "rename `%s`", saved);
      *patterns = xcalloc (1, sizeof (char *));
      return 0;
    }
  cleanup_close int cwd = open (".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cwd < 0 || chdir (b->context) < 0)
    return isola_error_make (err, errno, "enter `%s`", b->context);
  struct archive *in = archive_read_new ();
  archive_read_support_filter_all (in);
  archive_read_support_format_tar (in);
  struct archive *out = archive_write_disk_new ();
  archive_write_disk_set_options (out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME
                                           | ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT
                                           | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  struct archive_entry *e;
  int r = ARCHIVE_OK;
  if (archive_read_open_filename (in, saved, 65536) != ARCHIVE_OK)
    ret = isola_error_fail (err, EINVAL, "unable to prepare context: %s", archive_error_string (in));
  while (ret == 0 && (r = archive_read_next_header (in, &e)) == ARCHIVE_OK)
    {
      if (archive_write_header (out, e) != ARCHIVE_OK)
        ret = isola_error_fail (err, EIO, "the context: %s", archive_error_string (out));
      const void *buf;
      size_t len;
      la_int64_t off;
      while (ret == 0 && (r = archive_read_data_block (in, &buf, &len, &off)) == ARCHIVE_OK)
        if (archive_write_data_block (out, buf, len, off) < 0)
          ret = isola_error_fail (err, EIO, "the context: %s", archive_error_string (out));
      if (ret == 0 && r != ARCHIVE_EOF)
        ret = isola_error_fail (err, EINVAL, "the context: %s", archive_error_string (in));
    }
  if (ret == 0 && r != ARCHIVE_EOF)
    ret = isola_error_fail (err, EINVAL, "the context: %s", archive_error_string (in));
  if (archive_write_close (out) != ARCHIVE_OK && ret == 0)
    ret = isola_error_fail (err, EIO, "the context: %s", archive_error_string (out));
  archive_write_free (out);
  archive_read_free (in);
  if (fchdir (cwd) < 0 && ret == 0)
    ret = isola_error_make (err, errno, "return to the working directory");
  if (ret == 0)
    ret = read_dockerignore (b->context, patterns, err);
  return ret;
}

/* remotecontext's removeDockerfile: the Dockerfile and .dockerignore were sent for the builder to read; when the
   patterns exclude them, COPY does not see them. */
static int
drop_build_files (struct builder *b, char *const *patterns, const char *dockerfile_rel, isola_error_t *err)
{
  const char *files[] = { ".dockerignore", dockerfile_rel };
  for (size_t i = 0; i < 2; i++)
    {
      bool excluded = false;
      if (files[i] == NULL || patterns[0] == NULL)
        continue;
      int ret = dockerignore_excludes (files[i], patterns, &excluded, err);
      if (ret < 0)
        return ret;
      cleanup_free char *p = xasprintf ("%s/%s", b->context, files[i]);
      if (excluded)
        (void)unlink (p);
    }
  return 0;
}

/* Reads the Dockerfile, with --label's LABEL appended as Docker's builder appends it. */
static int
read_dockerfile (struct builder *b, const char *path, struct dockerfile *df, isola_error_t *err)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  int ret = read_file_bounded (path, DOCKERFILE_MAX, &buf, &len, err);
  if (ret == -ENOENT)
    {
      isola_error_release (err);
      return isola_error_fail (err, ENOENT,
                               "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat %s: "
                               "no such file or directory",
                               path);
    }
  if (ret < 0)
    return ret;
  if (b->o->labels && b->o->labels[0])
    {
      cleanup_free char *line = xstrdup ("\nLABEL");
      for (size_t i = 0; b->o->labels[i]; i++)
        {
          cleanup_free char *key = xstrdup (b->o->labels[i]);
          char *eq = strchr (key, '=');
          if (eq)
            *eq++ = '\0';
          cleanup_free char *q = go_quote (key);
          char *next = xasprintf ("%s %s='%s'", line, q, eq ? eq : "");
          free (line);
          line = next;
        }
      char *all = xasprintf ("%.*s%s\n", (int)len, buf, line);
      free (buf);
      buf = all;
      len = strlen (all);
    }
  return dockerfile_parse (buf, len, df, err);
}

static int
prepare_context (struct builder *b, struct dockerfile *df, isola_error_t *err)
{
  cleanup_strv char **patterns = NULL;
  cleanup_free char *dockerfile = NULL, *rel = NULL;
  int ret;
  if (b->o->context_dir)
    {
      struct stat st;
      if (stat (b->o->context_dir, &st) < 0 || !S_ISDIR (st.st_mode))
        return isola_error_fail (err, ENOENT, "unable to prepare context: path \"%s\" not found", b->o->context_dir);
      dockerfile = b->o->dockerfile ? xstrdup (b->o->dockerfile) : xasprintf ("%s/Dockerfile", b->o->context_dir);
      ret = take_directory_context (b, dockerfile, &patterns, err);
      rel = dockerfile_in_context (b->o->context_dir, dockerfile);
    }
  else
    {
      ret = take_tar_context (b, &patterns, err);
      rel = path_clean (b->o->dockerfile ? b->o->dockerfile : "Dockerfile");
      dockerfile = xasprintf ("%s/%s", b->context, rel);
    }
  if (ret == 0 && b->o->progress)
    {
      struct build_event ev = { .kind = BUILD_EVENT_CONTEXT, .len = (size_t)b->context_bytes };
      b->o->progress (&ev, b->o->progress_arg);
    }
  if (ret == 0)
    ret = read_dockerfile (b, dockerfile, df, err);
  if (ret == 0)
    ret = drop_build_files (b, patterns, rel, err);
  return ret;
}

/* --- images ------------------------------------------------------------------------------------------------- */

static int
resolve_image (struct builder *b, const char *name, bool pull, digest_hex_t out, isola_error_t *err)
{
  if (pull && b->o->pull_image && b->o->pull_image (name, b->o->pull_arg) != 0)
    return isola_error_fail (err, EIO, "failed to pull %s", name);
  cleanup_json json_t *refs = NULL;
  int ret = refs_read (b->store, &refs, err);
  if (ret == 0)
    ret = image_resolve (b->store, refs, name, out, err);
  if (ret != -ENOENT || pull || b->o->pull_image == NULL)
    return ret;
  isola_error_release (err);
  if (b->o->pull_image (name, b->o->pull_arg) != 0)
    return isola_error_fail (err, EIO, "failed to pull %s", name);
  return image_resolve (b->store, refs, name, out, err);
}

static int
image_config (struct builder *b, const char *id, json_t **out, isola_error_t *err)
{
  struct oci_config cfg = { 0 };
  int ret = image_read_config (b->store, id, &cfg, err);
  if (ret == 0)
    {
      json_t *c = json_object_get (cfg.json, "config");
      *out = json_is_object (c) ? json_deep_copy (c) : json_object ();
    }
  oci_config_clear (&cfg);
  return ret;
}

/* --- the cache ---------------------------------------------------------------------------------------------- */

static bool
cache_lookup (struct builder *b, const char *key, digest_hex_t out)
{
  cleanup_free char *path = store_path (b->store, "builder/cache/%s", key);
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (read_file_bounded (path, 256, &buf, &len, NULL) < 0 || len < DIGEST_HEX_LEN)
    return false;
  buf[DIGEST_HEX_LEN] = '\0';
  if (!digest_hex_valid (buf) || !image_exists (b->store, buf))
    return false;
  memcpy (out, buf, DIGEST_HEX_LEN + 1);
  return true;
}

/* After the image is published: an entry never names an image that is not complete. */
static void
cache_store (struct builder *b, const char *key, const char *id)
{
  cleanup_free char *path = store_path (b->store, "builder/cache/%s", key);
  (void)write_file_atomic (path, id, strlen (id), 0600, NULL);
}

/* --- steps -------------------------------------------------------------------------------------------------- */

struct stage_run
{
  struct build_state st;
  digest_hex_t parent; /* "" while FROM scratch has no layer */
};

/* Docker's ContainerConfig of a step's image: the config with the step's command as Cmd. */
static json_t *
step_container_config (const struct build_state *st, char *const *cache_cmd)
{
  json_t *cc = json_deep_copy (st->config);
  json_object_set_new (cc, "Cmd", string_array (cache_cmd));
  return cc;
}

static int
commit_layer (struct builder *b, struct stage_run *r, const char *upper, char *const *cache_cmd, digest_hex_t out,
              isola_error_t *err)
{
  cleanup_store struct isola_store *s = NULL;
  int ret = store_open (b->root, STORE_LOCK_NONE, &s, err);
  if (ret < 0)
    return ret;
  cleanup_json json_t *cc = step_container_config (&r->st, cache_cmd);
  struct commit_options o = { .config = r->st.config, .container_config = cc, .author = r->st.author };
  return image_commit (s, upper, r->parent, &o, out, err);
}

static int
commit_config (struct builder *b, struct stage_run *r, char *const *cache_cmd, digest_hex_t out, isola_error_t *err)
{
  cleanup_free char *none = xasprintf ("%s/no-layer", b->work);
  return commit_layer (b, r, none, cache_cmd, out, err);
}

/* RUN: a container of the parent image, through the one create path. */
static json_t *
run_request (struct builder *b, const struct stage_run *r, const struct build_step *step)
{
  json_t *host = json_object ();
  if (b->o->isolation)
    json_object_set_new (host, "Isolation", json_string (b->o->isolation));
  if (b->o->network)
    json_object_set_new (host, "NetworkMode", json_string (b->o->network));
  json_t *req
      = json_pack ("{s:s, s:o, s:[], s:o, s:b, s:b, s:b, s:b, s:{s:[s]}, s:o}", "Image", r->parent, "Cmd",
                   string_array (step->run_argv), "Entrypoint", "Env", string_array (step->run_env), "AttachStdout", 1,
                   "AttachStderr", 1, "Tty", 0, "OpenStdin", 0, "Healthcheck", "Test", "NONE", "HostConfig", host);
  const char *user = json_string_value (json_object_get (r->st.config, "User"));
  const char *wd = json_string_value (json_object_get (r->st.config, "WorkingDir"));
  if (user && user[0])
    json_object_set_new (req, "User", json_string (user));
  if (wd && wd[0])
    json_object_set_new (req, "WorkingDir", json_string (wd));
  return req;
}

/* Relays the container's output to the progress callback until it exits. */
static int
relay_output (struct builder *b, int fd, struct attach_decoder *dec, int *code)
{
  struct attach_frame f;
  *code = 255;
  for (;;)
    {
      int ret = attach_client_read_frame (fd, dec, &f);
      if (ret < 0)
        return ret;
      if ((f.type == ATTACH_STDOUT || f.type == ATTACH_STDERR) && b->o->progress)
        {
          struct build_event ev = { .kind = BUILD_EVENT_OUTPUT,
                                    .text = (const char *)f.payload,
                                    .len = f.len,
                                    .stream = f.type == ATTACH_STDOUT ? 1 : 2 };
          b->o->progress (&ev, b->o->progress_arg);
        }
      else if (f.type == ATTACH_EXIT)
        {
          if (f.len == 4)
            *code = (int)attach_get_u32 (f.payload);
          return 0;
        }
    }
}

static int
start_and_wait (struct builder *b, struct isola_store *s, struct container *c, int *code, isola_error_t *err)
{
  struct attach_decoder dec;
  attach_decoder_init (&dec);
  int fd = -1;
  int ret = container_start (s, c, &fd, &dec, NULL, code, err);
  if (ret == 0)
    {
      ret = relay_output (b, fd, &dec, code);
      if (ret < 0)
        ret = isola_error_fail (err, EIO, "lost the container's output (%s)", strerror (-ret));
      close (fd);
    }
  attach_decoder_clear (&dec);
  if (ret == 0)
    ret = container_wait_stopped (c, err);
  return ret;
}

static int
step_run (struct builder *b, struct stage_run *r, const struct build_step *step, digest_hex_t out, isola_error_t *err)
{
  if (r->parent[0] == '\0')
    return isola_error_fail (err, ENOENT,
                             "failed to create shell: the image has no file system to run %s in (FROM scratch)",
                             step->run_argv[0]);
  cleanup_json json_t *req = run_request (b, r, step);
  cleanup_container struct container *c = NULL;
  int ret = container_create_from_request (b->root, req, NULL, &c, err);
  if (ret < 0)
    return ret;
  emit (b, BUILD_EVENT_RUNNING, c->id);
  cleanup_store struct isola_store *s = NULL;
  int code = 0;
  ret = store_open (b->root, STORE_LOCK_NONE, &s, err);
  if (ret == 0)
    ret = start_and_wait (b, s, c, &code, err);
  if (ret == 0 && code != 0)
    {
      cleanup_free char *cmd = joined (step->run_argv);
      ret = isola_error_fail (err, EIO, "The command '%s' returned a non-zero code: %d", cmd, code);
      b->run_code = code;
    }
  if (ret == 0)
    {
      cleanup_json json_t *cc = step_container_config (&r->st, step->cache_cmd);
      struct commit_options o = { .config = r->st.config, .container_config = cc, .author = r->st.author };
      ret = container_commit (s, c, false, &o, out, err);
    }
  /* Removed with its anonymous volumes (the image's VOLUMEs), as Docker's builder removes it: what RUN wrote
     there is not kept. */
  isola_error_t rm_err = NULL;
  cleanup_json json_t *mounts = json_incref (container_mounts (c));
  bool removed = s && container_rm (s, c, true, &rm_err) == 0;
  isola_error_release (&rm_err);
  /* After the commit, s holds the store's lock, which releasing the volumes takes. */
  store_close (take_ptr (&s));
  if (removed)
    {
      (void)volume_release_anonymous (b->root, mounts, NULL);
      emit (b, BUILD_EVENT_REMOVED, c->id);
    }
  return ret;
}

/* COPY, ADD and WORKDIR write files: in a child with a mount namespace of its own, the parent's file system under
   a new layer (overlayfs), and for --from the source image's file system read-only. */
struct layer_job
{
  struct builder *b;
  const struct stage_run *r;
  const struct build_step *step; /* NULL: WORKDIR */
  char *src_image;               /* --from's image, or NULL: the context */
  char **sources;                /* copier_sources, filled by the hash job */
  char *dir;                     /* the step's directory: upper, work, view, src */
  bool hash_only;
};

static int
mount_image (struct isola_store *s, const char *id, const char *target, isola_error_t *err)
{
  struct image_record rec = { 0 };
  int ret = image_record_read (s, id, &rec, err);
  if (ret == 0 && rec.n_layers > 0)
    ret = overlay_mount_view (s, rec.chain_ids, rec.n_layers, NULL, target, err);
  image_record_clear (&rec);
  return ret;
}

static int
mount_parent (struct isola_store *s, const char *parent, const char *dir, char **root, isola_error_t *err)
{
  cleanup_free char *upper = xasprintf ("%s/upper", dir), *work = xasprintf ("%s/work", dir);
  cleanup_free char *view = xasprintf ("%s/view", dir);
  if (mkdir (upper, 0755) < 0 || mkdir (work, 0700) < 0 || mkdir (view, 0755) < 0)
    return isola_error_make (err, errno, "mkdir in `%s`", dir);
  struct image_record rec = { 0 };
  int ret = 0;
  if (parent[0])
    ret = image_record_read (s, parent, &rec, err);
  if (ret == 0 && rec.n_layers > 0)
    {
      ret = overlay_mount_layers (s, rec.chain_ids, rec.n_layers, upper, work, view, err);
      *root = take_ptr (&view);
    }
  else if (ret == 0)
    *root = take_ptr (&upper); /* nothing under it: the layer is the whole file system */
  image_record_clear (&rec);
  return ret;
}

/* The sources of a COPY/ADD in src_root and their content hashes. */
static int
collect_sources (struct layer_job *j, const char *src_root, char ***sources, char ***hashes, isola_error_t *err)
{
  int ret = copier_sources (src_root, j->step->srcs, j->step->ins->kind == DF_ADD, sources, err);
  *hashes = xcalloc (1, sizeof (char *));
  for (size_t i = 0; ret == 0 && (*sources)[i]; i++)
    {
      cleanup_free char *hash = NULL;
      ret = context_source_hash (src_root, (*sources)[i], &hash, err);
      if (ret == 0)
        strv_push (hashes, hash);
    }
  return ret;
}

/* The same from the child that mounted --from's image: a line of path and a line of hash each, to fd. */
static int
hash_sources (struct layer_job *j, const char *src_root, int fd, isola_error_t *err)
{
  cleanup_strv char **sources = NULL, **hashes = NULL;
  int ret = collect_sources (j, src_root, &sources, &hashes, err);
  for (size_t i = 0; ret == 0 && sources[i]; i++)
    {
      cleanup_free char *line = xasprintf ("%s\n%s\n", sources[i], hashes[i]);
      if (write_all (fd, line, strlen (line)) < 0)
        ret = isola_error_make (err, errno, "write to the builder");
    }
  return ret;
}

static int
layer_job_child (struct layer_job *j, int fd, isola_error_t *err)
{
  struct builder *b = j->b;
  if (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return isola_error_make (err, errno, "make a private mount namespace");
  cleanup_free char *src_root = xstrdup (b->context);
  if (j->src_image)
    {
      free (src_root);
      src_root = xasprintf ("%s/src", j->dir);
      if (mkdir (src_root, 0755) < 0 && errno != EEXIST)
        return isola_error_make (err, errno, "mkdir `%s`", src_root);
      int ret = mount_image (b->store, j->src_image, src_root, err);
      if (ret < 0)
        return ret;
    }
  if (j->hash_only)
    return hash_sources (j, src_root, fd, err);
  cleanup_free char *root = NULL;
  int ret = mount_parent (b->store, j->r->parent, j->dir, &root, err);
  cleanup_close int root_fd = ret == 0 ? open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (ret == 0 && root_fd < 0)
    ret = isola_error_make (err, errno, "open `%s`", root);
  if (ret == 0 && j->step == NULL)
    ret = copier_mkdir (root_fd, json_string_value (json_object_get (j->r->st.config, "WorkingDir")), err);
  else if (ret == 0)
    {
      const char *wd = json_string_value (json_object_get (j->r->st.config, "WorkingDir"));
      struct copier_options o = { .dest = j->step->dest,
                                  .workdir = wd,
                                  .add = j->step->ins->kind == DF_ADD,
                                  .chown = j->step->chown,
                                  .chmod = j->step->chmod };
      ret = copier_copy (src_root, j->sources, root_fd, &o, err);
    }
  return ret;
}

/* Runs the job in a child; its output (hash lines) in *out.  The child's error comes back as "status message". */
static int
run_layer_job (struct layer_job *j, char **out, isola_error_t *err)
{
  int data[2], errp[2];
  if (pipe2 (data, O_CLOEXEC) < 0)
    return isola_error_make (err, errno, "pipe");
  if (pipe2 (errp, O_CLOEXEC) < 0)
    {
      close (data[0]), close (data[1]);
      return isola_error_make (err, errno, "pipe");
    }
  pid_t pid = fork ();
  if (pid < 0)
    {
      close (data[0]), close (data[1]), close (errp[0]), close (errp[1]);
      return isola_error_make (err, errno, "fork");
    }
  if (pid == 0)
    {
      close (data[0]), close (errp[0]);
      isola_error_t child_err = NULL;
      int ret = layer_job_child (j, data[1], &child_err);
      if (ret < 0)
        {
          cleanup_free char *msg = xasprintf ("%d %s", child_err ? child_err->status : EIO,
                                              child_err && child_err->msg ? child_err->msg : "failed");
          (void)write_all (errp[1], msg, strlen (msg));
        }
      _exit (ret < 0 ? 1 : 0);
    }
  close (data[1]), close (errp[1]);
  cleanup_free char *buf = NULL, *ebuf = NULL;
  size_t len = 0, elen = 0;
  int ret = read_fd_bounded (data[0], 64 << 20, &buf, &len, err);
  (void)read_fd_bounded (errp[0], 1 << 20, &ebuf, &elen, NULL);
  close (data[0]), close (errp[0]);
  int status = 0;
  (void)waitpid_retry (pid, &status);
  if (ebuf && elen > 0)
    {
      char *msg = strchr (ebuf, ' ');
      int code = atoi (ebuf);
      return isola_error_fail (err, code > 0 ? code : EIO, "%s", msg ? msg + 1 : ebuf);
    }
  if (ret == 0 && !(WIFEXITED (status) && WEXITSTATUS (status) == 0))
    ret = isola_error_fail (err, EIO, "the builder's file work failed (status %d)", status);
  if (ret == 0 && out)
    *out = take_ptr (&buf);
  return ret;
}

static char *
new_step_dir (struct builder *b, isola_error_t *err)
{
  char *dir = xasprintf ("%s/step-%d", b->work, b->n_layer_dirs++);
  if (mkdir (dir, 0700) < 0)
    {
      isola_error_make (err, errno, "mkdir `%s`", dir);
      free (dir);
      return NULL;
    }
  return dir;
}

static int
commit_job (struct builder *b, struct stage_run *r, struct layer_job *j, char *const *cache_cmd, digest_hex_t out,
            isola_error_t *err)
{
  j->dir = new_step_dir (b, err);
  if (j->dir == NULL)
    return -EIO;
  int ret = run_layer_job (j, NULL, err);
  cleanup_free char *upper = xasprintf ("%s/upper", j->dir);
  if (ret == 0)
    ret = commit_layer (b, r, upper, cache_cmd, out, err);
  (void)rm_rf (j->dir, NULL);
  free (j->dir);
  j->dir = NULL;
  return ret;
}

/* COPY/ADD: the sources and their hashes (for the cache key), before the copy that a cached step skips. */
static int
copy_sources (struct builder *b, struct build_step *step, struct layer_job *j, char ***hashes, isola_error_t *err)
{
  const char *what = df_kind_name (step->ins->kind);
  int ret = 0;
  if (step->from_stage >= 0)
    j->src_image = xstrdup (b->stage_images[step->from_stage]);
  else if (step->from_image)
    {
      digest_hex_t from;
      ret = resolve_image (b, step->from_image, false, from, err);
      if (ret == 0)
        j->src_image = xstrdup (from);
    }
  if (ret == 0 && j->src_image)
    {
      cleanup_free char *text = NULL;
      j->hash_only = true;
      j->dir = new_step_dir (b, err);
      ret = j->dir ? run_layer_job (j, &text, err) : -EIO;
      if (j->dir)
        (void)rm_rf (j->dir, NULL);
      free (j->dir);
      j->dir = NULL;
      j->hash_only = false;
      j->sources = xcalloc (1, sizeof (char *));
      *hashes = xcalloc (1, sizeof (char *));
      char *save = NULL;
      for (char *line = ret == 0 ? strtok_r (text, "\n", &save) : NULL; line; line = strtok_r (NULL, "\n", &save))
        {
          strv_push (&j->sources, line);
          if ((line = strtok_r (NULL, "\n", &save)))
            strv_push (hashes, line);
        }
    }
  else if (ret == 0)
    ret = collect_sources (j, b->context, &j->sources, hashes, err);
  if (ret < 0)
    return isola_error_wrap (err, ret, "%s failed", what);
  return 0;
}

/* One step: prepared (config, command), looked up in the cache, else run; the chain goes on from its image. */
static int
run_step (struct builder *b, struct stage_run *r, const struct df_instruction *ins, isola_error_t *err)
{
  struct build_step step;
  int ret = build_step_prepare (&r->st, ins, &step, err);
  if (ret < 0)
    return ret;
  for (size_t i = 0; r->st.notes && r->st.notes[i]; i++)
    emit (b, BUILD_EVENT_WARNING, r->st.notes[i]);
  strv_free (r->st.notes);
  r->st.notes = xcalloc (1, sizeof (char *));
  struct layer_job j = { .b = b, .r = r, .step = &step };
  cleanup_strv char **hashes = NULL;
  if (step.action == BUILD_COPY && (ret = copy_sources (b, &step, &j, &hashes, err)) == 0)
    build_step_copy_cmd (&step, &r->st, hashes);
  digest_hex_t key, id;
  if (ret == 0)
    build_cache_key (r->parent, r->st.config, step.cache_cmd, key);
  if (ret == 0 && !b->o->no_cache && cache_lookup (b, key, id))
    emit (b, BUILD_EVENT_CACHED, NULL);
  else if (ret == 0)
    {
      switch (step.action)
        {
        case BUILD_COMMIT:
          ret = commit_config (b, r, step.cache_cmd, id, err);
          break;
        case BUILD_RUN:
          ret = step_run (b, r, &step, id, err);
          break;
        case BUILD_WORKDIR:
          j.step = NULL;
          ret = commit_job (b, r, &j, step.cache_cmd, id, err);
          break;
        case BUILD_COPY:
          ret = commit_job (b, r, &j, step.cache_cmd, id, err);
          break;
        }
      if (ret == 0)
        cache_store (b, key, id);
    }
  if (ret == 0)
    {
      memcpy (r->parent, id, sizeof id);
      cleanup_free char *shown = xasprintf ("%.12s", id);
      emit (b, BUILD_EVENT_IMAGE, shown);
    }
  strv_free (j.sources);
  free (j.src_image);
  build_step_clear (&step);
  return ret;
}

/* FROM: the base (scratch, an earlier stage, or an image, pulled when missing or with --pull). */
static int
begin_stage (struct builder *b, size_t i, struct stage_run *r, struct df_instruction **triggers, size_t *n_triggers,
             isola_error_t *err)
{
  const struct plan_stage *ps = &b->plan.stages[i];
  cleanup_json json_t *base = NULL;
  int ret = 0;
  r->parent[0] = '\0';
  if (ps->base_stage >= 0)
    {
      memcpy (r->parent, b->stage_images[ps->base_stage], DIGEST_HEX_LEN + 1);
      base = json_incref (b->stage_configs[ps->base_stage]);
    }
  else if (!ps->scratch)
    {
      ret = resolve_image (b, ps->base, b->o->pull, r->parent, err);
      if (ret == 0)
        ret = image_config (b, r->parent, &base, err);
    }
  if (ret < 0)
    return ret;
  cleanup_free char *shown = xasprintf ("%.12s", r->parent);
  emit (b, BUILD_EVENT_IMAGE, shown);
  return build_state_begin (&r->st, &b->plan, i, base, triggers, n_triggers, err);
}

static int
run_stage (struct builder *b, size_t i, isola_error_t *err)
{
  const struct plan_stage *ps = &b->plan.stages[i];
  const struct dockerfile *df = b->plan.df;
  struct stage_run r = { 0 };
  struct df_instruction *triggers = NULL;
  size_t n_triggers = 0;
  b->step++;
  emit (b, BUILD_EVENT_STEP, ps->from->original);
  int ret = begin_stage (b, i, &r, &triggers, &n_triggers, err);
  if (ret < 0)
    return ret;
  if (n_triggers > 0)
    {
      struct build_event ev = { .kind = BUILD_EVENT_TRIGGERS, .step = (int)n_triggers };
      if (b->o->progress)
        b->o->progress (&ev, b->o->progress_arg);
    }
  for (size_t t = 0; ret == 0 && t < n_triggers; t++)
    ret = run_step (b, &r, &triggers[t], err);
  for (size_t k = ps->first + 1; ret == 0 && k < ps->end; k++)
    {
      b->step++;
      emit (b, BUILD_EVENT_STEP, df->ins[k].original);
      ret = run_step (b, &r, &df->ins[k], err);
    }
  /* A stage of FROM alone is its base image; FROM scratch alone has none. */
  if (ret == 0 && r.parent[0] == '\0')
    ret = commit_config (b, &r, (char *[]){ "/bin/sh", "-c", "#(nop) ", "FROM scratch", NULL }, r.parent, err);
  if (ret == 0)
    {
      b->stage_images[i] = xstrdup (r.parent);
      b->stage_configs[i] = json_incref (r.st.config);
    }
  for (size_t t = 0; t < n_triggers; t++)
    df_instruction_clear (&triggers[t]);
  free (triggers);
  build_state_clear (&r.st);
  return ret;
}

static int
tag_result (struct builder *b, const char *id, isola_error_t *err)
{
  if (b->o->tags == NULL || b->o->tags[0] == NULL)
    return 0;
  cleanup_store struct isola_store *s = NULL;
  int ret = store_open (b->root, STORE_LOCK_EXCLUSIVE, &s, err);
  for (size_t i = 0; ret == 0 && b->o->tags[i]; i++)
    ret = image_tag (s, id, b->o->tags[i], err);
  return ret;
}

static int
run_plan (struct builder *b, struct build_result *result, isola_error_t *err)
{
  const struct dockerfile *df = b->plan.df;
  /* Docker's count: the meta ARGs, each stage's FROM and its instructions. */
  size_t meta = b->plan.stages[0].first;
  b->n_steps = (int)meta;
  for (size_t i = 0; i < b->plan.n_stages; i++)
    b->n_steps += (int)(b->plan.stages[i].end - b->plan.stages[i].first);
  for (size_t i = 0; i < meta; i++)
    {
      b->step++;
      emit (b, BUILD_EVENT_STEP, df->ins[i].original);
    }
  b->stage_images = xcalloc (b->plan.n_stages + 1, sizeof (char *));
  b->stage_configs = xcalloc (b->plan.n_stages + 1, sizeof (json_t *));
  result->in_step = true;
  int ret = 0;
  for (size_t i = 0; ret == 0 && i < b->plan.n_stages; i++)
    ret = run_stage (b, i, err);
  if (ret < 0)
    return ret;
  for (size_t i = 0; b->plan.warnings[i]; i++)
    emit (b, BUILD_EVENT_WARNING, b->plan.warnings[i]);
  const char *id = b->stage_images[b->plan.n_stages - 1];
  memcpy (result->id, id, DIGEST_HEX_LEN + 1);
  return tag_result (b, id, err);
}

static void
builder_clear (struct builder *b)
{
  for (size_t i = 0; b->stage_images && i < b->plan.n_stages; i++)
    {
      free (b->stage_images[i]);
      json_decref (b->stage_configs[i]);
    }
  free (b->stage_images);
  free (b->stage_configs);
  build_plan_clear (&b->plan);
  if (b->work)
    (void)rm_rf (b->work, NULL);
  free (b->work);
  free (b->context);
  store_close (b->store);
}

int
build_run (const char *root, const struct build_options *o, struct build_result *result, isola_error_t *err)
{
  struct builder b = { .root = root, .o = o };
  struct dockerfile df = { 0 };
  *result = (struct build_result){ 0 };
  int ret = store_open (root, STORE_LOCK_NONE, &b.store, err);
  if (ret == 0)
    ret = make_work (&b, err);
  if (ret == 0)
    ret = prepare_context (&b, &df, err);
  for (size_t i = 0; ret == 0 && df.warnings && df.warnings[i]; i++)
    emit (&b, BUILD_EVENT_WARNING, df.warnings[i]);
  if (ret == 0)
    ret = build_plan_make (&df, o->build_args, o->target, &b.plan, err);
  if (ret == 0)
    ret = run_plan (&b, result, err);
  result->exit_code = ret < 0 ? (b.run_code > 0 ? b.run_code : 1) : 0;
  builder_clear (&b);
  dockerfile_clear (&df);
  return ret;
}

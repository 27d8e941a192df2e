/* isola-runtime's container directories and their status. */
#define _GNU_SOURCE
#include "runtime/state.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "runtime/oci.h"
#include "sandbox/cgroup.h"

bool
rt_id_valid (const char *id)
{
  if (id == NULL || id[0] == '\0' || strcmp (id, ".") == 0 || strcmp (id, "..") == 0 || strlen (id) > 1024)
    return false;
  for (const char *p = id; *p; p++)
    if (!isalnum ((unsigned char)*p) && !strchr ("_+.-", *p))
      return false;
  return true;
}

const char *
rt_status_name (enum rt_status s)
{
  static const char *const names[] = { "created", "running", "paused", "stopped" };
  return names[s];
}

char *
rt_cgroup_name (const char *id)
{
  return xasprintf ("runtime-%s", id);
}

/* Components of a cgroupsPath: no "..", ".", or empty ones ("a//b"), which would climb out of or alias a parent. */
static bool
cgroup_components_valid (const char *path)
{
  cleanup_free char *copy = xstrdup (path);
  char *save = NULL;
  bool any = false;
  for (char *c = strtok_r (copy, "/", &save); c; c = strtok_r (NULL, "/", &save))
    {
      if (strcmp (c, "..") == 0 || strcmp (c, ".") == 0)
        return false;
      any = true;
    }
  return any && strstr (path, "//") == NULL && path[strlen (path) - 1] != '/';
}

/* systemd's unit_name_to_path for a slice: "a-b-c.slice" → "/a.slice/a-b.slice/a-b-c.slice", "-.slice" → "". */
static int
expand_slice (const char *slice, char **out, isola_error_t *err)
{
  size_t len = strlen (slice);
  const int suffix = (int)strlen (".slice");
  if (len <= (size_t)suffix || !str_has_suffix (slice, ".slice") || strchr (slice, '/'))
    return isola_error_fail (err, EINVAL, "invalid slice name: %s", slice);
  if (strcmp (slice, "-.slice") == 0)
    {
      *out = xstrdup ("");
      return 0;
    }
  cleanup_free char *stem = xasprintf ("%.*s", (int)len - suffix, slice);
  if (stem[0] == '-' || stem[strlen (stem) - 1] == '-' || strstr (stem, "--"))
    return isola_error_fail (err, EINVAL, "invalid slice name: %s", slice);
  cleanup_free char *path = xstrdup ("");
  for (char *dash = stem;; dash++)
    {
      dash = strchr (dash, '-');
      cleanup_free char *prefix = xasprintf ("%.*s", dash ? (int)(dash - stem) : (int)strlen (stem), stem);
      char *longer = xasprintf ("%s/%s.slice", path, prefix);
      free (path);
      path = longer;
      if (dash == NULL)
        break;
    }
  *out = take_ptr (&path);
  return 0;
}

static int
systemd_cgroup_path (const char *cgroups_path, char **out, isola_error_t *err)
{
  const char *c1 = strchr (cgroups_path, ':'), *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
  if (c2 == NULL || strchr (c2 + 1, ':'))
    return isola_error_fail (err, EINVAL,
                             "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got "
                             "\"%s\" instead",
                             cgroups_path);
  cleanup_free char *slice = xasprintf ("%.*s", (int)(c1 - cgroups_path), cgroups_path);
  cleanup_free char *prefix = xasprintf ("%.*s", (int)(c2 - c1 - 1), c1 + 1);
  const char *name = c2 + 1;
  cleanup_free char *slice_path = NULL;
  int ret = expand_slice (slice[0] ? slice : "system.slice", &slice_path, err);
  if (ret < 0)
    return ret;
  cleanup_free char *unit = str_has_suffix (name, ".slice")
                                ? xstrdup (name)
                                : xasprintf ("%s%s%s.scope", prefix, prefix[0] ? "-" : "", name);
  if (name[0] == '\0' || strchr (unit, '/') || unit[0] == '.')
    return isola_error_fail (err, EINVAL, "invalid unit name in cgroupsPath \"%s\"", cgroups_path);
  *out = xasprintf ("%s/%s", slice_path, unit);
  return 0;
}

int
rt_cgroup_path (const char *id, const char *cgroups_path, bool systemd, char **out, isola_error_t *err)
{
  if (cgroups_path == NULL || cgroups_path[0] == '\0')
    {
      *out = rt_cgroup_name (id);
      return 0;
    }
  if (systemd)
    return systemd_cgroup_path (cgroups_path, out, err);
  if (strcmp (cgroups_path, "/") == 0 || !cgroup_components_valid (cgroups_path))
    return isola_error_fail (err, EINVAL, "invalid cgroupsPath \"%s\"", cgroups_path);
  *out = xstrdup (cgroups_path);
  return 0;
}

void
rt_container_clear (struct rt_container *c)
{
  free (c->id), free (c->dir);
  json_decref (c->state), json_decref (c->config);
  memset (c, 0, sizeof *c);
}

int
rt_load (const char *root, const char *id, struct rt_container *out, isola_error_t *err)
{
  memset (out, 0, sizeof *out);
  if (!rt_id_valid (id))
    return isola_error_fail (err, EINVAL, "invalid id format: %s", id ? id : "");
  cleanup_free char *dir = xasprintf ("%s/%s", root, id);
  cleanup_free char *state_path = xasprintf ("%s/state.json", dir);
  json_error_t jerr;
  json_t *state = json_load_file (state_path, 0, &jerr);
  if (state == NULL)
    {
      if (access (state_path, F_OK) < 0)
        return isola_error_fail (err, ENOENT, "container does not exist");
      return isola_error_fail (err, EIO, "%s: %s", state_path, jerr.text);
    }
  cleanup_free char *config_path = xasprintf ("%s/config.json", dir);
  json_t *config = json_load_file (config_path, 0, &jerr);
  if (config == NULL)
    {
      json_decref (state);
      return isola_error_fail (err, EIO, "%s: %s", config_path, jerr.text);
    }
  out->id = xstrdup (id);
  out->dir = take_ptr (&dir);
  out->state = state;
  out->config = config;
  return 0;
}

int
rt_save_state (const struct rt_container *c, isola_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/state.json", c->dir);
  cleanup_free char *text = json_dumps (c->state, JSON_COMPACT);
  return write_file_replace (path, text, strlen (text), 0600, err);
}

unsigned long long
rt_process_start_time (pid_t pid)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
  cleanup_free char *text = NULL;
  if (pid <= 0 || read_file_bounded (path, 4096, &text, NULL, NULL) < 0)
    return 0;
  /* comm may hold spaces and parentheses: the fields start after the last ')'. */
  char *p = strrchr (text, ')');
  if (p == NULL)
    return 0;
  char state = 0;
  unsigned long long start = 0;
  /* ") S ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime priority nice
     threads itrealvalue starttime" */
  if (sscanf (p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &state, &start)
      != 2)
    return 0;
  return state == 'Z' || state == 'X' ? 0 : start;
}

pid_t
rt_pid (const struct rt_container *c)
{
  return (pid_t)json_integer_value (json_object_get (c->state, "pid"));
}

static bool
process_alive (const struct rt_container *c)
{
  pid_t pid = rt_pid (c);
  unsigned long long want = (unsigned long long)json_integer_value (json_object_get (c->state, "start_time"));
  return pid > 0 && rt_process_start_time (pid) == want;
}

static bool
frozen (const struct rt_container *c)
{
  struct cgroup_fs fs = { 0 };
  if (cgroup_fs_detect ("/sys/fs/cgroup", &fs, NULL) < 0)
    return false;
  const char *name = json_string_value (json_object_get (c->state, "cgroup"));
  if (name == NULL || name[0] == '\0')
    {
      /* A VM container (src/runtime/vm.c): its VM is stopped, which the runtime marks in its directory. */
      cgroup_fs_clear (&fs);
      cleanup_free char *mark = xasprintf ("%s/" RT_VM_PAUSED, c->dir);
      return access (mark, F_OK) == 0;
    }
  bool ret = cgroup_frozen (&fs, name);
  cgroup_fs_clear (&fs);
  return ret;
}

enum rt_status
rt_status (const struct rt_container *c)
{
  if (!process_alive (c))
    return RT_STOPPED;
  cleanup_free char *fifo = xasprintf ("%s/exec.fifo", c->dir);
  if (access (fifo, F_OK) == 0)
    return RT_CREATED;
  return frozen (c) ? RT_PAUSED : RT_RUNNING;
}

json_t *
rt_state_json (const struct rt_container *c)
{
  enum rt_status st = rt_status (c);
  json_t *s = json_object ();
  json_object_set_new (s, "ociVersion", json_string (OCI_VERSION));
  json_object_set_new (s, "id", json_string (c->id));
  json_object_set_new (s, "pid", json_integer (st == RT_STOPPED ? 0 : rt_pid (c)));
  json_object_set_new (s, "status", json_string (rt_status_name (st)));
  json_object_set (s, "bundle", json_object_get (c->state, "bundle"));
  json_object_set (s, "rootfs", json_object_get (c->state, "rootfs"));
  json_object_set (s, "created", json_object_get (c->state, "created"));
  json_object_set_new (s, "owner", json_string (""));
  json_t *ann = json_object_get (c->state, "annotations");
  if (json_object_size (ann))
    json_object_set (s, "annotations", ann);
  return s;
}

static int
read_pids (const char *path, pid_t **out, size_t *n)
{
  cleanup_free char *text = NULL;
  if (read_file_bounded (path, 1 << 22, &text, NULL, NULL) < 0)
    return -ENOENT;
  for (char *p = text; *p;)
    {
      char *end;
      long v = strtol (p, &end, 10);
      if (end == p)
        break;
      *out = xrealloc (*out, (*n + 1) * sizeof **out);
      (*out)[(*n)++] = (pid_t)v;
      p = end;
      while (*p == '\n')
        p++;
    }
  return 0;
}

int
rt_cgroup_pids (const struct rt_container *c, pid_t **out, size_t *n, isola_error_t *err)
{
  *out = NULL, *n = 0;
  struct cgroup_fs fs = { 0 };
  int ret = cgroup_fs_detect ("/sys/fs/cgroup", &fs, err);
  if (ret < 0)
    return ret;
  const char *name = json_string_value (json_object_get (c->state, "cgroup"));
  if (name == NULL || name[0] == '\0')
    {
      /* A VM container (src/runtime/vm.c): of its processes the host has the waiter, the process of --pid-file. */
      cgroup_fs_clear (&fs);
      if (process_alive (c))
        {
          *out = xcalloc (1, sizeof **out);
          (*out)[(*n)++] = rt_pid (c);
        }
      return 0;
    }
  /* The v2 cgroup first where there is one; every v1 one the container is in holds all its processes too. */
  cleanup_strv char **procs = NULL;
  ret = cgroup_procs_paths (&fs, name, &procs);
  cgroup_fs_clear (&fs);
  if (ret == 0 && read_pids (procs[0], out, n) == 0)
    return 0;
  return isola_error_fail (err, ENOENT, "container %s has no cgroup", c->id);
}

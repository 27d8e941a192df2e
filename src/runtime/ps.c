/* ps, pause, resume: the container's cgroup, as runc reads and freezes it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "runtime.h"
#include "runtime/state.h"
#include "sandbox/cgroup.h"

enum
{
  F_FORMAT = FLAG_FIRST_ID,
};

static const struct flag_def ps_flags[] = {
  { "format", 'f', F_FORMAT, "string", "select one of: table or json (default: \"table\")" },
  { NULL },
};

static bool
listed (const pid_t *pids, size_t n, long pid)
{
  for (size_t i = 0; i < n; i++)
    if (pids[i] == pid)
      return true;
  return false;
}

/* runc ps: `ps` (ps's own arguments after the ID, -ef by default), its header and the lines of our processes, found
   by the column headed PID. */
static int
print_ps_table (struct rt_ctx *ctx, const pid_t *pids, size_t n, char **ps_args)
{
  cleanup_free char *cmd = xstrdup ("ps");
  if (ps_args == NULL || ps_args[0] == NULL)
    {
      free (cmd);
      cmd = xstrdup ("ps -ef");
    }
  for (size_t i = 0; ps_args && ps_args[i]; i++)
    {
      if (strchr (ps_args[i], '\''))
        return rt_failf (ctx, "ps: bad argument %s", ps_args[i]);
      char *next = xasprintf ("%s '%s'", cmd, ps_args[i]);
      free (cmd);
      cmd = next;
    }
  FILE *f = popen (cmd, "re");
  if (f == NULL)
    return rt_failf (ctx, "run ps: %s", strerror (errno));
  cleanup_free char *line = NULL;
  size_t cap = 0;
  int pid_col = -1;
  while (getline (&line, &cap, f) > 0)
    {
      if (pid_col < 0)
        {
          cleanup_free char *copy = xstrdup (line);
          char *save = NULL;
          int col = 0;
          for (char *t = strtok_r (copy, " \t\n", &save); t; t = strtok_r (NULL, " \t\n", &save), col++)
            if (strcmp (t, "PID") == 0)
              pid_col = col;
          if (pid_col < 0)
            {
              pclose (f);
              return rt_failf (ctx, "couldn't find PID field in ps output");
            }
          fputs (line, stdout);
          continue;
        }
      cleanup_free char *copy = xstrdup (line);
      char *save = NULL;
      char *t = strtok_r (copy, " \t\n", &save);
      for (int col = 0; t && col < pid_col; col++)
        t = strtok_r (NULL, " \t\n", &save);
      if (t && listed (pids, n, strtol (t, NULL, 10)))
        fputs (line, stdout);
    }
  return pclose (f) == 0 ? 0 : 1;
}

static int
verb_ps (struct rt_ctx *ctx, struct flag_parser *p)
{
  int code = 0, id;
  bool json = false;
  while ((id = rt_next (ctx, p, &code)) != FLAG_END)
    {
      if (id < 0)
        return code;
      if (id == F_FORMAT)
        {
          if (strcmp (p->value, "json") != 0 && strcmp (p->value, "table") != 0)
            return rt_failf (ctx, "invalid format option");
          json = strcmp (p->value, "json") == 0;
        }
    }
  if (rt_args (ctx, p, "ps", 1, -1))
    return 1;
  cleanup_error isola_error_t err = NULL;
  struct rt_container c;
  if (rt_load_arg (ctx, p, &c))
    return 1;
  pid_t *pids = NULL;
  size_t n = 0;
  int ret = 0;
  if (rt_status (&c) == RT_STOPPED)
    ret = rt_failf (ctx, "container not running");
  else if (rt_cgroup_pids (&c, &pids, &n, &err) < 0)
    ret = rt_fail (ctx, &err);
  else if (json)
    {
      cleanup_json json_t *a = json_array ();
      for (size_t i = 0; i < n; i++)
        json_array_append_new (a, json_integer (pids[i]));
      cleanup_free char *text = json_dumps (a, JSON_COMPACT);
      printf ("%s\n", text);
    }
  else
    ret = print_ps_table (ctx, pids, n, p->args + 1);
  free (pids);
  rt_container_clear (&c);
  return ret;
}

static int
freeze (struct rt_ctx *ctx, struct flag_parser *p, const char *verb, bool frozen)
{
  int code = 0, id;
  while ((id = rt_next (ctx, p, &code)) != FLAG_END)
    if (id < 0)
      return code;
  if (rt_args (ctx, p, verb, 1, 1))
    return 1;
  cleanup_error isola_error_t err = NULL;
  struct rt_container c;
  if (rt_load_arg (ctx, p, &c))
    return 1;
  enum rt_status st = rt_status (&c);
  int ret = 0;
  if (rt_vm_container (&c) && (frozen ? st == RT_RUNNING : st == RT_PAUSED))
    {
      if (rt_vm_pause (ctx, &c, frozen, &err) < 0)
        ret = rt_fail (ctx, &err);
    }
  else if (rt_vm_container (&c))
    ret = rt_failf (ctx, "container not %s", frozen ? "running" : "paused");
  else if (frozen && st != RT_RUNNING && st != RT_CREATED)
    ret = rt_failf (ctx, "container not running");
  else if (!frozen && st != RT_PAUSED)
    ret = rt_failf (ctx, "container not paused");
  else
    {
      struct cgroup_fs fs = { 0 };
      if (cgroup_fs_detect ("/sys/fs/cgroup", &fs, &err) < 0
          || cgroup_freeze (&fs, json_string_value (json_object_get (c.state, "cgroup")), frozen, &err) < 0)
        ret = rt_fail (ctx, &err);
      cgroup_fs_clear (&fs);
    }
  rt_container_clear (&c);
  return ret;
}

static int
verb_pause (struct rt_ctx *ctx, struct flag_parser *p)
{
  return freeze (ctx, p, "pause", true);
}

static int
verb_resume (struct rt_ctx *ctx, struct flag_parser *p)
{
  return freeze (ctx, p, "resume", false);
}

const struct rt_verb rt_verb_ps = { "ps", "[command options] <container-id> [ps options]",
                                    "ps displays the processes running inside a container", ps_flags, verb_ps };
const struct rt_verb rt_verb_pause
    = { "pause", "<container-id>", "pause suspends all processes inside the container", NULL, verb_pause };
const struct rt_verb rt_verb_resume
    = { "resume", "<container-id>", "resumes all processes that have been previously paused", NULL, verb_resume };

#define _GNU_SOURCE
/* Container store, capabilities and run options: the pure parts of the container lifecycle. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "container/container.h"
#include "container/lifecycle.h"
#include "container/runspec.h"
#include "sandbox/caps.h"
#include "tap.h"

static char root[] = "/tmp/isola-unit-container-XXXXXX";

static uint64_t
caps_of (const char *host_json)
{
  cleanup_json json_t *h = json_loads (host_json, 0, NULL);
  uint64_t caps = 0;
  if (caps_for_host_config (h, &caps, NULL) < 0)
    return UINT64_MAX;
  return caps;
}

static void
test_caps (void)
{
  CHECK (caps_docker_default () == 0xa80425fbULL, "docker's default capability set");
  CHECK (caps_of ("{}") == 0xa80425fbULL, "no flags: default set");
  CHECK (caps_of ("{\"CapDrop\":[\"CHOWN\"]}") == (0xa80425fbULL & ~1ULL), "--cap-drop CHOWN");
  CHECK (caps_of ("{\"CapAdd\":[\"cap_net_admin\"]}") == (0xa80425fbULL | (1ULL << 12)), "--cap-add cap_net_admin");
  CHECK (caps_of ("{\"CapDrop\":[\"ALL\"],\"CapAdd\":[\"KILL\"]}") == (1ULL << 5), "--cap-drop ALL --cap-add KILL");
  CHECK (caps_of ("{\"CapAdd\":[\"NOPE\"]}") == UINT64_MAX, "unknown capability refused");
  CHECK (cap_from_name ("CAP_SYS_ADMIN") == 21 && cap_from_name ("sys_admin") == 21, "names with or without CAP_");
}

/* --ulimit's values stay; every other limit is ours, so a VM guest gets what a process container inherits. */
static void
test_inherited_rlimits (void)
{
  cleanup_json json_t *h = json_pack ("{s:[{s:s, s:i, s:i}]}", "Ulimits", "Name", "nproc", "Soft", 7, "Hard", 9);
  struct runspec_rlimits r = { 0 };
  CHECK (runspec_rlimits_parse (h, &r, NULL) == 0 && r.n == 1, "one --ulimit");
  runspec_rlimits_add_inherited (&r);
  struct rlimit nofile;
  getrlimit (RLIMIT_NOFILE, &nofile);
  size_t nproc_seen = 0;
  bool nofile_ok = false;
  for (size_t i = 0; i < r.n; i++)
    {
      if (r.items[i].resource == RLIMIT_NPROC)
        nproc_seen += r.items[i].soft == 7 && r.items[i].hard == 9 ? 1 : 100;
      if (r.items[i].resource == RLIMIT_NOFILE)
        nofile_ok = r.items[i].soft == nofile.rlim_cur && r.items[i].hard == nofile.rlim_max;
    }
  CHECK (r.n == 16 && nproc_seen == 1 && nofile_ok, "inherited limits fill in all but the --ulimit one");
  runspec_rlimits_clear (&r);
}

static void
test_run_options (void)
{
  json_t *u = NULL;
  CHECK (runspec_ulimit_from_flag ("nofile=1024:2048", &u, NULL) == 0
             && json_integer_value (json_object_get (u, "Soft")) == 1024
             && json_integer_value (json_object_get (u, "Hard")) == 2048,
         "--ulimit nofile=1024:2048");
  json_decref (u);
  cleanup_error isola_error_t err = NULL;
  CHECK (runspec_ulimit_from_flag ("nofile=10:5", &u, &err) == -EINVAL, "soft above hard refused");
  isola_error_release (&err);
  CHECK (runspec_ulimit_from_flag ("bogus=1", &u, &err) == -EINVAL, "unknown ulimit refused");
  isola_error_release (&err);

  cleanup_json json_t *h
      = json_pack ("{s:[s, s], s:{s:s}}", "Binds", "/tmp:/data:ro", "/:/host", "Tmpfs", "/run", "size=1m");
  struct runspec_mounts m = { 0 };
  CHECK (runspec_mounts_parse (h, &m, NULL) == 0 && m.n == 3 && m.items[0].readonly && !m.items[1].readonly
             && m.items[2].source == NULL && strcmp (m.items[2].tmpfs_options, "size=1m") == 0,
         "binds and tmpfs parsed");
  runspec_mounts_clear (&m);
  cleanup_json json_t *bad = json_pack ("{s:[s]}", "Binds", "./relative:/x");
  CHECK (runspec_mounts_parse (bad, &m, &err) == -EINVAL, "relative bind source refused");
  isola_error_release (&err);
  cleanup_json json_t *missing = json_pack ("{s:[s]}", "Binds", "/nonexistent-isola:/x");
  CHECK (runspec_mounts_parse (missing, &m, &err) < 0, "missing bind source refused");
  test_inherited_rlimits ();
  CHECK (signal_from_name ("SIGTERM") == 15 && signal_from_name ("kill") == 9 && signal_from_name ("10") == 10
             && signal_from_name ("NOPE") == -1,
         "signal names");
}

/* The record's typed getters read config.json's Docker shape. */
static void
test_record_fields (void)
{
  struct container c = { .id = "0123456789abcdef" };
  c.config = json_pack ("{s:s, s:s, s:[s, s], s:s, s:{s:[s], s:s, s:b, s:b, s:s, s:s, s:i, s:{s:s}, s:s}, "
                        "s:{s:s, s:b, s:b, s:b, s:s}}",
                        "Image", "sha256:abc", "Created", "2024-01-01T00:00:00Z", "Args", "-c", "true", "Path", "sh",
                        "Config", "Env", "A=1", "Hostname", "box", "Tty", 1, "OpenStdin", 1, "User", "nobody",
                        "WorkingDir", "", "StopTimeout", 3, "Labels", "role", "web", "Image", "busybox", "HostConfig",
                        "Isolation", "hyperv", "AutoRemove", 1, "Init", 1, "ReadonlyRootfs", 0, "NetworkMode", "host");
  CHECK_STR (container_image_id (&c), "abc", "image ID without its algorithm");
  CHECK_STR (container_image_name (&c), "busybox", "image as named");
  cleanup_strv char **argv = container_argv (&c);
  CHECK (strv_len (argv) == 3 && strcmp (argv[0], "sh") == 0 && strcmp (argv[2], "true") == 0, "Path + Args");
  cleanup_strv char **env = container_env (&c);
  CHECK (strv_len (env) == 4 && str_has_prefix (env[0], "PATH=/usr/local/sbin:") && strcmp (env[1], "HOSTNAME=box") == 0
             && strcmp (env[2], "TERM=xterm") == 0 && strcmp (env[3], "A=1") == 0,
         "PATH, HOSTNAME, TERM (Tty), then Config.Env, as Docker's daemon orders them");
  cleanup_strv char **no_tty = container_env_for (&c, false);
  CHECK (strv_len (no_tty) == 3 && !strv_contains (no_tty, "TERM=xterm"), "without a terminal, no TERM");
  CHECK (container_tty (&c) && container_open_stdin (&c), "Tty, OpenStdin");
  CHECK (container_working_dir (&c) == NULL && strcmp (container_user (&c), "nobody") == 0, "empty WorkingDir, User");
  CHECK (container_stop_timeout (&c, 10) == 3 && container_stop_signal (&c) == NULL, "StopTimeout, no StopSignal");
  CHECK (strcmp (container_label (&c, "role"), "web") == 0 && container_label (&c, "x") == NULL, "labels");
  CHECK_STR (container_isolation (&c), "hyperv", "isolation");
  CHECK (container_auto_remove (&c) && container_init (&c) && !container_readonly_rootfs (&c)
             && container_host_network (&c),
         "AutoRemove, Init, ReadonlyRootfs, host network");
  json_decref (c.config);
  c.config = json_object ();
  CHECK (container_image_id (&c) == NULL && strcmp (container_image_name (&c), "") == 0
             && container_stop_timeout (&c, 10) == 10 && !container_tty (&c) && container_isolation (&c) == NULL,
         "a record without Config or HostConfig reads as defaults");
  json_decref (c.config);
}

static void
test_store (void)
{
  struct isola_store *s = NULL;
  CHECK (store_open (root, STORE_LOCK_EXCLUSIVE, &s, NULL) == 0, "store_open");
  cleanup_json json_t *cfg = json_pack ("{s:[s], s:[s], s:[s]}", "Entrypoint", "sh", "Cmd", "-c", "Env", "A=1");
  cleanup_json json_t *host = json_pack ("{s:s}", "NetworkMode", "none");
  struct container_new n = { .name = "web", .image_id = "abc", .config = cfg, .host_config = host };
  struct container *c = NULL;
  CHECK (container_create (s, &n, &c, NULL) == 0, "create");
  CHECK (strcmp (container_status (c), "created") == 0 && strcmp (container_name (c), "web") == 0, "created, named");
  CHECK (strlen (container_hostname (c)) == 12 && strncmp (container_hostname (c), c->id, 12) == 0,
         "hostname defaults to the short ID");
  cleanup_strv char **argv = container_argv (c);
  CHECK (strv_len (argv) == 2 && strcmp (argv[0], "sh") == 0 && strcmp (argv[1], "-c") == 0,
         "Path and Args from Entrypoint and Cmd");
  CHECK_STR (container_image_id (c), "abc", "image ID recorded");
  CHECK (json_object_get (container_config (c), "Hostname") && json_object_get (cfg, "Hostname") == NULL,
         "the caller's Config is copied, not changed");
  cleanup_error isola_error_t err = NULL;
  struct container *c2 = NULL;
  n.name = "web";
  CHECK (container_create (s, &n, &c2, &err) == -EEXIST && strstr (err->msg, "already in use"), "duplicate name");
  isola_error_release (&err);
  n.name = "-bad";
  CHECK (container_create (s, &n, &c2, &err) == -EINVAL, "invalid name refused");
  isola_error_release (&err);
  n.name = NULL;
  CHECK (container_create (s, &n, &c2, NULL) == 0 && strlen (container_name (c2)) > 0, "a name is generated");
  CHECK (container_remove (s, c2, NULL) == 0, "remove the generated one");
  container_free (c2);

  char id[65];
  CHECK (container_resolve (s, "web", id, NULL) == 0 && strcmp (id, c->id) == 0, "resolve by name");
  char prefix[8];
  memcpy (prefix, c->id, 7), prefix[7] = 0;
  CHECK (container_resolve (s, prefix, id, NULL) == 0 && strcmp (id, c->id) == 0, "resolve by ID prefix");
  CHECK (container_resolve (s, "nope", id, &err) == -ENOENT && strstr (err->msg, "No such container"), "unknown");
  isola_error_release (&err);
  CHECK (container_rename (s, "web", "api", NULL) == 0 && container_resolve (s, "api", id, NULL) == 0, "rename");

  /* The reader's errno, not a blanket EIO: the state file is gone. */
  cleanup_free char *state = container_path (c, "state.json"), *moved = container_path (c, "state.json.moved");
  CHECK (rename (state, moved) == 0, "state.json moved away");
  CHECK (container_wait_stopped (c, NULL) == -ENOENT, "wait without a state file: -ENOENT");
  CHECK (rename (moved, state) == 0, "state.json back");

  /* A "running" state with no monitor holding the lock is a dead monitor: reported as exited. */
  container_set_running (c, 12345, 12346);
  container_write_state (c, NULL);
  CHECK (container_refresh (c, NULL) == 0 && strcmp (container_status (c), "exited") == 0
             && strlen (json_string_value (json_object_get (c->state, "Error"))) > 0,
         "dead monitor detected");
  json_t *ins = container_inspect_json (c);
  CHECK (json_object_get (ins, "State") && json_object_get (json_object_get (ins, "State"), "MonitorPid") == NULL,
         "inspect has State without private fields");
  json_decref (ins);
  CHECK (container_remove (s, c, NULL) == 0 && container_resolve (s, "api", id, NULL) == -ENOENT, "remove");
  container_free (c);
  store_close (s);
}

int
main (void)
{
  if (mkdtemp (root) == NULL)
    return 1;
  test_caps ();
  test_run_options ();
  test_record_fields ();
  test_store ();
  rm_rf (root, NULL);
  return tap_done ();
}

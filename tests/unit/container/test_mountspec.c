#define _GNU_SOURCE
/* The mount specifications a container request carries: -v's strings (HostConfig.Binds), --mount's CSV and the
   HostConfig.Mounts entries it becomes, and volume names, with the errors users see. */
#include <errno.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "container/runspec.h"
#include "tap.h"

static void
check_bind (const char *spec, enum runspec_mount_type type, const char *src, const char *dst, bool ro, bool nocopy)
{
  struct runspec_mount_spec m = { 0 };
  cleanup_error isola_error_t err = NULL;
  int ret = runspec_parse_bind (spec, &m, &err);
  CHECK (ret == 0 && m.type == type && (src ? m.source && strcmp (m.source, src) == 0 : m.source == NULL)
             && strcmp (m.destination, dst) == 0 && m.readonly == ro && m.nocopy == nocopy && !m.from_mount,
         "-v %s parsed%s%s", spec, err ? ": " : "", err ? err->msg : "");
  runspec_mount_spec_clear (&m);
}

static void
check_bind_refused (const char *spec, const char *part)
{
  struct runspec_mount_spec m = { 0 };
  cleanup_error isola_error_t err = NULL;
  int ret = runspec_parse_bind (spec, &m, &err);
  CHECK (ret == -EINVAL && err && strstr (err->msg, part), "-v %s refused: %s", spec, err ? err->msg : "(accepted)");
  runspec_mount_spec_clear (&m);
}

static void
test_bind_strings (void)
{
  check_bind ("/srv:/data", RUNSPEC_MOUNT_BIND, "/srv", "/data", false, false);
  check_bind ("/srv:/data:ro", RUNSPEC_MOUNT_BIND, "/srv", "/data", true, false);
  check_bind ("/srv:/data:rw,z", RUNSPEC_MOUNT_BIND, "/srv", "/data", false, false);
  check_bind ("myvol:/data", RUNSPEC_MOUNT_VOLUME, "myvol", "/data", false, false);
  check_bind ("my_vol.1-x:/data:ro,nocopy", RUNSPEC_MOUNT_VOLUME, "my_vol.1-x", "/data", true, true);
  check_bind ("/data", RUNSPEC_MOUNT_VOLUME, NULL, "/data", false, false);
  check_bind ("/data:ro", RUNSPEC_MOUNT_VOLUME, NULL, "/data", true, false);
  check_bind_refused ("myvol:data", "mount path must be absolute");
  check_bind_refused ("data", "mount path must be absolute");
  check_bind_refused ("myvol:/", "destination can't be '/'");
  check_bind_refused ("/srv:/data:bogus", "invalid mode: bogus");
  check_bind_refused ("/srv:/data:ro,rw", "invalid mode: ro,rw");
  check_bind_refused ("/srv:/data:nocopy", "invalid mode: nocopy");
  check_bind_refused ("a:/b:ro:x", "invalid volume specification");
  check_bind_refused (":/data", "invalid volume specification");
  check_bind_refused ("bad@name:/data", "includes invalid characters for a local volume name");
  check_bind_refused ("-x:/data", "includes invalid characters for a local volume name");
}

static void
test_volume_names (void)
{
  CHECK (runspec_volume_name_valid ("ab") && runspec_volume_name_valid ("A1_b.c-d")
             && runspec_volume_name_valid ("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
         "Docker's volume names accepted");
  CHECK (!runspec_volume_name_valid ("a") && !runspec_volume_name_valid ("") && !runspec_volume_name_valid (".a")
             && !runspec_volume_name_valid ("_a") && !runspec_volume_name_valid ("a/b")
             && !runspec_volume_name_valid ("a b") && !runspec_volume_name_valid ("..")
             && !runspec_volume_name_valid (NULL),
         "names Docker refuses (one character, leading punctuation, slashes, spaces) refused");
}

/* --mount's CSV → HostConfig.Mounts entry, compared as compact JSON with sorted keys. */
static void
check_mount_flag (const char *flag, const char *want)
{
  json_t *m = NULL;
  cleanup_error isola_error_t err = NULL;
  int ret = runspec_mount_flag_json (flag, &m, &err);
  cleanup_free char *got = ret == 0 ? json_dumps (m, JSON_COMPACT | JSON_SORT_KEYS) : xstrdup (err->msg);
  CHECK (ret == 0 && strcmp (got, want) == 0, "--mount %s: %s", flag, got);
  json_decref (m);
}

static void
check_mount_flag_refused (const char *flag, const char *part)
{
  json_t *m = NULL;
  cleanup_error isola_error_t err = NULL;
  int ret = runspec_mount_flag_json (flag, &m, &err);
  CHECK (ret == -EINVAL && err && strstr (err->msg, part), "--mount %s refused: %s", flag,
         err ? err->msg : "(accepted)");
  json_decref (m);
}

static void
test_mount_flags (void)
{
  check_mount_flag ("type=volume,source=v1,target=/data",
                    "{\"Source\":\"v1\",\"Target\":\"/data\",\"Type\":\"volume\"}");
  check_mount_flag ("src=v1,dst=/data,readonly,volume-nocopy",
                    "{\"ReadOnly\":true,\"Source\":\"v1\",\"Target\":\"/data\",\"Type\":\"volume\","
                    "\"VolumeOptions\":{\"NoCopy\":true}}");
  check_mount_flag ("type=bind,source=/srv,destination=/data,ro=false",
                    "{\"ReadOnly\":false,\"Source\":\"/srv\",\"Target\":\"/data\",\"Type\":\"bind\"}");
  check_mount_flag ("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770",
                    "{\"Target\":\"/t\",\"TmpfsOptions\":{\"Mode\":1016,\"SizeBytes\":1048576},\"Type\":\"tmpfs\"}");
  check_mount_flag_refused ("type=volume,source=v1", "target is required");
  check_mount_flag_refused ("type=bind,target=/x,volume-nocopy", "cannot mix 'volume-*' options");
  check_mount_flag_refused ("type=volume,target=/x,tmpfs-size=1m", "cannot mix 'tmpfs-*' options");
  check_mount_flag_refused ("target=/x,tmpfs-size=lots", "invalid value for tmpfs-size");
  check_mount_flag_refused ("type=tmpfs,target=/x,tmpfs-mode=9", "invalid value for tmpfs-mode");
  check_mount_flag_refused ("target=/x,volume-opt=type=nfs", "volume-opt is not supported");
  check_mount_flag_refused ("target=/x,volume-driver=nfs", "volume driver \"nfs\" is not supported");
  check_mount_flag_refused ("target=/x,color=red", "unexpected key 'color'");
  check_mount_flag_refused ("target=/x,readonly=maybe", "invalid value for readonly");
}

/* HostConfig.Mounts entries, as the engine checks them (the API server sends them without the CLI). */
static void
check_mount_entry (const char *json, enum runspec_mount_type type, const char *src, bool ro, const char *tmpfs)
{
  cleanup_json json_t *j = json_loads (json, 0, NULL);
  struct runspec_mount_spec m = { 0 };
  cleanup_error isola_error_t err = NULL;
  int ret = runspec_parse_mount (j, &m, &err);
  CHECK (ret == 0 && m.type == type && (src ? m.source && strcmp (m.source, src) == 0 : m.source == NULL)
             && m.readonly == ro && m.from_mount
             && (tmpfs ? m.tmpfs_options && strcmp (m.tmpfs_options, tmpfs) == 0 : m.tmpfs_options == NULL),
         "mount %s parsed%s%s", json, err ? ": " : "", err ? err->msg : "");
  runspec_mount_spec_clear (&m);
}

static void
check_mount_entry_refused (const char *json, const char *part)
{
  cleanup_json json_t *j = json_loads (json, 0, NULL);
  struct runspec_mount_spec m = { 0 };
  cleanup_error isola_error_t err = NULL;
  int ret = runspec_parse_mount (j, &m, &err);
  CHECK (ret == -EINVAL && err && strstr (err->msg, part), "mount %s refused: %s", json, err ? err->msg : "(accepted)");
  runspec_mount_spec_clear (&m);
}

static void
test_mount_entries (void)
{
  check_mount_entry ("{\"Type\":\"volume\",\"Source\":\"v1\",\"Target\":\"/d\",\"ReadOnly\":true}",
                     RUNSPEC_MOUNT_VOLUME, "v1", true, NULL);
  check_mount_entry ("{\"Type\":\"volume\",\"Target\":\"/d\"}", RUNSPEC_MOUNT_VOLUME, NULL, false, NULL);
  check_mount_entry ("{\"Type\":\"bind\",\"Source\":\"/srv\",\"Target\":\"/d\"}", RUNSPEC_MOUNT_BIND, "/srv", false,
                     NULL);
  check_mount_entry ("{\"Type\":\"tmpfs\",\"Target\":\"/t\"}", RUNSPEC_MOUNT_TMPFS, NULL, false, "mode=1777");
  check_mount_entry ("{\"Type\":\"tmpfs\",\"Target\":\"/t\",\"TmpfsOptions\":{\"SizeBytes\":4096,\"Mode\":448}}",
                     RUNSPEC_MOUNT_TMPFS, NULL, false, "size=4096,mode=700");
  check_mount_entry_refused ("{\"Type\":\"bind\",\"Target\":\"/d\"}", "field Source must not be empty");
  check_mount_entry_refused ("{\"Type\":\"bind\",\"Source\":\"srv\",\"Target\":\"/d\"}", "must be absolute");
  check_mount_entry_refused ("{\"Type\":\"tmpfs\",\"Source\":\"x\",\"Target\":\"/d\"}",
                             "field Source must not be specified");
  check_mount_entry_refused ("{\"Type\":\"volume\",\"Source\":\"a b\",\"Target\":\"/d\"}", "invalid characters");
  check_mount_entry_refused ("{\"Type\":\"npipe\",\"Target\":\"/d\"}", "mount type unknown");
  check_mount_entry_refused ("{\"Type\":\"volume\",\"Target\":\"d\"}", "must be absolute");
  check_mount_entry_refused ("{\"Type\":\"volume\"}", "field Target must not be empty");
}

int
main (void)
{
  test_bind_strings ();
  test_volume_names ();
  test_mount_flags ();
  test_mount_entries ();
  return tap_done ();
}

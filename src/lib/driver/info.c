/* `isola info` (see info.h). */
#define _GNU_SOURCE
#include "driver/info.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "container/container.h"
#include "driver/driver.h"
#include "driver/vm_launch.h"
#include "image/image.h"
#include "sandbox/cgroup.h"

/* os-release's PRETTY_NAME, as Docker's OperatingSystem. */
static char *
operating_system (void)
{
  cleanup_free char *text = NULL;
  size_t len;
  if (read_file_bounded ("/etc/os-release", 65536, &text, &len, NULL) < 0
      && read_file_bounded ("/usr/lib/os-release", 65536, &text, &len, NULL) < 0)
    return xstrdup ("<unknown>");
  for (char *line = strtok (text, "\n"); line; line = strtok (NULL, "\n"))
    if (str_has_prefix (line, "PRETTY_NAME="))
      {
        char *v = line + strlen ("PRETTY_NAME=");
        size_t n = strlen (v);
        if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0])
          return strndup (v + 1, n - 2);
        return xstrdup (v);
      }
  return xstrdup ("<unknown>");
}

static bool
in_path (const char *prog)
{
  if (strchr (prog, '/'))
    return access (prog, X_OK) == 0;
  const char *path = getenv ("PATH");
  cleanup_free char *copy = xstrdup (path ? path : "/usr/local/bin:/usr/bin:/bin");
  char *save = NULL;
  for (char *dir = strtok_r (copy, ":", &save); dir; dir = strtok_r (NULL, ":", &save))
    {
      cleanup_free char *p = xasprintf ("%s/%s", dir, prog);
      if (access (p, X_OK) == 0)
        return true;
    }
  return false;
}

/* The VM mode needs its kernel, its initramfs and QEMU; which accelerator it would use. */
static json_t *
vm_mode (const struct isola_store *s, json_t *info)
{
  struct vm_settings vs;
  cleanup_error isola_error_t err = NULL;
  if (vm_settings_load (s->root, &vs, &err) < 0)
    {
      json_object_set_new (info, "VMAccelerator", json_string (""));
      json_object_set_new (info, "VMAcceleratorReason", json_string (""));
      return json_pack ("{s:s, s:b, s:s}", "Name", "vm", "Available", 0, "Reason", err->msg);
    }
  json_object_set_new (info, "VMAccelerator", json_string (vs.accel));
  json_object_set_new (info, "VMAcceleratorReason", json_string (vs.accel_why ? vs.accel_why : ""));
  json_t *mode;
  if (in_path (vs.qemu))
    mode = json_pack ("{s:s, s:b, s:s}", "Name", "vm", "Available", 1, "Reason", "");
  else
    {
      cleanup_free char *why = xasprintf ("QEMU `%s` is not installed", vs.qemu);
      mode = json_pack ("{s:s, s:b, s:s}", "Name", "vm", "Available", 0, "Reason", why);
    }
  vm_settings_clear (&vs);
  return mode;
}

static void
count_containers (const struct isola_store *s, json_t *info)
{
  cleanup_strv char **ids = NULL;
  json_int_t total = 0, running = 0;
  if (container_list_ids (s, &ids, NULL) == 0)
    for (size_t i = 0; ids[i]; i++)
      {
        cleanup_container struct container *c = NULL;
        if (container_load_any (s, ids[i], &c, NULL) < 0)
          continue;
        total++;
        running += container_is_running (c) && container_monitor_alive (c);
      }
  json_object_set_new (info, "Containers", json_integer (total));
  json_object_set_new (info, "ContainersRunning", json_integer (running));
  json_object_set_new (info, "ContainersPaused", json_integer (0));
  json_object_set_new (info, "ContainersStopped", json_integer (total - running));
}

int
engine_info_json (const struct isola_store *s, json_t **out, isola_error_t *err)
{
  const struct isola_driver *dflt = NULL;
  int ret = driver_lookup (s->root, NULL, &dflt, err);
  if (ret < 0)
    return ret;
  cleanup_json json_t *info = json_object ();
  json_object_set_new (info, "ID", json_string (""));
  count_containers (s, info);
  cleanup_strv char **images = NULL;
  json_object_set_new (info, "Images",
                       json_integer (image_list_ids (s, &images, NULL) == 0 ? (json_int_t)strv_len (images) : 0));
  json_object_set_new (info, "Driver", json_string ("overlay"));
  json_object_set_new (info, "DriverStatus", json_pack ("[[s, s]]", "Supports d_type", "true"));
  json_object_set_new (info, "LoggingDriver", json_string ("json-file"));
  json_object_set_new (info, "CgroupDriver", json_string ("cgroupfs"));
  struct cgroup_fs fs = { 0 };
  bool v2 = cgroup_fs_detect ("/sys/fs/cgroup", &fs, NULL) == 0 && fs.v2;
  cgroup_fs_clear (&fs);
  json_object_set_new (info, "CgroupVersion", json_string (v2 ? "2" : "1"));
  struct utsname u;
  if (uname (&u) < 0)
    memset (&u, 0, sizeof u);
  json_object_set_new (info, "KernelVersion", json_string (u.release));
  cleanup_free char *os = operating_system ();
  json_object_set_new (info, "OperatingSystem", json_string (os));
  json_object_set_new (info, "OSType", json_string ("linux"));
  json_object_set_new (info, "Architecture", json_string (u.machine));
  json_object_set_new (info, "NCPU", json_integer (sysconf (_SC_NPROCESSORS_ONLN)));
  struct sysinfo si;
  json_int_t mem = sysinfo (&si) == 0 ? (json_int_t)si.totalram * si.mem_unit : 0;
  json_object_set_new (info, "MemTotal", json_integer (mem));
  cleanup_free char *root = realpath (s->root, NULL);
  json_object_set_new (info, "DockerRootDir", json_string (root ? root : s->root));
  json_object_set_new (info, "Name", json_string (u.nodename));
  json_object_set_new (info, "ServerVersion", json_string (ISOLA_VERSION));
  json_object_set_new (info, "Isolation", json_string (dflt->isolation));
  json_t *modes = json_array ();
  json_array_append_new (modes, json_pack ("{s:s, s:b, s:s}", "Name", "process", "Available", 1, "Reason", ""));
  json_array_append_new (modes, vm_mode (s, info));
  json_object_set_new (info, "Isolations", modes);
  json_object_set_new (info, "DefaultIsolation", json_string (dflt->name));
  *out = take_ptr (&info);
  return 0;
}

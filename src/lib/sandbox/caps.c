#define _GNU_SOURCE
#include "sandbox/caps.h"

#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <strings.h>
#include <string.h>

#include "base/util.h"

static const char *const cap_names[] = {
  "CHOWN",
  "DAC_OVERRIDE",
  "DAC_READ_SEARCH",
  "FOWNER",
  "FSETID",
  "KILL",
  "SETGID",
  "SETUID",
  "SETPCAP",
  "LINUX_IMMUTABLE",
  "NET_BIND_SERVICE",
  "NET_BROADCAST",
  "NET_ADMIN",
  "NET_RAW",
  "IPC_LOCK",
  "IPC_OWNER",
  "SYS_MODULE",
  "SYS_RAWIO",
  "SYS_CHROOT",
  "SYS_PTRACE",
  "SYS_PACCT",
  "SYS_ADMIN",
  "SYS_BOOT",
  "SYS_NICE",
  "SYS_RESOURCE",
  "SYS_TIME",
  "SYS_TTY_CONFIG",
  "MKNOD",
  "LEASE",
  "AUDIT_WRITE",
  "AUDIT_CONTROL",
  "SETFCAP",
  "MAC_OVERRIDE",
  "MAC_ADMIN",
  "SYSLOG",
  "WAKE_ALARM",
  "BLOCK_SUSPEND",
  "AUDIT_READ",
  "PERFMON",
  "BPF",
  "CHECKPOINT_RESTORE",
};

int
cap_last (void)
{
  return (int)ARRAY_SIZE (cap_names) - 1;
}

const char *
cap_name (int cap)
{
  return cap >= 0 && cap <= cap_last () ? cap_names[cap] : NULL;
}

int
cap_from_name (const char *name)
{
  if (strncasecmp (name, "CAP_", 4) == 0)
    name += 4;
  for (int i = 0; i <= cap_last (); i++)
    if (strcasecmp (name, cap_names[i]) == 0)
      return i;
  return -1;
}

uint64_t
caps_docker_default (void)
{
  static const int defaults[] = { CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
                                  CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
                                  CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
                                  CAP_KILL,    CAP_AUDIT_WRITE };
  uint64_t set = 0;
  for (size_t i = 0; i < ARRAY_SIZE (defaults); i++)
    set |= UINT64_C (1) << defaults[i];
  return set;
}

static uint64_t
caps_all (void)
{
  return (UINT64_C (1) << (cap_last () + 1)) - 1;
}

/* The bits named by a list of capability names; "ALL" names every capability. */
static int
cap_list_bits (json_t *list, uint64_t *bits, bool *has_all, isola_error_t *err)
{
  *bits = 0;
  *has_all = false;
  size_t i;
  json_t *v;
  json_array_foreach (list, i, v)
  {
    const char *name = json_string_value (v);
    if (name == NULL)
      continue;
    if (strcasecmp (name, "ALL") == 0)
      {
        *has_all = true;
        *bits |= caps_all ();
        continue;
      }
    int cap = cap_from_name (name);
    if (cap < 0)
      return isola_error_fail (err, EINVAL, "invalid capability: unknown capability \"%s\"", name);
    *bits |= UINT64_C (1) << cap;
  }
  return 0;
}

/* Docker's rules: --cap-add ALL starts from everything; --cap-drop ALL keeps only what is added; otherwise the
   default set plus additions minus drops. */
int
caps_for_host_config (json_t *host_config, uint64_t *out, isola_error_t *err)
{
  if (json_is_true (json_object_get (host_config, "Privileged")))
    {
      *out = caps_all ();
      return 0;
    }
  uint64_t add, drop;
  bool add_all, drop_all;
  int ret = cap_list_bits (json_object_get (host_config, "CapAdd"), &add, &add_all, err);
  if (ret == 0)
    ret = cap_list_bits (json_object_get (host_config, "CapDrop"), &drop, &drop_all, err);
  if (ret < 0)
    return ret;
  if (add_all)
    *out = caps_all () & ~(drop_all ? 0 : drop);
  else if (drop_all)
    *out = add;
  else
    *out = (caps_docker_default () | add) & ~drop;
  return 0;
}

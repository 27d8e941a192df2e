/* Which device nodes a container's processes may open: Docker's default rules (runc's allow list), plus the nodes of
   --device, enforced by the kernel's device controller through a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the
   container's cgroup v2 (as runc and crun do on cgroup v2; on a hybrid host that is its cgroup in the unified
   hierarchy, where isola places every container), or on a host with no v2 hierarchy at all through the v1 devices
   controller's allow list (as runc does there).  The same code runs in a VM's guest.

   A container may mknod any node (CAP_MKNOD, as in Docker) but opens only /dev/null, zero, full, random, urandom,
   tty (5:0), ptmx (5:2), the pseudo-terminals (136:*), /dev/net/tun (10:200) and its --device nodes: a mknod'd disk,
   /dev/kmsg, /dev/mem or serial console gives EPERM.  /dev/console (5:1) is left out, unlike old runc: in a guest it
   is the VM's serial console, and a container's terminal is a pseudo-terminal anyway. */
#ifndef ISOLA_DEVICES_H
#define ISOLA_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Access bits, the kernel's (BPF_DEVCG_ACC_*). */
#define DEVICE_MKNOD 1u
#define DEVICE_READ  2u
#define DEVICE_WRITE 4u
#define DEVICE_RWM   (DEVICE_MKNOD | DEVICE_READ | DEVICE_WRITE)

struct device_rule
{
  char type;       /* 'c', 'b' or 'a' (both) */
  int64_t major;   /* -1: any */
  int64_t minor;   /* -1: any */
  unsigned access; /* DEVICE_* bits allowed */
};

/* Docker's cgroup permissions ("rwm", any subset, any order) as DEVICE_* bits; 0 when s is not one. */
unsigned device_access_parse (const char *s);

/* The default rules followed by extra; *n set; free() the result. */
struct device_rule *device_rules_default (const struct device_rule *extra, size_t n_extra, size_t *n);

/* Allows exactly rules (and nothing else) to the processes of the cgroup v2 open at cgroup_fd, and to those of its
   descendants.  ENOTSUP with a clear message where the kernel has no BPF device control. */
int devices_limit (int cgroup_fd, const struct device_rule *rules, size_t n, isola_error_t *err);

/* The same rules for a cgroup v1 (a host with no v2 hierarchy at all), as runc writes them: "a" into devices.deny of
   the container's devices cgroup dir, then each rule into devices.allow ("c 1:3 rwm", "*" for any number).  The
   kernel's v1 list is checked the same way: an access is allowed when one rule covers it. */
int devices_limit_v1 (const char *dir, const struct device_rule *rules, size_t n, isola_error_t *err);

/* One rule as the v1 controller's devices.allow takes it, into buf (at least 64 bytes). */
void device_rule_v1_format (const struct device_rule *r, char *buf, size_t size);

/* For tests: whether rules allow access to a node of type ('c'/'b') major:minor, as the program decides. */
int device_rules_allow (const struct device_rule *rules, size_t n, char type, int64_t major, int64_t minor,
                        unsigned access);

#endif

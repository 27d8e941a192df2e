/* Docker's default device rules: what they allow, and the --device permissions. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/devices.h"
#include "tap.h"

int
main (void)
{
  CHECK (device_access_parse ("rwm") == DEVICE_RWM && device_access_parse ("r") == DEVICE_READ
             && device_access_parse ("mw") == (DEVICE_MKNOD | DEVICE_WRITE),
         "cgroup permissions parse in any order");
  CHECK (device_access_parse ("") == 0 && device_access_parse ("rx") == 0 && device_access_parse (NULL) == 0,
         "anything else is not a permission");
  struct device_rule extra = { 'b', 8, 0, DEVICE_READ };
  size_t n;
  struct device_rule *r = device_rules_default (&extra, 1, &n);
  CHECK (device_rules_allow (r, n, 'c', 1, 3, DEVICE_READ | DEVICE_WRITE)
             && device_rules_allow (r, n, 'c', 1, 9, DEVICE_READ) && device_rules_allow (r, n, 'c', 5, 2, DEVICE_RWM)
             && device_rules_allow (r, n, 'c', 136, 7, DEVICE_READ | DEVICE_WRITE)
             && device_rules_allow (r, n, 'c', 5, 0, DEVICE_WRITE),
         "null, urandom, ptmx, the pseudo-terminals and tty are open");
  CHECK (device_rules_allow (r, n, 'c', 4, 64, DEVICE_MKNOD) && device_rules_allow (r, n, 'b', 254, 0, DEVICE_MKNOD),
         "any node may be made");
  CHECK (!device_rules_allow (r, n, 'c', 4, 64, DEVICE_WRITE) && !device_rules_allow (r, n, 'c', 1, 11, DEVICE_READ)
             && !device_rules_allow (r, n, 'b', 254, 0, DEVICE_READ)
             && !device_rules_allow (r, n, 'c', 5, 1, DEVICE_WRITE)
             && !device_rules_allow (r, n, 'c', 1, 1, DEVICE_READ),
         "a serial port, kmsg, a disk, the console and /dev/mem are not");
  CHECK (device_rules_allow (r, n, 'b', 8, 0, DEVICE_READ) && !device_rules_allow (r, n, 'b', 8, 0, DEVICE_WRITE)
             && !device_rules_allow (r, n, 'c', 8, 0, DEVICE_READ),
         "a --device node as its permissions say, of its type");
  char buf[64];
  device_rule_v1_format (&r[0], buf, sizeof buf);
  bool any_mknod = strcmp (buf, "c *:* m") == 0;
  device_rule_v1_format (&r[2], buf, sizeof buf);
  bool null = strcmp (buf, "c 1:3 rwm") == 0;
  device_rule_v1_format (&r[n - 1], buf, sizeof buf);
  CHECK (any_mknod && null && strcmp (buf, "b 8:0 r") == 0,
         "as cgroup v1 allow rules: \"c *:* m\", \"c 1:3 rwm\", a --device node's \"b 8:0 r\"");
  struct device_rule all = { 'a', -1, -1, DEVICE_RWM };
  device_rule_v1_format (&all, buf, sizeof buf);
  CHECK (strcmp (buf, "a *:* rwm") == 0, "--privileged's rule: everything");
  free (r);
  return tap_done ();
}

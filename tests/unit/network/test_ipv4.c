#define _GNU_SOURCE
/* IPv4 subnets as --subnet, --ip-range and the network records give them (network/network.h): what Go's
   net.ParseCIDR accepts, as dockerd does, and nothing else. */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "network/network.h"
#include "tap.h"

/* The subnet s parses to, as "ADDR/PREFIX", or "error". */
static char *
parsed (const char *s, bool exact)
{
  struct ipv4_net n;
  if (ipv4_net_parse (s, exact, &n) < 0)
    return xstrdup ("error");
  return ipv4_net_format (&n);
}

int
main (void)
{
  static const struct
  {
    const char *in;
    bool exact;
    const char *want;
  } cases[] = {
    { "10.1.0.0/16", true, "10.1.0.0/16" },
    { "10.1.2.3/16", false, "10.1.0.0/16" },
    { "10.1.2.3/16", true, "error" }, /* host bits set where an exact subnet is asked for */
    { "0.0.0.0/0", true, "0.0.0.0/0" },
    { "10.1.2.3/32", true, "10.1.2.3/32" },
    { "10.0.0.0/08", true, "10.0.0.0/8" }, /* Go's dtoi takes leading zeros */
    { "10.0.0.0/008", true, "10.0.0.0/8" },
    { "10.0.0.0/33", false, "error" },
    { "10.0.0.0/100", false, "error" },
    { "1.2.3.4/ 8", false, "error" }, /* strtol skipped the space */
    { "1.2.3.4/+8", false, "error" }, /* and took the sign */
    { "1.2.3.4/-0", false, "error" },
    { "1.2.3.4/8 ", false, "error" },
    { "1.2.3.4/8x", false, "error" },
    { "1.2.3.4/0x8", false, "error" },
    { "1.2.3.4/", false, "error" },
    { "1.2.3.4", false, "error" },
    { "/8", false, "error" },
    { " 1.2.3.4/8", false, "error" },
    { "1.2.3/8", false, "error" },
    { "01.2.3.4/8", false, "error" }, /* Go refuses leading zeros in an address (since 1.17) */
    { "1.2.3.4/8/8", false, "error" },
    { "256.0.0.0/8", false, "error" },
    { "fd00::/64", false, "error" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      cleanup_free char *got = parsed (cases[i].in, cases[i].exact);
      CHECK_STR (got, cases[i].want, "ipv4_net_parse \"%s\"%s -> %s (got %s)", cases[i].in,
                 cases[i].exact ? " exact" : "", cases[i].want, got);
    }
  CHECK (ipv4_net_parse (NULL, false, &(struct ipv4_net){ 0 }) < 0, "ipv4_net_parse NULL is an error");
  return tap_done ();
}

#define _GNU_SOURCE
/* IPv6 subnets of networks made with --ipv6 (network/network.h): parsing, the host part masked away, the prefix
   bounds (at least 32 host bits), and a container's address at its IPv4 address's offset. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "network/network.h"
#include "tap.h"

/* The subnet s parses to, as "ADDR/PREFIX", or "error". */
static char *
parsed (const char *s)
{
  struct ipv6_net n;
  if (ipv6_net_parse (s, &n) < 0)
    return xstrdup ("error");
  cleanup_free char *a = ipv6_addr_format (&n.addr);
  return xasprintf ("%s/%d", a, n.prefix);
}

static char *
offset (const char *base, uint32_t off)
{
  struct in6_addr b;
  if (inet_pton (AF_INET6, base, &b) != 1)
    return xstrdup ("bad base");
  struct in6_addr a = ipv6_addr_offset (&b, off);
  return ipv6_addr_format (&a);
}

int
main (void)
{
  static const struct
  {
    const char *in, *want;
  } cases[] = {
    { "fd00:1::/64", "fd00:1::/64" },
    { "fd00:1::5/64", "fd00:1::/64" }, /* the host part goes, as Docker's ParseCIDR */
    { "fd00:1:2:3:4:5:6:7/80", "fd00:1:2:3:4::/80" },
    { "fd00::/96", "fd00::/96" }, /* 32 host bits: the largest prefix */
    { "fd00::/97", "error" },     /* fewer host bits than an IPv4 subnet can need */
    { "fd00::/0", "error" },
    { "fd00::", "error" },
    { "fd00::/", "error" },
    { "fd00::/64x", "error" },
    { "10.0.0.0/8", "error" },
    { "fd00::1::2/64", "error" },
    { "fd00::/-1", "error" },
    { "fd00::/ 64", "error" }, /* Go's ParseCIDR: digits only */
    { "fd00::/+64", "error" },
    { "fd00::/064", "fd00::/64" },
    { "fd00::/64 ", "error" },
    { "/64", "error" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      cleanup_free char *got = parsed (cases[i].in);
      CHECK_STR (got, cases[i].want, "ipv6_net_parse %s -> %s (got %s)", cases[i].in, cases[i].want, got);
    }
  CHECK (ipv6_net_parse (NULL, &(struct ipv6_net){ 0 }) < 0, "ipv6_net_parse NULL is an error");
  static const struct
  {
    const char *base;
    uint32_t off;
    const char *want;
  } offsets[] = {
    { "fd00:1::", 2, "fd00:1::2" },
    { "fd00:1::", 0x102, "fd00:1::102" },
    { "fd00:1::", 0x10000, "fd00:1::1:0" },
    { "fd00:1::ffff:ffff", 1, "fd00:1::" }, /* within the last 32 bits: they wrap */
  };
  for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++)
    {
      cleanup_free char *got = offset (offsets[i].base, offsets[i].off);
      CHECK_STR (got, offsets[i].want, "%s + %u -> %s (got %s)", offsets[i].base, offsets[i].off, offsets[i].want, got);
    }
  return tap_done ();
}

/* libFuzzer target for the network settings a user or an API client writes as text: `-p`, `--expose`, `--dns`,
   `--add-host`, a port key, a HostPort range, `--ip`, `--subnet`/`--gateway`/`--ip-range` and `--ipv6 --subnet`.
   Arbitrary bytes as one such string (up to the first NUL) go to every parser; what parses must format back to text
   that parses to the same value, and what -p adds must pass the daemon's checks of a create request (but for an IPv6
   host address). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "container/ports.h"
#include "network/network.h"

static void
fuzz_ports (const char *s)
{
  cleanup_json json_t *exposed = json_object (), *bindings = json_object ();
  cleanup_error isola_error_t err = NULL;
  int ret = ports_publish_flag (s, exposed, bindings, &err);
  if (ret < 0 ? err == NULL || err->msg == NULL : err != NULL)
    abort ();
  /* The daemon refuses only IPv6 host addresses of what -p accepts (isola forwards IPv4). */
  if (ret == 0 && ports_check (exposed, bindings, &err) < 0 && strstr (err->msg, "only IPv4") == NULL)
    abort ();
  isola_error_release (&err);
  ret = ports_expose_flag (s, exposed, &err);
  if (ret < 0 ? err == NULL || err->msg == NULL : err != NULL)
    abort ();
  for (int range = 0; range < 2; range++)
    {
      struct port_key k;
      if (port_key_parse (s, range, &k) == 0
          && (k.start > 65535 || k.end < k.start || k.end > 65535 || (!range && k.end != k.start)
              || memchr (k.proto, '\0', sizeof k.proto) == NULL))
        abort ();
    }
  unsigned start, end;
  if (port_host_range (s, &start, &end) == 0 && (end < start || end > 65535))
    abort ();
}

static void
fuzz_names (const char *s)
{
  cleanup_error isola_error_t err = NULL;
  int ret = names_check_dns (s, &err);
  if (ret < 0 ? err == NULL : err != NULL)
    abort ();
  isola_error_release (&err);
  ret = names_check_extra_host (s, &err);
  if (ret < 0 ? err == NULL : err != NULL)
    abort ();
}

static void
fuzz_addresses (const char *s)
{
  uint32_t a, b;
  if (ipv4_addr_parse (s, &a) == 0)
    {
      cleanup_free char *text = ipv4_addr_format (a);
      if (ipv4_addr_parse (text, &b) < 0 || a != b)
        abort ();
    }
  for (int exact = 0; exact < 2; exact++)
    {
      struct ipv4_net n, m;
      if (ipv4_net_parse (s, exact, &n) < 0)
        continue;
      cleanup_free char *text = ipv4_net_format (&n);
      if (n.prefix < 0 || n.prefix > 32 || ipv4_net_parse (text, true, &m) < 0 || m.addr != n.addr
          || m.prefix != n.prefix || !ipv4_net_contains (&n, n.addr) || !ipv4_net_overlap (&n, &m))
        abort ();
    }
  struct ipv6_net n6, m6;
  if (ipv6_net_parse (s, &n6) == 0)
    {
      struct in6_addr last = ipv6_addr_offset (&n6.addr, UINT32_MAX);
      cleanup_free char *addr = ipv6_addr_format (&n6.addr), *last_text = ipv6_addr_format (&last);
      cleanup_free char *text = xasprintf ("%s/%d", addr, n6.prefix);
      if (n6.prefix < 1 || n6.prefix > 96 || *last_text == '\0' || ipv6_net_parse (text, &m6) < 0
          || memcmp (&m6, &n6, sizeof m6) != 0)
        abort ();
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  cleanup_free char *s = strndup ((const char *)data, size);
  if (s == NULL)
    return 0;
  fuzz_ports (s);
  fuzz_names (s);
  fuzz_addresses (s);
  return 0;
}

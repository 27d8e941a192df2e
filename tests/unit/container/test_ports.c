#define _GNU_SOURCE
/* Ports: -p and --expose as the docker CLI parses them (container/ports.h), the daemon's checks of a request, and
   Docker's PORTS column (network/ports.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "container/ports.h"
#include "network/ports.h"
#include "tap.h"

/* The flags' JSON: {"ExposedPorts": ..., "PortBindings": ...}, compact with sorted keys; or "error: MESSAGE". */
static char *
publish (const char *const *specs, const char *const *exposes)
{
  cleanup_json json_t *exposed = json_object (), *bindings = json_object ();
  isola_error_t err = NULL;
  for (size_t i = 0; specs && specs[i]; i++)
    if (ports_publish_flag (specs[i], exposed, bindings, &err) < 0)
      {
        char *msg = xasprintf ("error: %s", err->msg);
        isola_error_release (&err);
        return msg;
      }
  for (size_t i = 0; exposes && exposes[i]; i++)
    if (ports_expose_flag (exposes[i], exposed, &err) < 0)
      {
        char *msg = xasprintf ("error: %s", err->msg);
        isola_error_release (&err);
        return msg;
      }
  cleanup_json json_t *all = json_pack ("{s:O, s:O}", "ExposedPorts", exposed, "PortBindings", bindings);
  return json_dumps (all, JSON_COMPACT | JSON_SORT_KEYS);
}

#define P(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void
check_publish (const char *const *specs, const char *const *exposes, const char *want)
{
  cleanup_free char *got = publish (specs, exposes);
  CHECK_STR (got, want, "%s %s", specs ? specs[0] : "--expose", exposes ? exposes[0] : "");
  if (strcmp (got, want) != 0)
    printf ("#   got %s\n", got);
}

static void
test_publish_flag (void)
{
  check_publish (
      P ("80"), NULL,
      "{\"ExposedPorts\":{\"80/tcp\":{}},\"PortBindings\":{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}]}}");
  check_publish (
      P ("8080:80/UDP"), NULL,
      "{\"ExposedPorts\":{\"80/udp\":{}},\"PortBindings\":{\"80/udp\":[{\"HostIp\":\"\",\"HostPort\":\"8080\"}]}}");
  check_publish (
      P ("127.0.0.1::53/udp"), NULL,
      "{\"ExposedPorts\":{\"53/udp\":{}},\"PortBindings\":{\"53/udp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":"
      "\"\"}]}}");
  check_publish (P ("[::1]:8080:80"), NULL,
                 "{\"ExposedPorts\":{\"80/tcp\":{}},\"PortBindings\":{\"80/tcp\":[{\"HostIp\":\"::1\",\"HostPort\":"
                 "\"8080\"}]}}");
  check_publish (P ("9000-9001:90-91"), NULL,
                 "{\"ExposedPorts\":{\"90/tcp\":{},\"91/tcp\":{}},\"PortBindings\":{\"90/tcp\":[{\"HostIp\":\"\","
                 "\"HostPort\":\"9000\"}],\"91/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"9001\"}]}}");
  check_publish (P ("7000-7010:70"), NULL,
                 "{\"ExposedPorts\":{\"70/tcp\":{}},\"PortBindings\":{\"70/tcp\":[{\"HostIp\":\"\",\"HostPort\":"
                 "\"7000-7010\"}]}}");
  /* the same port twice: two bindings */
  check_publish (P ("1:80", "2:80"), NULL,
                 "{\"ExposedPorts\":{\"80/tcp\":{}},\"PortBindings\":{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"1\"},"
                 "{\"HostIp\":\"\",\"HostPort\":\"2\"}]}}");
  check_publish (NULL, P ("100-101/udp", "5"),
                 "{\"ExposedPorts\":{\"100/udp\":{},\"101/udp\":{},\"5/tcp\":{}},\"PortBindings\":{}}");
  check_publish (P ("abc"), NULL, "error: Invalid containerPort: abc");
  check_publish (P ("x:80"), NULL, "error: Invalid hostPort: x");
  check_publish (P ("1.2.3:80:80"), NULL, "error: Invalid ip address: 1.2.3");
  check_publish (P ("80/icmp"), NULL, "error: Invalid proto: icmp");
  check_publish (P ("65536"), NULL, "error: Invalid containerPort: 65536");
  check_publish (P ("90-80"), NULL, "error: Invalid containerPort: 90-80");
  check_publish (P ("8000-8001:80-82"), NULL,
                 "error: Invalid ranges specified for container and host Ports: 80-82 and 8000-8001");
  check_publish (P (""), NULL, "error: No port specified: <empty>");
  check_publish (NULL, P ("1:2"), "error: invalid port format for --expose: 1:2");
}

static int
check_request (const char *exposed, const char *bindings)
{
  cleanup_json json_t *e = exposed ? json_loads (exposed, 0, NULL) : NULL;
  cleanup_json json_t *b = bindings ? json_loads (bindings, 0, NULL) : NULL;
  return ports_check (e, b, NULL);
}

static void
test_request_checks (void)
{
  CHECK (check_request ("{\"80/tcp\":{}}", "{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"8000-8010\"}]}") == 0,
         "a request's ports and a host range");
  CHECK (check_request (NULL, "{\"80\":[{\"HostPort\":\"\"}]}") == 0, "a key without protocol: tcp");
  CHECK (check_request (NULL, "{\"80-81/tcp\":[]}") == -EINVAL, "a range as a key refused");
  CHECK (check_request (NULL, "{\"80/tcp\":[{\"HostPort\":\"x\"}]}") == -EINVAL, "a bad host port refused");
  CHECK (check_request (NULL, "{\"80/tcp\":[{\"HostIp\":\"::1\"}]}") == -EINVAL, "an IPv6 host address refused");
  CHECK (check_request ("[]", NULL) == -EINVAL, "ExposedPorts not an object refused");
  CHECK (names_check_extra_host ("h:10.0.0.1", NULL) == 0 && names_check_extra_host ("h:host-gateway", NULL) == 0
             && names_check_extra_host ("h:::1", NULL) == 0,
         "--add-host NAME:IP, host-gateway, IPv6");
  CHECK (names_check_extra_host (":1.2.3.4", NULL) == -EINVAL && names_check_extra_host ("h:x", NULL) == -EINVAL,
         "--add-host without a name or with a bad address refused");
}

static void
check_shown (const char *ports, const char *want)
{
  cleanup_json json_t *j = json_loads (ports, 0, NULL);
  cleanup_free char *got = ports_displayable (j);
  CHECK_STR (got, want, "PORTS of %s", ports);
  if (strcmp (got, want) != 0)
    printf ("#   got '%s'\n", got);
}

static void
test_displayable (void)
{
  check_shown ("{}", "");
  check_shown ("{\"80/tcp\":null}", "80/tcp");
  check_shown ("{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"8080\"}]}", "0.0.0.0:8080->80/tcp");
  /* equal public and private ports group into ranges; different ones follow one by one (Docker's order) */
  check_shown ("{\"81/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"81\"}],\"80/tcp\":[{\"HostIp\":\"0.0.0.0\","
               "\"HostPort\":\"80\"}],\"90/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"9090\"}],\"100/tcp\":null,"
               "\"53/udp\":null}",
               "53/udp, 0.0.0.0:80-81->80-81/tcp, 100/tcp, 0.0.0.0:9090->90/tcp");
  check_shown ("{\"100/tcp\":null,\"101/tcp\":null,\"103/tcp\":null}", "100-101/tcp, 103/tcp");
}

int
main (void)
{
  test_publish_flag ();
  test_request_checks ();
  test_displayable ();
  return tap_done ();
}

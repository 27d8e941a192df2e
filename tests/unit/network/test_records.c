#define _GNU_SOURCE
/* A container's network records (network/attach.h, network/connect.h) in the shapes isola wrote before a container
   could be on several networks: config.json's one "Network" (a name, or null: none) with its "Endpoint", and
   network.json's single attachment object.  Containers made or run before keep starting, showing and tearing down
   their network; the new shapes ("Networks", "Attachments") read alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "network/attach.h"
#include "network/ports.h"
#include "tap.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static json_t *
parse (const char *text)
{
  json_t *j = json_loads (text, 0, NULL);
  if (j == NULL)
    {
      fprintf (stderr, "bad test JSON: %s\n", text);
      exit (2);
    }
  return j;
}

/* network_choices of a record, as compact JSON. */
static char *
choices_of (const char *record)
{
  struct container c = { .id = ID, .config = parse (record) };
  cleanup_json json_t *choices = network_choices (&c);
  char *text = json_dumps (choices, JSON_COMPACT);
  json_decref (c.config);
  return text;
}

static void
write_text (const char *path, const char *text)
{
  FILE *f = fopen (path, "w");
  if (f == NULL || fputs (text, f) < 0 || fclose (f) != 0)
    {
      perror (path);
      exit (2);
    }
}

/* What inspect shows of a container whose network.json holds file: "NAME=IP/IFACE …" of its attachments, then its
   NetworkSettings' Networks keys and Ports. */
static char *
shown (const char *dir, const char *record, const char *file)
{
  cleanup_free char *path = xasprintf ("%s/network.json", dir);
  write_text (path, file);
  struct container c = { .id = ID, .dir = (char *)dir, .config = parse (record) };
  cleanup_json json_t *atts = network_attachments (&c);
  cleanup_free char *out = xstrdup ("");
  size_t i;
  json_t *att;
  json_array_foreach (atts, i, att)
  {
    char *next = xasprintf ("%s%s=%s/%s ", out, json_string_value (json_object_get (att, "Network")),
                            json_string_value (json_object_get (att, "IPAddress")), network_attachment_interface (att));
    free (out);
    out = next;
  }
  cleanup_json json_t *settings = network_settings_json (&c);
  cleanup_json json_t *ports = ports_of_container (&c);
  cleanup_free char *ports_text = json_dumps (ports, JSON_COMPACT);
  const char *key;
  json_t *v;
  json_object_foreach (json_object_get (settings, "Networks"), key, v)
  {
    cleanup_free char *aliases = json_dumps (json_object_get (v, "Aliases"), JSON_COMPACT | JSON_ENCODE_ANY);
    char *next = xasprintf ("%s[%s %s %s]", out, key, json_string_value (json_object_get (v, "IPAddress")), aliases);
    free (out);
    out = next;
  }
  char *all
      = xasprintf ("%s top=%s ports=%s", out, json_string_value (json_object_get (settings, "IPAddress")), ports_text);
  json_decref (c.config);
  (void)unlink (path);
  return all;
}

int
main (void)
{
  static const struct
  {
    const char *record, *want;
  } choices[] = {
    /* made by create, never connected: NetworkMode's network with create's --ip and --network-alias */
    { "{\"HostConfig\": {\"NetworkMode\": \"web\"}, \"Endpoint\": {\"Aliases\": [\"w\"]}}",
      "[{\"Name\":\"web\",\"Endpoint\":{\"Aliases\":[\"w\"]}}]" },
    { "{\"HostConfig\": {\"NetworkMode\": \"default\"}}", "[{\"Name\":\"bridge\"}]" },
    { "{\"HostConfig\": {}}", "[{\"Name\":\"bridge\"}]" },
    { "{\"HostConfig\": {\"NetworkMode\": \"none\"}}", "[]" },
    { "{\"HostConfig\": {\"NetworkMode\": \"host\"}}", "[]" },
    { "{\"HostConfig\": {\"NetworkMode\": \"container:abc\"}}", "[]" },
    /* connected or disconnected by isola before several networks: one "Network" */
    { "{\"HostConfig\": {\"NetworkMode\": \"bridge\"}, \"Network\": \"cn\", \"Endpoint\": {\"IPAMConfig\": "
      "{\"IPv4Address\": \"10.92.0.9\"}}}",
      "[{\"Name\":\"cn\",\"Endpoint\":{\"IPAMConfig\":{\"IPv4Address\":\"10.92.0.9\"}}}]" },
    { "{\"HostConfig\": {\"NetworkMode\": \"bridge\"}, \"Network\": null}", "[]" },
    /* today's: the list, which wins over everything else */
    { "{\"HostConfig\": {\"NetworkMode\": \"bridge\"}, \"Networks\": [{\"Name\": \"a\"}, {\"Name\": \"b\", "
      "\"Endpoint\": {\"Aliases\": [\"x\"]}}], \"Network\": \"old\"}",
      "[{\"Name\":\"a\"},{\"Name\":\"b\",\"Endpoint\":{\"Aliases\":[\"x\"]}}]" },
    { "{\"HostConfig\": {\"NetworkMode\": \"bridge\"}, \"Networks\": []}", "[]" },
  };
  for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++)
    {
      cleanup_free char *got = choices_of (choices[i].record);
      CHECK_STR (got, choices[i].want, "choices of %s (got %s)", choices[i].record, got);
    }

  char dir[] = "/tmp/test_records.XXXXXX";
  if (mkdtemp (dir) == NULL)
    return perror ("mkdtemp"), 2;
  static const struct
  {
    const char *what, *record, *file, *want;
  } files[] = {
    { "network.json of one network, as isola wrote it before", "{\"HostConfig\": {\"NetworkMode\": \"bridge\"}}",
      "{\"Network\": \"bridge\", \"NetworkID\": \"n1\", \"IPAddress\": \"10.88.0.2\", \"Veth\": \"veth0123\", "
      "\"Ports\": {\"80/tcp\": [{\"HostIp\": \"0.0.0.0\", \"HostPort\": \"8080\"}]}}",
      "bridge=10.88.0.2/eth0 [bridge 10.88.0.2 null] top=10.88.0.2 "
      "ports={\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"8080\"}]}" },
    { "network.json of two networks, with the aliases of each",
      "{\"HostConfig\": {\"NetworkMode\": \"a\"}, "
      "\"Networks\": [{\"Name\": \"a\"}, {\"Name\": \"b\", \"Endpoint\": {\"Aliases\": [\"x\"]}}]}",
      "{\"Attachments\": [{\"Network\": \"a\", \"NetworkID\": \"na\", \"IPAddress\": \"10.1.0.2\", \"Interface\": "
      "\"eth0\"}, {\"Network\": \"b\", \"NetworkID\": \"nb\", \"IPAddress\": \"10.2.0.3\", \"Interface\": \"eth1\"}]}",
      "a=10.1.0.2/eth0 b=10.2.0.3/eth1 [a 10.1.0.2 null][b 10.2.0.3 [\"x\"]] top= ports={}" },
    { "a stopped container: its choices, without addresses",
      "{\"HostConfig\": {\"NetworkMode\": \"bridge\"}, "
      "\"Network\": \"cn\", \"Endpoint\": {\"Aliases\": [\"mv\"]}}",
      "not json", "[cn  [\"mv\"]] top= ports={}" },
    { "none: shown as Docker does", "{\"HostConfig\": {\"NetworkMode\": \"none\"}}", "{}",
      "[none  null] top= ports={}" },
    { "disconnected: no network at all", "{\"HostConfig\": {\"NetworkMode\": \"none\"}, \"Networks\": []}", "{}",
      " top= ports={}" },
  };
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    {
      cleanup_free char *got = shown (dir, files[i].record, files[i].file);
      CHECK_STR (got, files[i].want, "%s (got %s)", files[i].what, got);
    }
  (void)rmdir (dir);
  return tap_done ();
}

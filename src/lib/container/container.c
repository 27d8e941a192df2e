#define _GNU_SOURCE
#include "container/container.h"
#include "container/inspect_shape.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/env.h"
#include "base/jbytes.h"
#include "base/json.h"
#include "base/digest.h"
#include "base/util.h"
#include "container/logconfig.h"
#include "image/oci.h"
#include "proto/attach.h"
#include "proto/attach_client.h"
#include "sandbox/netns.h"

#define CONTAINER_JSON_MAX (4 * 1024 * 1024)

void
container_free (struct container *c)
{
  if (c == NULL)
    return;
  free (c->dir);
  free (c->damage);
  json_decref (c->config);
  json_decref (c->state);
  free (c);
}

char *
container_path (const struct container *c, const char *name)
{
  return xasprintf ("%s/%s", c->dir, name);
}

static int
write_json_file (const char *path, json_t *o, isola_error_t *err)
{
  cleanup_free char *text = json_dumps (o, JSON_COMPACT);
  if (text == NULL)
    return isola_error_fail (err, ENOMEM, "cannot encode `%s`", path);
  return write_file_replace (path, text, strlen (text), 0600, err);
}

static int
read_json_file (const char *path, json_t **out, isola_error_t *err)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  int ret = read_file_bounded (path, CONTAINER_JSON_MAX, &buf, &len, err);
  if (ret < 0)
    return ret;
  json_t *o = json_loadb (buf, len, 0, NULL);
  if (!json_is_object (o))
    {
      json_decref (o);
      return isola_error_fail (err, EINVAL, "corrupt container file `%s`", path);
    }
  *out = o;
  return 0;
}

int
container_write_state (struct container *c, isola_error_t *err)
{
  cleanup_free char *p = container_path (c, "state.json");
  return write_json_file (p, c->state, err);
}

int
container_write_config (struct container *c, isola_error_t *err)
{
  cleanup_free char *p = container_path (c, "config.json");
  return write_json_file (p, c->config, err);
}

static const char *config_damage (const char *id, json_t *o);

int
container_lock_config (struct container *c, int *fd_out, isola_error_t *err)
{
  cleanup_close int fd = open (c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? isola_error_fail (err, ENOENT, "No such container: %s", c->id)
                           : isola_error_make (err, errno, "open `%s`", c->dir);
  while (flock (fd, LOCK_EX) < 0)
    if (errno != EINTR)
      return isola_error_make (err, errno, "lock `%s`", c->dir);
  cleanup_free char *p = container_path (c, "config.json");
  json_t *fresh = NULL;
  int ret = read_json_file (p, &fresh, err);
  if (ret == -ENOENT)
    return isola_error_fail (err, ENOENT, "No such container: %s", c->id);
  if (ret < 0)
    return ret;
  const char *why = config_damage (c->id, fresh);
  if (why)
    {
      ret = isola_error_fail (err, EIO, "corrupt container file `%s`: %s", p, why);
      json_decref (fresh);
      return ret;
    }
  json_decref (c->config);
  c->config = fresh;
  *fd_out = take_fd (&fd);
  return 0;
}

/* --- names ---------------------------------------------------------------------------------------------------- */

static const char *const name_left[] = {
  "admiring", "bold",  "brave", "calm",   "clever", "eager",   "elegant",  "festive", "focused", "gallant",
  "gentle",   "happy", "jolly", "keen",   "kind",   "lucid",   "modest",   "nifty",   "quirky",  "serene",
  "sharp",    "stoic", "sweet", "tender", "upbeat", "vibrant", "wizardly", "zealous",
};
static const char *const name_right[] = {
  "agnesi", "babbage", "bell",    "curie", "darwin",   "dijkstra", "einstein", "euler",   "fermat", "galileo",
  "hopper", "hypatia", "kepler",  "knuth", "lamarr",   "lovelace", "mccarthy", "meitner", "newton", "noether",
  "pascal", "ritchie", "shannon", "tesla", "thompson", "torvalds", "turing",   "wozniak",
};

static char *
generate_name (void)
{
  unsigned int r[2] = { 0, 0 };
  if (getrandom (r, sizeof r, 0) < 0)
    r[0] = (unsigned int)getpid (), r[1] = (unsigned int)time (NULL);
  return xasprintf ("%s_%s", name_left[r[0] % ARRAY_SIZE (name_left)], name_right[r[1] % ARRAY_SIZE (name_right)]);
}

/* Docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
static bool
valid_name (const char *n)
{
  if (!((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') || (n[0] >= '0' && n[0] <= '9')) || n[1] == '\0')
    return false;
  for (const char *p = n; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'
          || *p == '-'))
      return false;
  return strlen (n) <= 128;
}

/* The name in ID/name, or NULL when that record is missing or damaged. */
static char *
read_name_record (const struct container *c)
{
  cleanup_free char *p = container_path (c, "name");
  cleanup_free char *text = NULL;
  if (read_file_bounded (p, 256, &text, NULL, NULL) < 0)
    return NULL;
  text[strcspn (text, "\n")] = '\0';
  return valid_name (text) ? take_ptr (&text) : NULL;
}

static int
write_name_record (const struct container *c, const char *name, isola_error_t *err)
{
  cleanup_free char *p = container_path (c, "name");
  return write_file_replace (p, name, strlen (name), 0600, err);
}

/* A name is taken while any container's config.json or name record holds it, damaged containers included. */
static bool
name_taken (const struct isola_store *s, const char *name, char id_out[DIGEST_HEX_LEN + 1])
{
  cleanup_strv char **ids = NULL;
  if (name[0] == '\0' || container_list_ids (s, &ids, NULL) < 0)
    return false;
  for (size_t i = 0; ids[i]; i++)
    {
      cleanup_container struct container *c = NULL;
      if (container_load_any (s, ids[i], &c, NULL) < 0)
        continue;
      cleanup_free char *recorded = read_name_record (c);
      if (strcmp (container_name (c), name) == 0 || (recorded && strcmp (recorded, name) == 0))
        {
          if (id_out)
            memcpy (id_out, c->id, DIGEST_HEX_LEN + 1);
          return true;
        }
    }
  return false;
}

/* --- create, load, list ---------------------------------------------------------------------------------------- */

static json_t *
initial_state (void)
{
  return json_pack ("{s:s, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, s:s, s:s}", "Status", "created", "Running", 0,
                    "Paused", 0, "Restarting", 0, "OOMKilled", 0, "Dead", 0, "Pid", 0, "ExitCode", 0, "Error", "",
                    "StartedAt", "0001-01-01T00:00:00Z", "FinishedAt", "0001-01-01T00:00:00Z");
}

static int
choose_name (struct isola_store *s, json_t *config, isola_error_t *err)
{
  const char *name = json_string_value (json_object_get (config, "Name"));
  if (name && name[0] == '/')
    name++;
  if (name == NULL || name[0] == '\0')
    {
      for (int tries = 0; tries < 20; tries++)
        {
          cleanup_free char *n = generate_name ();
          if (!name_taken (s, n, NULL))
            return json_object_set_new (config, "Name", json_sprintf ("/%s", n)), 0;
        }
      return isola_error_fail (err, EEXIST, "cannot generate a unique container name");
    }
  if (!valid_name (name))
    return isola_error_fail (err, EINVAL, "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                             name);
  char other[DIGEST_HEX_LEN + 1];
  if (name_taken (s, name, other))
    return isola_error_fail (err, EEXIST,
                             "Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to "
                             "remove (or rename) that container to be able to reuse that name.",
                             name, other);
  cleanup_free char *slashed = xasprintf ("/%s", name);
  json_object_set_new (config, "Name", json_string (slashed));
  return 0;
}

/* The host's resolver configuration without loopback name servers, which mean nothing in another network
   namespace (Docker filters them the same way). */
static char *
container_resolv_conf (bool host_network)
{
  cleanup_free char *host = NULL;
  if (read_file_bounded ("/etc/resolv.conf", 65536, &host, NULL, NULL) < 0)
    return xstrdup ("");
  if (host_network)
    return take_ptr (&host);
  char *out = xcalloc (1, strlen (host) + 1);
  char *save = NULL;
  for (char *line = strtok_r (host, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      if (str_has_prefix (line, "nameserver") && (strstr (line, " 127.") || strstr (line, " ::1")))
        continue;
      strcat (out, line);
      strcat (out, "\n");
    }
  return out;
}

static void
append_text (char **text, const char *a, const char *b)
{
  char *grown = xasprintf ("%s%s%s", *text, a, b);
  free (*text);
  *text = grown;
}

/* The words after KEYWORD on the lines of a resolv.conf that begin with it, one list. */
static char **
resolv_words (const char *text, const char *keyword)
{
  char **words = xcalloc (1, sizeof (char *));
  cleanup_free char *copy = xstrdup (text);
  char *save = NULL;
  for (char *line = strtok_r (copy, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      size_t n = strlen (keyword);
      if (strncmp (line, keyword, n) != 0 || (line[n] != ' ' && line[n] != '\t'))
        continue;
      char *wsave = NULL;
      for (char *w = strtok_r (line + n, " \t", &wsave); w; w = strtok_r (NULL, " \t", &wsave))
        strv_push (&words, w);
    }
  return words;
}

static char *
words_join (char **words)
{
  char *out = xstrdup ("");
  for (size_t i = 0; words[i]; i++)
    append_text (&out, i ? " " : "", words[i]);
  return out;
}

static char **
host_config_strings (const struct container *c, const char *key)
{
  char **v = xcalloc (1, sizeof (char *));
  size_t i;
  json_t *x;
  json_array_foreach (json_object_get (container_host_config (c), key), i, x)
      strv_push (&v, json_string_value (x) ?: "");
  return v;
}

/* --dns, --dns-search, --dns-option: libnetwork's resolvconf.Build, each list given replacing the host's, the
   others the host's: "search ...", "nameserver X" lines, "options ...". */
static char *
resolv_with_options (const struct container *c, char *base)
{
  cleanup_strv char **dns = host_config_strings (c, "Dns");
  cleanup_strv char **search = host_config_strings (c, "DnsSearch");
  cleanup_strv char **options = host_config_strings (c, "DnsOptions");
  if (!dns[0] && !search[0] && !options[0])
    return base;
  cleanup_free char *host = base;
  cleanup_strv char **host_dns = resolv_words (host, "nameserver");
  cleanup_strv char **host_search = resolv_words (host, "search");
  cleanup_strv char **host_options = resolv_words (host, "options");
  char **const s = search[0] ? search : host_search, **const d = dns[0] ? dns : host_dns;
  char **const o = options[0] ? options : host_options;
  char *out = xstrdup ("");
  cleanup_free char *search_line = words_join (s);
  if (s[0] && strcmp (search_line, ".") != 0)
    append_text (&out, "search ", search_line), append_text (&out, "\n", "");
  for (size_t i = 0; d[i]; i++)
    append_text (&out, "nameserver ", d[i]), append_text (&out, "\n", "");
  cleanup_free char *options_line = words_join (o);
  if (o[0])
    append_text (&out, "options ", options_line), append_text (&out, "\n", "");
  return out;
}

static const char *config_string (const struct container *c, const char *key);

char *
container_hosts_names (const struct container *c)
{
  const char *hostname = container_hostname (c) ?: "";
  const char *domain = config_string (c, "Domainname");
  cleanup_free char *fqdn = domain && domain[0] ? xasprintf ("%s.%s", hostname, domain) : xstrdup (hostname);
  const char *dot = strchr (fqdn, '.');
  return dot ? xasprintf ("%s %.*s", fqdn, (int)(dot - fqdn), fqdn) : take_ptr (&fqdn);
}

/* --add-host NAME:IP lines, after Docker's own and before the container's name (libnetwork's order). */
static void
hosts_extra (const struct container *c, const char *host_gateway, char **text)
{
  cleanup_strv char **extra = host_config_strings (c, "ExtraHosts");
  for (size_t i = 0; extra[i]; i++)
    {
      char *colon = strchr (extra[i], ':');
      if (colon == NULL)
        continue;
      *colon = '\0';
      const char *ip = strcmp (colon + 1, "host-gateway") == 0 ? host_gateway : colon + 1;
      cleanup_free char *line = xasprintf ("%s\t%s\n", ip ? ip : "", extra[i]);
      append_text (text, line, "");
    }
}

static int
write_etc_files (struct container *c, const char *host_gateway, isola_error_t *err)
{
  const char *hostname = container_hostname (c);
  if (hostname == NULL || hostname[0] == '\0')
    {
      char short_id[13];
      memcpy (short_id, c->id, 12);
      short_id[12] = '\0';
      json_object_set_new (container_config (c), "Hostname", json_string (short_id));
      hostname = container_hostname (c);
    }
  bool host_network = container_host_network (c);
  cleanup_free char *hostname_text = xasprintf ("%s\n", hostname);
  /* Docker's lines, plus the container's own name as Docker adds it with its address: a container has no address
     of its own here but its loopback, so it gets Debian's 127.0.1.1 (network/attach.c puts its address there), and
     `hostname -f` works. */
  cleanup_free char *hosts_text = xstrdup ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                                           "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                                           "ff02::2\tip6-allrouters\n");
  hosts_extra (c, host_gateway, &hosts_text);
  cleanup_free char *names = container_hosts_names (c);
  append_text (&hosts_text, "127.0.1.1\t", names);
  append_text (&hosts_text, "\n", "");
  cleanup_free char *resolv = resolv_with_options (c, container_resolv_conf (host_network));
  cleanup_free char *p1 = container_path (c, "hostname"), *p2 = container_path (c, "hosts");
  cleanup_free char *p3 = container_path (c, "resolv.conf");
  int ret = write_file_replace (p1, hostname_text, strlen (hostname_text), 0644, err);
  if (ret == 0)
    ret = write_file_replace (p2, hosts_text, strlen (hosts_text), 0644, err);
  if (ret == 0)
    ret = write_file_replace (p3, resolv, strlen (resolv), 0644, err);
  return ret;
}

/* Docker's Path and Args: the entrypoint followed by the command, split after the first word. */
static void
set_command_line (json_t *record, json_t *config)
{
  json_t *all = json_array ();
  if (json_is_array (json_object_get (config, "Entrypoint")))
    json_array_extend (all, json_object_get (config, "Entrypoint"));
  if (json_is_array (json_object_get (config, "Cmd")))
    json_array_extend (all, json_object_get (config, "Cmd"));
  if (json_array_size (all) > 0)
    {
      json_object_set (record, "Path", json_array_get (all, 0));
      json_array_remove (all, 0);
    }
  json_object_set_new (record, "Args", all);
}

/* config.json's shape: Docker's inspect, less what inspect adds (State, paths, mounts, network settings). */
static json_t *
new_record (const struct container_new *n, const char *id)
{
  json_t *record = json_object ();
  json_object_set_new (record, "Config", json_deep_copy (n->config));
  json_object_set_new (record, "HostConfig", json_deep_copy (n->host_config));
  if (n->mounts)
    json_object_set_new (record, "Mounts", json_deep_copy (n->mounts));
  if (n->exact)
    json_object_set_new (record, "Exact", json_deep_copy (n->exact));
  if (n->endpoint)
    json_object_set_new (record, "Endpoint", json_deep_copy (n->endpoint));
  if (n->name && n->name[0])
    json_object_set_new (record, "Name", json_string (n->name));
  json_object_set_new (record, "Image", json_sprintf ("sha256:%s", n->image_id));
  set_command_line (record, n->config);
  json_object_set_new (record, "Id", json_string (id));
  cleanup_free char *created = time_rfc3339_now ();
  json_object_set_new (record, "Created", json_string (created));
  return record;
}

/* Whether the container logs nothing (the none driver): then it has no ctr.log. */
static bool
log_driver_none (json_t *host_config)
{
  struct log_config lc = { .driver = LOG_DRIVER_JSON_FILE };
  (void)log_config_parse (json_object_get (host_config, "LogConfig"), &lc, NULL);
  return lc.driver == LOG_DRIVER_NONE;
}

int
container_create (struct isola_store *s, const struct container_new *n, struct container **out, isola_error_t *err)
{
  cleanup_container struct container *c = xcalloc (1, sizeof (*c));
  random_id_hex (c->id);
  c->config = new_record (n, c->id);
  int ret = choose_name (s, c->config, err);
  if (ret < 0)
    return ret;
  c->dir = store_path (s, "containers/%s", c->id);
  c->state = initial_state ();

  /* Built under tmp/ and renamed into place: a container directory is complete or absent. */
  cleanup_free char *staging = NULL;
  ret = store_make_tmp (s, "create", &staging, err);
  if (ret < 0)
    return ret;
  char *final_dir = c->dir;
  c->dir = staging;
  static const char *const subdirs[] = { "upper", "work", "rootfs" };
  for (size_t i = 0; i < ARRAY_SIZE (subdirs) && ret == 0; i++)
    {
      cleanup_free char *p = container_path (c, subdirs[i]);
      if (mkdir (p, 0755) < 0)
        ret = isola_error_make (err, errno, "mkdir `%s`", p);
    }
  cleanup_free char *log = container_path (c, "ctr.log");
  if (ret == 0 && !log_driver_none (n->host_config))
    ret = write_file_replace (log, "", 0, 0600, err);
  if (ret == 0)
    ret = write_etc_files (c, n->gateway, err);
  if (ret == 0)
    ret = write_name_record (c, container_name (c), err);
  if (ret == 0)
    ret = container_write_config (c, err);
  if (ret == 0)
    ret = container_write_state (c, err);
  cleanup_free char *parent = store_path (s, "containers");
  if (ret == 0 && mkdir (parent, 0700) < 0 && errno != EEXIST)
    ret = isola_error_make (err, errno, "mkdir `%s`", parent);
  if (ret == 0 && rename (staging, final_dir) < 0)
    ret = isola_error_make (err, errno, "create `%s`", final_dir);
  c->dir = final_dir;
  if (ret < 0)
    {
      (void)rm_rf (staging, NULL);
      return ret;
    }
  *out = take_ptr (&c);
  return 0;
}

/* --- damaged records -------------------------------------------------------------------------------------- */

static bool
string_or_absent (json_t *o, const char *key)
{
  json_t *v = json_object_get (o, key);
  return v == NULL || json_is_string (v);
}

static bool
type_or_absent (json_t *o, const char *key, json_type type)
{
  json_t *v = json_object_get (o, key);
  return v == NULL || json_typeof (v) == type;
}

/* What is wrong with a parsed config.json, or NULL: the fields that container.c's getters and ps rely on. */
static const char *
config_damage (const char *id, json_t *o)
{
  if (!json_is_object (o))
    return "not a JSON object";
  const char *rid = json_string_value (json_object_get (o, "Id"));
  if (rid == NULL || strcmp (rid, id) != 0)
    return "no Id, or another container's";
  const char *name = json_string_value (json_object_get (o, "Name"));
  if (name == NULL || name[0] != '/' || !valid_name (name + 1))
    return "no valid Name";
  if (!type_or_absent (o, "Config", JSON_OBJECT) || !type_or_absent (o, "HostConfig", JSON_OBJECT))
    return "Config or HostConfig is not an object";
  if (!string_or_absent (o, "Path") || !string_or_absent (o, "Image") || !string_or_absent (o, "Created"))
    return "Path, Image or Created is not a string";
  json_t *args = json_object_get (o, "Args"), *a;
  size_t i;
  if (args && !json_is_array (args))
    return "Args is not an array";
  json_array_foreach (args, i, a) if (!json_is_string (a)) return "Args holds a value that is not a string";
  if (!type_or_absent (o, "Mounts", JSON_ARRAY) || !type_or_absent (o, "Exact", JSON_OBJECT)
      || !type_or_absent (o, "Endpoint", JSON_OBJECT))
    return "Mounts is not an array, or Exact or Endpoint not an object";
  json_t *networks = json_object_get (o, "Networks"), *n;
  if (networks && !json_is_array (networks))
    return "Networks is not an array";
  json_array_foreach (networks, i, n) if (!json_is_string (json_object_get (n, "Name"))
                                          || !type_or_absent (n, "Endpoint", JSON_OBJECT)) return "Networks holds a "
                                                                                                  "malformed network";
  return NULL;
}

static const char *
state_damage (json_t *o)
{
  if (!json_is_object (o))
    return "not a JSON object";
  static const char *const statuses[] = { "created", "running", "paused", "restarting", "removing", "exited", "dead" };
  const char *status = json_string_value (json_object_get (o, "Status"));
  bool known = false;
  for (size_t i = 0; status && i < ARRAY_SIZE (statuses); i++)
    known = known || strcmp (status, statuses[i]) == 0;
  if (!known)
    return "no valid Status";
  static const char *const flags[] = { "Running", "Paused", "Restarting" };
  for (size_t i = 0; i < ARRAY_SIZE (flags); i++)
    if (!json_is_boolean (json_object_get (o, flags[i])))
      return "Running, Paused or Restarting is not a boolean";
  if (!json_is_integer (json_object_get (o, "Pid")) || !json_is_integer (json_object_get (o, "ExitCode")))
    return "Pid or ExitCode is not an integer";
  if (!type_or_absent (o, "MonitorPid", JSON_INTEGER) || !type_or_absent (o, "RestartCount", JSON_INTEGER))
    return "MonitorPid or RestartCount is not an integer";
  return NULL;
}

/* Reads one record file: 0 and *out, -ENOENT when it is missing, or another negative errno with *why. */
static int
read_record (const char *path, json_t **out, char **why)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  cleanup_error isola_error_t e = NULL;
  int ret = read_file_bounded (path, CONTAINER_JSON_MAX, &buf, &len, &e);
  if (ret < 0)
    {
      *why = xstrdup (ret == -ENOENT ? "missing" : e ? e->msg : strerror (-ret));
      return ret;
    }
  json_error_t jerr;
  *out = json_loadb (buf, len, 0, &jerr);
  if (*out == NULL)
    {
      *why = xasprintf ("not JSON (%s)", jerr.text);
      return -EINVAL;
    }
  return 0;
}

/* Docker's "dead": what a damaged container shows, with why in State.Error. */
static json_t *
dead_state (const char *why)
{
  json_t *st = initial_state ();
  json_object_set_new (st, "Status", json_string ("dead"));
  json_object_set_new (st, "Dead", json_true ());
  json_object_set_new (st, "Error", json_string (why));
  return st;
}

/* All that is kept of a damaged config.json: the ID, the name when a record still holds it, and when the
   container was made (its directory's time). */
static json_t *
minimal_config (const struct container *c, json_t *damaged)
{
  json_t *o = json_pack ("{s:s, s:[], s:s, s:{}, s:{}}", "Id", c->id, "Args", "Image", "", "Config", "HostConfig");
  const char *name = json_string_value (json_object_get (damaged, "Name"));
  cleanup_free char *recorded = read_name_record (c);
  if (name && name[0] == '/' && valid_name (name + 1))
    json_object_set_new (o, "Name", json_string (name));
  else
    json_object_set_new (o, "Name", json_sprintf ("/%s", recorded ?: ""));
  struct stat st;
  if (stat (c->dir, &st) == 0)
    {
      char when[64];
      struct tm tm;
      time_t t = st.st_mtime;
      gmtime_r (&t, &tm);
      strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
      json_object_set_new (o, "Created", json_string (when));
    }
  return o;
}

int
container_load_any (const struct isola_store *s, const char *id, struct container **out, isola_error_t *err)
{
  if (!digest_hex_valid (id))
    return isola_error_fail (err, EINVAL, "invalid container ID `%s`", id);
  cleanup_container struct container *c = xcalloc (1, sizeof (*c));
  memcpy (c->id, id, DIGEST_HEX_LEN + 1);
  c->dir = store_path (s, "containers/%s", id);
  struct stat dir_st;
  if (lstat (c->dir, &dir_st) == 0 && !S_ISDIR (dir_st.st_mode))
    return isola_error_fail (err, ENOENT, "No such container: %s", id);
  cleanup_free char *cfg = container_path (c, "config.json");
  cleanup_free char *st = container_path (c, "state.json");
  cleanup_free char *config_why = NULL, *state_why = NULL;
  int ret = read_record (cfg, &c->config, &config_why);
  /* Removed (renamed away) while we looked, or never there. */
  if (ret == -ENOENT && access (c->dir, F_OK) < 0)
    return isola_error_fail (err, ENOENT, "No such container: %s", id);
  if (ret == 0 && config_damage (id, c->config))
    config_why = xstrdup (config_damage (id, c->config));
  if (read_record (st, &c->state, &state_why) == 0 && state_damage (c->state))
    state_why = xstrdup (state_damage (c->state));
  if (config_why == NULL && state_why == NULL)
    {
      *out = take_ptr (&c);
      return 0;
    }
  c->damage = xasprintf ("%s%s%s%s%s", config_why ? "config.json: " : "", config_why ?: "",
                         config_why && state_why ? "; " : "", state_why ? "state.json: " : "", state_why ?: "");
  if (config_why)
    {
      json_t *damaged = c->config;
      c->config = minimal_config (c, damaged);
      json_decref (damaged);
    }
  json_decref (c->state);
  cleanup_free char *error = xasprintf ("the container's record is damaged: %s", c->damage);
  c->state = dead_state (error);
  *out = take_ptr (&c);
  return 0;
}

int
container_load (const struct isola_store *s, const char *id, struct container **out, isola_error_t *err)
{
  cleanup_container struct container *c = NULL;
  int ret = container_load_any (s, id, &c, err);
  if (ret < 0)
    return ret;
  if (c->damage)
    return isola_error_fail (
        err, EIO, "container %.12s: its record is damaged (%s): remove it with `isola rm -f %.12s`", id, c->damage, id);
  *out = take_ptr (&c);
  return 0;
}

const char *
container_damage (const struct container *c)
{
  return c->damage;
}

/* Only a directory is a container: a symlink in containers/ (whoever put it there) is never looked through, so that
   nothing isola reads or writes of a container (its state, its log) lands outside the store. */
static bool
is_container_dir (int dirfd, const struct dirent *de)
{
  if (de->d_type != DT_UNKNOWN)
    return de->d_type == DT_DIR;
  struct stat st;
  return fstatat (dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode);
}

int
container_list_ids (const struct isola_store *s, char ***out, isola_error_t *err)
{
  cleanup_free char *dir = store_path (s, "containers");
  cleanup_strv char **ids = xcalloc (1, sizeof (char *));
  cleanup_dir DIR *d = opendir (dir);
  if (d == NULL && errno != ENOENT)
    return isola_error_make (err, errno, "open `%s`", dir);
  struct dirent *de;
  while (d && (de = readdir (d)))
    if (digest_hex_valid (de->d_name) && is_container_dir (dirfd (d), de))
      strv_push (&ids, de->d_name);
  *out = take_ptr (&ids);
  return 0;
}

int
container_resolve (const struct isola_store *s, const char *what, char id_out[DIGEST_HEX_LEN + 1], isola_error_t *err)
{
  const char *name = what[0] == '/' ? what + 1 : what;
  if (name_taken (s, name, id_out))
    return 0;
  cleanup_strv char **ids = NULL;
  int ret = container_list_ids (s, &ids, err);
  if (ret < 0)
    return ret;
  size_t plen = strlen (what);
  const char *found = NULL;
  for (size_t i = 0; plen > 0 && ids[i]; i++)
    if (strncmp (ids[i], what, plen) == 0)
      {
        if (found)
          return isola_error_fail (err, EINVAL, "multiple containers match the ID prefix `%s`", what);
        found = ids[i];
      }
  if (found == NULL)
    return isola_error_fail (err, ENOENT, "No such container: %s", what);
  memcpy (id_out, found, DIGEST_HEX_LEN + 1);
  return 0;
}

/* --- state ---------------------------------------------------------------------------------------------------- */

const char *
container_status (const struct container *c)
{
  const char *s = json_string_value (json_object_get (c->state, "Status"));
  return s ? s : "unknown";
}

bool
container_is_running (const struct container *c)
{
  return json_is_true (json_object_get (c->state, "Running"));
}

bool
container_is_paused (const struct container *c)
{
  return json_is_true (json_object_get (c->state, "Paused"));
}

const char *
container_name (const struct container *c)
{
  const char *n = json_string_value (json_object_get (c->config, "Name"));
  return n ? (n[0] == '/' ? n + 1 : n) : "";
}

pid_t
container_pid (const struct container *c)
{
  return (pid_t)json_integer_value (json_object_get (c->state, "Pid"));
}

/* --- the record's fields ------------------------------------------------------------------------------------ */

json_t *
container_config (const struct container *c)
{
  return json_object_get (c->config, "Config");
}

json_t *
container_endpoint (const struct container *c)
{
  return json_object_get (c->config, "Endpoint");
}

json_t *
container_host_config (const struct container *c)
{
  return json_object_get (c->config, "HostConfig");
}

void
container_set_host_config (struct container *c, json_t *host_config)
{
  json_object_set_new (c->config, "HostConfig", host_config);
}

json_t *
container_mounts (const struct container *c)
{
  json_t *m = json_object_get (c->config, "Mounts");
  return json_is_array (m) ? m : NULL;
}

static const char *
config_string (const struct container *c, const char *key)
{
  return json_string_value (json_object_get (container_config (c), key));
}

static bool
host_config_true (const struct container *c, const char *key)
{
  return json_is_true (json_object_get (container_host_config (c), key));
}

const char *
container_image_id (const struct container *c)
{
  const char *image = json_string_value (json_object_get (c->config, "Image"));
  return image && str_has_prefix (image, "sha256:") ? image + 7 : NULL;
}

const char *
container_image_name (const struct container *c)
{
  return config_string (c, "Image") ?: "";
}

const char *
container_created (const struct container *c)
{
  return json_string_value (json_object_get (c->config, "Created")) ?: "";
}

static void
strv_push_strings (char ***v, json_t *array)
{
  size_t i;
  json_t *x;
  json_array_foreach (array, i, x) if (json_is_string (x)) strv_push (v, json_string_value (x));
}

char **
container_argv (const struct container *c)
{
  json_t *exact = json_object_get (c->config, "Exact");
  if (exact)
    {
      char **argv = jbytes_strv (json_object_get (exact, "Entrypoint"));
      cleanup_strv char **cmd = jbytes_strv (json_object_get (exact, "Cmd"));
      for (size_t i = 0; cmd[i]; i++)
        strv_push (&argv, cmd[i]);
      return argv;
    }
  return container_argv_shown (c);
}

char **
container_argv_shown (const struct container *c)
{
  char **argv = xcalloc (1, sizeof (char *));
  const char *path = json_string_value (json_object_get (c->config, "Path"));
  if (path)
    strv_push (&argv, path);
  strv_push_strings (&argv, json_object_get (c->config, "Args"));
  return argv;
}

char **
container_env_for (const struct container *c, bool tty)
{
  cleanup_strv char **defaults = xcalloc (1, sizeof (char *));
  strv_push (&defaults, "PATH=" ISOLA_DEFAULT_PATH);
  const char *hostname = container_hostname (c);
  if (hostname && hostname[0])
    {
      cleanup_free char *kv = xasprintf ("HOSTNAME=%s", hostname);
      strv_push (&defaults, kv);
    }
  if (tty)
    strv_push (&defaults, "TERM=xterm");
  json_t *exact = json_object_get (c->config, "Exact");
  cleanup_strv char **config_env = NULL;
  if (exact)
    config_env = jbytes_strv (json_object_get (exact, "Env"));
  else
    {
      config_env = xcalloc (1, sizeof (char *));
      strv_push_strings (&config_env, json_object_get (container_config (c), "Env"));
    }
  return env_merge (defaults, config_env);
}

char **
container_env (const struct container *c)
{
  return container_env_for (c, container_tty (c));
}

bool
container_tty (const struct container *c)
{
  return json_is_true (json_object_get (container_config (c), "Tty"));
}

bool
container_open_stdin (const struct container *c)
{
  return json_is_true (json_object_get (container_config (c), "OpenStdin"));
}

const char *
container_user (const struct container *c)
{
  return config_string (c, "User");
}

const char *
container_working_dir (const struct container *c)
{
  const char *dir = config_string (c, "WorkingDir");
  return dir && dir[0] ? dir : NULL;
}

const char *
container_hostname (const struct container *c)
{
  return config_string (c, "Hostname");
}

const char *
container_label (const struct container *c, const char *key)
{
  json_t *v = json_object_get (json_object_get (container_config (c), "Labels"), key);
  return v ? json_string_value (v) ?: "" : NULL;
}

const char *
container_stop_signal (const struct container *c)
{
  return config_string (c, "StopSignal");
}

int
container_stop_timeout (const struct container *c, int fallback)
{
  json_t *t = json_object_get (container_config (c), "StopTimeout");
  return json_is_integer (t) ? (int)json_integer_value (t) : fallback;
}

const char *
container_isolation (const struct container *c)
{
  return json_string_value (json_object_get (container_host_config (c), "Isolation"));
}

bool
container_auto_remove (const struct container *c)
{
  return host_config_true (c, "AutoRemove");
}

bool
container_init (const struct container *c)
{
  return host_config_true (c, "Init");
}

bool
container_readonly_rootfs (const struct container *c)
{
  return host_config_true (c, "ReadonlyRootfs");
}

bool
container_host_network (const struct container *c)
{
  const char *mode = json_string_value (json_object_get (container_host_config (c), "NetworkMode"));
  return mode && strcmp (mode, "host") == 0;
}

const char *
container_netns_path (const struct container *c)
{
  return netns_mode_path (json_string_value (json_object_get (container_host_config (c), "NetworkMode")));
}

void
container_set_running (struct container *c, pid_t pid, pid_t monitor_pid)
{
  cleanup_free char *now = time_rfc3339_now ();
  json_object_set_new (c->state, "Status", json_string ("running"));
  json_object_set_new (c->state, "Running", json_true ());
  json_object_set_new (c->state, "Paused", json_false ());
  json_object_set_new (c->state, "Restarting", json_false ());
  json_object_set_new (c->state, "Pid", json_integer (pid));
  json_object_set_new (c->state, "MonitorPid", json_integer (monitor_pid));
  json_object_set_new (c->state, "ExitCode", json_integer (0));
  json_object_set_new (c->state, "OOMKilled", json_false ());
  json_object_set_new (c->state, "Error", json_string (""));
  json_object_set_new (c->state, "StartedAt", json_string (now));
  json_object_set_new (c->state, "FinishedAt", json_string ("0001-01-01T00:00:00Z"));
}

void
container_set_paused (struct container *c, bool paused)
{
  json_object_set_new (c->state, "Status", json_string (paused ? "paused" : "running"));
  json_object_set_new (c->state, "Paused", json_boolean (paused));
}

void
container_set_exited (struct container *c, int exit_code, bool oom_killed, const char *error)
{
  cleanup_free char *now = time_rfc3339_now ();
  json_object_set_new (c->state, "Status", json_string ("exited"));
  json_object_set_new (c->state, "Running", json_false ());
  json_object_set_new (c->state, "Paused", json_false ());
  json_object_set_new (c->state, "Restarting", json_false ());
  json_object_set_new (c->state, "Pid", json_integer (0));
  json_object_set_new (c->state, "MonitorPid", json_integer (0));
  json_object_set_new (c->state, "ExitCode", json_integer (exit_code));
  json_object_set_new (c->state, "OOMKilled", json_boolean (oom_killed));
  json_object_set_new (c->state, "Error", json_string (error ? error : ""));
  json_object_set_new (c->state, "FinishedAt", json_string (now));
}

void
container_set_restarting (struct container *c, int exit_code, bool oom_killed, int restart_count)
{
  cleanup_free char *now = time_rfc3339_now ();
  json_object_set_new (c->state, "Status", json_string ("restarting"));
  json_object_set_new (c->state, "Running", json_true ());
  json_object_set_new (c->state, "Restarting", json_true ());
  json_object_set_new (c->state, "Pid", json_integer (0));
  json_object_set_new (c->state, "ExitCode", json_integer (exit_code));
  json_object_set_new (c->state, "OOMKilled", json_boolean (oom_killed));
  json_object_set_new (c->state, "FinishedAt", json_string (now));
  json_object_set_new (c->state, "RestartCount", json_integer (restart_count));
}

bool
container_is_restarting (const struct container *c)
{
  return json_is_true (json_object_get (c->state, "Restarting"));
}

int
container_restart_count (const struct container *c)
{
  return (int)json_integer_value (json_object_get (c->state, "RestartCount"));
}

int
container_set_manual_stop (const struct container *c, bool stopped, isola_error_t *err)
{
  cleanup_free char *p = container_path (c, "manual-stop");
  if (stopped)
    return write_file_replace (p, "", 0, 0600, err);
  if (unlink (p) < 0 && errno != ENOENT)
    return isola_error_make (err, errno, "remove `%s`", p);
  return 0;
}

bool
container_manual_stop (const struct container *c)
{
  cleanup_free char *p = container_path (c, "manual-stop");
  return access (p, F_OK) == 0;
}

static int
open_running_lock (const struct container *c)
{
  cleanup_free char *p = container_path (c, "running.lock");
  return open (p, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
}

bool
container_monitor_alive (const struct container *c)
{
  cleanup_close int fd = open_running_lock (c);
  if (fd < 0)
    return false;
  if (flock (fd, LOCK_SH | LOCK_NB) == 0)
    return false;
  return errno == EWOULDBLOCK;
}

int
container_refresh (struct container *c, isola_error_t *err)
{
  if (!container_is_running (c) || container_monitor_alive (c))
    return 0;
  /* The monitor may have exited normally between our reading the state and testing the lock: re-read. */
  cleanup_free char *st = container_path (c, "state.json");
  json_t *fresh = NULL;
  if (read_json_file (st, &fresh, NULL) == 0 && state_damage (fresh) == NULL)
    {
      json_decref (c->state);
      c->state = fresh;
      if (!container_is_running (c))
        return 0;
    }
  else
    json_decref (fresh);
  container_set_exited (c, 255, false, "container monitor died unexpectedly; the container was stopped");
  return container_write_state (c, err);
}

int
container_reload_state (struct container *c, isola_error_t *err)
{
  cleanup_free char *st = container_path (c, "state.json");
  json_t *fresh = NULL;
  int ret = read_json_file (st, &fresh, err);
  if (ret < 0)
    return ret;
  const char *why = state_damage (fresh);
  if (why)
    {
      ret = isola_error_fail (err, EIO, "corrupt container file `%s`: %s", st, why);
      json_decref (fresh);
      return ret;
    }
  json_decref (c->state);
  c->state = fresh;
  return 0;
}

int
container_wait_stopped (struct container *c, isola_error_t *err)
{
  cleanup_close int fd = open_running_lock (c);
  if (fd < 0)
    return isola_error_make (err, errno, "open running lock of %.12s", c->id);
  while (flock (fd, LOCK_SH) < 0)
    if (errno != EINTR)
      return isola_error_make (err, errno, "wait for %.12s", c->id);
  (void)flock (fd, LOCK_UN);
  int ret = container_reload_state (c, err);
  return ret < 0 ? ret : container_refresh (c, err);
}

int
container_detach (struct isola_store *s, struct container *c, char **trash, isola_error_t *err)
{
  /* Renamed away first, so a half-removed container never shows up in `ps`. */
  cleanup_free char *tmpdir = NULL;
  int ret = store_make_tmp (s, "rm", &tmpdir, err);
  if (ret < 0)
    return ret;
  cleanup_free char *dst = xasprintf ("%s/container", tmpdir);
  /* ENOENT: the monitor of a --rm container got there first. */
  if (rename (c->dir, dst) < 0 && errno != ENOENT)
    {
      ret = isola_error_make (err, errno, "remove `%s`", c->dir);
      (void)rmdir (tmpdir);
      return ret;
    }
  *trash = take_ptr (&tmpdir);
  return 0;
}

int
container_remove (struct isola_store *s, struct container *c, isola_error_t *err)
{
  cleanup_free char *trash = NULL;
  int ret = container_detach (s, c, &trash, err);
  return ret < 0 ? ret : rm_rf (trash, err);
}

bool
containers_use_image (const struct isola_store *s, const char *image_id)
{
  cleanup_strv char **ids = NULL;
  if (container_list_ids (s, &ids, NULL) < 0)
    return false;
  for (size_t i = 0; ids[i]; i++)
    {
      cleanup_container struct container *c = NULL;
      const char *image = container_load (s, ids[i], &c, NULL) == 0 ? container_image_id (c) : NULL;
      if (image && strcmp (image, image_id) == 0)
        return true;
    }
  return false;
}

int
container_rename (struct isola_store *s, const char *what, const char *new_name, isola_error_t *err)
{
  char id[DIGEST_HEX_LEN + 1];
  int ret = container_resolve (s, what, id, err);
  if (ret < 0)
    return ret;
  cleanup_container struct container *c = NULL;
  cleanup_close int config_lock = -1;
  if ((ret = container_load (s, id, &c, err)) < 0 || (ret = container_lock_config (c, &config_lock, err)) < 0)
    return ret;
  if (new_name[0] == '/')
    new_name++;
  if (strcmp (container_name (c), new_name) == 0)
    return isola_error_fail (err, EINVAL, "Renaming a container with the same name as its current name");
  json_t *probe = json_pack ("{s:s}", "Name", new_name);
  ret = choose_name (s, probe, err);
  /* The name record first: while the two differ, both names are taken. */
  cleanup_free char *old_name = xstrdup (container_name (c));
  if (ret == 0)
    ret = write_name_record (c, new_name, err);
  if (ret == 0)
    {
      json_object_set (c->config, "Name", json_object_get (probe, "Name"));
      ret = container_write_config (c, err);
      if (ret < 0)
        (void)write_name_record (c, old_name, NULL);
    }
  json_decref (probe);
  return ret;
}

static json_t *
mounts_json (json_t *host_config)
{
  json_t *mounts = json_array ();
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (host_config, "Binds"), i, v)
  {
    cleanup_free char *spec = xstrdup (json_string_value (v) ?: "");
    char *dst = strchr (spec, ':');
    if (dst == NULL)
      continue;
    *dst++ = '\0';
    char *mode = strchr (dst, ':');
    if (mode)
      *mode++ = '\0';
    json_array_append_new (mounts, json_pack ("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type", "bind", "Source", spec,
                                              "Destination", dst, "Mode", mode ? mode : "", "RW",
                                              !(mode && strcmp (mode, "ro") == 0), "Propagation", "rprivate"));
  }
  const char *key;
  json_object_foreach (json_object_get (host_config, "Tmpfs"), key, v)
      json_array_append_new (mounts, json_pack ("{s:s, s:s, s:s, s:s, s:b}", "Type", "tmpfs", "Source", "",
                                                "Destination", key, "Mode", json_string_value (v) ?: "", "RW", 1));
  return mounts;
}

json_t *
container_inspect_json (const struct container *c)
{
  json_t *o = json_object ();
  static const char *const head[] = { "Id", "Created", "Path", "Args" };
  for (size_t i = 0; i < ARRAY_SIZE (head); i++)
    json_object_set (o, head[i], json_object_get (c->config, head[i]) ?: json_null ());
  json_t *state = json_deep_copy (c->state);
  json_object_del (state, "MonitorPid");
  json_object_del (state, "RestartCount");
  json_object_set_new (o, "State", state);
  json_object_set (o, "Image", json_object_get (c->config, "Image") ?: json_null ());
  static const char *const files[][2] = { { "ResolvConfPath", "resolv.conf" },
                                          { "HostnamePath", "hostname" },
                                          { "HostsPath", "hosts" },
                                          { "LogPath", "ctr.log" } };
  for (size_t i = 0; i < ARRAY_SIZE (files); i++)
    {
      cleanup_free char *p = container_path (c, files[i][1]);
      /* As Docker's: no log file, no LogPath */
      bool none = strcmp (files[i][1], "ctr.log") == 0 && log_driver_none (container_host_config (c));
      json_object_set_new (o, files[i][0], json_string (none ? "" : p));
    }
  json_object_set (o, "Name", json_object_get (c->config, "Name"));
  json_object_set_new (o, "RestartCount", json_integer (container_restart_count (c)));
  json_object_set_new (o, "Driver", json_string ("overlay"));
  json_object_set_new (o, "Platform", json_string ("linux"));
  json_t *host = container_host_config (c);
  json_object_set (o, "HostConfig", host ?: json_null ());
  cleanup_free char *upper = container_path (c, "upper"), *work = container_path (c, "work");
  cleanup_free char *merged = container_path (c, "rootfs");
  json_object_set_new (o, "GraphDriver",
                       json_pack ("{s:{s:s, s:s, s:s}, s:s}", "Data", "MergedDir", merged, "UpperDir", upper, "WorkDir",
                                  work, "Name", "overlay"));
  json_t *recorded = container_mounts (c);
  json_object_set_new (o, "Mounts", recorded ? json_deep_copy (recorded) : mounts_json (host));
  json_object_set_new (o, "Config", oci_docker_container_config (container_config (c)));
  const char *mode = json_string_value (json_object_get (host, "NetworkMode"));
  /* A namespace given by path belongs to no network of isola's: podman shows none. */
  json_object_set_new (o, "NetworkSettings",
                       netns_mode_path (mode) ? json_pack ("{s:{}}", "Networks")
                                              : json_pack ("{s:{s:{}}}", "Networks", mode ? mode : "none"));
  container_inspect_complete (o);
  return o;
}

int
container_attach (struct container *c, int *fd_out, struct attach_decoder *dec, isola_error_t *err)
{
  if (!container_is_running (c) || !container_monitor_alive (c))
    return isola_error_fail (err, EINVAL, "You cannot attach to a stopped container, start it first");
  if (container_is_restarting (c))
    return isola_error_fail (err, EBUSY, "container %s is restarting, wait until the container is running",
                             container_name (c));
  cleanup_free char *peer = xasprintf ("the monitor of %.12s", c->id);
  return attach_client_connect (c->dir, peer, fd_out, dec, err);
}

int
container_signal_monitor (const struct container *c, int sig, isola_error_t *err)
{
  cleanup_close int dirfd = open (c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return isola_error_make (err, errno, "open `%s`", c->dir);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  snprintf (addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/attach.sock", dirfd);
  cleanup_close int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct timeval tv
      = { .tv_sec = CONTAINER_MONITOR_ANSWER_MS / 1000, .tv_usec = CONTAINER_MONITOR_ANSWER_MS % 1000 * 1000 };
  if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0
      || setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0
      || connect (fd, (struct sockaddr *)&addr, sizeof addr) < 0)
    return isola_error_make (err, errno, "connect to the monitor of %.12s", c->id);
  struct attach_decoder dec;
  attach_decoder_init (&dec);
  int ret = attach_client_expect_hello (fd, &dec, NULL);
  attach_decoder_clear (&dec);
  if (ret < 0)
    return isola_error_fail (err, ETIMEDOUT, "the monitor of container %.12s does not answer", c->id);
  if ((ret = attach_send_u32 (fd, ATTACH_SIGNAL, (uint32_t)sig)) < 0)
    return isola_error_make (err, -ret, "signal container %.12s", c->id);
  return 0;
}

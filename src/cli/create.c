/* `isola create` and `isola run`: Docker's flags mapped onto the body of Docker's `POST /containers/create`, as the
   docker CLI does before it posts it; the library checks that request and makes the container
   (container/create.h), so these commands and the API server refuse the same requests with the same errors.  Only
   a flag's syntax is checked here. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/jbytes.h"
#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/create.h"
#include "container/health.h"
#include "container/lifecycle.h"
#include "container/logconfig.h"
#include "container/nsmode.h"
#include "container/ports.h"
#include "container/restart.h"
#include "container/runspec.h"
#include "image/pull.h"
#include "image/reference.h"
#include "proto/attach.h"
#include "sandbox/cgroup.h"
#include "sandbox/seccomp_program.h"

enum
{
  OPT_RM = 1000,
  OPT_NAME,
  OPT_ENV_FILE,
  OPT_ENTRYPOINT,
  OPT_ISOLATION,
  OPT_CPUS,
  OPT_PIDS_LIMIT,
  OPT_READ_ONLY,
  OPT_CAP_ADD,
  OPT_CAP_DROP,
  OPT_PRIVILEGED,
  OPT_SECURITY_OPT,
  OPT_TMPFS,
  OPT_NETWORK,
  OPT_MAC_ADDRESS,
  OPT_IP,
  OPT_NETWORK_ALIAS,
  OPT_INIT,
  OPT_STOP_SIGNAL,
  OPT_STOP_TIMEOUT,
  OPT_ULIMIT,
  OPT_PLATFORM,
  OPT_CIDFILE,
  OPT_LABEL_FILE,
  OPT_MOUNT,
  OPT_MEMORY_SWAP,
  OPT_MEMORY_RESERVATION,
  OPT_CPUSET_CPUS,
  OPT_CPUSET_MEMS,
  OPT_OOM_KILL_DISABLE,
  OPT_PULL,
  OPT_SIG_PROXY,
  OPT_DETACH_KEYS,
  OPT_LOG_DRIVER,
  OPT_LOG_OPT,
  OPT_RESTART,
  OPT_HEALTH_CMD,
  OPT_HEALTH_INTERVAL,
  OPT_HEALTH_TIMEOUT,
  OPT_HEALTH_START_PERIOD,
  OPT_HEALTH_RETRIES,
  OPT_NO_HEALTHCHECK,
  OPT_IPC,
  OPT_PID,
  OPT_UTS,
  OPT_USERNS,
  OPT_CGROUPNS,
  OPT_SYSCTL,
  OPT_DEVICE,
  OPT_GROUP_ADD,
  OPT_SHM_SIZE,
  OPT_VOLUMES_FROM,
  OPT_EXPOSE,
  OPT_DNS,
  OPT_DNS_SEARCH,
  OPT_DNS_OPTION,
  OPT_ADD_HOST,
  OPT_DOMAINNAME,
};

struct run_opts
{
  bool detach, interactive, tty;
  const char *name;    /* Docker's ?name= */
  const char *cidfile; /* --cidfile: where the new container's ID goes */
  json_t *request;     /* the create body: Config's members, and HostConfig */
  json_t *host;        /* its HostConfig */
  char **env;          /* -e / --env-file entries */
  bool attach_flag;    /* -a was given: only the streams it names are attached */
  bool attach_stdin, attach_stdout, attach_stderr;
  bool sig_proxy;              /* --sig-proxy (run): forward our signals to the container */
  const char *detach_keys;     /* --detach-keys (run) */
  enum image_pull_policy pull; /* --pull */
  const char *log_driver;      /* --log-driver */
  const char *ip;              /* --ip */
  char **aliases;              /* --network-alias */
  char **log_opts;             /* --log-opt KEY=VALUE */
  /* --health-*: Config.Healthcheck as the docker CLI makes it from them (durations in nanoseconds) */
  const char *health_cmd;
  int64_t health_interval, health_timeout, health_start_period, health_retries;
  bool no_healthcheck;
};

static void
run_opts_init (struct run_opts *o)
{
  memset (o, 0, sizeof (*o));
  o->request = json_object ();
  o->host = json_object ();
  o->env = xcalloc (1, sizeof (char *));
  o->log_opts = xcalloc (1, sizeof (char *));
  o->aliases = xcalloc (1, sizeof (char *));
  o->sig_proxy = true;
  json_object_set (o->request, "HostConfig", o->host);
  /* The docker CLI's default for --restart. */
  json_object_set_new (o->host, "RestartPolicy", json_pack ("{s:s, s:i}", "Name", "no", "MaximumRetryCount", 0));
}

static void
run_opts_clear (struct run_opts *o)
{
  json_decref (o->request);
  json_decref (o->host);
  strv_free (o->env);
  strv_free (o->log_opts);
  strv_free (o->aliases);
}

static json_t *
array_member (json_t *o, const char *key)
{
  json_t *a = json_object_get (o, key);
  if (!json_is_array (a))
    {
      a = json_array ();
      json_object_set_new (o, key, a);
    }
  return a;
}

/* "KEY=VALUE" (or "KEY") into the object o[member]: --label, and --tmpfs with ':' between path and options. */
static void
map_member_set (json_t *o, const char *member, const char *flag, char separator)
{
  json_t *map = json_object_get (o, member);
  if (!json_is_object (map))
    json_object_set_new (o, member, map = json_object ());
  cleanup_free char *key = xstrdup (flag);
  char *value = strchr (key, separator);
  if (value)
    *value++ = '\0';
  json_object_set_new (map, key, json_string (value ? value : ""));
}

/* --label-file: one KEY=VALUE (or KEY, an empty value) per line; blank lines and # comments skipped, as Docker. */
static int
label_file_add (struct run_opts *o, const char *path, isola_error_t *err)
{
  cleanup_strv char **lines = NULL;
  int ret = cli_lines_file (path, &lines, err);
  for (size_t i = 0; ret == 0 && lines[i]; i++)
    map_member_set (o->request, "Labels", lines[i], '=');
  return ret;
}

/* The docker CLI reads a seccomp profile file and sends its content, so the container does not depend on the file
   later; other options go as given, for the library to judge. */
static int
security_opt (const char *opt, json_t **out, isola_error_t *err)
{
  bool seccomp = str_has_prefix (opt, "seccomp=") || str_has_prefix (opt, "seccomp:");
  const char *value = seccomp ? opt + 8 : NULL;
  if (!seccomp || strcmp (value, "unconfined") == 0 || strcmp (value, "builtin") == 0)
    {
      *out = json_string (opt);
      return 0;
    }
  cleanup_free char *profile = NULL;
  int ret = read_file_bounded (value, SECCOMP_PROFILE_MAX, &profile, NULL, err);
  if (ret < 0)
    return ret;
  *out = json_sprintf ("seccomp=%s", profile);
  return 0;
}

static bool
device_mode_valid (const char *mode)
{
  if (mode[0] == '\0' || strlen (mode) > 3)
    return false;
  for (const char *c = mode; *c; c++)
    if (strchr ("rwm", *c) == NULL || strchr (c + 1, *c) != NULL)
      return false;
  return true;
}

/* --device HOST[:CONTAINER][:rwm]: Docker's DeviceMapping, checked as the docker CLI's ValidateDevice. */
static int
device_flag (const struct cli_command *cmd, const char *arg, struct run_opts *o)
{
  const char *colon = strchr (arg, ':');
  size_t colons = 0;
  for (const char *c = arg; *c; c++)
    colons += *c == ':';
  cleanup_free char *copy = xstrdup (arg);
  char *parts[3] = { copy, NULL, NULL };
  for (size_t i = 1; i < 3 && colon; i++)
    {
      parts[i] = strchr (parts[i - 1], ':');
      if (parts[i])
        *parts[i]++ = '\0';
    }
  const char *src = parts[0], *dst = NULL, *mode = "rwm";
  if (colons > 2 || src[0] == '\0')
    return cli_usage_error (cmd, "invalid argument \"%s\" for \"--device\" flag: bad format for path: %s", arg, arg);
  if (parts[2])
    {
      if (!device_mode_valid (parts[2]))
        return cli_usage_error (cmd, "invalid argument \"%s\" for \"--device\" flag: bad mode specified: %s", arg,
                                parts[2]);
      dst = parts[1], mode = parts[2];
    }
  else if (parts[1] && device_mode_valid (parts[1]))
    mode = parts[1];
  else if (parts[1])
    dst = parts[1];
  if (dst == NULL || dst[0] == '\0')
    dst = src;
  if (dst[0] != '/')
    return cli_usage_error (cmd, "invalid argument \"%s\" for \"--device\" flag: %s is not an absolute path", arg, dst);
  json_array_append_new (
      array_member (o->host, "Devices"),
      json_pack ("{s:s, s:s, s:s}", "PathOnHost", src, "PathInContainer", dst, "CgroupPermissions", mode));
  return 0;
}

/* Flags with a number: -m, --memory-swap, --memory-reservation, --cpus, -c, --pids-limit, --stop-timeout,
   --shm-size. */
static int
numeric_flag (const struct cli_command *cmd, int c, const struct flag_parser *p, struct run_opts *o)
{
  const char *arg = p->value;
  char *end;
  switch (c)
    {
    case 'm':
      {
        int64_t bytes = parse_memory_bytes (arg);
        if (bytes < 0)
          return cli_flag_invalid (cmd, p, "invalid size");
        json_object_set_new (o->host, "Memory", json_integer (bytes));
        return 0;
      }
    case OPT_MEMORY_SWAP:
    case OPT_MEMORY_RESERVATION:
      {
        /* The docker CLI's: "-1" is unlimited swap, anything else a size. */
        bool swap = c == OPT_MEMORY_SWAP;
        bool unlimited = swap && strcmp (arg, "-1") == 0;
        int64_t bytes = unlimited ? -1 : parse_memory_bytes (arg);
        if (bytes < 0 && !unlimited)
          return cli_flag_invalid (cmd, p, "invalid size");
        json_object_set_new (o->host, swap ? "MemorySwap" : "MemoryReservation", json_integer (bytes));
        return 0;
      }
    case 'c':
      {
        long long n = strtoll (arg, &end, 10);
        if (*end || end == arg)
          return cli_flag_invalid (cmd, p, NULL);
        json_object_set_new (o->host, "CpuShares", json_integer (n));
        return 0;
      }
    case OPT_CPUS:
      {
        int64_t nano = parse_nano_cpus (arg);
        if (nano < 0)
          return cli_flag_invalid (cmd, p, NULL);
        json_object_set_new (o->host, "NanoCpus", json_integer (nano));
        return 0;
      }
    case OPT_PIDS_LIMIT:
      {
        errno = 0;
        long long n = strtoll (arg, &end, 10);
        if (*end || end == arg || errno == ERANGE)
          return cli_flag_invalid (cmd, p, errno == ERANGE ? "value out of range" : NULL);
        json_object_set_new (o->host, "PidsLimit", json_integer (n));
        return 0;
      }
    case OPT_SHM_SIZE:
      {
        int64_t bytes = parse_memory_bytes (arg);
        if (bytes < 0)
          return cli_flag_invalid (cmd, p, "invalid size");
        json_object_set_new (o->host, "ShmSize", json_integer (bytes));
        return 0;
      }
    case OPT_STOP_TIMEOUT:
      {
        errno = 0;
        long t = strtol (arg, &end, 10);
        if (*end || end == arg)
          return cli_flag_invalid (cmd, p, NULL);
        if (errno == ERANGE || t < INT_MIN || t > INT_MAX)
          return cli_flag_invalid (cmd, p, "value out of range");
        json_object_set_new (o->request, "StopTimeout", json_integer (t));
        return 0;
      }
    }
  return EXIT_USAGE;
}

/* Flags that take a list or a map: repeated, each adds an entry. */
static int
list_flag (const struct cli_command *cmd, int c, const char *arg, struct run_opts *o)
{
  cleanup_error isola_error_t err = NULL;
  json_t *entry = NULL;
  switch (c)
    {
    case OPT_CAP_ADD:
      json_array_append_new (array_member (o->host, "CapAdd"), json_string (arg));
      return 0;
    case OPT_CAP_DROP:
      json_array_append_new (array_member (o->host, "CapDrop"), json_string (arg));
      return 0;
    case 'v':
      /* As the docker CLI: a path alone is an anonymous volume (Config.Volumes), anything else a bind. */
      if (strchr (arg, ':') == NULL)
        {
          json_t *volumes = json_object_get (o->request, "Volumes");
          if (!json_is_object (volumes))
            json_object_set_new (o->request, "Volumes", volumes = json_object ());
          json_object_set_new (volumes, arg, json_object ());
        }
      else
        json_array_append_new (array_member (o->host, "Binds"), json_string (arg));
      return 0;
    case OPT_MOUNT:
      if (runspec_mount_flag_json (arg, &entry, &err) < 0)
        return cli_usage_error (cmd, "invalid argument \"%s\" for \"--mount\" flag: %s", arg, err->msg);
      json_array_append_new (array_member (o->host, "Mounts"), entry);
      return 0;
    case OPT_TMPFS:
      map_member_set (o->host, "Tmpfs", arg, ':');
      return 0;
    case 'l':
      map_member_set (o->request, "Labels", arg, '=');
      return 0;
    case OPT_SECURITY_OPT:
      if (security_opt (arg, &entry, &err) < 0)
        return cli_usage_error (cmd, "invalid --security-opt: %s", err->msg);
      json_array_append_new (array_member (o->host, "SecurityOpt"), entry);
      return 0;
    case OPT_GROUP_ADD:
      json_array_append_new (array_member (o->host, "GroupAdd"), json_string (arg));
      return 0;
    case OPT_VOLUMES_FROM:
      json_array_append_new (array_member (o->host, "VolumesFrom"), json_string (arg));
      return 0;
    case OPT_DEVICE:
      return device_flag (cmd, arg, o);
    case OPT_SYSCTL:
      /* The docker CLI's ValidateSysctl: only namespaced ones, else a flag error (125) */
      if (strchr (arg, '=') == NULL || !nsmode_sysctl_namespaced (arg))
        return cli_usage_error (cmd, "invalid argument \"%s\" for \"--sysctl\" flag: sysctl '%s' is not whitelisted",
                                arg, arg);
      map_member_set (o->host, "Sysctls", arg, '=');
      return 0;
    case OPT_ULIMIT:
      if (runspec_ulimit_from_flag (arg, &entry, &err) < 0)
        return cli_usage_error (cmd, "invalid argument \"%s\" for \"--ulimit\" flag: %s", arg, err->msg);
      json_array_append_new (array_member (o->host, "Ulimits"), entry);
      return 0;
    }
  return EXIT_USAGE;
}

/* Flags that set one member of the body: to their argument, or to true for a switch. */
static const struct
{
  int flag;
  bool host_config; /* a member of HostConfig, else of Config */
  bool is_switch;
  const char *member;
} member_flags[] = {
  { 'w', false, false, "WorkingDir" },
  { 'u', false, false, "User" },
  { 'h', false, false, "Hostname" },
  { OPT_DOMAINNAME, false, false, "Domainname" },
  { 'P', true, true, "PublishAllPorts" },
  { OPT_STOP_SIGNAL, false, false, "StopSignal" },
  { OPT_ISOLATION, true, false, "Isolation" },
  { OPT_NETWORK, true, false, "NetworkMode" },
  { OPT_MAC_ADDRESS, false, false, "MacAddress" },
  { OPT_IPC, true, false, "IpcMode" },
  { OPT_PID, true, false, "PidMode" },
  { OPT_UTS, true, false, "UTSMode" },
  { OPT_USERNS, true, false, "UsernsMode" },
  { OPT_CGROUPNS, true, false, "CgroupnsMode" },
  { OPT_RM, true, true, "AutoRemove" },
  { OPT_INIT, true, true, "Init" },
  { OPT_READ_ONLY, true, true, "ReadonlyRootfs" },
  { OPT_PRIVILEGED, true, true, "Privileged" },
  { OPT_CPUSET_CPUS, true, false, "CpusetCpus" },
  { OPT_CPUSET_MEMS, true, false, "CpusetMems" },
  { OPT_OOM_KILL_DISABLE, true, true, "OomKillDisable" },
};

/* -a STDIN|STDOUT|STDERR (any case), repeatable. */
static int
attach_flag (const struct cli_command *cmd, const struct flag_parser *p, struct run_opts *o)
{
  o->attach_flag = true;
  if (strcasecmp (p->value, "stdin") == 0)
    o->attach_stdin = true;
  else if (strcasecmp (p->value, "stdout") == 0)
    o->attach_stdout = true;
  else if (strcasecmp (p->value, "stderr") == 0)
    o->attach_stderr = true;
  else
    return cli_flag_invalid (cmd, p, "valid streams are STDIN, STDOUT and STDERR");
  return 0;
}

/* -p, --expose (syntax: container/ports.h; the docker CLI refuses them after reading the flags: parse_error), --dns,
   --dns-search, --dns-option, --add-host (refused as their flag's value). */
static int parse_error (const struct cli_command *cmd, const char *msg);

static int
port_or_name_flag (const struct cli_command *cmd, int c, const struct flag_parser *p, struct run_opts *o)
{
  cleanup_error isola_error_t err = NULL;
  const char *arg = p->value;
  json_t *exposed = json_object_get (o->request, "ExposedPorts");
  if ((c == 'p' || c == OPT_EXPOSE) && !json_is_object (exposed))
    json_object_set_new (o->request, "ExposedPorts", exposed = json_object ());
  switch (c)
    {
    case 'p':
      {
        json_t *bindings = json_object_get (o->host, "PortBindings");
        if (!json_is_object (bindings))
          json_object_set_new (o->host, "PortBindings", bindings = json_object ());
        return ports_publish_flag (arg, exposed, bindings, &err) < 0 ? parse_error (cmd, err->msg) : 0;
      }
    case OPT_EXPOSE:
      return ports_expose_flag (arg, exposed, &err) < 0 ? parse_error (cmd, err->msg) : 0;
    case OPT_DNS:
      if (names_check_dns (arg, &err) < 0)
        return cli_flag_invalid (cmd, p, "%s", err->msg);
      json_array_append_new (array_member (o->host, "Dns"), json_string (arg));
      return 0;
    case OPT_ADD_HOST:
      if (names_check_extra_host (arg, &err) < 0)
        return cli_flag_invalid (cmd, p, "%s", err->msg);
      json_array_append_new (array_member (o->host, "ExtraHosts"), json_string (arg));
      return 0;
    case OPT_DNS_SEARCH:
      json_array_append_new (array_member (o->host, "DnsSearch"), json_string (arg));
      return 0;
    case OPT_DNS_OPTION:
      json_array_append_new (array_member (o->host, "DnsOptions"), json_string (arg));
      return 0;
    }
  return EXIT_USAGE;
}

/* What the docker CLI's parse refuses once the flags are read: "docker: MESSAGE." and the --help hint, 125. */
static int
parse_error (const struct cli_command *cmd, const char *msg)
{
  fprintf (stderr, "isola: %s.\nSee 'isola %s --help'.\n", msg, cmd->name);
  return EXIT_USAGE;
}

/* Each flag's member of the create body; returns 0, or the exit code of a flag that does not parse. */
static int
run_flag (const struct cli_command *cmd, int c, const struct flag_parser *p, struct run_opts *o)
{
  cleanup_error isola_error_t err = NULL;
  const char *arg = p->value;
  for (size_t i = 0; i < ARRAY_SIZE (member_flags); i++)
    if (member_flags[i].flag == c)
      {
        json_t *value = member_flags[i].is_switch ? json_boolean (p->on) : json_string (arg);
        json_object_set_new (member_flags[i].host_config ? o->host : o->request, member_flags[i].member, value);
        return 0;
      }
  switch (c)
    {
    case 'd':
      o->detach = p->on;
      return 0;
    case 'i':
      o->interactive = p->on;
      return 0;
    case 't':
      o->tty = p->on;
      return 0;
    case OPT_NAME:
      o->name = arg;
      return 0;
    case 'e':
      /* The docker CLI's ValidateEnv: a flag error (125), where the daemon's refusal would make create exit 1 */
      if (arg[0] == '=')
        return cli_usage_error (cmd, "invalid argument \"%s\" for \"-e, --env\" flag: invalid environment variable: %s",
                                arg, arg);
      cli_env_add (&o->env, arg);
      return 0;
    case OPT_ENV_FILE:
      if (cli_env_file_add (&o->env, arg, &err) < 0)
        return cli_fail (&err), EXIT_USAGE;
      return 0;
    case OPT_CIDFILE:
      o->cidfile = arg;
      return 0;
    case OPT_PLATFORM:
      return cli_check_platform (arg);
    case 'q': /* --quiet hides the pull output: isola does not pull */
      return 0;
    case 'a':
      return attach_flag (cmd, p, o);
    case OPT_SIG_PROXY:
      o->sig_proxy = p->on;
      return 0;
    case OPT_DETACH_KEYS:
      o->detach_keys = arg;
      return 0;
    case OPT_PULL:
      if ((o->pull = image_pull_policy_from_name (arg)) == IMAGE_PULL_POLICY_INVALID)
        return cli_usage_error (cmd, "invalid pull option: '%s': must be one of \"always\", \"missing\" or \"never\"",
                                arg);
      return 0;
    case OPT_LOG_DRIVER:
      o->log_driver = arg;
      return 0;
    case OPT_LOG_OPT:
      strv_push (&o->log_opts, arg);
      return 0;
    case OPT_IP:
      o->ip = arg;
      return 0;
    case OPT_NETWORK_ALIAS:
      strv_push (&o->aliases, arg);
      return 0;
    case OPT_LABEL_FILE:
      if (label_file_add (o, arg, &err) < 0)
        return cli_fail (&err), EXIT_USAGE;
      return 0;
    case OPT_HEALTH_CMD:
      o->health_cmd = arg;
      return 0;
    case OPT_NO_HEALTHCHECK:
      o->no_healthcheck = p->on;
      return 0;
    case OPT_HEALTH_INTERVAL:
    case OPT_HEALTH_TIMEOUT:
    case OPT_HEALTH_START_PERIOD:
      {
        int64_t *d = c == OPT_HEALTH_INTERVAL  ? &o->health_interval
                     : c == OPT_HEALTH_TIMEOUT ? &o->health_timeout
                                               : &o->health_start_period;
        if (health_duration_parse (arg, d, &err) < 0)
          return cli_flag_invalid (cmd, p, "%s", err->msg);
        return 0;
      }
    case OPT_HEALTH_RETRIES:
      {
        char *end;
        long long n = strtoll (arg, &end, 10);
        if (*end || end == arg)
          return cli_flag_invalid (cmd, p, NULL);
        o->health_retries = n;
        return 0;
      }
    case OPT_RESTART:
      {
        json_t *policy = NULL;
        if (restart_policy_from_flag (arg, &policy, &err) < 0)
          return parse_error (cmd, err->msg);
        json_object_set_new (o->host, "RestartPolicy", policy);
        return 0;
      }
    case OPT_ENTRYPOINT:
      /* `--entrypoint ""` is [""]: no entrypoint, and not the image's command either. */
      json_object_set_new (o->request, "Entrypoint", json_pack ("[o]", jbytes_exact (arg)));
      return 0;
    case 'm':
    case OPT_MEMORY_SWAP:
    case OPT_MEMORY_RESERVATION:
    case 'c':
    case OPT_CPUS:
    case OPT_PIDS_LIMIT:
    case OPT_STOP_TIMEOUT:
    case OPT_SHM_SIZE:
      return numeric_flag (cmd, c, p, o);
    case 'p':
    case OPT_EXPOSE:
    case OPT_DNS:
    case OPT_DNS_SEARCH:
    case OPT_DNS_OPTION:
    case OPT_ADD_HOST:
      return port_or_name_flag (cmd, c, p, o);
    default:
      return list_flag (cmd, c, arg, o);
    }
}

/* Returns 0 with the image and command in p, -1 after --help, or the exit code of a bad flag. */
static int
parse_run_flags (const struct cli_command *cmd, struct flag_parser *p, int argc, char **argv, struct run_opts *o)
{
  int c, exit_code = 0;
  cli_flags_init (p, cmd, argc, argv);
  while ((c = cli_flag_next (cmd, p, &exit_code)) > 0)
    {
      int ret = run_flag (cmd, c, p, o);
      if (ret != 0)
        return ret;
    }
  if (c < 0)
    return exit_code == 0 ? -1 : exit_code;
  return 0;
}

/* Config.Healthcheck from the --health-* flags, with the docker CLI's checks; 0, or the exit code. */
static int
health_request (const struct cli_command *cmd, struct run_opts *o)
{
  bool any = o->health_cmd || o->health_interval || o->health_timeout || o->health_start_period || o->health_retries;
  const char *why = NULL;
  if (o->no_healthcheck && any)
    why = "--no-healthcheck conflicts with --health-* options";
  else if (o->health_interval < 0)
    why = "--health-interval cannot be negative";
  else if (o->health_timeout < 0)
    why = "--health-timeout cannot be negative";
  else if (o->health_retries < 0)
    why = "--health-retries cannot be negative";
  else if (o->health_start_period < 0)
    why = "--health-start-period cannot be negative";
  if (why)
    return parse_error (cmd, why);
  if (o->no_healthcheck)
    json_object_set_new (o->request, "Healthcheck", json_pack ("{s:[s]}", "Test", "NONE"));
  else if (any)
    {
      json_t *hc = json_object ();
      if (o->health_cmd)
        json_object_set_new (hc, "Test", json_pack ("[s, s]", "CMD-SHELL", o->health_cmd));
      const struct
      {
        const char *key;
        int64_t value;
      } numbers[] = { { "Interval", o->health_interval },
                      { "Timeout", o->health_timeout },
                      { "StartPeriod", o->health_start_period },
                      { "Retries", o->health_retries } };
      for (size_t i = 0; i < ARRAY_SIZE (numbers); i++)
        if (numbers[i].value)
          json_object_set_new (hc, numbers[i].key, json_integer (numbers[i].value));
      json_object_set_new (o->request, "Healthcheck", hc);
    }
  return 0;
}

/* The rest of the body: the image and command from the arguments, and what the flags left to the end.  As the
   docker CLI: -i attaches stdin, no -a attaches stdout and stderr, and run -d attaches nothing. */
static int
finish_request (struct run_opts *o, const char *image, char **args, bool detach)
{
  json_object_set_new (o->request, "Image", json_string (image));
  /* Byte for byte (jbytes.h): a command line or environment may hold bytes that are not UTF-8. */
  if (args[0])
    json_object_set_new (o->request, "Cmd", jbytes_exact_array (args));
  json_object_set_new (o->request, "Env", jbytes_exact_array (o->env));
  json_object_set_new (o->request, "Tty", json_boolean (o->tty));
  json_object_set_new (o->request, "OpenStdin", json_boolean (o->interactive));
  if (o->interactive)
    o->attach_stdin = true;
  if (!o->attach_flag)
    o->attach_stdout = o->attach_stderr = true;
  if (detach)
    o->attach_stdin = o->attach_stdout = o->attach_stderr = false;
  json_object_set_new (o->request, "AttachStdin", json_boolean (o->attach_stdin));
  json_object_set_new (o->request, "AttachStdout", json_boolean (o->attach_stdout));
  json_object_set_new (o->request, "AttachStderr", json_boolean (o->attach_stderr));
  json_t *log_config = NULL;
  cleanup_error isola_error_t err = NULL;
  if (log_config_from_flags (o->log_driver, o->log_opts, &log_config, &err) < 0)
    {
      fprintf (stderr, "Error: %s\n", err->msg);
      return EXIT_USAGE;
    }
  json_object_set_new (o->host, "LogConfig", log_config);
  /* As the docker CLI: --ip and --network-alias are the endpoint settings of the network --network names. */
  if (o->ip || o->aliases[0])
    {
      json_t *endpoint = json_object ();
      if (o->ip)
        json_object_set_new (endpoint, "IPAMConfig", json_pack ("{s:s}", "IPv4Address", o->ip));
      if (o->aliases[0])
        {
          json_t *aliases = json_array ();
          for (char **a = o->aliases; *a; a++)
            json_array_append_new (aliases, json_string (*a));
          json_object_set_new (endpoint, "Aliases", aliases);
        }
      const char *mode = json_string_value (json_object_get (o->host, "NetworkMode"));
      json_object_set_new (o->request, "NetworkingConfig",
                           json_pack ("{s:{s:o}}", "EndpointsConfig", mode && mode[0] ? mode : "default", endpoint));
    }
  return 0;
}

/* --pull always: the pull happens before the create; missing: after a create that did not find the image, and the
   create is tried again.  The pull is isola-registry's (cli_pull_image), its progress on stderr as Docker's. */
static int
pull_before_create (struct cli_ctx *ctx, const struct run_opts *o, const char *image)
{
  if (o->pull == IMAGE_PULL_ALWAYS)
    return cli_pull_image (ctx, image);
  return 0;
}

static int
create_with_pull (struct cli_ctx *ctx, const struct run_opts *o, const char *image, struct container **c,
                  isola_error_t *err)
{
  int ret = container_create_from_request (ctx->root, o->request, o->name, c, err);
  if (ret != -ENOENT || o->pull != IMAGE_PULL_MISSING || !str_has_prefix ((*err)->msg, "No such image"))
    return ret;
  /* Only a name can be pulled: an image ID that is not here stays "No such image". */
  if (image_ref_looks_like_id (image))
    return ret;
  cleanup_free char *shown = NULL;
  struct image_ref ref = { 0 };
  if (image_ref_parse (image, &ref, NULL) == 0)
    shown = image_ref_string (&ref);
  image_ref_clear (&ref);
  fprintf (stderr, "Unable to find image '%s' locally\n", shown ? shown : image);
  if (cli_pull_image (ctx, image) != 0)
    return -ECANCELED;
  isola_error_release (err);
  return container_create_from_request (ctx->root, o->request, o->name, c, err);
}

/* --- starting and attaching --------------------------------------------------------------------------------- */

int
cli_start_container (struct cli_ctx *ctx, struct container *c, const struct cli_attach_opts *attach)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *store = NULL;
  if (store_open (ctx->root, STORE_LOCK_NONE, &store, &err) < 0)
    {
      cli_fail (&err);
      return 125;
    }
  struct attach_decoder dec;
  attach_decoder_init (&dec);
  int fd = -1, code = 0;
  struct winsize ws;
  (void)cli_window_size (&ws);
  unsigned short size[2] = { ws.ws_row, ws.ws_col };
  /* Raw before the container starts, as the docker CLI (attach, then start): keys typed at a prompt that came
     early must not meet our line discipline, where ^Q is flow control and nothing passes before a newline. */
  if (attach && attach->tty && attach->stdin)
    cli_terminal_raw ();
  if (container_start (store, c, attach ? &fd : NULL, &dec, size, &code, &err) < 0)
    {
      cli_terminal_restore ();
      fprintf (stderr, "Error: failed to start container %.12s: %s\n", c->id, err->msg);
      attach_decoder_clear (&dec);
      return code;
    }
  trace_mark ("cli: started");
  if (attach)
    {
      code = cli_attach_loop (fd, &dec, attach);
      trace_mark ("cli: exit code received");
      close (fd);
    }
  attach_decoder_clear (&dec);
  return code;
}

/* --cidfile: made before the container, so that two runs given one file cannot both go on; Docker's messages. */
static int
cidfile_create (const char *path)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0)
    return fd;
  if (errno == EEXIST)
    fprintf (stderr, "Error: container ID file found, make sure the other container isn't running or delete %s\n",
             path);
  else
    fprintf (stderr, "Error: failed to create the container ID file: open %s: %s\n", path, strerror (errno));
  return -1;
}

static int
run_or_create (struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv, bool start)
{
  struct run_opts o;
  run_opts_init (&o);
  struct flag_parser p;
  int ret = parse_run_flags (cmd, &p, argc, argv, &o);
  if (ret == 0 && p.nargs < 1)
    ret = cli_usage_error (cmd, "\"%s\" requires at least 1 argument.", start ? "isola run" : "isola create");
  if (ret == 0 && start && o.interactive && o.tty && !o.detach && !isatty (STDIN_FILENO))
    {
      fprintf (stderr, "Error: the input device is not a TTY\n");
      ret = 1;
    }
  if (ret != 0)
    {
      run_opts_clear (&o);
      return ret < 0 ? 0 : ret;
    }
  const char *policy = json_string_value (json_object_get (json_object_get (o.host, "RestartPolicy"), "Name"));
  if (json_is_true (json_object_get (o.host, "AutoRemove")) && policy && policy[0] && strcmp (policy, "no") != 0)
    ret = parse_error (cmd, "Conflicting options: --restart and --rm");
  if (ret != 0 || (ret = health_request (cmd, &o)) != 0)
    {
      run_opts_clear (&o);
      return ret;
    }
  bool detach = start && o.detach;
  if (ret == 0 && detach && o.attach_flag)
    {
      fprintf (stderr, "Error: Conflicting options: -a and -d\n");
      ret = 1;
    }
  if (ret == 0)
    ret = finish_request (&o, p.args[0], p.args + 1, detach);
  /* --pull always that fails: inside the docker CLI's createContainer, so 1 for create as below */
  if (ret == 0 && pull_before_create (ctx, &o, p.args[0]) != 0)
    ret = start ? 125 : 1;
  struct cli_attach_opts attach = { .tty = o.tty,
                                    .stdin = o.attach_stdin && o.interactive,
                                    .stdout = o.attach_stdout,
                                    .stderr = o.attach_stderr,
                                    .proxy_signals = o.sig_proxy };
  if (ret == 0 && start && !detach)
    ret = cli_detach_keys (ctx, o.detach_keys, &attach);
  if (ret != 0)
    {
      run_opts_clear (&o);
      return ret;
    }
  cleanup_error isola_error_t err = NULL;
  cleanup_container struct container *c = NULL;
  cleanup_close int cid_fd = -1;
  /* What the engine refuses from here on is, to the docker CLI, the daemon's answer: `create` returns it as an
     error (exit 1), `run` as a StatusError of 125 (cli/command/container/create.go, run.go). */
  int refused = start ? 125 : 1;
  if (o.cidfile && (cid_fd = cidfile_create (o.cidfile)) < 0)
    {
      run_opts_clear (&o);
      return refused;
    }
  ret = create_with_pull (ctx, &o, p.args[0], &c, &err);
  trace_mark ("cli: created");
  run_opts_clear (&o);
  if (ret < 0)
    {
      if (cid_fd >= 0)
        unlink (o.cidfile);
      if (ret != -ECANCELED) /* a failed pull: isola-registry said why */
        fprintf (stderr, "Error: %s\n", err ? err->msg : "cannot create the container");
      return refused;
    }
  if (cid_fd >= 0 && write_all (cid_fd, c->id, strlen (c->id)) < 0)
    {
      fprintf (stderr, "Error: failed to write the container ID to the file: %s\n", strerror (errno));
      return refused;
    }
  if (!start)
    {
      printf ("%s\n", c->id);
      return 0;
    }
  /* As the docker CLI: attached to neither stdout nor stderr (-d, or -a stdin alone), run prints the ID and does not
     wait for the exit code. */
  bool waits = attach.stdout || attach.stderr;
  if (!detach && !waits)
    {
      printf ("%s\n", c->id);
      fflush (stdout);
    }
  int code = cli_start_container (ctx, c, detach ? NULL : &attach);
  if (code == 0 && detach)
    printf ("%s\n", c->id);
  return waits || code >= 125 ? code : 0;
}

static int
run_create (struct cli_ctx *ctx, int argc, char **argv)
{
  return run_or_create (ctx, &cmd_create, argc, argv, false);
}

static int
run_run (struct cli_ctx *ctx, int argc, char **argv)
{
  return run_or_create (ctx, &cmd_run, argc, argv, true);
}

/* The flags of create, and of run with -d besides: one list for both tables. */
// clang-format off
#define CREATE_FLAGS \
  { "add-host", 0, OPT_ADD_HOST, "list", "Add a custom host-to-IP mapping (host:ip; host:host-gateway: the default\n" \
    "bridge's gateway)" }, \
  { "attach", 'a', 'a', "list", "Attach to STDIN, STDOUT or STDERR" }, \
  { "cap-add", 0, OPT_CAP_ADD, "list", "Add Linux capabilities" }, \
  { "cap-drop", 0, OPT_CAP_DROP, "list", "Drop Linux capabilities" }, \
  { "cgroupns", 0, OPT_CGROUPNS, "string", "Cgroup namespace to use (host|private)" }, \
  { "cidfile", 0, OPT_CIDFILE, "string", "Write the container ID to the file" }, \
  { "cpu-shares", 'c', 'c', "int", "CPU shares (relative weight)" }, \
  { "cpus", 0, OPT_CPUS, "decimal", "Number of CPUs" }, \
  { "cpuset-cpus", 0, OPT_CPUSET_CPUS, "string", "CPUs in which to allow execution (0-3, 0,1); in a VM, of the guest's\n" \
    "vCPUs (0 to --cpus rounded up, minus 1)" }, \
  { "cpuset-mems", 0, OPT_CPUSET_MEMS, "string", "MEMs in which to allow execution (0-3, 0,1)" }, \
  { "device", 0, OPT_DEVICE, "list", "Add a host device to the container (process isolation)" }, \
  { "dns", 0, OPT_DNS, "list", "Set custom DNS servers" }, \
  { "dns-option", 0, OPT_DNS_OPTION, "list", "Set DNS options" }, \
  { "dns-search", 0, OPT_DNS_SEARCH, "list", "Set custom DNS search domains" }, \
  { "domainname", 0, OPT_DOMAINNAME, "string", "Container NIS domain name" }, \
  { "entrypoint", 0, OPT_ENTRYPOINT, "string", "Overwrite the default ENTRYPOINT of the image" }, \
  { "env", 'e', 'e', "list", "Set environment variables" }, \
  { "env-file", 0, OPT_ENV_FILE, "list", "Read in a file of environment variables" }, \
  { "expose", 0, OPT_EXPOSE, "list", "Expose a port or a range of ports" }, \
  { "group-add", 0, OPT_GROUP_ADD, "list", "Add additional groups to join" }, \
  { "health-cmd", 0, OPT_HEALTH_CMD, "string", "Command to run to check health" }, \
  { "health-interval", 0, OPT_HEALTH_INTERVAL, "duration", "Time between running the check (ms|s|m|h) (default 0s)" }, \
  { "health-retries", 0, OPT_HEALTH_RETRIES, "int", "Consecutive failures needed to report unhealthy" }, \
  { "health-start-period", 0, OPT_HEALTH_START_PERIOD, "duration", "Start period for the container to initialize\n" \
    "before starting health-retries countdown (ms|s|m|h) (default 0s)" }, \
  { "health-timeout", 0, OPT_HEALTH_TIMEOUT, "duration", "Maximum time to allow one check to run (ms|s|m|h) (default 0s)" }, \
  { "hostname", 'h', 'h', "string", "Container host name" }, \
  { "init", 0, OPT_INIT, NULL, "Run an init inside the container that forwards signals and reaps processes" }, \
  { "interactive", 'i', 'i', NULL, "Keep STDIN open even if not attached" }, \
  { "ip", 0, OPT_IP, "string", "IPv4 address (e.g., 172.30.100.104) on a user-defined network" }, \
  { "ipc", 0, OPT_IPC, "string", "IPC mode to use: private (default), shareable, none, host or container:NAME\n" \
    "(host and container: with process isolation only)" }, \
  { "isolation", 0, OPT_ISOLATION, "string", "Container isolation technology: process, vm (alias hyperv) or default:\n" \
    "$ISOLA_ISOLATION, else ROOT/config.json's \"isolation\", else process" }, \
  { "label", 'l', 'l', "list", "Set meta data on a container" }, \
  { "label-file", 0, OPT_LABEL_FILE, "list", "Read in a line delimited file of labels" }, \
  { "log-driver", 0, OPT_LOG_DRIVER, "string", "Logging driver for the container: json-file (default) or none" }, \
  { "log-opt", 0, OPT_LOG_OPT, "list", "Log driver options (json-file: max-size, max-file)" }, \
  { "mac-address", 0, OPT_MAC_ADDRESS, "string", "Container MAC address (e.g., 92:d0:c6:0a:29:33) on its network" }, \
  { "memory", 'm', 'm', "bytes", "Memory limit" }, \
  { "memory-reservation", 0, OPT_MEMORY_RESERVATION, "bytes", "Memory soft limit" }, \
  { "memory-swap", 0, OPT_MEMORY_SWAP, "bytes", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" }, \
  { "mount", 0, OPT_MOUNT, "mount", "Attach a filesystem mount to the container (type=volume|bind|tmpfs)" }, \
  { "name", 0, OPT_NAME, "string", "Assign a name to the container" }, \
  { "net", 0, OPT_NETWORK, "string", "Connect a container to a network (the same as --network)" }, \
  { "network", 0, OPT_NETWORK, "string", "Connect a container to a network: bridge (default), none, a network's name\n" \
    "or ID, ns:PATH (the network namespace at PATH), host or container:NAME\n" \
    "(process isolation: not with a VM container on either side)" }, \
  { "network-alias", 0, OPT_NETWORK_ALIAS, "list", "Add network-scoped alias for the container (user-defined networks)" }, \
  { "no-healthcheck", 0, OPT_NO_HEALTHCHECK, NULL, "Disable any container-specified HEALTHCHECK" }, \
  { "oom-kill-disable", 0, OPT_OOM_KILL_DISABLE, NULL, "Disable OOM Killer (cgroup v1 hosts only: v2 has none)" }, \
  { "pid", 0, OPT_PID, "string", "PID namespace to use: host or container:NAME (process isolation)" }, \
  { "pids-limit", 0, OPT_PIDS_LIMIT, "int", "Tune container pids limit (set -1 for unlimited)" }, \
  { "platform", 0, OPT_PLATFORM, "string", "Set platform if server is multi-platform capable (only linux/amd64)" }, \
  { "privileged", 0, OPT_PRIVILEGED, NULL, "Give extended privileges to this container" }, \
  { "publish", 'p', 'p', "list", "Publish a container's port(s) to the host: [IP:][HOSTPORT:]CTRPORT[/tcp|/udp]\n" \
    "(a host port range, or none: a free one; IPv4)" }, \
  { "publish-all", 'P', 'P', NULL, "Publish all exposed ports to random ports" }, \
  { "pull", 0, OPT_PULL, "string", "Pull image before running (\"always\"|\"missing\"|\"never\") (default \"missing\")" }, \
  { "quiet", 'q', 'q', NULL, "Suppress the pull output" }, \
  { "read-only", 0, OPT_READ_ONLY, NULL, "Mount the container's root filesystem as read only" }, \
  { "restart", 0, OPT_RESTART, "string", "Restart policy to apply when a container exits: no (default), always,\n" \
    "unless-stopped, on-failure[:max-retries]" }, \
  { "rm", 0, OPT_RM, NULL, "Automatically remove the container when it exits" }, \
  { "security-opt", 0, OPT_SECURITY_OPT, "list", "Security Options (seccomp=PROFILE.json|unconfined, no-new-privileges)" }, \
  { "shm-size", 0, OPT_SHM_SIZE, "bytes", "Size of /dev/shm (default 64m)" }, \
  { "stop-signal", 0, OPT_STOP_SIGNAL, "string", "Signal to stop the container" }, \
  { "stop-timeout", 0, OPT_STOP_TIMEOUT, "int", "Timeout (in seconds) to stop a container" }, \
  { "sysctl", 0, OPT_SYSCTL, "map", "Sysctl options (namespaced: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*)" }, \
  { "tmpfs", 0, OPT_TMPFS, "list", "Mount a tmpfs directory" }, \
  { "tty", 't', 't', NULL, "Allocate a pseudo-TTY" }, \
  { "ulimit", 0, OPT_ULIMIT, "ulimit", "Ulimit options" }, \
  { "user", 'u', 'u', "string", "Username or UID (format: <name|uid>[:<group|gid>])" }, \
  { "userns", 0, OPT_USERNS, "string", "User namespace to use (host)" }, \
  { "uts", 0, OPT_UTS, "string", "UTS namespace to use (host, with process isolation)" }, \
  { "volume", 'v', 'v', "list", "Bind mount a volume (HOSTDIR:CTRDIR[:ro], VOLUME:CTRDIR[:ro], CTRDIR)" }, \
  { "volumes-from", 0, OPT_VOLUMES_FROM, "list", "Mount volumes from the specified container(s)" }, \
  { "workdir", 'w', 'w', "string", "Working directory inside the container" }
// clang-format on

const struct cli_command cmd_run = {
  .name = "run",
  .run = run_run,
  .usage = "isola run [OPTIONS] IMAGE [COMMAND] [ARG...]",
  .summary = "Create and run a new container from an image",
  .flags = (const struct flag_def[]){
      { "detach", 'd', 'd', NULL, "Run container in background and print container ID" },
      { "detach-keys", 0, OPT_DETACH_KEYS, "string", "Override the key sequence for detaching a container" },
      { "sig-proxy", 0, OPT_SIG_PROXY, NULL, "Proxy received signals to the process (default true)" },
      CREATE_FLAGS,
      { 0 },
  },
  .command_follows = true,
};

const struct cli_command cmd_create = {
  .name = "create",
  .run = run_create,
  .usage = "isola create [OPTIONS] IMAGE [COMMAND] [ARG...]",
  .summary = "Create a new container",
  .flags = (const struct flag_def[]){
      CREATE_FLAGS,
      { 0 },
  },
  .command_follows = true,
};

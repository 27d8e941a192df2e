#define _GNU_SOURCE
/* A container request: Docker's create body typed, every check with the error users see, and the merge with the
   image's config. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "container/spec.h"
#include "tap.h"

static char cache[] = "/tmp/isola-unit-spec-XXXXXX";

/* Parses body (JSON text) with the name "web". */
static int
spec_of (const char *body, struct container_spec *out, isola_error_t *err)
{
  cleanup_json json_t *j = json_loads (body, 0, NULL);
  if (j == NULL)
    return -999;
  return container_spec_from_json (j, "web", out, err);
}

/* Parses and validates body; returns the error's message ("" when it is accepted) for comparison. */
static char *
validate_msg (const char *body)
{
  cleanup_container_spec struct container_spec spec = { 0 };
  cleanup_error isola_error_t err = NULL;
  int ret = spec_of (body, &spec, &err);
  if (ret == 0)
    ret = container_spec_validate (&spec, cache, &err);
  if (ret == 0)
    return xstrdup ("");
  return xstrdup (ret == -EINVAL && err ? err->msg : "(not EINVAL)");
}

static void
check_refused (const char *body, const char *want)
{
  cleanup_free char *msg = validate_msg (body);
  CHECK (strcmp (msg, want) == 0, "%s refused: %s", body, msg);
}

static void
check_refused_with (const char *body, const char *part)
{
  cleanup_free char *msg = validate_msg (body);
  CHECK (strstr (msg, part) != NULL, "%s refused: %s", body, msg);
}

/* As check_refused_with, in a child given minutes: a check that blocks (an open of a FIFO) fails instead of hanging. */
static void
check_refused_in_time (const char *body, const char *part)
{
  pid_t pid = fork ();
  if (pid == 0)
    {
      cleanup_free char *msg = validate_msg (body);
      _exit (strstr (msg, part) != NULL ? 0 : 1);
    }
  int status = tap_wait_child (pid, 300);
  CHECK (pid > 0 && status == 0, "%s refused with \"%s\", and in time (%s)", body, part,
         status == -1 ? "blocked for 5 minutes" : "");
}

static void
check_accepted (const char *body)
{
  cleanup_free char *msg = validate_msg (body);
  CHECK (strcmp (msg, "") == 0, "%s accepted%s%s", body, msg[0] ? ": " : "", msg);
}

static void
test_from_json (void)
{
  struct container_spec s = { 0 };
  CHECK (
      spec_of ("{\"Image\":\"busybox\",\"Cmd\":\"sh\",\"Entrypoint\":null,\"Env\":[\"A=1\"],\"Tty\":true,"
               "\"StopTimeout\":3,\"Labels\":{\"a\":\"1\"},\"Unknown\":{\"x\":1},\"HostConfig\":{\"Memory\":67108864,"
               "\"Binds\":[\"/tmp:/data\"],\"Tmpfs\":{\"/run\":\"size=1m\"},\"Ulimits\":[{\"Name\":\"nofile\","
               "\"Soft\":10,\"Hard\":20}],\"AutoRemove\":true},\"NetworkingConfig\":{\"EndpointsConfig\":"
               "{\"host\":{}}}}",
               &s, NULL)
          == 0,
      "a create body parses");
  CHECK (strcmp (s.name, "web") == 0 && strcmp (s.image, "busybox") == 0, "name and image");
  CHECK (strv_len (s.cmd) == 1 && strcmp (s.cmd[0], "sh") == 0, "Cmd as one string is a list of one");
  CHECK (s.entrypoint == NULL, "a null Entrypoint is unset");
  CHECK (strv_len (s.env) == 1 && s.tty && !s.open_stdin, "Env, Tty, OpenStdin");
  CHECK (s.has_stop_timeout && s.stop_timeout == 3, "StopTimeout");
  CHECK (s.labels.n == 1 && strcmp (s.labels.values[0], "1") == 0, "Labels");
  CHECK (s.memory == 67108864 && s.auto_remove && strv_len (s.binds) == 1, "HostConfig's members");
  CHECK (s.tmpfs.n == 1 && strcmp (s.tmpfs.keys[0], "/run") == 0 && strcmp (s.tmpfs.values[0], "size=1m") == 0,
         "Tmpfs");
  CHECK (s.n_ulimits == 1 && strcmp (s.ulimits[0].name, "nofile") == 0 && s.ulimits[0].soft == 10
             && s.ulimits[0].hard == 20,
         "Ulimits");
  CHECK (strv_len (s.networks) == 1 && strcmp (s.networks[0], "host") == 0, "NetworkingConfig's networks");
  container_spec_clear (&s);

  CHECK (spec_of ("{\"Image\":\"busybox\"}", &s, NULL) == 0 && s.env && s.binds && s.cap_add && s.security_opt
             && s.networks && s.cmd == NULL && !s.has_stop_timeout,
         "an empty body has empty lists and nothing set");
  container_spec_clear (&s);

  static const char *const wrong[][2] = {
    { "[]", "invalid request: the body must be a JSON object" },
    { "{\"Hostname\":1}", "invalid request: Hostname must be a string" },
    { "{\"Tty\":\"yes\"}", "invalid request: Tty must be a boolean" },
    { "{\"Cmd\":[1]}", "invalid request: Cmd must be a list of strings" },
    { "{\"StopTimeout\":\"1\"}", "invalid request: StopTimeout must be an integer" },
    { "{\"Labels\":{\"a\":1}}", "invalid request: Labels must be an object of strings" },
    { "{\"HostConfig\":[]}", "invalid request: HostConfig must be an object" },
    { "{\"HostConfig\":{\"Memory\":\"1g\"}}", "invalid request: HostConfig.Memory must be an integer" },
    { "{\"HostConfig\":{\"Ulimits\":[{\"Name\":\"nofile\"}]}}",
      "invalid request: HostConfig.Ulimits must be a list of {Name, Soft, Hard}" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (wrong); i++)
    {
      cleanup_error isola_error_t err = NULL;
      struct container_spec untouched = { .name = (char *)"unchanged" };
      int ret = spec_of (wrong[i][0], &untouched, &err);
      CHECK (ret == -EINVAL && strcmp (err->msg, wrong[i][1]) == 0 && strcmp (untouched.name, "unchanged") == 0,
             "%s: %s", wrong[i][0], err ? err->msg : "accepted");
    }
}

/* HostConfig's namespace modes, sysctls, devices, ShmSize and VolumesFrom, with Docker's messages (nsmode.c). */
static void
test_validate_namespaces (void)
{
  const char *ok[] = {
    "{\"IpcMode\":\"shareable\",\"PidMode\":\"host\",\"UTSMode\":\"host\",\"UsernsMode\":\"host\"}",
    "{\"IpcMode\":\"container:db\",\"PidMode\":\"container:db\",\"CgroupnsMode\":\"host\"}",
    "{\"IpcMode\":\"none\",\"CgroupnsMode\":\"private\",\"ShmSize\":1048576}",
    "{\"Sysctls\":{\"kernel.shmmax\":\"1\",\"kernel.msgmax\":\"2\",\"kernel.sem\":\"3\",\"fs.mqueue.msg_max\":\"4\","
    "\"net.ipv4.ip_forward\":\"1\"}}",
    "{\"Devices\":[{\"PathOnHost\":\"/dev/null\",\"PathInContainer\":\"/dev/n\",\"CgroupPermissions\":\"rw\"}]}",
    "{\"VolumesFrom\":[\"a\",\"b:ro\",\"c:rw\"],\"GroupAdd\":[\"mail\",\"33\"]}",
  };
  for (size_t i = 0; i < ARRAY_SIZE (ok); i++)
    {
      cleanup_free char *json = xasprintf ("{\"Image\":\"busybox\",\"HostConfig\":%s}", ok[i]);
      check_accepted (json);
    }
  const char *refused[][2] = {
    { "{\"IpcMode\":\"bogus\"}", "invalid IPC mode: bogus" },
    { "{\"IpcMode\":\"container:\"}", "invalid IPC mode: container:" },
    { "{\"PidMode\":\"private\"}", "--pid: invalid PID mode" },
    { "{\"UTSMode\":\"container:x\"}", "--uts: invalid UTS mode" },
    { "{\"UsernsMode\":\"bogus\"}", "--userns: invalid USER mode" },
    { "{\"CgroupnsMode\":\"bogus\"}", "--cgroupns: invalid CGROUP mode" },
    { "{\"ShmSize\":-1}", "SHM size can not be less than 0" },
    { "{\"Sysctls\":{\"kernel.hostname\":\"x\"}}", "sysctl 'kernel.hostname=x' is not whitelisted" },
    { "{\"Sysctls\":{\"vm.swappiness\":\"1\"}}", "sysctl 'vm.swappiness=1' is not whitelisted" },
    { "{\"NetworkMode\":\"host\",\"Sysctls\":{\"net.ipv4.ip_forward\":\"1\"}}",
      "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace" },
    { "{\"IpcMode\":\"host\",\"Sysctls\":{\"kernel.shmmax\":\"1\"}}",
      "sysctl \"kernel.shmmax\" is not allowed: the container shares the host's IPC namespace" },
    { "{\"Devices\":[{\"PathOnHost\":\"/dev/null\",\"PathInContainer\":\"rel\"}]}", "bad format for path: rel" },
    { "{\"Devices\":[{\"PathOnHost\":\"/dev/null\",\"PathInContainer\":\"/d\",\"CgroupPermissions\":\"x\"}]}",
      "invalid device mode: x" },
    { "{\"VolumesFrom\":[\"a:z\"]}", "invalid mode: z" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (refused); i++)
    {
      cleanup_free char *json = xasprintf ("{\"Image\":\"busybox\",\"HostConfig\":%s}", refused[i][0]);
      check_refused (json, refused[i][1]);
    }
  check_refused ("{\"Image\":\"busybox\",\"Hostname\":\"h\",\"HostConfig\":{\"UTSMode\":\"host\"}}",
                 "conflicting options: hostname and the UTS mode");
}

static void
test_validate (void)
{
  check_accepted ("{\"Image\":\"busybox\"}");
  check_refused ("{}", "no image specified");
  check_refused ("{\"Image\":\"busybox\",\"WorkingDir\":\"rel\"}",
                 "the working directory 'rel' is invalid, it needs to be an absolute path");
  check_accepted ("{\"Image\":\"busybox\",\"WorkingDir\":\"/srv\",\"StopSignal\":\"SIGUSR1\"}");
  check_refused ("{\"Image\":\"busybox\",\"StopSignal\":\"NOPE\"}", "invalid signal: NOPE");
  check_refused ("{\"Image\":\"busybox\",\"Env\":[\"A=1\",\"=x\"]}", "invalid environment variable: =x");
  check_accepted ("{\"Image\":\"busybox\",\"Env\":[\"A=\",\"B\"]}");
  check_refused ("{\"Image\":\"busybox\",\"StopTimeout\":-99}",
                 "invalid stop timeout -99: -1 (wait forever) or 0 or more seconds");
  check_accepted ("{\"Image\":\"busybox\",\"StopTimeout\":-1}");
  check_refused_with ("{\"Image\":\"busybox\",\"StopTimeout\":99999999999}", "out of range");
  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"often\"}}}",
                 "invalid restart policy 'often'");
  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"AutoRemove\":true,\"RestartPolicy\":{\"Name\":"
                 "\"always\"}}}",
                 "can't create 'AutoRemove' container with restart policy");
  check_accepted ("{\"Image\":\"busybox\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"on-failure\","
                  "\"MaximumRetryCount\":5}}}");
  check_refused ("{\"Image\":\"busybox\",\"Healthcheck\":{\"Interval\":10}}",
                 "Interval in Healthcheck cannot be less than 1ms");

  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"Memory\":1048576}}", "Minimum memory limit allowed is 6MB");
  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"Memory\":-1}}", "Minimum memory limit allowed is 6MB");
  check_accepted ("{\"Image\":\"busybox\",\"HostConfig\":{\"Memory\":6291456}}");
  long ncpu = sysconf (_SC_NPROCESSORS_ONLN);
  cleanup_free char *range
      = xasprintf ("range of CPUs is from 0.01 to %ld.00, as there are only %ld CPUs available", ncpu, ncpu);
  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"NanoCpus\":9999999}}", range);
  cleanup_free char *too_many
      = xasprintf ("{\"Image\":\"busybox\",\"HostConfig\":{\"NanoCpus\":%ld}}", ncpu * 1000000000L + 1);
  check_refused (too_many, range);
  check_accepted ("{\"Image\":\"busybox\",\"HostConfig\":{\"NanoCpus\":10000000,\"PidsLimit\":-1}}");

  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"MemorySwap\":134217728}}",
                 "You should always set the Memory limit when using Memoryswap limit, see usage");
  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"Memory\":67108864,\"MemorySwap\":33554432}}",
                 "Minimum memoryswap limit should be larger than memory limit, see usage");
  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"Memory\":67108864,\"MemoryReservation\":134217728}}",
                 "Minimum memory limit can not be less than memory reservation limit, see usage");
  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"MemoryReservation\":1048576}}",
                 "Minimum memory reservation allowed is 6MB");
  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"CpusetCpus\":\"0-\"}}",
                 "Invalid value 0- for cpuset cpus: invalid format: 0-");
  check_refused_with ("{\"Image\":\"busybox\",\"HostConfig\":{\"CpusetCpus\":\"1023\"}}",
                      "Requested CPUs are not available - requested 1023, available: ");
  check_accepted ("{\"Image\":\"busybox\",\"HostConfig\":{\"Memory\":67108864,\"MemorySwap\":-1,\"MemoryReservation\":"
                  "33554432,\"CpuShares\":512,\"CpusetCpus\":\"0\",\"CpusetMems\":\"0\",\"OomKillDisable\":true}}");
  {
    cleanup_json json_t *req
        = json_loads ("{\"Image\":\"busybox\",\"HostConfig\":{\"MemorySwap\":134217728}}", 0, NULL);
    cleanup_container_spec struct container_spec s = { 0 };
    CHECK (container_spec_from_json (req, NULL, &s, NULL) == 0 && container_spec_check_resources (&s, true, NULL) == 0,
           "an update may set swap alone (Docker's update=true)");
  }

  /* Names of networks and containers are checked against the store at create (create.c), the shape here. */
  check_accepted ("{\"Image\":\"busybox\",\"HostConfig\":{\"NetworkMode\":\"bridge\"}}");
  check_accepted ("{\"Image\":\"busybox\",\"NetworkingConfig\":{\"EndpointsConfig\":{\"mynet\":{}}}}");
  check_accepted ("{\"Image\":\"busybox\",\"HostConfig\":{\"NetworkMode\":\"container:web\"}}");
  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"NetworkMode\":\"container:\"}}",
                 "invalid network mode: container:");
  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"NetworkMode\":\"a/b\"}}", "network a/b not found");
  check_accepted ("{\"Image\":\"busybox\",\"HostConfig\":{\"NetworkMode\":\"default\"}}");
  check_accepted ("{\"Image\":\"busybox\",\"HostConfig\":{\"NetworkMode\":\"host\"}}");
  /* podman's ns:PATH: a network namespace, given by an absolute path */
  check_accepted ("{\"Image\":\"busybox\",\"HostConfig\":{\"NetworkMode\":\"ns:/proc/self/ns/net\"}}");
  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"NetworkMode\":\"ns:/proc/self/ns/uts\"}}",
                 "invalid network \"ns:/proc/self/ns/uts\": `/proc/self/ns/uts` is not a network namespace");
  check_refused_with ("{\"Image\":\"busybox\",\"HostConfig\":{\"NetworkMode\":\"ns:/proc\"}}",
                      "`/proc` is not a network namespace");
  check_refused_with ("{\"Image\":\"busybox\",\"HostConfig\":{\"NetworkMode\":\"ns:run/x\"}}",
                      "network namespace path \"run/x\" must be absolute");
  check_refused_with ("{\"Image\":\"busybox\",\"HostConfig\":{\"NetworkMode\":\"ns:/nonexistent/ns\"}}",
                      "network namespace `/nonexistent/ns`");
  /* A request's path is never opened for reading before it is known to be a namespace: a FIFO's open blocks. */
  cleanup_free char *fifo = xasprintf ("%s/fifo", cache);
  CHECK (mkfifo (fifo, 0600) == 0, "mkfifo");
  cleanup_free char *body = xasprintf ("{\"Image\":\"busybox\",\"HostConfig\":{\"NetworkMode\":\"ns:%s\"}}", fifo);
  cleanup_free char *want = xasprintf ("`%s` is not a network namespace", fifo);
  check_refused_in_time (body, want);

  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"SecurityOpt\":[\"apparmor=x\"]}}",
                 "invalid --security-opt: \"apparmor=x\": only seccomp=PROFILE|unconfined and no-new-privileges are "
                 "supported");
  check_accepted ("{\"Image\":\"busybox\",\"HostConfig\":{\"SecurityOpt\":[\"seccomp=unconfined\","
                  "\"no-new-privileges\"]}}");
  check_refused_with ("{\"Image\":\"busybox\",\"HostConfig\":{\"SecurityOpt\":[\"seccomp={bad\"]}}", "seccomp");

  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"Ulimits\":[{\"Name\":\"nosuch\",\"Soft\":1,\"Hard\":2}]}}",
                 "invalid ulimit nosuch");
  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":3,\"Hard\":2}]}}",
                 "invalid ulimit nofile");
  /* A path alone is an anonymous volume and a relative source a volume name, as in Docker's engine. */
  check_accepted ("{\"Image\":\"busybox\",\"HostConfig\":{\"Binds\":[\"/data\", \"vol:/v:ro\"]}}");
  check_accepted ("{\"Image\":\"busybox\",\"Volumes\":{\"/anon\":{}},\"HostConfig\":{\"Mounts\":[{\"Type\":"
                  "\"volume\",\"Source\":\"vv\",\"Target\":\"/m\"},{\"Type\":\"tmpfs\",\"Target\":\"/t\"}]}}");
  check_refused_with ("{\"Image\":\"busybox\",\"HostConfig\":{\"Binds\":[\"bad@:/data\"]}}",
                      "includes invalid characters for a local volume name");
  check_refused_with ("{\"Image\":\"busybox\",\"HostConfig\":{\"Binds\":[\"vol:data\"]}}",
                      "mount path must be absolute");
  check_refused_with ("{\"Image\":\"busybox\",\"Volumes\":{\"anon\":{}}}", "mount path must be absolute");
  check_refused_with ("{\"Image\":\"busybox\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":"
                      "\"/nonexistent-isola\",\"Target\":\"/x\"}]}}",
                      "bind source path does not exist: /nonexistent-isola");
  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"Mounts\":{}}}",
                 "invalid request: HostConfig.Mounts must be a list of objects");
  check_refused_with ("{\"Image\":\"busybox\",\"HostConfig\":{\"Binds\":[\"/tmp:/data:xx\"]}}", "invalid mode: xx");
  cleanup_error isola_error_t err = NULL;
  cleanup_container_spec struct container_spec missing = { 0 };
  CHECK (spec_of ("{\"Image\":\"b\",\"HostConfig\":{\"Binds\":[\"/nonexistent-isola:/x\"]}}", &missing, NULL) == 0
             && container_spec_validate (&missing, cache, &err) == -ENOENT
             && strstr (err->msg, "bind source path does not exist"),
         "a missing bind source is ENOENT");
  check_refused ("{\"Image\":\"busybox\",\"HostConfig\":{\"Tmpfs\":{\"run\":\"\"}}}",
                 "invalid tmpfs mount 'run': mount path must be absolute");
  check_refused_with ("{\"Image\":\"busybox\",\"HostConfig\":{\"CapAdd\":[\"NO_SUCH_CAP\"]}}", "NO_SUCH_CAP");
}

/* Parses body, merges image (JSON text of an image config's "config"); returns the merge's result. */
static int
merged (const char *body, const char *image, struct container_spec *out, isola_error_t *err)
{
  cleanup_json json_t *image_config = json_loads (image, 0, NULL);
  int ret = spec_of (body, out, NULL);
  return ret < 0 ? ret : container_spec_merge_image (out, image_config, err);
}

static bool
strv_is (char *const *v, const char *const *want, size_t n)
{
  if (strv_len (v) != n)
    return false;
  for (size_t i = 0; i < n; i++)
    if (strcmp (v[i], want[i]) != 0)
      return false;
  return true;
}

static void
test_merge_env (void)
{
  cleanup_container_spec struct container_spec s = { 0 };
  CHECK (merged ("{\"Image\":\"i\",\"Cmd\":[\"sh\"],\"Env\":[\"B=mine\",\"C=3\"]}", "{\"Env\":[\"A=1\",\"B=2\"]}", &s,
                 NULL)
                 == 0
             && strv_is (s.env, (const char *[]){ "B=mine", "C=3", "A=1" }, 3),
         "the request's Env first, then the image's it does not set (Docker's create), no PATH added");
  container_spec_clear (&s);
  CHECK (merged ("{\"Image\":\"i\",\"Cmd\":[\"sh\"],\"Env\":[\"PATH=/bin\"]}", "{\"Env\":[\"PATH=/usr/bin\",\"A=1\"]}",
                 &s, NULL)
                 == 0
             && strv_is (s.env, (const char *[]){ "PATH=/bin", "A=1" }, 2),
         "the request's PATH over the image's");
  container_spec_clear (&s);
  CHECK (merged ("{\"Image\":\"i\",\"Cmd\":[\"sh\"]}", "{\"Env\":[\"A=1\"]}", &s, NULL) == 0
             && strv_is (s.env, (const char *[]){ "A=1" }, 1),
         "the image's Env alone");
}

/* body's command after merging with an image whose Entrypoint is ["/ep"] and Cmd ["default"]. */
static void
check_command (const char *body, const char *const *want_ep, size_t n_ep, const char *const *want_cmd, size_t n_cmd,
               const char *what)
{
  cleanup_container_spec struct container_spec s = { 0 };
  int ret = merged (body, "{\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"default\"]}", &s, NULL);
  CHECK (ret == 0 && strv_is (s.entrypoint, want_ep, n_ep) && strv_is (s.cmd, want_cmd, n_cmd), "%s", what);
}

static void
test_merge_command (void)
{
  const char *const ep[] = { "/ep" }, *const dflt[] = { "default" }, *const mine[] = { "echo", "hi" };
  const char *const sh[] = { "sh" }, *const none[] = { NULL };
  check_command ("{\"Image\":\"i\"}", ep, 1, dflt, 1, "neither given: the image's entrypoint and command");
  check_command ("{\"Image\":\"i\",\"Cmd\":[\"echo\",\"hi\"]}", ep, 1, mine, 2,
                 "a command: the image's entrypoint with it");
  check_command ("{\"Image\":\"i\",\"Entrypoint\":[\"sh\"]}", sh, 1, none, 0,
                 "an entrypoint: not the image's command either");
  check_command ("{\"Image\":\"i\",\"Entrypoint\":[\"sh\"],\"Cmd\":[\"echo\",\"hi\"]}", sh, 1, mine, 2,
                 "both given: both the request's");
  check_command ("{\"Image\":\"i\",\"Entrypoint\":[\"\"],\"Cmd\":[\"echo\",\"hi\"]}", none, 0, mine, 2,
                 "--entrypoint \"\" with a command: that command alone");
  check_command ("{\"Image\":\"i\",\"Entrypoint\":[]}", none, 0, dflt, 1,
                 "an empty Entrypoint: none, and the image's command (Docker's rule)");

  cleanup_container_spec struct container_spec s = { 0 };
  cleanup_error isola_error_t err = NULL;
  CHECK (merged ("{\"Image\":\"i\",\"Entrypoint\":[\"\"]}", "{\"Cmd\":[\"default\"]}", &s, &err) == -EINVAL
             && strcmp (err->msg, "no command specified") == 0,
         "--entrypoint \"\" without a command: no command specified");
  container_spec_clear (&s);
  isola_error_release (&err);
  CHECK (merged ("{\"Image\":\"i\"}", "{}", &s, &err) == -EINVAL && strcmp (err->msg, "no command specified") == 0,
         "no command anywhere: no command specified");
}

static void
test_merge_inherited (void)
{
  const char *image = "{\"WorkingDir\":\"/app\",\"User\":\"daemon\",\"StopSignal\":\"SIGQUIT\","
                      "\"Labels\":{\"a\":\"image\",\"b\":\"image\"},\"Cmd\":[\"x\"]}";
  cleanup_container_spec struct container_spec s = { 0 };
  CHECK (merged ("{\"Image\":\"i\"}", image, &s, NULL) == 0 && strcmp (s.working_dir, "/app") == 0
             && strcmp (s.user, "daemon") == 0 && strcmp (s.stop_signal, "SIGQUIT") == 0,
         "WorkingDir, User and StopSignal inherited when unset");
  CHECK (s.labels.n == 2, "the image's labels");
  container_spec_clear (&s);
  CHECK (merged ("{\"Image\":\"i\",\"WorkingDir\":\"/w\",\"User\":\"1000\",\"StopSignal\":\"USR1\",\"Labels\":{\"a\":"
                 "\"mine\",\"c\":\"mine\"}}",
                 image, &s, NULL)
                 == 0
             && strcmp (s.working_dir, "/w") == 0 && strcmp (s.user, "1000") == 0
             && strcmp (s.stop_signal, "USR1") == 0,
         "the request's WorkingDir, User and StopSignal win");
  CHECK (s.labels.n == 3 && strcmp (s.labels.keys[0], "a") == 0 && strcmp (s.labels.values[0], "mine") == 0
             && strcmp (s.labels.keys[2], "b") == 0 && strcmp (s.labels.values[2], "image") == 0,
         "labels merged: the request's win, the image's others added");
  container_spec_clear (&s);
  CHECK (merged ("{\"Image\":\"i\",\"User\":\"\"}", image, &s, NULL) == 0 && strcmp (s.user, "daemon") == 0,
         "an empty User is unset, as in Docker");
}

static void
test_to_json (void)
{
  cleanup_container_spec struct container_spec s = { 0 };
  CHECK (merged ("{\"Image\":\"busybox\",\"Cmd\":[\"sh\"],\"HostConfig\":{\"Memory\":67108864,\"PidsLimit\":-1,"
                 "\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":-1,\"Hard\":-1}]}}",
                 "{}", &s, NULL)
             == 0,
         "merged");
  cleanup_json json_t *config = container_spec_config_json (&s);
  cleanup_json json_t *host = container_spec_host_config_json (&s);
  cleanup_free char *c = json_dumps (config, JSON_SORT_KEYS | JSON_COMPACT);
  cleanup_free char *h = json_dumps (host, JSON_SORT_KEYS | JSON_COMPACT);
  CHECK_STR (
      c,
      "{\"AttachStderr\":false,\"AttachStdin\":false,\"AttachStdout\":false,\"Cmd\":[\"sh\"],\"Entrypoint\":null,"
      "\"Env\":[],\"Image\":\"busybox\",\"OpenStdin\":false,\"Tty\":false}",
      "Config: what config.json always has, and nothing unset (%s)", c);
  CHECK_STR (
      h,
      "{\"AutoRemove\":false,\"CgroupnsMode\":\"\",\"CpuShares\":0,\"CpusetCpus\":\"\",\"CpusetMems\":\"\","
      "\"Devices\":[],\"IpcMode\":\"\",\"LogConfig\":{\"Config\":{},\"Type\":\"json-file\"},\"Memory\":6710"
      "8864,\"MemoryReservation\":0,\"MemorySwap\":134217728,\"NanoCpus\":0,\"OomKillDisable\":false,\"PidM"
      "ode\":\"\",\"PortBindings\":{},\"Privileged\":false,\"PublishAllPorts\":false,\"ReadonlyRootfs\":false,"
      "\"RestartPolicy\":{\"MaximumRetryCount\":0,"
      "\"Name\":\"\"},\"ShmSize\":0,\"UTSMode\":\"\",\"Ulimits\":[{\"Hard\":-1,\"Name\":\"nofile\",\"Soft\""
      ":-1}],\"UsernsMode\":\"\"}",
      "HostConfig: what is set, what Docker always shows (the booleans, the resources, LogConfig, RestartPolicy, "
      "Devices, ShmSize and the namespace modes, which create settles) and its default MemorySwap (twice Memory); an "
      "unlimited PidsLimit is "
      "not (%s)",
      h);
}

int
main (void)
{
  if (mkdtemp (cache) == NULL)
    return 1;
  test_from_json ();
  test_validate ();
  test_validate_namespaces ();
  test_merge_env ();
  test_merge_command ();
  test_merge_inherited ();
  test_to_json ();
  rm_rf (cache, NULL);
  return tap_done ();
}

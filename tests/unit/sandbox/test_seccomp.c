/* Seccomp profiles: Docker's default profile and its capability-conditional rules, JSON profiles (conditions,
   argument comparisons, every kind of malformed input), HostConfig.SecurityOpt, and the filter in a container
   spawned both with and without no_new_privileges.  Filters are loaded in forked children, never in the test
   itself, and those children leave with a bare exit_group so that no sanitizer work runs under a filter. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "sandbox/caps.h"
#include "sandbox/seccomp_profile.h"
#include "sandbox/spawn.h"
#include "store/store.h"
#include "tap.h"

#define CAP(c) (UINT64_C (1) << (c))

static char root[] = "/tmp/isola-unit-seccomp-XXXXXX";

/* --- probes: each makes one system call and returns 0 or the errno it failed with ---------------------------- */

/* Straight to the kernel: the sanitizers' exit hooks would make system calls that a test filter may refuse. */
static __attribute__ ((noreturn)) void
raw_exit (int code)
{
  syscall (SYS_exit_group, code);
  __builtin_unreachable ();
}

static int
errno_of (long r)
{
  return r < 0 ? errno : 0;
}

static int
probe_getpid (void)
{
  return errno_of (syscall (SYS_getpid));
}

static int
probe_getppid (void)
{
  return errno_of (syscall (SYS_getppid));
}

static int
probe_read_write (void)
{
  int p[2];
  char c = 0;
  if (pipe (p) < 0)
    return errno;
  int ret = write (p[1], "x", 1) == 1 && read (p[0], &c, 1) == 1 && c == 'x' ? 0 : errno;
  close (p[0]), close (p[1]);
  return ret;
}

static int
probe_fork (void)
{
  pid_t pid = fork ();
  if (pid == 0)
    raw_exit (0);
  if (pid < 0)
    return errno;
  int status = 0;
  return waitpid (pid, &status, 0) == pid && WIFEXITED (status) && WEXITSTATUS (status) == 0 ? 0 : EIO;
}

static int
probe_unshare_mount_ns (void)
{
  return errno_of (unshare (CLONE_NEWNS));
}

/* Without the filter: ENOENT (no such target). */
static int
probe_mount (void)
{
  return errno_of (mount ("none", "/nonexistent-isola-seccomp", "tmpfs", 0, NULL));
}

/* KEYCTL_GET_KEYRING_ID of KEY_SPEC_SESSION_KEYRING, without creating it. */
static int
probe_keyctl (void)
{
  return errno_of (syscall (SYS_keyctl, 0, -3, 0));
}

/* A wrong magic number: EINVAL if the call gets through, and nothing happens. */
static int
probe_reboot (void)
{
  return errno_of (syscall (SYS_reboot, 0, 0, 0, NULL));
}

static int
probe_clone3 (void)
{
  return errno_of (syscall (SYS_clone3, NULL, 0));
}

/* CAP_SYS_CHROOT is in Docker's default set: ENOENT if allowed. */
static int
probe_chroot (void)
{
  return errno_of (chroot ("/nonexistent-isola-seccomp"));
}

static int
probe_personality_query (void)
{
  return errno_of (personality (0xffffffff));
}

static int
probe_personality_odd (void)
{
  return errno_of (personality (0x1234));
}

static int
probe_personality_other (void)
{
  return errno_of (personality (0x4321));
}

static int
probe_mkdir (void)
{
  char path[64];
  snprintf (path, sizeof path, "/tmp/isola-unit-seccomp-probe-%d", (int)getpid ());
  int ret = errno_of (mkdir (path, 0700));
  if (ret == 0)
    (void)rmdir (path);
  return ret;
}

/* Forks a child that loads the program and runs fn.  Returns fn's errno (0: it succeeded), or -1 when the child
   could not load the program or died. */
static int
probe_program (const struct seccomp_program *prog, int (*fn) (void))
{
  pid_t pid = fork ();
  if (pid == 0)
    {
      if (seccomp_program_install (prog, NULL) < 0)
        raw_exit (255);
      raw_exit (fn () & 0x7f);
    }
  int status = 0;
  if (pid < 0 || waitpid (pid, &status, 0) != pid || !WIFEXITED (status) || WEXITSTATUS (status) == 255)
    return -1;
  return WEXITSTATUS (status);
}

/* Forks a child that loads the filter and runs the probe.  Returns the probe's errno (0: it succeeded), or -1
   when the child could not load the filter or died.  The filter is compiled before the fork, as a container's
   monitor does, so that the child makes no system call between loading it and the probe. */
static int
probe (scmp_filter_ctx filter, int (*fn) (void))
{
  struct seccomp_program *prog = NULL;
  if (filter && seccomp_compile (filter, &prog, NULL) < 0)
    return -1;
  int ret = probe_program (prog, fn);
  seccomp_program_free (prog);
  return ret;
}

/* The way a container gets its filter: compiled to a program and loaded with seccomp(2). */
static int
install_filter (scmp_filter_ctx f, isola_error_t *err)
{
  if (f == NULL)
    return 0;
  struct seccomp_program *prog = NULL;
  int ret = seccomp_compile (f, &prog, err);
  if (ret == 0)
    ret = seccomp_program_install (prog, err);
  seccomp_program_free (prog);
  return ret;
}

/* --- Docker's default profile -------------------------------------------------------------------------------- */

static void
test_default_profile (void)
{
  scmp_filter_ctx f = NULL;
  cleanup_error isola_error_t err = NULL;
  CHECK (seccomp_profile_default (caps_docker_default (), &f, &err) == 0 && f, "the default profile builds (%s)",
         err ? err->msg : "ok");
  CHECK (probe (f, probe_getpid) == 0, "getpid is allowed");
  CHECK (probe (f, probe_read_write) == 0, "read and write are allowed");
  CHECK (probe (f, probe_fork) == 0, "fork (clone without namespace flags) is allowed");
  CHECK (probe (f, probe_unshare_mount_ns) == EPERM, "unshare(CLONE_NEWNS) fails with EPERM without CAP_SYS_ADMIN");
  CHECK (probe (f, probe_mount) == EPERM, "mount fails with EPERM");
  CHECK (probe (f, probe_keyctl) == EPERM, "keyctl fails with EPERM");
  CHECK (probe (f, probe_reboot) == EPERM, "reboot fails with EPERM without CAP_SYS_BOOT");
  CHECK (probe (f, probe_clone3) == ENOSYS, "clone3 fails with ENOSYS, so that glibc falls back to clone");
  CHECK (probe (f, probe_chroot) == ENOENT, "chroot is allowed with CAP_SYS_CHROOT (a default capability)");
  CHECK (probe (f, probe_personality_query) == 0, "personality(0xffffffff) is allowed");
  CHECK (probe (f, probe_personality_odd) == EPERM, "personality(0x1234) is refused");
  CHECK (probe (f, probe_mkdir) == 0, "mkdir is allowed");
  f = seccomp_profile_release (f);

  CHECK (seccomp_profile_default (caps_docker_default () | CAP (CAP_SYS_ADMIN), &f, NULL) == 0 && f,
         "the default profile with CAP_SYS_ADMIN builds");
  CHECK (probe (f, probe_unshare_mount_ns) == 0, "with CAP_SYS_ADMIN, unshare(CLONE_NEWNS) is allowed");
  CHECK (probe (f, probe_mount) == ENOENT, "and so is mount");
  int r = probe (f, probe_clone3);
  CHECK (r != ENOSYS && r != EPERM && r > 0, "and clone3 reaches the kernel (errno %d)", r);
  CHECK (probe (f, probe_reboot) == EPERM, "reboot still needs CAP_SYS_BOOT");
  f = seccomp_profile_release (f);

  CHECK (seccomp_profile_default (0, &f, NULL) == 0 && f, "the default profile with no capabilities builds");
  CHECK (probe (f, probe_chroot) == EPERM, "without CAP_SYS_CHROOT, chroot is refused");
  f = seccomp_profile_release (f);
}

/* Without no_new_privs, only CAP_SYS_ADMIN may load a filter: why spawn loads it before dropping privileges. */
static void
test_install_needs_privilege (void)
{
  scmp_filter_ctx f = NULL;
  (void)seccomp_profile_default (caps_docker_default (), &f, NULL);
  int p[2];
  if (pipe (p) < 0)
    return;
  pid_t pid = fork ();
  if (pid == 0)
    {
      isola_error_t err = NULL;
      char msg[256] = "";
      if (setresgid (65534, 65534, 65534) == 0 && setresuid (65534, 65534, 65534) == 0 && install_filter (f, &err) < 0)
        snprintf (msg, sizeof msg, "%d %s", err->status, err->msg);
      if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && install_filter (f, NULL) == 0)
        strcat (msg, " | nnp ok");
      (void)write_all (p[1], msg, strlen (msg));
      raw_exit (0);
    }
  close (p[1]);
  char buf[300] = "";
  ssize_t n = read (p[0], buf, sizeof buf - 1);
  buf[n > 0 ? n : 0] = '\0';
  close (p[0]);
  waitpid (pid, NULL, 0);
  printf ("# %s\n", buf);
  CHECK (strstr (buf, "13 load the seccomp filter: Permission denied") != NULL,
         "an unprivileged process without no_new_privs cannot load a filter, and the message says so");
  CHECK (strstr (buf, "| nnp ok") != NULL, "with no_new_privs it can");
  seccomp_profile_release (f);
}

/* --- JSON profiles ------------------------------------------------------------------------------------------- */

static scmp_filter_ctx
parse (const char *json, uint64_t caps)
{
  scmp_filter_ctx f = NULL;
  cleanup_error isola_error_t err = NULL;
  if (seccomp_profile_parse (json, strlen (json), caps, &f, &err) < 0)
    printf ("# parse failed: %s\n", err->msg);
  return f;
}

static const char deny_mkdir[] = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\", "
                                 "\"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13}]}";

static void
test_json_basics (void)
{
  scmp_filter_ctx f = parse (deny_mkdir, caps_docker_default ());
  CHECK (f != NULL, "a profile that denies mkdir parses");
  CHECK (probe (f, probe_mkdir) == EACCES, "mkdir fails with its errnoRet, EACCES");
  CHECK (probe (f, probe_getpid) == 0 && probe (f, probe_unshare_mount_ns) == 0,
         "with defaultAction SCMP_ACT_ALLOW, everything else is allowed");
  f = seccomp_profile_release (f);

  f = parse ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38, \"archMap\": [{\"architecture\": "
             "\"SCMP_ARCH_X86_64\", \"subArchitectures\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]}, {\"architecture\": "
             "\"SCMP_ARCH_LOONGARCH64\", \"subArchitectures\": null}], \"syscalls\": [{\"names\": [\"getpid\", "
             "\"exit_group\", \"exit\", \"no_such_syscall\"], \"action\": \"SCMP_ACT_ALLOW\", \"comment\": \"x\"}]}",
             0);
  CHECK (f != NULL, "an allowlist profile with an archMap and an unknown syscall name parses");
  CHECK (probe (f, probe_getpid) == 0, "the allowed syscall works");
  CHECK (probe (f, probe_getppid) == ENOSYS, "others fail with defaultErrnoRet");
  f = seccomp_profile_release (f);

  f = parse ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\"], "
             "\"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"], \"syscalls\": [{\"name\": \"getppid\", \"action\": "
             "\"SCMP_ACT_ERRNO\"}]}",
             0);
  CHECK (f != NULL && probe (f, probe_getppid) == EPERM,
         "the old single \"name\", architectures and flags work; errnoRet defaults to EPERM");
  f = seccomp_profile_release (f);

  CHECK (parse ("{}", 0) == NULL, "a profile with neither defaultAction nor syscalls means no filter, as in Docker");
  cleanup_error isola_error_t err = NULL;
  scmp_filter_ctx none = (scmp_filter_ctx)1;
  CHECK (seccomp_profile_parse ("{}", 2, 0, &none, &err) == 0 && none == NULL && err == NULL,
         "and that is a success with *out = NULL");
}

static const char *
deny_getppid (const char *extra)
{
  static char buf[512];
  snprintf (buf, sizeof buf,
            "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"getppid\"], \"action\": "
            "\"SCMP_ACT_ERRNO\", \"errnoRet\": 13%s}]}",
            extra);
  return buf;
}

/* Whether getppid is denied under deny_getppid (extra) for a container with caps. */
static bool
getppid_denied (const char *extra, uint64_t caps)
{
  scmp_filter_ctx f = parse (deny_getppid (extra), caps);
  bool denied = f && probe (f, probe_getppid) == EACCES;
  seccomp_profile_release (f);
  return denied;
}

static void
test_json_conditions (void)
{
  const char *ex_admin = ", \"excludes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}";
  CHECK (getppid_denied (ex_admin, 0), "excludes.caps: the rule applies without the capability");
  CHECK (!getppid_denied (ex_admin, CAP (CAP_SYS_ADMIN)), "and not with it");
  const char *in_two = ", \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\", \"SYS_TIME\"]}";
  CHECK (!getppid_denied (in_two, CAP (CAP_SYS_ADMIN)), "includes.caps: all of them are needed");
  CHECK (getppid_denied (in_two, CAP (CAP_SYS_ADMIN) | CAP (CAP_SYS_TIME)), "and then it applies");
  CHECK (!getppid_denied (", \"includes\": {\"minKernel\": \"255.0\"}", 0), "includes.minKernel above ours");
  CHECK (getppid_denied (", \"includes\": {\"minKernel\": \"3.10\"}", 0), "includes.minKernel below ours");
  CHECK (!getppid_denied (", \"excludes\": {\"minKernel\": \"3.10\"}", 0), "excludes.minKernel below ours");
  CHECK (!getppid_denied (", \"includes\": {\"arches\": [\"s390x\"]}", 0), "includes.arches without ours");
  CHECK (getppid_denied (", \"excludes\": {\"arches\": [\"s390x\"], \"caps\": []}", 0), "excludes.arches without ours");
#ifdef __x86_64__
  CHECK (getppid_denied (", \"includes\": {\"arches\": [\"x86\", \"amd64\"]}", 0), "includes.arches with ours");
  CHECK (!getppid_denied (", \"excludes\": {\"arches\": [\"amd64\"]}", 0), "excludes.arches with ours");
#endif
}

static void
test_json_args (void)
{
  scmp_filter_ctx f = parse ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"personality\"], "
                             "\"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13, \"args\": [{\"index\": 0, \"value\": "
                             "4660, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                             0);
  CHECK (f && probe (f, probe_personality_odd) == EACCES, "args: personality(0x1234) matches SCMP_CMP_EQ");
  CHECK (f && probe (f, probe_personality_query) == 0, "personality(0xffffffff) does not");
  f = seccomp_profile_release (f);

  f = parse ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"personality\"], \"action\": "
             "\"SCMP_ACT_ERRNO\", \"errnoRet\": 13, \"args\": [{\"index\": 0, \"value\": 4660, \"op\": "
             "\"SCMP_CMP_EQ\"}, {\"index\": 0, \"value\": 17185, \"op\": \"SCMP_CMP_EQ\"}]}]}",
             0);
  CHECK (f && probe (f, probe_personality_odd) == EACCES && probe (f, probe_personality_other) == EACCES,
         "comparisons of the same argument are alternatives, as in runc");
  CHECK (f && probe (f, probe_personality_query) == 0, "and other values pass");
  f = seccomp_profile_release (f);

  f = parse ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"unshare\"], \"action\": "
             "\"SCMP_ACT_ERRNO\", \"errnoRet\": 13, \"args\": [{\"index\": 0, \"value\": 131072, \"valueTwo\": "
             "131072, \"op\": \"SCMP_CMP_MASKED_EQ\"}]}]}",
             0);
  CHECK (f && probe (f, probe_unshare_mount_ns) == EACCES, "SCMP_CMP_MASKED_EQ: value is the mask, valueTwo the datum");
  f = seccomp_profile_release (f);
}

/* The profile must be refused with a message containing want. */
static void
check_bad (const char *json, size_t len, const char *want, const char *what)
{
  scmp_filter_ctx f = NULL;
  cleanup_error isola_error_t err = NULL;
  int ret = seccomp_profile_parse (json, len, 0, &f, &err);
  CHECK (ret < 0 && f == NULL && err && strstr (err->msg, want) && str_has_prefix (err->msg, "seccomp profile: "),
         "%s is refused (%s)", what, err ? err->msg : "accepted");
}

#define BAD(json, want, what) check_bad (json, strlen (json), want, what)
#define RULE(fields)          "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{" fields "}]}"
#define ARG(fields)           RULE ("\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{" fields "}]")

static void
test_json_malformed (void)
{
  BAD ("{\"defaultAction\": ", "invalid JSON", "truncated JSON");
  BAD ("[]", "expected a JSON object", "a JSON array");
  BAD ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultAction\": \"SCMP_ACT_ALLOW\"}", "duplicate",
       "a duplicate key");
  BAD ("{\"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"}]}", "defaultAction: missing",
       "syscalls without a defaultAction");
  BAD ("{\"defaultAction\": \"SCMP_ACT_FOO\"}", "defaultAction: unknown action \"SCMP_ACT_FOO\"",
       "an unknown default action");
  BAD ("{\"defaultAction\": 1}", "defaultAction: expected a string", "a numeric default action");
  BAD ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": 1}", "defaultErrnoRet: only SCMP_ACT_ERRNO",
       "defaultErrnoRet with SCMP_ACT_ALLOW");
  BAD (RULE ("\"names\": [\"read\"], \"action\": \"SCMP_ACT_BOGUS\""),
       "syscalls[0].action: unknown action \"SCMP_ACT_BOGUS\"", "an unknown action");
  BAD (RULE ("\"names\": [\"read\"], \"action\": \"SCMP_ACT_NOTIFY\""), "SCMP_ACT_NOTIFY is not supported",
       "SCMP_ACT_NOTIFY");
  BAD (RULE ("\"names\": [\"read\"]"), "syscalls[0].action: missing", "a rule without an action");
  BAD (RULE ("\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 5000"),
       "syscalls[0].errnoRet: 5000 is out of range (0-4094)", "errnoRet 5000");
  BAD (RULE ("\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": -1"),
       "syscalls[0].errnoRet: expected a non-negative integer", "a negative errnoRet");
  BAD (RULE ("\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"errnoRet\": 1"), "syscalls[0].errnoRet: only",
       "errnoRet with SCMP_ACT_ALLOW");
  BAD (RULE ("\"names\": [], \"action\": \"SCMP_ACT_ALLOW\""), "syscalls[0].names: no syscall names",
       "a rule without names");
  BAD (RULE ("\"names\": [\"read\", 3], \"action\": \"SCMP_ACT_ALLOW\""),
       "syscalls[0].names[1]: expected a non-empty string", "a numeric syscall name");
  BAD (RULE ("\"names\": \"read\", \"action\": \"SCMP_ACT_ALLOW\""), "syscalls[0].names: expected an array",
       "names as a string");
  BAD (RULE ("\"name\": \"read\", \"names\": [\"write\"], \"action\": \"SCMP_ACT_ALLOW\""), "both name and names",
       "both name and names");
  BAD ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [null]}", "syscalls[0]: expected an object",
       "a null rule");
  BAD (ARG ("\"index\": 7, \"op\": \"SCMP_CMP_EQ\""), "syscalls[0].args[0].index: 7 is out of range (0-5)",
       "argument index 7");
  BAD (ARG ("\"index\": 0, \"op\": \"SCMP_CMP_BOGUS\""), "syscalls[0].args[0].op: unknown operator \"SCMP_CMP_BOGUS\"",
       "an unknown operator");
  BAD (ARG ("\"index\": 0"), "syscalls[0].args[0].op: missing", "a comparison without an operator");
  BAD (ARG ("\"index\": 0, \"value\": -5, \"op\": \"SCMP_CMP_EQ\""),
       "syscalls[0].args[0].value: expected a non-negative integer", "a negative value");
  BAD (ARG ("\"index\": 0, \"value\": 1.5, \"op\": \"SCMP_CMP_EQ\""),
       "syscalls[0].args[0].value: expected a non-negative integer", "a fractional value");
  BAD (RULE ("\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [1]"),
       "syscalls[0].args[0]: expected an object", "a comparison that is not an object");
  /* libseccomp 2.5.4 never returns from adding the second rule (fuzz_seccomp's timeout): refused before it. */
#define SOCKET_RULE(a0, other)                                                                                         \
  "{\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, \"value\": " a0                 \
  ", \"op\": \"SCMP_CMP_GT\"}, {\"index\": " other ", \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}"
  BAD ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [" SOCKET_RULE ("40", "1") ", " SOCKET_RULE ("40",
                                                                                                           "2") "]}",
       "syscalls[1]: a second rule for `socket` with several comparisons repeats the comparison of argument 0",
       "two rules of a syscall repeating a range comparison beside others");
  {
    const char *apart = "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [" SOCKET_RULE (
        "40", "1") ", " SOCKET_RULE ("41", "2") "]}";
    scmp_filter_ctx f = parse (apart, caps_docker_default ());
    CHECK (f != NULL, "two rules of a syscall with different range comparisons are accepted");
    seccomp_profile_release (f);
  }
#undef SOCKET_RULE
  BAD (RULE ("\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"caps\": [\"CAP_NOPE\"]}"),
       "syscalls[0].includes.caps[0]: unknown capability \"CAP_NOPE\"", "an unknown capability");
  BAD (RULE ("\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"excludes\": {\"minKernel\": \"4.x\"}"),
       "syscalls[0].excludes.minKernel: invalid kernel version \"4.x\"", "a bad minKernel");
  BAD (RULE ("\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"minKernel\": \"0.0\"}"),
       "invalid kernel version \"0.0\"", "minKernel 0.0");
  BAD (RULE ("\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"minKernel\": \"4.8.1\"}"),
       "invalid kernel version \"4.8.1\"", "minKernel with three parts");
  BAD (RULE ("\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": []"),
       "syscalls[0].includes: expected an object", "includes as an array");
  BAD ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86\"], \"archMap\": "
       "[{\"architecture\": \"SCMP_ARCH_X86_64\"}]}",
       "both architectures and archMap", "both architectures and archMap");
  BAD ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_BOGUS\"]}",
       "architectures[0]: unknown architecture \"SCMP_ARCH_BOGUS\"", "an unknown architecture");
  BAD ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"archMap\": [{\"architecture\": \"x86_64\"}]}",
       "archMap[0].architecture: expected an SCMP_ARCH_* name", "an archMap entry without SCMP_ARCH_");
  BAD ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_FLAG_NEW_LISTENER\"]}",
       "flags[0]: unsupported flag", "an unsupported flag");
  BAD ("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/agent.sock\"}",
       "listenerPath: seccomp notification is not supported", "a listener path");

  size_t big = SECCOMP_PROFILE_MAX + 1;
  char *huge = xmalloc (big);
  memset (huge, ' ', big);
  huge[0] = '{', huge[big - 1] = '}';
  check_bad (huge, big, "larger than the limit of 1048576 bytes", "a profile over 1 MiB");
  free (huge);
}

/* A profile of n_rules copies of one rule: n_names times "read", with n_args comparisons of distinct arguments. */
static char *
repeated_profile (size_t n_rules, size_t n_names, size_t n_args)
{
  json_t *rule = json_pack ("{s:[], s:s, s:[]}", "names", "action", "SCMP_ACT_ALLOW", "args");
  for (size_t i = 0; i < n_names; i++)
    json_array_append_new (json_object_get (rule, "names"), json_string ("read"));
  for (size_t i = 0; i < n_args; i++)
    json_array_append_new (json_object_get (rule, "args"), json_pack ("{s:I, s:I, s:s}", "index", (json_int_t)i,
                                                                      "value", (json_int_t)i, "op", "SCMP_CMP_EQ"));
  cleanup_json json_t *profile = json_pack ("{s:s, s:[]}", "defaultAction", "SCMP_ACT_ERRNO", "syscalls");
  for (size_t i = 0; i < n_rules; i++)
    json_array_append_new (json_object_get (profile, "syscalls"), json_deep_copy (rule));
  json_decref (rule);
  return json_dumps (profile, JSON_COMPACT);
}

/* libseccomp's work grows much faster than the profile: the bounds keep a hostile one from stalling a start. */
static void
test_json_bounds (void)
{
  cleanup_free char *ok = repeated_profile (42, 1, 6);
  scmp_filter_ctx f = parse (ok, 0);
  CHECK (f != NULL, "252 argument comparisons are accepted");
  seccomp_profile_release (f);
  cleanup_free char *comparisons = repeated_profile (43, 1, 6);
  BAD (comparisons, "syscalls[42]: more than 256 argument comparisons", "258 argument comparisons");
  cleanup_free char *names = repeated_profile (2, 2049, 0);
  BAD (names, "syscalls[1]: more than 4096 syscall names", "4098 syscall names");
  cleanup_free char *rules = repeated_profile (1025, 1, 0);
  BAD (rules, "syscalls: more than 1024 rules", "1025 rules");
}

/* --- compiled programs and their cache ------------------------------------------------------------------------ */

static size_t
count_entries (const char *dir)
{
  cleanup_dir DIR *d = opendir (dir);
  size_t n = 0;
  for (struct dirent *e; d && (e = readdir (d)) != NULL;)
    n += e->d_name[0] != '.';
  return n;
}

static char *
only_entry (const char *dir)
{
  cleanup_dir DIR *d = opendir (dir);
  for (struct dirent *e; d && (e = readdir (d)) != NULL;)
    if (e->d_name[0] != '.')
      return xasprintf ("%s/%s", dir, e->d_name);
  return NULL;
}

static bool
same_program (const struct seccomp_program *a, const struct seccomp_program *b)
{
  return a && b && a->flags == b->flags && a->len == b->len && memcmp (a->insns, b->insns, a->len * 8) == 0;
}

static void
test_program_cache (void)
{
  cleanup_free char *cache = xasprintf ("%s/cache", root);
  cleanup_json json_t *host = json_object ();
  struct seccomp_program *fresh = NULL, *cached = NULL, *rebuilt = NULL, *other = NULL;
  CHECK (seccomp_program_for_host_config (host, caps_docker_default (), NULL, &fresh, NULL) == 0 && fresh,
         "the default program compiles without a cache");
  CHECK (seccomp_program_for_host_config (host, caps_docker_default (), cache, &cached, NULL) == 0
             && count_entries (cache) == 1,
         "a first use with a cache stores the program");
  seccomp_program_free (cached), cached = NULL;
  CHECK (seccomp_program_for_host_config (host, caps_docker_default (), cache, &cached, NULL) == 0
             && same_program (fresh, cached),
         "the cached program is the compiled one");
  cleanup_free char *file = only_entry (cache);
  cleanup_free char *buf = NULL;
  size_t len = 0;
  (void)read_file_bounded (file, 1 << 22, &buf, &len, NULL);
  /* A cache file whose key is not ours (a collision, another build) is never used: overwrite the key's first byte. */
  if (buf && len > 24)
    {
      buf[24] ^= 1;
      (void)write_file_atomic (file, buf, len, 0600, NULL);
    }
  CHECK (seccomp_program_for_host_config (host, caps_docker_default (), cache, &rebuilt, NULL) == 0
             && same_program (fresh, rebuilt),
         "a cache file with another key is compiled afresh");
  (void)write_file_atomic (file, "ISOLABPF", 8, 0600, NULL);
  seccomp_program_free (rebuilt), rebuilt = NULL;
  CHECK (seccomp_program_for_host_config (host, caps_docker_default (), cache, &rebuilt, NULL) == 0
             && same_program (fresh, rebuilt),
         "and so is a truncated one");
  CHECK (seccomp_program_for_host_config (host, 0, cache, &other, NULL) == 0 && other && !same_program (fresh, other)
             && count_entries (cache) == 2,
         "other capabilities, another program and another cache entry");
  CHECK (probe_program (cached, probe_mount) == EPERM && probe_program (cached, probe_getpid) == 0,
         "a program read from the cache filters");
  seccomp_program_free (fresh), seccomp_program_free (cached), seccomp_program_free (rebuilt);
  seccomp_program_free (other);

  cleanup_json json_t *unconfined = json_pack ("{s:[s]}", "SecurityOpt", "seccomp=unconfined");
  struct seccomp_program *none = (struct seccomp_program *)1;
  CHECK (seccomp_program_for_host_config (unconfined, 0, cache, &none, NULL) == 0 && none == NULL,
         "unconfined: no program");
}

/* --- HostConfig.SecurityOpt ---------------------------------------------------------------------------------- */

/* Builds the filter for a HostConfig given as JSON text; returns the call's result. */
static int
for_host (const char *host_json, scmp_filter_ctx *f, isola_error_t *err)
{
  cleanup_json json_t *host = json_loads (host_json, 0, NULL);
  *f = (scmp_filter_ctx)1; /* must be overwritten on success */
  int ret = seccomp_profile_for_host_config (host, caps_docker_default (), f, err);
  if (ret < 0)
    *f = NULL;
  return ret;
}

static void
check_host (const char *host_json, bool want_filter, const char *what)
{
  scmp_filter_ctx f = NULL;
  cleanup_error isola_error_t err = NULL;
  int ret = for_host (host_json, &f, &err);
  CHECK (ret == 0 && (f != NULL) == want_filter, "%s (%s)", what, err ? err->msg : "ok");
  seccomp_profile_release (f);
}

static void
check_host_bad (const char *host_json, const char *want, const char *what)
{
  scmp_filter_ctx f = NULL;
  cleanup_error isola_error_t err = NULL;
  int ret = for_host (host_json, &f, &err);
  CHECK (ret < 0 && f == NULL && err && strstr (err->msg, want), "%s (%s)", what, err ? err->msg : "accepted");
}

static void
test_host_config (void)
{
  check_host ("{}", true, "no SecurityOpt: the default profile");
  check_host ("{\"SecurityOpt\": [\"no-new-privileges\", \"label=disable\"]}", true,
              "other security options leave the default profile");
  check_host ("{\"SecurityOpt\": [\"seccomp=unconfined\"]}", false, "seccomp=unconfined: no filter");
  check_host ("{\"SecurityOpt\": [\"seccomp:unconfined\"]}", false, "seccomp:unconfined: no filter");
  check_host ("{\"SecurityOpt\": [\"seccomp=builtin\"]}", true, "seccomp=builtin: the default profile");
  check_host ("{\"SecurityOpt\": [\"seccomp=unconfined\", \"seccomp=builtin\"]}", true, "the last option wins");
  check_host ("{\"Privileged\": true}", false, "a privileged container runs unconfined");

  cleanup_free char *path = xasprintf ("%s/deny-mkdir.json", root);
  (void)write_file_atomic (path, deny_mkdir, strlen (deny_mkdir), 0644, NULL);
  cleanup_free char *by_path = xasprintf ("{\"SecurityOpt\": [\"seccomp=%s\"]}", path);
  scmp_filter_ctx f = NULL;
  cleanup_error isola_error_t err = NULL;
  CHECK (for_host (by_path, &f, &err) == 0 && f && probe (f, probe_mkdir) == EACCES,
         "seccomp=/path loads the profile from the file (%s)", err ? err->msg : "ok");
  f = seccomp_profile_release (f);
  cleanup_free char *priv = xasprintf ("{\"Privileged\": true, \"SecurityOpt\": [\"seccomp=%s\"]}", path);
  check_host (priv, true, "a privileged container with a profile of its own gets it, as in Docker");

  cleanup_json json_t *inline_host = json_pack ("{s:[s]}", "SecurityOpt", "seccomp= ");
  cleanup_free char *opt = xasprintf ("seccomp=%s", deny_mkdir);
  json_array_set_new (json_object_get (inline_host, "SecurityOpt"), 0, json_string (opt));
  CHECK (seccomp_profile_for_host_config (inline_host, 0, &f, NULL) == 0 && f && probe (f, probe_mkdir) == EACCES,
         "seccomp={...} is an inline profile, as the docker CLI sends it");
  f = seccomp_profile_release (f);

  check_host_bad ("{\"SecurityOpt\": [\"seccomp=profile.json\"]}", "expected unconfined, builtin",
                  "a relative path is refused");
  check_host_bad ("{\"SecurityOpt\": [\"seccomp=/nonexistent/profile.json\"]}",
                  "seccomp profile `/nonexistent/profile.json`: open", "a missing file is refused");
  cleanup_free char *bad_path = xasprintf ("%s/bad.json", root);
  static const char bad[] = "{\"defaultAction\": \"SCMP_ACT_NO\"}";
  (void)write_file_atomic (bad_path, bad, strlen (bad), 0644, NULL);
  cleanup_free char *bad_host = xasprintf ("{\"SecurityOpt\": [\"seccomp=%s\"]}", bad_path);
  cleanup_free char *want = xasprintf ("seccomp profile `%s`: defaultAction: unknown action", bad_path);
  check_host_bad (bad_host, want, "a bad profile file names the file and the field");
  cleanup_free char *big_path = xasprintf ("%s/big.json", root);
  size_t big = SECCOMP_PROFILE_MAX + 1;
  char *huge = xmalloc (big);
  memset (huge, ' ', big);
  (void)write_file_atomic (big_path, huge, big, 0644, NULL);
  free (huge);
  cleanup_free char *big_host = xasprintf ("{\"SecurityOpt\": [\"seccomp=%s\"]}", big_path);
  check_host_bad (big_host, "larger than the limit", "a profile file over 1 MiB is refused");
}

/* --- in a container ------------------------------------------------------------------------------------------ */

static struct isola_store *store;
static digest_hex_t chain;
static int n_containers;

/* A one-layer image: a static busybox with an sh link; numeric users need no passwd. */
static int
make_image (void)
{
  memset (chain, 'b', 64), chain[64] = '\0';
  cleanup_free char *fs = snapshot_fs (store, chain);
  cleanup_free char *bin = xasprintf ("%s/bin", fs), *tmp = xasprintf ("%s/tmp", fs);
  if (mkdir_p (bin, 0755, NULL) < 0 || mkdir_p (tmp, 01777, NULL) < 0 || chmod (tmp, 01777) < 0)
    return -1;
  cleanup_free char *busybox = NULL;
  size_t len = 0;
  if (read_file_bounded ("/bin/busybox", 64 << 20, &busybox, &len, NULL) < 0)
    return -1;
  cleanup_free char *dst = xasprintf ("%s/busybox", bin), *sh = xasprintf ("%s/sh", bin);
  if (write_file_atomic (dst, busybox, len, 0755, NULL) < 0 || symlink ("busybox", sh) < 0)
    return -1;
  return 0;
}

/* Runs sh -c script in a fresh container; returns its output (NULL when spawning failed, with *err set). */
static char *
run_script (const char *script, scmp_filter_ctx filter, const char *user, bool nnp, uint64_t caps, isola_error_t *err)
{
  int n = ++n_containers;
  cleanup_free char *upper = xasprintf ("%s/c%d/upper", root, n), *work = xasprintf ("%s/c%d/work", root, n);
  cleanup_free char *rootfs = xasprintf ("%s/c%d/rootfs", root, n);
  mkdir_p (upper, 0755, NULL), mkdir_p (work, 0755, NULL), mkdir_p (rootfs, 0755, NULL);
  static char *const env[] = { "PATH=/bin", NULL };
  char *argv[] = { "sh", "-c", (char *)script, NULL };
  struct seccomp_program *prog = NULL;
  if (filter && seccomp_compile (filter, &prog, err) < 0)
    return NULL;
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    {
      seccomp_program_free (prog);
      return NULL;
    }
  struct spawn_spec sp = {
    .store = store,
    .chain_ids = &chain,
    .n_layers = 1,
    .upper = upper,
    .work = work,
    .rootfs = rootfs,
    .argv = argv,
    .env = env,
    .user = user,
    .hostname = "seccomp",
    .cap_keep = caps,
    .no_new_privileges = nnp,
    .stdin_fd = -1,
    .stdout_fd = p[1],
    .stderr_fd = p[1],
    .seccomp = prog,
  };
  pid_t pid = 0;
  int ret = spawn_container (&sp, &pid, err);
  close (p[1]);
  char *out = NULL;
  if (ret == 0)
    {
      (void)read_fd_bounded (p[0], 1 << 20, &out, NULL, NULL);
      (void)waitpid (pid, NULL, 0);
    }
  close (p[0]);
  seccomp_program_free (prog);
  return out;
}

/* errnoRet 122 (EDQUOT) cannot come from anything but the filter, whoever runs mkdir and wherever. */
static const char deny_mkdir_edquot[]
    = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": "
      "\"SCMP_ACT_ERRNO\", \"errnoRet\": 122}]}";

static void
check_container (scmp_filter_ctx f, const char *user, bool nnp, const char *what)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_free char *out
      = run_script ("busybox mkdir /tmp/d; echo rc=$?; busybox id -u", f, user, nnp, caps_docker_default (), &err);
  if (err)
    printf ("# spawn: %s\n", err->msg);
  CHECK (out && strstr (out, "Disk quota exceeded") && strstr (out, "rc=1"), "%s: the filter applies", what);
  CHECK (out && strstr (out, user[0] == '0' ? "\n0\n" : "\n65534\n"), "%s: and the command runs as %s", what, user);
  if (out && !strstr (out, "rc=1"))
    printf ("# output: %s\n", out);
}

static void
test_in_container (void)
{
  if (access ("/bin/busybox", X_OK) < 0 || store_open (root, STORE_LOCK_EXCLUSIVE, &store, NULL) < 0
      || make_image () < 0)
    {
      printf ("ok %d # skip no busybox image for containers\n", ++tap_count);
      return;
    }
  scmp_filter_ctx f = parse (deny_mkdir_edquot, caps_docker_default ());
  check_container (f, "0", false, "root without no_new_privileges (loaded before dropping capabilities)");
  check_container (f, "65534:65534", false, "a non-root user without no_new_privileges");
  check_container (f, "65534:65534", true, "a non-root user with no_new_privileges (loaded last)");
  f = seccomp_profile_release (f);

  /* The default profile, even for a container that holds CAP_SYS_ADMIN, when the profile was built without it. */
  uint64_t caps = caps_docker_default () | CAP (CAP_SYS_ADMIN);
  (void)seccomp_profile_default (caps_docker_default (), &f, NULL);
  cleanup_error isola_error_t err = NULL;
  cleanup_free char *out = run_script ("busybox unshare -m true; echo rc=$?", f, "0", false, caps, &err);
  CHECK (out && strstr (out, "Operation not permitted") && strstr (out, "rc=1"),
         "the default profile refuses unshare -m in the container");
  f = seccomp_profile_release (f);
  (void)seccomp_profile_default (caps, &f, NULL);
  free (out);
  out = run_script ("busybox unshare -m true; echo rc=$?", f, "0", false, caps, &err);
  CHECK (out && strstr (out, "rc=0"), "and allows it when built for CAP_SYS_ADMIN");
  f = seccomp_profile_release (f);
  store_close (store);
}

int
main (void)
{
  if (geteuid () != 0)
    {
      printf ("ok 1 # skip loading seccomp filters in these tests needs root\n1..1\n");
      return 0;
    }
  alarm (600); /* a hung filter must not hang the test suite (minutes: the machine may be loaded) */
  if (mkdtemp (root) == NULL)
    return 1;
  test_default_profile ();
  test_install_needs_privilege ();
  test_json_basics ();
  test_json_conditions ();
  test_json_args ();
  test_json_malformed ();
  test_json_bounds ();
  test_host_config ();
  test_program_cache ();
  test_in_container ();
  CHECK (rm_rf (root, NULL) == 0, "temp directory removed");
  return tap_done ();
}

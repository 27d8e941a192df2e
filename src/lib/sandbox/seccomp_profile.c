/* Seccomp profiles, the way Docker and runc build them: a Docker-format profile (Docker's default, compiled in
   below as C tables, or a JSON one) is filtered by the container's capabilities, the host's kernel version and
   our architecture, then handed rule by rule to libseccomp.  The JSON comes from users and is untrusted: its size
   is bounded, every field the profile format defines is checked, and errors name the field.  Keys the format does
   not define are ignored, as Docker's decoder ignores them. */
#define _GNU_SOURCE
#include "sandbox/seccomp_profile.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "sandbox/caps.h"

/* The name Docker's profiles use for the architecture we run on, in includes/excludes "arches" (Go's names). */
#if defined(__x86_64__)
#define NATIVE_ARCH "amd64"
#elif defined(__i386__)
#define NATIVE_ARCH "x86"
#elif defined(__aarch64__)
#define NATIVE_ARCH "arm64"
#elif defined(__arm__)
#define NATIVE_ARCH "arm"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_ARCH "ppc64le"
#elif defined(__s390x__)
#define NATIVE_ARCH "s390x"
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH "riscv64"
#else
#define NATIVE_ARCH "unknown"
#endif

/* A rule may compare several arguments: at most one comparison per argument when they all must hold, and any
   number when an argument repeats (then each comparison is a rule of its own, as runc does). */
#define RULE_ARGS_MAX 16
#define SYSCALL_ARGS  6

/* Bounds on what a JSON profile may ask of libseccomp, whose filter generation grows much faster than linearly in
   argument comparisons on one syscall.  Docker's default profile has 35 rules, about 470 names and 9 comparisons;
   at these bounds a filter is still generated in well under a second. */
#define PROFILE_RULES_MAX       1024
#define PROFILE_NAMES_MAX       4096
#define PROFILE_COMPARISONS_MAX 256

#define KVER(major, minor) ((unsigned)(major) << 8 | (unsigned)(minor))
#define CAP(c)             (UINT64_C (1) << (c))

static void
cleanup_filterp (scmp_filter_ctx *f)
{
  (void)seccomp_profile_release (*f);
}
#define cleanup_filter __attribute__ ((cleanup (cleanup_filterp)))

/* --- one rule, from either kind of profile ------------------------------------------------------------------- */

/* A rule's includes or excludes condition. */
struct rule_when
{
  uint64_t caps;       /* includes: the container needs all of them; excludes: any of them is enough */
  bool arch_listed;    /* an "arches" list was given ... */
  bool arch_matches;   /* ... and it names ours */
  unsigned min_kernel; /* KVER; 0 when none */
};

struct rule
{
  uint32_t action;
  size_t n_args;
  struct scmp_arg_cmp args[RULE_ARGS_MAX];
  bool args_each; /* an argument index repeats: one libseccomp rule per comparison */
  struct rule_when includes, excludes;
};

/* What Docker decides rules on: the container's bounding set and the host's kernel. */
struct rule_host
{
  uint64_t caps;
  unsigned kernel; /* KVER; 0 when unknown */
};

static unsigned
host_kernel (void)
{
  struct utsname u;
  if (uname (&u) < 0)
    return 0;
  char *end;
  unsigned long major = strtoul (u.release, &end, 10), minor = 0;
  if (*end != '.' || (minor = strtoul (end + 1, &end, 10), major > 255 || minor > 255))
    return 0;
  return KVER (major, minor);
}

/* Docker's setupSeccomp: an excludes match drops the rule, and so does an includes condition that fails. */
static bool
rule_applies (const struct rule *r, const struct rule_host *h)
{
  const struct rule_when *ex = &r->excludes, *in = &r->includes;
  if ((ex->arch_listed && ex->arch_matches) || (h->caps & ex->caps) != 0
      || (ex->min_kernel && h->kernel >= ex->min_kernel))
    return false;
  if ((in->arch_listed && !in->arch_matches) || (h->caps & in->caps) != in->caps
      || (in->min_kernel && h->kernel < in->min_kernel))
    return false;
  return true;
}

/* A name this libseccomp does not know is a syscall this build cannot filter by name: skipped, as runc does. */
static int
rule_add_syscall (scmp_filter_ctx ctx, const struct rule *r, const char *name, isola_error_t *err)
{
  int nr = seccomp_syscall_resolve_name (name);
  if (nr == __NR_SCMP_ERROR)
    return 0;
  int ret = 0;
  if (!r->args_each)
    ret = seccomp_rule_add_array (ctx, r->action, nr, (unsigned)r->n_args, r->args);
  for (size_t i = 0; r->args_each && ret == 0 && i < r->n_args; i++)
    ret = seccomp_rule_add_array (ctx, r->action, nr, 1, &r->args[i]);
  if (ret < 0)
    return isola_error_make (err, -ret, "add the seccomp rule for `%s`", name);
  return 0;
}

/* A filter with our attributes: isola decides no_new_privs itself (libseccomp would set it at load), and
   libseccomp passes the kernel's errno through instead of a generic ECANCELED, for messages that explain. */
static int
filter_new (uint32_t default_action, scmp_filter_ctx *out, isola_error_t *err)
{
  cleanup_filter scmp_filter_ctx ctx = seccomp_init (default_action);
  if (ctx == NULL)
    return isola_error_fail (err, ENOMEM, "create the seccomp filter");
  int ret = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (ret == 0)
    ret = seccomp_attr_set (ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
  if (ret < 0)
    return isola_error_make (err, -ret, "set the seccomp filter's attributes");
  *out = take_ptr (&ctx);
  return 0;
}

/* name is for the message; NULL when the architecture comes from our own tables. */
static int
filter_add_arch (scmp_filter_ctx ctx, uint32_t arch, const char *name, isola_error_t *err)
{
  int ret = seccomp_arch_add (ctx, arch);
  if (ret < 0 && ret != -EEXIST && name)
    return isola_error_make (err, -ret, "add architecture %s to the seccomp filter", name);
  if (ret < 0 && ret != -EEXIST)
    return isola_error_make (err, -ret, "add architecture 0x%08x to the seccomp filter", (unsigned)arch);
  return 0;
}

/* --- Docker's default profile ------------------------------------------------------------------------------ */

/* moby/profiles seccomp v0.2.3 (default.json), as C tables.  Its archMap: the native architecture and the ones
   its processes can also call the kernel as. */
static const struct arch_map
{
  uint32_t arch;
  uint32_t subs[2];
} default_arch_map[] = {
  { SCMP_ARCH_X86_64, { SCMP_ARCH_X86, SCMP_ARCH_X32 } },
  { SCMP_ARCH_AARCH64, { SCMP_ARCH_ARM } },
  { SCMP_ARCH_MIPS64, { SCMP_ARCH_MIPS, SCMP_ARCH_MIPS64N32 } },
  { SCMP_ARCH_MIPS64N32, { SCMP_ARCH_MIPS, SCMP_ARCH_MIPS64 } },
  { SCMP_ARCH_MIPSEL64, { SCMP_ARCH_MIPSEL, SCMP_ARCH_MIPSEL64N32 } },
  { SCMP_ARCH_MIPSEL64N32, { SCMP_ARCH_MIPSEL, SCMP_ARCH_MIPSEL64 } },
  { SCMP_ARCH_S390X, { SCMP_ARCH_S390 } },
};

/* Allowed for every container. */
static const char default_allowed[]
    = "accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32 "
      "clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 "
      "clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 "
      "epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old "
      "eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate "
      "fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync "
      "fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync "
      "ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat "
      "getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups "
      "getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid "
      "getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt "
      "get_thread_area gettid gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch inotify_init "
      "inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents "
      "io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule "
      "landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listmount "
      "listxattr listxattrat llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise "
      "map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 "
      "mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 "
      "mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock "
      "munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open "
      "pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 "
      "preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read "
      "readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages "
      "removexattr removexattrat rename renameat renameat2 restart_syscall riscv_hwprobe rmdir rseq "
      "rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait "
      "rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam "
      "sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval "
      "sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler "
      "sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 "
      "sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 "
      "setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid "
      "setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 "
      "setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask "
      "sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statmount statx symlink symlinkat "
      "sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun "
      "timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime "
      "timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask "
      "uname unlink unlinkat uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid "
      "waitpid write writev";

/* clone(2)'s namespace flags: CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET. */
#define CLONE_NS_FLAGS 0x7E020000

/* One entry of the default profile.  Lists are space-separated: syscall names, and Go's architecture names as in
   includes/excludes. */
struct default_rule
{
  const char *names;
  uint32_t action;
  struct scmp_arg_cmp arg; /* op 0: no comparison */
  uint64_t caps_in, caps_out;
  const char *arches_in, *arches_out;
  unsigned min_kernel;
};

#define ALLOW SCMP_ACT_ALLOW
#define A0(cmp, v)                                                                                                     \
  {                                                                                                                    \
    .arg = 0, .op = SCMP_CMP_##cmp, .datum_a = (v)                                                                     \
  }
#define A1(cmp, v)                                                                                                     \
  {                                                                                                                    \
    .arg = 1, .op = SCMP_CMP_##cmp, .datum_a = (v)                                                                     \
  }

static const struct default_rule default_rules[] = {
  { .names = default_allowed, .action = ALLOW },
  /* Before 4.8, seccomp could be bypassed with ptrace. */
  { .names = "process_vm_readv process_vm_writev ptrace", .action = ALLOW, .min_kernel = KVER (4, 8) },
  /* Every socket family but AF_ALG (38) and AF_VSOCK (40). */
  { .names = "socket", .action = ALLOW, .arg = A0 (LT, 38) },
  { .names = "socket", .action = ALLOW, .arg = A0 (EQ, 39) },
  { .names = "socket", .action = ALLOW, .arg = A0 (GT, 40) },
  /* personality: PER_LINUX, PER_LINUX32, UNAME26 variants, and 0xffffffff (which only queries). */
  { .names = "personality", .action = ALLOW, .arg = A0 (EQ, 0x0) },
  { .names = "personality", .action = ALLOW, .arg = A0 (EQ, 0x8) },
  { .names = "personality", .action = ALLOW, .arg = A0 (EQ, 0x20000) },
  { .names = "personality", .action = ALLOW, .arg = A0 (EQ, 0x20008) },
  { .names = "personality", .action = ALLOW, .arg = A0 (EQ, 0xffffffff) },
  { .names = "sync_file_range2 swapcontext", .action = ALLOW, .arches_in = "ppc64le" },
  { .names = "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
    .action = ALLOW,
    .arches_in = "arm arm64" },
  { .names = "arch_prctl", .action = ALLOW, .arches_in = "amd64 x32" },
  { .names = "modify_ldt", .action = ALLOW, .arches_in = "amd64 x32 x86" },
  { .names = "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr", .action = ALLOW, .arches_in = "s390 s390x" },
  { .names = "riscv_flush_icache", .action = ALLOW, .arches_in = "riscv64" },
  { .names = "open_by_handle_at", .action = ALLOW, .caps_in = CAP (CAP_DAC_READ_SEARCH) },
  { .names = "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie lsm_get_self_attr "
             "lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount open_tree perf_event_open quotactl "
             "quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare",
    .action = ALLOW,
    .caps_in = CAP (CAP_SYS_ADMIN) },
  /* Without CAP_SYS_ADMIN, clone only without namespace flags (s390 passes flags second); clone3's flags are in
     memory that seccomp cannot read, so it fails with ENOSYS and glibc falls back to clone. */
  { .names = "clone",
    .action = ALLOW,
    .arg = A0 (MASKED_EQ, CLONE_NS_FLAGS),
    .caps_out = CAP (CAP_SYS_ADMIN),
    .arches_out = "s390 s390x" },
  { .names = "clone",
    .action = ALLOW,
    .arg = A1 (MASKED_EQ, CLONE_NS_FLAGS),
    .caps_out = CAP (CAP_SYS_ADMIN),
    .arches_in = "s390 s390x" },
  { .names = "clone3", .action = SCMP_ACT_ERRNO (ENOSYS), .caps_out = CAP (CAP_SYS_ADMIN) },
  { .names = "reboot", .action = ALLOW, .caps_in = CAP (CAP_SYS_BOOT) },
  { .names = "chroot", .action = ALLOW, .caps_in = CAP (CAP_SYS_CHROOT) },
  { .names = "delete_module init_module finit_module", .action = ALLOW, .caps_in = CAP (CAP_SYS_MODULE) },
  { .names = "acct", .action = ALLOW, .caps_in = CAP (CAP_SYS_PACCT) },
  { .names = "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
    .action = ALLOW,
    .caps_in = CAP (CAP_SYS_PTRACE) },
  { .names = "iopl ioperm", .action = ALLOW, .caps_in = CAP (CAP_SYS_RAWIO) },
  { .names = "settimeofday stime clock_settime clock_settime64", .action = ALLOW, .caps_in = CAP (CAP_SYS_TIME) },
  { .names = "vhangup", .action = ALLOW, .caps_in = CAP (CAP_SYS_TTY_CONFIG) },
  { .names = "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
    .action = ALLOW,
    .caps_in = CAP (CAP_SYS_NICE) },
  { .names = "syslog", .action = ALLOW, .caps_in = CAP (CAP_SYSLOG) },
  { .names = "bpf", .action = ALLOW, .caps_in = CAP (CAP_BPF) },
  { .names = "perf_event_open", .action = ALLOW, .caps_in = CAP (CAP_PERFMON) },
};

/* Whether a space-separated list names word. */
static bool
word_listed (const char *list, const char *word)
{
  size_t n = strlen (word);
  for (const char *p = list; p && *p; p += strcspn (p, " "), p += strspn (p, " "))
    if (strncmp (p, word, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
      return true;
  return false;
}

static struct rule_when
default_when (uint64_t caps, const char *arches, unsigned min_kernel)
{
  return (struct rule_when){
    .caps = caps,
    .arch_listed = arches != NULL,
    .arch_matches = word_listed (arches, NATIVE_ARCH),
    .min_kernel = min_kernel,
  };
}

static void
default_rule_get (const struct default_rule *d, struct rule *r)
{
  *r = (struct rule){
    .action = d->action,
    .includes = default_when (d->caps_in, d->arches_in, d->min_kernel),
    .excludes = default_when (d->caps_out, d->arches_out, 0),
  };
  if (d->arg.op != 0)
    r->args[r->n_args++] = d->arg;
}

static int
default_add_arches (scmp_filter_ctx ctx, isola_error_t *err)
{
  uint32_t native = seccomp_arch_native ();
  for (size_t i = 0; i < ARRAY_SIZE (default_arch_map); i++)
    {
      if (default_arch_map[i].arch != native)
        continue;
      for (size_t j = 0; j < ARRAY_SIZE (default_arch_map[i].subs); j++)
        {
          uint32_t sub = default_arch_map[i].subs[j];
          int ret = sub ? filter_add_arch (ctx, sub, NULL, err) : 0;
          if (ret < 0)
            return ret;
        }
    }
  return 0;
}

static int
default_rule_add (scmp_filter_ctx ctx, const struct default_rule *d, const struct rule_host *host, isola_error_t *err)
{
  struct rule r;
  default_rule_get (d, &r);
  if (!rule_applies (&r, host))
    return 0;
  for (const char *p = d->names; *p;)
    {
      size_t n = strcspn (p, " ");
      char name[64];
      snprintf (name, sizeof name, "%.*s", (int)n, p);
      int ret = rule_add_syscall (ctx, &r, name, err);
      if (ret < 0)
        return ret;
      p += n;
      p += strspn (p, " ");
    }
  return 0;
}

int
seccomp_profile_default (uint64_t caps, scmp_filter_ctx *out, isola_error_t *err)
{
  const struct rule_host host = { .caps = caps, .kernel = host_kernel () };
  cleanup_filter scmp_filter_ctx ctx = NULL;
  int ret = filter_new (SCMP_ACT_ERRNO (EPERM), &ctx, err);
  if (ret == 0)
    ret = default_add_arches (ctx, err);
  for (size_t i = 0; ret == 0 && i < ARRAY_SIZE (default_rules); i++)
    ret = default_rule_add (ctx, &default_rules[i], &host, err);
  if (ret < 0)
    return isola_error_wrap (err, ret, "default seccomp profile");
  *out = take_ptr (&ctx);
  return 0;
}

/* --- JSON profiles: reading fields ----------------------------------------------------------------------------- */

/* Error locations read "syscalls[3].args[0].op"; where is the enclosing object's ("" at the top). */
#define WHERE_MAX 64

static const char *
dot (const char *where)
{
  return where[0] ? "." : "";
}

/* A member that is absent or null: Go's decoder treats both as the zero value. */
static json_t *
member (json_t *obj, const char *key)
{
  json_t *v = json_object_get (obj, key);
  return json_is_null (v) ? NULL : v;
}

static int
get_uint (json_t *obj, const char *where, const char *key, uint64_t max, uint64_t *out, isola_error_t *err)
{
  json_t *v = member (obj, key);
  if (v == NULL)
    return 0;
  if (!json_is_integer (v) || json_integer_value (v) < 0)
    return isola_error_fail (err, EINVAL, "%s%s%s: expected a non-negative integer", where, dot (where), key);
  uint64_t u = (uint64_t)json_integer_value (v);
  if (u > max)
    return isola_error_fail (err, EINVAL, "%s%s%s: %" PRIu64 " is out of range (0-%" PRIu64 ")", where, dot (where),
                             key, u, max);
  *out = u;
  return 0;
}

static int
get_string (json_t *obj, const char *where, const char *key, const char **out, isola_error_t *err)
{
  json_t *v = member (obj, key);
  if (v != NULL && !json_is_string (v))
    return isola_error_fail (err, EINVAL, "%s%s%s: expected a string", where, dot (where), key);
  *out = json_string_value (v);
  return 0;
}

/* An array member; absent, null and [] all come back as NULL. */
static int
get_array (json_t *obj, const char *where, const char *key, json_t **out, isola_error_t *err)
{
  json_t *v = member (obj, key);
  if (v != NULL && !json_is_array (v))
    return isola_error_fail (err, EINVAL, "%s%s%s: expected an array", where, dot (where), key);
  *out = json_array_size (v) ? v : NULL;
  return 0;
}

/* The string at index i of an array member, for lists of names. */
static int
get_item_string (json_t *list, const char *where, const char *key, size_t i, const char **out, isola_error_t *err)
{
  const char *s = json_string_value (json_array_get (list, i));
  if (s == NULL || s[0] == '\0')
    return isola_error_fail (err, EINVAL, "%s%s%s[%zu]: expected a non-empty string", where, dot (where), key, i);
  *out = s;
  return 0;
}

/* --- JSON profiles: actions and argument comparisons ------------------------------------------------------------ */

static const struct action_name
{
  const char *name;
  uint32_t action;
  uint32_t data_max; /* largest errnoRet libseccomp takes with it; 0 when it takes none */
} action_names[] = {
  { "SCMP_ACT_KILL", SCMP_ACT_KILL, 0 },
  { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, 0 },
  { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, 0 },
  { "SCMP_ACT_TRAP", SCMP_ACT_TRAP, 0 },
  { "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO (0), 4094 },
  { "SCMP_ACT_TRACE", SCMP_ACT_TRACE (0), 65535 },
  { "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, 0 },
  { "SCMP_ACT_LOG", SCMP_ACT_LOG, 0 },
};

/* An action and its errno (or tracer message), defaulting to EPERM as runc does. */
static int
get_action (json_t *obj, const char *where, const char *key, const char *errno_key, uint32_t *out, isola_error_t *err)
{
  const char *name = NULL;
  int ret = get_string (obj, where, key, &name, err);
  if (ret < 0)
    return ret;
  if (name == NULL)
    return isola_error_fail (err, EINVAL, "%s%s%s: missing", where, dot (where), key);
  if (strcmp (name, "SCMP_ACT_NOTIFY") == 0)
    return isola_error_fail (err, ENOTSUP, "%s%s%s: SCMP_ACT_NOTIFY is not supported", where, dot (where), key);
  const struct action_name *a = NULL;
  for (size_t i = 0; a == NULL && i < ARRAY_SIZE (action_names); i++)
    if (strcmp (name, action_names[i].name) == 0)
      a = &action_names[i];
  if (a == NULL)
    return isola_error_fail (err, EINVAL, "%s%s%s: unknown action \"%s\"", where, dot (where), key, name);
  if (a->data_max == 0 && member (obj, errno_key) != NULL)
    return isola_error_fail (err, EINVAL, "%s%s%s: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one", where, dot (where),
                             errno_key);
  uint64_t data = EPERM;
  if ((ret = get_uint (obj, where, errno_key, a->data_max, &data, err)) < 0)
    return ret;
  *out = a->action | (a->data_max ? (uint32_t)data : 0);
  return 0;
}

static const struct op_name
{
  const char *name;
  enum scmp_compare op;
} op_names[] = {
  { "SCMP_CMP_NE", SCMP_CMP_NE },
  { "SCMP_CMP_LT", SCMP_CMP_LT },
  { "SCMP_CMP_LE", SCMP_CMP_LE },
  { "SCMP_CMP_EQ", SCMP_CMP_EQ },
  { "SCMP_CMP_GE", SCMP_CMP_GE },
  { "SCMP_CMP_GT", SCMP_CMP_GT },
  { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

/* {index, value, valueTwo, op}; for SCMP_CMP_MASKED_EQ value is the mask and valueTwo what the masked argument
   must equal, as libseccomp and runc read them. */
static int
get_arg (json_t *a, const char *where, struct scmp_arg_cmp *out, isola_error_t *err)
{
  if (!json_is_object (a))
    return isola_error_fail (err, EINVAL, "%s: expected an object", where);
  uint64_t index = 0, value = 0, value_two = 0;
  const char *op = NULL;
  int ret = get_uint (a, where, "index", SYSCALL_ARGS - 1, &index, err);
  if (ret == 0)
    ret = get_uint (a, where, "value", UINT64_MAX, &value, err);
  if (ret == 0)
    ret = get_uint (a, where, "valueTwo", UINT64_MAX, &value_two, err);
  if (ret == 0)
    ret = get_string (a, where, "op", &op, err);
  if (ret < 0)
    return ret;
  if (op == NULL)
    return isola_error_fail (err, EINVAL, "%s.op: missing", where);
  for (size_t i = 0; i < ARRAY_SIZE (op_names); i++)
    if (strcmp (op, op_names[i].name) == 0)
      {
        *out = (struct scmp_arg_cmp){
          .arg = (unsigned)index, .op = op_names[i].op, .datum_a = value, .datum_b = value_two
        };
        return 0;
      }
  return isola_error_fail (err, EINVAL, "%s.op: unknown operator \"%s\"", where, op);
}

static int
get_args (json_t *sc, const char *where, struct rule *r, isola_error_t *err)
{
  json_t *args = NULL;
  int ret = get_array (sc, where, "args", &args, err);
  if (ret < 0)
    return ret;
  if (json_array_size (args) > RULE_ARGS_MAX)
    return isola_error_fail (err, EINVAL, "%s.args: more than %d comparisons", where, RULE_ARGS_MAX);
  unsigned seen = 0;
  for (size_t i = 0; i < json_array_size (args); i++)
    {
      char at[WHERE_MAX + 32];
      snprintf (at, sizeof at, "%s.args[%zu]", where, i);
      struct scmp_arg_cmp *c = &r->args[r->n_args];
      if ((ret = get_arg (json_array_get (args, i), at, c, err)) < 0)
        return ret;
      r->args_each |= (seen & (1u << c->arg)) != 0;
      seen |= 1u << c->arg;
      r->n_args++;
    }
  return 0;
}

/* --- JSON profiles: includes and excludes ------------------------------------------------------------------------ */

static int
get_caps (json_t *when, const char *where, uint64_t *out, isola_error_t *err)
{
  json_t *list = NULL;
  int ret = get_array (when, where, "caps", &list, err);
  for (size_t i = 0; ret == 0 && i < json_array_size (list); i++)
    {
      const char *name = NULL;
      if ((ret = get_item_string (list, where, "caps", i, &name, err)) < 0)
        break;
      int cap = cap_from_name (name);
      if (cap < 0)
        return isola_error_fail (err, EINVAL, "%s.caps[%zu]: unknown capability \"%s\"", where, i, name);
      *out |= CAP (cap);
    }
  return ret;
}

static int
get_arches (json_t *when, const char *where, struct rule_when *out, isola_error_t *err)
{
  json_t *list = NULL;
  int ret = get_array (when, where, "arches", &list, err);
  out->arch_listed = list != NULL;
  for (size_t i = 0; ret == 0 && i < json_array_size (list); i++)
    {
      const char *name = NULL;
      if ((ret = get_item_string (list, where, "arches", i, &name, err)) == 0)
        out->arch_matches |= strcmp (name, NATIVE_ARCH) == 0;
    }
  return ret;
}

/* "<kernel>.<major>", each 0-255 and not both 0, as Docker reads it; "" means none. */
static int
parse_kernel_version (const char *s, unsigned *out)
{
  unsigned part[2] = { 0, 0 };
  const char *p = s;
  for (int i = 0; i < 2; i++)
    {
      size_t n = strspn (p, "0123456789");
      if (n == 0 || n > 3)
        return -1;
      for (size_t j = 0; j < n; j++)
        part[i] = part[i] * 10 + (unsigned)(p[j] - '0');
      p += n;
      if (part[i] > 255 || *p != (i == 0 ? '.' : '\0'))
        return -1;
      p++;
    }
  if (part[0] == 0 && part[1] == 0)
    return -1;
  *out = KVER (part[0], part[1]);
  return 0;
}

static int
get_min_kernel (json_t *when, const char *where, unsigned *out, isola_error_t *err)
{
  const char *s = NULL;
  int ret = get_string (when, where, "minKernel", &s, err);
  if (ret < 0 || s == NULL || s[0] == '\0')
    return ret;
  if (parse_kernel_version (s, out) < 0)
    return isola_error_fail (err, EINVAL, "%s.minKernel: invalid kernel version \"%s\", expected \"<kernel>.<major>\"",
                             where, s);
  return 0;
}

static int
get_when (json_t *sc, const char *where, const char *key, struct rule_when *out, isola_error_t *err)
{
  json_t *when = member (sc, key);
  if (when == NULL)
    return 0;
  char at[WHERE_MAX + 32];
  snprintf (at, sizeof at, "%s.%s", where, key);
  if (!json_is_object (when))
    return isola_error_fail (err, EINVAL, "%s: expected an object", at);
  int ret = get_caps (when, at, &out->caps, err);
  if (ret == 0)
    ret = get_arches (when, at, out, err);
  if (ret == 0)
    ret = get_min_kernel (when, at, &out->min_kernel, err);
  return ret;
}

/* --- JSON profiles: syscall rules ------------------------------------------------------------------------------ */

/* A range comparison (NE, LT, LE, GT, GE) of a rule with several comparisons, as added for a syscall. */
struct shared_cmp
{
  int nr;
  struct scmp_arg_cmp cmp;
};

struct profile
{
  scmp_filter_ctx ctx;
  uint32_t default_action;
  struct rule_host host;
  size_t n_names, n_comparisons; /* so far, for the bounds */
  struct shared_cmp ranges[PROFILE_COMPARISONS_MAX];
  size_t n_ranges;
};

/* Counts a rule's names and comparisons (each name gets its own copy of the comparisons) against the bounds. */
static int
profile_count (struct profile *p, const char *where, size_t n_names, size_t n_args, isola_error_t *err)
{
  p->n_names += n_names;
  p->n_comparisons += n_names * n_args;
  if (p->n_names > PROFILE_NAMES_MAX)
    return isola_error_fail (err, E2BIG, "%s: more than %d syscall names in the profile", where, PROFILE_NAMES_MAX);
  if (p->n_comparisons > PROFILE_COMPARISONS_MAX)
    return isola_error_fail (err, E2BIG, "%s: more than %d argument comparisons (per syscall name) in the profile",
                             where, PROFILE_COMPARISONS_MAX);
  return 0;
}

static bool
is_range_cmp (enum scmp_compare op)
{
  return op == SCMP_CMP_NE || op == SCMP_CMP_LT || op == SCMP_CMP_LE || op == SCMP_CMP_GT || op == SCMP_CMP_GE;
}

/* libseccomp 2.5.4 (Debian 12's) never returns from seccomp_rule_add when two rules of one syscall, each with more
   than one comparison, share a range comparison (the same argument, operator and value: {a0 > 40, a1 == 1} then
   {a0 > 40, a2 == 1}); fuzz_seccomp found it, one such profile held a core for minutes.  Such a profile is refused
   before libseccomp sees it.  (Docker's default profile has no rule with two comparisons.) */
static int
profile_add_rule (struct profile *p, const struct rule *r, const char *name, const char *where, isola_error_t *err)
{
  int nr = seccomp_syscall_resolve_name (name);
  bool multi = nr != __NR_SCMP_ERROR && !r->args_each && r->n_args > 1;
  for (size_t i = 0; multi && i < r->n_args; i++)
    for (size_t k = 0; is_range_cmp (r->args[i].op) && k < p->n_ranges; k++)
      if (p->ranges[k].nr == nr && p->ranges[k].cmp.arg == r->args[i].arg && p->ranges[k].cmp.op == r->args[i].op
          && p->ranges[k].cmp.datum_a == r->args[i].datum_a)
        return isola_error_fail (err, EINVAL,
                                 "%s: a second rule for `%s` with several comparisons repeats the comparison of "
                                 "argument %u: libseccomp cannot build that filter (one comparison per rule, or "
                                 "the comparisons in one rule)",
                                 where, name, r->args[i].arg);
  int ret = rule_add_syscall (p->ctx, r, name, err);
  for (size_t i = 0; ret == 0 && multi && i < r->n_args; i++)
    if (is_range_cmp (r->args[i].op) && p->n_ranges < ARRAY_SIZE (p->ranges))
      p->ranges[p->n_ranges++] = (struct shared_cmp){ .nr = nr, .cmp = r->args[i] };
  return ret;
}

/* "names", or the older single "name" (not both); every name is checked even when the rule does not apply. */
static int
get_names (json_t *sc, const char *where, json_t **names, const char **name, isola_error_t *err)
{
  int ret = get_array (sc, where, "names", names, err);
  if (ret == 0)
    ret = get_string (sc, where, "name", name, err);
  if (ret < 0)
    return ret;
  if (*name && (*name)[0] == '\0')
    *name = NULL;
  if (*name && *names)
    return isola_error_fail (err, EINVAL, "%s: both name and names are given; use names", where);
  if (*name == NULL && *names == NULL)
    return isola_error_fail (err, EINVAL, "%s.names: no syscall names", where);
  for (size_t i = 0; ret == 0 && i < json_array_size (*names); i++)
    {
      const char *s = NULL;
      ret = get_item_string (*names, where, "names", i, &s, err);
    }
  return ret;
}

static int
profile_add_syscall (struct profile *p, json_t *sc, size_t i, isola_error_t *err)
{
  char where[WHERE_MAX];
  snprintf (where, sizeof where, "syscalls[%zu]", i);
  if (!json_is_object (sc))
    return isola_error_fail (err, EINVAL, "%s: expected an object", where);
  json_t *names = NULL;
  const char *name = NULL, *comment = NULL;
  struct rule r = { 0 };
  int ret = get_names (sc, where, &names, &name, err);
  if (ret == 0)
    ret = get_string (sc, where, "comment", &comment, err);
  if (ret == 0)
    ret = get_action (sc, where, "action", "errnoRet", &r.action, err);
  if (ret == 0)
    ret = get_args (sc, where, &r, err);
  if (ret == 0)
    ret = get_when (sc, where, "includes", &r.includes, err);
  if (ret == 0)
    ret = get_when (sc, where, "excludes", &r.excludes, err);
  if (ret == 0)
    ret = profile_count (p, where, name ? 1 : json_array_size (names), r.n_args, err);
  /* libseccomp refuses a rule that repeats the default action; it would change nothing anyway. */
  if (ret < 0 || !rule_applies (&r, &p->host) || r.action == p->default_action)
    return ret;
  if (name)
    return profile_add_rule (p, &r, name, where, err);
  for (size_t j = 0; ret == 0 && j < json_array_size (names); j++)
    ret = profile_add_rule (p, &r, json_string_value (json_array_get (names, j)), where, err);
  return ret;
}

/* --- JSON profiles: the top level ------------------------------------------------------------------------------ */

/* "SCMP_ARCH_X86_64" → libseccomp's token; 0 when this libseccomp does not know it. */
static uint32_t
arch_token (const char *name)
{
  char lower[32];
  if (!str_has_prefix (name, "SCMP_ARCH_") || strlen (name + 10) >= sizeof lower)
    return 0;
  size_t i = 0;
  for (const char *p = name + 10; *p; p++)
    lower[i++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
  lower[i] = '\0';
  return seccomp_arch_resolve_name (lower);
}

static int
add_arch_list (scmp_filter_ctx ctx, json_t *list, const char *where, const char *key, isola_error_t *err)
{
  for (size_t i = 0; i < json_array_size (list); i++)
    {
      const char *name = NULL;
      int ret = get_item_string (list, where, key, i, &name, err);
      if (ret < 0)
        return ret;
      uint32_t arch = arch_token (name);
      if (arch == 0)
        return isola_error_fail (err, EINVAL, "%s%s%s[%zu]: unknown architecture \"%s\"", where, dot (where), key, i,
                                 name);
      if ((ret = filter_add_arch (ctx, arch, name, err)) < 0)
        return ret;
    }
  return 0;
}

/* One archMap entry: only ours is used, so other entries may name architectures this libseccomp lacks. */
static int
add_arch_map_entry (scmp_filter_ctx ctx, json_t *entry, size_t i, isola_error_t *err)
{
  char where[WHERE_MAX];
  snprintf (where, sizeof where, "archMap[%zu]", i);
  const char *arch = NULL;
  json_t *subs = NULL;
  if (!json_is_object (entry))
    return isola_error_fail (err, EINVAL, "%s: expected an object", where);
  int ret = get_string (entry, where, "architecture", &arch, err);
  if (ret == 0)
    ret = get_array (entry, where, "subArchitectures", &subs, err);
  if (ret < 0)
    return ret;
  if (arch == NULL || !str_has_prefix (arch, "SCMP_ARCH_"))
    return isola_error_fail (err, EINVAL, "%s.architecture: expected an SCMP_ARCH_* name", where);
  for (size_t j = 0; j < json_array_size (subs); j++)
    {
      const char *s = NULL;
      if ((ret = get_item_string (subs, where, "subArchitectures", j, &s, err)) < 0)
        return ret;
    }
  if (arch_token (arch) != seccomp_arch_native ())
    return 0;
  return add_arch_list (ctx, subs, where, "subArchitectures", err);
}

static int
profile_arches (scmp_filter_ctx ctx, json_t *root, isola_error_t *err)
{
  json_t *list = NULL, *map = NULL;
  int ret = get_array (root, "", "architectures", &list, err);
  if (ret == 0)
    ret = get_array (root, "", "archMap", &map, err);
  if (ret < 0)
    return ret;
  if (list && map)
    return isola_error_fail (err, EINVAL, "both architectures and archMap are given; use one");
  if ((ret = add_arch_list (ctx, list, "", "architectures", err)) < 0)
    return ret;
  for (size_t i = 0; i < json_array_size (map); i++)
    if ((ret = add_arch_map_entry (ctx, json_array_get (map, i), i, err)) < 0)
      return ret;
  return 0;
}

/* TSYNC asks the kernel to filter every thread, which the single-threaded container process does not need. */
static int
profile_flags (scmp_filter_ctx ctx, json_t *root, isola_error_t *err)
{
  json_t *flags = NULL;
  int ret = get_array (root, "", "flags", &flags, err);
  for (size_t i = 0; ret == 0 && i < json_array_size (flags); i++)
    {
      const char *f = NULL;
      if ((ret = get_item_string (flags, "", "flags", i, &f, err)) < 0)
        break;
      if (strcmp (f, "SECCOMP_FILTER_FLAG_LOG") == 0)
        ret = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_LOG, 1);
      else if (strcmp (f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
        ret = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_SSB, 1);
      else if (strcmp (f, "SECCOMP_FILTER_FLAG_TSYNC") != 0)
        return isola_error_fail (err, ENOTSUP, "flags[%zu]: unsupported flag \"%s\"", i, f);
      if (ret < 0)
        return isola_error_make (err, -ret, "flags[%zu]: set %s", i, f);
    }
  return ret;
}

/* Notifications go to a user-space agent over listenerPath, which isola does not provide. */
static int
profile_check_listener (json_t *root, isola_error_t *err)
{
  const char *path = NULL;
  int ret = get_string (root, "", "listenerPath", &path, err);
  if (ret == 0 && path && path[0])
    return isola_error_fail (err, ENOTSUP, "listenerPath: seccomp notification is not supported");
  return ret;
}

static int
profile_build (json_t *root, const struct rule_host *host, scmp_filter_ctx *out, isola_error_t *err)
{
  if (!json_is_object (root))
    return isola_error_fail (err, EINVAL, "expected a JSON object");
  json_t *syscalls = NULL;
  const char *default_action = NULL;
  int ret = get_array (root, "", "syscalls", &syscalls, err);
  if (ret == 0)
    ret = get_string (root, "", "defaultAction", &default_action, err);
  if (ret < 0)
    return ret;
  /* Docker's rule: a profile with neither is no profile. */
  if ((default_action == NULL || default_action[0] == '\0') && syscalls == NULL)
    {
      *out = NULL;
      return 0;
    }
  if (json_array_size (syscalls) > PROFILE_RULES_MAX)
    return isola_error_fail (err, E2BIG, "syscalls: more than %d rules", PROFILE_RULES_MAX);
  struct profile p = { .host = *host };
  if ((ret = get_action (root, "", "defaultAction", "defaultErrnoRet", &p.default_action, err)) < 0
      || (ret = profile_check_listener (root, err)) < 0)
    return ret;
  cleanup_filter scmp_filter_ctx ctx = NULL;
  if ((ret = filter_new (p.default_action, &ctx, err)) < 0 || (ret = profile_arches (ctx, root, err)) < 0
      || (ret = profile_flags (ctx, root, err)) < 0)
    return ret;
  p.ctx = ctx;
  for (size_t i = 0; i < json_array_size (syscalls); i++)
    if ((ret = profile_add_syscall (&p, json_array_get (syscalls, i), i, err)) < 0)
      return ret;
  *out = take_ptr (&ctx);
  return 0;
}

/* Duplicate keys are refused: which one Go's decoder would keep is not something a reader should have to know. */
static int
profile_parse (const char *buf, size_t len, uint64_t caps, scmp_filter_ctx *out, isola_error_t *err)
{
  if (len > SECCOMP_PROFILE_MAX)
    return isola_error_fail (err, EFBIG, "larger than the limit of %d bytes", SECCOMP_PROFILE_MAX);
  json_error_t jerr;
  cleanup_json json_t *root = json_loadb (buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL)
    return isola_error_fail (err, EINVAL, "invalid JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
  const struct rule_host host = { .caps = caps, .kernel = host_kernel () };
  return profile_build (root, &host, out, err);
}

int
seccomp_profile_parse (const char *buf, size_t len, uint64_t caps, scmp_filter_ctx *out, isola_error_t *err)
{
  int ret = profile_parse (buf, len, caps, out, err);
  return ret < 0 ? isola_error_wrap (err, ret, "seccomp profile") : 0;
}

/* --- HostConfig ------------------------------------------------------------------------------------------------ */

int
seccomp_source_build (const struct seccomp_source *src, uint64_t caps, scmp_filter_ctx *out, isola_error_t *err)
{
  *out = NULL;
  if (src->kind == SECCOMP_SOURCE_NONE)
    return 0;
  if (src->kind == SECCOMP_SOURCE_BUILTIN)
    return seccomp_profile_default (caps, out, err);
  int ret = profile_parse (src->json, src->len, caps, out, err);
  if (ret < 0 && src->path)
    return isola_error_wrap (err, ret, "seccomp profile `%s`", src->path);
  return ret < 0 ? isola_error_wrap (err, ret, "seccomp profile") : 0;
}

int
seccomp_profile_for_host_config (json_t *host_config, uint64_t caps, scmp_filter_ctx *out, isola_error_t *err)
{
  struct seccomp_source src;
  int ret = seccomp_source_for_host_config (host_config, &src, err);
  if (ret == 0)
    ret = seccomp_source_build (&src, caps, out, err);
  seccomp_source_clear (&src);
  return ret;
}

/* libseccomp 2.5 exports only to a file descriptor: a memfd keeps it in memory. */
int
seccomp_compile (scmp_filter_ctx filter, struct seccomp_program **out, isola_error_t *err)
{
  cleanup_close int fd = memfd_create ("isola-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "memfd_create");
  int ret = seccomp_export_bpf (filter, fd);
  if (ret < 0)
    return isola_error_make (err, -ret, "generate the seccomp filter");
  off_t size = lseek (fd, 0, SEEK_END);
  if (size <= 0 || size % (off_t)sizeof (struct sock_filter) != 0
      || size / (off_t)sizeof (struct sock_filter) > SECCOMP_PROGRAM_MAX)
    return isola_error_fail (err, E2BIG, "the seccomp filter has %lld bytes", (long long)size);
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (lseek (fd, 0, SEEK_SET) < 0)
    return isola_error_make (err, errno, "read the seccomp filter");
  if ((ret = read_fd_bounded (fd, (size_t)size, &buf, &len, err)) < 0)
    return ret;
  if (len != (size_t)size)
    return isola_error_fail (err, EIO, "short read of the seccomp filter");
  /* The load flags libseccomp would pass to seccomp(2) are not part of the program. */
  uint32_t log = 0, ssb = 0;
  (void)seccomp_attr_get (filter, SCMP_FLTATR_CTL_LOG, &log);
  (void)seccomp_attr_get (filter, SCMP_FLTATR_CTL_SSB, &ssb);
  unsigned flags = (log ? SECCOMP_FILTER_FLAG_LOG : 0) | (ssb ? SECCOMP_FILTER_FLAG_SPEC_ALLOW : 0);
  *out = seccomp_program_new (flags, buf, len / sizeof (struct sock_filter));
  return 0;
}

/* --- the filter's life ------------------------------------------------------------------------------------------ */

scmp_filter_ctx
seccomp_profile_release (scmp_filter_ctx filter)
{
  if (filter)
    seccomp_release (filter);
  return NULL;
}

/* --- compiled, through the cache ----------------------------------------------------------------------------- */

static int
compile_source (const struct seccomp_source *src, uint64_t caps, struct seccomp_program **out, isola_error_t *err)
{
  scmp_filter_ctx ctx = NULL;
  int ret = seccomp_source_build (src, caps, &ctx, err);
  if (ret == 0 && ctx)
    ret = seccomp_compile (ctx, out, err);
  (void)seccomp_profile_release (ctx);
  return ret;
}

int
seccomp_program_for_host_config (json_t *host_config, uint64_t caps, const char *cache_dir,
                                 struct seccomp_program **out, isola_error_t *err)
{
  *out = NULL;
  struct seccomp_source src;
  int ret = seccomp_source_for_host_config (host_config, &src, err);
  if (ret < 0 || src.kind == SECCOMP_SOURCE_NONE)
    {
      seccomp_source_clear (&src);
      return ret;
    }
  struct seccomp_cache_slot slot;
  if ((*out = seccomp_cache_find (&src, caps, cache_dir, &slot)) == NULL)
    {
      ret = compile_source (&src, caps, out, err);
      if (ret == 0)
        seccomp_cache_store (&slot, cache_dir, *out);
    }
  seccomp_cache_slot_clear (&slot);
  seccomp_source_clear (&src);
  return ret;
}

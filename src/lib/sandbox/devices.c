/* Docker's default device rules as a cgroup v2 device program, or a cgroup v1 allow list (devices.h). */
#define _GNU_SOURCE
#include "sandbox/devices.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "base/util.h"

/* runc's AllowedDevices (libcontainer/specconv), which Docker's containers get, without /dev/console. */
static const struct device_rule default_rules[] = {
  { 'c', -1, -1, DEVICE_MKNOD },                            /* mknod of any node; opening it is another matter */
  { 'b', -1, -1, DEVICE_MKNOD }, { 'c', 1, 3, DEVICE_RWM }, /* null */
  { 'c', 1, 8, DEVICE_RWM },                                /* random */
  { 'c', 1, 7, DEVICE_RWM },                                /* full */
  { 'c', 5, 0, DEVICE_RWM },                                /* tty */
  { 'c', 1, 5, DEVICE_RWM },                                /* zero */
  { 'c', 1, 9, DEVICE_RWM },                                /* urandom */
  { 'c', 136, -1, DEVICE_RWM },                             /* /dev/pts/N */
  { 'c', 5, 2, DEVICE_RWM },                                /* ptmx */
  { 'c', 10, 200, DEVICE_RWM },                             /* net/tun */
};

unsigned
device_access_parse (const char *s)
{
  unsigned bits = 0;
  if (s == NULL || *s == '\0')
    return 0;
  for (; *s; s++)
    {
      if (*s == 'r')
        bits |= DEVICE_READ;
      else if (*s == 'w')
        bits |= DEVICE_WRITE;
      else if (*s == 'm')
        bits |= DEVICE_MKNOD;
      else
        return 0;
    }
  return bits;
}

struct device_rule *
device_rules_default (const struct device_rule *extra, size_t n_extra, size_t *n)
{
  size_t nd = sizeof default_rules / sizeof default_rules[0];
  struct device_rule *r = xcalloc (nd + n_extra + 1, sizeof *r);
  memcpy (r, default_rules, sizeof default_rules);
  if (n_extra)
    memcpy (r + nd, extra, n_extra * sizeof *r);
  *n = nd + n_extra;
  return r;
}

int
device_rules_allow (const struct device_rule *rules, size_t n, char type, int64_t major, int64_t minor, unsigned access)
{
  for (size_t i = 0; i < n; i++)
    {
      const struct device_rule *r = &rules[i];
      if ((r->type == 'a' || r->type == type) && (access & ~r->access) == 0 && (r->major < 0 || r->major == major)
          && (r->minor < 0 || r->minor == minor))
        return 1;
    }
  return 0;
}

/* --- the program ------------------------------------------------------------------------------------------------ */

struct prog
{
  struct bpf_insn *insns;
  size_t n, cap;
};

static size_t
emit (struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
  if (p->n == p->cap)
    {
      p->cap = p->cap ? p->cap * 2 : 64;
      p->insns = xrealloc (p->insns, p->cap * sizeof *p->insns);
    }
  p->insns[p->n] = (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
  return p->n++;
}

/* The program mirrors device_rules_allow: r2 the access bits, r3 the type, r4 the major, r5 the minor number; each
   rule is a block of "if it does not match, go to the next block" then "return 1"; after the last, "return 0". */
static void
build (struct prog *p, const struct device_rule *rules, size_t n)
{
  emit (p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, offsetof (struct bpf_cgroup_dev_ctx, access_type), 0);
  emit (p, BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0);
  emit (p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_3, 0, 0, 0xffff);
  emit (p, BPF_ALU | BPF_RSH | BPF_K, BPF_REG_2, 0, 0, 16);
  emit (p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, offsetof (struct bpf_cgroup_dev_ctx, major), 0);
  emit (p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, offsetof (struct bpf_cgroup_dev_ctx, minor), 0);
  for (size_t i = 0; i < n; i++)
    {
      const struct device_rule *r = &rules[i];
      size_t skips[4], n_skips = 0;
      if (r->type != 'a')
        skips[n_skips++] = emit (p, BPF_JMP | BPF_JNE | BPF_K, BPF_REG_3, 0, 0,
                                 r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
      if ((r->access & DEVICE_RWM) != DEVICE_RWM)
        {
          emit (p, BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_0, BPF_REG_2, 0, 0);
          emit (p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_0, 0, 0, (int32_t)(~r->access & DEVICE_RWM));
          skips[n_skips++] = emit (p, BPF_JMP | BPF_JNE | BPF_K, BPF_REG_0, 0, 0, 0);
        }
      if (r->major >= 0)
        skips[n_skips++] = emit (p, BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int32_t)r->major);
      if (r->minor >= 0)
        skips[n_skips++] = emit (p, BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int32_t)r->minor);
      emit (p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
      emit (p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
      for (size_t k = 0; k < n_skips; k++)
        p->insns[skips[k]].off = (int16_t)(p->n - skips[k] - 1);
    }
  emit (p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
  emit (p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

static int
load_program (const struct prog *p, char *log, size_t log_size)
{
  union bpf_attr load = { 0 };
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = (uint64_t)(uintptr_t)p->insns;
  load.insn_cnt = (uint32_t)p->n;
  load.license = (uint64_t)(uintptr_t) "GPL";
  if (log)
    {
      load.log_buf = (uint64_t)(uintptr_t)log;
      load.log_size = (uint32_t)log_size;
      load.log_level = 1;
    }
  return (int)syscall (SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
}

int
devices_limit (int cgroup_fd, const struct device_rule *rules, size_t n, isola_error_t *err)
{
  struct prog p = { 0 };
  build (&p, rules, n);
  int prog = load_program (&p, NULL, 0);
  int e = errno;
  if (prog < 0 && e != ENOSYS)
    {
      /* Again with the verifier's log, for the message. */
      char log[4096] = "";
      prog = load_program (&p, log, sizeof log);
      e = prog < 0 ? errno : e;
      if (prog < 0 && log[0])
        {
          free (p.insns);
          char *end = log + strlen (log);
          while (end > log && end[-1] == '\n')
            *--end = '\0';
          char *last = strrchr (log, '\n');
          return isola_error_fail (err, e, "load the container's device rules: %s", last ? last + 1 : log);
        }
    }
  free (p.insns);
  if (prog < 0)
    {
      if (e == ENOSYS || e == EINVAL)
        return isola_error_fail (err, ENOTSUP,
                                 "this kernel cannot restrict a container's devices (no BPF device control: "
                                 "CONFIG_BPF_SYSCALL, CONFIG_CGROUP_BPF)");
      return isola_error_make (err, e, "load the container's device rules");
    }
  union bpf_attr attach = { 0 };
  attach.target_fd = (uint32_t)cgroup_fd;
  attach.attach_bpf_fd = (uint32_t)prog;
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  int r = (int)syscall (SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach);
  e = errno;
  close (prog);
  if (r < 0)
    return isola_error_make (err, e, "attach the container's device rules to its cgroup");
  return 0;
}

/* --- cgroup v1 ---------------------------------------------------------------------------------------------------- */

static void
number_v1 (int64_t v, char *buf, size_t size)
{
  if (v < 0)
    snprintf (buf, size, "*");
  else
    snprintf (buf, size, "%lld", (long long)v);
}

void
device_rule_v1_format (const struct device_rule *r, char *buf, size_t size)
{
  char maj[24], min[24], acc[4];
  size_t k = 0;
  number_v1 (r->major, maj, sizeof maj);
  number_v1 (r->minor, min, sizeof min);
  if (r->access & DEVICE_READ)
    acc[k++] = 'r';
  if (r->access & DEVICE_WRITE)
    acc[k++] = 'w';
  if (r->access & DEVICE_MKNOD)
    acc[k++] = 'm';
  acc[k] = '\0';
  snprintf (buf, size, "%c %s:%s %s", r->type, maj, min, acc);
}

/* One write per rule: the controller parses one rule per write(2). */
static int
write_rule (int dirfd, const char *file, const char *rule, isola_error_t *err)
{
  cleanup_close int fd = openat (dirfd, file, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open the container's `%s`", file);
  size_t len = strlen (rule);
  if (write (fd, rule, len) != (ssize_t)len)
    return isola_error_make (err, errno, "write `%s` to the container's `%s`", rule, file);
  return 0;
}

int
devices_limit_v1 (const char *dir, const struct device_rule *rules, size_t n, isola_error_t *err)
{
  cleanup_close int dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return isola_error_make (err, errno, "open the container's devices cgroup `%s`", dir);
  int ret = write_rule (dirfd, "devices.deny", "a", err);
  for (size_t i = 0; ret == 0 && i < n; i++)
    {
      char rule[64];
      device_rule_v1_format (&rules[i], rule, sizeof rule);
      ret = write_rule (dirfd, "devices.allow", rule, err);
    }
  return ret;
}

/* VM templates (see vm_template.h). */
#define _GNU_SOURCE
#include "driver/vm_template.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "driver/vm_console.h"
#include "driver/vm_jail.h"
#include "proto/qmp.h"
#include "proto/vmproto.h"

#define KEY_MAX        (64 * 1024)
#define QMP_TIMEOUT_MS 30000

/* --- the key --------------------------------------------------------------------------------------------------- */

/* name as execvp would find it. */
static char *
find_program (const char *name)
{
  if (strchr (name, '/'))
    return xstrdup (name);
  const char *path = getenv ("PATH");
  cleanup_free char *dirs = xstrdup (path && path[0] ? path : "/usr/local/bin:/usr/bin:/bin");
  for (char *save = NULL, *d = strtok_r (dirs, ":", &save); d; d = strtok_r (NULL, ":", &save))
    {
      char *p = xasprintf ("%s/%s", d, name);
      if (access (p, X_OK) == 0)
        return p;
      free (p);
    }
  return NULL;
}

/* A file as the key names it: where it is and which version of it (a rebuilt kernel or an upgraded QEMU gets a
   new inode or mtime). */
static char *
file_identity (const char *what, const char *path)
{
  struct stat st;
  if (path == NULL || stat (path, &st) < 0)
    return NULL;
  return xasprintf ("%s %s %llx:%llu %lld %lld.%09ld\n", what, path, (unsigned long long)st.st_dev,
                    (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                    st.st_mtim.tv_nsec);
}

char *
vm_template_key (const struct vm_settings *vs, const struct vm_layout *l)
{
  cleanup_free char *qemu_path = find_program (vs->qemu);
  cleanup_free char *qemu = file_identity ("qemu", qemu_path);
  cleanup_free char *kernel = file_identity ("kernel", vs->kernel);
  cleanup_free char *initrd = file_identity ("initrd", vs->initrd);
  if (qemu == NULL || kernel == NULL || initrd == NULL)
    return NULL;
  struct vm_share *shares = xcalloc (l->n_shares + 1, sizeof *shares);
  for (size_t i = 0; i < l->n_shares; i++)
    shares[i].source = xasprintf ("share%zu", i);
  struct vm_instance stand_in = {
    .name = "template",
    .console_fd = -1,
    .rootfs_fd = -1,
    .upper_fd = -1,
    .upper_ro_fd = -1,
    .channel_fd = -1,
    .shares = shares,
  };
  cleanup_strv char **argv = vm_qemu_argv_for (vs, l, &stand_in);
  vm_shares_free (shares, l->n_shares);
  char *key
      = xasprintf ("isola-vm-template 1\nisola %s vmproto %d\n%s%s%sdisks %llu %llu\n", ISOLA_VERSION, VMPROTO_VERSION,
                   qemu, kernel, initrd, (unsigned long long)l->rootfs_bytes, (unsigned long long)l->upper_bytes);
  for (char **a = argv; *a; a++)
    {
      char *more = xasprintf ("%s%s\n", key, *a);
      free (key);
      key = more;
    }
  return key;
}

static char *
template_dir (const struct vm_settings *vs, const char *key)
{
  return xasprintf ("%s/%016llx", vs->template_dir, (unsigned long long)fnv1a64 (key, strlen (key)));
}

/* --- use ------------------------------------------------------------------------------------------------------- */

int
vm_template_open (const struct vm_settings *vs, const char *key, int *state_fd)
{
  cleanup_free char *dir = template_dir (vs, key);
  cleanup_free char *key_path = xasprintf ("%s/key", dir);
  cleanup_free char *state_path = xasprintf ("%s/state", dir);
  cleanup_free char *stored = NULL;
  size_t len = 0;
  if (read_file_bounded (key_path, KEY_MAX, &stored, &len, NULL) < 0)
    return -ENOENT;
  if (len != strlen (key) || memcmp (stored, key, len) != 0)
    return -ENOENT;
  int fd = open (state_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -ENOENT;
  /* The key's mtime says when the template was last used: pruning keeps the recent ones. */
  (void)utimensat (AT_FDCWD, key_path, NULL, 0);
  *state_fd = fd;
  return 0;
}

void
vm_template_discard (const struct vm_settings *vs, const char *key)
{
  cleanup_free char *dir = template_dir (vs, key);
  cleanup_free char *key_path = xasprintf ("%s/key", dir);
  /* Without its key the template is never used again, whoever is reading it now; the next build replaces it. */
  (void)unlink (key_path);
}

/* --- building -------------------------------------------------------------------------------------------------- */

static void
close_if_open (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

static int
sparse_file (const char *path, uint64_t bytes, isola_error_t *err)
{
  cleanup_close int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ftruncate (fd, (off_t)bytes) < 0)
    return isola_error_make (err, errno, "create `%s`", path);
  return 0;
}

/* The agent's HELLO, and ours: then it waits for START, and that is the moment to save. */
static int
await_agent (int fd, pid_t qemu, int timeout_s, isola_error_t *err)
{
  struct vmproto_decoder dec;
  vmproto_decoder_init (&dec, VMPROTO_GUEST);
  struct vm_boot b = { .fd = fd, .dec = &dec, .qemu = qemu, .deadline = monotonic_ms () + timeout_s * 1000LL };
  struct vmproto_frame f;
  int r = vm_boot_next_frame (&b, &f);
  if (r == -ETIMEDOUT)
    r = isola_error_fail (err, ETIMEDOUT, "the VM did not start within %d s", timeout_s);
  else if (r == -ECHILD)
    r = isola_error_fail (err, EIO, "the VM exited while starting");
  else if (r < 0)
    r = isola_error_make (err, -r, "read from the VM's agent");
  else if ((r = vmproto_check_hello (&f, "the VM's agent", err)) == 0)
    {
      struct vmproto_msg hello = vmproto_msg_hello ("isola " ISOLA_VERSION);
      if ((r = vmproto_send (fd, &hello)) < 0)
        r = isola_error_make (err, -r, "greet the VM's agent");
    }
  vmproto_decoder_clear (&dec);
  return r;
}

/* QEMU writes the running VM to state_fd; it converges at once since the guest is idle. */
static int
save_vm (int qmp_fd, int state_fd, isola_error_t *err)
{
  struct qmp *q = xcalloc (1, sizeof *q);
  int ret = qmp_connect (q, qmp_fd, QMP_TIMEOUT_MS, err);
  /* The default limit (32 MiB/s) would make a save of ~40 MB take a second. */
  if (ret == 0)
    ret = qmp_execute (q, "migrate-set-parameters", json_pack ("{s:I}", "max-bandwidth", (json_int_t)1 << 40), -1, NULL,
                       err);
  if (ret == 0)
    ret = qmp_execute (q, "getfd", json_pack ("{s:s}", "fdname", "state"), state_fd, NULL, err);
  if (ret == 0)
    ret = qmp_execute (q, "migrate", json_pack ("{s:s}", "uri", "fd:state"), -1, NULL, err);
  while (ret == 0)
    {
      cleanup_json json_t *info = NULL;
      if ((ret = qmp_execute (q, "query-migrate", NULL, -1, &info, err)) < 0)
        break;
      const char *status = json_string_value (json_object_get (info, "status"));
      if (status && strcmp (status, "completed") == 0)
        break;
      if (status && (strcmp (status, "failed") == 0 || strcmp (status, "cancelled") == 0))
        {
          const char *why = json_string_value (json_object_get (info, "error-desc"));
          ret = isola_error_fail (err, EIO, "QEMU could not save the VM: %s", why ? why : status);
          break;
        }
      struct timespec nap = { 0, 5 * 1000 * 1000 };
      nanosleep (&nap, NULL);
    }
  free (q);
  return ret;
}

static int
build (const struct vm_settings *vs, const struct vm_layout *l, const char *key, const char *work, isola_error_t *err)
{
  cleanup_free char *out = xasprintf ("%s/out", work);
  cleanup_free char *rootfs = xasprintf ("%s/rootfs.img", work);
  cleanup_free char *upper = xasprintf ("%s/upper.img", work);
  cleanup_free char *console = xasprintf ("%s/console.log", work);
  cleanup_free char *log = xasprintf ("%s/qemu.log", work);
  cleanup_free char *state = xasprintf ("%s/state", out);
  cleanup_free char *key_path = xasprintf ("%s/key", out);
  if (mkdir (out, 0700) < 0)
    return isola_error_make (err, errno, "mkdir `%s`", out);
  /* Stand-ins of the same capacities: the guest sees sizes, not contents, until START. */
  int ret = sparse_file (rootfs, l->rootfs_bytes, err);
  if (ret == 0)
    ret = sparse_file (upper, l->upper_bytes, err);
  struct vm_share *shares = xcalloc (l->n_shares + 1, sizeof *shares);
  for (size_t i = 0; i < l->n_shares; i++)
    {
      shares[i].source = xasprintf ("%s/share%zu", work, i);
      if (ret == 0 && mkdir (shares[i].source, 0700) < 0)
        ret = isola_error_make (err, errno, "mkdir `%s`", shares[i].source);
    }
  int chan[2] = { -1, -1 }, qmp[2] = { -1, -1 };
  pid_t copier = -1;
  cleanup_close int console_fd = ret == 0 ? vm_console_start (console, &copier, err) : -1;
  if (console_fd < 0 && ret == 0)
    ret = console_fd;
  if (ret == 0
      && (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan) < 0
          || socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp) < 0))
    ret = isola_error_make (err, errno, "socketpair");
  /* The template's worker is jailed as a container's (vm_jail.h), in the CLI's cgroup. */
  cleanup_close int rootfs_fd = ret == 0 ? open (rootfs, O_RDONLY | O_CLOEXEC) : -1;
  cleanup_close int upper_fd = ret == 0 ? open (upper, O_RDWR | O_CLOEXEC) : -1;
  cleanup_close int upper_ro_fd = ret == 0 ? open (upper, O_RDONLY | O_CLOEXEC) : -1;
  if (ret == 0 && (rootfs_fd < 0 || upper_fd < 0 || upper_ro_fd < 0))
    ret = isola_error_make (err, errno, "open the template's disks");
  cleanup_strv char **argv = NULL;
  pid_t pid = -1;
  struct vm_jail jail = { 0 };
  struct vm_instance in = {
    .name = "template",
    .console_fd = console_fd,
    .rootfs_fd = rootfs_fd,
    .upper_fd = upper_fd,
    .upper_ro_fd = upper_ro_fd,
    .channel_fd = chan[1],
    .shares = shares,
  };
  if (ret == 0)
    ret = vm_jail_prepare (vs, l, &in, &jail, err);
  if (ret == 0)
    {
      argv = vm_qemu_argv_for (vs, l, &in);
      strv_push (&argv, "-chardev");
      cleanup_free char *qmp_dev = xasprintf ("socket,id=qmp,fd=%d", qmp[1]);
      strv_push (&argv, qmp_dev);
      strv_push (&argv, "-mon");
      strv_push (&argv, "chardev=qmp,mode=control");
      int keep[] = { chan[1], qmp[1], rootfs_fd, upper_fd, upper_ro_fd, console_fd };
      pid = vm_spawn_qemu (vs, argv, keep, 6, log, &jail, err);
      if (pid < 0)
        ret = (int)pid;
    }
  vm_jail_clear (&jail);
  vm_shares_free (shares, l->n_shares);
  close_if_open (&console_fd);
  close_if_open (&chan[1]);
  close_if_open (&qmp[1]);
  if (ret == 0)
    ret = await_agent (chan[0], pid, vs->boot_timeout_s, err);
  cleanup_close int state_fd = -1;
  if (ret == 0 && (state_fd = open (state, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
    ret = isola_error_make (err, errno, "create `%s`", state);
  if (ret == 0)
    ret = save_vm (qmp[0], state_fd, err);
  if (pid > 0)
    {
      kill (pid, SIGKILL);
      (void)waitpid_retry (pid, NULL);
    }
  /* With QEMU gone, the console's copier reads its end of file and ends. */
  if (copier > 0)
    (void)waitpid_retry (copier, NULL);
  close_if_open (&chan[0]);
  close_if_open (&qmp[0]);
  if (ret == 0 && fsync (state_fd) < 0)
    ret = isola_error_make (err, errno, "write `%s`", state);
  if (ret == 0)
    ret = write_file_atomic (key_path, key, strlen (key), 0600, err);
  if (ret < 0)
    {
      /* What QEMU said is the useful part of a failed build. */
      cleanup_free char *said = NULL;
      size_t len = 0;
      if (read_file_bounded (log, 4096, &said, &len, NULL) == 0 && len > 0)
        {
          while (len && said[len - 1] == '\n')
            said[--len] = '\0';
          (void)isola_error_wrap (err, ret, "QEMU: %s", said);
        }
    }
  return ret;
}

/* A build of this key failed within the hour: the next start should not pay a boot for it again. */
static bool
failed_recently (const char *marker, const char *key)
{
  struct stat st;
  cleanup_free char *stored = NULL;
  size_t len = 0;
  if (stat (marker, &st) < 0 || time (NULL) - st.st_mtime > 3600
      || read_file_bounded (marker, KEY_MAX, &stored, &len, NULL) < 0)
    return false;
  /* The marker is the key, then why the build failed. */
  size_t n = strlen (key);
  return len >= n && memcmp (stored, key, n) == 0;
}

/* Leftovers of builds that were interrupted; only the lock's holder builds. */
static void
remove_builds (const char *dir)
{
  cleanup_dir DIR *d = opendir (dir);
  for (struct dirent *e; d && (e = readdir (d)) != NULL;)
    if (str_has_prefix (e->d_name, ".build-"))
      (void)rm_rf_at (dirfd (d), e->d_name, NULL);
}

/* Keeps the VM_TEMPLATES_MAX most recently used templates. */
static void
prune (const char *dir)
{
  for (;;)
    {
      cleanup_dir DIR *d = opendir (dir);
      size_t n = 0;
      char oldest[256] = "";
      struct timespec oldest_t = { 0 };
      for (struct dirent *e; d && (e = readdir (d)) != NULL;)
        {
          if (e->d_name[0] == '.' || strlen (e->d_name) >= sizeof oldest)
            continue;
          n++;
          cleanup_free char *key = xasprintf ("%s/key", e->d_name);
          struct stat st;
          if (fstatat (dirfd (d), key, &st, 0) < 0)
            st.st_mtim = (struct timespec){ 0 };
          if (oldest[0] == '\0' || st.st_mtim.tv_sec < oldest_t.tv_sec
              || (st.st_mtim.tv_sec == oldest_t.tv_sec && st.st_mtim.tv_nsec < oldest_t.tv_nsec))
            {
              strcpy (oldest, e->d_name);
              oldest_t = st.st_mtim;
            }
        }
      if (d == NULL || n <= VM_TEMPLATES_MAX || rm_rf_at (dirfd (d), oldest, NULL) < 0)
        return;
    }
}

int
vm_template_ensure (const struct vm_settings *vs, const struct vm_layout *l, isola_error_t *err)
{
  if (!vs->template)
    return 0;
  cleanup_free char *key = vm_template_key (vs, l);
  if (key == NULL)
    return isola_error_fail (err, ENOENT, "QEMU (%s), the VM's kernel or its initramfs is missing", vs->qemu);
  const char *dir = vs->template_dir;
  int ret = mkdir_p (dir, 0700, err);
  if (ret < 0)
    return ret;
  cleanup_free char *lock_path = xasprintf ("%s/.lock", dir);
  cleanup_close int lock = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0)
    return isola_error_make (err, errno, "open `%s`", lock_path);
  while (flock (lock, LOCK_EX) < 0)
    if (errno != EINTR)
      return isola_error_make (err, errno, "lock `%s`", lock_path);
  int fd = -1;
  if (vm_template_open (vs, key, &fd) == 0)
    {
      close (fd);
      return 0;
    }
  cleanup_free char *failed = xasprintf ("%s/.failed-%016llx", dir, (unsigned long long)fnv1a64 (key, strlen (key)));
  if (failed_recently (failed, key))
    return isola_error_fail (err, EAGAIN, "the VM template of this layout failed less than an hour ago");
  remove_builds (dir);
  cleanup_free char *work = NULL;
  if ((ret = make_temp_dir (dir, ".build", &work, err)) < 0)
    return ret;
  cleanup_error isola_error_t why = NULL;
  ret = build (vs, l, key, work, &why);
  cleanup_free char *out = xasprintf ("%s/out", work);
  cleanup_free char *final = template_dir (vs, key);
  if (ret == 0)
    (void)rm_rf (final, NULL);
  if (ret == 0 && rename (out, final) < 0)
    ret = isola_error_make (&why, errno, "rename `%s` to `%s`", out, final);
  if (ret == 0)
    (void)fsync_dir (dir);
  (void)rm_rf (work, NULL);
  if (ret == 0)
    {
      (void)unlink (failed);
      prune (dir);
    }
  else
    {
      cleanup_free char *marker = xasprintf ("%serror: %s\n", key, why ? why->msg : strerror (-ret));
      (void)write_file_atomic (failed, marker, strlen (marker), 0600, NULL);
      return isola_error_fail (err, why ? why->status : -ret, "make the VM template: %s",
                               why ? why->msg : strerror (-ret));
    }
  return 0;
}

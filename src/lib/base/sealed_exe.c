/* See sealed_exe.h.  The copy is made with sendfile (no pass through user space) and sealed before anyone else
   can see it; the original path travels to the new image in ISOLA_SEALED_EXE_FROM, which the new image takes out
   of its environment, so that no child inherits it. */
#define _GNU_SOURCE
#include "base/sealed_exe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

#define SEALED_FROM_ENV "ISOLA_SEALED_EXE_FROM"
#define WRITE_SEALS     (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANITIZED_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANITIZED_BUILD 1
#endif
#endif

static char *original_path;

char *
sealed_exe_original_path (void)
{
  if (original_path)
    return xstrdup (original_path);
  char self[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return NULL;
  self[n] = '\0';
  return strncmp (self, "/memfd:", 7) == 0 ? NULL : xstrdup (self);
}

#ifndef SANITIZED_BUILD
static bool
runs_sealed (void)
{
  cleanup_close int fd = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  int seals = fd >= 0 ? fcntl (fd, F_GET_SEALS) : -1;
  return seals >= 0 && (seals & WRITE_SEALS) == WRITE_SEALS;
}

/* A memfd holding the bytes of the file open as src, sealed against any change. */
static int
sealed_copy (int src, const char *name, isola_error_t *err)
{
  struct stat st;
  if (fstat (src, &st) < 0)
    return isola_error_make (err, errno, "stat our own executable");
  cleanup_close int mfd = memfd_create (name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0)
    return isola_error_make (err, errno, "memfd_create");
  off_t off = 0;
  while (off < st.st_size)
    {
      ssize_t n = sendfile (mfd, src, &off, (size_t)(st.st_size - off));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return isola_error_make (err, n < 0 ? errno : EIO, "copy our own executable into a memfd");
    }
  if (fcntl (mfd, F_ADD_SEALS, WRITE_SEALS) < 0)
    return isola_error_make (err, errno, "seal the copy of our own executable");
  return take_fd (&mfd);
}
#endif

int
sealed_exe_ensure (char **argv, isola_error_t *err)
{
#ifdef SANITIZED_BUILD
  (void)argv, (void)err;
  return 0;
#else
  if (runs_sealed ())
    {
      const char *from = getenv (SEALED_FROM_ENV);
      if (from && original_path == NULL)
        original_path = xstrdup (from);
      unsetenv (SEALED_FROM_ENV);
      /* The kernel names us after the memfd ("memfd:isola-mon"): ps -C and top show the program's name again. */
      const char *base = original_path && strrchr (original_path, '/') ? strrchr (original_path, '/') + 1 : NULL;
      if (base)
        (void)prctl (PR_SET_NAME, base);
      return 0;
    }
  cleanup_free char *self = sealed_exe_original_path ();
  cleanup_close int src = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (src < 0)
    return isola_error_make (err, errno, "open our own executable (/proc/self/exe)");
  const char *base = self && strrchr (self, '/') ? strrchr (self, '/') + 1 : "isola";
  cleanup_close int mfd = sealed_copy (src, base, err);
  if (mfd < 0)
    return mfd;
  if (self && setenv (SEALED_FROM_ENV, self, 1) < 0)
    return isola_error_make (err, errno, "setenv");
  fexecve (mfd, argv, environ);
  int saved = errno;
  unsetenv (SEALED_FROM_ENV);
  return isola_error_make (err, saved, "re-execute from a sealed copy of our own executable");
#endif
}

char *
path_beside_self (const char *name)
{
  /* Not /proc/self/exe itself: after sealed_exe_ensure it names a memfd. */
  cleanup_free char *self = sealed_exe_original_path ();
  char *slash = self ? strrchr (self, '/') : NULL;
  if (slash == NULL)
    return NULL;
  *slash = '\0';
  return xasprintf ("%s/%s", self, name);
}

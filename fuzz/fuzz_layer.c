/* libFuzzer target for layer unpacking: the bytes are a layer blob (compressed or not), written to a memfd and
   unpacked into a fresh directory under /tmp, which is then removed.  Invariants: an error comes with a message,
   nothing appears beside dest (an escape by ".." or through a symlink would land there), the working directory
   is restored, and a successful unpack agrees with layer_diff_id. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "image/unpack.h"

/* layer_unpack runs from inside dest, so a crash there would drop libFuzzer's crash artifact into the scratch
   directory.  Unless told otherwise, artifacts go to the directory the fuzzer was started from. */
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  for (int i = 1; i < *argc; i++)
    if (str_has_prefix ((*argv)[i], "-artifact_prefix="))
      return 0;
  char cwd[PATH_MAX];
  if (getcwd (cwd, sizeof cwd) == NULL)
    return 0;
  static char **args; /* lives as long as the fuzzer */
  args = xcalloc ((size_t)*argc + 2, sizeof (char *));
  memcpy (args, *argv, (size_t)*argc * sizeof (char *));
  args[*argc] = xasprintf ("-artifact_prefix=%s/", cwd);
  *argc += 1;
  *argv = args;
  return 0;
}

static int
layer_fd (const uint8_t *data, size_t size)
{
  int fd = memfd_create ("fuzz-layer", MFD_CLOEXEC);
  if (fd < 0 || write_all (fd, data, size) < 0 || lseek (fd, 0, SEEK_SET) < 0)
    abort ();
  return fd;
}

static void
check_nothing_beside_dest (const char *scratch)
{
  cleanup_dir DIR *d = opendir (scratch);
  if (d == NULL)
    abort ();
  struct dirent *de;
  while ((de = readdir (d)))
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0 && strcmp (de->d_name, "root") != 0)
      abort ();
}

static void
check_diff_id (int fd, const struct unpack_result *res)
{
  digest_hex_t again;
  if (lseek (fd, 0, SEEK_SET) < 0 || layer_diff_id (fd, again, NULL) < 0 || strcmp (again, res->diff_id) != 0)
    abort ();
  if (res->size < 0 || res->entries < 0)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  cleanup_close int fd = layer_fd (data, size);
  cleanup_free char *scratch = NULL;
  /* On tmpfs when there is one: a disk's directory operations made this target 8 times slower. */
  const char *parent = access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  if (make_temp_dir (parent, "isola-fuzz-layer", &scratch, NULL) < 0)
    abort ();
  cleanup_free char *dest = xasprintf ("%s/root", scratch);
  if (mkdir (dest, 0755) < 0)
    abort ();
  char cwd_before[PATH_MAX], cwd_after[PATH_MAX];
  if (getcwd (cwd_before, sizeof cwd_before) == NULL)
    abort ();

  struct unpack_result res = { 0 };
  cleanup_error isola_error_t err = NULL;
  int ret = layer_unpack (fd, dest, NULL, &res, &err);
  if ((ret < 0) != (err != NULL) || (err != NULL && err->msg == NULL))
    abort ();
  if (getcwd (cwd_after, sizeof cwd_after) == NULL || strcmp (cwd_before, cwd_after) != 0)
    abort ();
  check_nothing_beside_dest (scratch);
  if (ret == 0)
    check_diff_id (fd, &res);

  if (rm_rf (scratch, NULL) < 0)
    abort ();
  return 0;
}

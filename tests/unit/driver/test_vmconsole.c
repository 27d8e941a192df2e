/* The VM's console log: whatever the guest writes, the file keeps at most VM_CONSOLE_MAX bytes, the latest ones,
   with mode 0600, and the copier ends when QEMU's end of the socket is closed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "driver/vm_console.h"
#include "tap.h"

static char root[] = "/tmp/isola-unit-vmconsole-XXXXXX";

/* Writes total bytes of numbered lines into fd; returns the last line written. */
static char *
flood (int fd, size_t total)
{
  char line[64];
  size_t done = 0;
  unsigned long i = 0;
  char *last = NULL;
  while (done < total)
    {
      int n = snprintf (line, sizeof line, "line %08lu of a guest that writes too much\n", i++);
      if (write (fd, line, (size_t)n) != n)
        break;
      done += (size_t)n;
      free (last);
      line[n - 1] = 0;
      last = xstrdup (line);
    }
  return last;
}

static void
test_copy_bounded (void)
{
  cleanup_free char *path = xasprintf ("%s/console.log", root);
  /* An older world-readable log is made private. */
  (void)write_file_atomic (path, "old\n", 4, 0644, NULL);
  pid_t copier = -1;
  int fd = vm_console_start (path, &copier, NULL);
  CHECK (fd >= 0 && copier > 0, "the copier starts");
  if (fd < 0)
    return;
  cleanup_free char *last = flood (fd, 5u << 20);
  close (fd);
  int status = -1;
  CHECK (waitpid (copier, &status, 0) == copier && WIFEXITED (status) && WEXITSTATUS (status) == 0,
         "the copier ends once QEMU's end is closed");
  struct stat st;
  CHECK (stat (path, &st) == 0 && (st.st_mode & 07777) == 0600, "the log's mode is 0600");
  CHECK (st.st_size > 0 && st.st_size <= VM_CONSOLE_MAX, "5 MiB written, at most 1 MiB kept");
  cleanup_free char *text = NULL;
  size_t len = 0;
  (void)read_file_bounded (path, 2 * VM_CONSOLE_MAX, &text, &len, NULL);
  CHECK (text && last && len > strlen (last) + 1 && memcmp (text + len - strlen (last) - 1, last, strlen (last)) == 0
             && text[len - 1] == '\n',
         "what is kept is the latest part");
  CHECK (text && memmem (text, len, "old\n", 4) == NULL && memmem (text, len, "line 00000000 ", 14) == NULL,
         "the earliest part and the older log are gone");
}

static void
test_copy_small (void)
{
  cleanup_free char *path = xasprintf ("%s/small.log", root);
  pid_t copier = -1;
  int fd = vm_console_start (path, &copier, NULL);
  CHECK (fd >= 0, "a second copier starts");
  if (fd < 0)
    return;
  CHECK (write (fd, "booted\n", 7) == 7, "a little output");
  close (fd);
  (void)waitpid (copier, NULL, 0);
  cleanup_free char *text = NULL;
  size_t len = 0;
  CHECK (read_file_bounded (path, 4096, &text, &len, NULL) == 0 && len == 7 && memcmp (text, "booted\n", 7) == 0,
         "what stays under the bound is kept whole");
}

int
main (void)
{
  if (mkdtemp (root) == NULL)
    return 1;
  test_copy_bounded ();
  test_copy_small ();
  rm_rf (root, NULL);
  return tap_done ();
}

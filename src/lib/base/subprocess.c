/* Running the few external programs isola relies on (mkfs.erofs, mkfs.ext4): their error output becomes the
   error's message instead of reaching the user's terminal. */
#define _GNU_SOURCE
#include "base/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"

#define TOOL_STDERR_MAX 4096

/* The last line of what the tool said, which is where tools put their reason. */
static const char *
last_line (char *text)
{
  size_t len = strlen (text);
  while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
    text[--len] = '\0';
  char *nl = strrchr (text, '\n');
  return nl ? nl + 1 : text;
}

int
subprocess_run (char *const argv[], int (*prepare) (void *arg), void *arg, isola_error_t *err)
{
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return isola_error_make (err, errno, "pipe");
  cleanup_close int r = p[0];
  cleanup_close int w = p[1];
  pid_t pid = fork ();
  if (pid < 0)
    return isola_error_make (err, errno, "fork");
  if (pid == 0)
    {
      int null = open ("/dev/null", O_RDWR);
      if (null < 0 || dup2 (null, 0) < 0 || dup2 (null, 1) < 0 || dup2 (w, 2) < 0)
        _exit (127);
      if (prepare && prepare (arg) < 0)
        _exit (126);
      execvp (argv[0], argv);
      dprintf (2, "exec %s: %s\n", argv[0], strerror (errno));
      _exit (127);
    }
  (void)close (take_fd (&w));
  cleanup_free char *out = NULL;
  (void)read_fd_bounded (r, TOOL_STDERR_MAX, &out, NULL, NULL);
  int status = 0;
  if (waitpid_retry (pid, &status) < 0)
    return isola_error_make (err, errno, "wait for %s", argv[0]);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  const char *why = out && out[0] ? last_line (out) : "";
  if (WIFSIGNALED (status))
    return isola_error_fail (err, EIO, "%s killed by signal %d%s%s", argv[0], WTERMSIG (status), why[0] ? ": " : "",
                             why);
  return isola_error_fail (err, WEXITSTATUS (status) == 127 ? ENOENT : EIO, "%s failed (exit %d)%s%s", argv[0],
                           WEXITSTATUS (status), why[0] ? ": " : "", why);
}

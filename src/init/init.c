/* isola-init: PID 1 of a container run with --init, as tini is for Docker.  PID 1 gets no default signal
   handlers from the kernel and inherits every orphan: this init forwards the signals it receives to the command,
   reaps zombies, and exits with the command's status when it ends.

   usage: isola-init -- COMMAND [ARG...]          (bind-mounted read-only at /dev/init) */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t
start_command (char **argv)
{
  pid_t pid = fork ();
  if (pid != 0)
    return pid;
  /* Its own process group, so that a terminal's ^C reaches it and its children as it would without us. */
  (void)setpgid (0, 0);
  /* Nothing blocked, as a command started without us; we are started with everything blocked (spawn_spec's
     signals_blocked), so that none is lost before we wait for them. */
  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  execvp (argv[0], argv);
  fprintf (stderr, "isola-init: exec %s: %s\n", argv[0], strerror (errno));
  _exit (errno == ENOENT ? 127 : 126);
}

static int
status_code (int status)
{
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  return 128 + WTERMSIG (status);
}

/* Reaps every exited process; returns the command's exit code once it is among them, else -1. */
static int
reap_all (pid_t command)
{
  int code = -1, status;
  pid_t pid;
  while ((pid = waitpid (-1, &status, WNOHANG)) > 0)
    if (pid == command)
      code = status_code (status);
  return code;
}

int
main (int argc, char **argv)
{
  int first = 1;
  if (first < argc && strcmp (argv[first], "--") == 0)
    first++;
  if (first >= argc)
    {
      fprintf (stderr, "usage: isola-init -- COMMAND [ARG...]\n");
      return 125;
    }
  sigset_t all;
  sigfillset (&all);
  sigprocmask (SIG_BLOCK, &all, NULL);
  pid_t command = start_command (argv + first);
  if (command < 0)
    {
      perror ("isola-init: fork");
      return 125;
    }
  for (;;)
    {
      siginfo_t si;
      if (sigwaitinfo (&all, &si) < 0)
        continue;
      if (si.si_signo == SIGCHLD)
        {
          int code = reap_all (command);
          if (code >= 0)
            return code;
          continue;
        }
      /* Signals for the container go to the command's whole process group. */
      if (kill (-command, si.si_signo) < 0)
        (void)kill (command, si.si_signo);
    }
}

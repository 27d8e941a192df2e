/* Our own terminal, for the verbs that relay a container's terminal (attach, start -a, run, exec -t): its window
   size, and raw mode while the container's terminal does the line discipline. */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

/* One stdin, one saved state: static so that a signal handler can put it back (cli_terminal_restore). */
static struct termios saved_termios;
static volatile sig_atomic_t terminal_is_raw;

bool
cli_window_size (struct winsize *ws)
{
  if (ioctl (STDIN_FILENO, TIOCGWINSZ, ws) == 0 || ioctl (STDOUT_FILENO, TIOCGWINSZ, ws) == 0)
    return true;
  memset (ws, 0, sizeof *ws);
  return false;
}

void
cli_terminal_raw (void)
{
  if (terminal_is_raw || !isatty (STDIN_FILENO) || tcgetattr (STDIN_FILENO, &saved_termios) < 0)
    return;
  /* Fully raw, output too: the container's terminal already turns \n into \r\n, and ^C into its SIGINT. */
  struct termios raw = saved_termios;
  cfmakeraw (&raw);
  if (tcsetattr (STDIN_FILENO, TCSANOW, &raw) == 0)
    terminal_is_raw = 1;
}

void
cli_terminal_restore (void)
{
  if (terminal_is_raw)
    (void)tcsetattr (STDIN_FILENO, TCSANOW, &saved_termios);
  terminal_is_raw = 0;
}

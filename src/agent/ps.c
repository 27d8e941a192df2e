/* `isola top` inside a VM: the guest has no ps, so the agent reads /proc itself and prints what `ps -ef` would. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "base/util.h"

struct proc_stat
{
  pid_t ppid;
  int tty_nr;
  unsigned long long cpu_ticks;   /* utime + stime */
  unsigned long long start_ticks; /* since boot */
};

static bool
read_stat (pid_t pid, struct proc_stat *st)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
  cleanup_free char *buf = NULL;
  if (read_file_bounded (path, 4096, &buf, NULL, NULL) < 0)
    return false;
  /* The command name may hold spaces and parentheses: the fields start after its last ')'. */
  char *p = strrchr (buf, ')');
  if (p == NULL)
    return false;
  unsigned long long utime, stime, start;
  int ppid, tty;
  if (sscanf (p + 2, "%*c %d %*d %*d %d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu", &ppid, &tty,
              &utime, &stime, &start)
      != 5)
    return false;
  *st = (struct proc_stat){ .ppid = ppid, .tty_nr = tty, .cpu_ticks = utime + stime, .start_ticks = start };
  return true;
}

static uid_t
read_uid (pid_t pid)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/status", (int)pid);
  cleanup_free char *buf = NULL;
  if (read_file_bounded (path, 16384, &buf, NULL, NULL) < 0)
    return 0;
  char *p = strstr (buf, "\nUid:");
  return p ? (uid_t)strtoul (p + 5, NULL, 10) : 0;
}

/* The arguments joined by spaces, or [comm] for a process without any (as ps shows kernel threads). */
static char *
read_cmd (pid_t pid)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/cmdline", (int)pid);
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (read_file_bounded (path, 65536, &buf, &len, NULL) == 0 && len > 0)
    {
      for (size_t i = 0; i + 1 < len; i++)
        if (buf[i] == '\0')
          buf[i] = ' ';
      return take_ptr (&buf);
    }
  snprintf (path, sizeof path, "/proc/%d/comm", (int)pid);
  cleanup_free char *comm = NULL;
  if (read_file_bounded (path, 256, &comm, NULL, NULL) < 0)
    return xstrdup ("?");
  comm[strcspn (comm, "\n")] = '\0';
  return xasprintf ("[%s]", comm);
}

/* Names from the container's own /etc/passwd, seen through its first process's root. */
static char *
user_name (pid_t root_pid, uid_t uid)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/root/etc/passwd", (int)root_pid);
  cleanup_file FILE *f = fopen (path, "re");
  for (struct passwd *pw; f && (pw = fgetpwent (f)) != NULL;)
    if (pw->pw_uid == uid)
      return xstrdup (pw->pw_name);
  return xasprintf ("%u", (unsigned)uid);
}

static char *
tty_name (int tty_nr)
{
  unsigned major = major ((dev_t)tty_nr), minor = minor ((dev_t)tty_nr);
  if (tty_nr == 0)
    return xstrdup ("?");
  if (major >= 136 && major <= 143)
    return xasprintf ("pts/%u", (major - 136) * 256 + minor);
  return xasprintf ("%u:%u", major, minor);
}

static double
uptime_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_BOOTTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *
row_of (pid_t pid, pid_t root_pid, const struct proc_stat *st)
{
  long hz = sysconf (_SC_CLK_TCK);
  double started = (double)st->start_ticks / (double)hz, up = uptime_seconds ();
  double ran = up - started;
  unsigned long long cpu = st->cpu_ticks / (unsigned long long)hz;
  time_t start_time = time (NULL) - (time_t)ran;
  struct tm tm;
  gmtime_r (&start_time, &tm);
  char stime[16], cputime[32];
  strftime (stime, sizeof stime, "%H:%M", &tm);
  snprintf (cputime, sizeof cputime, "%02llu:%02llu:%02llu", cpu / 3600, cpu / 60 % 60, cpu % 60);
  int c = ran > 0 ? (int)((double)st->cpu_ticks / (double)hz * 100.0 / ran) : 0;
  cleanup_free char *user = user_name (root_pid, read_uid (pid));
  cleanup_free char *tty = tty_name (st->tty_nr);
  cleanup_free char *cmd = read_cmd (pid);
  return json_pack ("[s, o, o, o, s, s, s, s]", user, json_sprintf ("%d", (int)pid), json_sprintf ("%d", (int)st->ppid),
                    json_sprintf ("%d", c), stime, tty, cputime, cmd);
}

json_t *
agent_ps (pid_t root_pid)
{
  json_t *rows = json_array ();
  char ns[128];
  if (!pid_namespace_of (root_pid, ns, sizeof ns))
    return rows;
  cleanup_dir DIR *d = opendir ("/proc");
  for (struct dirent *e; d && (e = readdir (d)) != NULL;)
    {
      if (!isdigit ((unsigned char)e->d_name[0]))
        continue;
      pid_t pid = (pid_t)atoi (e->d_name);
      struct proc_stat st;
      if (!same_pid_namespace (pid, ns) || !read_stat (pid, &st))
        continue;
      json_array_append_new (rows, row_of (pid, root_pid, &st));
    }
  return rows;
}

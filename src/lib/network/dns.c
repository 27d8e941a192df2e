/* aardvark-dns for the names on user networks (dns.h). */
#define _GNU_SOURCE
#include "network/dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

#define AARDVARK_DEFAULT "/usr/lib/podman/aardvark-dns"
/* How long a start or a new network may take to be answered on: aardvark-dns binds in a moment, but the machine
   may be loaded. */
#define DNS_READY_MS 3000

static const char *
aardvark_binary (void)
{
  const char *env = getenv ("ISOLA_AARDVARK");
  return env && env[0] ? env : AARDVARK_DEFAULT;
}

static char *
dns_dir (const struct isola_store *s)
{
  return store_path (s, "networks/dns");
}

/* The daemon's PID, when the pid file names a live aardvark-dns; else 0. */
static pid_t
daemon_pid (const char *dir)
{
  cleanup_free char *path = xasprintf ("%s/aardvark.pid", dir), *text = NULL, *cmd = NULL;
  if (read_file_bounded (path, 64, &text, NULL, NULL) < 0)
    return 0;
  long pid = strtol (text, NULL, 10);
  if (pid <= 0 || kill ((pid_t)pid, 0) < 0)
    return 0;
  cleanup_free char *proc = xasprintf ("/proc/%ld/cmdline", pid);
  size_t len = 0;
  if (read_file_bounded (proc, 4096, &cmd, &len, NULL) < 0)
    return 0;
  /* The arguments are NUL-separated: is one of them our directory (not a recycled PID)? */
  for (size_t at = 0; at < len; at += strlen (cmd + at) + 1)
    if (strcmp (cmd + at, dir) == 0)
      return (pid_t)pid;
  return 0;
}

/* Whether a UDP socket of this namespace is bound to addr:53 (/proc/net/udp: "sl  ADDR:PORT ...", the address
   in the kernel's byte order, which on x86 is the reverse of the dotted one). */
static bool
answering_on (uint32_t addr)
{
  cleanup_file FILE *f = fopen ("/proc/net/udp", "re");
  if (f == NULL)
    return false;
  char want[16];
  uint32_t be = htobe32 (addr);
  uint8_t b[4];
  memcpy (b, &be, 4);
  snprintf (want, sizeof want, "%02X%02X%02X%02X:0035", b[3], b[2], b[1], b[0]);
  char line[256];
  while (fgets (line, sizeof line, f))
    if (strstr (line, want))
      return true;
  return false;
}

static void
wait_answering (uint32_t addr)
{
  for (int waited = 0; waited < DNS_READY_MS && !answering_on (addr); waited += 5)
    {
      struct timespec t = { 0, 5 * 1000 * 1000 };
      nanosleep (&t, NULL);
    }
}

/* Whether the server at addr:53 answers an A query for name with an address (glibc's res_mkquery builds it). */
static bool
name_answered (uint32_t addr, const char *name)
{
  unsigned char query[NS_PACKETSZ], answer[NS_PACKETSZ];
  int qlen = res_mkquery (ns_o_query, name, ns_c_in, ns_t_a, NULL, 0, NULL, query, sizeof query);
  if (qlen < (int)sizeof (HEADER))
    return false;
  cleanup_close int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons (53), .sin_addr.s_addr = htonl (addr) };
  if (fd < 0 || connect (fd, (struct sockaddr *)&to, sizeof to) < 0 || send (fd, query, (size_t)qlen, 0) != qlen)
    return false;
  struct pollfd p = { .fd = fd, .events = POLLIN };
  if (poll (&p, 1, 200) != 1)
    return false;
  ssize_t n = recv (fd, answer, sizeof answer, 0);
  const HEADER *q = (const HEADER *)query, *a = (const HEADER *)answer;
  return n >= (ssize_t)sizeof (HEADER) && a->id == q->id && a->qr && a->rcode == ns_r_noerror && ntohs (a->ancount) > 0;
}

/* aardvark-dns reloads its files some time after SIGHUP: a container started meanwhile asks for a name (its own
   address unknown to the server yet) and gets "bad address" (compat's network-ip-alias, once in a whole run).  The
   start waits until the new name is answered, as Docker's embedded DNS knows a name before the container runs. */
static void
wait_name_answered (uint32_t addr, const char *name)
{
  /* by the clock: a server that does not answer costs each try its 200 ms poll */
  long long deadline = monotonic_ms () + DNS_READY_MS;
  while (!name_answered (addr, name) && monotonic_ms () < deadline)
    {
      struct timespec t = { 0, 10 * 1000 * 1000 };
      nanosleep (&t, NULL);
    }
}

/* aardvark-dns puts itself in the background once it answers; its first process is waited for here.  It keeps
   nothing of the caller's: its own session, no descriptor but /dev/null. */
static int
start_daemon (const char *dir, isola_error_t *err)
{
  const char *bin = aardvark_binary ();
  pid_t pid = fork ();
  if (pid < 0)
    return isola_error_make (err, errno, "fork");
  if (pid == 0)
    {
      sigset_t none;
      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      int null = open ("/dev/null", O_RDWR);
      if (null < 0 || dup2 (null, 0) < 0 || dup2 (null, 1) < 0 || dup2 (null, 2) < 0)
        _exit (127);
      close_range (3, ~0u, 0);
      (void)setsid ();
      char *const argv[] = { (char *)"aardvark-dns", (char *)"--config", (char *)dir, (char *)"-p",
                             (char *)"53",           (char *)"run",      NULL };
      char *const envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
      execve (bin, argv, envp);
      _exit (127);
    }
  int status = 0;
  if (waitpid_retry (pid, &status) < 0)
    return isola_error_make (err, errno, "wait for %s", bin);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return isola_error_fail (
        err, EIO, "%s did not start (exit %d)%s", bin, WIFEXITED (status) ? WEXITSTATUS (status) : -1,
        WIFEXITED (status) && WEXITSTATUS (status) == 127 ? ": install aardvark-dns (make deps)" : "");
  return 0;
}

/* Whether the directory still has a network file (anything but the daemon's pid file and our temporary files). */
static bool
has_networks (const char *dir)
{
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *e;
  while (d && (e = readdir (d)))
    if (e->d_name[0] != '.' && strcmp (e->d_name, "aardvark.pid") != 0)
      return true;
  return false;
}

/* The daemon told about the directory's new state: started, reloaded, or stopped when nothing is left. */
static int
notify (const char *dir, bool new_network, uint32_t gateway, const char *new_name, isola_error_t *err)
{
  pid_t pid = daemon_pid (dir);
  if (!has_networks (dir))
    {
      if (pid > 0)
        (void)kill (pid, SIGTERM);
      return 0;
    }
  if (pid > 0)
    (void)kill (pid, SIGHUP);
  else
    {
      int ret = start_daemon (dir, err);
      if (ret < 0)
        return ret;
    }
  /* A container's first lookup must find the server there: wait when it has an address to bind first. */
  if (new_network || pid <= 0)
    wait_answering (gateway);
  if (new_name)
    wait_name_answered (gateway, new_name);
  return 0;
}

/* The network's file without the container's line: *text (the gateway line first), NULL when there is no file. */
static char *
read_without (const char *path, const char *container_id)
{
  cleanup_free char *old = NULL;
  if (read_file_bounded (path, 1 << 22, &old, NULL, NULL) < 0)
    return NULL;
  char *text = xstrdup ("");
  size_t idlen = strlen (container_id);
  for (char *line = old, *next; line && *line; line = next)
    {
      next = strchr (line, '\n');
      if (next)
        *next++ = '\0';
      if (strncmp (line, container_id, idlen) == 0 && line[idlen] == ' ')
        continue;
      char *joined = xasprintf ("%s%s\n", text, line);
      free (text);
      text = joined;
    }
  return text;
}

int
dns_add (const struct isola_store *s, const char *network, uint32_t gateway, const char *container_id, uint32_t addr,
         const char *addr6, char *const names[], isola_error_t *err)
{
  cleanup_free char *dir = dns_dir (s);
  int ret = mkdir_p (dir, 0700, err);
  if (ret < 0)
    return ret;
  cleanup_free char *path = xasprintf ("%s/%s", dir, network);
  cleanup_free char *text = read_without (path, container_id);
  bool new_network = text == NULL;
  if (new_network)
    text = xasprintf ("%u.%u.%u.%u\n", gateway >> 24, (gateway >> 16) & 255, (gateway >> 8) & 255, gateway & 255);
  cleanup_free char *joined = xstrdup ("");
  for (size_t i = 0; names[i]; i++)
    {
      char *next = xasprintf ("%s%s%s", joined, i ? "," : "", names[i]);
      free (joined);
      joined = next;
    }
  cleanup_free char *next = xasprintf ("%s%s %u.%u.%u.%u %s %s\n", text, container_id, addr >> 24, (addr >> 16) & 255,
                                       (addr >> 8) & 255, addr & 255, addr6 ? addr6 : "", joined);
  if ((ret = write_file_atomic (path, next, strlen (next), 0600, err)) < 0)
    return ret;
  return notify (dir, new_network, gateway, names[0], err);
}

void
dns_remove (const struct isola_store *s, const char *network, const char *container_id)
{
  cleanup_free char *dir = dns_dir (s);
  cleanup_free char *path = xasprintf ("%s/%s", dir, network);
  cleanup_free char *text = read_without (path, container_id);
  if (text == NULL)
    return;
  /* Only the gateway's line left: the network has no names, and aardvark-dns no reason to listen there. */
  char *nl = strchr (text, '\n');
  if (nl == NULL || nl[1] == '\0')
    (void)unlink (path);
  else
    (void)write_file_atomic (path, text, strlen (text), 0600, NULL);
  (void)notify (dir, false, 0, NULL, NULL);
}

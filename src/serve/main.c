/* isola-serve ROOT [--tlsverify --tlscacert=F --tlscert=F --tlskey=F] ADDRESS...: the Docker Engine API on each
   address (unix://PATH, tcp://HOST:PORT, fd:// for systemd's sockets), until SIGTERM or SIGINT; TCP sockets speak
   TLS with the --tls options.  `isola serve` (src/cli/serve.c) parses the user's flags and
   executes this with the store's root ("" for the default).  A binary of its own because libmicrohttpd comes with
   GnuTLS, which the static CLI cannot link. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/util.h"
#include "serve.h"

const char *serve_root;

#define MAX_LISTENERS 16

struct listener
{
  int fd;
  char *unix_path; /* removed at exit */
  struct MHD_Daemon *daemon;
};

static struct serve_tls tls;

static int signal_pipe[2] = { -1, -1 };

static void
on_signal (int sig)
{
  char c = (char)sig;
  (void)!write (signal_pipe[1], &c, 1);
}

static void
ignore_signal (int sig)
{
}

static int
listen_unix (const char *path, struct listener *l)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof sa.sun_path)
    {
      fprintf (stderr, "isola serve: socket path too long: %s\n", path);
      return -1;
    }
  strcpy (sa.sun_path, path);
  struct stat st;
  /* A socket left by a server that died (dockerd removes it too); anything else at that path is not ours. */
  if (lstat (path, &st) == 0 && S_ISSOCK (st.st_mode))
    unlink (path);
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  mode_t old = umask (0117);
  int ret = fd < 0 ? -1 : bind (fd, (struct sockaddr *)&sa, sizeof sa);
  umask (old);
  if (ret < 0 || listen (fd, 128) < 0)
    {
      fprintf (stderr, "isola serve: cannot listen on unix://%s: %s\n", path, strerror (errno));
      if (fd >= 0)
        close (fd);
      return -1;
    }
  /* 0660, root and the group isola when there is one (docker's group, by another name). */
  struct group *g = getgrnam ("isola");
  if (g && chown (path, 0, g->gr_gid) < 0)
    fprintf (stderr, "isola serve: chown %s: %s\n", path, strerror (errno));
  (void)chmod (path, 0660);
  l->fd = fd;
  l->unix_path = xstrdup (path);
  return 0;
}

static bool
loopback (const struct addrinfo *ai)
{
  if (ai->ai_family == AF_INET)
    return (ntohl (((const struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127;
  if (ai->ai_family == AF_INET6)
    return IN6_IS_ADDR_LOOPBACK (&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
  return false;
}

static int
listen_tcp (const char *hostport, struct listener *l)
{
  cleanup_free char *host = xstrdup (hostport);
  char *colon = strrchr (host, ':');
  if (colon == NULL || colon[1] == '\0')
    {
      fprintf (stderr, "isola serve: tcp://%s: a port is needed (tcp://127.0.0.1:2375)\n", hostport);
      return -1;
    }
  *colon = '\0';
  const char *port = colon + 1;
  char *h = host;
  if (h[0] == '[' && h[strlen (h) - 1] == ']')
    h[strlen (h) - 1] = '\0', h++;
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai = NULL;
  int gai = getaddrinfo (h[0] ? h : "127.0.0.1", port, &hints, &ai);
  if (gai != 0)
    {
      fprintf (stderr, "isola serve: tcp://%s: %s\n", hostport, gai_strerror (gai));
      return -1;
    }
  if (!loopback (ai) && !tls.verify)
    {
      /* The API is root on the host: dockerd warns; isola refuses but to clients whose certificates it checks. */
      fprintf (stderr,
               "isola serve: refusing tcp://%s: not a loopback address, and no --tlsverify (anyone who reaches the "
               "socket would be root on this host)\n",
               hostport);
      freeaddrinfo (ai);
      return -1;
    }
  int fd = socket (ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  if (fd >= 0)
    (void)setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind (fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen (fd, 128) < 0)
    {
      fprintf (stderr, "isola serve: cannot listen on tcp://%s: %s\n", hostport, strerror (errno));
      if (fd >= 0)
        close (fd);
      freeaddrinfo (ai);
      return -1;
    }
  freeaddrinfo (ai);
  l->fd = fd;
  return 0;
}

/* systemd's socket activation: LISTEN_FDS sockets from fd 3, when LISTEN_PID is us. */
static int
listen_systemd (struct listener *ls, int *n)
{
  const char *pid = getenv ("LISTEN_PID"), *fds = getenv ("LISTEN_FDS");
  if (pid == NULL || fds == NULL || atol (pid) != (long)getpid () || atoi (fds) < 1)
    {
      fprintf (stderr, "isola serve: fd:// needs sockets from systemd (LISTEN_FDS, LISTEN_PID)\n");
      return -1;
    }
  for (int i = 0; i < atoi (fds) && *n < MAX_LISTENERS; i++)
    ls[(*n)++] = (struct listener){ .fd = 3 + i };
  unsetenv ("LISTEN_PID"), unsetenv ("LISTEN_FDS"), unsetenv ("LISTEN_FDNAMES");
  return 0;
}

static int
add_listener (const char *addr, struct listener *ls, int *n)
{
  if (*n >= MAX_LISTENERS)
    {
      fprintf (stderr, "isola serve: at most %d addresses\n", MAX_LISTENERS);
      return -1;
    }
  if (str_has_prefix (addr, "unix://"))
    return listen_unix (addr + 7, &ls[(*n)++]) < 0 ? (--*n, -1) : 0;
  if (addr[0] == '/')
    return listen_unix (addr, &ls[(*n)++]) < 0 ? (--*n, -1) : 0;
  if (str_has_prefix (addr, "tcp://"))
    return listen_tcp (addr + 6, &ls[(*n)++]) < 0 ? (--*n, -1) : 0;
  if (strcmp (addr, "fd://") == 0)
    return listen_systemd (ls, n);
  fprintf (stderr, "isola serve: invalid address %s (unix://PATH, tcp://127.0.0.1:PORT or fd://)\n", addr);
  return -1;
}

/* The --tls options `isola serve` passes before the addresses; *first becomes the first address's index. */
static int
parse_tls (int argc, char **argv, int *first)
{
  const char *ca = NULL, *cert = NULL, *key = NULL;
  bool verify = false;
  int i = *first;
  for (; i < argc && str_has_prefix (argv[i], "--tls"); i++)
    if (strcmp (argv[i], "--tlsverify") == 0)
      verify = true;
    else if (str_has_prefix (argv[i], "--tlscacert="))
      ca = argv[i] + strlen ("--tlscacert=");
    else if (str_has_prefix (argv[i], "--tlscert="))
      cert = argv[i] + strlen ("--tlscert=");
    else if (str_has_prefix (argv[i], "--tlskey="))
      key = argv[i] + strlen ("--tlskey=");
    else
      {
        fprintf (stderr, "isola serve: unknown option %s\n", argv[i]);
        return -1;
      }
  *first = i;
  if (!verify && (ca || cert || key))
    {
      /* dockerd's --tls without verification lets in any client: not for an API that is root on the host. */
      fprintf (stderr, "isola serve: --tlscacert, --tlscert and --tlskey go with --tlsverify\n");
      return -1;
    }
  cleanup_free char *why = NULL;
  if (verify && serve_tls_load (&tls, ca, cert, key, &why) < 0)
    {
      fprintf (stderr, "isola serve: TLS: %s\n", why);
      return -1;
    }
  return 0;
}

/* TLS is for TCP; unix sockets are guarded by their mode, as dockerd's. */
static bool
inet_socket (int fd)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  return getsockname (fd, (struct sockaddr *)&ss, &len) == 0 && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

int
main (int argc, char **argv)
{
  if (argc < 3)
    {
      fprintf (stderr, "usage: isola-serve ROOT ADDRESS... (run by `isola serve`)\n");
      return 125;
    }
  serve_root = argv[1][0] ? argv[1] : NULL;
  struct listener ls[MAX_LISTENERS];
  int n = 0;
  int ret = 0;
  int first = 2;
  if (parse_tls (argc, argv, &first) < 0)
    return 125;
  for (int i = first; i < argc && ret == 0; i++)
    ret = add_listener (argv[i], ls, &n);
  if (ret == 0 && (pipe2 (signal_pipe, O_CLOEXEC) < 0))
    ret = -1;
  /* A client that goes away must not kill the server: a handler, not SIG_IGN, which the monitors we start (and
     their containers) would inherit through exec. */
  struct sigaction pipe_sa = { .sa_handler = ignore_signal };
  sigaction (SIGPIPE, &pipe_sa, NULL);
  struct sigaction sa = { .sa_handler = on_signal };
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  for (int i = 0; i < n && ret == 0; i++)
    if ((ls[i].daemon = serve_start_daemon (ls[i].fd, tls.verify && inet_socket (ls[i].fd) ? &tls : NULL)) == NULL)
      {
        fprintf (stderr, "isola serve: cannot start the HTTP server: %s\n", strerror (errno));
        ret = -1;
      }
  if (ret == 0)
    {
      char c;
      while (read (signal_pipe[0], &c, 1) < 0 && errno == EINTR)
        ;
    }
  /* The sockets go; connections still attached, waiting or following logs end with the process (MHD_stop_daemon
     would wait for them), and the containers go on in their monitors. */
  for (int i = 0; i < n; i++)
    if (ls[i].unix_path)
      unlink (ls[i].unix_path);
  _exit (ret == 0 ? 0 : 125);
}

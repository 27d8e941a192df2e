/* A network's bridge device and firewall rules (bridge.h). */
#define _GNU_SOURCE
#include "network/bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/subprocess.h"
#include "base/util.h"
#include "network/netlink.h"

/* Where Debian puts them (the monitor's PATH may lack the sbin directories). */
#define IPTABLES_RESTORE "/usr/sbin/iptables-restore"
#define IPTABLES_SAVE    "/usr/sbin/iptables-save"

static void
push (char ***v, char *s)
{
  strv_push (v, s);
  free (s);
}

/* The rules of a network, as iptables-restore lines without their -A/-D, each after the "*TABLE" line of its
   table.  One place says what the rules are, for adding and for deleting them. */
static char **
rules_of (const struct bridge_spec *b)
{
  char subnet[32];
  snprintf (subnet, sizeof subnet, "%u.%u.%u.%u/%d", b->subnet >> 24, (b->subnet >> 16) & 255, (b->subnet >> 8) & 255,
            b->subnet & 255, b->prefix);
  char **v = xcalloc (1, sizeof (char *));
  cleanup_free char *tag = xasprintf ("-m comment --comment \"isola %s\"", b->device);
  if (!b->internal)
    {
      push (&v, xstrdup ("*nat"));
      push (&v, xasprintf ("POSTROUTING -s %s ! -d %s %s -j MASQUERADE", subnet, subnet, tag));
      push (&v, xstrdup ("*filter"));
      push (&v, xasprintf ("FORWARD -i %s %s -j ACCEPT", b->device, tag));
      push (&v, xasprintf ("FORWARD -o %s -m conntrack --ctstate RELATED,ESTABLISHED %s -j ACCEPT", b->device, tag));
    }
  else
    {
      /* Between the containers of the network only: nothing in from or out to another device. */
      push (&v, xstrdup ("*filter"));
      push (&v, xasprintf ("FORWARD -i %s ! -o %s %s -j DROP", b->device, b->device, tag));
      push (&v, xasprintf ("FORWARD -o %s ! -i %s %s -j DROP", b->device, b->device, tag));
    }
  return v;
}

static int
stdin_from (void *arg)
{
  return dup2 (*(int *)arg, 0) < 0 ? -1 : 0;
}

/* One iptables-restore of text (--noflush: the tables' other rules stay; -w: it waits for xtables' lock). */
static int
iptables_restore (const char *text, isola_error_t *err)
{
  cleanup_close int in = memfd_create ("isola-iptables", MFD_CLOEXEC);
  if (in < 0)
    return isola_error_make (err, errno, "memfd_create");
  if (write_all (in, text, strlen (text)) < 0 || lseek (in, 0, SEEK_SET) < 0)
    return isola_error_make (err, errno, "write the firewall rules");
  char *const argv[] = { (char *)IPTABLES_RESTORE, (char *)"-w", (char *)"--noflush", NULL };
  return subprocess_run (argv, stdin_from, &in, err);
}

/* "*TABLE\n-A RULE\nCOMMIT\n" for each rule. */
static char *
restore_text (char **rules)
{
  char *text = xstrdup ("");
  const char *table = NULL;
  for (char **r = rules; *r; r++)
    {
      if ((*r)[0] == '*')
        {
          table = *r;
          continue;
        }
      char *next = xasprintf ("%s%s\n-A %s\nCOMMIT\n", text, table, *r);
      free (text);
      text = next;
    }
  return text;
}

static int
add_rules (const struct bridge_spec *b, isola_error_t *err)
{
  cleanup_strv char **rules = rules_of (b);
  cleanup_free char *text = restore_text (rules);
  int ret = iptables_restore (text, err);
  return ret < 0 ? isola_error_wrap (err, ret, "add the firewall rules of %s", b->device) : 0;
}

static int
stdout_to (void *arg)
{
  return dup2 (*(int *)arg, 1) < 0 ? -1 : 0;
}

/* The rules carrying the device's comment, whatever subnet they name (an older network's, a crashed setup's), read
   back with iptables-save and deleted with one iptables-restore. */
static void
delete_rules (const char *device)
{
  cleanup_close int out = memfd_create ("isola-iptables-save", MFD_CLOEXEC);
  if (out < 0)
    return;
  char *const argv[] = { (char *)IPTABLES_SAVE, NULL };
  cleanup_free char *saved = NULL;
  if (subprocess_run (argv, stdout_to, &out, NULL) < 0 || lseek (out, 0, SEEK_SET) < 0
      || read_fd_bounded (out, 1 << 24, &saved, NULL, NULL) < 0)
    return;
  cleanup_free char *tag = xasprintf ("--comment \"isola %s\"", device);
  cleanup_free char *text = xstrdup ("");
  const char *table = NULL;
  size_t table_len = 0;
  bool any = false;
  for (char *line = saved, *next; line && *line; line = next)
    {
      next = strchr (line, '\n');
      if (next)
        *next++ = '\0';
      if (line[0] == '*')
        table = line, table_len = strlen (line);
      else if (table && str_has_prefix (line, "-A ") && strstr (line, tag))
        {
          char *joined = xasprintf ("%s%.*s\n-D %s\nCOMMIT\n", text, (int)table_len, table, line + 3);
          free (text);
          text = joined;
          any = true;
        }
    }
  if (any)
    (void)iptables_restore (text, NULL);
}

static int
enable_forwarding (isola_error_t *err)
{
  static const char path[] = "/proc/sys/net/ipv4/ip_forward";
  cleanup_close int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write (fd, "1", 1) != 1)
    return isola_error_make (err, errno, "enable forwarding (%s)", path);
  return 0;
}

int
bridge_ensure (const struct bridge_spec *b, isola_error_t *err)
{
  if (nl_link_has_address (b->device, b->gateway, b->prefix))
    return 0;
  /* A device of that name without the gateway (another store's, made for another subnet), or rules left by a crash
     between the rules and the device: removed first, so that nothing is doubled or stale. */
  bridge_remove (b);
  int ret = enable_forwarding (err);
  if (ret == 0)
    ret = add_rules (b, err);
  if (ret == 0)
    ret = nl_bridge_add (b->device, b->gateway, b->prefix, err);
  /* No ip6tables rules: Docker 20.10 makes none for an IPv6 network either (its --ip6tables is experimental). */
  if (ret == 0 && b->has6 && (ret = nl_link_add_address6 (b->device, &b->gateway6, b->prefix6, err)) < 0)
    (void)nl_link_delete (b->device, NULL);
  if (ret < 0)
    delete_rules (b->device);
  return ret;
}

void
bridge_remove (const struct bridge_spec *b)
{
  (void)nl_link_delete (b->device, NULL);
  delete_rules (b->device);
}

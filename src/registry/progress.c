#define _GNU_SOURCE
#include "progress.h"

#include <string.h>

#include "base/util.h"

#define BAR_WIDTH 50

void
progress_clear (struct progress *p)
{
  strv_free (p->ids);
  p->ids = NULL;
}

char *
progress_bar (int64_t done, int64_t total)
{
  if (total <= 0)
    return xstrdup ("");
  int filled = (int)(done * BAR_WIDTH / total);
  char bar[BAR_WIDTH + 3];
  for (int i = 0; i < BAR_WIDTH; i++)
    bar[i] = i < filled ? '=' : i == filled ? '>' : ' ';
  bar[BAR_WIDTH] = '\0';
  cleanup_free char *d = human_size (done), *t = human_size (total);
  return xasprintf ("[%s]  %s/%s", bar, d, t);
}

void
progress_line (struct progress *p, const char *id, const char *text)
{
  if (!p->tty)
    {
      fprintf (p->out, "%s: %s\n", id, text);
      fflush (p->out);
      return;
    }
  size_t n = strv_len (p->ids), i = 0;
  while (i < n && strcmp (p->ids[i], id) != 0)
    i++;
  if (i == n)
    {
      strv_push (&p->ids, id);
      fprintf (p->out, "%s: %s\n", id, text);
    }
  else
    {
      size_t up = n - i;
      fprintf (p->out, "\033[%zuA\033[2K\r%s: %s\n", up, id, text);
      if (up > 1)
        fprintf (p->out, "\033[%zuB", up - 1);
    }
  fflush (p->out);
}

void
progress_bytes (struct progress *p, const char *id, const char *verb, int64_t done, int64_t total)
{
  long long now = monotonic_ms ();
  if (!p->tty || (done < total && now - p->last_draw < 100))
    return;
  p->last_draw = now;
  cleanup_free char *bar = progress_bar (done, total);
  cleanup_free char *text = xasprintf ("%s %s", verb, bar);
  progress_line (p, id, text);
}

/* Docker's progress display for pull and push (its jsonmessage): on a terminal each layer keeps one line, rewritten
   where it is, with a bar while bytes move; otherwise one plain line per change of status. */
#ifndef ISOLA_REGISTRY_PROGRESS_H
#define ISOLA_REGISTRY_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct progress
{
  bool quiet;
  bool tty;
  FILE *out;
  char **ids; /* layers in the order their lines were printed (tty) */
  long long last_draw;
};

void progress_clear (struct progress *p);

/* "[=====>    ]  1.2MB/3.4MB" */
char *progress_bar (int64_t done, int64_t total);

/* "ID: TEXT": rewritten in place on a terminal, a new line otherwise. */
void progress_line (struct progress *p, const char *id, const char *text);

/* A bar for the layer id (verb: "Downloading", "Pushing"): terminals only, ten redraws a second at most, and the
   last one always. */
void progress_bytes (struct progress *p, const char *id, const char *verb, int64_t done, int64_t total);

#endif

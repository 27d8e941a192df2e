/* Reading a container's log (container/logfile.h: ctr.log's records) as `logs` shows it, for the CLI and the API
   alike.  Apart from logfile.c, which the monitor links for its writer: the reader needs the log configuration's file
   names (logconfig.c), which the monitor has no use for. */
#ifndef ISOLA_LOGREADER_H
#define ISOLA_LOGREADER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A log as `logs` reads it: its files oldest first (json-file's rotated
   ctr.log.N … ctr.log.1, then ctr.log), each held once even while the monitor rotates them, from where the last
   --tail lines start; and following the newest across rotations (the rest of a renamed file, then the file that
   came after it) and max-file 1's emptying (from its start again). */
struct log_reader
{
  char *path; /* ctr.log */
  int max_file;
  int *fds; /* oldest first */
  ino_t *inos;
  size_t n, cur; /* cur: the file being read */
  char *buf;     /* read and not returned yet: after the lines returned last, the start of a line not ended yet */
  size_t len, cap, returned;
  bool draining; /* the newest file was rotated away: read to its end once more before moving on */
};

/* Opens the files of the log at path (ctr.log) that exist: none is no error (a container never started). */
void log_reader_open (struct log_reader *r, const char *path, int max_file);
void log_reader_close (struct log_reader *r);
/* Where reading starts: at the last n lines of the log (n < 0: all of it; 0: only what is written next). */
int log_reader_tail (struct log_reader *r, long n);
/* The next whole lines (each with its "\n"; about a block of them), in the reader's buffer until the next call:
   1, or 0 when every file has been read to its end (0 again later when nothing was written since). */
int log_reader_next (struct log_reader *r, const char **lines, size_t *len);
/* Following, at the end of the newest file: moves on when the monitor has rotated it (true: read on) or emptied
   it (max-file 1). */
bool log_reader_follow (struct log_reader *r);

#endif

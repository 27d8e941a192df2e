/* A container's log (ctr.log): one JSON object per line, as Docker's json-file driver writes it:
     {"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}
   A line longer than LOG_LINE_MAX is split into several records; only the last carries the "\n". */
#ifndef ISOLA_LOGFILE_H
#define ISOLA_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define LOG_LINE_MAX (16 * 1024)

struct log_writer
{
  int fd;
  char *partial[2]; /* unterminated output per stream (0 stdout, 1 stderr) */
  size_t partial_len[2];
};

void log_writer_init (struct log_writer *w, int fd);
/* Appends output of a stream (1 stdout, 2 stderr), emitting complete lines. */
int log_writer_feed (struct log_writer *w, int stream, const char *buf, size_t len);
/* Emits what is left of unterminated lines. */
int log_writer_flush (struct log_writer *w);
void log_writer_clear (struct log_writer *w);

struct log_record
{
  int stream; /* 1 stdout, 2 stderr */
  char *text; /* the "log" string, with its "\n" if any */
  size_t len;
  char *time;      /* RFC 3339 */
  int64_t seconds; /* parsed time */
};

/* Parses one line of ctr.log. EINVAL for a corrupt line. */
int log_record_parse (const char *line, size_t len, struct log_record *out);
void log_record_clear (struct log_record *r);

#endif

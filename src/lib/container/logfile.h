/* A container's log (ctr.log): one JSON object per line, as Docker's json-file driver writes it:
     {"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}
   A line longer than LOG_LINE_MAX is split into several records; only the last carries the "\n".  docs/LOGS.md.

   Both ends are hand-written rather than jansson: output goes through them at hundreds of MB/s, a record or two per
   line of output.  The reader falls back to jansson for any line that is not in the writer's simple shape. */
#ifndef ISOLA_LOGFILE_H
#define ISOLA_LOGFILE_H

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define LOG_LINE_MAX (16 * 1024)
/* Encoded records are collected and written together, at most this many bytes at once (whole records only): a
   system call costs ~20 us on this kind of host, so few and large ones.  Always room for the longest record (a
   LOG_LINE_MAX piece of bytes that are all escaped as \uXXXX). */
#define LOG_BATCH_MAX (256 * 1024)

struct log_writer
{
  int fd;
  char *partial[2]; /* unterminated output per stream (0 stdout, 1 stderr): LOG_LINE_MAX bytes each, or NULL */
  size_t partial_len[2];
  char *batch; /* encoded records not written yet (LOG_BATCH_MAX bytes, allocated with the first output) */
  size_t batch_len;
  /* What follows the text in a record of each stream, `","stream":"stdout","time":"…"}` and the newline: the time
     of the output being fed, one reading of the clock per log_writer_feed; its date and seconds are formatted
     again only when the second changes. */
  char tail[2][80];
  size_t tail_len;
  int64_t tail_sec;
  /* Rotation (json-file's max-size and max-file): the file's path, its size, and the limits; max_size 0: none. */
  char *path;
  int64_t size, max_size;
  int max_file;
};

/* A writer appending to fd (opened with O_APPEND; -1: output is dropped, the none driver).  A torn last record (its
   writer killed in the middle of a write) is ended with a newline first, so that it stays a line of its own that
   readers skip. */
void log_writer_init (struct log_writer *w, int fd);
/* Rotates the file at path (the one fd is open on) once it has max_size bytes (> 0): ctr.log becomes ctr.log.1,
   ctr.log.1 ctr.log.2 … up to max_file - 1 files besides ctr.log, the oldest dropped; with max_file 1 the file is
   emptied.  Only whole records are written to a file, so none is split or repeated across files. */
void log_writer_set_rotation (struct log_writer *w, const char *path, int64_t max_size, int max_file);
/* Appends output of a stream (1 stdout, 2 stderr), emitting complete lines; they are in the file on return. */
int log_writer_feed (struct log_writer *w, int stream, const char *buf, size_t len);
/* Emits what is left of unterminated lines. */
int log_writer_flush (struct log_writer *w);
void log_writer_clear (struct log_writer *w);

/* The JSON string body (without quotes) of len bytes of output, escaped as Docker's json-file does: `"` `\` and
   control characters, `<` `>` `&`, U+2028 and U+2029 escaped; each byte that is not part of valid UTF-8 becomes
   \ufffd.  dst must hold LOG_ESCAPED_MAX (len) bytes; returns the length written. */
#define LOG_ESCAPED_MAX(len) ((len)*6)
size_t log_escape (char *dst, const char *src, size_t len);

struct log_record
{
  int stream;       /* 1 stdout, 2 stderr */
  const char *text; /* the "log" string, decoded, with its "\n" if any: in the caller's buffer */
  size_t len;
  const char *time; /* the "time" string (RFC 3339), decoded, in the caller's buffer; not NUL-terminated */
  size_t time_len;
};

/* Decodes one line of ctr.log (without its "\n").  The strings go to buf, which must hold len bytes (decoding
   never makes JSON longer).  -EINVAL for a line that is not a record, a torn one say. */
int log_record_decode (const char *line, size_t len, char *buf, struct log_record *out);
/* The fast path of log_record_decode alone: 0 and the record, or 1 when the line is not a flat object of strings
   (then only the general parser can tell).  Whatever it accepts, jansson accepts with the same values. */
int log_record_decode_fast (const char *line, size_t len, char *buf, struct log_record *out);

/* Where the last n lines of fd start: after the (n+1)-th newline from its end (what follows the last newline is not
   a line yet); *lines: how many lines start there (fewer than n when the file has fewer).  logs --tail, and the
   API's ?tail=. */
off_t log_tail_offset (int fd, long n, long *lines);

#endif

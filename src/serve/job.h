/* Library work that changes what a whole process shares runs in a child process of its own: mounting a container's
   layers (a private mount namespace, made once per process: container/layer.c, driver/vm_disk.c), libarchive's
   extraction (fchdir), a freeze held while a layer is read.  The server's connections are threads of one process,
   so such a job (archive, changes, export, commit) is forked and talks back over pipes: messages (one JSON object
   a line) and, for a job that streams, its output. */
#ifndef ISOLA_SERVE_JOB_H
#define ISOLA_SERVE_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"
#include "serve.h"

struct serve_job
{
  pid_t pid;
  int msg;   /* the child's messages (read end) */
  int data;  /* its output (read end), or -1 */
  char *buf; /* messages read, not yet returned */
  size_t len;
  json_t *error; /* the child's error message, once read */
};

/* The child's side: fn runs in the child with msg (to send messages on) and data (its output's write end, or -1);
   its error, when it fails, is sent as the last message, {"errno": N, "message": "…"}. */
typedef int (*serve_job_fn) (void *arg, int msg, int data, isola_error_t *err);
int serve_job_send (int msg, json_t *m); /* steals m */

/* Forks the job (with_data: with an output pipe); keep: a descriptor of the server's the child needs (or -1). */
int serve_job_start (serve_job_fn fn, void *arg, bool with_data, struct serve_job *j, isola_error_t *err);
int serve_job_start_keeping (serve_job_fn fn, void *arg, bool with_data, int keep, struct serve_job *j,
                             isola_error_t *err);
/* The child's next message: 1 and *out, 0 when it sent no more or failed (then serve_job_finish tells how it
   ended). */
int serve_job_next (struct serve_job *j, json_t **out);
/* Closes the pipes, waits for the child: 0 when it succeeded, else its error (from its last message). */
int serve_job_finish (struct serve_job *j, isola_error_t *err);

/* The job's error message as Docker's reply (the status of its errno); the job is finished. */
enum MHD_Result serve_job_reply_error (struct serve_request *r, struct serve_job *j);
/* Streams the job's output as a 200 response with type (and the extra header, when name is not NULL); at the end of
   the output the job is finished, and a failure cuts the response short (the client sees the stream break). */
enum MHD_Result serve_job_reply_stream (struct serve_request *r, struct serve_job *j, const char *type,
                                        const char *header, const char *value);
/* Runs a job without output to its end: its message {"result": …} as a reply of status, or its error. */
enum MHD_Result serve_job_reply_result (struct serve_request *r, serve_job_fn fn, void *arg, unsigned status);

#endif

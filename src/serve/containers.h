/* What the container endpoints share (containers.c, containers_io.c, exec.c). */
#ifndef ISOLA_SERVE_CONTAINERS_H
#define ISOLA_SERVE_CONTAINERS_H

#include "container/container.h"
#include "serve.h"
#include "store/store.h"

/* Opens the store (no lock) and loads the container named what (name, ID or prefix), refreshed; -1 after replying
   Docker's 404 "No such container: …" or another error. */
int serve_load_container (struct serve_request *r, const char *what, struct isola_store **s, struct container **c,
                          enum MHD_Result *reply);
/* container_start, handing the session to an attach that waits for the start; reaps the monitor when it ends. */
int serve_start (struct isola_store *s, struct container *c, isola_error_t *err, int *code);
/* The terminal size of c's main process (session NULL: over a new session) or of the exec on session. */
int serve_send_resize (struct container *c, int *session, unsigned rows, unsigned cols, isola_error_t *err);

/* An endpoint of one container, the path's first variable: its handler gets it loaded. */
typedef enum MHD_Result (*serve_container_fn) (struct serve_request *r, struct isola_store *s, struct container *c);
struct serve_container_route
{
  const char *method, *pattern;
  serve_container_fn fn;
};
/* The first of the n routes that matches r, with its container loaded (Docker's 404 "No such container" replied
   when there is none); SERVE_NOT_MINE when none matches. */
enum MHD_Result serve_container_routes (struct serve_request *r, const struct serve_container_route *routes, size_t n);

/* containers_io.c */
enum MHD_Result serve_attach (struct serve_request *r, struct isola_store *s, struct container *c);
enum MHD_Result serve_wait (struct serve_request *r, struct isola_store *s, struct container *c);
enum MHD_Result serve_logs (struct serve_request *r, struct isola_store *s, struct container *c);

#endif

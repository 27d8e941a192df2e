/* isola-serve: the Docker Engine API (docs/API.md) over libmicrohttpd, a front end over the same library and store
   as the CLI.  http.c routes a request to the handler of its endpoint group (system.c, containers.c, exec.c,
   images.c, volumes.c, networks.c); hijack.c relays the upgraded connections of attach and exec to a container's
   monitor.  One thread per connection (MHD's), so a handler may block: wait, logs --follow, attach. */
#ifndef ISOLA_SERVE_H
#define ISOLA_SERVE_H

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

#define SERVE_API_VERSION     "1.41"
#define SERVE_MIN_API_VERSION "1.24"
/* A request body is JSON (create, exec, networks, volumes) and small; image archives (load) go to a file. */
#define SERVE_BODY_MAX (4 * 1024 * 1024)

extern const char *serve_root; /* the store (NULL: the default) */

struct serve_request
{
  struct MHD_Connection *conn;
  const char *method;
  char *path; /* without the /vX.Y prefix */
  int api_major, api_minor;
  const char *arg[2]; /* the path's variable parts ({id}, {name}), pointing into path */
  /* The body: in memory up to SERVE_BODY_MAX, or streamed to body_fd (image load). */
  char *body;
  size_t body_len;
  bool body_too_big;
  int body_fd;
  char *body_path;
};

/* Handlers queue a response (the helpers below) and return what MHD_queue_response returned. */
typedef enum MHD_Result (*serve_handler_fn) (struct serve_request *r);

/* Query parameters: the value, or NULL; boolean ones as Docker reads them ("1", "true", "True"). */
const char *serve_query (struct serve_request *r, const char *key);
bool serve_query_bool (struct serve_request *r, const char *key);
long long serve_query_int (struct serve_request *r, const char *key, long long fallback);
/* The body as JSON: NULL after replying 400 with Docker's message for malformed JSON; an empty body is {}. */
json_t *serve_body_json (struct serve_request *r, enum MHD_Result *ret);

/* Responses, with Docker's headers (Api-Version, Server, Ostype). */
void serve_add_headers (struct MHD_Response *resp);
enum MHD_Result serve_reply (struct serve_request *r, unsigned status, const char *type, const void *data, size_t len);
enum MHD_Result serve_reply_json (struct serve_request *r, unsigned status, json_t *body); /* steals body */
enum MHD_Result serve_reply_empty (struct serve_request *r, unsigned status);
/* resp (may be NULL: MHD_NO) with Docker's headers, queued and released. */
enum MHD_Result serve_reply_response (struct serve_request *r, unsigned status, struct MHD_Response *resp);
/* A 200 of type whose body is what comes out of the pipe fd (closed at its end, or here when MHD fails). */
enum MHD_Result serve_reply_pipe (struct serve_request *r, int fd, const char *type);
enum MHD_Result serve_reply_error (struct serve_request *r, unsigned status, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* The error's message with the status Docker gives its kind (ENOENT 404, EEXIST/EBUSY 409, EINVAL 400, else 500). */
enum MHD_Result serve_reply_isola_error (struct serve_request *r, isola_error_t err);
unsigned serve_status_of (int errno_value);

/* A streamed body: read() called as MHD wants more (MHD's content reader: bytes, or END_OF_STREAM / END_WITH_ERROR),
   free() at the end.  The reader may block: each connection has its thread. */
enum MHD_Result serve_reply_stream (struct serve_request *r, unsigned status, const char *type,
                                    MHD_ContentReaderCallback read, void *cls, MHD_ContentReaderFreeCallback free_cls);
/* A stream's reader handing out what it holds: the bytes of data[*pos..len) that fit in max, copied to buf (0 when
   none is left); *pos moves past them. */
size_t serve_stream_take (char *buf, size_t max, const char *data, size_t len, size_t *pos);
/* Whether the client of r has closed its connection (a blocked stream stops then). */
bool serve_client_gone (struct MHD_Connection *conn);
/* The connection's socket (-1 if unknown), and whether the peer of a socket has closed it (true for -1): a thread
   that outlives the request's callbacks watches a dup of the socket, which stays valid whatever libmicrohttpd
   does with the connection. */
int serve_client_fd (struct MHD_Connection *conn);
bool serve_fd_gone (int fd);

/* Hijacking (attach, exec start): 101 UPGRADED, then handler(cls, sock) runs on the raw socket (extra: bytes the
   client sent already) in the connection's thread; the connection is closed when it returns. */
typedef void (*serve_hijack_fn) (void *cls, int sock, const char *extra, size_t extra_len);
enum MHD_Result serve_reply_hijack (struct serve_request *r, serve_hijack_fn fn, void *cls, void (*free_cls) (void *));

/* Endpoint groups: each returns MHD_NO-or-YES from its reply, or SERVE_NOT_MINE when no route of its matches. */
#define SERVE_NOT_MINE ((enum MHD_Result) - 1)
enum MHD_Result serve_system (struct serve_request *r);
enum MHD_Result serve_containers (struct serve_request *r);
enum MHD_Result serve_exec (struct serve_request *r);
enum MHD_Result serve_images (struct serve_request *r);
enum MHD_Result serve_volumes (struct serve_request *r);
enum MHD_Result serve_networks (struct serve_request *r);
enum MHD_Result serve_layers (struct serve_request *r);
enum MHD_Result serve_prune (struct serve_request *r);
enum MHD_Result serve_stats (struct serve_request *r);
enum MHD_Result serve_auth (struct serve_request *r);

/* Matches r's method and path against METHOD and a pattern whose "*" segments are variables (r->arg[0], [1]). */
bool serve_route (struct serve_request *r, const char *method, const char *pattern);

/* TLS on TCP sockets, as dockerd's --tlsverify (tls.c): PEM contents; verify when a client must show a certificate
   signed by the CA. */
struct serve_tls
{
  char *ca, *cert, *key;
  gnutls_certificate_credentials_t cred;
  bool verify;
};
/* Reads and checks the three files: -1 with *why (allocated) on failure. */
int serve_tls_load (struct serve_tls *tls, const char *ca, const char *cert, const char *key, char **why);
/* Accepts the TLS connections of listen_fd and hands their plain streams to daemon (started without a listening
   socket): -1 with errno when its thread cannot start. */
int serve_tls_front_start (int listen_fd, const struct serve_tls *tls, struct MHD_Daemon *daemon);
/* NULL when the client of conn (a connection of such a daemon) showed a certificate the CA signed; else why not. */
const char *serve_tls_refusal (struct MHD_Connection *conn);

/* The daemon for one listening socket, with TLS when tls is not NULL; NULL with errno on failure. */
struct MHD_Daemon *serve_start_daemon (int listen_fd, const struct serve_tls *tls);

#endif

/* A process container's exec through its monitor: the request as the CLI sends it in an ATTACH_EXEC frame
   (docs/ATTACH.md), and its decoding in the monitor, which runs the command (nsexec_start) from its own sealed
   executable and relays its stdio over the connection, as it does for a VM's agent. */
#ifndef ISOLA_PROCESS_EXEC_H
#define ISOLA_PROCESS_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "driver/driver.h"

/* The process driver's exec_session op (driver.h). */
int process_exec_session (struct container *c, const struct exec_request *req, int *fd_out, struct attach_decoder *dec,
                          isola_error_t *err);

/* A request decoded from an ATTACH_EXEC payload: req points into the strings owned here. */
struct process_exec_wire
{
  struct exec_request req;
  char **argv, **env;
  char *user, *cwd, *exec_id;
};

int process_exec_decode (const uint8_t *payload, size_t len, struct process_exec_wire *out, isola_error_t *err);
void process_exec_wire_clear (struct process_exec_wire *w);

#endif

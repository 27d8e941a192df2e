/* The client side of the attach protocol (attach.h): connecting to a container's monitor, reading its frames, and
   the first answer to a start or an exec.  Used by the CLI (run, start, attach, exec) and by the VM driver, whose
   container's processes only its monitor reaches. */
#ifndef ISOLA_ATTACH_CLIENT_H
#define ISOLA_ATTACH_CLIENT_H

#include "base/error.h"
#include "proto/attach.h"

/* Connects to DIR/attach.sock and checks the monitor's greeting; peer names it in messages ("the monitor of ID"). */
int attach_client_connect (const char *dir, const char *peer, int *fd_out, struct attach_decoder *dec,
                           isola_error_t *err);

/* Reads the monitor's HELLO and checks its protocol version. */
int attach_client_expect_hello (int fd, struct attach_decoder *dec, isola_error_t *err);

/* Reads attach frames from the monitor until one arrives (0), or -EPIPE when the connection ends, -EPROTO. */
int attach_client_read_frame (int fd, struct attach_decoder *dec, struct attach_frame *f);

/* The first answer to a start or an exec: 0 for STARTED; for FAILED the error, and *exit_code 125/126/127. */
int attach_client_wait_started (int fd, struct attach_decoder *dec, int *exit_code, isola_error_t *err);

#endif

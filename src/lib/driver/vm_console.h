/* A VM's serial console (the guest kernel's console=ttyS0): what a guest writes there lands in ID/console.log,
   which a hostile guest could otherwise grow without end (a container with a mknod'd ttyS0 writes as fast as QEMU
   emulates the port).  QEMU writes it into a socket; a small process of the caller's (forked, not exec'd) copies
   it into the file, mode 0600, and keeps at most VM_CONSOLE_MAX bytes: the latest part.  Neither QEMU nor the
   monitor ever waits on that file: the copier drains the socket as fast as it comes, and ends at its end of file,
   when QEMU is gone. */
#ifndef ISOLA_VM_CONSOLE_H
#define ISOLA_VM_CONSOLE_H

#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

#define VM_CONSOLE_MAX (1 << 20)

/* Creates (truncates) path with mode 0600 and forks its copier, a child of the caller that dies with it and ends
   once every copy of the returned descriptor is closed.  Returns QEMU's end of the socket (close-on-exec: hand it
   to QEMU as `-chardev socket,fd=N`, then close it), or -errno; the copier's PID in *copier for the caller to
   reap (the monitor reaps every child; the template builder waits for it). */
int vm_console_start (const char *path, pid_t *copier, isola_error_t *err);

/* The copier's loop, also for tests: reads in until its end of file, appending to out (a regular file, size 0 on
   entry); whenever out would exceed max, it keeps only its latest max / 2 bytes and goes on from there, so that
   out never holds more than max bytes. */
void vm_console_copy (int in, int out, size_t max);

#endif

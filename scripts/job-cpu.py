#!/usr/bin/python3
"""usage: job-cpu.py OUT COMMAND [ARG...]

Runs COMMAND and writes to OUT the CPU time it cost: user and system seconds of COMMAND and of every process it
started, the daemons among them too.  Exits with COMMAND's status.

A container's monitor and VM worker leave the CLI that started them (they are daemons, and move to the container's
cgroup), so neither the job's own rusage nor a cgroup of the job would count them.  This process becomes the child
subreaper of everything COMMAND starts: a daemon's parent is then this process, not init, and its CPU time (with its
own children's: QEMU, the container's processes) reaches RUSAGE_CHILDREN here when it is reaped.  What still runs
when COMMAND has ended gets a few seconds to end (a test's container being removed); what outlives that is the
leftovers check's business (scripts/run-tests.sh), and its CPU time goes uncounted."""

import ctypes
import os
import resource
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
LINGER_SECONDS = 10


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, argv = sys.argv[1], sys.argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("job-cpu.py: prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(ctypes.get_errno()))
    # The job's process group gets the run's ^C (run-tests.sh passes it on): COMMAND acts on it, this process waits
    # for COMMAND to end.  A handler, not SIG_IGN, so that exec gives COMMAND the default back.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        except OSError as e:
            print(f"job-cpu.py: {argv[0]}: {e.strerror}", file=sys.stderr)
            os._exit(127)
    status = None
    deadline = None
    while True:
        try:
            if status is None:
                got, st = os.waitpid(-1, 0)
            else:
                got, st = os.waitpid(-1, os.WNOHANG)
                if got == 0:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
                    continue
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if got == pid:
            status = os.waitstatus_to_exitcode(st)
            deadline = time.monotonic() + LINGER_SECONDS
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as f:
        f.write(f"{ru.ru_utime:.2f} {ru.ru_stime:.2f}\n")
    if status < 0:
        status = 128 - status
    sys.exit(status)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A client of isola serve's hijacked endpoints (attach, exec start), as the docker CLI speaks them but scriptable:
serve_hijack.py SOCKET PATH [--body JSON] [--send BYTES | --await TEXT]... [--pause SECONDS] [--timeout SECONDS]
                 [--until TEXT] [--frames]

POSTs PATH over the unix socket with Upgrade: tcp, waits for 101, then in their order sends each BYTES (Python
escapes: '\\x10' is ctrl-p) after PAUSE seconds and waits until the output holds each --await TEXT (what is sent
after it, a detach key above all, must not overtake the output it waits for, however slow the host), and prints
what comes until the server closes the connection (exit 0), or until TIMEOUT (exit 3).  With --until, the wait for
more ends one second after TEXT came (exit 3 when the server has not closed by then): a session that stays open is
seen as soon as it has said what it should, however slow the host, instead of after a fixed TIMEOUT.  With --frames,
the 8-byte frames of a session without a terminal are decoded: their payloads are printed."""
import argparse
import select
import socket
import sys
import time


def shown(out, frames):
    """What to print of the bytes read: with frames, their payloads (an incomplete last frame's so far)."""
    if not frames:
        return out
    payload = b""
    while len(out) >= 8:
        n = int.from_bytes(out[4:8], "big")
        payload += out[8:8 + n]
        out = out[8 + n:]
    return payload


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("path")
    ap.add_argument("--body", default="")
    ap.add_argument("--send", dest="steps", action="append", type=lambda b: ("send", b), default=[])
    ap.add_argument("--await", dest="steps", action="append", type=lambda t: ("await", t))
    ap.add_argument("--pause", type=float, default=0.5)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--until", default=None, help="stop waiting a second after this text came")
    ap.add_argument("--frames", action="store_true", help="decode Docker's 8-byte frames")
    a = ap.parse_args()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(a.socket)
    body = a.body.encode()
    req = (f"POST {a.path} HTTP/1.1\r\nHost: isola\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    s.sendall(req)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(f"the server closed before its headers: {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n")[0].decode()
    if " 101 " not in status:
        sys.exit(f"not upgraded: {status}")
    out = rest
    deadline = time.monotonic() + a.timeout
    closed = False
    for kind, arg in a.steps:
        if kind == "send":
            time.sleep(a.pause)
            s.sendall(arg.encode().decode("unicode_escape").encode("latin-1"))
            continue
        while not closed and arg.encode() not in shown(out, a.frames):
            r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                sys.stdout.buffer.write(shown(out, a.frames))
                sys.exit(f"\nno {arg!r} in the output after {a.timeout} s")
            chunk = s.recv(65536)
            closed = not chunk
            out += chunk
    until = a.until.encode() if a.until is not None else None
    while not closed and time.monotonic() < deadline:
        r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        chunk = s.recv(65536)
        if not chunk:
            closed = True
            break
        out += chunk
        if until is not None and until in shown(out, a.frames):
            deadline = min(deadline, time.monotonic() + 1.0)
            until = None
    sys.stdout.buffer.write(shown(out, a.frames))
    sys.stdout.flush()
    sys.exit(0 if closed else 3)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""The API calls `docker run [--rm] busybox true` makes (docker 20.10's CLI), without the CLI: _ping, create (with
AutoRemove for --rm), attach (hijacked: 101, then the stream until its end), wait (condition=removed for --rm, else
next-exit), start; one persistent client per run, as the CLI.  Without --rm the container is removed after the
timing.  Prints each run's wall time in ms, and at the end the server's CPU time per run (the removals outside the
timing included).
    bench/serve_api.py SOCKET SERVER_PID RUNS [NETWORK [WARMUPS [rm|keep]]]"""

import json
import os
import socket
import sys
import time


def cpu_s(pid):
    """utime + stime of pid and its threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""

    def _read_until(self, sep):
        while sep not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        head, self.buf = self.buf.split(sep, 1)
        return head

    def request(self, method, path, body=None, upgrade=False):
        data = json.dumps(body).encode() if body is not None else b""
        hdr = f"{method} /v1.41{path} HTTP/1.1\r\nHost: docker\r\nContent-Length: {len(data)}\r\n"
        if body is not None:
            hdr += "Content-Type: application/json\r\n"
        if upgrade:
            hdr += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
        self.s.sendall(hdr.encode() + b"\r\n" + data)
        head = self._read_until(b"\r\n\r\n").decode()
        status = int(head.split(" ", 2)[1])
        if upgrade:
            return status, None
        headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in head.split("\r\n")[1:] if ":" in l)}
        if "chunked" not in headers.get("transfer-encoding", ""):
            n = int(headers.get("content-length", "0"))
            while len(self.buf) < n:
                self.buf += self.s.recv(65536)
            payload, self.buf = self.buf[:n], self.buf[n:]
        else:  # chunked
            payload = b""
            while True:
                size = int(self._read_until(b"\r\n"), 16)
                while len(self.buf) < size + 2:
                    self.buf += self.s.recv(65536)
                payload += self.buf[:size]
                self.buf = self.buf[size + 2:]
                if size == 0:
                    break
        return status, payload

    def drain(self):
        while self.s.recv(65536):
            pass

    def close(self):
        self.s.close()


def run_once(sock, network, rm):
    t0 = time.monotonic()
    c = Conn(sock)
    c.request("GET", "/_ping")
    st, body = c.request("POST", "/containers/create",
                         {"Image": "busybox", "Cmd": ["true"], "AttachStdout": True, "AttachStderr": True,
                          "HostConfig": {"AutoRemove": rm, "NetworkMode": network}})
    if st != 201:
        raise RuntimeError(f"create: {st} {body}")
    cid = json.loads(body)["Id"]
    attach = Conn(sock)
    st, _ = attach.request("POST", f"/containers/{cid}/attach?stderr=1&stdout=1&stream=1", upgrade=True)
    if st != 101:
        raise RuntimeError(f"attach: {st}")
    waiter = Conn(sock)
    # the wait's headers come at once, its body at the end: sent now, read after the stream
    waiter.s.sendall(f"POST /v1.41/containers/{cid}/wait?condition={'removed' if rm else 'next-exit'} HTTP/1.1\r\nHost: docker\r\n"
                     "Content-Length: 0\r\n\r\n".encode())
    st, body = c.request("POST", f"/containers/{cid}/start")
    if st != 204:
        raise RuntimeError(f"start: {st} {body}")
    attach.drain()
    head = waiter._read_until(b"\r\n\r\n")
    payload = waiter.buf
    while b"StatusCode" not in payload or b"}" not in payload.split(b"StatusCode", 1)[1]:
        chunk = waiter.s.recv(65536)
        if not chunk:
            break
        payload += chunk
    if b'"StatusCode":0' not in payload.replace(b" ", b""):
        raise RuntimeError(f"wait: {head} {payload}")
    elapsed = time.monotonic() - t0
    if not rm:
        st, body = c.request("DELETE", f"/containers/{cid}")
        if st != 204:
            raise RuntimeError(f"remove: {st} {body}")
    for x in (c, attach, waiter):
        x.close()
    return elapsed


def main():
    sock, pid, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    network = sys.argv[4] if len(sys.argv) > 4 else "default"
    warmups = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    rm = (sys.argv[6] if len(sys.argv) > 6 else "rm") == "rm"
    for _ in range(warmups):
        run_once(sock, network, rm)
    cpu0 = cpu_s(pid)
    for _ in range(runs):
        print(f"{run_once(sock, network, rm) * 1000:.2f}")
    print(f"cpu {(cpu_s(pid) - cpu0) / runs * 1000:.2f}")


if __name__ == "__main__":
    main()

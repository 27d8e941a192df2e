#!/usr/bin/env python3
"""The key set of `inspect` JSON on stdin, for comparing an object's shape with dockerd's: one sorted line per key
path (NAME.SUB), objects and arrays of objects walked, a Go map's keys (Labels, Networks, ...) shown as *.  With
arguments, only the key paths under those (e.g. HostConfig Config)."""
import json
import sys

# the Go maps of Docker's inspect types: their keys are data, not shape
MAPS = {"Labels", "Networks", "Ports", "PortBindings", "Volumes", "ExposedPorts", "Data", "Sysctls", "DriverOpts",
        "Options", "StorageOpt", "Tmpfs", "Annotations", "LogConfig.Config"}


def walk(v, path, out):
    if isinstance(v, list):
        for x in v:
            walk(x, path + "[]", out)
        return
    if not isinstance(v, dict):
        return
    last = path.rsplit(".", 1)[-1].rstrip("[]")
    is_map = last in MAPS or path.endswith("LogConfig.Config")
    for k, x in v.items():
        p = (path + "." if path else "") + ("*" if is_map else k)
        out.add(p)
        walk(x, p, out)


def main():
    data = json.load(sys.stdin)
    out = set()
    for obj in data if isinstance(data, list) else [data]:
        walk(obj, "", out)
    roots = sys.argv[1:]
    for p in sorted(out):
        if not roots or any(p == r or p.startswith(r + ".") or p.startswith(r + "[]") for r in roots):
            print(p)


main()

#!/usr/bin/env python3
"""Lists a root file system as build.bats and buildah.bats compare them: a line per entry, sorted, with its path, type,
mode, owner, size (files), link target and a hash of its content; no times."""
import hashlib
import os
import stat
import sys

root = sys.argv[1]
skip = set(sys.argv[2:])  # paths left out (what a builder adds at run time, not part of the image)
lines = []
for dirpath, dirs, files in os.walk(root):
    for name in sorted(dirs + files):
        full = os.path.join(dirpath, name)
        rel = os.path.relpath(full, root)
        if rel in skip:
            continue
        st = os.lstat(full)
        kind, size, link, h = "?", "", "", ""
        if stat.S_ISDIR(st.st_mode):
            kind = "d"
        elif stat.S_ISLNK(st.st_mode):
            kind, link = "l", os.readlink(full)
        elif stat.S_ISREG(st.st_mode):
            kind, size = "f", str(st.st_size)
            with open(full, "rb") as f:
                h = hashlib.sha256(f.read()).hexdigest()[:16]
        lines.append(f"{rel} {kind} {oct(stat.S_IMODE(st.st_mode))} {st.st_uid}:{st.st_gid} {size} {link} {h}")
print("\n".join(sorted(lines)))

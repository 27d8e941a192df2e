#!/usr/bin/env python3
"""Asks dockerd 20.10's classic builder what it makes of the Dockerfiles in tests/compat/dockerfiles/ and of the
.dockerignore files in tests/compat/dockerignores/, and writes its answers as C tables for the unit tests:
tests/unit/build/docker_cases.h (each Dockerfile's error, or its image config and history) and
tests/unit/build/docker_ignore_cases.h (the files dockerd copied from a context with each .dockerignore).

Run it (as root, with Debian's docker.io and `make image`) after adding a case; commit what it writes.  It starts
its own dockerd as tests/compat/run.py does (network and mount namespaces of its own, everything under one
temporary directory), loads build/images/busybox.tar, and builds with DOCKER_BUILDKIT=0.

A case is a directory NAME/ with a Dockerfile and build-args (the --build-arg values, blank-separated).  Cases
that fail when a step runs (a missing COPY source, a RUN on scratch) say nothing about the parser: leave them out.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import run  # noqa: E402  (its Dockerd)

IGNORE_TREE = ["a.txt", "b.md", "dir/x.txt", "dir/y.md", "dir/sub/z.txt", "dir/sub/deep/w.txt", "other/keep.txt",
               "other/drop.txt", ".hidden", "sp ace.txt", "we+ird(1).txt", "node_modules/m/i.js",
               "src/node_modules/n.js", "Dockerfile.extra", "docs/readme.md", "docs/a/b/c.md"]
# What Docker adds to every container's files, which `docker export` shows.
DOCKER_OWN = {".dockerenv", "dev/console", "etc/hostname", "etc/hosts", "etc/mtab", "etc/resolv.conf"}


def c_string(s):
    out = '"'
    for ch in s.encode():
        if ch == 0x22:
            out += '\\"'
        elif ch == 0x5C:
            out += "\\\\"
        elif ch == 0x0A:
            out += "\\n"
        elif ch == 0x09:
            out += "\\t"
        elif ch < 0x20 or ch >= 0x7F:
            out += "\\%03o" % ch
        else:
            out += chr(ch)
    return out + '"'


def docker(d, *args, check=True, **kw):
    r = subprocess.run([d.cli, *args], env=dict(d.env, DOCKER_BUILDKIT="0"), capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {r.stderr}")
    return r


def error_line(stderr):
    """The error of a failed build: its last line that is not the CLI's chatter."""
    lines = [l for l in stderr.splitlines() if l.strip() and not l.startswith(("DEPRECATED", " ", "Sending build",
                                                                                 "Step ", "Removing intermediate",
                                                                                 "# Executing", "[Warning]"))]
    last = lines[-1] if lines else ""
    return last.replace("Error response from daemon: ", "")


def dockerfile_cases(d):
    rows = []
    base = json.loads(docker(d, "image", "inspect", "--format", "{{json .Config}}", "busybox").stdout)
    base_history = list(reversed(docker(d, "history", "--no-trunc", "--format", "{{.CreatedBy}}",
                                        "busybox").stdout.splitlines()))
    for name in sorted(os.listdir(os.path.join(HERE, "dockerfiles"))):
        case = os.path.join(HERE, "dockerfiles", name)
        with open(os.path.join(case, "Dockerfile")) as fh:
            text = fh.read()
        with open(os.path.join(case, "build-args")) as fh:
            args = fh.read().split()
        cmd = ["build", "-q"] + [a for arg in args for a in ("--build-arg", arg)] + [case]
        r = docker(d, *cmd, check=False)
        if r.returncode != 0:
            rows.append((name, text, " ".join(args), error_line(r.stderr), None, []))
            continue
        image = r.stdout.strip()
        config = docker(d, "image", "inspect", "--format", "{{json .Config}}", image).stdout.strip()
        history = list(reversed(docker(d, "history", "--no-trunc", "--format", "{{.CreatedBy}}",
                                       image).stdout.splitlines()))
        # The steps after busybox's own, when the image is built on it.
        if history[:len(base_history)] == base_history:
            history = history[len(base_history):]
        docker(d, "image", "rm", "-f", image, check=False)
        rows.append((name, text, " ".join(args), None, config, history))
    out = ["/* Made by tests/compat/dockerfile_cases.py from dockerd 20.10's classic builder (DOCKER_BUILDKIT=0 docker",
           "   build, then docker image inspect and docker history --no-trunc): each Dockerfile of tests/compat/dockerfiles",
           "   with what Docker answered.  Do not edit: add a case there and run the script. */",
           "static const char docker_busybox_config[] = %s;\n" % c_string(json.dumps(base, separators=(",", ":"))),
           "struct docker_case\n{\n  const char *name, *dockerfile, *build_args, *error, *config;\n"
           "  const char *const *history;\n};\n"]
    for i, (_n, _t, _a, _e, _c, hist) in enumerate(rows):
        if hist:
            out.append("static const char *const hist_%d[] = {" % i)
            out += ["  %s," % c_string(h) for h in hist]
            out.append("  NULL,\n};")
    out.append("static const struct docker_case docker_cases[] = {")
    for i, (name, text, args, err, config, hist) in enumerate(rows):
        out.append("  { %s,\n    %s,\n    %s,\n    %s,\n    %s,\n    %s }," % (
            c_string(name), c_string(text), c_string(args), c_string(err) if err is not None else "NULL",
            c_string(config) if config else "NULL", "hist_%d" % i if hist else "NULL"))
    out.append("};")
    return "\n".join(out) + "\n"


def ignore_cases(d, tmp):
    out = ["/* Made by tests/compat/dockerfile_cases.py from dockerd 20.10: each .dockerignore of",
           "   tests/compat/dockerignores, in a context of the files below plus a Dockerfile (FROM scratch, COPY . /),",
           "   with the files `docker export` showed in the image (what Docker adds itself left out).  Do not edit. */",
           "static const char *const ignore_tree[] = {"]
    out += ["  %s," % c_string(f) for f in IGNORE_TREE]
    out.append("  NULL,\n};\n")
    out.append("struct ignore_case\n{\n  const char *dockerignore;\n  const char *sent; /* the files, sorted, one a line */"
               "\n};\n")
    out.append("static const struct ignore_case ignore_cases[] = {")
    for name in sorted(os.listdir(os.path.join(HERE, "dockerignores"))):
        with open(os.path.join(HERE, "dockerignores", name)) as fh:
            ignore = fh.read()
        ctx = os.path.join(tmp, "ctx-" + name)
        for f in IGNORE_TREE:
            os.makedirs(os.path.dirname(os.path.join(ctx, f)), exist_ok=True)
            with open(os.path.join(ctx, f), "w") as fh:
                fh.write(f + "\n")
        with open(os.path.join(ctx, "Dockerfile"), "w") as fh:
            fh.write("FROM scratch\nCOPY . /\n")
        with open(os.path.join(ctx, ".dockerignore"), "w") as fh:
            fh.write(ignore)
        image = docker(d, "build", "-q", ctx).stdout.strip()
        container = docker(d, "create", image, "x").stdout.strip()
        tar = subprocess.run(f"{d.cli} export {container} | tar t", shell=True, env=d.env, capture_output=True,
                             text=True, check=True).stdout
        docker(d, "rm", container, check=False)
        docker(d, "image", "rm", "-f", image, check=False)
        files = sorted(l for l in tar.splitlines() if not l.endswith("/") and l not in DOCKER_OWN)
        out.append("  { %s,\n    %s }," % (c_string(ignore), c_string("".join(f + "\n" for f in files))))
    out.append("};")
    return "\n".join(out) + "\n"


def main():
    if os.geteuid() != 0:
        sys.exit("must run as root (dockerd)")
    archive = os.path.join(ROOT, "build", "images", "busybox.tar")
    if not os.path.exists(archive):
        sys.exit(f"{archive} is missing: make image")
    tmp = tempfile.mkdtemp(prefix="isola-dockerfile-cases.")
    d = run.Dockerd(tmp, shutil.which("docker"))
    try:
        d.start()
        docker(d, "load", "-q", "-i", archive)
        cases = dockerfile_cases(d)
        ignores = ignore_cases(d, tmp)
    finally:
        d.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    unit = os.path.join(ROOT, "tests", "unit", "build")
    with open(os.path.join(unit, "docker_cases.h"), "w") as fh:
        fh.write(cases)
    with open(os.path.join(unit, "docker_ignore_cases.h"), "w") as fh:
        fh.write(ignores)
    print("wrote tests/unit/build/docker_cases.h and docker_ignore_cases.h")


if __name__ == "__main__":
    main()

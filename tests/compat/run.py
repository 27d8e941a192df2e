#!/usr/bin/env python3
"""The differential test against Docker: runs every case of tests/compat/cases.table against a private dockerd
(Debian's docker.io) and against isola in process and VM isolation, and compares what the table says to compare.

    tests/compat/run.py [-j N] [--only-mode process|vm] [--table FILE] [NAME-REGEX...]

Prints TAP (one line per case and isola mode) and a report; exits 1 when a case failed.  See tests/compat/README.md
for the table's format and how to read the report.  Must run as root on Debian 12 with docker.io installed.
"""

import argparse
import concurrent.futures
import difflib
import hashlib
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
IMAGE_REF = "busybox:latest"
# cases that name REG pull from and push to Debian's docker-registry on this address inside dockerd's network
# namespace, where dockerd reaches it (a loopback registry: plain HTTP, as Docker allows) and isola runs (nsenter)
REGISTRY = "127.0.0.1:5000"
REGISTRY_REPOS = ("p1", "p2", "p3")  # compat/NAME: a two-layer image the engines do not have
MODES = ("process", "vm")
STATUS_KINDS = ("match", "known-difference", "expected-fail", "flaky")
# Commands that list engine-wide state: their cases run first, one at a time, while the engine has no other
# container (unless they list only the case's containers, --filter name=NAME).
GLOBAL_VERBS = {"ps", "images", "info", "system", "volume ls", "volume list", "volume prune", "container ls",
                "container list", "image ls", "image list", "image prune", "container prune", "network"}


def die(msg):
    print("compat: " + msg, file=sys.stderr)
    sys.exit(2)


# ---- the table ---------------------------------------------------------------------------------------------------

class Case:
    def __init__(self, lineno, name, stdin, command, compare, status):
        self.lineno = lineno
        self.name = name
        self.stdin = stdin
        self.command = command
        self.compare = compare
        self.status = status  # {"process": (kind, reason), "vm": (kind, reason) or None}
        self.steps = split_steps(command, lineno)
        self.serial = any(step_is_global(s) for s in self.steps)
        self.registry = re.search(r"\bREG\b", command) is not None


def parse_status(text, lineno, allow_skip):
    text = text.strip()
    if allow_skip and text == "-":
        return None
    kind, _, reason = text.partition(":")
    kind, reason = kind.strip(), reason.strip()
    if kind not in STATUS_KINDS:
        die(f"line {lineno}: status '{text}' is not match, known-difference: REASON, expected-fail: REASON or "
            "flaky: REASON")
    if kind != "match" and not reason:
        die(f"line {lineno}: {kind} needs a reason")
    if kind == "match" and reason:
        die(f"line {lineno}: match takes no reason")
    return (kind, reason)


def split_steps(command, lineno):
    """The command line as steps, split at each unquoted ' ; '.  A step is a list of words after shell quoting
    rules, except a host step ('! SCRIPT'), which is ['!', SCRIPT] with SCRIPT as written."""
    raws, cur, quote, i = [], "", None, 0
    while i < len(command):
        ch = command[i]
        if quote:
            if ch == "\\" and quote == '"' and i + 1 < len(command):
                cur += command[i:i + 2]
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "\\" and i + 1 < len(command):
            cur += command[i:i + 2]
            i += 2
            continue
        elif command.startswith(" ; ", i):
            raws.append(cur)
            cur, i = "", i + 3
            continue
        cur += ch
        i += 1
    if quote:
        die(f"line {lineno}: unterminated quote")
    raws.append(cur)
    steps = []
    for raw in raws:
        raw = raw.strip()
        if not raw:
            die(f"line {lineno}: an empty step")
        if raw.startswith("! "):
            steps.append(["!", raw[2:].strip()])
            continue
        try:
            steps.append(shlex.split(raw))
        except ValueError as e:
            die(f"line {lineno}: {e}")
    return steps


def step_is_global(words):
    """Whether a step lists engine-wide state: a listing of containers filtered by the case's name is not."""
    if words[0] == "!":
        return False
    if not (words[0] in GLOBAL_VERBS or " ".join(words[:2]) in GLOBAL_VERBS):
        return False
    return not any(w.startswith("name=NAME") and words[i - 1] in ("--filter", "-f")
                   for i, w in enumerate(words) if i > 0)


COMPARE_WHATS = ("rc", "out", "err", "md5")


def parse_compare(text, lineno):
    items = []
    for item in text.split():
        what, *filters = item.split(":")
        if what not in COMPARE_WHATS:
            die(f"line {lineno}: compare item '{item}': not one of {', '.join(COMPARE_WHATS)}")
        for f in filters:
            if f not in FILTERS:
                die(f"line {lineno}: unknown filter '{f}' (filters: {', '.join(sorted(FILTERS))})")
        items.append((what, filters))
    if not items:
        die(f"line {lineno}: nothing to compare")
    return items


def read_table(path):
    cases, seen = [], set()
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = [f.strip() for f in line.split(" | ")]
            if len(fields) < 6:
                die(f"line {lineno}: expected 'name | stdin | command | compare | process | vm', got: {line}")
            name, stdin = fields[0], fields[1]
            vm_status, p_status, compare = fields[-1], fields[-2], fields[-3]
            command = " | ".join(fields[2:-3])
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
                die(f"line {lineno}: case name '{name}': lower-case letters, digits and '-' only")
            if name in seen:
                die(f"line {lineno}: case '{name}' twice")
            seen.add(name)
            stdin_spec(stdin, lineno)
            c = Case(lineno, name, stdin, command, parse_compare(compare, lineno),
                     {"process": parse_status(p_status, lineno, False), "vm": parse_status(vm_status, lineno, True)})
            cases.append(c)
    return cases


def stdin_spec(spec, lineno):
    """The bytes a stdin column stands for (None: no input, /dev/null)."""
    if spec == "-":
        return None
    kind, _, arg = spec.partition(":")
    if kind == "text":
        return arg.encode().decode("unicode_escape").encode("latin-1")
    if kind == "rand":
        m = re.fullmatch(r"(\d+)([KM]?)", arg)
        if not m:
            die(f"line {lineno}: rand:N[K|M]")
        n = int(m.group(1)) * {"": 1, "K": 1024, "M": 1024 * 1024}[m.group(2)]
        return random.Random(n).randbytes(n)
    die(f"line {lineno}: stdin '{spec}': -, text:STRING or rand:N[K|M]")


# ---- normalising -------------------------------------------------------------------------------------------------

def f_ago(s):
    s = re.sub(r"\b(About an?|Less than an?|\d+) (second|minute|hour|day|week|month|year)s?( ago)?\b",
               "<DURATION>", s)
    return s


def f_time(s):
    s = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", "<TIME>", s)
    s = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?( [+-]\d{4})?( [A-Z]{3,4})?", "<TIME>", s)
    return s


def f_ip(s):
    return re.sub(r"\b(?!127\.)\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", "<IP>", s)


def f_ws(s):
    return "\n".join(re.sub(r"[ \t]+", " ", line).rstrip() for line in s.split("\n"))


def f_sort(s):
    lines = s.split("\n")
    tail = lines[-1] == ""
    lines = sorted(x for x in lines if x != "") if tail else sorted(lines)
    return "\n".join(lines) + ("\n" if tail else "")


def f_num(s):
    return re.sub(r"\d+(\.\d+)?", "N", s)


def f_size(s):
    return re.sub(r"\b\d+(\.\d+)?\s?([kKMGT]i?B|B)\b", "<SIZE>", s)


def f_nonzero(s):
    """Each number as 0 or + (positive): 'is there a value', not which one."""
    return re.sub(r"\d+", lambda m: "0" if int(m.group(0)) == 0 else "+", s)


def f_noverify(s):
    """Without pull's 'ID: Verifying Checksum' lines, which dockerd 20.10's coalesced progress sometimes skips."""
    return "\n".join(l for l in s.split("\n") if not re.fullmatch(r"\S+: Verifying Checksum", l))


def f_daemon(s):
    """The docker CLI's 'Error response from daemon: X' and isola's 'Error: X' both become 'Error: X'."""
    return re.sub(r"(?m)^Error response from daemon: ", "Error: ", s)


def f_errcore(s):
    """An engine's error message without what only says which engine or layer it came from: Docker's 'docker: Error
    response from daemon: … OCI runtime create failed: …: unknown.' and isola's 'Error: failed to start container
    ID: …' both become 'Error: CORE' (without the period the docker CLI ends run's errors with); the "See 'docker
    run --help'." hint goes, and so does the "error waiting for
    container: context canceled" line that docker's CLI sometimes adds after a failed start."""
    out = []
    for line in s.split("\n"):
        if re.fullmatch(r"See '(docker|isola) [a-z ]*--help'\.", line.strip()):
            continue
        # docker's CLI sometimes adds this when a container fails to start (its wait races the failed start)
        if re.fullmatch(r'time="[^"]*" level=error msg="error waiting for container: context canceled"', line):
            continue
        m = re.search(r"(exec: \"[^\"]*\": [^:]*)", line)
        if m:
            line = "Error: " + m.group(1).rstrip(".")
        else:
            line = re.sub(r"^(docker|isola): ", "", line)
            line = re.sub(r"^Error response from daemon: ", "Error: ", line)
            # the docker CLI ends the daemon's errors of run and create with a period
            line = re.sub(r"^(Error: .*[^.])\.$", r"\1", line)
        out.append(line)
    return "\n".join(out)


def f_noisolation(s):
    """`isola ps` without its ISOLATION column, the last one (docker has none: isola has two isolation modes)."""
    lines = s.split("\n")
    if lines and lines[0].rstrip().endswith("ISOLATION"):
        lines[0] = lines[0].rstrip()[:-len("ISOLATION")].rstrip()
        lines[1:] = [re.sub(r"\s+(process|hyperv)\s*$", "", x) for x in lines[1:]]
    return "\n".join(lines)


FILTERS = {"ago": f_ago, "time": f_time, "ip": f_ip, "ws": f_ws, "sort": f_sort, "num": f_num, "size": f_size,
           "nonzero": f_nonzero, "errcore": f_errcore, "noisolation": f_noisolation, "daemon": f_daemon,
           "noverify": f_noverify}


def normalise_always(s, ctx):
    s = re.sub(r"\b(sha256:)?[0-9a-f]{64}\b", lambda m: (m.group(1) or "") + "<ID>", s)
    s = re.sub(r"\b[0-9a-f]{12}\b", "<ID12>", s)
    s = s.replace(ctx["tmp"], "<TMP>")
    return s


# ---- engines -----------------------------------------------------------------------------------------------------

class Engine:
    def __init__(self, name, argv, env, inject=None, timeout=180):
        self.name = name
        self.netns = None  # dockerd's network namespace, for the cases that name REG
        self.lane_netns = None  # the namespace the lane's other commands run in (None: the harness's own)
        self.argv = argv
        self.env = env
        self.inject = inject or []
        self.timeout = timeout


def with_injection(engine, words):
    """`--isolation=vm` after run/create for the VM engine."""
    if not engine.inject:
        return words
    for i, w in enumerate(words[:2]):
        if w in ("run", "create") and (i == 0 or words[0] == "container"):
            return words[:i + 1] + engine.inject + words[i + 1:]
    return words


def substitute(word, ctx):
    word = re.sub(r"\bIMG\b", IMAGE_REF, word)
    word = re.sub(r"\bREG\b", REGISTRY, word)
    word = re.sub(r"\bNAME([0-9]?)\b", lambda m: ctx["name"] + ("-" + m.group(1) if m.group(1) else ""), word)
    word = re.sub(r"\bTMP\b", ctx["tmp"], word)
    return word


def run_step(engine, words, ctx, stdin):
    """One step: (rc, stdout, stderr)."""
    if words[0] == "!":
        # a host shell command: $D is the engine's command, $NAME and $TMP as in the table
        script = words[1]
        env = dict(engine.env, D=" ".join(shlex.quote(a) for a in engine.argv), NAME=ctx["name"], TMP=ctx["tmp"],
                   KEYS=os.path.join(HERE, "keys.py"), REG=REGISTRY)
        argv = ["sh", "-c", script]
    else:
        words = [substitute(w, ctx) for w in words]
        argv = engine.argv + with_injection(engine, words)
        env = engine.env
    if engine.netns and ctx.get("registry"):
        argv = ["nsenter", "--net=" + engine.netns] + argv
    elif engine.lane_netns:
        argv = ["nsenter", "--net=" + engine.lane_netns] + argv
    try:
        p = subprocess.run(argv, input=stdin if stdin is not None else b"", env=env, capture_output=True,
                           timeout=engine.timeout)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = "timeout", e.stdout or b"", (e.stderr or b"") + b"\n[timed out]"
    return rc, out, err


def render(case, results, ctx):
    """What is compared of one engine's results, as text: each step's command, then its exit code, stdout
    and stderr as the compare column says."""
    lines = []
    for words, (rc, out, err) in zip(case.steps, results):
        lines.append("$ " + (words[-1] if words[0] == "!" else shlex.join(words)))
        for what, filters in case.compare:
            if what == "rc":
                lines.append(f"rc: {rc}")
            elif what == "md5":
                lines.append(f"stdout: md5 {hashlib.md5(out).hexdigest()}, {len(out)} bytes")
            else:
                text = normalise_always((out if what == "out" else err).decode("utf-8", "replace"), ctx)
                for f in filters:
                    text = FILTERS[f](text)
                label = "stdout" if what == "out" else "stderr"
                if "\n" not in text.rstrip("\n"):
                    lines.append(f"{label}: {text.rstrip(chr(10))}" + ("" if text.endswith("\n") or not text
                                                                        else " (no newline)"))
                else:
                    lines.append(f"{label}:")
                    lines += ["  " + x for x in text.rstrip("\n").split("\n")]
    return "\n".join(lines)


def run_case(engine, case):
    tmp = tempfile.mkdtemp(prefix=f"{case.name}.{engine.name}.", dir=WORKDIR)
    ctx = {"name": "cx-" + case.name, "tmp": tmp, "registry": case.registry}
    stdin = stdin_spec(case.stdin, case.lineno)
    results = []
    t0 = time.monotonic()
    try:
        for i, words in enumerate(case.steps):
            results.append(run_step(engine, words, ctx, stdin if i == 0 else None))
    finally:
        cleanup_case(engine, case, ctx)
    secs = time.monotonic() - t0
    text = render(case, results, ctx)
    shutil.rmtree(tmp, ignore_errors=True)
    return text, secs


def cleanup_case(engine, case, ctx):
    """Removes the containers (and docker volumes) the case names; a CLI call costs up to seconds on a busy machine,
    so only when it names some."""
    names = sorted({substitute(m, ctx) for m in re.findall(r"\bNAME[0-9]?\b", case.command)})
    if not names:
        return
    p = subprocess.run(engine.argv + ["rm", "-f"] + names, env=engine.env, capture_output=True, text=True,
                       timeout=120)
    said = [x for x in p.stderr.splitlines() if x and not re.search(r"[Nn]o such container", x)]
    if said:
        with NOTES_LOCK:
            NOTES.append(f"cleanup of {case.name} [{engine.name}]: rm -f exited {p.returncode}: " + " / ".join(said))
    # Seen twice with isola: a container that rm -f right after `wait` left behind while saying nothing of it.  A
    # second rm -f shows whether that happened; the report's notes keep it visible until its cause is found.
    again = None
    if engine.name != "docker":
        again = subprocess.run(engine.argv + ["rm", "-f"] + names, env=engine.env, capture_output=True, text=True,
                               timeout=120)
    if again and again.stdout.strip():
        with NOTES_LOCK:
            NOTES.append(f"cleanup of {case.name} [{engine.name}]: the first rm -f left {again.stdout.split()} "
                         f"(it said: {p.stdout.strip()!r} {p.stderr.strip()!r})")
    if engine.name == "docker" and re.search(r"\bvolume\b|-v NAME", case.command):
        subprocess.run(engine.argv + ["volume", "rm", "-f"] + names, env=engine.env, capture_output=True,
                       timeout=60)


# ---- dockerd -----------------------------------------------------------------------------------------------------

def procs_naming(path):
    """PIDs of the processes whose command line names path (our own private directory: what this run started)."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as fh:
                if path.encode() in fh.read():
                    pids.append(int(p))
        except OSError:
            pass
    return pids


class Dockerd:
    def __init__(self, workdir, docker_cli):
        self.dir = os.path.join(workdir, "docker")
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "docker.sock")
        self.cgroup_parent = "isola-compat-" + os.path.basename(workdir).split(".")[-1]
        self.env = dict(os.environ, DOCKER_HOST="unix://" + self.sock)
        self.env.pop("DOCKER_CONFIG", None)
        self.env["DOCKER_CONFIG"] = os.path.join(self.dir, "client")
        self.cli = docker_cli
        self.proc = None

    def start(self):
        d = self.dir
        script = ("ip link set lo up && exec dockerd --host unix://{s} --data-root {d}/data --exec-root {d}/exec "
                  "--pidfile {d}/docker.pid --cgroup-parent {cg} --log-level warn"
                  ).format(s=self.sock, d=d, cg=self.cgroup_parent)
        # its own network namespace (containers reach nothing but what it makes) and mount namespace (its overlay
        # and netns mounts vanish with it)
        self.log = open(os.path.join(d, "dockerd.log"), "wb")
        self.proc = subprocess.Popen(["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", script],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.sock) and subprocess.run([self.cli, "version"], env=self.env,
                                                            capture_output=True).returncode == 0:
                return
            time.sleep(0.2)
        with open(os.path.join(d, "dockerd.log"), errors="replace") as fh:
            tail = fh.read()[-3000:]
        raise RuntimeError("dockerd did not come up:\n" + tail)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # what dockerd started and left (containerd, shims) names our directory; container processes sit in our
        # cgroup parent
        for _ in range(3):
            pids = procs_naming(self.dir)
            for cg in self.cgroups():
                for root, _dirs, files in os.walk(cg):
                    if "cgroup.procs" in files:
                        with open(os.path.join(root, "cgroup.procs")) as fh:
                            pids += [int(x) for x in fh.read().split()]
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.3)
        for cg in self.cgroups():
            for root, dirs, _files in sorted(os.walk(cg, topdown=False)):
                try:
                    os.rmdir(root)
                except OSError:
                    pass
        self.log.close()

    def cgroups(self):
        """Our cgroup parent in each hierarchy: dockerd (cgroupfs driver) makes it under its own cgroup there, which
        is ours (a host may put us below the root of some controllers, e.g. memory:/process_api/…)."""
        out = []
        with open("/proc/self/cgroup") as fh:
            for line in fh:
                _, ctls, path = line.rstrip("\n").split(":", 2)
                ctl = ctls.replace("name=", "") if ctls else "unified"
                for base in (os.path.join("/sys/fs/cgroup", ctl), "/sys/fs/cgroup"):
                    for rel in (path.lstrip("/"), ""):
                        p = os.path.join(base, rel, self.cgroup_parent)
                        if os.path.isdir(p) and p not in out:
                            out.append(p)
        return out


class LaneNetns:
    """A network namespace of its own for an isola lane, held by a sleeping process: the lanes run at the same time
    and their cases use fixed subnets and host ports (network-*, port-*), which would collide in one namespace
    ("overlaps the host's route ... (dev isola1)": the other lane's bridge)."""

    def __init__(self):
        self.proc = subprocess.Popen(["unshare", "--net", "sh", "-c", "ip link set lo up && echo up && exec sleep 1d"],
                                     stdout=subprocess.PIPE, start_new_session=True)
        if self.proc.stdout.readline().strip() != b"up":
            self.stop()
            raise RuntimeError("could not make a network namespace for an isola lane")
        self.path = "/proc/%d/ns/net" % self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


class Registry:
    """Debian's docker-registry at REGISTRY inside dockerd's network namespace, with compat/NAME (REGISTRY_REPOS)
    holding a two-layer image (bench/mkimage.py) that neither engine has."""

    def __init__(self, workdir, netns):
        self.dir = os.path.join(workdir, "registry")
        os.makedirs(self.dir)
        self.netns = netns
        self.proc = None

    def ns(self, argv):
        return ["nsenter", "--net=" + self.netns] + argv

    def start(self):
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as fh:
            fh.write("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data\n"
                     "  delete:\n    enabled: true\nhttp:\n  addr: %s\n" % (self.dir, REGISTRY))
        self.log = open(os.path.join(self.dir, "registry.log"), "wb")
        self.proc = subprocess.Popen(self.ns(["docker-registry", "serve", cfg]), stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while subprocess.run(self.ns(["curl", "-sf", "-o", "/dev/null", "http://%s/v2/" % REGISTRY])).returncode:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("docker-registry did not come up")
            time.sleep(0.2)
        image = os.path.join(self.dir, "image.tar")
        subprocess.run([sys.executable, os.path.join(REPO, "bench/mkimage.py"), image, "compat/img:latest", "2", "1",
                        "compat", "0"], check=True, capture_output=True)
        for repo in REGISTRY_REPOS:
            p = subprocess.run(self.ns(["skopeo", "copy", "-q", "--dest-tls-verify=false", "oci-archive:" + image,
                                        "docker://%s/compat/%s:latest" % (REGISTRY, repo)]), capture_output=True,
                               text=True)
            if p.returncode != 0:
                raise RuntimeError("skopeo copy to the registry failed: " + p.stderr)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


# ---- isola -------------------------------------------------------------------------------------------------------

def isola_cleanup_root(isola, root, env, netns=None):
    ns = ["nsenter", "--net=" + netns] if netns else []
    r = subprocess.run(ns + [isola, "ps", "-aq", "--no-trunc"], env=env, capture_output=True, text=True)
    ids = r.stdout.split()
    if ids:
        subprocess.run(ns + [isola, "rm", "-f"] + ids, env=env, capture_output=True, timeout=120)
    for pid in procs_naming(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    mounts = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            mp = line.split()[4].replace("\\040", " ")
            if mp == root or mp.startswith(root + "/"):
                mounts.append(mp)
    for mp in sorted(mounts, key=lambda m: -m.count("/")):
        subprocess.run(["umount", "-l", mp], capture_output=True)
    # isola's cgroups of those containers (v1 CONTROLLER/isola/ID, v2 isola/ID) go with rm; nothing else to do


# ---- main --------------------------------------------------------------------------------------------------------

WORKDIR = None
NOTES = []  # what went wrong outside the comparisons (cleanup), printed with the report
NOTES_LOCK = threading.Lock()
STOP = threading.Event()  # set by SIGINT or SIGTERM: the cases not yet started are not run


def main():
    global WORKDIR
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-j", "--jobs", type=int, default=int(os.environ.get("COMPAT_JOBS", "6")),
                    help="cases run at once on docker and on isola's process mode (default 6)")
    ap.add_argument("--vm-jobs", type=int, default=int(os.environ.get("COMPAT_VM_JOBS", "2")),
                    help="cases run at once on isola's VM mode (default 2)")
    ap.add_argument("--only-mode", choices=MODES)
    ap.add_argument("--table", default=os.path.join(HERE, "cases.table"))
    ap.add_argument("--list", action="store_true", help="print the cases and exit")
    ap.add_argument("names", nargs="*", help="regular expressions: run only the cases whose name matches one")
    args = ap.parse_args()

    cases = read_table(args.table)
    if args.names:
        cases = [c for c in cases if any(re.search(p, c.name) for p in args.names)]
        if not cases:
            die("no case matches " + " ".join(args.names))
    modes = [args.only_mode] if args.only_mode else list(MODES)
    if args.list:
        for c in cases:
            vm = "vm" if c.status["vm"] else "--"
            print(f"{c.name:24} {'serial' if c.serial else 'parallel':8} {vm}  {c.command}")
        return 0

    if os.geteuid() != 0:
        die("must run as root (dockerd, isola)")
    isola = os.path.abspath(os.environ.get("ISOLA_BIN", os.path.join(REPO, "build/isola")))
    # The VM lane's binary may be another build (ISOLA_VM_BIN): run-tests.sh gives it the release build, as to the
    # VM pass of the bats files, while the process lane drives the ASan one.
    binaries = {"process": isola, "vm": os.path.abspath(os.environ.get("ISOLA_VM_BIN") or isola)}
    archive = os.path.abspath(os.environ.get("ISOLA_IMAGE", os.path.join(REPO, "build/images/busybox.tar")))
    docker_cli = os.environ.get("DOCKER_CLI") or ("/usr/bin/docker" if os.path.exists("/usr/bin/docker")
                                                  else shutil.which("docker"))
    for what, path in (("isola binary", isola), ("isola binary of the VM lane", binaries["vm"]),
                       ("image archive (make image)", archive)):
        if not os.path.exists(path):
            die(f"{what} {path} is missing")
    if not docker_cli or not shutil.which("dockerd"):
        die("docker and dockerd are needed (Debian's docker.io: scripts/deps.sh installs it)")

    WORKDIR = tempfile.mkdtemp(prefix="isola-compat.", dir="/tmp")
    made = os.environ.get("ISOLA_TEST_MADE")
    if made:
        with open(made, "a") as fh:
            fh.write(WORKDIR + "\n")
    dockerd = None
    registry = None
    roots = {}
    lane_netns = {}

    def on_signal(_sig, _frame):
        STOP.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t_start = time.monotonic()
    failed = 0
    try:
        dockerd = Dockerd(WORKDIR, docker_cli)
        t0 = time.monotonic()
        dockerd.start()
        t_dockerd = time.monotonic() - t0
        engines = {"docker": Engine("docker", [docker_cli], dockerd.env)}
        p = subprocess.run([docker_cli, "load", "-q", "-i", archive], env=dockerd.env, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("docker load failed: " + p.stderr)
        tpl = os.environ.get("ISOLA_VM_TEMPLATE_DIR") or os.path.join(WORKDIR, "vm-templates")
        for mode in modes:
            root = os.path.join(WORKDIR, "isola-" + mode)
            os.makedirs(root)
            env = dict(os.environ, ISOLA_ROOT=root, ISOLA_VM_TEMPLATE_DIR=tpl)
            # host steps (!) of the VM pass make VM containers too, by isola's default isolation
            if mode == "vm":
                env["ISOLA_ISOLATION"] = "vm"
            else:
                env.pop("ISOLA_ISOLATION", None)
            p = subprocess.run([binaries[mode], "load", "-q", "-i", archive], env=env, capture_output=True,
                               text=True)
            if p.returncode != 0:
                raise RuntimeError(f"isola load failed: {p.stderr}")
            roots[mode] = (root, env)
            engines[mode] = Engine(mode, [binaries[mode]], env, ["--isolation=vm"] if mode == "vm" else None,
                                   timeout=180)
            if mode == "vm" and "process" in modes:
                lane_netns[mode] = LaneNetns()
                engines[mode].lane_netns = lane_netns[mode].path
        if any(c.registry for c in cases):
            registry = Registry(WORKDIR, "/proc/%d/ns/net" % dockerd.proc.pid)
            registry.start()
            for e in engines.values():
                e.netns = registry.netns
        failed = run_all(cases, engines, modes, args.jobs, args.vm_jobs, t_dockerd, t_start)
    except KeyboardInterrupt:
        print("not ok - compat: interrupted")
        failed += 1
    except RuntimeError as e:
        print(f"not ok - compat: {e}")
        failed += 1
    finally:
        for mode, (root, env) in roots.items():
            isola_cleanup_root(binaries[mode], root, env, lane_netns[mode].path if mode in lane_netns else None)
        for ns in lane_netns.values():
            ns.stop()
        if registry:
            registry.stop()
        if dockerd:
            dockerd.stop()
        shutil.rmtree(WORKDIR, ignore_errors=True)
    return 1 if failed else 0


def run_all(cases, engines, modes, jobs, vm_jobs, t_dockerd, t_start):
    """Runs each case on docker and on the isola modes it is for; prints TAP and the report; returns the failures."""
    results = {}  # (case name, engine name) -> (text, secs)
    lane_secs = {}
    lock = threading.Lock()

    def job(case, ename):
        if STOP.is_set():
            return
        r = run_case(engines[ename], case)
        with lock:
            results[(case.name, ename)] = r

    def lane(ename, lane_cases):
        """One engine's cases: the engine-wide ones first, one at a time while no other container exists, then
        the others, several at a time."""
        t0 = time.monotonic()
        for c in lane_cases:
            if c.serial:
                job(c, ename)
        width = vm_jobs if ename == "vm" else jobs
        # the ones moving large data first: they take longest
        rest = sorted((c for c in lane_cases if not c.serial), key=lambda c: not c.stdin.startswith("rand:") and
                      not any(what == "md5" for what, _ in c.compare))
        with concurrent.futures.ThreadPoolExecutor(max_workers=width) as ex:
            for f in [ex.submit(job, c, ename) for c in rest]:
                f.result()
        lane_secs[ename] = time.monotonic() - t0

    # the engines side by side, each with its own store
    lanes = {"docker": list(cases)}
    for m in modes:
        lanes[m] = [c for c in cases if c.status[m] is not None]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(lanes)) as ex:
        for f in [ex.submit(lane, e, cs) for e, cs in lanes.items()]:
            f.result()
    # every case removes the containers it named: whatever is left was left by the engine (an --rm container that
    # stayed) or by a case that names none
    leftovers = {}
    for ename, eng in engines.items():
        p = subprocess.run(eng.argv + ["ps", "-a", "--no-trunc"], env=eng.env, capture_output=True, text=True)
        rows = p.stdout.strip().split("\n")[1:] if p.returncode == 0 else [p.stderr.strip()]
        leftovers[ename] = [r for r in rows if r]
        ids = [r.split()[0] for r in leftovers[ename] if p.returncode == 0]
        if ids:
            subprocess.run(eng.argv + ["rm", "-f"] + ids, env=eng.env, capture_output=True, timeout=120)

    n = 0
    counts = {m: {"match": 0, "known-difference": 0, "expected-fail": 0, "flaky": 0, "failed": 0, "cases": 0}
              for m in modes}
    print(f"1..{sum(1 for c in cases for m in modes if c.status[m] is not None) + len(engines)}")
    for m in modes:
        for c in cases:
            st = c.status[m]
            if st is None:
                continue
            n += 1
            kind, reason = st
            ref_text, dsecs = results[(c.name, "docker")]
            text, secs = results[(c.name, m)]
            same = text == ref_text
            cnt = counts[m]
            cnt["cases"] += 1
            label = f"{c.name} [{m}]"
            timing = f" ({secs:.1f} s, docker {dsecs:.1f} s)"
            if kind == "flaky":
                cnt["flaky"] += 1
                if same:
                    print(f"ok {n} - {label}{timing} # flaky, matched this time: {reason}")
                else:
                    print(f"not ok {n} - {label}{timing} # TODO flaky, differed this time: {reason}")
                    if os.environ.get("COMPAT_VERBOSE"):
                        show_diff(ref_text, text)
            elif kind == "match" and same:
                cnt["match"] += 1
                print(f"ok {n} - {label}{timing}")
            elif kind == "match":
                cnt["failed"] += 1
                print(f"not ok {n} - {label}: differs from docker{timing}")
                show_diff(ref_text, text)
            elif same:
                cnt["failed"] += 1
                print(f"not ok {n} - {label}: unexpectedly matches — update the table (it says {kind}: {reason}){timing}")
            elif kind == "known-difference":
                cnt["known-difference"] += 1
                print(f"ok {n} - {label}{timing} # known difference: {reason}")
            else:
                cnt["expected-fail"] += 1
                print(f"not ok {n} - {label}{timing} # TODO expected-fail: {reason}")
                if os.environ.get("COMPAT_VERBOSE"):
                    show_diff(ref_text, text)
    nleft = 0
    for ename, rows in leftovers.items():
        n += 1
        if rows:
            nleft += 1
            print(f"not ok {n} - no containers left [{ename}]: {len(rows)} left after every case removed its own")
            for r in rows[:10]:
                print("#   " + r[:200])
        else:
            print(f"ok {n} - no containers left [{ename}]")
    for note in NOTES:
        print("# note: " + note)
    total = time.monotonic() - t_start
    print(f"# compat report: {len(cases)} cases, dockerd {docker_version(engines['docker'])} started in "
          f"{t_dockerd:.1f} s, whole run {total:.0f} s (" +
          ", ".join(f"{e} {lane_secs[e]:.0f} s" for e in lane_secs) + ")")
    for m in modes:
        c = counts[m]
        print(f"# isola {m:7}: {c['cases']} cases run, {c['match']} match, {c['known-difference']} known "
              f"differences, {c['expected-fail']} expected failures, {c['flaky']} flaky, {c['failed']} failed")
    if nleft:
        print(f"# {nleft} engines left containers behind")
    return sum(c["failed"] for c in counts.values()) + nleft


def docker_version(eng):
    p = subprocess.run(eng.argv + ["version", "-f", "{{.Server.Version}}"], env=eng.env, capture_output=True,
                       text=True)
    return p.stdout.strip() or "?"


def show_diff(ref, got):
    lines = list(difflib.unified_diff(ref.split("\n"), got.split("\n"), "docker", "isola", lineterm="", n=3))[2:]
    limit = int(os.environ.get("COMPAT_DIFF_LINES", "24"))
    for line in lines[:limit]:
        print("#   " + line)
    if len(lines) > limit:
        print(f"#   … {len(lines) - limit} more lines")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""docker-py (Debian's python3-docker) against `isola serve`: serve_py.bats runs one part a test.

    serve_py.py SOCKET|tcp://HOST:PORT ISOLATION PART [ARG...]

ISOLATION is what the containers ask for in HostConfig.Isolation ("" for the server's default, "hyperv" for VMs).
Each part checks what docker-py sees and raises (exit 1, with the reason) at the first difference; it removes what it
made.  Run by Debian's interpreter, /usr/bin/python3, whose dist-packages hold python3-docker."""

import sys
import time

import docker
from docker.errors import APIError, ImageNotFound, NotFound


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def equal(got, want, what):
    check(got == want, f"{what}: got {got!r}, want {want!r}")


class Parts:
    def __init__(self, sock, isolation):
        url = sock if sock.startswith("tcp://") else "unix://" + sock
        self.client = docker.DockerClient(base_url=url, version="1.41", timeout=300)
        self.iso = {"isolation": isolation} if isolation else {}
        self.shown = "hyperv" if isolation == "hyperv" else None

    def run(self, *args, **kw):
        return self.client.containers.run("busybox", *args, **self.iso, **kw)

    def create(self, *args, **kw):
        return self.client.containers.create("busybox", *args, **self.iso, **kw)

    def isolation_of(self, c):
        c.reload()
        return c.attrs["HostConfig"]["Isolation"]

    # containers.run with its output, exit codes, create/start, wait, logs, stop, kill, remove
    def containers(self):
        c = self.client
        equal(c.ping(), True, "ping")
        equal(c.version()["ApiVersion"], "1.41", "version")
        out = self.run(["sh", "-c", "echo out; echo err >&2"], remove=True, stderr=True)
        equal(sorted(out.split()), [b"err", b"out"], "run's output")
        try:
            self.run(["sh", "-c", "echo bad >&2; exit 3"], remove=True, stderr=True)
            raise AssertionError("a command that exits 3 raised nothing")
        except docker.errors.ContainerError as e:
            equal(e.exit_status, 3, "ContainerError's exit status")
            check(b"bad" in e.stderr, f"ContainerError's stderr: {e.stderr!r}")
        try:
            self.run(["/no/such/command"], name="py-missing", remove=True)
            raise AssertionError("a missing command raised nothing")
        except APIError as e:
            # dockerd's start fails, and the container stays, created, with 127 (docker-py removes it only after
            # a wait)
            equal(e.status_code, 400, f"start of a missing command: {e}")
            check("no such file or directory" in str(e), f"the start error: {e}")
            missing = c.containers.get("py-missing")
            equal(missing.attrs["State"]["ExitCode"], 127, f"exit code of a missing command")
            missing.remove()

        ctr = self.create(["sh", "-c", "echo started; exit 7"], name="py-create", labels={"suite": "py"})
        equal(ctr.status, "created", "status after create")
        if self.shown:
            equal(self.isolation_of(ctr), self.shown, "HostConfig.Isolation")
        ctr.start()
        equal(ctr.wait(timeout=300)["StatusCode"], 7, "wait's StatusCode")
        equal(ctr.logs(), b"started\n", "logs")
        ctr.reload()
        equal(ctr.status, "exited", "status after the exit")
        equal(ctr.attrs["State"]["ExitCode"], 7, "State.ExitCode")
        listed = c.containers.list(all=True, filters={"label": "suite=py"})
        equal([x.name for x in listed], ["py-create"], "list with a label filter")
        equal(c.containers.get("py-create").id, ctr.id, "get by name")
        ctr.remove()
        try:
            c.containers.get("py-create")
            raise AssertionError("a removed container is still there")
        except NotFound:
            pass

        d = self.run(["sh", "-c", "trap 'echo term; exit 0' TERM; echo up; while :; do sleep 1; done"],
                     detach=True, name="py-daemon")
        self.wait_for_log(d, b"up")
        equal(d.status in ("running", "created"), True, "detached status")
        d.reload()
        equal(d.status, "running", "status of a detached container")
        check(any(x.id == d.id for x in c.containers.list()), "the running container is listed")
        d.stop(timeout=30)
        d.reload()
        equal(d.status, "exited", "status after stop")
        check(b"term" in d.logs(), f"the TERM trap ran: {d.logs()!r}")
        d.start()
        self.wait_for_log(d, b"up\nterm\nup", exact=False)
        d.kill(signal="KILL")
        equal(d.wait(timeout=300)["StatusCode"], 137, "exit code after SIGKILL")
        d.remove(force=True)

        # a running container removed with force
        f = self.run(["sleep", "300"], detach=True)
        f.remove(force=True)
        check(all(x.id != f.id for x in c.containers.list(all=True)), "rm -f removed the running container")

    def wait_for_log(self, ctr, text, exact=False):
        deadline = time.time() + 300
        while time.time() < deadline:
            if text in ctr.logs():
                return
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never came in the logs: {ctr.logs()!r}")

    # attach to a running container's output; exec with exit codes, output, environment and stdin-less streams
    def exec(self):
        ctr = self.run(["sh", "-c", "while :; do echo tick; sleep 1; done"], detach=True, name="py-exec")
        try:
            stream = ctr.attach(stdout=True, stderr=True, stream=True)
            equal(next(iter(stream)).strip().split(b"\n")[0], b"tick", "attach's first line")
            stream.close()
            r = ctr.exec_run(["sh", "-c", "echo $GREETING; echo e >&2; exit 5"], environment={"GREETING": "hi"})
            equal(r.exit_code, 5, "exec's exit code")
            check(b"hi\n" in r.output and b"e\n" in r.output, f"exec's output: {r.output!r}")
            r = ctr.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
            equal(r.output, (b"o\n", b"e\n"), "exec's demultiplexed output")
            r = ctr.exec_run("pwd", workdir="/tmp", user="nobody")
            equal((r.exit_code, r.output), (0, b"/tmp\n"), "exec with workdir and user")
            r = ctr.exec_run(["/no/such/command"])
            equal(r.exit_code, 127, "exec of a missing command")
            r = ctr.exec_run(["sh", "-c", "tty"], tty=True)
            equal(r.exit_code, 0, f"exec with a tty ({r.output!r})")
            check(r.output.startswith(b"/dev/pts/"), f"tty's output: {r.output!r}")
            api = self.client.api
            e = api.exec_create(ctr.id, ["sh", "-c", "exit 9"])
            api.exec_start(e["Id"])
            info = api.exec_inspect(e["Id"])
            equal((info["Running"], info["ExitCode"]), (False, 9), "exec inspect")
            top = ctr.top()
            check(any("sh" in " ".join(p) for p in top["Processes"]), f"top: {top!r}")
        finally:
            ctr.remove(force=True)
        equal(self.client.containers.list(all=True), [], "nothing left")

    # images: load an archive, list, tag, inspect, remove (untag, then delete)
    def images(self, archive):
        c = self.client
        for img in c.images.list():
            c.images.remove(img.id, force=True)
        equal(c.images.list(), [], "images after removing all")
        with open(archive, "rb") as f:
            loaded = c.images.load(f.read())
        equal([t for i in loaded for t in i.tags], ["busybox:latest"], "load")
        img = c.images.get("busybox")
        equal(img.tags, ["busybox:latest"], "get")
        check(img.id.startswith("sha256:"), f"image id {img.id}")
        check(img.tag("py/tagged", "v1"), "tag")
        img.reload()
        equal(sorted(img.tags), ["busybox:latest", "py/tagged:v1"], "tags after tag")
        equal(c.images.get("py/tagged:v1").id, img.id, "get by the new tag")
        equal(img.attrs["Config"]["Cmd"], ["sh"], "inspect's Config.Cmd")
        equal(len(c.images.list()), 1, "list")
        # a run from the new tag
        out = c.containers.run("py/tagged:v1", ["echo", "tagged"], remove=True, **self.iso)
        equal(out, b"tagged\n", "run from the tag")
        c.images.remove("py/tagged:v1")
        img.reload()
        equal(img.tags, ["busybox:latest"], "tags after untagging")
        try:
            c.images.get("nosuch:image")
            raise AssertionError("a missing image was found")
        except ImageNotFound:
            pass
        c.images.remove("busybox:latest")
        equal(c.images.list(), [], "images after rmi")
        with open(archive, "rb") as f:
            c.images.load(f.read())

    # named volumes: create with labels, a container writes and another reads, list, remove, prune
    def volumes(self):
        c = self.client
        v = c.volumes.create("py-vol", labels={"suite": "py"})
        equal(v.name, "py-vol", "volume name")
        equal(c.volumes.get("py-vol").attrs["Labels"], {"suite": "py"}, "volume labels")
        self.run(["sh", "-c", "echo kept > /data/f"], volumes={"py-vol": {"bind": "/data", "mode": "rw"}},
                 remove=True)
        out = self.run(["cat", "/data/f"], volumes=["py-vol:/data:ro"], remove=True)
        equal(out, b"kept\n", "the volume's file in a second container")
        check("py-vol" in [x.name for x in c.volumes.list()], "volume list")
        user = self.create(["true"], volumes=["py-vol:/data"])
        try:
            v.remove()
            raise AssertionError("a volume in use was removed")
        except APIError as e:
            equal(e.status_code, 409, f"removing a volume in use: {e}")
        user.remove()
        v.remove()
        try:
            c.volumes.get("py-vol")
            raise AssertionError("a removed volume is still there")
        except NotFound:
            pass
        c.volumes.create("py-unused")
        pruned = c.volumes.prune()
        check("py-unused" in (pruned.get("VolumesDeleted") or []), f"prune: {pruned!r}")
        equal([x.name for x in c.volumes.list()], [], "volumes after prune")

    def fetch(self, host):
        """/etc/hostname of host:8080 (busybox httpd) from a container on py-net, once its name resolves."""
        for _ in range(60):
            try:
                return self.run(["wget", "-q", "-O", "-", f"http://{host}:8080/hostname"], network="py-net",
                                remove=True).strip().decode()
            except docker.errors.ContainerError:
                time.sleep(1)
        raise AssertionError(f"{host}:8080 never answered")

    # user networks: create, containers reaching each other by name, connect and disconnect, inspect, remove
    def networks(self):
        c = self.client
        net = c.networks.create("py-net", driver="bridge", labels={"suite": "py"})
        equal(c.networks.get(net.id).name, "py-net", "network by id")
        check("py-net" in [n.name for n in c.networks.list()], "network list")
        server = self.run(["httpd", "-f", "-p", "8080", "-h", "/etc"], detach=True, name="py-web", network="py-net")
        try:
            server.reload()
            equal(self.fetch("py-web"), server.attrs["Config"]["Hostname"], "fetched by name")
            net.reload()
            check(server.id in net.attrs["Containers"], f"the network's containers: {net.attrs['Containers']!r}")
            try:
                net.remove()
                raise AssertionError("a network in use was removed")
            except APIError as e:
                check(e.status_code in (403, 409), f"removing a network in use: {e}")
            # connect and disconnect of a container that is not running (what compose does to each it creates)
            # (on the default bridge: the suite's roots default to none, where Docker refuses a connect)
            ctr = self.create(["httpd", "-f", "-p", "8080", "-h", "/etc"], name="py-alias", network="bridge")
            try:
                net.disconnect(ctr)
                raise AssertionError("disconnect of a container not on the network")
            except APIError as e:
                # dockerd 20.10 answers 500 (an untyped error); isola 404, the network being the missing thing
                check(e.status_code in (404, 500) and "is not connected to the network" in str(e),
                      f"disconnect of a container not on the network: {e}")
            c.networks.get("bridge").disconnect(ctr)  # py-net alone, so that the name is fetched over it
            net.connect(ctr, aliases=["other-name"])
            ctr.reload()
            equal(list(ctr.attrs["NetworkSettings"]["Networks"]), ["py-net"], "the networks after connect")
            aliases = ctr.attrs["NetworkSettings"]["Networks"]["py-net"]["Aliases"]
            check("other-name" in aliases, f"aliases: {aliases!r}")  # (and the short ID, as dockerd adds it)
            ctr.start()
            equal(self.fetch("other-name"), ctr.attrs["Config"]["Hostname"], "fetched by the alias connect gave")
            # a running container, in either mode: a second network and back, at once, as dockerd does
            c.networks.get("bridge").connect(ctr)
            ctr.reload()
            equal(sorted(ctr.attrs["NetworkSettings"]["Networks"]), ["bridge", "py-net"], "after a running connect")
            net.disconnect(ctr)
            ctr.reload()
            equal(list(ctr.attrs["NetworkSettings"]["Networks"]), ["bridge"], "after a running disconnect")
            ctr.remove(force=True)
        finally:
            server.remove(force=True)
        net.remove()
        check("py-net" not in [n.name for n in c.networks.list()], "the network is gone")

    def whole_output(self):
        # Output that comes at once after a hijack's 101 (exec_run's echo) or a log's headers: docker-py reads the
        # headers through a buffer and then the raw socket, so what the server sent with them would be lost.
        c = self.run(["sleep", "600"], detach=True)
        try:
            for i in range(30):
                r = c.exec_run(["echo", "hello"])
                equal((i, r.exit_code, r.output), (i, 0, b"hello\n"), "exec_run's output")
        finally:
            c.remove(force=True)
        want = b"".join(b"%d\n" % i for i in range(1, 20001))
        for i in range(5):
            out = self.run(["seq", "1", "20000"], remove=True)
            equal((i, len(out), out == want), (i, len(want), True), "run's output")


def main():
    sock, isolation, part, *args = sys.argv[1:]
    getattr(Parts(sock, isolation), part)(*args)


if __name__ == "__main__":
    main()

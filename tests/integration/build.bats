#!/usr/bin/env bats
# `isola build` (issue 16): Docker 20.10's classic builder's steps, output, cache and errors, in the isolation mode of
# the pass (VM_FILES: RUN steps run in VM containers in the vm pass; only a few tests have RUN steps, each VM start
# costs a CPU-second under TCG), and one test that builds the same Dockerfiles in both modes and compares the trees.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-120}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() {
  container_setup
  CTX=$(mktemp -d /tmp/isola-build-ctx.XXXXXX)
  made "$CTX"
}
teardown() {
  rm -rf "$CTX"
  container_teardown
}

# dockerfile TEXT: the context's Dockerfile.
dockerfile() {
  printf '%s\n' "$1" >"$CTX/Dockerfile"
}

# build ARGS...: isola build with the context last, its output and stderr apart.
build() {
  run --separate-stderr isola build "$@" "$CTX"
}

# tree IMAGE: every entry of the image's file system, a line each: path, type, mode, owner, size, link target and
# a hash of the content (no times), from `export` of a container of it.
tree() {
  local c
  c=$(isola create --isolation process "$1" true) || return 1
  isola export "$c" | python3 -c '
import hashlib, sys, tarfile
t = tarfile.open(fileobj=sys.stdin.buffer, mode="r|")
for m in t:
    h = hashlib.sha256(t.extractfile(m).read()).hexdigest()[:16] if m.isreg() else ""
    print(m.name, m.type.decode() if isinstance(m.type, bytes) else m.type, oct(m.mode), m.uid, m.gid, m.size, m.linkname, h)
' | sort
  isola rm "$c" >/dev/null
}

@test "build runs each step as Docker's classic builder prints it; the image runs with its config" {
  printf 'hello\n' >"$CTX/a.txt"
  dockerfile 'FROM busybox
ENV A=1 B=two
COPY a.txt /app/
RUN echo run-output && cat /app/a.txt >/app/b.txt
WORKDIR /app
CMD ["cat", "b.txt"]'
  build -t t1
  assert_status 0
  [[ $output =~ ^"Sending build context to Docker daemon  3.072kB"$'\r\r\n'"Step 1/6 : FROM busybox"$'\n'" ---> "[0-9a-f]{12}$'\n'"Step 2/6 : ENV A=1 B=two"$'\n'" ---> "[0-9a-f]{12}$'\n'"Step 3/6 : COPY a.txt /app/" ]] || fail "output: $output"
  assert_output_matches '^ ---> Running in [0-9a-f]{12}$'
  assert_output_matches '^run-output$'
  assert_output_matches '^Removing intermediate container [0-9a-f]{12}$'
  assert_output_contains "Step 6/6 : CMD [\"cat\", \"b.txt\"]"
  assert_output_matches '^Successfully built [0-9a-f]{12}$'
  assert_output_matches '^Successfully tagged t1:latest$'
  run --separate-stderr isola run --rm t1
  assert_status 0
  assert_equal "$output" hello
  run --separate-stderr isola image inspect -f '{{json .Config.Env}} {{.Config.WorkingDir}} {{json .Config.Cmd}}' t1
  assert_equal "$output" '["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","A=1","B=two"] /app ["cat","b.txt"]'
  # the intermediate container is gone; the image's history is Docker's
  run --separate-stderr isola ps -aq
  assert_output_empty
  run --separate-stderr isola history --no-trunc --format '{{.CreatedBy}}|{{.Size}}' t1
  assert_equal "$(sed -n '1,3p;5p' <<<"$output")" '/bin/sh -c #(nop)  CMD ["cat" "b.txt"]|0B
/bin/sh -c #(nop) WORKDIR /app|0B
/bin/sh -c echo run-output && cat /app/a.txt >/app/b.txt|6B
/bin/sh -c #(nop)  ENV A=1 B=two|0B'
  [[ $(sed -n 4p <<<"$output") =~ ^'/bin/sh -c #(nop) COPY file:'[0-9a-f]{64}' in /app/ |6B'$ ]] || fail "$output"
  # an ordinary image: saved, removed with its intermediate images, loaded back, it runs
  id=$(isola image inspect -f '{{.Id}}' t1)
  isola_ok save -o "$CTX/t1.tar" t1
  isola_ok rmi t1
  run --separate-stderr isola images -aq
  assert_equal "$(wc -l <<<"$output")" 1
  isola_ok load -i "$CTX/t1.tar"
  assert_equal "$(isola image inspect -f '{{.Id}}' t1)" "$id"
  run --separate-stderr isola run --rm t1
  assert_equal "$output" hello
}

@test "a rebuild takes every step from the cache; a changed file misses from its COPY on; --no-cache runs all" {
  printf 'one\n' >"$CTX/a.txt"
  dockerfile 'FROM busybox
ENV A=1
COPY a.txt /a.txt
LABEL x=y
CMD ["cat", "/a.txt"]'
  build -t c1
  assert_status 0
  refute_output_contains "Using cache"
  first=$(isola image inspect -f '{{.Id}}' c1)
  build -t c1
  assert_status 0
  assert_equal "$(grep -c '^ ---> Using cache$' <<<"$output")" 4
  assert_equal "$(isola image inspect -f '{{.Id}}' c1)" "$first"
  printf 'two\n' >"$CTX/a.txt"
  build -t c1
  assert_status 0
  assert_equal "$(grep -c '^ ---> Using cache$' <<<"$output")" 1
  run --separate-stderr isola run --rm c1
  assert_equal "$output" two
  build --no-cache -t c1
  assert_status 0
  refute_output_contains "Using cache"
  # a file's mode is part of its hash
  chmod 600 "$CTX/a.txt"
  build -t c1
  assert_equal "$(grep -c '^ ---> Using cache$' <<<"$output")" 1
}

@test "metadata instructions set the config with empty_layer history entries, --label adds a LABEL step" {
  dockerfile 'FROM busybox
ARG V=dflt
ENV E=$V
LABEL l1=a "l 2"="b c"
EXPOSE 80 53/udp
VOLUME /data
USER 1000:1000
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=5s --retries=2 CMD true
SHELL ["/bin/sh", "-xc"]
ENTRYPOINT ["echo"]
CMD ["hi"]
ONBUILD ENV TRIGGERED=1
MAINTAINER someone'
  build -t m1 --label from=flag --build-arg V=given
  assert_status 0
  assert_output_matches '^Step 15/15 : LABEL "from"='"'"'flag'"'"'$'
  run --separate-stderr isola image inspect -f '{{json .Config}}' m1
  assert_status 0
  assert_jq '.Env == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","E=given"]'
  assert_jq '.Labels == {"l1":"a","l 2":"b c","from":"flag"}'
  assert_jq '.ExposedPorts == {"80/tcp":{},"53/udp":{}}'
  assert_jq '.Volumes == {"/data":{}}'
  assert_jq '.User == "1000:1000" and .StopSignal == "SIGUSR1"'
  assert_jq '.Healthcheck == {"Test":["CMD-SHELL","true"],"Interval":5000000000,"Retries":2}'
  assert_jq '.Shell == ["/bin/sh","-xc"] and .Entrypoint == ["echo"] and .Cmd == ["hi"]'
  assert_jq '.OnBuild == ["ENV TRIGGERED=1"]'
  run --separate-stderr isola image inspect -f '{{.Author}}' m1
  assert_equal "$output" someone
  # no layer but the base image's
  run --separate-stderr isola image inspect -f '{{len .RootFS.Layers}}' m1
  assert_equal "$output" "$(isola image inspect -f '{{len .RootFS.Layers}}' busybox)"
  run --separate-stderr isola history --format '{{.Size}}' m1
  assert_equal "$(head -14 <<<"$output" | sort -u)" 0B
}

@test "COPY and ADD: directories, wildcards, --chown, --chmod, a local tar extracted by ADD, root's files otherwise" {
  mkdir -p "$CTX/dir/sub" "$CTX/t"
  printf 'f1\n' >"$CTX/dir/f1"
  printf 'f2\n' >"$CTX/dir/sub/f2"
  chmod 750 "$CTX/dir/sub"
  ln -s f1 "$CTX/dir/link"
  printf 'x\n' >"$CTX/x.txt"
  printf 'y\n' >"$CTX/y.txt"
  chown 1234:1234 "$CTX/x.txt"
  printf 'in tar\n' >"$CTX/t/member"
  tar -C "$CTX/t" -czf "$CTX/arch.tar.gz" member
  dockerfile 'FROM busybox
COPY dir /d/
COPY *.txt /txt/
COPY --chown=daemon:1001 x.txt /owned
COPY --chmod=600 y.txt /y
ADD arch.tar.gz /unpacked/
COPY arch.tar.gz /kept/
WORKDIR /w
COPY x.txt rel'
  build -t cp1
  assert_status 0
  run --separate-stderr isola run --rm --isolation process cp1 sh -c 'cd / && stat -c "%n %a %u:%g %F" d d/f1 d/sub d/sub/f2 d/link txt/x.txt txt/y.txt owned y unpacked/member kept/arch.tar.gz w/rel; readlink d/link; cat unpacked/member'
  assert_status 0
  assert_equal "$output" "d 755 0:0 directory
d/f1 644 0:0 regular file
d/sub 750 0:0 directory
d/sub/f2 644 0:0 regular file
d/link 777 0:0 symbolic link
txt/x.txt 644 0:0 regular file
txt/y.txt 644 0:0 regular file
owned 644 1:1001 regular file
y 600 0:0 regular file
unpacked/member 644 0:0 regular file
kept/arch.tar.gz 644 0:0 regular file
w/rel 644 0:0 regular file
f1
in tar"
}

@test "COPY's and ADD's errors: a missing file, a path outside the context, a pattern matching nothing, several sources to a file, a URL" {
  printf 'a\n' >"$CTX/a"
  printf 'b\n' >"$CTX/b"
  dockerfile 'FROM busybox
COPY missing /'
  build
  assert_status 1
  assert_equal "$stderr" "COPY failed: file not found in build context or excluded by .dockerignore: stat missing: file does not exist"
  dockerfile 'FROM busybox
COPY ../x /'
  build
  assert_status 1
  assert_equal "$stderr" "COPY failed: forbidden path outside the build context: ../x ()"
  dockerfile 'FROM busybox
COPY *.nothing /'
  build
  assert_status 1
  assert_equal "$stderr" "COPY failed: no source files were specified"
  dockerfile 'FROM busybox
COPY a b /file'
  build
  assert_status 1
  assert_equal "$stderr" "When using COPY with more than one source file, the destination must be a directory and end with a /"
  dockerfile 'FROM busybox
ADD http://127.0.0.1:9/file /'
  build
  assert_status 1
  assert_stderr_matches "^ADD failed: ADD of a URL is not supported by isola build"
  dockerfile 'FROM busybox
COPY --chown=nosuchuser a /'
  build
  assert_status 1
  assert_stderr_matches "can't find uid for user nosuchuser"
  # nothing was left behind: no image but busybox, no container, no work directory
  run --separate-stderr isola images -aq
  assert_equal "$(wc -l <<<"$output")" 1
  assert_equal "$(ls "$ISOLA_ROOT/builder/work")" ""
}

@test "a failing RUN stops the build with Docker's message and its exit code (as the docker CLI exits), and leaves no container" {
  dockerfile 'FROM busybox
RUN echo before; exit 3
RUN echo never'
  build -t f1
  assert_status 3
  assert_output_contains "before"
  refute_output_contains "Step 3/3"
  assert_equal "$stderr" "The command '/bin/sh -c echo before; exit 3' returned a non-zero code: 3"
  dockerfile 'FROM busybox
RUN ["false"]'
  build
  assert_status 1
  assert_equal "$stderr" "The command 'false' returned a non-zero code: 1"
  run --separate-stderr isola ps -aq
  assert_output_empty
  run --separate-stderr isola image inspect f1
  assert_status 1
}

@test "Dockerfile errors as Docker words them: unknown instruction, bad substitution, a stage that does not exist" {
  dockerfile 'FROM busybox
FOO bar'
  build
  assert_status 1
  assert_equal "$stderr" "Error: dockerfile parse error line 2: unknown instruction: FOO"
  dockerfile 'FROM busybox
ENV a=${b'
  build
  assert_status 1
  assert_stderr_matches "failed to process"
  dockerfile 'FROM busybox AS one
ENV a=1'
  build --target two
  assert_status 1
  assert_equal "$stderr" "Error: failed to reach build target two in Dockerfile"
  dockerfile 'FROM busybox
COPY --from=nosuch /x /'
  # a missing image is pulled, as Docker's builder pulls it: in a network namespace without a way out
  run --separate-stderr unshare --net timeout 120 "$ISOLA" build "$CTX"
  assert_status 1
  assert_stderr_matches "failed to pull nosuch"
  dockerfile 'FROM nosuchbase'
  run --separate-stderr unshare --net timeout 120 "$ISOLA" build "$CTX"
  assert_status 1
  assert_stderr_matches "failed to pull nosuchbase"
  rm "$CTX/Dockerfile"
  build
  assert_status 1
  assert_stderr_matches "^Error: unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat .*/Dockerfile: no such file or directory"
}

@test "multi-stage builds: FROM a stage, COPY --from a stage by name and by index, --target, FROM scratch" {
  dockerfile 'FROM busybox AS base
ENV STAGE=base
COPY Dockerfile /src/Dockerfile
FROM base AS second
ENV STAGE=second
FROM scratch
COPY --from=base /src/Dockerfile /df
COPY --from=1 /bin/busybox /busybox'
  build -t ms
  assert_status 0
  assert_output_matches '^Step 8/8 : COPY --from=1 /bin/busybox /busybox$'
  run --separate-stderr isola run --rm ms /busybox cat /df
  assert_status 0
  assert_output_contains "FROM busybox AS base"
  run --separate-stderr isola image inspect -f '{{len .RootFS.Layers}} {{json .Config.Env}}' ms
  assert_equal "$output" '2 ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
  build -t ms2 --target second
  assert_status 0
  assert_output_matches '^Step 5/5 : ENV STAGE=second$'
  run --separate-stderr isola run --rm ms2 sh -c 'echo $STAGE; cat /src/Dockerfile | head -1'
  assert_equal "$output" "second
FROM busybox AS base"
}

@test "ONBUILD triggers of the base image run first in a child build, and are not inherited" {
  printf 'from trigger\n' >"$CTX/t.txt"
  dockerfile 'FROM busybox
ONBUILD COPY t.txt /t.txt
ONBUILD ENV TRIGGERED=yes'
  build -t parent
  assert_status 0
  dockerfile 'FROM parent
ENV AFTER=1'
  build -t child
  assert_status 0
  assert_output_contains "# Executing 2 build triggers"
  run --separate-stderr isola run --rm child sh -c 'cat /t.txt; echo $TRIGGERED'
  assert_equal "$output" "from trigger
yes"
  run --separate-stderr isola image inspect -f '{{json .Config.OnBuild}}' child
  assert_equal "$output" null
}

@test "the context: .dockerignore, -f another Dockerfile, a tar on stdin, a Dockerfile alone on stdin" {
  mkdir -p "$CTX/keep" "$CTX/skip"
  printf 'k\n' >"$CTX/keep/k"
  printf 's\n' >"$CTX/skip/s"
  printf 'secret\n' >"$CTX/secret.key"
  printf 'skip\n*.key\nDockerfile.other\n' >"$CTX/.dockerignore"
  printf 'FROM busybox\nCOPY . /ctx/\n' >"$CTX/Dockerfile.other"
  run --separate-stderr isola build -q -t ig -f "$CTX/Dockerfile.other" "$CTX"
  assert_status 0
  run --separate-stderr isola run --rm ig find /ctx
  assert_status 0
  assert_equal "$(sort <<<"$output")" "/ctx
/ctx/.dockerignore
/ctx/keep
/ctx/keep/k"
  # a tar on stdin: everything in it, the Dockerfile named in it
  run --separate-stderr bash -c "tar -C '$CTX' -cf - . | timeout 120 '$ISOLA' build -q -f Dockerfile.other -t tarred -"
  assert_status 0
  run --separate-stderr isola run --rm tarred ls /ctx/skip
  assert_equal "$output" s
  # a Dockerfile alone: an empty context
  run --separate-stderr bash -c "printf 'FROM busybox\nENV FROM_STDIN=1\n' | timeout 120 '$ISOLA' build -q -t stdin -"
  assert_status 0
  [[ $output =~ ^sha256:[0-9a-f]{64}$ ]] || fail "-q printed: $output"
  run --separate-stderr isola image inspect -f '{{json .Config.Env}}' stdin
  assert_output_contains "FROM_STDIN=1"
}

@test "-q prints only the ID, --iidfile writes it, --build-arg sets an ARG and warns of one not consumed" {
  dockerfile 'FROM busybox
ARG WHO=nobody
LABEL who=$WHO'
  build -q --iidfile "$CTX/iid" --build-arg WHO=me
  assert_status 0
  [[ $output =~ ^sha256:[0-9a-f]{64}$ ]] || fail "-q printed: $output"
  assert_equal "$(cat "$CTX/iid")" "$output"
  run --separate-stderr isola image inspect -f '{{.Config.Labels.who}}' "$output"
  assert_equal "$output" me
  build --build-arg UNUSED=1
  assert_status 0
  assert_output_contains "[Warning] One or more build-args [UNUSED] were not consumed"
}

@test "rmi refuses an image with children as Docker does, untags it by name, and removes a build's intermediate images" {
  dockerfile 'FROM busybox
ENV A=1
ENV B=2'
  build -t r1
  assert_status 0
  run --separate-stderr isola images -q
  assert_equal "$(wc -l <<<"$output")" 2
  run --separate-stderr isola images -aq
  assert_equal "$(wc -l <<<"$output")" 3
  mid=$(isola history -q r1 | sed -n 2p)
  run --separate-stderr isola rmi "$mid"
  assert_status 1
  assert_equal "$stderr" "Error: conflict: unable to delete $mid (cannot be forced) - image has dependent child images"
  run --separate-stderr isola rmi -f "$mid"
  assert_status 1
  isola_ok tag "$mid" named
  run --separate-stderr isola rmi named
  assert_status 0
  assert_equal "$output" "Untagged: named:latest"
  run --separate-stderr isola rmi r1
  assert_status 0
  assert_equal "$(grep -c '^Deleted: ' <<<"$output")" 2
  run --separate-stderr isola images -aq
  assert_equal "$(wc -l <<<"$output")" 1
  # the cache's entries went with their images
  assert_equal "$(ls "$ISOLA_ROOT/builder/cache")" ""
}

@test "the same Dockerfile builds the same tree and config with --isolation process and vm" {
  only_isolation vm "builds with both modes; one pass is enough"
  printf 'data\n' >"$CTX/a"
  dockerfile 'FROM busybox
COPY a /a
RUN mkdir -p /made/deep && echo made >/made/deep/f && chmod 640 /made/deep/f && ln -s /made/deep/f /made/link && chown 1:2 /made/deep && rm /bin/ls && echo x >>/etc/passwd
USER 1000
WORKDIR /srv
RUN ["/bin/sh", "-c", "echo as $(id -u) >/tmp/who"]
CMD ["sh"]'
  build --isolation process -t viaproc
  assert_status 0
  build --no-cache --isolation vm -t viavm
  assert_status 0
  tree viaproc >"$CTX/proc.tree"
  tree viavm >"$CTX/vm.tree"
  diff "$CTX/proc.tree" "$CTX/vm.tree"
  grep -q '^made/deep/f 0 0o640 0 0 5 ' "$CTX/vm.tree" || fail "$(grep made "$CTX/vm.tree")"
  grep -q '^tmp/who ' "$CTX/vm.tree" || fail "no /tmp/who"
  for f in Env Cmd Entrypoint User WorkingDir ExposedPorts Labels Volumes StopSignal Healthcheck OnBuild; do
    assert_equal "$(isola image inspect -f "{{json .Config.$f}}" viavm)" "$(isola image inspect -f "{{json .Config.$f}}" viaproc)"
  done
}

@test "a build killed (-9) during a RUN leaves only complete images; the next build reuses the cache and clears its work" {
  only_isolation process "the store's side of a killed build is the same in both modes"
  dockerfile 'FROM busybox
ENV A=1
RUN touch /started && sleep 1000
ENV B=2'
  setsid "$ISOLA" build -t k1 "$CTX" >"$CTX.out" 2>&1 &
  pid=$!
  wait_until 60 bash -c "'$ISOLA' ps -q | grep -q ."
  kill -KILL "$pid"
  wait "$pid" || true
  rm -f "$CTX.out"
  # the RUN's container outlives the builder (as a client's container outlives it); remove it
  isola_ok rm -f "$(isola ps -aq)"
  # every image there is complete: it inspects and runs
  for id in $(isola images -aq); do
    isola_ok image inspect "$id"
  done
  run --separate-stderr isola image inspect k1
  assert_status 1
  ls "$ISOLA_ROOT/builder/work" | grep -q . || fail "the killed build left no work directory (test is void)"
  dockerfile 'FROM busybox
ENV A=1
ENV C=3'
  build -t k2
  assert_status 0
  assert_equal "$(grep -c '^ ---> Using cache$' <<<"$output")" 1
  assert_equal "$(ls "$ISOLA_ROOT/builder/work")" ""
}

@test "a RUN under a VOLUME writes into the volume, which is not kept, as Docker's builder; no volume is left behind" {
  dockerfile 'FROM busybox
VOLUME /data
RUN echo lost >/data/f && echo kept >/notvol'
  build -t v1
  assert_status 0
  run --separate-stderr isola run --rm v1 sh -c 'ls /data; cat /notvol'
  assert_status 0
  assert_equal "$output" kept
  run --separate-stderr isola volume ls -q
  assert_output_empty
}

#!/usr/bin/env bats
# `isola build` checked against an independent builder, `buildah bud` (Debian's; podman's builder): the same
# Dockerfiles, covering every instruction, give the same file trees (paths, types, modes, owners, content; not
# times) and the same config fields (Env, Cmd, Entrypoint, User, WorkingDir, ExposedPorts, Labels, Volumes,
# StopSignal, Healthcheck, OnBuild), and the error cases fail in both.  buildah runs with private storage (vfs) under
# the test's directory, chroot isolation and no network (inside a network namespace of its own), and Docker's image
# format (which keeps Healthcheck and OnBuild).  isola builds in process mode here; build.bats compares the modes.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-120}
TREE=$BATS_TEST_DIRNAME/build-cases/tree.py
# What buildah's chroot isolation leaves in a layer of a RUN step: empty mount points of the files it bind-mounts.
BUILDAH_RUN_ARTIFACTS="etc/hostname etc/hosts etc/resolv.conf run"

setup_file() {
  command -v buildah >/dev/null || skip "buildah is not installed (scripts/deps.sh)"
  container_setup_file
  BAH=$(mktemp -d /tmp/isola-buildah.XXXXXX)
  export BAH
  made "$BAH"
  bah pull -q "docker-archive:$ISOLA_IMAGE" >/dev/null
  bah tag localhost/busybox docker.io/library/busybox:latest
}

teardown_file() {
  if [ -n "${BAH:-}" ]; then
    bah rm --all >/dev/null 2>&1 || true
    bah rmi --all --force >/dev/null 2>&1 || true
    rm -rf "$BAH"
  fi
  container_teardown_file
}

setup() {
  container_setup
  CTX=$(mktemp -d /tmp/isola-build-ctx.XXXXXX)
  made "$CTX"
}

teardown() {
  rm -rf "$CTX" "$CTX".*
  container_teardown
}

# chroot isolation also for the ONBUILD triggers `buildah from` runs.
bah() {
  BUILDAH_ISOLATION=chroot timeout 300 buildah --root "$BAH/root" --runroot "$BAH/run" --storage-driver vfs "$@"
}

# bah_build TAG [ARGS...]: buildah bud of $CTX in a network namespace of its own.
bah_build() {
  local tag=$1
  shift
  # shellcheck disable=SC2016
  unshare --net sh -c 'ip link set lo up; exec "$@"' sh timeout 300 buildah --root "$BAH/root" --runroot "$BAH/run" \
    --storage-driver vfs bud --isolation chroot --format docker --layers -t "$tag" "$@" "$CTX"
}

bah_tree() {
  local c m
  c=$(bah from -q "$1") && m=$(bah mount "$c") || return 1
  # shellcheck disable=SC2086
  python3 "$TREE" "$m" $BUILDAH_RUN_ARTIFACTS
  bah umount "$c" >/dev/null
  bah rm "$c" >/dev/null
}

isola_tree() {
  local m
  m=$(isola image mount "$1") || return 1
  python3 "$TREE" "$m"
  isola image unmount "$1" >/dev/null
}

# Config fields compared; an empty list or object is the same as none (the two builders write either).  Env is
# compared as a set: Docker (and isola) replace a variable in place, buildah moves it to the end.  (An EXPOSE range
# is left out of the cases: Docker expands it to its ports, buildah keeps it; tests/unit/build holds isola to
# dockerd there.)
config_of() {
  jq -S 'del(.Labels["io.buildah.version"]) | {Env, Cmd, Entrypoint, User, WorkingDir, ExposedPorts, Labels, Volumes, StopSignal, Healthcheck, OnBuild}
    | .Env |= (if . then sort else . end) | with_entries(.value |= (if . == [] or . == {} or . == "" then null else . end))'
}

# compare ARGS...: builds $CTX with both (ARGS are build flags) and compares trees and configs; the paths in
# $DIFFERENT (where the builders differ on purpose, the test says why) are left out of both trees.
compare() {
  run --separate-stderr isola build -q -t case "$@" "$CTX"
  assert_status 0
  run bah_build case "$@"
  assert_status 0
  local skip
  # shellcheck disable=SC2086
  skip=$(printf '%s\n' ${DIFFERENT:-} | sed 's/.*/^& /')
  isola_tree case | grep -v -f <(printf '%s\n' "${skip:-^$}") >"$CTX.isola.tree"
  bah_tree case | grep -v -f <(printf '%s\n' "${skip:-^$}") >"$CTX.buildah.tree"
  diff -u "$CTX.buildah.tree" "$CTX.isola.tree" || fail "the trees differ (- buildah, + isola)"
  isola image inspect -f '{{json .Config}}' case | config_of >"$CTX.isola.config"
  bah inspect case | jq .Docker.config | config_of >"$CTX.buildah.config"
  diff -u "$CTX.buildah.config" "$CTX.isola.config" || fail "the configs differ (- buildah, + isola)"
  rm -f "$CTX".*.tree "$CTX".*.config
}

# fails_in_both CODE ARGS...: both builders refuse $CTX, isola with exit code CODE; its stderr in $stderr.
fails_in_both() {
  local code=$1
  shift
  run bah_build bad "$@"
  [ "$status" -ne 0 ] || fail "buildah built it: $output"
  run --separate-stderr isola build "$@" "$CTX"
  assert_status "$code"
}

@test "metadata instructions: ENV, ARG, LABEL, EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, HEALTHCHECK, SHELL, ENTRYPOINT, CMD, ONBUILD" {
  cat >"$CTX/Dockerfile" <<'EOF'
ARG BASE=busybox
FROM $BASE
ARG V=default
ENV A=1 B="two words" C=$V
ENV PATH=/opt/bin:$PATH
LABEL one=1 "two words"="x y" three=$A
EXPOSE 80 53/udp 8000
VOLUME ["/data", "/logs"]
WORKDIR /srv
WORKDIR sub
USER 1000:1000
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=4 CMD wget -q localhost || exit 1
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/echo"]
CMD ["hello"]
ONBUILD RUN echo triggered
EOF
  # buildah makes VOLUME's directories in the image at once and WORKDIR's owned by the last USER; Docker's classic
  # builder (isola's reference) makes a volume's directory only in a later RUN's container, and WORKDIR's as root.
  DIFFERENT="data logs srv srv/sub" compare --build-arg V=given
}

@test "RUN: files made, changed, deleted, linked and chowned; the shell form, the JSON form, SHELL, USER, WORKDIR and ENV in effect" {
  cat >"$CTX/Dockerfile" <<'EOF'
FROM busybox
ENV GREETING=hi
RUN mkdir -p /made/deep && echo $GREETING >/made/deep/f && chmod 640 /made/deep/f && chown 1:2 /made/deep \
 && ln -s /made/deep/f /made/link && ln /made/deep/f /made/hard && rm /bin/ls && echo x >>/etc/passwd && rm -rf /usr
RUN ["/bin/sh", "-c", "touch /json-form && mkfifo /fifo"]
SHELL ["/bin/sh", "-xc"]
RUN echo shell-changed >/shell
WORKDIR /w
RUN pwd >here
USER 1000
RUN id -u >/tmp/uid
EOF
  compare
}

@test "COPY and ADD: files, directories, wildcards, --chown by name and number, --chmod, a local tar archive extracted, relative destinations" {
  mkdir -p "$CTX/dir/sub" "$CTX/t"
  printf 'f1\n' >"$CTX/dir/f1"
  printf 'f2\n' >"$CTX/dir/sub/f2"
  chmod 750 "$CTX/dir/sub"
  chmod 600 "$CTX/dir/f1"
  ln -s f1 "$CTX/dir/link"
  printf 'x\n' >"$CTX/x.txt"
  printf 'y\n' >"$CTX/y.txt"
  printf 'in tar\n' >"$CTX/t/member"
  mkdir -p "$CTX/t/tdir"
  tar -C "$CTX/t" -czf "$CTX/arch.tar.gz" member tdir
  cat >"$CTX/Dockerfile" <<'EOF'
FROM busybox
COPY dir /d/
COPY dir/sub /d2
COPY *.txt /txt/
COPY --chown=daemon:1001 x.txt /owned
COPY --chown=1234 y.txt /owned2
COPY --chmod=600 y.txt /y
ADD arch.tar.gz /unpacked/
COPY arch.tar.gz /kept/
ADD x.txt /added
WORKDIR /w
COPY x.txt rel
COPY x.txt y.txt ./both/
EOF
  compare
}

@test "multi-stage builds: FROM a stage, COPY --from a stage by name and by index, FROM scratch, --target" {
  cat >"$CTX/Dockerfile" <<'EOF'
FROM busybox AS base
RUN echo base >/base
FROM base AS second
ENV STAGE=second
RUN echo second >/second
FROM scratch
COPY --from=base /base /b
COPY --from=1 /second /bin/busybox /out/
EOF
  compare
  compare --target second
}

@test "a .dockerignore keeps files out of COPY in both" {
  mkdir -p "$CTX/keep" "$CTX/skip"
  printf 'k\n' >"$CTX/keep/k"
  printf 's\n' >"$CTX/skip/s"
  printf 'x\n' >"$CTX/secret.key"
  printf 'skip\n*.key\n' >"$CTX/.dockerignore"
  printf 'FROM busybox\nCOPY . /ctx/\n' >"$CTX/Dockerfile"
  compare
}

@test "errors: unknown instruction, bad substitution, COPY of a missing file or of one outside the context, a failing RUN, a stage that does not exist" {
  printf 'FROM busybox\nFOO bar\n' >"$CTX/Dockerfile"
  fails_in_both 1
  assert_equal "$stderr" "Error: dockerfile parse error line 2: unknown instruction: FOO"
  printf 'FROM busybox\nENV a=${b\n' >"$CTX/Dockerfile"
  fails_in_both 1
  assert_stderr_matches 'failed to process'
  printf 'FROM busybox\nCOPY missing /\n' >"$CTX/Dockerfile"
  fails_in_both 1
  assert_stderr_matches 'file not found in build context'
  printf 'FROM busybox\nCOPY ../outside /\n' >"$CTX/Dockerfile"
  fails_in_both 1
  assert_stderr_matches 'forbidden path outside the build context'
  printf 'FROM busybox\nRUN exit 7\n' >"$CTX/Dockerfile"
  fails_in_both 7
  assert_equal "$stderr" "The command '/bin/sh -c exit 7' returned a non-zero code: 7"
  printf 'FROM busybox AS one\nENV a=1\n' >"$CTX/Dockerfile"
  fails_in_both 1 --target two
  assert_equal "$stderr" "Error: failed to reach build target two in Dockerfile"
}

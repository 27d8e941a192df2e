#!/usr/bin/env bats
# Two clones of one commit, at paths of different lengths, build the same bytes: no path of the clone (debug info,
# __FILE__), no time (archive members) and nothing else of the build's circumstances ends up in the binaries, so
# anyone can check that a binary comes from the source it claims.  It builds the commit checked out (HEAD), not
# uncommitted changes.

bats_require_minimum_version 1.5.0

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
BINARIES=(build/isola build/isola-monitor build/isola-agent build/isola-init)

setup() {
  WORK=$(mktemp -d /tmp/isola-repro.XXXXXX)
}

teardown() {
  rm -rf "$WORK"
}

# A local clone shares the repository's objects, so HEAD is there even when no branch points at it.
build_clone() {
  git clone --quiet --no-checkout "$REPO" "$1"
  git -C "$1" checkout --quiet --detach "$(git -C "$REPO" rev-parse HEAD)"
  make -C "$1" -j"$(nproc)" "${BINARIES[@]}" >"$1.log" 2>&1 || {
    tail -20 "$1.log"
    return 1
  }
}

@test "two clones of a commit at different paths build bit-identical binaries" {
  build_clone "$WORK/a"
  build_clone "$WORK/another-clone-at-a-longer-path"
  local bin bad=""
  for bin in "${BINARIES[@]}"; do
    [ "$(sha256sum <"$WORK/a/$bin")" = "$(sha256sum <"$WORK/another-clone-at-a-longer-path/$bin")" ] || bad+=" $bin"
  done
  [ -z "$bad" ] || {
    echo "differ:$bad"
    return 1
  }
}

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

# tree_is_head: the repository's tracked files are HEAD's and its binaries are up to date with them, so its own
# build is a build of HEAD at another path.
tree_is_head() {
  [ -z "$(git -C "$REPO" status --porcelain --untracked-files=no)" ] && make -C "$REPO" -q "${BINARIES[@]}" 2>/dev/null
}

# differing A B: the binaries that differ between the builds in A and B.
differing() {
  local bin bad=""
  for bin in "${BINARIES[@]}"; do
    cmp -s "$1/$bin" "$2/$bin" || bad+=" $bin"
  done
  echo "$bad"
}

@test "two clones of a commit at different paths build bit-identical binaries" {
  build_clone "$WORK/a"
  # The tree's own build is the other clone when it is HEAD's (make test's case: it just built it): one build less.
  # Its binaries may come from other flags (make CFLAGS=...), so a difference there is checked with a second clone.
  if tree_is_head && [ -z "$(differing "$REPO" "$WORK/a")" ]; then
    return 0
  fi
  build_clone "$WORK/another-clone-at-a-longer-path"
  local bad
  bad=$(differing "$WORK/a" "$WORK/another-clone-at-a-longer-path")
  [ -z "$bad" ] || {
    echo "differ:$bad"
    return 1
  }
}

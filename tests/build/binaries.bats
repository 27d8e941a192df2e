#!/usr/bin/env bats
# What the split of the tree is for: the processes that run beside every container (the monitor) and inside every
# VM (the agent) carry only what they need, and the library's modules do not include each other in a circle.

# shellcheck disable=SC2154 # status and output are set by bats' run
bats_require_minimum_version 1.5.0

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

# The shared libraries the monitor and the agent may need: libc, libm, jansson, and the sanitizers' runtimes of the
# ASan build.  Anything else (libseccomp, libarchive, libcrypto, libcurl, libmicrohttpd, any library added later)
# fails here.
ALLOWED='^(libc|libm|libjansson|libasan|libubsan|libstdc\+\+|libgcc_s|ld-linux-x86-64)\.so'

needed_libs() {
  readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
}

# Functions of libraries that must stay out of the static monitor and agent (their public API's entry points).
FORBIDDEN_SYMBOLS='^(seccomp_init|seccomp_rule_add|seccomp_export_bpf|archive_read_new|archive_write_new|EVP_DigestInit_ex|OPENSSL_init_crypto|curl_easy_init|MHD_start_daemon)$'

@test "the monitor and the agent need no shared library beyond libc, libm and jansson" {
  local bin lib bad=""
  for bin in build/asan/isola-monitor build/asan/isola-agent; do
    [ -x "$REPO/$bin" ] || { echo "$bin is missing: run make asan"; return 1; }
    for lib in $(needed_libs "$REPO/$bin"); do
      [[ $lib =~ $ALLOWED ]] || bad+=" $bin:$lib"
    done
  done
  [ -z "$bad" ] || { echo "not allowed:$bad"; return 1; }
  # The check itself: a unit test linked with all of the library's dependencies does need libseccomp and
  # libarchive (the ASan CLI links them statically, as the release CLI does).
  needed_libs "$REPO/build/asan/tests/test_seccomp" | grep -q '^libseccomp\.so'
  needed_libs "$REPO/build/asan/tests/test_seccomp" | grep -q '^libarchive\.so'
}

@test "isola-registry (release) needs libcurl, libcrypto and libc as shared libraries, nothing more" {
  [ -x "$REPO/build/isola-registry" ] || { echo "build/isola-registry is missing: run make isola"; return 1; }
  # Its start is most of a pull of an image that is here: libarchive's tree (libxml2, ICU, libstdc++) is static.
  [ -z "$(needed_libs "$REPO/build/isola")" ] || skip "a STATIC=0 build: everything is dynamic"
  local libs
  libs=$(needed_libs "$REPO/build/isola-registry" | sort | tr '\n' ' ')
  [ "$libs" = "libc.so.6 libcrypto.so.3 libcurl.so.4 " ] || { echo "needed: $libs"; return 1; }
}

@test "isola-runtime (release) needs no shared library" {
  [ -x "$REPO/build/isola-runtime" ] || { echo "build/isola-runtime is missing: run make isola"; return 1; }
  [ -z "$(needed_libs "$REPO/build/isola")" ] || skip "a STATIC=0 build: everything is dynamic"
  # Each container start is one or two of its starts: 19 shared libraries cost it ~1 ms of CPU a start (Makefile).
  local libs
  libs=$(needed_libs "$REPO/build/isola-runtime" | tr '\n' ' ')
  [ -z "$libs" ] || { echo "needed: $libs"; return 1; }
}

@test "isola version names the commit the binaries were built from, after HEAD moved too" {
  local head bin
  head=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null) || skip "not a git clone"
  for bin in build/isola build/asan/isola; do
    run "$REPO/$bin" version
    [ "$status" -eq 0 ]
    [[ $output == *"Git commit:   $head"* ]] || { echo "$bin: $output (HEAD is $head: run make)"; return 1; }
  done
}

@test "the static monitor and agent contain no libseccomp, libarchive, libcrypto, libcurl or libmicrohttpd" {
  local bin found
  for bin in build/isola-monitor build/isola-agent; do
    [ -x "$REPO/$bin" ] || { echo "$bin is missing: run make"; return 1; }
    found=$(nm "$REPO/$bin" | awk '$2 ~ /^[TtWw]$/ {print $3}' | grep -E "$FORBIDDEN_SYMBOLS" || true)
    [ -z "$found" ] || { echo "$bin has: $found"; return 1; }
  done
  nm "$REPO/build/isola" | awk '{print $3}' | grep -qE '^seccomp_export_bpf$'
}

@test "the library's modules include each other in no cycle, and only downward" {
  run python3 "$REPO/tests/build/include_graph.py"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "the include check finds a cycle when there is one" {
  local copy
  copy=$(mktemp -d /tmp/isola-includes.XXXXXX)
  cp -r "$REPO/src/lib/." "$copy/"
  # base/util then includes store/store, whose store.c includes base/util: a cycle.
  sed -i '0,/#include "base\/error.h"/s//#include "base\/error.h"\n#include "store\/store.h"/' "$copy/base/util.h"
  run python3 "$REPO/tests/build/include_graph.py" --lib "$copy"
  rm -rf "$copy"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ $output == *"include cycle: "*"base/util"*"store/store"* ]]
}

@test "the include check finds an include from a lower subsystem into a higher one" {
  local copy
  copy=$(mktemp -d /tmp/isola-includes.XXXXXX)
  cp -r "$REPO/src/lib/." "$copy/"
  sed -i '0,/#include "base\/util.h"/s//#include "base\/util.h"\n#include "image\/image.h"/' "$copy/sandbox/caps.c"
  run python3 "$REPO/tests/build/include_graph.py" --lib "$copy"
  rm -rf "$copy"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ $output == *"upward include: sandbox/caps -> image/image"* ]]
}

#!/usr/bin/env bats
# Global CLI behaviour: help, version, store selection, usage errors (exit 125).

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

setup_file() { common_setup_file multilayer-oci; }
teardown_file() { common_teardown_file; }
setup() { setup_root; }
teardown() { teardown_root; }

COMMANDS=(load import save images tag rmi inspect "image inspect" "image prune" "image mount" "image unmount")

@test "--help prints usage with the commands on stdout and exits 0" {
  run --separate-stderr isola --help
  assert_status 0
  assert_output_matches '[Uu]sage'
  local c
  for c in load import save images tag rmi inspect image version; do
    assert_output_contains "$c"
  done
}

@test "COMMAND --help prints that command's usage on stdout and exits 0" {
  local c
  for c in "${COMMANDS[@]}" image version; do
    # shellcheck disable=SC2086
    run --separate-stderr isola $c --help
    echo "# isola $c --help"
    assert_status 0
    assert_output_matches '[Uu]sage'
  done
}

@test "version and --version print 'isola version'" {
  run --separate-stderr isola version
  assert_status 0
  assert_output_contains "isola version"
  run --separate-stderr isola --version
  assert_status 0
  assert_output_contains "isola version"
}

@test "ISOLA_ROOT selects the store" {
  run isola load -q -i "$(fx multilayer-oci)"
  assert_status 0
  [ -n "$(ls -A "$ISOLA_ROOT")" ] || fail "nothing written to ISOLA_ROOT=$ISOLA_ROOT"
  run isola images
  assert_status 0
  assert_output_contains "fixture/multi"
}

@test "--root selects the store and wins over ISOLA_ROOT" {
  local other
  other=$(new_root)
  run isola --root "$other" load -q -i "$(fx multilayer-oci)"
  assert_status 0
  # nothing went to $ISOLA_ROOT (the environment) ...
  run isola images
  assert_status 0
  refute_output_contains "fixture/multi"
  # ... and --root finds it again with ISOLA_ROOT pointing elsewhere
  run isola --root "$other" images
  assert_status 0
  assert_output_contains "fixture/multi"
  ISOLA_ROOT=$other run isola images
  assert_status 0
  assert_output_contains "fixture/multi"
}

@test "--root=DIR form works too" {
  local other
  other=$(new_root)
  run isola --root="$other" load -q -i "$(fx multilayer-oci)"
  assert_status 0
  run isola --root "$other" images
  assert_output_contains "fixture/multi"
}

@test "unknown command exits 125 with usage on stderr" {
  run --separate-stderr isola frobnicate
  assert_status 125
  assert_stderr_matches '[Uu]sage|--help'
  assert_stderr_matches 'frobnicate'
}

@test "unknown flag exits 125 (global and command flags)" {
  run --separate-stderr isola --bogus images
  assert_status 125
  [ -n "$stderr" ] || fail "no message on stderr"
  run --separate-stderr isola images --bogus
  assert_status 125
  assert_stderr_matches 'bogus'
  run --separate-stderr isola load --bogus
  assert_status 125
  run --separate-stderr isola image prune --bogus
  assert_status 125
}

@test "wrong number of arguments exits 125" {
  run --separate-stderr isola tag onlyone
  assert_status 125
  [ -n "$stderr" ] || fail "no message on stderr"
  run --separate-stderr isola tag a b c
  assert_status 125
  run --separate-stderr isola rmi
  assert_status 125
  run --separate-stderr isola image inspect
  assert_status 125
  run --separate-stderr isola image unmount # (image mount without arguments lists mounts, as podman's does)
  assert_status 125
  run --separate-stderr isola import
  assert_status 125
  run --separate-stderr isola save
  assert_status 125
}

@test "a flag missing its value exits 125" {
  run --separate-stderr isola --root
  assert_status 125
  run --separate-stderr isola load -i
  assert_status 125
}

@test "errors are printed on stderr as 'Error: ...'" {
  run --separate-stderr isola image inspect no-such-image:nope
  assert_status 1
  assert_stderr_matches '^Error: '
}

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

# Every command, as `isola` takes it (management subcommands as two words).
ALL_VERBS=(attach create exec images import inspect kill load logs ps rename restart rm rmi run save start stop tag
  top version wait "image inspect" "image prune" "image mount" "image unmount" "container prune")

@test "long flags match their exact name only: --pids is not --pids-limit" {
  run --separate-stderr isola run --pids 5 busybox
  assert_status 125
  assert_stderr_matches "^isola: unknown flag: --pids$"
  assert_stderr_matches "^See 'isola run --help'\.$"
  run --separate-stderr isola images --dig
  assert_status 125
  assert_stderr_matches "unknown flag: --dig$"
}

@test "usage errors name the flag as Docker's CLI does" {
  run --separate-stderr isola run -xit busybox
  assert_status 125
  assert_stderr_matches "^isola: unknown shorthand flag: 'x' in -xit$"
  run --separate-stderr isola run -e
  assert_status 125
  assert_stderr_matches "^isola: flag needs an argument: 'e' in -e$"
  run --separate-stderr isola logs --tail
  assert_status 125
  assert_stderr_matches "^isola: flag needs an argument: --tail$"
  run --separate-stderr isola run --tty=maybe busybox
  assert_status 125
  assert_stderr_matches 'invalid argument "maybe" for "-t, --tty" flag: strconv.ParseBool: parsing "maybe": invalid syntax'
}

@test "flags may follow the arguments; -- ends them" {
  load_fixture multilayer-oci
  run --separate-stderr isola image inspect fixture/multi:oci --format '{{.Os}}'
  assert_status 0
  assert_equal "$output" linux
  run --separate-stderr isola inspect fixture/multi:oci -f '{{.Architecture}}' --type image
  assert_status 0
  assert_equal "$output" amd64
  run --separate-stderr isola images fixture/multi -q --no-trunc
  assert_status 0
  assert_equal "$output" "$(image_id fixture/multi:oci)"
  run --separate-stderr isola image inspect -- --format
  assert_status 1
  assert_stderr_matches 'invalid reference format.*`--format`' # an argument, not the flag
}

@test "booleans take =value and never the next argument; short flags cluster" {
  load_fixture multilayer-oci
  run --separate-stderr isola images --quiet=true
  assert_status 0
  assert_equal "$output" "$(image_id fixture/multi:oci | cut -c8-19)"
  run --separate-stderr isola images -q=false --no-trunc=0
  assert_status 0
  assert_output_matches '^REPOSITORY +TAG +IMAGE ID'
  assert_output_contains "fixture/multi"
  run --separate-stderr isola images -q=F
  assert_output_matches '^REPOSITORY'
  run --separate-stderr isola images -qa
  assert_status 0
  assert_equal "$output" "$(image_id fixture/multi:oci | cut -c8-19)"
}

@test "--help lists -i and -t for run, and no feature as not yet there" {
  run --separate-stderr isola run --help
  assert_status 0
  assert_output_matches '^  -i, --interactive +Keep STDIN open'
  assert_output_matches '^  -t, --tty +Allocate a pseudo-TTY'
  assert_output_matches '^  -d, --detach '
  assert_output_matches '^      --isolation string +.*vm'
  refute_output_contains "not yet"
  # --pull: isola pulls (issue 13), and the help said it could not
  refute_output_contains "yet"
  run --separate-stderr isola create --help
  refute_output_contains "--detach"
  refute_output_contains "yet"
}

@test "every flag a command's --help lists is one it accepts, long and short" {
  local verb flag n=0
  for verb in "${ALL_VERBS[@]}"; do
    # shellcheck disable=SC2086
    run --separate-stderr isola $verb --help
    assert_status 0
    local flags
    flags=$(sed -n 's/^  \(-[a-zA-Z], \)\{0,1\}--\([a-z-]*\).*/\2/p' <<<"$output")
    for flag in $flags; do
      # shellcheck disable=SC2086
      run --separate-stderr isola $verb "--$flag=x" </dev/null
      [[ $stderr != *"unknown flag"* ]] || fail "isola $verb --$flag is listed in its --help but refused: $stderr"
      n=$((n + 1))
    done
    for flag in $(sed -n 's/^  -\([a-zA-Z]\), .*/\1/p' <<<"$output"); do
      # shellcheck disable=SC2086
      run --separate-stderr isola $verb "-$flag=x" </dev/null
      [[ $stderr != *"unknown shorthand flag"* ]] || fail "isola $verb -$flag is listed in its --help but refused"
    done
  done
  [ "$n" -gt 50 ] || fail "only $n flags found in the commands' help"
}

@test "--platform accepts linux/amd64 only, with Docker's message for a malformed one" {
  run --separate-stderr isola run --platform linux/arm64 busybox true
  assert_status 125
  assert_stderr_matches "linux/arm64"
  run --separate-stderr isola run --platform 'Linux/AMD 64' busybox true
  assert_status 125
  assert_stderr_matches '"Linux/AMD 64": unknown operating system or architecture: invalid argument'
}

@test "container inspect inspects containers only; container remove is container rm" {
  load_fixture multilayer-oci
  run --separate-stderr isola container inspect fixture/multi:oci
  assert_status 1
  assert_equal "$output" "[]"
  assert_stderr_matches "^Error: No such container: fixture/multi:oci$"
  run --separate-stderr isola container inspect --type image fixture/multi:oci
  assert_status 125
  assert_stderr_matches "unknown flag: --type"
  run --separate-stderr isola container remove no-such-container
  assert_status 1
  assert_stderr_matches "No such container"
  run --separate-stderr isola container --help
  refute_output_contains "remove" # an alias, not listed, as Docker lists rm only
}

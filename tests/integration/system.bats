#!/usr/bin/env bats
# isola info, system df and system prune: the whole store as Docker's CLI shows it.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

# ---- info ---------------------------------------------------------------------------------------------------------

# vm_built: the VM files beside the binary under test (make vm), which info looks for.
vm_built() {
  [ -f "$(dirname "$ISOLA")/vm/vmlinuz" ] && [ -f "$(dirname "$ISOLA")/vm/initramfs.img" ]
}

@test "info: Docker's fields for the store and the host, and the isolation modes" {
  run_detached --name up busybox sleep 1000
  isola_ok run --name down busybox true
  run --separate-stderr isola info
  assert_status 0
  assert_output_contains $'Server:\n Containers: 2\n  Running: 1\n  Paused: 0\n  Stopped: 1\n Images: 1\n'
  assert_output_contains " Storage Driver: overlay"
  assert_output_contains " Logging Driver: json-file"
  assert_output_contains " Cgroup Driver: cgroupfs"
  assert_output_matches '^ Cgroup Version: [12]$'
  assert_output_contains " Kernel Version: $(uname -r)"
  assert_output_contains " CPUs: $(nproc)"
  assert_output_matches '^ Total Memory: [0-9.]+GiB$'
  assert_output_contains " Docker Root Dir: $ISOLA_ROOT"
  assert_output_matches '^ Isolation: process \(default\), vm'
  run --separate-stderr env ISOLA_ISOLATION=vm "$ISOLA" info
  assert_output_matches '^ Isolation: process, vm \(default\)'
  run --separate-stderr env ISOLA_VM_ACCEL=tcg "$ISOLA" info
  if vm_built; then
    assert_output_contains " VM Accelerator: tcg (configured)"
  else
    # make check builds no VM files: the mode is listed as unavailable, with the reason
    assert_output_matches '^ Isolation: process \(default\), vm \(not available: .*missing'
  fi
}

@test "info --format: the same as JSON, or a template" {
  isola_ok run --name down busybox true
  run --separate-stderr isola info --format '{{json .}}'
  assert_status 0
  assert_jq '.Containers == 1 and .ContainersRunning == 0 and .ContainersStopped == 1 and .Images == 1'
  assert_jq '.Driver == "overlay" and .OSType == "linux" and .NCPU > 0 and .MemTotal > 0 and .ServerVersion != ""'
  assert_jq ".DockerRootDir == \"$ISOLA_ROOT\" and .DefaultIsolation == \"process\" and .Isolation == \"process\""
  if vm_built; then
    assert_jq '[.Isolations[].Name] == ["process", "vm"] and (.VMAccelerator == "kvm" or .VMAccelerator == "tcg")'
  else
    assert_jq '[.Isolations[].Name] == ["process", "vm"] and .Isolations[1].Available == false and .VMAccelerator == ""'
  fi
  run --separate-stderr isola info --format '{{.Containers}} {{.Images}} {{.OSType}}'
  assert_equal "$output" "1 1 linux"
  run --separate-stderr isola system info --format '{{.Driver}}'
  assert_equal "$output" overlay
}

# ---- df -----------------------------------------------------------------------------------------------------------

@test "system df: images, containers, volumes and build cache, with what could be reclaimed" {
  run --separate-stderr isola system df
  assert_status 0
  local size
  # go-units' HumanSize: 4 significant digits (images shows 3)
  size=$(awk -v b="$(isola image inspect -f '{{.Size}}' busybox)" 'BEGIN { printf "%.4gMB", b / 1000000 }')
  assert_equal "$(head -1 <<<"$output" | tr -s ' ')" "TYPE TOTAL ACTIVE SIZE RECLAIMABLE"
  assert_equal "$(sed -n 2p <<<"$output" | tr -s ' ')" "Images 1 0 $size $size (100%)"
  assert_equal "$(sed -n 3p <<<"$output" | tr -s ' ')" "Containers 0 0 0B 0B"
  assert_equal "$(sed -n 4p <<<"$output" | tr -s ' ')" "Local Volumes 0 0 0B 0B"
  assert_equal "$(sed -n 5p <<<"$output" | tr -s ' ')" "Build Cache 0 0 0B 0B"
  # a running container uses the image; a stopped one wrote 100 kB; an unused volume holds 200 kB
  run_detached --name up busybox sleep 1000
  isola_ok run --name down busybox dd if=/dev/zero of=/f bs=1000 count=100
  isola_ok volume create lone
  dd if=/dev/zero of="$ISOLA_ROOT/volumes/lone/_data/f" bs=1000 count=200 status=none
  run --separate-stderr isola system df --format '{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}'
  assert_status 0
  assert_equal "$(sed -n 1p <<<"$output")" "Images|1|1|$size|0B (0%)"
  assert_equal "$(sed -n 2p <<<"$output")" "Containers|2|1|102.4kB|102.4kB (100%)"
  assert_equal "$(sed -n 3p <<<"$output")" "Local Volumes|1|0|200.7kB|200.7kB (100%)"
  run --separate-stderr isola system df --format json
  assert_equal "$(jq -r 'select(.Type == "Containers") | .TotalCount + " " + .Active' <<<"$output")" "2 1"
  assert_equal "$(jq -c 'keys_unsorted' <<<"$(head -1 <<<"$output")")" '["Active","Reclaimable","Size","TotalCount","Type"]'
}

@test "system df -v: a table for each kind" {
  isola_ok run --name down busybox true
  isola_ok volume create lone
  run --separate-stderr isola system df -v
  assert_status 0
  assert_output_contains $'Images space usage:\n\nREPOSITORY'
  assert_output_matches '^busybox +latest +[0-9a-f]{12} .* 1$'
  assert_output_contains $'Containers space usage:\n\nCONTAINER ID'
  assert_output_matches '^[0-9a-f]{12} +busybox +"true" +0 +0B .*Exited \(0\) .* ago +down$'
  assert_output_contains $'Local Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\nlone'
  assert_output_contains 'Build cache usage: 0B'
}

# ---- prune --------------------------------------------------------------------------------------------------------

@test "system prune asks first: no removes nothing" {
  isola_ok run --name down busybox true
  run --separate-stderr isola system prune <<<"n"
  assert_status 0
  assert_output_contains "WARNING! This will remove:
  - all stopped containers
  - all dangling images

Are you sure you want to continue? [y/N] "
  assert_equal "$(isola ps -aq | wc -l)" 1
}

@test "system prune -f: stopped containers and dangling images go, running ones and used images stay" {
  run_detached --name up busybox sleep 1000
  isola_ok run --name down busybox dd if=/dev/zero of=/f bs=1000 count=100
  isola_ok run -v /anon --name withvol busybox true
  local down
  down=$(cfield down '{{.Id}}')
  # an untagged (dangling) image
  mkdir "$BATS_TEST_TMPDIR/rootfs"
  echo x >"$BATS_TEST_TMPDIR/rootfs/x"
  tar -C "$BATS_TEST_TMPDIR/rootfs" -cf "$BATS_TEST_TMPDIR/root.tar" .
  isola_ok import "$BATS_TEST_TMPDIR/root.tar"
  local busybox
  busybox=$(image_id busybox)
  run --separate-stderr isola system prune -f
  assert_status 0
  assert_output_contains "Deleted Containers:"
  assert_output_contains "$down"
  assert_output_contains "Deleted Images:"
  assert_output_matches '^Total reclaimed space: [0-9.]+[kM]B$'
  assert_equal "$(isola ps -a --format '{{.Names}}')" up
  assert_equal "$(isola images --format '{{.Repository}}')" busybox
  # the anonymous volume stays without --volumes
  assert_equal "$(isola volume ls -q | wc -l)" 1
  isola_ok rm -f up
  run --separate-stderr isola system prune -f -a --volumes
  assert_status 0
  assert_output_contains "Deleted Volumes:"
  assert_output_contains "deleted: $busybox"
  assert_equal "$(isola volume ls -q | wc -l)" 0
  assert_equal "$(isola images -q | wc -l)" 0
}

@test "system prune --filter: label=, label!= and until= choose what goes; other keys are refused" {
  isola_ok run --name keep --label keep=yes busybox true
  isola_ok run --name go --label keep=no busybox true
  run --separate-stderr isola system prune -f --filter label=keep=no
  assert_status 0
  assert_equal "$(isola ps -a --format '{{.Names}}')" keep
  isola_ok run --name go2 busybox true
  run --separate-stderr isola system prune -f --filter 'label!=keep'
  assert_status 0
  assert_equal "$(isola ps -a --format '{{.Names}}')" keep
  run --separate-stderr isola system prune -f --filter until=1h
  assert_status 0
  assert_equal "$(isola ps -a --format '{{.Names}}')" keep
  run --separate-stderr isola system prune -f --filter "until=$(($(date +%s) + 60))"
  assert_status 0
  assert_equal "$(isola ps -a -q | wc -l)" 0
  run --separate-stderr isola system prune -f --filter bogus=1
  assert_status 1
  assert_equal "$stderr" "Error: invalid filter 'bogus'"
  run --separate-stderr isola system prune -f --filter nokey
  assert_status 125
  run --separate-stderr isola system prune -f --filter until=soon
  assert_status 1
  run --separate-stderr isola system prune --filter label=a <<<"n"
  assert_output_contains "  Items to be pruned will be filtered with:
  - label=a"
}

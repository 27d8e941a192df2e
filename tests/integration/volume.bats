#!/usr/bin/env bats
# isola volume create/ls/inspect/rm/prune, and volumes in containers: -v NAME:/path, -v /path and the image's VOLUME
# (anonymous volumes), --mount (volume, bind, tmpfs), seeding a new volume from the image, rm -v and --rm.  Runs in
# both isolation modes (VM_FILES): in a VM a volume is a 9p share like a bind.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-60}

# The image "seedimg": busybox plus /seed (owner 1000:1000, mode 0750) holding a file (1001:1002, 0640, an xattr), a
# symlink, a private subdirectory and a setuid file, with VOLUME /seed; built from the busybox archive's layer.
make_seed_tar() {
  "$PYTHON" - "$ISOLA_IMAGE" "$1" <<'EOF'
import gzip, io, json, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
with tarfile.open(src) as oci:
    blob = lambda d: oci.extractfile("blobs/sha256/" + d.split(":")[1]).read()
    index = json.loads(oci.extractfile("index.json").read())
    manifest = json.loads(blob(index["manifests"][0]["digest"]))
    layer = blob(manifest["layers"][0]["digest"])
if layer[:2] == b"\x1f\x8b":
    layer = gzip.decompress(layer)
def info(name, kind, mode, uid=0, gid=0, data=b"", link="", xattrs=None):
    t = tarfile.TarInfo(name)
    t.type, t.mode, t.uid, t.gid, t.mtime, t.linkname = kind, mode, uid, gid, 1700000000, link
    t.size = len(data)
    if xattrs:
        t.pax_headers = {"SCHILY.xattr." + k: v for k, v in xattrs.items()}
    return t, io.BytesIO(data) if data else None
with tarfile.open(fileobj=io.BytesIO(layer)) as base, tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    for m in base.getmembers():
        t.addfile(m, base.extractfile(m) if m.isfile() else None)
    for m, f in (info("seed", tarfile.DIRTYPE, 0o750, 1000, 1000),
                 info("seed/file", tarfile.REGTYPE, 0o640, 1001, 1002, b"from the image\n", xattrs={"user.origin": "image"}),
                 info("seed/link", tarfile.SYMTYPE, 0o777, link="file"),
                 info("seed/sub", tarfile.DIRTYPE, 0o700, 1000, 1000),
                 info("seed/sub/suid", tarfile.REGTYPE, 0o4755, 0, 0, b"#!/bin/sh\n")):
        t.addfile(m, f)
EOF
}

setup_file() {
  container_setup_file
  PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}
  export PYTHON
  SEED_TAR=$BATS_FILE_TMPDIR/seed.tar
  export SEED_TAR
  make_seed_tar "$SEED_TAR"
}
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

import_seed_image() {
  isola_ok import -c 'VOLUME /seed' -c 'CMD ["sh"]' "$SEED_TAR" seedimg
}

# mountpoint_of VOLUME: its host directory, from inspect.
mountpoint_of() {
  isola volume inspect --format '{{.Mountpoint}}' "$1"
}

volume_names() {
  isola volume ls -q | sort | tr '\n' ' '
}

# ---- the volume commands -------------------------------------------------------------------------------------------

@test "volume create, ls, inspect and rm" {
  run --separate-stderr isola volume create v1
  assert_status 0
  assert_equal "$output" v1
  isola_ok volume create --label env=test --label bare v2
  run --separate-stderr isola volume ls
  assert_status 0
  assert_equal "$output" "DRIVER    VOLUME NAME
local     v1
local     v2"
  run --separate-stderr isola volume inspect v2
  assert_status 0
  assert_jq 'length == 1 and .[0].Name == "v2" and .[0].Driver == "local" and .[0].Scope == "local"'
  assert_jq ".[0].Mountpoint == \"$ISOLA_ROOT/volumes/v2/_data\" and .[0].Labels == {\"env\": \"test\", \"bare\": \"\"}"
  assert_jq '.[0].Options == null and (.[0].CreatedAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$"))'
  assert_jq '.[0] | keys == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]'
  [ -d "$ISOLA_ROOT/volumes/v2/_data" ]
  run --separate-stderr isola volume inspect --format '{{.Name}} {{.Driver}} {{index .Labels "env"}}' v2
  assert_equal "$output" "v2 local test"
  # creating an existing volume again keeps it, as Docker does
  echo keep >"$ISOLA_ROOT/volumes/v1/_data/f"
  isola_ok volume create v1
  assert_equal "$(cat "$ISOLA_ROOT/volumes/v1/_data/f")" keep
  run --separate-stderr isola volume rm v1 v2
  assert_status 0
  assert_equal "$output" "v1
v2"
  assert_equal "$(volume_names)" ""
  [ ! -e "$ISOLA_ROOT/volumes/v1" ]
  assert_tmp_clean
}

@test "volume create without a name makes a 64-hex one; --name is the same as the argument" {
  run --separate-stderr isola volume create
  assert_status 0
  [[ $output =~ ^[0-9a-f]{64}$ ]] || fail "not a 64-hex name: $output"
  isola_ok volume create --name byflag
  assert_equal "$(isola volume ls -q | grep -c byflag)" 1
}

@test "volume names are checked as Docker's, and driver options are refused clearly" {
  local bad
  for bad in 'a' '_x' '.hidden' 'has space' 'a/b' 'bad@name'; do
    run --separate-stderr isola volume create "$bad"
    assert_status 1
    [[ $stderr == *"includes invalid characters for a local volume name"* ]] || fail "$bad: $stderr"
  done
  run --separate-stderr isola volume create -o type=tmpfs v
  assert_status 1
  [[ $stderr == *'option "type=tmpfs" is not supported'* ]] || fail "$stderr"
  run --separate-stderr isola volume create -d nfs v
  assert_status 1
  [[ $stderr == *'volume driver "nfs" is not supported'* ]] || fail "$stderr"
  run --separate-stderr isola volume create --bogus v
  assert_status 125
  assert_equal "$(volume_names)" ""
}

@test "volume inspect and rm of a missing volume fail with 'No such volume'; rm -f ignores it" {
  isola_ok volume create here
  run --separate-stderr isola volume inspect here nothere
  assert_status 1
  assert_jq 'length == 1 and .[0].Name == "here"'
  [[ $stderr == *"No such volume: nothere"* ]] || fail "$stderr"
  run --separate-stderr isola volume rm nothere
  assert_status 1
  [[ $stderr == *"No such volume: nothere"* ]] || fail "$stderr"
  run --separate-stderr isola volume rm -f nothere here
  assert_status 0
  assert_equal "$output" here
}

@test "volume ls filters by name, label and dangling, and formats with a template" {
  isola_ok volume create alpha
  isola_ok volume create --label tier=db beta
  isola_ok volume create --label tier=web gamma
  isola_ok create --name user -v alpha:/a busybox true
  run --separate-stderr isola volume ls -q --filter name=alp
  assert_equal "$output" alpha
  run --separate-stderr isola volume ls -q --filter label=tier
  assert_equal "$output" "beta
gamma"
  run --separate-stderr isola volume ls -q --filter label=tier=db
  assert_equal "$output" beta
  run --separate-stderr isola volume ls -q --filter dangling=true
  assert_equal "$output" "beta
gamma"
  run --separate-stderr isola volume ls -q -f dangling=false
  assert_equal "$output" alpha
  run --separate-stderr isola volume ls --format '{{.Name}}:{{.Driver}}:{{.Labels}}' --filter name=beta
  assert_equal "$output" "beta:local:tier=db"
  run --separate-stderr isola volume ls --format 'table {{.Driver}} {{.Name}}' --filter name=gamma
  assert_equal "$output" "DRIVER VOLUME NAME
local gamma"
  run --separate-stderr isola volume ls --filter color=red
  assert_status 125
}

@test "volume rm refuses a volume a container uses, running or not, naming the container" {
  isola_ok volume create busy
  isola_ok create --name holder -v busy:/data busybox true
  local id
  id=$(isola inspect --format '{{.Id}}' holder)
  run --separate-stderr isola volume rm busy
  assert_status 1
  assert_equal "$stderr" "Error: remove busy: volume is in use - [$id]"
  run --separate-stderr isola volume rm -f busy
  assert_status 1
  isola_ok rm holder
  isola_ok volume rm busy
}

@test "volume prune removes unused anonymous volumes; -a also unused named ones; used ones stay" {
  isola_ok volume create named
  isola_ok volume create kept
  isola_ok create --name anon -v /x busybox true
  local anon
  anon=$(isola inspect anon | jq -r '.[0].Mounts[0].Name')
  [[ $anon =~ ^[0-9a-f]{64}$ ]] || fail "anonymous volume name: $anon"
  isola_ok rm anon
  isola_ok create --name user -v kept:/k busybox true
  run --separate-stderr isola volume prune -f
  assert_status 0
  assert_output_contains "Deleted Volumes:
$anon"
  assert_output_contains "Total reclaimed space:"
  assert_equal "$(volume_names)" "kept named "
  run --separate-stderr isola volume prune -f -a
  assert_status 0
  assert_output_contains "named"
  assert_equal "$(volume_names)" "kept "
  # without -f it asks, and no answer keeps everything
  isola_ok volume create asked
  run --separate-stderr isola volume prune -a </dev/null
  assert_status 0
  assert_equal "$(volume_names)" "asked kept "
}

# ---- volumes in containers -----------------------------------------------------------------------------------------

@test "a named volume keeps its data across containers; a missing one is created on run" {
  run --separate-stderr isola run --rm -v data:/data busybox sh -c 'echo written-by-one > /data/f'
  assert_status 0
  assert_equal "$(volume_names)" "data "
  run --separate-stderr isola run --rm -v data:/data busybox cat /data/f
  assert_status 0
  assert_equal "$output" written-by-one
  assert_equal "$(cat "$(mountpoint_of data)/f")" written-by-one
}

@test "-v NAME:/path:ro and --mount readonly refuse writes" {
  isola_ok volume create rovol
  echo content >"$(mountpoint_of rovol)/in"
  run --separate-stderr isola run --rm -v rovol:/data:ro busybox sh -c 'cat /data/in; echo x > /data/out'
  assert_status 1
  assert_equal "$output" content
  [[ $stderr == *"Read-only file system"* ]] || fail "$stderr"
  run --separate-stderr isola run --rm --mount type=volume,source=rovol,target=/data,readonly busybox touch /data/out
  assert_status 1
  [ ! -e "$(mountpoint_of rovol)/out" ]
}

@test "inspect records volume mounts as Docker does: Mounts, HostConfig.Binds and HostConfig.Mounts" {
  run_detached -v named:/data --mount type=volume,source=other,target=/other,readonly -v /anon busybox true
  run --separate-stderr isola inspect "$CID"
  assert_status 0
  assert_jq '.[0].HostConfig.Binds == ["named:/data"]'
  assert_jq '.[0].HostConfig.Mounts == [{"Type": "volume", "Source": "other", "Target": "/other", "ReadOnly": true}]'
  assert_jq '.[0].Config.Volumes == {"/anon": {}}'
  assert_jq ".[0].Mounts | map(select(.Name == \"named\")) == [{\"Type\": \"volume\", \"Name\": \"named\", \"Source\": \"$ISOLA_ROOT/volumes/named/_data\", \"Destination\": \"/data\", \"Driver\": \"local\", \"Mode\": \"z\", \"RW\": true, \"Propagation\": \"\"}]"
  assert_jq '.[0].Mounts | map(select(.Name == "other" and .RW == false and .Mode == "" and .Destination == "/other")) | length == 1'
  assert_jq '.[0].Mounts | map(select(.Destination == "/anon" and .Type == "volume" and (.Name | test("^[0-9a-f]{64}$")))) | length == 1'
}

@test "a new volume is seeded with the image's content at its path, keeping owners, modes, xattrs and symlinks" {
  import_seed_image
  run --separate-stderr isola run --rm -v seeded:/seed seedimg sh -c 'cat /seed/file; ls -ln /seed | tail -n +2 | awk "{ print \$1, \$3, \$4, \$NF }"'
  assert_status 0
  # the link's target is the last field; a VM's share shows the host's symlink as one but cannot read its target
  # (QEMU's mapped-xattr: README, "Files in VM containers"), so ls prints its name there
  local target=file
  [ "$TEST_ISOLATION" != vm ] || target=link
  assert_equal "$output" "from the image
-rw-r----- 1001 1002 file
lrwxrwxrwx 0 0 $target
drwx------ 1000 1000 sub"
  local d
  d=$(mountpoint_of seeded)
  assert_equal "$(stat -c '%a %u:%g' "$d" "$d/file" "$d/sub" "$d/sub/suid")" "750 1000:1000
640 1001:1002
700 1000:1000
4755 0:0"
  assert_equal "$(readlink "$d/link")" file
  assert_equal "$("$PYTHON" -c 'import os, sys; print(os.getxattr(sys.argv[1], "user.origin").decode())' "$d/file")" image
  [ ! -e "$ISOLA_ROOT/volumes/seeded/_seed" ]
  assert_tmp_clean
}

@test "a volume that is not empty is not seeded, nor one mounted with volume-nocopy, nor a bind" {
  import_seed_image
  isola_ok volume create full
  echo mine >"$(mountpoint_of full)/own"
  isola_ok create -v full:/seed seedimg true
  assert_equal "$(ls "$(mountpoint_of full)")" own
  isola_ok create --mount type=volume,source=empty,target=/seed,volume-nocopy seedimg true
  assert_equal "$(ls -A "$(mountpoint_of empty)")" ""
  mkdir "$BATS_TEST_TMPDIR/host"
  isola_ok create -v "$BATS_TEST_TMPDIR/host:/seed" seedimg true
  assert_equal "$(ls -A "$BATS_TEST_TMPDIR/host")" ""
}

@test "an empty volume that a running container has is not seeded under it: its writes stay in the volume" {
  import_seed_image
  # the first container has the volume where its image has nothing; seeding for the second would have swapped the
  # directory out from under the first
  run_detached -v shared:/data busybox sh -c 'until [ -e /data/go ]; do sleep 0.1; done; echo kept >/data/written'
  local first=$CID
  isola_ok create --name second -v shared:/seed seedimg true
  touch "$(mountpoint_of shared)/go"
  isola_ok wait "$first"
  assert_equal "$(ls "$(mountpoint_of shared)" | tr '\n' ' ')" "go written "
  run --separate-stderr isola run --rm -v shared:/seed seedimg cat /seed/written
  assert_status 0
  assert_equal "$output" kept
}

@test "a copy interrupted by a crash (its staging directory left) is not taken as seeded: the next use seeds" {
  import_seed_image
  isola_ok volume create crashed
  # what kill -9 during the copy leaves: an empty _data and a partial staging copy beside it
  mkdir -p "$ISOLA_ROOT/volumes/crashed/_seed"
  echo partial >"$ISOLA_ROOT/volumes/crashed/_seed/half"
  isola_ok create -v crashed:/seed seedimg true
  assert_equal "$(ls "$(mountpoint_of crashed)" | tr '\n' ' ')" "file link sub "
  [ ! -e "$ISOLA_ROOT/volumes/crashed/_seed" ]
}

@test "the image's VOLUME gets an anonymous volume, seeded; rm -v removes it and keeps named ones" {
  import_seed_image
  run_detached --name withvols -v named:/named seedimg true
  local anon
  anon=$(isola inspect withvols | jq -r '.[0].Mounts[] | select(.Destination == "/seed") | .Name')
  [[ $anon =~ ^[0-9a-f]{64}$ ]] || fail "no anonymous volume at /seed: $anon"
  assert_equal "$(cat "$(mountpoint_of "$anon")/file")" "from the image"
  isola volume inspect "$anon" | jq -e '.[0].Labels == {"com.docker.volume.anonymous": ""}' >/dev/null
  isola_ok wait withvols
  isola_ok rm -v withvols
  assert_equal "$(volume_names)" "named "
}

@test "rm without -v keeps anonymous volumes; run --rm removes them" {
  isola_ok create --name keepanon -v /scratch busybox true
  isola_ok rm keepanon
  [ "$(isola volume ls -q | wc -l)" -eq 1 ]
  isola_ok volume prune -f
  run --separate-stderr isola run --rm -v /scratch -v kept:/kept busybox sh -c 'echo x > /scratch/f; echo y > /kept/f'
  assert_status 0
  assert_equal "$(volume_names)" "kept "
}

@test "--mount binds, tmpfs mounts and volumes, in both isolation modes" {
  mkdir "$BATS_TEST_TMPDIR/h"
  echo host >"$BATS_TEST_TMPDIR/h/in"
  run --separate-stderr isola run --rm --mount "type=bind,source=$BATS_TEST_TMPDIR/h,target=/h,readonly" \
    --mount type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770 --mount source=mv,target=/m busybox \
    sh -c 'cat /h/in; stat -c %a /t; grep " /t " /proc/mounts | grep -c tmpfs; echo v > /m/f; touch /h/no 2>/dev/null || echo ro'
  assert_status 0
  assert_equal "$output" "host
1770
1
ro"
  assert_equal "$(cat "$(mountpoint_of mv)/f")" v
  [ ! -e "$BATS_TEST_TMPDIR/h/no" ]
}

@test "bad volume and mount specifications fail with 125 and a clear message" {
  local spec
  run --separate-stderr isola run --rm -v 'bad@name:/data' busybox true
  assert_status 125
  [[ $stderr == *"includes invalid characters for a local volume name"* ]] || fail "$stderr"
  run --separate-stderr isola run --rm -v vol:relative busybox true
  assert_status 125
  [[ $stderr == *"mount path must be absolute"* ]] || fail "$stderr"
  run --separate-stderr isola run --rm -v vol:/data:bogus busybox true
  assert_status 125
  [[ $stderr == *"invalid mode: bogus"* ]] || fail "$stderr"
  run --separate-stderr isola run --rm -v vol:/ busybox true
  assert_status 125
  [[ $stderr == *"destination can't be '/'"* ]] || fail "$stderr"
  run --separate-stderr isola run --rm -v aa:/same -v bb:/same busybox true
  assert_status 125
  [[ $stderr == *"Duplicate mount point: /same"* ]] || fail "$stderr"
  run --separate-stderr isola run --rm --mount type=volume,source=v busybox true
  assert_status 125
  [[ $stderr == *'invalid argument "type=volume,source=v" for "--mount" flag: target is required'* ]] || fail "$stderr"
  run --separate-stderr isola run --rm --mount type=bind,target=/x busybox true
  assert_status 125
  [[ $stderr == *"field Source must not be empty"* ]] || fail "$stderr"
  run --separate-stderr isola run --rm --mount type=nfs,target=/x busybox true
  assert_status 125
  [[ $stderr == *'mount type unknown: "nfs"'* ]] || fail "$stderr"
  run --separate-stderr isola run --rm --mount target=/x,volume-opt=type=nfs busybox true
  assert_status 125
  [[ $stderr == *"volume-opt is not supported"* ]] || fail "$stderr"
  # nothing was made by the refused requests, not even the volumes they named
  assert_equal "$(volume_names)" ""
  assert_equal "$(isola ps -aq)" ""
}

# A hostile image whose VOLUMEs and layer point out of its root: absolute and relative symlinks at the volume paths,
# a symlink inside a seeded volume, a "../" path; the container writes through all of them.  Nothing may land in
# the host's directory they name: volume paths resolve inside the container's root (as Docker's), the seed copy
# keeps symlinks as symlinks, and rm -v and rmi remove the volumes and layers without following them.
@test "hostile image: VOLUME paths and seeded symlinks that point out of the root write nothing outside the store" {
  local victim=$BATS_TEST_TMPDIR/victim rootfs=$BATS_TEST_TMPDIR/hostile
  mkdir -p "$victim" "$rootfs/bin" "$rootfs/vol"
  echo precious >"$victim/file"
  cp /bin/busybox "$rootfs/bin/"
  ln -s busybox "$rootfs/bin/sh"
  ln -s "$victim" "$rootfs/out"
  ln -s "../../../../../../../..$victim" "$rootfs/rel"
  ln -s "$victim" "$rootfs/vol/esc"
  echo data >"$rootfs/vol/f"
  tar -C "$rootfs" -cf "$BATS_TEST_TMPDIR/hostile.tar" .
  isola_ok import -c "VOLUME [\"/out\", \"/rel/sub\", \"/vol\", \"/../../../..$victim/dd\"]" -c 'CMD ["/bin/sh"]' \
    "$BATS_TEST_TMPDIR/hostile.tar" hostile/vols
  run --separate-stderr isola run --name hv hostile/vols sh -c "
    echo pwned >/out/x; echo pwned >/rel/sub/x; echo pwned >/vol/esc/x; echo pwned >$victim/dd/x
    echo pwned >/vol/esc/file; busybox cat /vol/f"
  assert_status 0
  assert_equal "$output" data
  # the container's directory now holds those symlinks too (its upper layer): rm -v goes over them and the volumes
  isola_ok rm -v hv
  isola_ok rmi hostile/vols
  assert_equal "$(ls -A "$victim")" file
  assert_equal "$(cat "$victim/file")" precious
  run --separate-stderr isola volume ls -q
  assert_output_empty
}

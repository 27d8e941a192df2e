#!/usr/bin/env bats
# Producing images from containers (issue 16): diff, commit, export, history.  In VM_FILES: every test runs in both
# isolation modes (a VM container's layer is its disk: read on the host when it is stopped, frozen by its agent
# while the host reads it when it runs).

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-60}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

# A container that adds, changes and deletes files, a whole directory included, then stops.
CHANGES='mkdir -p /new/dir && echo hi >/new/dir/f && echo x >>/etc/passwd && rm /bin/ls && mkdir /tmp/a && rm -rf /usr && ln -s /etc/passwd /new/link && dd if=/dev/urandom of=/new/big bs=1M count=3 2>/dev/null && md5sum /new/big >/new/big.md5'

@test "diff lists a stopped container's changes as Docker does: A/C/D, a directory then its entries sorted, parents of A/D as C" {
  isola_ok run --name c1 busybox sh -c "$CHANGES"
  run --separate-stderr isola diff c1
  assert_status 0
  assert_equal "$output" "C /bin
D /bin/ls
C /etc
C /etc/passwd
A /new
A /new/big
A /new/big.md5
A /new/dir
A /new/dir/f
A /new/link
C /tmp
A /tmp/a
D /usr"
}

@test "diff of a container that changed nothing is empty (isola's /etc/hosts and friends are not changes)" {
  isola_ok run --name c1 busybox true
  run --separate-stderr isola diff c1
  assert_status 0
  assert_output_empty
  run --separate-stderr isola diff nosuch
  assert_status 1
  assert_stderr_matches "No such container: nosuch"
  run --separate-stderr isola diff
  assert_status 125
}

@test "diff and commit of a running container see what it wrote, and it keeps running (commit pauses it meanwhile)" {
  isola_ok run -d --name c1 busybox sh -c 'echo live >/live; touch /ready; exec sleep 100000'
  wait_until 60 isola exec c1 test -f /ready
  run --separate-stderr isola diff c1
  assert_status 0
  assert_output_contains "A /live"
  run --separate-stderr isola commit c1 live:1
  assert_status 0
  [[ $output =~ ^sha256:[0-9a-f]{64}$ ]] || fail "commit printed: $output"
  run --separate-stderr isola inspect -f '{{.State.Status}}' c1
  assert_equal "$output" running
  # the container still writes after the read (a VM's disk is thawed)
  isola_ok exec c1 sh -c 'echo again >/again'
  run --separate-stderr isola run --rm live:1 cat /live
  assert_status 0
  assert_equal "$output" live
}

@test "diff of a paused container works and leaves it paused" {
  isola_ok run -d --name c1 busybox sh -c 'echo p >/p; touch /ready; exec sleep 100000'
  wait_until 60 isola exec c1 test -f /ready
  isola_ok pause c1
  run --separate-stderr isola diff c1
  assert_status 0
  assert_output_contains "A /p"
  run --separate-stderr isola inspect -f '{{.State.Status}}' c1
  assert_equal "$output" paused
  isola_ok unpause c1
  isola_ok exec c1 touch /after
  run --separate-stderr isola diff c1
  assert_output_contains "A /after"
}

@test "commit: the image runs with the changes, -c/-a/-m land in its config and history, Parent is the image" {
  isola_ok run --name c1 busybox sh -c "$CHANGES"
  run --separate-stderr isola commit -a 'Ann <a@b>' -m 'the message' -c 'ENV FOO=bar' -c 'CMD ["cat", "/new/dir/f"]' -c 'WORKDIR /new' c1 made:v1
  assert_status 0
  local id=${output#sha256:}
  run --separate-stderr isola run --rm made:v1
  assert_status 0
  assert_equal "$output" hi
  run --separate-stderr isola run --rm made:v1 sh -c 'echo "$FOO $(pwd)"; md5sum -c big.md5; test -e /bin/ls || echo no-ls; test -e /usr || echo no-usr; readlink /new/link; tail -1 /etc/passwd'
  assert_status 0
  assert_equal "$output" "bar /new
/new/big: OK
no-ls
no-usr
/etc/passwd
x"
  local parent
  parent=$(isola image inspect -f '{{.Id}}' busybox)
  run --separate-stderr isola image inspect -f '{{.Id}}|{{.Parent}}|{{.Author}}|{{.Comment}}|{{json .Config.Cmd}}|{{.Config.WorkingDir}}|{{json .RootFS.Layers}}' made:v1
  assert_equal "$output" "sha256:$id|$parent|Ann <a@b>|the message|[\"cat\",\"/new/dir/f\"]|/new|$(isola image inspect -f '{{json .RootFS.Layers}}' busybox | sed 's/]$//'),\"sha256:$(sha256sum "$ISOLA_ROOT/blobs/sha256/$(jq -r '.layers[-1].digest' <"$ISOLA_ROOT/blobs/sha256/$(jq -r .manifest "$ISOLA_ROOT/images/$id.json")" | cut -d: -f2)" | cut -c1-64)\"]"
  # history: the new layer on top, named; the image's own below it, named after the parent
  run --separate-stderr isola history --no-trunc --format '{{.ID}}|{{.CreatedBy}}|{{.Comment}}' made:v1
  assert_status 0
  assert_equal "$(sed -n 1p <<<"$output")" "sha256:$id|sh -c $CHANGES|the message"
  assert_equal "$(sed -n 2p <<<"$output" | cut -d'|' -f1)" "$parent"
  # a bad change is refused and nothing is stored
  local before
  before=$(isola images -q | sort)
  run --separate-stderr isola commit -c 'NOSUCH x' c1 bad:1
  assert_status 1
  assert_equal "$(isola images -q | sort)" "$before"
  assert_tmp_clean
}

@test "commit of a container without changes adds an empty_layer history entry and no layer; the image saves and loads" {
  isola_ok run --name c1 busybox true
  run --separate-stderr isola commit c1 same:1
  assert_status 0
  run --separate-stderr isola image inspect -f '{{json .RootFS.Layers}}' same:1
  assert_equal "$output" "$(isola image inspect -f '{{json .RootFS.Layers}}' busybox)"
  run --separate-stderr isola history -q same:1
  assert_equal "$(wc -l <<<"$output")" 2
  isola_ok save -o "$BATS_TEST_TMPDIR/same.tar" same:1
  isola_ok rm c1
  isola_ok rmi same:1
  isola_ok load -i "$BATS_TEST_TMPDIR/same.tar"
  isola_ok run --rm same:1 true
}

@test "the committed image runs in the other isolation mode too" {
  isola_ok run --name c1 busybox sh -c 'echo crossed >/crossed'
  isola_ok commit c1 cross:1
  run --separate-stderr isola run --rm --isolation="$OTHER_ISOLATION" cross:1 cat /crossed
  assert_status 0
  assert_equal "$output" crossed
}

@test "export writes the whole file system, changes included, to -o (atomically) or stdout; refuses a terminal" {
  isola_ok run --name c1 busybox sh -c "$CHANGES"
  isola_ok export -o "$BATS_TEST_TMPDIR/c1.tar" c1
  tar -tf "$BATS_TEST_TMPDIR/c1.tar" >"$BATS_TEST_TMPDIR/list"
  grep -qx 'new/dir/f' "$BATS_TEST_TMPDIR/list" || fail "no new/dir/f"
  grep -qx 'bin/busybox' "$BATS_TEST_TMPDIR/list" || fail "no bin/busybox"
  ! grep -q '^usr' "$BATS_TEST_TMPDIR/list" || fail "the deleted /usr is exported"
  ! grep -qx 'bin/ls' "$BATS_TEST_TMPDIR/list" || fail "the deleted /bin/ls is exported"
  ! grep -q '\.wh\.' "$BATS_TEST_TMPDIR/list" || fail "whiteouts exported"
  mkdir "$BATS_TEST_TMPDIR/x"
  isola export c1 | tar -xf - -C "$BATS_TEST_TMPDIR/x"
  assert_equal "$(md5sum <"$BATS_TEST_TMPDIR/x/new/big")" "$(cut -d' ' -f1 "$BATS_TEST_TMPDIR/x/new/big.md5")  -"
  assert_equal "$(cat "$BATS_TEST_TMPDIR/x/new/dir/f")" hi
  # the export imports as an image that runs
  isola_ok import "$BATS_TEST_TMPDIR/c1.tar" exported:1
  run --separate-stderr isola run --rm exported:1 cat /new/dir/f
  assert_equal "$output" hi
  run --separate-stderr isola export nosuch -o "$BATS_TEST_TMPDIR/none.tar"
  assert_status 1
  [ ! -e "$BATS_TEST_TMPDIR/none.tar" ] || fail "a file was left"
  run script -qec "$ISOLA export c1" /dev/null
  assert_output_contains "cowardly refusing to save to a terminal"
}

@test "history: Docker's columns and widths, <missing> below an image without parent, -q, -H=false sizes in bytes" {
  only_isolation process "images are the same in both modes"
  isola_ok run --name c1 busybox sh -c 'echo 12345 >/five'
  isola_ok commit -m note c1 h:1
  run --separate-stderr isola history h:1
  assert_status 0
  assert_equal "$(sed -n 1p <<<"$output" | tr -s ' ')" "IMAGE CREATED CREATED BY SIZE COMMENT"
  assert_output_matches "sh -c echo 12345 >/five +6B +note"
  run --separate-stderr isola history -H=false --format '{{.Size}} {{.CreatedSince}}' h:1
  assert_equal "$(sed -n 1p <<<"$output" | cut -d' ' -f1)" 6
  [[ $(sed -n 1p <<<"$output" | cut -d' ' -f2) =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T ]] || fail "not RFC 3339: $output"
  # an image loaded from an archive knows no parent: its lower rows are <missing>
  isola_ok save -o "$BATS_TEST_TMPDIR/h.tar" h:1
  isola_ok rm c1
  isola_ok rmi h:1
  isola_ok load -i "$BATS_TEST_TMPDIR/h.tar"
  run --separate-stderr isola history -q h:1
  assert_equal "$(sed -n 2p <<<"$output")" "<missing>"
  # a long CREATED BY is cut to 45 characters with an ellipsis, not with --no-trunc
  isola_ok run --name c2 busybox sh -c 'echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa >/a'
  isola_ok commit c2 long:1
  run --separate-stderr isola history --no-trunc --format '{{.CreatedBy}}' long:1
  assert_equal "$(sed -n 1p <<<"$output")" "sh -c echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa >/a"
  run --separate-stderr isola history --format '{{.CreatedBy}}' long:1
  assert_equal "$(sed -n 1p <<<"$output")" "sh -c echo $(printf 'a%.0s' $(seq 33))…"
  run --separate-stderr isola history nosuch
  assert_status 1
  assert_stderr_matches "No such image: nosuch"
}

@test "rmi of an image with a committed child is refused by ID as Docker does, only untags by name; the child's rmi takes its untagged parents" {
  isola_ok create --name c1 busybox true
  isola_ok commit c1 mid:1
  isola_ok rm c1
  isola_ok create --name c2 mid:1 true
  isola_ok commit c2 top:1
  isola_ok rm c2
  mid=$(isola image inspect -f '{{.Id}}' mid:1 | cut -c8-19)
  run --separate-stderr isola rmi "$mid"
  assert_status 1
  assert_equal "$stderr" "Error: conflict: unable to delete $mid (cannot be forced) - image has dependent child images"
  run --separate-stderr isola rmi -f "$mid"
  assert_status 1
  run --separate-stderr isola rmi mid:1
  assert_status 0
  assert_equal "$output" "Untagged: mid:1"
  # untagged with a child: an intermediate image, which images shows with -a only
  run --separate-stderr isola images -q
  refute_output_contains "$mid"
  run --separate-stderr isola images -aq
  assert_output_contains "$mid"
  run --separate-stderr isola rmi top:1
  assert_status 0
  assert_output_contains "Deleted: sha256:$mid"
  run --separate-stderr isola images -aq
  assert_equal "$output" "$(isola images -q busybox)"
}

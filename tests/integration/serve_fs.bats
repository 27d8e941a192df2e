#!/usr/bin/env bats
# isola serve's endpoints over a container's file system and the store's space, driven by Debian's docker 20.10
# client: archive (docker cp, both directions, running and stopped, the X-Docker-Container-Path-Stat header, paths
# that cannot leave the container), changes (diff), export, commit, image history; prune with Docker's filters and
# system df.  In VM_FILES: the containers are VMs in the VM pass.

# shellcheck disable=SC2154 # status, output and lines are set by bats' run
load helpers
load serve_helpers

# stat_header PATH: the decoded X-Docker-Container-Path-Stat of a HEAD of c's PATH.
stat_header() {
  curl -sI --unix-socket "$SOCK" "http://isola/v1.41/containers/ctr/archive?path=$1" |
    sed -n 's/^X-Docker-Container-Path-Stat: *//Ip' | tr -d '\r' | base64 -d
}

@test "docker cp out of and into a running container: files, directories, symlinks, tar streams; the stat header" {
  docker run -d --name ctr busybox sh -c 'mkdir -p /d/e; echo x >/d/e/f; echo hi >/hello; ln -s /d /lnk; sleep 1000' >/dev/null
  wait_until 30 docker exec ctr test -L /lnk
  run docker cp ctr:/hello "$BATS_TEST_TMPDIR/hello"
  assert_status 0
  assert_equal "$(cat "$BATS_TEST_TMPDIR/hello")" hi
  run docker cp ctr:/d "$BATS_TEST_TMPDIR/d"
  assert_status 0
  assert_equal "$(cat "$BATS_TEST_TMPDIR/d/e/f")" x
  # a symlink is copied as one; -L copies what it points to
  docker cp ctr:/lnk "$BATS_TEST_TMPDIR/lnk"
  assert_equal "$(readlink "$BATS_TEST_TMPDIR/lnk")" /d
  docker cp -L ctr:/lnk "$BATS_TEST_TMPDIR/followed"
  assert_equal "$(cat "$BATS_TEST_TMPDIR/followed/e/f")" x
  # - : the tar as the API sends it
  run bash -c "$DOCKER_BIN cp ctr:/d - | tar t"
  assert_equal "$(sort <<<"$output" | tr '\n' ' ')" "d/ d/e/ d/e/f "
  # the header: Docker's ContainerPathStat, a symlink's target resolved in the container
  run stat_header /hello
  assert_output_matches '^\{"name":"hello","size":3,"mode":420,"mtime":"20[0-9-]+T[0-9:.]+Z","linkTarget":""\}$'
  run stat_header /lnk
  assert_output_matches '"name":"lnk",.*"mode":134218239,.*"linkTarget":"/d"'
  run stat_header /d
  assert_output_matches '"mode":2147484141'
  # into it: a file into a directory, a file under a new name, a tar stream
  echo new >"$BATS_TEST_TMPDIR/in"
  run docker cp "$BATS_TEST_TMPDIR/in" ctr:/d/
  assert_status 0
  docker cp "$BATS_TEST_TMPDIR/in" ctr:/renamed
  tar cf "$BATS_TEST_TMPDIR/t.tar" -C "$BATS_TEST_TMPDIR" d
  docker cp - ctr:/tmp <"$BATS_TEST_TMPDIR/t.tar"
  run docker exec ctr cat /d/in /renamed /tmp/d/e/f
  assert_equal "$output" "new
new
x"
  # Docker's errors
  run docker cp ctr:/nosuch "$BATS_TEST_TMPDIR/x"
  assert_status 1
  assert_output_contains "No such container:path: ctr:/nosuch"
  run docker cp - ctr:/hello <"$BATS_TEST_TMPDIR/t.tar"
  assert_status 1
  assert_output_contains 'destination "ctr:/hello" must be a directory'
  # dockerd's statuses and words (measured: 500 here, 404, 400 "bad parameter: pathcannot be empty")
  run api PUT '/v1.41/containers/ctr/archive?path=/hello' ''
  assert_equal "${lines[-1]}" 500
  assert_output_contains "extraction point is not a directory"
  run api PUT '/v1.41/containers/ctr/archive?path=/nosuch' ''
  assert_equal "${lines[-1]}" 404
  run api GET '/v1.41/containers/ctr/archive'
  assert_equal "${lines[-1]}" 400
  assert_output_contains "bad parameter: pathcannot be empty"
  run docker cp ctr:/hello "$BATS_TEST_TMPDIR/nosuchdir/x"
  assert_status 1
  # the container runs on
  run docker inspect -f '{{.State.Status}}' ctr
  assert_equal "$output" running
}

@test "docker cp into and out of a stopped container" {
  docker run --name ctr busybox sh -c 'echo before >/f' >/dev/null
  echo new >"$BATS_TEST_TMPDIR/in"
  run docker cp "$BATS_TEST_TMPDIR/in" ctr:/in
  assert_status 0
  run docker cp ctr:/in "$BATS_TEST_TMPDIR/out"
  assert_status 0
  assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" new
  docker cp ctr:/f "$BATS_TEST_TMPDIR/f"
  assert_equal "$(cat "$BATS_TEST_TMPDIR/f")" before
  # what was copied in is the container's at its next start
  docker start ctr >/dev/null
  run docker wait ctr
  run docker exec ctr true
  run isola diff ctr
  assert_output_contains "A /in"
}

@test "docker cp: .. and symlinks resolve inside the container, never to the host's files" {
  # /etc/issue: the host has one, the container writes its own (a file of its disk in either mode)
  docker run -d --name ctr busybox sh -c 'echo inside >/etc/issue; ln -s ../../../../etc/issue /up; ln -s /etc/issue /abs; sleep 1000' >/dev/null
  wait_until 30 docker exec ctr test -L /abs
  docker cp ctr:/../../../../etc/issue "$BATS_TEST_TMPDIR/a"
  docker cp -L ctr:/up "$BATS_TEST_TMPDIR/b"
  docker cp -L ctr:/abs "$BATS_TEST_TMPDIR/c"
  assert_equal "$(cat "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b" "$BATS_TEST_TMPDIR/c")" "inside
inside
inside"
  run stat_header /up
  assert_output_contains '"linkTarget":"/etc/issue"'
  # writing: through .. and into a symlink to the host's /tmp, the files land in the container
  echo mark >"$BATS_TEST_TMPDIR/escape-mark"
  docker exec ctr ln -s /tmp /tmplink
  docker cp "$BATS_TEST_TMPDIR/escape-mark" ctr:/../../../tmp/
  docker cp "$BATS_TEST_TMPDIR/escape-mark" ctr:/tmplink/
  [ ! -e /tmp/escape-mark ] || fail "the copy wrote the host's /tmp"
  run docker exec ctr cat /tmp/escape-mark
  assert_equal "$output" mark
  # a tar whose entries climb out is refused, and writes nothing outside
  python3 - "$BATS_TEST_TMPDIR/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = b"evil\n"
    info = tarfile.TarInfo("../../../../tmp/isola-serve-evil")
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
PY
  run docker cp - ctr:/tmp <"$BATS_TEST_TMPDIR/evil.tar"
  [ ! -e /tmp/isola-serve-evil ] || { rm -f /tmp/isola-serve-evil; fail "the tar wrote the host's /tmp"; }
}

@test "docker diff, export, commit with changes, and the new image's history" {
  docker run --name ctr busybox sh -c 'echo hi >/added; rm /etc/group' >/dev/null
  run docker diff ctr
  assert_status 0
  assert_output_contains "A /added"
  assert_output_contains "D /etc/group"
  assert_output_contains "C /etc"
  run bash -c "$DOCKER_BIN export ctr | tar t"
  assert_status 0
  assert_output_contains "added"
  assert_output_contains "bin/busybox"
  refute_output_contains "etc/group"
  run docker commit -c 'ENV A=b' -c 'CMD ["cat", "/added"]' -m "the message" -a "someone" ctr snap:v1
  assert_status 0
  assert_output_matches '^sha256:[0-9a-f]{64}$'
  run docker run --rm snap:v1
  assert_equal "$output" hi
  run docker image inspect -f '{{.Author}} {{.Comment}} {{index .Config.Env 1}}' snap:v1
  assert_equal "$output" "someone the message A=b"
  run docker history --format '{{.ID}} {{.Comment}}' snap:v1
  assert_status 0
  assert_equal "${#lines[@]}" 2
  assert_output_matches "^[0-9a-f]{12} the message"
  run docker history -q busybox
  assert_status 0
  run docker commit nosuch x:y
  assert_status 1
  assert_output_contains "No such container: nosuch"
  run docker history nosuch:1
  assert_status 1
  assert_output_contains "No such image"
}

@test "docker commit of a running container pauses it while its layer is read, and it runs on" {
  docker run -d --name ctr busybox sh -c 'echo v >/v; sleep 1000' >/dev/null
  wait_until 30 docker exec ctr test -e /v
  run docker commit ctr live:1
  assert_status 0
  run docker inspect -f '{{.State.Status}}' ctr
  assert_equal "$output" running
  run docker run --rm live:1 cat /v
  assert_equal "$output" v
}

@test "docker container, image, volume and network prune with Docker's filters; docker system df" {
  docker run --name keep --label keep=1 busybox true >/dev/null
  docker run --name gone busybox true >/dev/null
  docker run -d --name up busybox sleep 1000 >/dev/null
  run docker container prune -f --filter label!=keep
  assert_status 0
  assert_output_contains "Deleted Containers:"
  run docker ps -a --format '{{.Names}}'
  assert_equal "$(sort <<<"$output" | tr '\n' ' ')" "keep up "
  run docker container prune -f --filter until=1h
  run docker ps -a --format '{{.Names}}'
  assert_equal "$(sort <<<"$output" | tr '\n' ' ')" "keep up "
  run docker container prune -f --filter bogus=1
  assert_status 1
  assert_output_contains "Invalid filter 'bogus'"
  docker container prune -f >/dev/null
  run docker ps -a --format '{{.Names}}'
  assert_equal "$output" up
  # volumes: API 1.41 prunes every unused one, named too (Docker 20.10); a label filter keeps the others
  docker volume create --label k=v v1 >/dev/null
  docker volume create v2 >/dev/null
  run docker volume prune -f --filter label=k=v
  assert_output_contains v1
  run docker volume ls -q
  assert_equal "$output" v2
  docker volume prune -f >/dev/null
  run docker volume ls -q
  assert_output_empty
  # networks
  docker network create --label k=v n1 >/dev/null
  docker network create n2 >/dev/null
  run docker network prune -f --filter label=k=v
  assert_output_contains n1
  run docker network ls --format '{{.Name}}'
  assert_output_contains n2
  refute_output_contains n1
  docker network prune -f >/dev/null
  run docker network ls --format '{{.Name}}'
  refute_output_contains n2
  # images: a dangling one goes with prune; an unused tagged one only with -a; one in use stays
  docker commit up img:1 >/dev/null
  docker commit up img:2 >/dev/null
  docker rmi img:2 >/dev/null || true
  docker tag busybox other:1
  run docker system df --format '{{.Type}} {{.TotalCount}} {{.Active}}'
  assert_status 0
  assert_output_contains "Containers 1 1"
  assert_output_contains "Images 2 1"
  run docker image prune -a -f
  assert_status 0
  assert_output_contains "untagged: img:1"
  run docker images --format '{{.Repository}}:{{.Tag}}'
  assert_output_contains busybox:latest
  refute_output_contains img:1
  run docker system df -v
  assert_status 0
  assert_output_contains "Containers space usage"
  docker rm -f up >/dev/null
}

@test "docker volume ls and network ls filters: name, id, label, driver, as Docker's lists take them" {
  docker volume create --label a=1 va >/dev/null
  docker volume create --label a=2 vb >/dev/null
  docker volume create vc >/dev/null
  run docker volume ls -q -f label=a
  assert_equal "$(sort <<<"$output" | tr '\n' ' ')" "va vb "
  run docker volume ls -q -f label=a=2
  assert_equal "$output" vb
  # the values of one key are alternatives
  run docker volume ls -q -f name=va -f name=vc
  assert_equal "$(sort <<<"$output" | tr '\n' ' ')" "va vc "
  run docker volume ls -q -f driver=local -f label=a=1
  assert_equal "$output" va
  run docker volume ls -q -f dangling=true
  assert_status 1
  assert_output_contains "Invalid filter 'dangling'"
  local id
  id=$(docker network create --label x=y nx)
  run docker network ls -f label=x --format '{{.Name}}'
  assert_equal "$output" nx
  run docker network ls -f "id=${id:0:12}" --format '{{.Name}}'
  assert_equal "$output" nx
  run docker network ls -f driver=null --format '{{.Name}}'
  assert_equal "$output" none
  run docker network ls -f name=brid --format '{{.Name}}'
  assert_equal "$output" bridge
}

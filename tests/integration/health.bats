#!/usr/bin/env bats
# Health checks: --health-* and --no-healthcheck, the image's HEALTHCHECK, the monitor running the check as an exec
# in the container, State.Health in inspect, ps's STATUS and --filter health=.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}

# busybox with a HEALTHCHECK (CMD-SHELL "cat /tmp/ok", every second, 2 retries), tagged busybox:health: the default
# image's OCI archive with its config changed, and its manifest and index to match.
make_health_image() {
  python3 - "$ISOLA_IMAGE" "$1" <<'EOF'
import hashlib, io, json, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
members = {}
with tarfile.open(src) as t:
    for m in t.getmembers():
        if m.isfile():
            members[m.name] = t.extractfile(m).read()
index = json.loads(members["index.json"])
manifest_name = "blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]
manifest = json.loads(members[manifest_name])
config = json.loads(members["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
config["config"]["Healthcheck"] = {"Test": ["CMD-SHELL", "cat /tmp/ok"], "Interval": 1000000000, "Retries": 2}
def put(data):
    digest = hashlib.sha256(data).hexdigest()
    members["blobs/sha256/" + digest] = data
    return {"digest": "sha256:" + digest, "size": len(data)}
manifest["config"].update(put(json.dumps(config).encode()))
desc = put(json.dumps(manifest).encode())
index["manifests"] = [dict(index["manifests"][0], **desc,
                           annotations={"org.opencontainers.image.ref.name": "busybox:health"})]
members["index.json"] = json.dumps(index).encode()
del members["manifest.json"]
with tarfile.open(out, "w") as t:
    for name, data in sorted(members.items()):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
EOF
}

setup_file() {
  container_setup_file
  make_health_image "$BATS_FILE_TMPDIR/health.tar"
  ISOLA_ROOT=$SEED_ROOT isola load -q -i "$BATS_FILE_TMPDIR/health.tar" >/dev/null
  seed_listing >"$BATS_FILE_TMPDIR/seed-listing"
}
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

health_of() {
  cfield "$1" '{{.State.Health.Status}}'
}

# health_is C STATUS
health_is() {
  [ "$(health_of "$1")" = "$2" ]
}

@test "--health-* flags are checked as Docker checks them and recorded as Config.Healthcheck" {
  run --separate-stderr isola create --health-interval bogus busybox true
  assert_status 125
  assert_stderr_matches 'invalid argument "bogus" for "--health-interval" flag: time: invalid duration "bogus"'
  run --separate-stderr isola create --no-healthcheck --health-cmd true busybox true
  assert_status 125
  assert_stderr_matches "--no-healthcheck conflicts with --health-\* options"
  run --separate-stderr isola create --health-cmd true --health-interval -1s busybox true
  assert_status 125
  assert_stderr_matches "--health-interval cannot be negative"
  run --separate-stderr isola create --health-cmd true --health-timeout 500us busybox true
  assert_status 1
  assert_stderr_matches "Timeout in Healthcheck cannot be less than 1ms"
  isola_ok create --name h1 --health-cmd 'exit 0' --health-interval 1m30s --health-retries 4 busybox true
  assert_equal "$(cfield h1 '{{json .Config.Healthcheck}}')" \
    '{"Test":["CMD-SHELL","exit 0"],"Interval":90000000000,"Retries":4}'
  isola_ok create --name h2 --no-healthcheck busybox true
  assert_equal "$(cfield h2 '{{json .Config.Healthcheck}}')" '{"Test":["NONE"]}'
  isola_ok create --name h3 busybox true
  run --separate-stderr isola inspect -f '{{json .State}}' h3
  assert_jq 'has("Health") | not'
}

@test "a failing check makes the container unhealthy, a passing one healthy; ps shows and filters it" {
  run_detached --name hc --health-cmd 'cat /tmp/ok' --health-interval 1s --health-retries 2 busybox sleep 1000
  # no check before the first interval: starting
  assert_equal "$(health_of hc)" starting
  wait_until 60 health_is hc unhealthy
  run --separate-stderr isola ps --format '{{.Names}} {{.Status}}'
  assert_output_matches '^hc Up .* \(unhealthy\)$'
  run --separate-stderr isola ps --filter health=unhealthy --format '{{.Names}}'
  assert_equal "$output" hc
  run --separate-stderr isola inspect -f '{{json .State.Health}}' hc
  assert_jq '.FailingStreak >= 2 and (.Log | length) >= 2 and (.Log | length) <= 5'
  assert_jq '.Log[-1].ExitCode == 1 and (.Log[-1].Output | test("No such file")) and (.Log[-1].Start | length) > 0'
  isola_ok exec hc sh -c 'echo fine > /tmp/ok'
  wait_until 60 health_is hc healthy
  run --separate-stderr isola inspect -f '{{json .State.Health}}' hc
  assert_jq '.FailingStreak == 0 and .Log[-1].ExitCode == 0 and .Log[-1].Output == "fine\n"'
  run --separate-stderr isola ps --format '{{.Names}} {{.Status}}'
  assert_output_matches '^hc Up .* \(healthy\)$'
  run --separate-stderr isola ps --filter health=healthy --format '{{.Names}}'
  assert_equal "$output" hc
  run --separate-stderr isola ps --filter health=unhealthy --format '{{.Names}}'
  assert_output_empty
  # state.json is replaced whole: a reader never sees half a record, even while checks write it
  local i state
  state="$ISOLA_ROOT/containers/$(cfield hc '{{.Id}}')/state.json"
  for ((i = 0; i < 100; i++)); do
    jq -e .Health.Status "$state" >/dev/null || fail "state.json read without its Health"
    sleep 0.02
  done
  # stopped, the container is unhealthy, as Docker leaves it
  isola_ok stop -t 0 hc
  assert_equal "$(health_of hc)" unhealthy
}

@test "a check that runs past its timeout fails with Docker's message" {
  run_detached --name ht --health-cmd 'sleep 5' --health-interval 1s --health-timeout 300ms --health-retries 1 \
    busybox sleep 1000
  wait_until 60 health_is ht unhealthy
  run --separate-stderr isola inspect -f '{{json .State.Health.Log}}' ht
  assert_jq '.[0].ExitCode == -1 and .[0].Output == "Health check exceeded timeout (300ms)"'
}

@test "the image's HEALTHCHECK runs, --health-* override parts of it, --no-healthcheck disables it" {
  run_detached --name img busybox:health sleep 1000
  assert_equal "$(cfield img '{{json .Config.Healthcheck}}')" \
    '{"Test":["CMD-SHELL","cat /tmp/ok"],"Interval":1000000000,"Retries":2}'
  wait_until 60 health_is img unhealthy
  run_detached --name over --health-cmd 'true' busybox:health sleep 1000
  assert_equal "$(cfield over '{{json .Config.Healthcheck}}')" \
    '{"Test":["CMD-SHELL","true"],"Interval":1000000000,"Retries":2}'
  wait_until 60 health_is over healthy
  run_detached --name none --no-healthcheck busybox:health sleep 1000
  sleep 2
  run --separate-stderr isola inspect -f '{{json .State}}' none
  assert_jq 'has("Health") | not'
  run --separate-stderr isola ps --filter health=none --format '{{.Names}}'
  assert_equal "$output" none
}

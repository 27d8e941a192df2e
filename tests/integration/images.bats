#!/usr/bin/env bats
# isola images: Docker's table (tabwriter, 3+ spaces between columns), -q, --no-trunc, --digests, filters.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

setup_file() { common_setup_file multilayer-oci multilayer-legacy sharedbase-oci untagged-oci rootfs-tar; }
teardown_file() { common_teardown_file; }
setup() { setup_root; }
teardown() { teardown_root; }

HEADER_RE='^REPOSITORY {3,}TAG {3,}IMAGE ID {3,}CREATED {3,}SIZE$'
CREATED_RE='^(About an? |[0-9]+ )(second|minute|hour|day|week|month|year)s? ago$'
SIZE_RE='^[0-9]+(\.[0-9]+)?(B|kB|MB|GB)$'

# docker_human_age RFC3339: Docker's CREATED text (go-units HumanDuration) for ages of a month or more.
docker_human_age() {
  local hours=$((($(date +%s) - $(date -d "$1" +%s)) / 3600))
  if [ "$hours" -ge $((24 * 365 * 2)) ]; then
    echo "$((hours / 24 / 365)) years ago"
  elif [ "$hours" -ge $((24 * 30 * 2)) ]; then
    echo "$((hours / 24 / 30)) months ago"
  else
    echo "unexpected: the fixture should be older than two months" >&2
    return 1
  fi
}

# row REPO TAG: the `images` row of REPO TAG split into fields on runs of 3+ spaces, one a line.
row_fields() {
  awk -v r="$1" -v t="$2" 'NR > 1 { n = split($0, f, /   +/); if (f[1] == r && f[2] == t) for (i = 1; i <= n; i++) print f[i] }' \
    <<<"$output"
}

@test "images on an empty store prints only the header" {
  run --separate-stderr isola images
  assert_status 0
  assert_output_matches "$HEADER_RE"
  assert_equal "$(printf '%s\n' "$output" | wc -l)" 1
}

@test "images prints one row per tag with Docker's columns" {
  load_fixture multilayer-oci
  run --separate-stderr isola images
  assert_status 0
  assert_output_matches "$HEADER_RE"
  local id fields
  id=$(image_id fixture/multi:oci)
  mapfile -t fields < <(row_fields fixture/multi oci)
  echo "fields: ${fields[*]}"
  assert_equal "${#fields[@]}" 5
  assert_equal "${fields[2]}" "${id:7:12}"
  grep -Eq "$CREATED_RE" <<<"${fields[3]}" || fail "CREATED '${fields[3]}'"
  assert_equal "${fields[3]}" "$(docker_human_age 2024-01-02T03:04:05Z)"
  grep -Eq "$SIZE_RE" <<<"${fields[4]}" || fail "SIZE '${fields[4]}'"
}

@test "columns line up (tabwriter)" {
  load_fixture multilayer-oci
  load_fixture sharedbase-oci
  isola_ok tag fixture/multi:oci a-much-longer-repository-name/x:a-long-tag-name
  run isola images
  assert_status 0
  # each header column starts at the same offset as the matching field of every row
  local col
  for col in TAG "IMAGE ID" CREATED SIZE; do
    local want
    want=$(head -1 <<<"$output" | awk -v c="$col" '{ print index($0, c) }')
    tail -n +2 <<<"$output" | awk -v w="$want" '{ if (substr($0, w - 3, 3) != "   " || substr($0, w, 1) == " ") { print "misaligned: " $0; exit 1 } }'
  done
}

@test "images -q prints only 12-hex IDs" {
  load_fixture multilayer-oci
  load_fixture sharedbase-oci
  run --separate-stderr isola images -q
  assert_status 0
  local id1 id2
  id1=$(image_id fixture/multi:oci)
  id2=$(image_id fixture/shared:oci)
  ! grep -Evq '^[0-9a-f]{12}$' <<<"$output" || fail "non-ID line in -q output"
  assert_equal "$(sort -u <<<"$output")" "$(printf '%s\n' "${id1:7:12}" "${id2:7:12}" | sort)"
}

@test "images --no-trunc shows full IDs" {
  load_fixture multilayer-oci
  run --separate-stderr isola images --no-trunc
  assert_status 0
  mapfile -t fields < <(row_fields fixture/multi oci)
  assert_equal "${fields[2]}" "$(image_id fixture/multi:oci)"
  run --separate-stderr isola images -q --no-trunc
  assert_equal "$output" "$(image_id fixture/multi:oci)"
}

@test "images --digests adds a DIGEST column after TAG" {
  load_fixture multilayer-oci
  run --separate-stderr isola images --digests
  assert_status 0
  assert_output_matches '^REPOSITORY {3,}TAG {3,}DIGEST {3,}IMAGE ID {3,}CREATED {3,}SIZE$'
  mapfile -t fields < <(row_fields fixture/multi oci)
  assert_equal "${#fields[@]}" 6
  grep -Eq '^(<none>|sha256:[0-9a-f]{64})$' <<<"${fields[2]}" || fail "DIGEST '${fields[2]}'"
  assert_equal "${fields[3]}" "$(image_id fixture/multi:oci | cut -c8-19)"
}

@test "untagged images show <none> <none>" {
  load_fixture untagged-oci
  run isola images
  assert_status 0
  mapfile -t fields < <(row_fields '<none>' '<none>')
  assert_equal "${#fields[@]}" 5
  assert_equal "${fields[2]}" "$(expected_id "$(fx untagged-oci)" | cut -c8-19)"
}

@test "images REPOSITORY and REPOSITORY:TAG filter the list" {
  load_fixture multilayer-oci
  load_fixture multilayer-legacy
  load_fixture sharedbase-oci
  run isola images fixture/multi
  assert_status 0
  assert_equal "$(tail -n +2 <<<"$output" | awk -F'   +' '{ print $1 ":" $2 }' | sort)" \
    "$(printf 'fixture/multi:legacy\nfixture/multi:oci')"
  run isola images fixture/multi:legacy
  assert_status 0
  assert_equal "$(tail -n +2 <<<"$output" | awk -F'   +' '{ print $1 ":" $2 }')" "fixture/multi:legacy"
  run isola images no/such
  assert_status 0
  assert_equal "$(printf '%s\n' "$output" | wc -l)" 1
  run isola images -q fixture/shared
  assert_equal "$output" "$(image_id fixture/shared:oci | cut -c8-19)"
}

@test "images -a lists the same images (no intermediate layers exist)" {
  load_fixture multilayer-oci
  run isola images
  local plain=$output
  run isola images -a
  assert_status 0
  assert_equal "$output" "$plain"
}

@test "images SIZE is well formed and inspect Size is positive" {
  load_fixture multilayer-oci
  load_fixture untagged-oci
  run isola images --no-trunc
  mapfile -t fields < <(row_fields fixture/multi oci)
  grep -Eq "$SIZE_RE" <<<"${fields[4]}" || fail "SIZE '${fields[4]}'"
  local size
  size=$(isola image inspect fixture/multi:oci | jq '.[0].Size')
  [ "$size" -gt 0 ] || fail "inspect Size $size"
}

@test "images --format: a Go template, 'table' with Docker's headers, and json" {
  load_fixture multilayer-oci
  load_fixture untagged-oci
  local id
  id=$(image_id fixture/multi:oci | cut -c8-19)
  run --separate-stderr isola images --format '{{.Repository}}:{{.Tag}} {{.ID}}' fixture/multi
  assert_status 0
  assert_equal "$output" "fixture/multi:oci $id"
  run --separate-stderr isola images --format 'table {{.ID}}\t{{.Repository}}\t{{.Tag}}\t{{.CreatedAt}}' fixture/multi
  assert_status 0
  assert_equal "$(head -1 <<<"$output")" "IMAGE ID       REPOSITORY      TAG       CREATED AT"
  assert_equal "$(tail -1 <<<"$output")" "$id   fixture/multi   oci       2024-01-02 03:04:05 +0000 UTC"
  run --separate-stderr isola images --format json fixture/multi
  assert_status 0
  assert_jq ".ID == \"$id\" and .Repository == \"fixture/multi\" and .Tag == \"oci\" and .Containers == \"N/A\""
  run --separate-stderr isola images --format '{{json .}}' fixture/multi
  assert_jq '.CreatedSince | endswith(" ago")'
  run --separate-stderr isola images --format table
  assert_output_matches "$HEADER_RE"
  run --separate-stderr isola images --format '{{.NoSuchField}}'
  assert_status 1
  assert_stderr_matches "NoSuchField"
}

@test "images --filter dangling, reference, label, before, since; an unknown key is refused" {
  load_fixture multilayer-oci
  load_fixture sharedbase-oci
  load_fixture untagged-oci
  isola_ok import -c 'LABEL tier=web' "$(fx rootfs-tar)" imp/labelled:1
  local untagged
  untagged=$(expected_id "$(fx untagged-oci)" | cut -c8-19)
  run --separate-stderr isola images -q --filter dangling=true
  assert_status 0
  assert_equal "$output" "$untagged"
  run --separate-stderr isola images --filter dangling=false --format '{{.Repository}}'
  assert_equal "$(sort <<<"$output")" "$(printf 'fixture/multi\nfixture/shared\nimp/labelled')"
  run --separate-stderr isola images --filter reference='fixture/*' --format '{{.Repository}}:{{.Tag}}'
  assert_equal "$(sort <<<"$output")" "$(printf 'fixture/multi:oci\nfixture/shared:oci')"
  run --separate-stderr isola images --filter reference='*' --format '{{.Repository}}'
  assert_equal "$output" "" # '*' does not cross a '/', as Docker's path.Match
  run --separate-stderr isola images -f reference=fixture/shared:oci -f reference=imp/labelled --format '{{.Repository}}'
  assert_equal "$(sort <<<"$output")" "$(printf 'fixture/shared\nimp/labelled')"
  run --separate-stderr isola images -f label=tier --format '{{.Repository}}'
  assert_equal "$output" imp/labelled
  run --separate-stderr isola images -f label=tier=db -q
  assert_equal "$output" ""
  run --separate-stderr isola images -f since=fixture/multi:oci --format '{{.Repository}}'
  assert_equal "$output" imp/labelled
  run --separate-stderr isola images -f before=imp/labelled:1 -f dangling=false --format '{{.Repository}}'
  assert_equal "$(sort <<<"$output")" "$(printf 'fixture/multi\nfixture/shared')"
  run --separate-stderr isola images -f color=red
  assert_status 125
  assert_stderr_matches "invalid filter 'color'"
  run --separate-stderr isola images -f dangling=maybe
  assert_status 125
}

#!/usr/bin/env bats
# isola image inspect / isola inspect: Docker's JSON array.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

setup_file() { common_setup_file multilayer-oci multilayer-legacy untagged-oci; }
teardown_file() { common_teardown_file; }
setup() {
  setup_root
  load_fixture multilayer-oci
}
teardown() { teardown_root; }

# jqe FILTER: asserts the jq filter is true of $output, printing both on failure.
jqe() {
  if ! jq -e "$1" <<<"$output" >/dev/null; then
    echo "jq filter false: $1"
    echo "output: $output"
    return 1
  fi
}

@test "image inspect prints Docker's fields" {
  run --separate-stderr isola image inspect fixture/multi:oci
  assert_status 0
  local want_id want_layers
  want_id=$(expected_id "$(fx multilayer-oci)")
  want_layers=$(expected_diff_ids "$(fx multilayer-oci)")
  jqe 'type == "array" and length == 1'
  jqe ".[0].Id == \"$want_id\""
  jqe '.[0].RepoTags == ["fixture/multi:oci"]'
  jqe '.[0].RepoDigests | type == "array"'
  jqe '.[0].Created | startswith("2024-01-02T03:04:05")'
  jqe '.[0].Config.Cmd == ["/bin/sh"]'
  jqe '.[0].Config.Env == ["PATH=/usr/bin:/bin"]'
  jqe '.[0].Architecture == "amd64"'
  jqe '.[0].Os == "linux"'
  jqe '.[0].Size | type == "number" and . > 0'
  jqe '.[0].RootFS.Type == "layers"'
  jqe ".[0].RootFS.Layers == $want_layers"
}

@test "image inspect prints every member of Docker's image and Config, null or empty where unset" {
  run --separate-stderr isola image inspect fixture/multi:oci
  assert_status 0
  jqe '.[0] | keys_unsorted | map(select(. != "Variant")) == ["Id", "RepoTags", "RepoDigests", "Parent", "Comment",
    "Created", "Container", "ContainerConfig", "DockerVersion", "Author", "Config", "Architecture", "Os", "Size",
    "VirtualSize", "GraphDriver", "RootFS", "Metadata"]'
  local config_keys='["Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "Tty",
    "OpenStdin", "StdinOnce", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint", "OnBuild", "Labels"]'
  jqe ".[0].Config | keys_unsorted == $config_keys"
  jqe ".[0].ContainerConfig | keys_unsorted == $config_keys"
  jqe '.[0].Config | .Hostname == "" and .AttachStdin == false and .Volumes == null and .Entrypoint == null
    and .OnBuild == null and .Labels == null'
  jqe '.[0].ContainerConfig.Cmd == null and .[0].VirtualSize == .[0].Size'
  run --separate-stderr isola image inspect --format '{{json .Config.Labels}} {{.Config.WorkingDir}}|' fixture/multi:oci
  assert_status 0
  assert_equal "$output" "null |"
}

@test "image inspect --format runs over Docker's Go types: nil slices [], nil maps map[], nil pointers <nil>, structs {…}" {
  run --separate-stderr isola image inspect -f '{{.ContainerConfig.Cmd}} {{json .ContainerConfig.Cmd}} {{.Config.Volumes}} {{.Config.Healthcheck}} {{.RootFS.Type}} {{.GraphDriver.Name}}' fixture/multi:oci
  assert_status 0
  assert_equal "$output" "[] null map[] <nil> layers overlay"
  run --separate-stderr isola image inspect -f '{{.Metadata}}' fixture/multi:oci
  [[ $output =~ ^\{[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9:.]+\ \+0000\ UTC\}$ ]] || fail "Metadata as Go prints a struct of a time: $output"
  # a field Docker's struct lacks: the raw JSON, where a missing key is an error (1)
  run --separate-stderr isola image inspect -f '{{.Descriptor}}' fixture/multi:oci
  assert_status 1
  assert_equal "$stderr" 'template parsing error: template: :1:2: executing "" at <.Descriptor>: map has no entry for key "Descriptor"'
  run --separate-stderr isola image inspect -f '{{.Id' fixture/multi:oci
  assert_status 64
}

@test "inspect IMAGE is the same as image inspect IMAGE" {
  run --separate-stderr isola image inspect fixture/multi:oci
  assert_status 0
  local a=$output
  run --separate-stderr isola inspect fixture/multi:oci
  assert_status 0
  assert_equal "$output" "$a"
}

@test "image inspect by ID and prefix; all tags listed" {
  load_fixture multilayer-legacy
  local id
  id=$(expected_id "$(fx multilayer-oci)")
  run --separate-stderr isola image inspect "${id:7:12}"
  assert_status 0
  jqe ".[0].Id == \"$id\""
  jqe '.[0].RepoTags | sort == ["fixture/multi:legacy", "fixture/multi:oci"]'
  run --separate-stderr isola image inspect "$id"
  assert_status 0
  jqe ".[0].Id == \"$id\""
}

@test "image inspect of several images prints one array" {
  isola_ok tag fixture/multi:oci second:tag
  run --separate-stderr isola image inspect fixture/multi:oci second:tag
  assert_status 0
  jqe 'length == 2 and .[0].Id == .[1].Id'
}

@test "image inspect of an unknown image prints [] and 'Error: No such image: X' (inspect: 'No such object'), exit 1" {
  run --separate-stderr isola image inspect no/such:image
  assert_status 1
  assert_equal "$output" "[]"
  assert_stderr_matches '^Error: No such image: no/such:image$'
  # inspect without a type looks for any object: Docker names none of them
  run --separate-stderr isola inspect no/such:image
  assert_status 1
  assert_equal "$output" "[]"
  assert_stderr_matches '^Error: No such object: no/such:image$'
  run --separate-stderr isola inspect --type image no/such:image
  assert_status 1
  assert_stderr_matches '^Error: No such image: no/such:image$'
}

@test "image inspect of a known and an unknown image prints the known one and exits 1" {
  run --separate-stderr isola image inspect fixture/multi:oci no/such:image
  assert_status 1
  jqe 'length == 1 and .[0].RepoTags == ["fixture/multi:oci"]'
  assert_stderr_matches 'No such image: no/such:image'
}

@test "image inspect of an untagged image has empty RepoTags" {
  load_fixture untagged-oci
  local id
  id=$(expected_id "$(fx untagged-oci)")
  run --separate-stderr isola image inspect "$id"
  assert_status 0
  jqe ".[0].Id == \"$id\""
  jqe '.[0].RepoTags == []'
}

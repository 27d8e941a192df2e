#!/usr/bin/env bats
# isola serve driven by docker-compose 1.29 (Debian's docker-compose): compose/docker-compose.yml's two services, one
# with `isolation: hyperv` (a VM) and one `isolation: process`, on the project's network, the second fetching a page
# from the first by service name; up -d, ps, logs, exec, down -v, after which nothing is left: no containers,
# networks, volumes, links or firewall rules.  The file names both modes itself, so it is not in VM_FILES.
#
# Traffic stays in the network namespace scripts/run-tests.sh runs each bats file in; setup_file refuses the machine's
# own namespace.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers
load serve_clients

ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-60}
COMPOSE_BIN=/usr/bin/docker-compose

setup_file() {
  [ -x "$COMPOSE_BIN" ] || skip "docker-compose is not installed"
  if [ "$(readlink /proc/self/ns/net)" = "$(readlink /proc/1/ns/net)" ]; then
    echo "serve_compose.bats makes bridges and firewall rules: run it in a network namespace of its own" \
      "(scripts/run-tests.sh does; or: unshare --net sh -c 'ip link set lo up; exec bats ...')" >&2
    return 1
  fi
  container_setup_file
}
teardown_file() { container_teardown_file; }

setup() {
  container_setup
  SOCK=$BATS_TEST_TMPDIR/docker.sock
  export DOCKER_HOST=unix://$SOCK
  export DOCKER_CONFIG=$BATS_TEST_TMPDIR/docker-config
  export COMPOSE_PROJECT_NAME=isolatest
  export COMPOSE_FILE=$BATS_TEST_DIRNAME/compose/docker-compose.yml
  SERVER_PID=
  serve_start -H "unix://$SOCK"
  # what the namespace had before (the bridge of another root's default network may be there)
  links_before=$(links)
  rules_before=$(rules)
}
teardown() {
  timeout 600 "$COMPOSE_BIN" down -v -t 1 >/dev/null 2>&1 || true
  serve_stop
  container_teardown
}

# compose ARGS...: docker-compose with time for a VM's boot under TCG on a loaded machine.
compose() {
  timeout 900 "$COMPOSE_BIN" "$@"
}

links() { ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort; }
rules() { iptables-save 2>/dev/null | grep -E -- '-[sd] [0-9]+\.[0-9]+\.|isola' | grep -v '^#' | sort; }

links_back() { [ "$(links)" = "$links_before" ]; }

# fetched: the fetcher's log says it has the web service's page.
fetched() { compose logs --no-color fetcher 2>/dev/null | grep -q "fetched served-by-web"; }

@test "docker-compose: up -d, ps, logs, exec across a VM and a process service on the project's network; down -v leaves nothing" {
  run compose up -d
  [ "$status" -eq 0 ] || fail "up -d: $output
$(serve_log)"
  wait_until 600 fetched || fail "the fetcher never got the page: $(compose logs --no-color 2>&1)
$(serve_log)"

  run compose ps
  assert_status 0
  assert_output_contains isolatest_web_1
  assert_output_contains isolatest_fetcher_1
  [ "$(grep -c ' Up ' <<<"$output")" -eq 2 ] || fail "both services are not up: $output"
  run compose ps -q web
  assert_status 0
  local web=$output
  # each service in the mode its file names, the same containers in isola's own view
  run isola inspect --format '{{.HostConfig.Isolation}} {{index .Config.Labels "com.docker.compose.service"}}' \
    "$web"
  assert_equal "$output" "hyperv web"
  run isola inspect --format '{{.HostConfig.Isolation}}' isolatest_fetcher_1
  assert_equal "$output" process
  run isola network ls --format '{{.Name}}'
  assert_output_contains isolatest_default
  run isola volume ls --format '{{.Name}}'
  assert_output_contains isolatest_www

  run compose logs --no-color web
  assert_status 0
  assert_output_contains "web up"
  # the web service logged the fetcher's request (httpd -v)
  assert_output_contains "response:200"

  run compose exec -T web cat /www/index.html
  assert_status 0
  assert_equal "$output" served-by-web
  run compose exec -T fetcher sh -c 'wget -q -O - http://web:8080/ && exit 3'
  assert_status 3
  assert_equal "$output" served-by-web

  run compose down -v
  [ "$status" -eq 0 ] || fail "down -v: $output
$(serve_log)"
  run isola ps -aq
  assert_output_empty
  run isola network ls --format '{{.Name}}'
  refute_output_contains isolatest
  run isola volume ls -q
  assert_output_empty
  # the veths and the project bridge go with their namespaces, which the kernel destroys in the background
  wait_until 20 links_back || fail "links left: $(diff <(echo "$links_before") <(links))"
  [ "$(rules)" = "$rules_before" ] || fail "firewall rules left: $(diff <(echo "$rules_before") <(rules))"
}

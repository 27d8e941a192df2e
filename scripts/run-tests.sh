#!/bin/bash
# Runs every test of isola and ends with "N passed, N failed[, N skipped]":
#   C unit tests (ASan+UBSan, TAP), a short run of each fuzz target over its corpus, bats integration tests
#   (which drive build/asan/isola).  Exit status is non-zero when anything failed.
set -u
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
# The files whose tests run in both isolation modes.
VM_FILES=${VM_FILES:-"run lifecycle exec ps logs isolation"}
logdir=$(mktemp -d /tmp/isola-tests.XXXXXX)
trap 'rm -rf "$logdir"' EXIT
passed=0 failed=0 skipped=0

# Counts a TAP stream: "ok" lines pass (or skip with "# skip"), "not ok" fail; a crashed producer fails once more.
count_tap () {
  local log=$1 status=$2 p f s
  p=$(grep -cE '^ok [0-9]+' "$log" | head -1)
  s=$(grep -ciE '^ok [0-9]+.*# skip' "$log" | head -1)
  f=$(grep -cE '^not ok [0-9]+' "$log" | head -1)
  passed=$((passed + p - s)) skipped=$((skipped + s)) failed=$((failed + f))
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    failed=$((failed + 1))
    echo "not ok - $log exited with status $status"
  fi
}

echo "== unit tests"
for t in build/asan/tests/test_*; do
  [ -x "$t" ] || continue
  log=$logdir/$(basename "$t").tap
  "$t" >"$log" 2>&1
  status=$?
  grep -E '^(not ok|#)' "$log" || true
  echo "$(basename "$t"): $(grep -cE '^ok' "$log") ok, $(grep -cE '^not ok' "$log") not ok"
  count_tap "$log" $status
done

echo "== fuzz targets (${FUZZ_SECONDS}s each)"
for fz in build/fuzz/fuzz_*; do
  [ -x "$fz" ] || continue
  name=$(basename "$fz")
  corpus=fuzz/corpus/${name#fuzz_}
  work=$logdir/$name-corpus
  mkdir -p "$work"
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
  if "$fz" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=10 "$work" >"$logdir/$name.log" 2>&1; then
    passed=$((passed + 1))
    echo "ok - $name"
  else
    failed=$((failed + 1))
    echo "not ok - $name"
    tail -40 "$logdir/$name.log"
  fi
done

# run_bats NAME FILES...: one bats run, counted.
run_bats () {
  local name=$1 status
  shift
  bats --tap "$@" >"$logdir/$name.tap" 2>&1
  status=$?
  grep -vE '^ok ' "$logdir/$name.tap" | head -300
  echo "$name: $(grep -cE '^ok' "$logdir/$name.tap") ok, $(grep -cE '^not ok' "$logdir/$name.tap") not ok"
  count_tap "$logdir/$name.tap" $status
}

echo "== integration tests (bats)"
run_bats bats tests/build tests/integration

# The container lifecycle files again, every container in a VM (ISOLA_TEST_ISOLATION, helpers.bash).
echo "== integration tests with VM isolation (bats)"
export ISOLA_TEST_ISOLATION=vm
# shellcheck disable=SC2046 # one argument per file
run_bats bats-vm $(for f in $VM_FILES; do echo "tests/integration/$f.bats"; done)
unset ISOLA_TEST_ISOLATION

echo "== leftovers"
if pgrep -f 'isola-vm -name isola-' >/dev/null; then
  failed=$((failed + 1))
  echo "not ok - VM workers left behind by the tests:"
  pgrep -af 'isola-vm -name isola-' | cut -c1-200
fi
if compgen -G '/tmp/isola-test.*' >/dev/null; then
  failed=$((failed + 1))
  echo "not ok - test roots left in /tmp:"
  ls -d /tmp/isola-test.*
fi
if grep -q '/isola-test\.' /proc/mounts; then
  failed=$((failed + 1))
  echo "not ok - mounts left behind by the tests:"
  grep '/isola-test\.' /proc/mounts
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

#!/bin/bash
# Runs every fuzz target (build/fuzz/fuzz_*, `make fuzz`) for FUZZ_S seconds each (default 600), one after the
# other, each on one core, starting from its corpus in the tree (fuzz/corpus/NAME).  What a run finds that adds
# coverage is merged back into that corpus with libFuzzer's -set_cover_merge=1, which keeps a small set of inputs
# with all the coverage, so the corpus stays small: the hand-written seeds (any name but a 40-hex SHA-1) are always kept, the rest is
# minimized again at every run.  Prints the executions each target reached, and ends with a table of them.
#
#   FUZZ_S=60 scripts/fuzz.sh             every target, a minute each
#   scripts/fuzz.sh vmproto 'log*'        the named targets (shell patterns)
#
# A crash, leak or timeout stops that target: its input is saved as build/fuzz/artifacts/NAME-crash-…, the run goes
# on with the next target, and the exit status is 1.  Replay one with build/fuzz/fuzz_NAME FILE.
set -u
cd "$(dirname "$0")/.." || exit 2

FUZZ_S=${FUZZ_S:-600}
[[ $FUZZ_S =~ ^[1-9][0-9]*$ ]] || {
  echo "fuzz.sh: FUZZ_S takes a number of seconds, not '$FUZZ_S'" >&2
  exit 2
}

targets=()
for fz in build/fuzz/fuzz_*; do
  [ -x "$fz" ] || continue
  name=${fz##*/fuzz_}
  if [ $# -gt 0 ]; then
    hit=0
    for pat in "$@"; do
      # shellcheck disable=SC2053 # a pattern on purpose
      [[ $name == $pat ]] && hit=1
    done
    [ "$hit" = 1 ] || continue
  fi
  targets+=("$name")
done
[ ${#targets[@]} -gt 0 ] || {
  echo "fuzz.sh: no fuzz target to run (make fuzz builds them)" >&2
  exit 2
}

work=$(mktemp -d /tmp/isola-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p build/fuzz/artifacts
failed=0
summary=()

# is_seed FILE: a hand-written seed (kept as it is) rather than an input libFuzzer found (named by its SHA-1).
is_seed() {
  [[ ! ${1##*/} =~ ^[0-9a-f]{40}$ ]]
}

for name in "${targets[@]}"; do
  bin=build/fuzz/fuzz_$name corpus=fuzz/corpus/$name
  mkdir -p "$corpus" "$work/$name/found" "$work/$name/merged"
  log=$work/$name/log
  echo "== fuzz_$name: ${FUZZ_S} s from $(find "$corpus" -type f | wc -l) inputs"
  # The run reads the tree's corpus and writes what it finds to found/ (the first directory is the output).
  "$bin" -max_total_time="$FUZZ_S" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$PWD/build/fuzz/artifacts/$name-" "$work/$name/found" "$corpus" >"$log" 2>&1
  status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  execs=${execs:-0} secs=${secs:-$FUZZ_S}
  [ "$secs" -gt 0 ] || secs=1
  rate=$((execs / secs))
  if [ "$status" -ne 0 ]; then
    failed=1
    echo "not ok - fuzz_$name found something (exit $status):"
    grep -E 'ERROR|SUMMARY|Test unit written|artifact' "$log" | head -20
    summary+=("$(printf '%-12s %12s %8s %14s  FOUND SOMETHING' "$name" "$execs" "$rate" "-")")
    continue
  fi
  # Minimize: the seeds, plus whatever of the old corpus and the new inputs adds coverage to them.
  mkdir -p "$work/$name/old"
  for f in "$corpus"/*; do
    [ -f "$f" ] || continue
    if is_seed "$f"; then cp "$f" "$work/$name/merged/"; else mv "$f" "$work/$name/old/"; fi
  done
  # -set_cover_merge keeps every feature of -merge=1 with fewer inputs (1342 -> 772 for dockerfile: its replay,
  # most of a 3 s CI run, went from 0.9 to 0.5 CPU-s).
  if "$bin" -set_cover_merge=1 -rss_limit_mb=2048 -timeout=10 "$work/$name/merged" "$work/$name/old" "$work/$name/found" \
    >"$work/$name/merge.log" 2>&1; then
    rm -rf "$corpus"
    mkdir -p "$corpus"
    cp "$work/$name/merged"/* "$corpus"/ 2>/dev/null
  else
    # the old corpus goes back as it was
    failed=1
    cp "$work/$name/old"/* "$corpus"/ 2>/dev/null
    echo "not ok - fuzz_$name: the corpus merge failed:"
    tail -20 "$work/$name/merge.log"
  fi
  n=$(find "$corpus" -type f | wc -l)
  size=$(($(cat "$corpus"/* | wc -c) / 1024))
  echo "ok - fuzz_$name: $execs executions in $secs s ($rate/s; 600 s would be ~$((rate * 600))), corpus $n inputs, ${size} KiB"
  summary+=("$(printf '%-12s %12s %8s %14s  %d inputs, %d KiB' "$name" "$execs" "$rate" "$((rate * 600))" "$n" "$size")")
done

echo
printf '%-12s %12s %8s %14s  %s\n' target executions "exec/s" "at 600 s" corpus
printf '%s\n' "${summary[@]}"
exit $failed

#!/bin/bash
# Runs the tests of isola and ends with the line "N passed, N failed, N skipped" (CI reads "N passed, N failed" from
# it); the exit status is non-zero when anything failed.  Test binaries and bats files run several at a time; see
# --help for the parts, the options and how to run one part or one file.
set -u
cd "$(dirname "$0")/.."

usage() {
  cat <<'EOF'
usage: scripts/run-tests.sh [OPTIONS] [NAME...]

Runs isola's tests, several test binaries or bats files at once, and ends with the line
"N passed, N failed, N skipped", after the failures told again (each failed job's "not ok" blocks with their
diagnostics, or its log's tail): a long log's end says what failed.  The exit status is 0 only when nothing
failed.  Each job's CPU time, with all it started (monitors, VM workers, containers, dockerd), is on its line; the
end of the run adds it up per part and lists the 15 most expensive jobs.

The parts (all of them by default):
  unit   the C unit tests, build/asan/tests/test_* (ASan+UBSan, TAP)
  fuzz   each fuzz target, build/fuzz/fuzz_*, over its corpus and then new inputs, FUZZ_SECONDS (default 3)
         seconds in all (`make fuzz` is the long run)
  bats   the integration tests, tests/integration/*.bats except vm.bats and runtime_vm.bats, with process
         isolation, and the checks of the built binaries, tests/build/*.bats except reproducible.bats
  vm     everything that boots VMs: vm.bats, runtime_vm.bats, and the files of VM_FILES (default: run lifecycle exec
         ps logs isolation files volume leaks escape limits events attach restart health nsflags containment
         records chaos wedged netns network serve serve_fs serve_ops commit cp build serve_py) again with every container in a VM (ISOLA_TEST_ISOLATION=vm).
         That second pass checks that the modes behave alike: it drives the release build with 1-vCPU guests
         (ISOLA_VM_PASS_BIN, ISOLA_VM_PASS_CPUS override), half the time of ASan and the default size; vm.bats,
         which tests the VM itself (its defaults too), drives the --binaries build; leaks.bats always drives the
         ASan build and escape.bats the release one
  build  tests/build/reproducible.bats: two clones of HEAD built and compared (slow; not in make check)
  compat tests/compat/run.py: the differential test against Docker (Debian's dockerd, started privately) with
         both isolation modes, from the table tests/compat/cases.table (its VM lane drives the release build, as
         the VM pass does); its expected failures count as skipped
         (not in make check; --filter RE selects its cases by name)

Options:
  --only PARTS     run only these parts, comma-separated: --only unit,bats --binaries release is `make check`
  --skip PARTS     run every part but these
  -j, --jobs N     run N test binaries or bats files at once (default: ISOLA_TEST_JOBS, else 3)
  --max-jobs N     and up to N while the CPUs idle a quarter of the time or more, one more every 2 s
                   (default: ISOLA_TEST_MAX_JOBS, else the --jobs number + 2; the --jobs number turns it off)
  -f, --filter RE  run only the bats tests whose name matches the regular expression RE (bats --filter)
  --fuzz-seconds N how long each fuzz target runs (default: FUZZ_SECONDS, else 3)
  --binaries B     what the bats files drive: asan (default: build/asan/isola, ASan+UBSan; leaks are checked by
                   leaks.bats only, ISOLA_BATS_ASAN_OPTIONS overrides) or release (build/isola, ~10x cheaper to start; make check uses it).  ISOLA_BIN overrides
  --list           print what would run, and exit
  -h, --help       print this, and exit

The run has a /tmp of its own (a tmpfs in a mount namespace of its own, when run as root): the tests' roots,
fixtures and mounts are made there and go with the run; paths under the machine's /tmp are not visible to it.

A NAME selects what it names, in the parts that run: tests/integration/NAME.bats (with both isolations when NAME
is one of VM_FILES), tests/build/NAME.bats, build/asan/tests/test_NAME, build/fuzz/fuzz_NAME and compat.  Shell patterns
work ('vm*').  A NAME that selects nothing is an error.  From make: `make test T=exec`, `make check T="exec logs"`.

Examples:
  scripts/run-tests.sh --only unit,bats --binaries release  # the inner loop (make check)
  scripts/run-tests.sh exec                     # exec.bats in both modes
  scripts/run-tests.sh --only vm -f 'template'  # the VM tests whose name says "template"
  scripts/run-tests.sh vmproto                  # test_vmproto and fuzz_vmproto
  scripts/run-tests.sh compat -f 'stdin|stop'   # the compat cases whose name says stdin or stop
EOF
}

die_usage() {
  echo "run-tests.sh: $*" >&2
  echo "run 'scripts/run-tests.sh --help' for the options" >&2
  exit 2
}

ALL_PARTS="unit fuzz bats vm build compat"
ARGS=("$@")
# check_parts LIST: LIST (comma- or space-separated) as words, each a known part.
check_parts() {
  local p out=""
  for p in ${1//,/ }; do
    [[ " $ALL_PARTS " == *" $p "* ]] || die_usage "unknown part '$p' (parts: $ALL_PARTS)"
    out="$out $p"
  done
  [ -n "$out" ] || die_usage "no part named"
  echo "$out"
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
# The bats files run the ASan CLI without LeakSanitizer: its check at every exit cost a third of the process pass
# (measured: cli+ps 31 s with it, 20 s without, 16 s with the release build).  leaks.bats turns it on for a
# container's whole life in both modes and for the image and volume verbs, with the monitor's reports captured.
BATS_ASAN_OPTIONS=${ISOLA_BATS_ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# 3 s a target: 24 targets x 5 s were 109 of the suite's 842 CPU-s; libFuzzer replays the whole corpus first, however
# short the run (the regressions, the long runs' coverage: docs/FUZZING.md), and `make fuzz` is the long run.
FUZZ_SECONDS=${FUZZ_SECONDS:-3}
# The files whose tests run in both isolation modes.
VM_FILES=${VM_FILES:-"run lifecycle exec ps logs isolation files volume leaks escape limits events attach restart health nsflags containment records chaos wedged netns network serve serve_fs serve_ops commit cp build serve_py serve_tls"}
JOBS=${ISOLA_TEST_JOBS:-3}
MAX_JOBS=${ISOLA_TEST_MAX_JOBS:-}
BINARIES=${ISOLA_TEST_BINARIES:-asan}
PARTS=$ALL_PARTS
FILTER=
LIST=0
NAMES=()

while [ $# -gt 0 ]; do
  case $1 in
    -h | --help)
      usage
      exit 0
      ;;
    --only | --skip | -j | --jobs | --max-jobs | -f | --filter | --fuzz-seconds | --binaries)
      [ $# -ge 2 ] || die_usage "$1 needs a value"
      set -- "$1=$2" "${@:3}"
      continue
      ;;
    --only=*) PARTS=$(check_parts "${1#*=}") || exit 2 ;;
    --skip=*)
      skip=$(check_parts "${1#*=}") || exit 2
      PARTS=
      for p in $ALL_PARTS; do [[ " $skip " == *" $p "* ]] || PARTS="$PARTS $p"; done
      ;;
    -j=* | --jobs=*) JOBS=${1#*=} ;;
    -j[0-9]*) JOBS=${1#-j} ;;
    --max-jobs=*) MAX_JOBS=${1#*=} ;;
    -f=* | --filter=*) FILTER=${1#*=} ;;
    --fuzz-seconds=*) FUZZ_SECONDS=${1#*=} ;;
    --binaries=*) BINARIES=${1#*=} ;;
    --list) LIST=1 ;;
    --)
      shift
      NAMES+=("$@")
      break
      ;;
    -*) die_usage "unknown option '$1'" ;;
    *) NAMES+=("$1") ;;
  esac
  shift
done
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die_usage "--jobs takes a number of 1 or more, not '$JOBS'"
MAX_JOBS=${MAX_JOBS:-$((JOBS + 2))}
if ! [[ $MAX_JOBS =~ ^[1-9][0-9]*$ ]] || [ "$MAX_JOBS" -lt "$JOBS" ]; then
  die_usage "--max-jobs takes a number no lower than --jobs ($JOBS), not '$MAX_JOBS'"
fi
[[ $FUZZ_SECONDS =~ ^[1-9][0-9]*$ ]] || die_usage "--fuzz-seconds takes a number of 1 or more, not '$FUZZ_SECONDS'"
# The binary the bats files drive (helpers.bash reads ISOLA_BIN; the monitor and agent are the ones beside it).  An
# ASan binary pays ~0.1 s at every start and exit (shadow memory, the leak check), which a container test pays at
# each of its CLI calls: the inner loop drives the release build, make test the ASan one.
case $BINARIES in
  asan) export ISOLA_BIN=${ISOLA_BIN:-$PWD/build/asan/isola} ;;
  release) export ISOLA_BIN=${ISOLA_BIN:-$PWD/build/isola} ;;
  *) die_usage "--binaries takes asan or release, not '$BINARIES'" ;;
esac

has_part() {
  [[ " $PARTS " == *" $1 "* ]]
}

# ---- what to run ---------------------------------------------------------------------------------------------------
# A job is one test binary, one fuzz target or one bats file in one isolation mode.  JOB_COST is a guess of its
# length in seconds: the longest jobs start first, so that a long one does not start last and run alone.

JOB_KIND=() JOB_ARG=() JOB_MODE=() JOB_LABEL=() JOB_COST=() JOB_PART=()
declare -A MATCHED=()

# wanted NAME: whether the NAMEs given select NAME (all do when none is given); notes which patterns matched.
wanted() {
  local pat hit=1
  [ ${#NAMES[@]} -eq 0 ] && return 0
  for pat in "${NAMES[@]}"; do
    # shellcheck disable=SC2053 # a pattern on purpose
    if [[ $1 == $pat ]]; then
      MATCHED[$pat]=1
      hit=0
    fi
  done
  return $hit
}

# The jobs whose test count misleads: few tests that take long (chaos.bats' loop runs 45 s whatever the count,
# clients that start daemons, several VMs or fixed waits a test), or many that wait (pull.bats' retries).  Without
# these, chaos.bats and serve_compose.bats started last, after the fuzz targets, and ran alone at the end.  From
# the wall and CPU times of a whole run (load 25-45), in the units of the guesses below.
declare -A COST_HINT=(
  ["chaos.bats"]=50 ["chaos.bats (vm)"]=50 ["serve_compose.bats"]=20 ["pull.bats"]=60 ["attach.bats"]=45
  ["attach.bats (vm)"]=60 ["buildah.bats"]=25 ["serve_ops.bats"]=20 ["health.bats"]=10 ["vm.bats"]=150
  ["escape.bats (vm)"]=55 ["leaks.bats (vm)"]=35 ["serve.bats (vm)"]=60 ["serve_fs.bats (vm)"]=45
  ["serve_ops.bats (vm)"]=40 ["serve_py.bats (vm)"]=35 ["records.bats (vm)"]=30 ["health.bats (vm)"]=25
  ["restart.bats (vm)"]=40 ["commit.bats (vm)"]=45 ["runtime_vm.bats"]=45 ["build/reproducible.bats"]=100
)

# add_job PART KIND ARG MODE LABEL COST: COST unless COST_HINT has one for LABEL.
add_job() {
  JOB_PART+=("$1") JOB_KIND+=("$2") JOB_ARG+=("$3") JOB_MODE+=("$4") JOB_LABEL+=("$5")
  JOB_COST+=("${COST_HINT[$5]:-$6}")
}

# tests_in FILE: the number of @test in a bats file.
tests_in() {
  grep -c '^@test ' "$1"
}

# Measured on 2 cores (TCG for the VMs): ~1 s a test with process isolation, ~3 s with VM isolation.
if has_part unit; then
  for t in build/asan/tests/test_*; do
    [ -x "$t" ] || continue
    wanted "${t##*/test_}" && add_job unit unit "$t" - "${t##*/}" 3
  done
fi
if has_part fuzz; then
  for fz in build/fuzz/fuzz_*; do
    [ -x "$fz" ] || continue
    wanted "${fz##*/fuzz_}" && add_job fuzz fuzz "$fz" - "${fz##*/}" "$((FUZZ_SECONDS + 1))"
  done
fi
# The checks of the build itself (what the binaries link, the include graph, reproducibility: two builds).
# (binaries.bats reads the built binaries: 1 CPU-s; reproducible.bats builds a clone: ~40 CPU-s on both CPUs)
for f in tests/build/*.bats; do
  name=$(basename "$f" .bats)
  part=bats cost=$(tests_in "$f")
  [ "$name" = reproducible ] && part=build cost=60
  has_part $part && wanted "$name" && add_job $part bats "$f" process "build/$name.bats" "$cost"
done
for f in tests/integration/*.bats; do
  name=$(basename "$f" .bats)
  if [ "$name" = vm ] || [ "$name" = runtime_vm ]; then
    has_part vm && wanted "$name" && add_job vm bats "$f" process "$name.bats" "$(($(tests_in "$f") * 4))"
    continue
  fi
  has_part bats && wanted "$name" && add_job bats bats "$f" process "$name.bats" "$(tests_in "$f")"
  if has_part vm && [[ " $VM_FILES " == *" $name "* ]] && wanted "$name"; then
    add_job vm bats "$f" vm "$name.bats (vm)" "$(($(tests_in "$f") * 3))"
  fi
done

# The differential test against Docker: one job, docker and both isolation modes side by side (~3 minutes).
if has_part compat && wanted compat; then
  add_job compat compat tests/compat/run.py - compat 180
fi

for pat in "${NAMES[@]}"; do
  [ -n "${MATCHED[$pat]:-}" ] ||
    die_usage "'$pat' names no bats file, unit test or fuzz target in the parts that run ($PARTS )"
done
[ ${#JOB_KIND[@]} -gt 0 ] || die_usage "nothing to run: no test binary, fuzz target or bats file in$PARTS (make test builds them)"

# ORDER: the job indexes, longest first.
mapfile -t ORDER < <(for i in "${!JOB_KIND[@]}"; do echo "${JOB_COST[i]} $i"; done | sort -k1,1nr -k2,2n | cut -d' ' -f2)

if [ "$LIST" = 1 ]; then
  for i in "${ORDER[@]}"; do
    printf '%-5s %s%s\n' "${JOB_KIND[i]}" "${JOB_LABEL[i]}" "${FILTER:+ --filter $FILTER}"
  done
  exit 0
fi

# ---- running -------------------------------------------------------------------------------------------------------

# The run has a /tmp of its own, a tmpfs in a mount namespace of its own, where the tests make their roots, fixtures
# and containers: on the machine's /tmp (ext4 without a journal here) each new inode after many deletions costs a scan
# of recently deleted ones, which was 44% of the CPU of a process-mode bats file (perf: find_inode_bit,
# recently_deleted; lifecycle.bats 9.2-10.7 CPU-s on the disk, 5.8-6.6 on a tmpfs).  What the run leaves there goes
# with its last process, after the leftovers check below has seen it; the mounts the tests make stay in the
# namespace too.  Paths in the machine's /tmp (ISOLA_BIN=/tmp/...) are not visible to the run, but for the tree's own.
if [ -z "${ISOLA_TEST_PRIVATE_TMP:-}" ] && [ "$(id -u)" = 0 ]; then
  export ISOLA_TEST_PRIVATE_TMP=1
  exec unshare --mount --propagation private -- "$PWD/scripts/run-tests.sh" "${ARGS[@]}"
fi
if [ "${ISOLA_TEST_PRIVATE_TMP:-}" = 1 ]; then
  # A tree that is itself in the machine's /tmp (a clone made there) is bound back at its place, through a
  # descriptor of the /tmp the tmpfs covers.
  tree_in_tmp=
  case $PWD in /tmp/?*) tree_in_tmp=${PWD#/tmp/} tree_in_tmp=${tree_in_tmp%%/*} ;; esac
  exec {machine_tmp}</tmp
  # (no nosuid or nodev: the stores under it hold images with setuid files and device nodes, as /var/lib/isola)
  if ! mount -t tmpfs -o mode=1777 isola-tests /tmp; then
    echo "run-tests.sh: could not mount the run's tmpfs on /tmp" >&2
    exit 1
  fi
  if [ -n "$tree_in_tmp" ] && ! { mkdir "/tmp/$tree_in_tmp" && mount --no-canonicalize --bind "/proc/self/fd/$machine_tmp/$tree_in_tmp" "/tmp/$tree_in_tmp"; }; then
    echo "run-tests.sh: could not keep /tmp/$tree_in_tmp (the tree) in the run's /tmp" >&2
    exit 1
  fi
  exec {machine_tmp}<&-
  ISOLA_TEST_PRIVATE_TMP=2
fi

logdir=$(mktemp -d /tmp/isola-tests.XXXXXX)
# The tests note each root and fixtures directory they make there (helpers.bash): the leftovers check below counts
# what this run made, not another run's or the user's containers.
export ISOLA_TEST_MADE=$logdir/made
: >"$ISOLA_TEST_MADE"
# One directory of VM templates for the whole run, as the containers of one store share one (vmtemplate.h): a layout
# boots once, not once per bats file.
export ISOLA_VM_TEMPLATE_DIR=$logdir/vm-templates
passed=0 failed=0 skipped=0

# count_tap LOG STATUS: counts a TAP stream: "ok" lines pass (or skip with "# skip"), "not ok" fail unless marked
# "# TODO" (an expected failure, counted as skipped); a producer that failed without saying "not ok" fails once more.
count_tap() {
  local log=$1 status=$2 p f s t
  p=$(grep -cE '^ok [0-9]+' "$log")
  s=$(grep -ciE '^ok [0-9]+.*# skip' "$log")
  f=$(grep -cE '^not ok [0-9]+' "$log")
  t=$(grep -cE '^not ok [0-9]+.*# TODO' "$log")
  f=$((f - t))
  passed=$((passed + p - s)) skipped=$((skipped + s + t)) failed=$((failed + f))
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    failed=$((failed + 1))
    echo "not ok - $log exited with status $status"
  fi
}

# measured I COMMAND...: runs COMMAND in place of the shell, with the CPU time of all it starts (monitors, VM workers
# and containers too) noted in $logdir/I.cpu (scripts/job-cpu.py).
measured() {
  local i=$1
  shift
  exec python3 scripts/job-cpu.py "$logdir/$i.cpu" "$@"
}

# job_body I: what job I runs (in the background, output to its log).
job_body() {
  local i=$1 arg=${JOB_ARG[$1]} name work corpus
  case ${JOB_KIND[i]} in
    unit) measured "$i" "$arg" ;;
    fuzz)
      name=${arg##*/}
      corpus=fuzz/corpus/${name#fuzz_}
      work=$logdir/$name-corpus
      mkdir -p "$work"
      if [ -d "$corpus" ]; then cp -r "$corpus"/. "$work"/; fi
      measured "$i" "$arg" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=10 "$work"
      ;;
    bats)
      if [ "${JOB_MODE[i]}" = vm ]; then
        export ISOLA_TEST_ISOLATION=vm
        # measured on the VM pass here: 848 s of jobs with ASan, 505 s with the release build (1 vCPU both).
        # Not 512 MiB guests (a 42 MB template state to restore instead of 71 MB): `run --rm busybox true` cost
        # 2.33 CPU-s with 512m and 2.32 with the default 2g (1 vCPU, 4 runs each, alternated, load ~30).
        export ISOLA_BIN=${ISOLA_VM_PASS_BIN:-$PWD/build/isola} ISOLA_VM_CPUS=${ISOLA_VM_PASS_CPUS:-1}
      else
        unset ISOLA_TEST_ISOLATION
      fi
      export ASAN_OPTIONS=$BATS_ASAN_OPTIONS
      # Each bats file in a network namespace of its own with only lo up: the default network's bridge (isola0),
      # veths and firewall rules of its containers are made there, never in the machine's namespace, and vanish
      # with it.
      measured "$i" unshare --net sh -c 'ip link set lo up && exec "$@"' sh bats --tap ${FILTER:+--filter "$FILTER"} "$arg"
      ;;
    compat)
      unset ISOLA_TEST_ISOLATION ISOLA_ISOLATION
      # its VM lane drives the release build, as the VM pass (6 VM cases: 9.2 CPU-s with ASan, 8.6 without)
      export ISOLA_VM_BIN=${ISOLA_VM_PASS_BIN:-$PWD/build/isola}
      # isola's lanes make the default bridge too: in a namespace of their own, as the bats files (dockerd has one
      # of its own inside it)
      measured "$i" unshare --net sh -c 'ip link set lo up && exec "$@"' sh python3 "$arg" ${FILTER:+"$FILTER"}
      ;;
  esac
}

# JOB_CPU[I]: the CPU time of job I in hundredths of a second (user + system, with all it started), once done.
JOB_CPU=()
# job_cpu I: reads job I's CPU time (scripts/job-cpu.py wrote it as "USER SYSTEM", seconds with two decimals).
job_cpu() {
  local u=0.00 s=0.00
  read -r u s 2>/dev/null <"$logdir/$1.cpu"
  JOB_CPU[$1]=$((10#${u/./} + 10#${s/./}))
}

# cs N: N hundredths as seconds with one decimal.
cs() {
  printf '%d.%d' $(($1 / 100)) $(($1 % 100 / 10))
}

# FAILURES: what each failed job said of its failures, printed again at the very end of the run: a long run's log
# is often seen only by its head and tail (CI shows a part of it), and a failure in its middle must still be there.
FAILURES=$logdir/failures
: >"$FAILURES"

# failed_blocks LOG: the TAP "not ok" lines of LOG that are failures (not "# TODO"), each with the diagnostics that
# follow it (bats' "# (in test file ...)" block, a unit test's assertion), 40 lines at most each.
failed_blocks() {
  awk '/^not ok / { show = ($0 !~ /# TODO/); n = 0 } /^ok / { show = 0 } show && n++ < 40' "$1"
}

# note_failure I STATUS: adds what job I said of its failures to FAILURES (a job that failed without a "not ok", a
# crash or a sanitizer's report, with its log's tail).
note_failure() {
  local i=$1 status=$2 log=$logdir/$1.log blocks
  blocks=$(failed_blocks "$log")
  [ -n "$blocks" ] || [ "$status" -ne 0 ] || return 0
  {
    echo "--- ${JOB_LABEL[i]} (exit $status)"
    if [ -n "$blocks" ]; then head -120 <<<"$blocks"; else tail -40 "$log"; fi
  } >>"$FAILURES"
}

# job_done I STATUS SECONDS: reports a finished job and adds up its counts.
job_done() {
  local i=$1 status=$2 log=$logdir/$1.log label=${JOB_LABEL[$1]} secs
  job_cpu "$i"
  secs="$3 s, $(cs "${JOB_CPU[i]}") CPU-s"
  case ${JOB_KIND[i]} in
    unit)
      grep -E '^(not ok|#)' "$log"
      echo "$label: $(grep -cE '^ok' "$log") ok, $(grep -cE '^not ok' "$log") not ok (${secs})"
      count_tap "$log" "$status"
      note_failure "$i" "$status"
      ;;
    fuzz)
      if [ "$status" -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok - $label (${secs})"
      else
        failed=$((failed + 1))
        echo "not ok - $label (exit $status, ${secs})"
        tail -40 "$log"
        note_failure "$i" "$status"
      fi
      ;;
    bats)
      grep -vE '^ok ' "$log" | head -300
      echo "$label: $(grep -cE '^ok' "$log") ok, $(grep -cE '^not ok' "$log") not ok (${secs})"
      count_tap "$log" "$status"
      note_failure "$i" "$status"
      ;;
    compat)
      # the failures with their differences, and the report; the expected failures and known differences are in
      # the report's counts (tests/compat/README.md)
      note_failure "$i" "$status"
      awk '/^not ok / { show = ($0 !~ /# TODO/) } /^ok / { show = 0 } show || /^# (compat report|isola |note: )/' "$log" |
        head -400
      echo "$label: $(grep -cE '^ok' "$log") ok, $(grep -cE '^not ok .*# TODO' "$log") expected failures," \
        "$(grep -E '^not ok' "$log" | grep -cv '# TODO') not ok (${secs})"
      count_tap "$log" "$status"
      ;;
  esac
}

# Each job runs in a process group of its own (set -m).  An interrupted run passes SIGINT on to every group, as a
# terminal's ^C would (bats then runs the teardowns); a second signal sends SIGTERM.
set -m
declare -A RUNNING=() STARTED=()
# JOB_START[I], JOB_END[I]: when job I started and ended, in seconds from the first start (the schedule's report).
JOB_START=() JOB_END=()
interrupted=0
stop_jobs() {
  local pid sig=INT
  [ "$interrupted" = 0 ] || sig=TERM
  interrupted=1
  for pid in "${!RUNNING[@]}"; do kill -"$sig" -- "-$pid" 2>/dev/null; done
}
trap stop_jobs INT TERM
trap 'rm -rf "$logdir"' EXIT

# cpu_ticks: the machine's busy and total CPU time so far, in clock ticks (/proc/stat): how much of the machine the
# run used says whether more jobs at once would help.
cpu_ticks() {
  awk '/^cpu / { idle = $5 + $6; total = 0; for (i = 2; i <= NF; i++) total += $i; print total - idle, total }' /proc/stat
}

echo "== ${#ORDER[@]} jobs ($(echo $PARTS | tr ' ' ','); up to $JOBS at once, $MAX_JOBS while the CPUs idle;" \
  "bats drive $ISOLA_BIN)"
t_start=$(date +%s)
read -r busy_start total_start < <(cpu_ticks)
# start_job: starts the next job in the order.
start_job() {
  local i=${ORDER[next]}
  next=$((next + 1))
  job_body "$i" >"$logdir/$i.log" 2>&1 </dev/null &
  RUNNING[$!]=$i
  STARTED[$!]=$(date +%s)
  [ ${#RUNNING[@]} -le "$most_at_once" ] || most_at_once=${#RUNNING[@]}
}
# Most jobs wait much of their time (containers starting, VMs booting, daemons, polls): 3 at once kept the 2 CPUs
# busy 67% of a whole run on a quiet machine.  A tick every IDLE_TICK seconds looks at the CPUs: when they idled at
# least IDLE_SHARE% of it (ISOLA_TEST_IDLE_SHARE), one more job starts, up to MAX_JOBS; a job that ends is replaced
# only up to JOBS.  On a machine that others load (or while the jobs running fill it) no more than JOBS run.
IDLE_TICK=2 IDLE_SHARE=${ISOLA_TEST_IDLE_SHARE:-25}
tick_pid="" most_at_once=0
read -r tick_busy tick_total < <(cpu_ticks)
next=0
while [ "$next" -lt ${#ORDER[@]} ] || [ ${#RUNNING[@]} -gt 0 ]; do
  while [ "$interrupted" = 0 ] && [ "$next" -lt ${#ORDER[@]} ] && [ ${#RUNNING[@]} -lt "$JOBS" ]; do
    start_job
  done
  [ ${#RUNNING[@]} -gt 0 ] || break
  if [ -z "$tick_pid" ] && [ "$interrupted" = 0 ] && [ "$MAX_JOBS" -gt "$JOBS" ] && [ "$next" -lt ${#ORDER[@]} ]; then
    sleep "$IDLE_TICK" &
    tick_pid=$!
  fi
  pid=
  wait -n -p pid
  status=$?
  if [ -n "${pid:-}" ] && [ "$pid" = "$tick_pid" ]; then
    tick_pid=
    read -r b t < <(cpu_ticks)
    if [ "$interrupted" = 0 ] && [ "$next" -lt ${#ORDER[@]} ] && [ ${#RUNNING[@]} -lt "$MAX_JOBS" ] &&
      [ $(((t - tick_total) - (b - tick_busy))) -ge $(((t - tick_total) * IDLE_SHARE / 100)) ]; then
      start_job
    fi
    tick_busy=$b tick_total=$t
    continue
  fi
  # a signal interrupted the wait: stop_jobs has run, the jobs end and are waited for here (seen once after ^C: a
  # PID that is no job's, which set -u made fatal)
  [ -n "${pid:-}" ] && [ -n "${RUNNING[$pid]:-}" ] || continue
  i=${RUNNING[$pid]}
  JOB_START[i]=$((STARTED[$pid] - t_start)) JOB_END[i]=$(($(date +%s) - t_start))
  job_done "$i" "$status" $((JOB_END[i] - JOB_START[i]))
  unset "RUNNING[$pid]" "STARTED[$pid]"
done
[ -z "$tick_pid" ] || kill "$tick_pid" 2>/dev/null
set +m
if [ "$interrupted" = 1 ]; then
  failed=$((failed + 1))
  echo "not ok - interrupted: $((${#ORDER[@]} - next)) jobs did not start"
fi
read -r busy_end total_end < <(cpu_ticks)
hz=$(getconf CLK_TCK)
echo "== jobs done in $(($(date +%s) - t_start)) s, up to $most_at_once at once; the machine's CPUs were busy" \
  "$(((busy_end - busy_start) * 100 / (total_end - total_start + 1)))% of it ($(((busy_end - busy_start) / hz)) CPU-s)"

# What the jobs cost, in CPU time (theirs and all they started): the total on a loaded machine is still the
# suite's price, and what to cut first.
declare -A PART_CPU=()
cpu_all=0
for i in "${!JOB_CPU[@]}"; do
  PART_CPU[${JOB_PART[i]}]=$((${PART_CPU[${JOB_PART[i]}]:-0} + JOB_CPU[i]))
  cpu_all=$((cpu_all + JOB_CPU[i]))
done
if [ "$cpu_all" -gt 0 ]; then
  line="== CPU-s of the jobs: $(cs $cpu_all);"
  for p in $PARTS; do [ -z "${PART_CPU[$p]:-}" ] || line="$line $p $(cs "${PART_CPU[$p]}")"; done
  echo "$line"
  echo "== the most expensive jobs (CPU-s, with what they started):"
  for i in "${!JOB_CPU[@]}"; do echo "${JOB_CPU[i]} $i"; done | sort -k1,1nr | head -15 |
    while read -r c i; do printf '%8s  %s\n' "$(cs "$c")" "${JOB_LABEL[i]}"; done
fi

# The schedule's tail: from the last start on, fewer jobs than --jobs run and the CPUs idle unless those few fill them.
# A long job that started late shows here: its JOB_COST guess was too low.
if [ ${#JOB_END[@]} -gt 1 ]; then
  last_start=0 last_end=0
  for i in "${!JOB_END[@]}"; do
    [ "${JOB_START[i]}" -le "$last_start" ] || last_start=${JOB_START[i]}
    [ "${JOB_END[i]}" -le "$last_end" ] || last_end=${JOB_END[i]}
  done
  echo "== the last job started at $last_start s, the last ended at $last_end s; the jobs that ran in that tail:"
  for i in "${!JOB_END[@]}"; do
    [ "${JOB_END[i]}" -gt "$last_start" ] && echo "${JOB_END[i]} $i"
  done | sort -k1,1nr | head -8 | while read -r e i; do
    printf '%8s  %s (started at %d s, ended at %d s)\n' "$(cs "${JOB_CPU[i]}")" "${JOB_LABEL[i]}" "${JOB_START[i]}" "$e"
  done
fi

# Only what this run made: the roots and fixtures the tests noted (with their .extra.* roots), the mounts under them,
# and the processes (monitors, VM workers, template builds) that name them or this run's VM templates.
echo "== leftovers"
made=$logdir/made-dirs
{
  grep -v '^$' "$ISOLA_TEST_MADE"
  echo "$ISOLA_VM_TEMPLATE_DIR/"
} >"$made"
procs=$(ps -ww -eo pid=,args= | grep -F -f "$made" | cut -c1-200)
if [ -n "$procs" ]; then
  failed=$((failed + 1))
  echo "not ok - processes (VM workers, monitors) left behind by the tests:"
  echo "$procs"
fi
dirs=$(while IFS= read -r d; do [ -z "$d" ] || ls -d "$d" "$d".extra.* 2>/dev/null; done <"$ISOLA_TEST_MADE")
if [ -n "$dirs" ]; then
  failed=$((failed + 1))
  echo "not ok - test roots or fixtures left in /tmp:"
  echo "$dirs"
fi
if grep -qF -f "$made" /proc/mounts; then
  failed=$((failed + 1))
  echo "not ok - mounts left behind by the tests:"
  grep -F -f "$made" /proc/mounts
fi

if [ -s "$FAILURES" ]; then
  echo "== the failures again (each job's \"not ok\" blocks, or the tail of its log when it failed without one):"
  cat "$FAILURES"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

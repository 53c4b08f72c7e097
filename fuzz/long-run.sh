#!/usr/bin/env bash
# The documented long fuzz run: every target to RUNS executions (default ten million), JOBS
# targets at a time (default 2), with the nightly toolchain and cargo-fuzz (address sanitizer,
# release build). What the fuzzer adds to a corpus goes to a scratch directory, not corpus/.
# Prints, per target, the executions, seconds, executions per second and the crashes found
# (a crash leaves its input under fuzz/artifacts/<target>/ and fails the run).
#
#   cargo install cargo-fuzz && bash fuzz/long-run.sh [RUNS] [JOBS]
set -euo pipefail
cd "$(dirname "$0")"
runs=${1:-10000000}
jobs=${2:-2}
cargo +nightly fuzz build -O >/dev/null
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
one() {
  local t=$1 log="$scratch/$1.log" start end rc=0
  mkdir -p "$scratch/$t"
  start=$(date +%s)
  cargo +nightly fuzz run -O "$t" "$scratch/$t" "corpus/$t" -- -runs="$runs" -print_final_stats=1 \
    >"$log" 2>&1 || rc=$?
  end=$(date +%s)
  local done execs
  done=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || echo 0)
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "$done")
  local secs=$((end - start))
  local rate=$((execs / (secs > 0 ? secs : 1)))
  if [ "$rc" = 0 ]; then
    echo "$t: $execs executions in $secs s ($rate/s), 0 crashes"
  else
    echo "$t: FAILED (exit $rc) after $execs executions in $secs s; see fuzz/artifacts/$t/"
    tail -30 "$log"
    return 1
  fi
}
export -f one
export runs scratch
cargo +nightly fuzz list | xargs -P "$jobs" -I{} bash -c 'one {}'

#!/usr/bin/env bash
# Coverage-guided fuzzing of every venue decoder with cargo-fuzz (libFuzzer).
#   fuzz/run_all.sh [SECONDS_PER_TARGET] [TARGET...]      (default 600 s, all targets)
# Needs `cargo install cargo-fuzz`; RUSTC_BOOTSTRAP lets the stable toolchain accept the
# sanitizer-coverage flags. Crashes land in fuzz/artifacts/<target>/; copy each one to
# fuzz/regressions/<protocol>/ once fixed so `cargo test` keeps replaying it.
set -u
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
targets=${*:-bybit binance_spot binance_usdm okx kraken coinbase}
export RUSTC_BOOTSTRAP=1
mkdir -p fuzz/logs
for t in $targets; do
  mkdir -p "fuzz/corpus/$t"
  echo "== $t: ${secs}s" | tee -a fuzz/logs/summary.txt
  cargo fuzz run -s none "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
      -max_total_time="$secs" -max_len=65536 -print_final_stats=1 > "fuzz/logs/$t.log" 2>&1
  rc=$?
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "fuzz/logs/$t.log" | grep -Eo '[0-9]+$')
  echo "$t: exit $rc, executions ${runs:-?}, crashes $(ls fuzz/artifacts/$t 2>/dev/null | wc -l)" | tee -a fuzz/logs/summary.txt
done

#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), one after another, starting from the
# committed seeds in fuzz/seeds/<target>/ plus whatever fuzz/corpus/<target>/ has gathered.
# Installs the pinned nightly (fuzz/rust-toolchain.toml) and cargo-fuzz when they are missing.
# A crash stops the script with a non-zero status; libFuzzer leaves the input in fuzz/artifacts/<target>/.
# Inputs in fuzz/regressions/<target>/ (crashes found before) are replayed first.
# TARGETS="frame idx" picks some; JOBS=2 runs two targets at a time.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
targets="${TARGETS:-model_file frame idx preprocess}"
jobs="${JOBS:-1}"
say() { printf '[fuzz] %s\n' "$*" >&2; }

# The dated nightly of fuzz/rust-toolchain.toml (rustup picks it inside fuzz/) and cargo-fuzz.
../scripts/setup.sh fuzz

say "building the targets"
cargo fuzz build

run_one() {
  local t="$1"
  mkdir -p "corpus/$t" target/fuzz-logs
  # Inputs that once crashed a target are replayed first: each is a regression test.
  if [ -n "$(ls -A "regressions/$t" 2>/dev/null)" ]; then
    say "$t: replaying fuzz/regressions/$t"
    cargo fuzz run "$t" "regressions/$t" -- -runs=0 >"target/fuzz-logs/$t.regressions.log" 2>&1 \
      || { say "$t: a regression input fails again"; tail -40 "target/fuzz-logs/$t.regressions.log" >&2; return 1; }
  fi
  say "$t: ${seconds} s"
  # -rss_limit_mb: the image decoder's limits must hold well under this; -timeout: one input
  # taking longer than 10 s is a hang worth reporting.
  cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    >"target/fuzz-logs/$t.log" 2>&1 \
    || { say "$t: FAILED (see fuzz/target/fuzz-logs/$t.log and fuzz/artifacts/$t/)"; tail -40 "target/fuzz-logs/$t.log" >&2; return 1; }
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|#[0-9]+ *DONE' "target/fuzz-logs/$t.log" \
    | sed "s/^/[fuzz] $t: /" >&2 || true
}

status=0
if [ "$jobs" -gt 1 ]; then
  pids=()
  for t in $targets; do
    run_one "$t" & pids+=("$!")
    if [ "${#pids[@]}" -ge "$jobs" ]; then wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); fi
  done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
else
  for t in $targets; do run_one "$t" || status=1; done
fi
[ "$status" -eq 0 ] && say "no crashes" || say "crashes found"
exit "$status"

#!/usr/bin/env bash
# Runs every libFuzzer target (fuzz/fuzz_targets/) for a bounded time and prints what each did.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60 s, every target
#
# CI runs it for 60 s per target (scripts/test.sh); run it longer by hand, e.g.
# `scripts/fuzz.sh 3600 config`. The corpus grows in fuzz/corpus/TARGET (not committed). A crash
# stops that target, prints the input's path and fails the run: minimise it
# (`cd fuzz && cargo fuzz tmin -s none -a TARGET PATH`), fix the bug, and commit the input to
# fuzz/regressions/TARGET/, which tests/fuzz_regressions.rs replays in every `cargo test`.
#
# Built with `--sanitizer none`: the fuzzed code is safe Rust (no `unsafe`), where a bug shows
# as a panic, and without AddressSanitizer the targets build on the stable toolchain and run
# about twice as fast. `-a` keeps debug assertions and overflow checks on.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

cd fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
cargo fetch --locked
cargo fuzz build -s none -a
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "seeds/$t" "regressions/$t"
  echo "== fuzz $t for ${seconds}s"
  # -timeout: one input running over 10 s is a hang, reported like a crash. A dictionary
  # (fuzz/dicts/TARGET.dict) gives the words the code compares whole strings against.
  dict=()
  [ -f "dicts/$t.dict" ] && dict=(-dict="dicts/$t.dict")
  if cargo fuzz run -s none -a "$t" "corpus/$t" "seeds/$t" "regressions/$t" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 "${dict[@]}" >"$logs/$t" 2>&1; then
    status=ok
  else
    status=FAILED
    failed=1
    grep -E "panicked|SUMMARY|Test unit written|==ERROR" -A4 "$logs/$t" | head -40 || true
  fi
  stat() { grep -m1 "^stat::$1:" "$logs/$t" | awk '{print $2}'; }
  summary+=("$(printf '%-12s %-7s %12s runs %8s/s %6s new units %5s MB peak' \
    "$t" "$status" "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" \
    "$(stat new_units_added)" "$(stat peak_rss_mb)")")
done
echo "== fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit $failed

#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests against real files and
# real servers. Installs what it needs first. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
echo "== cargo check without the journald feature"
cargo check --locked --no-default-features
echo "== cargo test"
# Every target once. The logrotate and kill -9 tests run on their own with --nocapture, so
# that their per-mode figures (printed to stderr) show in the CI log even when they pass.
shown=(logrotate checkpoints)
targets=()
for f in tests/*.rs; do
  name=$(basename "$f" .rs)
  [[ " ${shown[*]} " == *" $name "* ]] || targets+=(--test "$name")
done
cargo test --locked --lib --bins --examples --benches "${targets[@]}"
echo "== cargo test (figures shown): ${shown[*]}"
cargo test --locked "${shown[@]/#/--test=}" -- --nocapture

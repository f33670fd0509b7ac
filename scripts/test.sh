#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests against real files and
# real servers. Installs what it needs first. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test
echo "== cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
echo "== cargo check without the journald feature"
cargo check --locked --no-default-features
echo "== cargo test"
# Every target once. The logrotate, kill -9 and flood tests run on their own with --nocapture,
# so that their figures (printed to stderr) show in the CI log even when they pass.
shown=(logrotate downtime checkpoints flood)
targets=()
for f in tests/*.rs; do
  name=$(basename "$f" .rs)
  [[ " ${shown[*]} " == *" $name "* ]] || targets+=(--test "$name")
done
cargo test --locked --lib --bins --examples --benches "${targets[@]}"
echo "== cargo test (figures shown): ${shown[*]}"
cargo test --locked "${shown[@]/#/--test=}" -- --nocapture
# Every libFuzzer target for a bounded time (FUZZ_SECONDS each; crashes fail the run).
echo "== fuzz"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
# The packages: release builds for amd64 and (cross) arm64, the .debs checked, the amd64 one
# installed/upgraded/removed/purged with dpkg in an overlay of /, the arm64 binary's --version
# and check run under qemu-aarch64. About 3 minutes cold per architecture: CI runs it; by
# hand, scripts/cross-smoke.sh (adds armhf) or CROSS_SMOKE=1 here.
if [ "${CI:-}" = true ] || [ "${CROSS_SMOKE:-}" = 1 ]; then
  echo "== cross-smoke (amd64 and arm64 .deb; arm64 under qemu-aarch64)"
  bash scripts/cross-smoke.sh amd64 arm64
fi

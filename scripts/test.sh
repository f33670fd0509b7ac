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
echo "== cargo test"
cargo test --locked --all-targets
# The Raspberry Pi package: cross-build for arm64, pack the .deb, check its contents, run its
# --version and check under qemu-aarch64 (about 3 minutes cold on an idle machine). CI runs
# it; by hand: scripts/cross-smoke.sh (all of amd64, arm64, armhf) or CROSS_SMOKE=1 here.
if [ "${CI:-}" = true ] || [ "${CROSS_SMOKE:-}" = 1 ]; then
  echo "== cross-smoke (arm64 .deb under qemu-aarch64)"
  bash scripts/cross-smoke.sh arm64
fi

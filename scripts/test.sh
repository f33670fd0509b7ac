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
# The packages: release builds for amd64 and (cross) arm64, the .debs checked, the amd64 one
# installed/upgraded/removed/purged with dpkg in an overlay of /, the arm64 binary's --version
# and check run under qemu-aarch64. About 3 minutes cold per architecture: CI runs it; by
# hand, scripts/cross-smoke.sh (adds armhf) or CROSS_SMOKE=1 here.
if [ "${CI:-}" = true ] || [ "${CROSS_SMOKE:-}" = 1 ]; then
  echo "== cross-smoke (amd64 and arm64 .deb; arm64 under qemu-aarch64)"
  bash scripts/cross-smoke.sh amd64 arm64
fi

#!/usr/bin/env bash
# Builds logwarden and runs its half-minute demo: a bundled bot works, bursts errors and
# freezes; logwarden follows its log and alerts. Exits non-zero if an expected alert is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release --locked --quiet
exec ./target/release/logwarden demo

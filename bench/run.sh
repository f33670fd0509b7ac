#!/usr/bin/env bash
# Runs every logwarden benchmark with one command: installs what it needs (ripgrep; the peers
# mtail, swatch, sec and fail2ban only where no systemd runs, as their packages start services
# otherwise), builds the release binary, generates the 1M-line corpus and the peer corpus in a
# work directory outside the repo, measures matching, follow throughput, latency, idle cost,
# burst memory and the peers (bench/harness.py, bench/peers.py), prints the goal table of
# issue 22 (bench/goals.py), and writes the tables into bench/README.md between the results
# markers.
#
#   bench/run.sh                     everything (2-3 minutes after the release build)
#   BENCH_PARTS=matching,micro bench/run.sh     only some parts (matching, micro, follow,
#                                    latency, idle, burst, peers, values); README is then left alone
#   (`values`, bench/values.py: value and ratio rules replayed against awk, and their
#   matching cost; it writes its own section of the README, between the values markers)
#   BENCH_WORK=/some/dir             work directory (default: a new one under /tmp, removed)
set -euo pipefail
cd "$(dirname "$0")/.."

work_given=${BENCH_WORK:-}
work=${BENCH_WORK:-$(mktemp -d /tmp/logwarden-bench.XXXXXX)}
mkdir -p "$work"
cleanup() {
    # harness.py kills what it started; this catches a harness killed itself.
    if [[ -n ${harness_pid:-} ]] && kill -0 "$harness_pid" 2>/dev/null; then
        kill "$harness_pid" 2>/dev/null || true
    fi
    if [[ -z $work_given ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM

if ! command -v rg >/dev/null; then
    echo "== installing ripgrep"
    apt-get update -qq && apt-get install -y -qq ripgrep >/dev/null
fi
missing=()
for tool in mtail:mtail swatchdog:swatch sec:sec fail2ban-regex:fail2ban; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if ((${#missing[@]})); then
    if [[ -d /run/systemd/system ]]; then
        echo "== peers not installed: ${missing[*]} (apt-get install them by hand: under systemd their packages start services); the table says which are missing"
    else
        echo "== installing the peers: ${missing[*]}"
        apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi

echo "== cargo build --release"
cargo build --release --locked --quiet
bin=${CARGO_TARGET_DIR:-target}/release/logwarden
cargo bench --locked --bench matcher --no-run --quiet 2>/dev/null || cargo bench --locked --bench matcher --no-run

corpus=$work/corpus.log
if [[ ! -s $corpus ]]; then
    echo "== generating the corpus ($corpus)"
    python3 bench/gen_corpus.py "$corpus" 1000000
fi
echo "   $(wc -l <"$corpus") lines, $(du -h "$corpus" | cut -f1), sha256 $(sha256sum "$corpus" | cut -c1-16)"
peer_corpus=$work/peer-corpus.log
if [[ ,${BENCH_PARTS:-peers}, == *,peers,* && ! -s $peer_corpus ]]; then
    echo "== generating the peer corpus ($peer_corpus)"
    python3 bench/gen_corpus.py --peer "$peer_corpus" 1000000
fi

parts=${BENCH_PARTS:-matching,micro,follow,latency,idle,burst,peers,values}
harness_parts=$(echo "$parts" | tr ',' '\n' | grep -vx values | paste -sd, - || true)
if [[ -n $harness_parts ]]; then
    python3 bench/harness.py --bin "$bin" --work "$work" --corpus "$corpus" \
        --peer-corpus "$peer_corpus" --parts "$harness_parts" --out "$work/results.md" &
    harness_pid=$!
    wait "$harness_pid"
fi

if [[ ,$parts, == *,values,* ]]; then
    echo "== value and ratio rules (bench/values.py)"
    python3 bench/values.py --bin "$bin" --work "$work" --corpus "$corpus" \
        --out "$work/values.md"
    if [[ -z ${BENCH_PARTS:-} ]]; then
        {
            echo "Taken $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores, commit $(git rev-parse --short HEAD)."
            echo
            cat "$work/values.md"
        } >"$work/values-section.md"
        python3 - "$work/values-section.md" <<'PY'
import sys
new = open(sys.argv[1]).read()
path = "bench/README.md"
text = open(path).read()
start, end = "<!-- values:start -->", "<!-- values:end -->"
a, b = text.index(start) + len(start), text.index(end)
open(path, "w").write(text[:a] + "\n" + new + text[b:])
PY
    fi
fi

if [[ -z ${BENCH_PARTS:-} ]]; then
    {
        echo "Taken $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), commit $(git rev-parse --short HEAD)."
        echo
        cat "$work/results.md"
    } >"$work/section.md"
    python3 - "$work/section.md" <<'PY'
import sys
new = open(sys.argv[1]).read()
path = "bench/README.md"
text = open(path).read()
start, end = "<!-- results:start -->", "<!-- results:end -->"
a, b = text.index(start) + len(start), text.index(end)
open(path, "w").write(text[:a] + "\n" + new + text[b:])
PY
    echo "== bench/README.md updated"
fi

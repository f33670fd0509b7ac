#!/usr/bin/env bash
# Soak test of logwarden (not run in CI): builds the release binary, then runs it for hours
# against a writer with logrotate rotations and faults, and reports lines lost and repeated,
# alerts, restarts and the memory trend. The work is done by scripts/soak.py; see
# docs/soak.md. Usage: scripts/soak.sh --hours 8 | --minutes 10 [soak.py options]
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "soak: need root to run: $*" >&2; exit 1
  fi
}

# What the soak runs besides the build's own needs (scripts/deps.sh), only if missing.
missing=()
[ -x /usr/sbin/logrotate ] || missing+=(logrotate)
[ -x /usr/bin/python3 ] || missing+=(python3)
command -v unshare >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "soak: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq || echo "soak: apt-get update reported errors; trying the install anyway" >&2
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
bash scripts/deps.sh

# nice: a soak machine is often a shared one.
nice -n 10 cargo build --release --locked --quiet

# The work dir: given, or a new one. Not under /tmp or /var/tmp: the private systemd mounts
# its own tmpfs there.
dir=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --dir) dir="${args[i + 1]:-}" ;;
    --dir=*) dir="${args[i]#--dir=}" ;;
  esac
done
if [ -z "$dir" ]; then
  dir="/var/lib/logwarden-soak/$(date +%Y%m%d-%H%M%S)"
  args+=(--dir "$dir")
fi
mkdir -p "$dir"

# Backstop for soak.py's own cleanup: if it could not kill the private systemd (killed
# itself), kill that PID 1 here, by its PID and only if it is still that systemd.
cleanup() {
  local pidfile="$dir/systemd.pid" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ]; then
    echo "soak: killing the private systemd left running (PID $pid)" >&2
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}
trap cleanup EXIT

/usr/bin/python3 scripts/soak.py "${args[@]}"

#!/usr/bin/env bash
# Installs what building (and, with --test, testing) logwarden needs on Debian/Ubuntu, and
# only what is missing. Safe to run again.
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "deps: need root to run: $*" >&2; exit 1
  fi
}

# Debian packages needed to build and run logwarden.
build_pkgs=(pkg-config gcc libc6-dev libsystemd-dev)
# Debian packages the test suite runs for real (servers, rotation, ...).
# python3-aiosmtpd: the SMTP server of the alert tests (run with /usr/bin/python3);
# prometheus-alertmanager: a real Alertmanager cluster; openssl: the tests' CA and certificates.
# g++: libFuzzer (C++), built by the fuzz targets (scripts/fuzz.sh).
# python3-cryptography: certificates with any validity (expired, not yet valid) for the
# cert probe's tests (tests/fixtures/tls_certs.py).
# chromium: renders the status page headless (tests/status_page.rs: screenshot and DOM).
# dbus, dbus-user-session: tests/user_unit.rs restarts a user unit the way seed 000 does
# (`systemctl --user --machine=USER@`): systemctl reaches the user manager through
# systemd-run on the system bus (dbus) and systemd-stdio-bridge on the user's own bus
# ($XDG_RUNTIME_DIR/bus, the user manager's dbus.socket, from dbus-user-session).
# systemd-logind (in systemd) starts the user manager for `loginctl enable-linger`.
test_pkgs=(procps logrotate gzip systemd util-linux prometheus python3-aiosmtpd prometheus-alertmanager openssl g++ python3-cryptography chromium dbus dbus-user-session)

missing=()
for p in "${build_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "$want_test" = 1 ]; then
  for p in "${test_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if ! command -v cargo >/dev/null 2>&1; then
  missing+=(cargo rustc)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # One stale index (a mirror syncing a foreign architecture's list) must not stop the
  # install: apt-get install below fails on its own if a package is really unavailable.
  as_root apt-get update -qq || echo "deps: apt-get update reported errors; trying the install anyway" >&2
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# logwarden needs Rust 1.91 or newer.
ver=$(rustc --version | awk '{print $2}')
major=${ver%%.*}; rest=${ver#*.}; minor=${rest%%.*}
if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 91 ]; }; then
  echo "deps: rustc $ver is too old; logwarden needs 1.91 or newer (install it with rustup)" >&2
  exit 1
fi
if [ "$want_test" = 1 ]; then
  rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy rustfmt 2>/dev/null || true
fi

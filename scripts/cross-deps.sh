#!/usr/bin/env bash
# Installs what cross-building logwarden for a Raspberry Pi needs on a Debian 12 (amd64) host,
# and only what is missing: the Rust target, Debian's cross gcc, and the foreign-architecture
# libsystemd-dev (multiarch). With no argument it prepares arm64 and armhf. Safe to run again.
#
#   scripts/cross-deps.sh [arm64] [armhf] [--qemu]
#
# --qemu also installs qemu-user, which runs the foreign binaries on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "cross-deps: need root to run: $*" >&2; exit 1
  fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

arches=()
want_qemu=0
for a in "$@"; do
  case "$a" in
    arm64|armhf) arches+=("$a") ;;
    --qemu) want_qemu=1 ;;
    *) echo "cross-deps: unknown argument '$a' (expected arm64, armhf or --qemu)" >&2; exit 2 ;;
  esac
done
[ "${#arches[@]}" -gt 0 ] || arches=(arm64 armhf)

host_arch=$(dpkg --print-architecture)
if [ "$host_arch" != amd64 ]; then
  echo "cross-deps: this script cross-builds from amd64; this machine is $host_arch." >&2
  echo "cross-deps: on a Pi itself, build natively: scripts/deps.sh && scripts/package.sh $host_arch" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
updated=0
apt_update() {
  [ "$updated" = 1 ] && return 0
  updated=1
  # A mirror caught mid-sync fails one index or another; apt then keeps the old one. Carry
  # on: a package that really cannot be had is reported by apt-get install below.
  as_root apt-get update -qq || echo "cross-deps: apt-get update reported errors (see above); trying with the indexes it has" >&2
}

# gcc triple and Rust target of each Debian architecture.
gnu_triple() { case "$1" in arm64) echo aarch64-linux-gnu ;; armhf) echo arm-linux-gnueabihf ;; esac; }
rust_target() { case "$1" in arm64) echo aarch64-unknown-linux-gnu ;; armhf) echo armv7-unknown-linux-gnueabihf ;; esac; }

# Prints `pkg:ARCH=VERSION` (and `pkg=VERSION` for the host when it must move too) for every
# library libsystemd-dev:ARCH pulls in that is also installed for the host. Multiarch
# libraries must have the same version for every architecture, and a mirror does not always
# hold the host's exact version for the foreign one: then the newest version that both
# architectures have, not older than the host's, is chosen (an upgrade of the host library
# within Debian 12).
aligned_versions() {
  local arch=$1 p host_ver v best
  for p in $(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
      --no-breaks --no-replaces --no-enhances "libsystemd-dev:$arch" | grep -v '^ ' | sed 's/:.*//' | sort -u); do
    host_ver=$(dpkg-query -W -f='${Version}' "$p:$host_arch" 2>/dev/null) || continue
    [ -n "$host_ver" ] || continue
    foreign=$(apt-cache madison "$p:$arch" | awk -F'|' '{gsub(/ /, "", $2); print $2}')
    if grep -qxF "$host_ver" <<<"$foreign"; then
      echo "$p:$arch=$host_ver"
      continue
    fi
    best=""
    for v in $foreign; do
      dpkg --compare-versions "$v" ge "$host_ver" || continue
      apt-cache madison "$p:$host_arch" | awk -F'|' '{gsub(/ /, "", $2); print $2}' | grep -qxF "$v" || continue
      if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
    done
    if [ -z "$best" ]; then
      echo "cross-deps: $p is $host_ver on this machine, and no version of $p:$arch at least as new" >&2
      echo "cross-deps: is available for both architectures (apt-cache madison $p:$arch). Upgrade the" >&2
      echo "cross-deps: machine (apt-get upgrade) or wait for the mirror to finish syncing." >&2
      exit 1
    fi
    echo "$p=$best"
    echo "$p:$arch=$best"
  done
}

debs=()
for arch in "${arches[@]}"; do
  triple=$(gnu_triple "$arch")
  installed "gcc-$triple" || debs+=("gcc-$triple")
  installed "libc6-dev-$arch-cross" || debs+=("libc6-dev-$arch-cross")
done
installed pkg-config || debs+=(pkg-config)
[ "$want_qemu" = 1 ] && { installed qemu-user || debs+=(qemu-user); }
if [ "${#debs[@]}" -gt 0 ]; then
  echo "cross-deps: installing ${debs[*]}" >&2
  apt_update
  as_root apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
fi

for arch in "${arches[@]}"; do
  installed "libsystemd-dev:$arch" && continue
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    echo "cross-deps: enabling the $arch architecture (dpkg --add-architecture $arch)" >&2
    as_root dpkg --add-architecture "$arch"
    updated=0
  fi
  apt_update
  pin_list=$(aligned_versions "$arch")
  mapfile -t pins <<<"$pin_list"
  echo "cross-deps: installing libsystemd-dev:$arch (${pins[*]:-})" >&2
  if ! as_root apt-get install -y -qq --no-install-recommends "libsystemd-dev:$arch" "${pins[@]}" >/dev/null; then
    echo "cross-deps: could not install libsystemd-dev:$arch; apt's reasons are above." >&2
    echo "cross-deps: its version must equal this machine's libsystemd-dev ($(dpkg-query -W -f='${Version}' "libsystemd-dev:$host_arch" 2>/dev/null || echo none))." >&2
    exit 1
  fi
done

if command -v rustup >/dev/null 2>&1; then
  have=$(rustup target list --installed)
  for arch in "${arches[@]}"; do
    t=$(rust_target "$arch")
    grep -qx "$t" <<<"$have" || rustup target add "$t"
  done
else
  for arch in "${arches[@]}"; do
    t=$(rust_target "$arch")
    if ! rustc --print sysroot >/dev/null 2>&1 || [ ! -d "$(rustc --print sysroot)/lib/rustlib/$t" ]; then
      echo "cross-deps: the Rust standard library for $t is missing and rustup is not here to add it." >&2
      echo "cross-deps: install rustup, then: rustup target add $t" >&2
      exit 1
    fi
  done
fi

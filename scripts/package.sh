#!/usr/bin/env bash
# Builds logwarden for one Debian architecture and packs it as a .deb (dpkg-deb, from a staged
# tree): amd64 for a server, arm64 for a Raspberry Pi 3/4/5 on a 64-bit OS, armhf for a 32-bit
# Raspberry Pi OS. Cross-builds from an amd64 Debian 12 host, installing what that needs first.
#
#   scripts/package.sh [amd64|arm64|armhf]      (default: this machine's architecture)
#
# Writes target/deb/logwarden_VERSION_ARCH.deb (under $CARGO_TARGET_DIR when that is set) and
# prints its path on the last line of stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

host_arch=$(dpkg --print-architecture)
arch=${1:-$host_arch}
case "$arch" in
  amd64) target=x86_64-unknown-linux-gnu; triple=x86_64-linux-gnu; elf_machine="Advanced Micro Devices X86-64" ;;
  arm64) target=aarch64-unknown-linux-gnu; triple=aarch64-linux-gnu; elf_machine="AArch64" ;;
  armhf) target=armv7-unknown-linux-gnueabihf; triple=arm-linux-gnueabihf; elf_machine="ARM" ;;
  *) echo "package: unknown architecture '$arch'; use amd64, arm64 or armhf" >&2; exit 2 ;;
esac

# --- build ---------------------------------------------------------------------------------
bash scripts/deps.sh
if [ "$arch" != "$host_arch" ]; then
  bash scripts/cross-deps.sh "$arch"
  target_env=$(tr 'a-z-' 'A-Z_' <<<"$target")
  # The linker and C compiler (ring is C and assembly) of the target, and pkg-config reading
  # the target's libsystemd.pc from Debian's multiarch directory, not the host's.
  export "CARGO_TARGET_${target_env}_LINKER=$triple-gcc"
  export "CC_${target//-/_}=$triple-gcc"
  export "AR_${target//-/_}=$triple-ar"
  export PKG_CONFIG_ALLOW_CROSS=1
  export PKG_CONFIG_LIBDIR="/usr/lib/$triple/pkgconfig:/usr/share/pkgconfig"
  strip_cmd="$triple-strip"
else
  strip_cmd=strip
fi

target_dir=${CARGO_TARGET_DIR:-target}
echo "package: building logwarden for $target (cargo build --release --locked)" >&2
cargo build --release --locked --target "$target"
bin="$target_dir/$target/release/logwarden"
[ -x "$bin" ] || { echo "package: cargo did not leave a binary at $bin" >&2; exit 1; }
if ! readelf -h "$bin" | grep -q "Machine: *$elf_machine"; then
  echo "package: $bin is not a $elf_machine binary:" >&2
  readelf -h "$bin" | grep Machine >&2
  exit 1
fi

# --- stage ---------------------------------------------------------------------------------
version=$(awk -F'"' '/^version *=/ { print $2; exit }' Cargo.toml)
out_dir="$target_dir/deb"
stage="$out_dir/logwarden_${version}_$arch"
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$out_dir"
doc="$stage/usr/share/doc/logwarden"

install -D -m 0755 "$bin" "$stage/usr/bin/logwarden"
"$strip_cmd" --strip-unneeded "$stage/usr/bin/logwarden"
install -D -m 0644 systemd/logwarden.service "$stage/lib/systemd/system/logwarden.service"
# Pattern packs are compiled into the binary; these copies are for reading and for copying into
# /etc/logwarden/patterns/ to override a pack (a pack there replaces the shipped one).
for f in patterns/*.toml; do
  install -D -m 0644 "$f" "$stage/usr/share/logwarden/$f"
done
# The example config, as shipped, passes `logwarden check`: it is installed as the conffile
# (dpkg keeps an operator's edits on upgrade) and the service is not started until enabled.
install -D -m 0644 examples/logwarden.toml "$stage/etc/logwarden/logwarden.toml"
install -d -m 0755 "$stage/etc/logwarden/logwarden.d" "$stage/etc/logwarden/patterns"
# The examples whole (drop-in, own pattern pack) and the polkit rule, which must be edited
# (its list of units) and is only for running logwarden as a non-root user: not active here.
(cd examples && find . -type f) | while read -r f; do
  install -D -m 0644 "examples/$f" "$doc/examples/$f"
done
install -D -m 0644 systemd/50-logwarden.rules "$doc/examples/polkit/50-logwarden.rules"
install -D -m 0644 README.md "$doc/README.md"
for f in docs/config.md docs/service.md docs/restart.md; do
  if [ -f "$f" ]; then install -D -m 0644 "$f" "$doc/$(basename "$f")"; fi
done
cat >"$doc/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: logwarden

Files: *
Copyright: 2026 logwarden contributors
License: MIT or Apache-2.0
Comment: The Rust crates linked into /usr/bin/logwarden keep their own licenses (MIT,
 Apache-2.0, ISC, BSD, Unicode-3.0, Zlib); Cargo.lock of the source lists them.

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy of this
 software and associated documentation files (the "Software"), to deal in the Software
 without restriction, including without limitation the rights to use, copy, modify, merge,
 publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
 to whom the Software is furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all copies or
 substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
 INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
 PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
 FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
 OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
 DEALINGS IN THE SOFTWARE.

License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0, is in
 /usr/share/common-licenses/Apache-2.0.
EOF
chmod 0644 "$doc/copyright"
# A native package's changelog: its version and the commit it was built from.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
when=$(git log -1 --format=%cD 2>/dev/null || date -R)
printf 'logwarden (%s) stable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n' \
  "$version" "$commit" "logwarden maintainers <maintainers@users.noreply.github.com>" "$when" |
  gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# --- control files -------------------------------------------------------------------------
# The newest glibc symbol version the binary uses is the libc6 it needs (what dpkg-shlibdeps
# would find); Debian 12 and Raspberry Pi OS bookworm have 2.36.
glibc=$(readelf --dyn-syms -W "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -k3,3n -u | tail -1)
[ -n "$glibc" ] || { echo "package: no glibc symbol versions found in $bin" >&2; exit 1; }
depends="libc6 (>= $glibc)"
if readelf -d "$bin" | grep -q 'NEEDED.*libsystemd\.so'; then depends="$depends, libsystemd0"; fi
if readelf -d "$bin" | grep -q 'NEEDED.*libgcc_s\.so'; then depends="$depends, libgcc-s1"; fi
installed_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)

cat >"$stage/DEBIAN/control" <<EOF
Package: logwarden
Version: $version
Architecture: $arch
Maintainer: logwarden maintainers <maintainers@users.noreply.github.com>
Installed-Size: $installed_kb
Depends: $depends
Section: admin
Priority: optional
Description: watches service logs, alerts, restarts frozen services
 logwarden follows log files and the systemd journal of long-running services
 (trading bots first of all), matches lines against pattern packs, fires rules
 (error bursts, stale logs, missing activity), alerts and restarts frozen
 systemd units. Not started on install: edit /etc/logwarden/logwarden.toml,
 run "logwarden check", then "systemctl enable --now logwarden".
EOF
echo /etc/logwarden/logwarden.toml >"$stage/DEBIAN/conffiles"

cat >"$stage/DEBIAN/postinst" <<'EOF'
#!/bin/sh
# Makes systemd see the unit. Never starts logwarden on a first install (the shipped config
# watches an example bot until it is edited). On an upgrade a running logwarden is restarted
# on the new binary only if its config passes `logwarden check`; otherwise it is left running.
set -e
conf=/etc/logwarden/logwarden.toml
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
  if systemctl is-active --quiet logwarden.service; then
    if /usr/bin/logwarden check --config "$conf" >/dev/null 2>&1; then
      systemctl restart logwarden.service ||
        echo "logwarden: restart on the new version failed; see: journalctl -u logwarden" >&2
    else
      echo "logwarden: $conf does not pass 'logwarden check'; the running logwarden was not restarted." >&2
      echo "logwarden: see the problems with: logwarden check --config $conf" >&2
    fi
  elif ! systemctl is-enabled --quiet logwarden.service 2>/dev/null; then
    echo "logwarden: installed, not started. Edit $conf, run 'logwarden check', then: systemctl enable --now logwarden"
  fi
fi
exit 0
EOF
cat >"$stage/DEBIAN/prerm" <<'EOF'
#!/bin/sh
# Stops logwarden when the package is removed (not on upgrade: postinst restarts it then).
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl stop logwarden.service || true
fi
exit 0
EOF
cat >"$stage/DEBIAN/postrm" <<'EOF'
#!/bin/sh
# On purge, forgets that logwarden was enabled and deletes its state (read positions, restart
# history). The config is removed by dpkg itself.
set -e
if [ "$1" = purge ]; then
  rm -f /etc/systemd/system/multi-user.target.wants/logwarden.service
  rm -rf /var/lib/logwarden
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
exit 0
EOF
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"

deb="$out_dir/logwarden_${version}_$arch.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "package: $deb ($(du -h "$deb" | cut -f1); binary $(stat -c %s "$stage/usr/bin/logwarden") bytes stripped; Depends: $depends)" >&2
echo "$deb"

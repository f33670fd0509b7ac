#!/usr/bin/env bash
# Proves the server and Raspberry Pi packages: packs logwarden for amd64, arm64 and armhf
# (scripts/package.sh), checks every .deb's control data and contents, unpacks it into a
# temporary directory (never into this machine's root) and runs the unpacked binary's
# `--version` and `check` on the packaged config and examples: natively for amd64, under
# qemu-user for arm64 and armhf.
#
#   scripts/cross-smoke.sh [amd64] [arm64] [armhf]     (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."

arches=("$@")
[ "${#arches[@]}" -gt 0 ] || arches=(amd64 arm64 armhf)
start=$SECONDS

fail() { echo "cross-smoke: FAIL: $*" >&2; exit 1; }

foreign=()
for a in "${arches[@]}"; do [ "$a" = amd64 ] || foreign+=("$a"); done
if [ "${#foreign[@]}" -gt 0 ]; then bash scripts/cross-deps.sh --qemu "${foreign[@]}"; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

version=$(awk -F'"' '/^version *=/ { print $2; exit }' Cargo.toml)
# What every package must hold.
required=(
  ./usr/bin/logwarden
  ./lib/systemd/system/logwarden.service
  ./etc/logwarden/logwarden.toml
  ./etc/logwarden/logwarden.d/
  ./etc/logwarden/patterns/
  ./usr/share/logwarden/patterns/python-logging.toml
  ./usr/share/logwarden/patterns/trading.toml
  ./usr/share/doc/logwarden/README.md
  ./usr/share/doc/logwarden/copyright
  ./usr/share/doc/logwarden/examples/logwarden.toml
  ./usr/share/doc/logwarden/examples/logwarden.d/50-local.toml
  ./usr/share/doc/logwarden/examples/patterns/my-bot.toml
  ./usr/share/doc/logwarden/examples/polkit/50-logwarden.rules
)

# Installs, upgrades, removes and purges the host's .deb with dpkg, for real, inside a private
# mount namespace whose root is an overlay of this machine's root: the maintainer scripts run,
# and nothing of it reaches the real root (all writes land in the overlay's upper directory,
# dropped at the end). Also proves that `logwarden check`, with no option, accepts what the
# package installed in /etc.
dpkg_lifecycle() {
  local deb=$1 ov="$tmp/overlay"
  if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null 2>&1; then
    echo "== cross-smoke: dpkg install/remove/purge skipped: needs root and unshare" >&2
    return 0
  fi
  mkdir -p "$ov/upper" "$ov/work" "$ov/root"
  cp "$deb" "$ov/logwarden.deb"
  echo "== cross-smoke: dpkg -i / -r / -P $deb in an overlay of / (private mount namespace)" >&2
  unshare --mount --fork bash -euo pipefail -c '
    ov=$1
    mount --make-rprivate /
    mount -t overlay overlay -o "lowerdir=/,upperdir=$ov/upper,workdir=$ov/work" "$ov/root"
    mount -t proc proc "$ov/root/proc"
    mount --rbind /dev "$ov/root/dev"
    mount -t tmpfs tmpfs "$ov/root/tmp"
    cp "$ov/logwarden.deb" "$ov/root/tmp/"
    chroot "$ov/root" /bin/bash -euo pipefail -c "
      fail() { echo \"cross-smoke: FAIL: dpkg lifecycle: \$*\" >&2; exit 1; }
      dpkg -s logwarden >/dev/null 2>&1 && fail \"logwarden is already installed on this machine\"
      dpkg -i /tmp/logwarden.deb
      [ -x /usr/bin/logwarden ] || fail \"dpkg -i left no /usr/bin/logwarden\"
      logwarden check || fail \"logwarden check (default config) rejected the installed /etc/logwarden/logwarden.toml\"
      echo \"# an operator edit\" >>/etc/logwarden/logwarden.toml
      dpkg -i --force-confold /tmp/logwarden.deb
      grep -q \"an operator edit\" /etc/logwarden/logwarden.toml || fail \"an upgrade lost the edit of the conffile\"
      dpkg -r logwarden
      [ ! -e /usr/bin/logwarden ] || fail \"dpkg -r left /usr/bin/logwarden\"
      [ -f /etc/logwarden/logwarden.toml ] || fail \"dpkg -r removed the config\"
      dpkg -P logwarden
      [ ! -e /etc/logwarden ] || fail \"dpkg -P left /etc/logwarden\"
      echo \"cross-smoke: dpkg install, upgrade (conffile edit kept), remove, purge: ok\"
    "
  ' _ "$ov"
  rm -rf "$ov"
}

summary=()
for arch in "${arches[@]}"; do
  t0=$SECONDS
  echo "== cross-smoke: $arch: package" >&2
  deb=$(bash scripts/package.sh "$arch" | tail -1)
  [ -f "$deb" ] || fail "$arch: scripts/package.sh did not produce a .deb (got '$deb')"

  echo "== cross-smoke: $arch: dpkg-deb -I / -c $deb" >&2
  dpkg-deb -I "$deb" | sed -n '/^ Package:/,$p' >&2
  field() { dpkg-deb -f "$deb" "$1"; }
  [ "$(field Package)" = logwarden ] || fail "$arch: Package is '$(field Package)'"
  [ "$(field Architecture)" = "$arch" ] || fail "$arch: Architecture is '$(field Architecture)'"
  [ "$(field Version)" = "$version" ] || fail "$arch: Version is '$(field Version)', Cargo.toml says $version"
  depends=$(field Depends)
  grep -Eq 'libc6 \(>= 2\.[0-9]+\)' <<<"$depends" || fail "$arch: Depends lacks a versioned libc6: $depends"
  grep -q 'libsystemd0' <<<"$depends" || fail "$arch: Depends lacks libsystemd0: $depends"
  dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/logwarden/logwarden.toml ||
    fail "$arch: /etc/logwarden/logwarden.toml is not a conffile"
  contents=$(dpkg-deb -c "$deb" | awk '{ print $NF }')
  for p in "${required[@]}"; do
    grep -qxF "$p" <<<"$contents" || fail "$arch: $deb does not contain $p"
  done
  mode=$(dpkg-deb -c "$deb" | awk '$NF == "./usr/bin/logwarden" { print $1 " " $2 }')
  [ "$mode" = "-rwxr-xr-x root/root" ] || fail "$arch: /usr/bin/logwarden is '$mode', expected -rwxr-xr-x root/root"
  for s in postinst prerm postrm; do
    dpkg-deb --ctrl-tarfile "$deb" | tar -xO "./$s" | sh -n || fail "$arch: $s is not valid sh"
  done

  if [ "$arch" = "$(dpkg --print-architecture)" ]; then
    # What `apt install ./logwarden_*.deb` would do here, simulated: its Depends resolve.
    echo "== cross-smoke: $arch: apt-get install --simulate $deb" >&2
    sim=$(apt-get install --simulate "$(realpath "$deb")" 2>&1) || { echo "$sim" >&2; fail "$arch: apt cannot install $deb"; }
    grep -q '^Inst logwarden ' <<<"$sim" || { echo "$sim" >&2; fail "$arch: apt would not install logwarden from $deb"; }
    dpkg_lifecycle "$deb"
  fi

  root="$tmp/$arch"
  dpkg-deb -x "$deb" "$root"
  bin="$root/usr/bin/logwarden"
  case "$arch" in
    amd64) run=() ;;
    arm64) run=(qemu-aarch64 -L /usr/aarch64-linux-gnu) ;;
    armhf) run=(qemu-arm -L /usr/arm-linux-gnueabihf) ;;
  esac
  echo "== cross-smoke: $arch: ${run[*]:-(native)} logwarden --version" >&2
  out=$("${run[@]}" "$bin" --version) || fail "$arch: --version exited $?"
  echo "$out"
  [ "$out" = "logwarden $version" ] || fail "$arch: --version printed '$out', expected 'logwarden $version'"
  # The packaged config as installed in /etc, and the examples whole (drop-in, own pack).
  for conf in etc/logwarden/logwarden.toml usr/share/doc/logwarden/examples/logwarden.toml; do
    echo "== cross-smoke: $arch: logwarden check --config /$conf" >&2
    if ! out=$("${run[@]}" "$bin" check --config "$root/$conf" 2>&1); then
      echo "$out" >&2
      fail "$arch: logwarden check rejected the packaged /$conf"
    fi
    echo "$out" | sed "s|$root||g"
  done
  # A misspelt key must be refused with its position, on this architecture too.
  bad="$tmp/bad-$arch.toml"
  sed 's/^\( *\)threshold = 10$/\1treshold = 10/' "$root/etc/logwarden/logwarden.toml" >"$bad"
  grep -q 'treshold = 10' "$bad" || fail "$arch: could not make a broken config from the packaged one"
  echo "== cross-smoke: $arch: logwarden check on a config with a misspelt key (must fail)" >&2
  if out=$("${run[@]}" "$bin" check --config "$bad" 2>&1); then
    fail "$arch: logwarden check accepted a config with 'treshold'"
  fi
  grep -q "bad-$arch.toml:[0-9]*:[0-9]*:" <<<"$out" || { echo "$out" >&2; fail "$arch: the error has no file:line:column"; }
  echo "$out" | sed "s|$tmp/||g" | head -3

  size_bin=$(stat -c %s "$bin")
  size_deb=$(stat -c %s "$deb")
  summary+=("$(printf '%-6s binary %9s bytes (%s)  .deb %9s bytes  Depends: %s  [%ss]' \
    "$arch" "$size_bin" "$(numfmt --to=iec "$size_bin")" "$size_deb" "$depends" "$((SECONDS - t0))")")
done

echo "== cross-smoke: summary (stripped binaries, .deb files in ${CARGO_TARGET_DIR:-target}/deb/)"
printf '%s\n' "${summary[@]}"
echo "cross-smoke: took $((SECONDS - start))s"
echo "cross-smoke: ${#arches[@]} passed, 0 failed"

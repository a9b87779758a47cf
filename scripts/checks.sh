# shellcheck shell=bash
# Sourced by the package tests (scripts/check-ipk, check-apk, check-feed) after scripts/lib.sh:
# how a check passes or fails, what lango's package must contain, and stand-ins for the
# dependencies a router's own feeds would provide. Not run.

failures=0
fail() {
  printf '  FAIL %s\n' "$*" >&2
  failures=$((failures + 1))
}
check() { # DESCRIPTION EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then
    printf '  ok   %s\n' "$1"
  else
    fail "$1"
    diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/         /' >&2 || true
  fi
}
# Ends a test: exit 1 when a check failed.
checks_done() {
  if [ "$failures" -gt 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
  fi
  echo "${1:-all checks pass}"
}

# OpenWrt package architectures lango is built for, and the ELF machine each one must contain.
expected_machine() {
  case $1 in
    x86_64) echo "X86-64/LSB" ;;
    aarch64_*) echo "AArch64/LSB" ;;
    arm_*) echo "ARM/LSB" ;;
    mipsel_*) echo "MIPS R3000/LSB" ;;
    mips_*) echo "MIPS R3000/MSB" ;;
    *) return 1 ;;
  esac
}

# check_binary ARCH FILE: the binary is for ARCH's CPU and static.
check_binary() {
  local machine
  machine=$(readelf -h "$2" | awk -F: '/Machine/ {gsub(/^ +/, "", $2); m = $2}
    /Data/ {d = ($2 ~ /little/) ? "LSB" : "MSB"} END {print m "/" d}')
  check "binary CPU for $1" "$(expected_machine "$1" || echo "?")" \
    "${machine/Advanced Micro Devices X86-64/X86-64}"
  check "binary is static (no interpreter)" "" "$(readelf -l "$2" | grep INTERP || true)"
}

# lango's files: path mode, for every entry of the package (directories end in /).
LANGO_FILES="./ 0755
./etc/ 0755
./etc/config/ 0755
./etc/config/lango 0600
./etc/init.d/ 0755
./etc/init.d/lango 0755
./etc/uci-defaults/ 0755
./etc/uci-defaults/90_lango 0755
./lib/ 0755
./lib/upgrade/ 0755
./lib/upgrade/keep.d/ 0755
./lib/upgrade/keep.d/lango 0644
./usr/ 0755
./usr/sbin/ 0755
./usr/sbin/lango 0755
./usr/share/ 0755
./usr/share/lango/ 0755
./usr/share/lango/fw-hook.sh 0755
./usr/share/lango/guest-network.sh 0755
./usr/share/rpcd/ 0755
./usr/share/rpcd/acl.d/ 0755
./usr/share/rpcd/acl.d/lango.json 0644"

# lango's dependencies, as the .ipk's Depends field says them.
LANGO_DEPENDS="nftables-json, kmod-nft-nat, ip, ca-bundle, conntrack"

# tree_modes DIR: "path mode" for every entry under DIR, as in LANGO_FILES.
tree_modes() {
  (cd "$1" && find . -printf '%p %m %y\n') |
    awk '{p = $1; if ($3 == "d") p = (p == "." ? "./" : p "/"); printf "%s %04d\n", p, $2}' |
    LC_ALL=C sort
}

# stub_packages FORMAT ARCH OUTDIR: an empty package (FORMAT ipk or apk, version 1-r1) for each of
# lango's dependencies, so that opkg and apk can resolve them offline as a router's own feeds
# would. Prints their paths.
stub_packages() {
  local format=$1 arch=$2 out=$3 dep spec
  for dep in ${LANGO_DEPENDS//,/}; do
    spec=$(mktemp -d)
    mkdir -p "$spec/root"
    printf 'Package: %s\nVersion: 1-r1\nLicense: none\nSourceDateEpoch: 0\nArchitecture: %s\n' \
      "$dep" "$arch" >"$spec/control"
    echo "stand-in for $dep" >"$spec/description"
    "scripts/mk$format" --spec "$spec" "$out"
    rm -rf "$spec"
  done
}

# openwrt_base ROOT: the parts of base-files a package's scripts use, from the kit (OpenWrt's own
# /lib/functions.sh, /lib/functions/*.sh, /etc/rc.common, jshn.sh), and /etc/rc.d and /var/lock,
# so that install scripts run in an offline ROOT (IPKG_INSTROOT=ROOT) as in an image build.
openwrt_base() {
  local root=$1 base
  base=$(kit_dir)/share/openwrt-root
  mkdir -p "$root/lib/functions" "$root/etc/rc.d" "$root/usr/share/libubox" "$root/var/lock"
  cp "$base/lib/functions.sh" "$root/lib/"
  cp "$base/lib/functions/"*.sh "$root/lib/functions/"
  cp "$base/etc/rc.common" "$root/etc/"
  cp "$base/usr/share/libubox/jshn.sh" "$root/usr/share/libubox/"
}

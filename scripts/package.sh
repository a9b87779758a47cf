# shellcheck shell=bash
# Sourced by scripts/mkipk and scripts/mkapk (after scripts/lib.sh): the package SPEC both
# formats are made from, and lango's own SPEC. Not run.
#
# A SPEC is a directory:
#   root/          the files, at their router paths, with their final modes (owners become root)
#   control        the ipk control fields up to Architecture, one "Name: value" a line, in
#                  package-pack.mk's order: Package, Version, Depends ("a, b"), SourceName,
#                  License, Section, SourceDateEpoch, URL, Maintainer, Architecture (an OpenWrt
#                  architecture, or `all` for a package without binaries, such as a LuCI app)
#   description    the description text (any number of lines)
#   conffiles      optional: the files an upgrade keeps when edited, one absolute path a line
#   postinst-pkg   optional: the package's own post-install step (OpenWrt's Package/X/postinst)
#   prerm-pkg      optional: its own removal step (Package/X/prerm)
# `scripts/mkipk --spec SPEC OUTDIR` and `scripts/mkapk --spec SPEC OUTDIR` package any SPEC, so
# a second package (luci-app-lango, architecture `all`) needs only its SPEC.

# spec_field SPEC NAME: the value of control field NAME.
spec_field() { sed -n "s/^$2: //p" "$1/control"; }

# The body of `define NAME` ... `endef` in openwrt/Makefile, with make's $$ turned back into $.
make_define() {
  awk -v name="$1" '$0 == "define " name { on = 1; next } on && $0 == "endef" { exit } on' \
    openwrt/Makefile | sed 's/\$\$/$/g'
}

# lango_spec SPEC ARCH BINARY: lango's SPEC for ARCH. Release, dependencies, description,
# conffiles and the removal script come from openwrt/Makefile, so the SDK's package and ours say
# the same; the version is Cargo.toml's.
lango_spec() {
  local spec=$1 arch=$2 binary=$3 root=$1/root epoch version license maintainer section url
  local depends description path prerm_pkg
  epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
  version=$(package_version)
  license=$(sed -n 's/^PKG_LICENSE:=//p' openwrt/Makefile)
  maintainer=$(sed -n 's/^PKG_MAINTAINER:=//p' openwrt/Makefile)
  section=$(make_define Package/lango | sed -n 's/^ *SECTION:=//p')
  url=$(make_define Package/lango | sed -n 's/^ *URL:=//p')
  # "+nftables-json +kmod-nft-nat +ip" -> "nftables-json, kmod-nft-nat, ip". $(RUST_ARCH_DEPENDS)
  # only hides the package on architectures without Rust; it is not a package dependency. The
  # SDK adds libc; this binary is static and needs none.
  depends=$(make_define Package/lango | sed -n 's/^ *DEPENDS:=//p' | tr ' ' '\n' |
    sed -n 's/^+//p' | paste -sd, - | sed 's/,/, /g')
  description=$(make_define Package/lango/description)
  if [ -z "$license" ] || [ -z "$section" ] || [ -z "$depends" ] || [ -z "$description" ]; then
    die "cannot read the package metadata from openwrt/Makefile"
  fi
  mkdir -p "$root"

  # The files, as openwrt/Makefile's Package/lango/install puts them (INSTALL_BIN 0755,
  # INSTALL_CONF 0600, INSTALL_DATA 0644). The config holds M-Pesa secrets, hence 0600.
  put() { # MODE SOURCE DEST
    install -D -m "$1" "$2" "$root$3"
  }
  put 0755 "$binary" /usr/sbin/lango
  put 0755 files/etc/init.d/lango /etc/init.d/lango
  put 0600 files/etc/config/lango /etc/config/lango
  put 0755 files/etc/uci-defaults/90_lango /etc/uci-defaults/90_lango
  put 0755 files/usr/share/lango/fw-hook.sh /usr/share/lango/fw-hook.sh
  put 0755 files/usr/share/lango/guest-network.sh /usr/share/lango/guest-network.sh
  put 0644 files/usr/share/rpcd/acl.d/lango.json /usr/share/rpcd/acl.d/lango.json
  put 0644 files/lib/upgrade/keep.d/lango /lib/upgrade/keep.d/lango
  find "$root" -type d -exec chmod 0755 {} +

  # conffiles: the Makefile's list, kept to the regular files the package ships (as ipkg-build
  # does). A listed directory would instead go to /lib/upgrade/keep.d (package-pack.mk); lango
  # ships its keep.d file itself.
  while read -r path; do
    [ -n "$path" ] || continue
    if [ -f "$root$path" ]; then
      printf '%s\n' "$path"
    else
      die "conffile $path is not a file in the package; list it in files/lib/upgrade/keep.d/lango"
    fi
  done < <(make_define Package/lango/conffiles) | LC_ALL=C sort >"$spec/conffiles"

  # Package/lango/prerm becomes prerm-pkg: default_prerm runs it (ipk), or it follows
  # default_prerm in pre-deinstall (apk).
  prerm_pkg=$(make_define Package/lango/prerm)
  [ -z "$prerm_pkg" ] || printf '%s\n' "$prerm_pkg" >"$spec/prerm-pkg"

  {
    printf 'Package: lango\n'
    printf 'Version: %s\n' "$version"
    printf 'Depends: %s\n' "$depends"
    printf 'SourceName: lango\n'
    printf 'License: %s\n' "$license"
    printf 'Section: %s\n' "$section"
    printf 'SourceDateEpoch: %s\n' "$epoch"
    [ -z "$url" ] || printf 'URL: %s\n' "$url"
    [ -z "$maintainer" ] || printf 'Maintainer: %s\n' "$maintainer"
    printf 'Architecture: %s\n' "$arch"
  } >"$spec/control"
  printf '%s\n' "$description" >"$spec/description"
}

# spec_args USAGE ARG...: for `--spec SPEC OUTDIR`, sets $spec and $outdir; for
# `ARCH [BINARY [OUTDIR]]` builds lango's SPEC for ARCH into $work/spec (the caller makes $work).
spec_args() {
  local usage=$1 arch binary
  shift
  if [ "${1:-}" = --spec ]; then
    [ $# -eq 3 ] || die "$usage"
    spec=$2
    outdir=$3
    [ -f "$spec/control" ] && [ -d "$spec/root" ] || die "$spec is not a package SPEC (scripts/package.sh)"
  else
    { [ $# -ge 1 ] && [ $# -le 3 ]; } || die "$usage"
    arch=$(target_field "$1" 1) || die "unknown architecture '$1'"
    binary=${2:-$LANGO_ARTIFACTS/$arch/lango}
    outdir=${3:-$LANGO_ARTIFACTS/$arch}
    [ -f "$binary" ] || die "no binary at $binary (scripts/build $arch)"
    spec=$work/spec
    lango_spec "$spec" "$arch" "$binary"
  fi
  mkdir -p "$outdir"
}

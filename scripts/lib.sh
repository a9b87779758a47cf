# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this
# Shared by the scripts in scripts/: the five router targets, the pinned tools, helpers.
# Sourced, not run. Paths are relative to the repository root (every script cd's there first).

# The router targets, one per line:
#   OpenWrt package architecture | Rust target | qemu-user runner | size ceiling (bytes)
# The ceiling is what CI enforces on the stripped binary: a build that grows past it fails, so
# growth is a decision (raise the number in the same commit, with the reason), never a surprise.
# aarch64 and the two MIPS targets carry the goals of issue 7 for lango with every feature in
# (2.0 MB and 2.4 MB) as their ceilings; x86_64 and ARMv7 have their measured size plus about 3%.
# Sizes and the history of each lever: docs/size.md.
LANGO_TARGETS="
x86_64                   x86_64-unknown-linux-musl       -                   2940000
aarch64_cortex-a53       aarch64-unknown-linux-musl      qemu-aarch64-static 2000000
arm_cortex-a7_neon-vfpv4 armv7-unknown-linux-musleabihf  qemu-arm-static     1780000
mipsel_24kc              mipsel-unknown-linux-musl       qemu-mipsel-static  2400000
mips_24kc                mips-unknown-linux-musl         qemu-mips-static    2400000
"

# Pinned tools. The nightly is the one toolchain.md tested (rustc 1.97.0-nightly e50aa6fba
# 2026-05-19); zig links the musl targets and builds their libc, as toolchain.md §4 shows.
LANGO_NIGHTLY=nightly-2026-05-20
LANGO_ZIGLANG_VERSION=0.17.1
LANGO_CARGO_ZIGBUILD_VERSION=0.24.0

# Where the zig venv and zig's cache live (under target/: `cargo clean` removes them).
LANGO_TOOLS_DIR=${LANGO_TOOLS_DIR:-target/tools}
export ZIG_GLOBAL_CACHE_DIR=${ZIG_GLOBAL_CACHE_DIR:-$PWD/target/zig-cache}

# Where built binaries and packages go, one directory per OpenWrt architecture.
LANGO_ARTIFACTS=${LANGO_ARTIFACTS:-artifacts}

die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# target_field KEY COLUMN: the COLUMN (1-4) of the target line whose OpenWrt architecture or
# Rust target is KEY. Fails for an unknown KEY.
target_field() {
  local key=$1 col=$2 line
  while read -r arch triple runner ceiling; do
    [ -n "$arch" ] || continue
    if [ "$key" = "$arch" ] || [ "$key" = "$triple" ]; then
      line=("$arch" "$triple" "$runner" "$ceiling")
      printf '%s\n' "${line[$((col - 1))]}"
      return 0
    fi
  done <<<"$LANGO_TARGETS"
  return 1
}

# all_arches: the OpenWrt architectures, in table order.
all_arches() {
  while read -r arch _; do
    [ -n "$arch" ] && printf '%s\n' "$arch"
  done <<<"$LANGO_TARGETS"
}

# resolve_arches ARG...: OpenWrt architectures for arguments that are "all", architectures or
# Rust targets.
resolve_arches() {
  local a
  [ $# -gt 0 ] || set -- all
  for a in "$@"; do
    if [ "$a" = all ]; then
      all_arches
    else
      target_field "$a" 1 || die "unknown target '$a' (one of: $(all_arches | tr '\n' ' ')or a Rust target)"
    fi
  done
}

# Puts the zig venv (zig and cargo-zigbuild) on PATH.
use_zig() {
  local venv=$LANGO_TOOLS_DIR/zig-venv
  [ -x "$venv/bin/cargo-zigbuild" ] || die "no cargo-zigbuild in $venv: run scripts/setup-cross first"
  PATH="$PWD/$venv/bin:$PATH"
  export PATH
}

# llvm_tool NAME: the path of an LLVM tool (objcopy, nm) from the pinned nightly's llvm-tools
# component (scripts/setup-cross installs it); it reads every router architecture.
llvm_tool() {
  local tool
  tool="$(rustup run "$LANGO_NIGHTLY" rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin/llvm-$1"
  [ -x "$tool" ] || die "no llvm-$1 in the $LANGO_NIGHTLY toolchain: run scripts/setup-cross"
  printf '%s\n' "$tool"
}

# Version of the package: Cargo.toml's version and openwrt/Makefile's PKG_RELEASE, as OpenWrt
# renders them since 24.10 ("0.1.0-r1").
package_version() {
  local version release
  version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
  release=$(sed -n 's/^PKG_RELEASE:=\([0-9][0-9]*\)$/\1/p' openwrt/Makefile)
  if [ -z "$version" ] || [ -z "$release" ]; then
    die "cannot read the version (Cargo.toml) or PKG_RELEASE (openwrt/Makefile)"
  fi
  printf '%s-r%s\n' "$version" "$release"
}

# built_packages: every .ipk and .apk under artifacts/ (ARCH/ and all/), sorted.
built_packages() {
  find "$LANGO_ARTIFACTS" -mindepth 2 -maxdepth 2 \( -name '*.ipk' -o -name '*.apk' \) |
    LC_ALL=C sort
}

# The OpenWrt kit (the real apk, opkg, usign ...): built by scripts/openwrt-kit into
# target/openwrt-kit, or another build named by LANGO_OPENWRT_KIT (as tests/it/uci.rs reads it).
kit_dir() { printf '%s\n' "${LANGO_OPENWRT_KIT:-$PWD/target/openwrt-kit}"; }

# kit_tool NAME: the path of the kit's tool NAME; fails when the kit has none.
kit_tool() {
  local tool
  tool="$(kit_dir)/bin/$1"
  [ -x "$tool" ] || return 1
  printf '%s\n' "$tool"
}

# need_kit TOOL...: for the package tests. Without the kit's TOOLs the test skips with a message
# (exit 0), as the lab tests do without root; under LANGO_REQUIRE_ALL_TESTS that is a failure.
need_kit() {
  local tool
  for tool in "$@"; do
    kit_tool "$tool" >/dev/null && continue
    if [ -n "${LANGO_REQUIRE_ALL_TESTS:-}" ]; then
      die "no $tool in $(kit_dir)/bin (scripts/openwrt-kit), and LANGO_REQUIRE_ALL_TESTS is set"
    fi
    echo "${0##*/}: SKIPPED: no $tool in $(kit_dir)/bin (build the kit: scripts/openwrt-kit)" >&2
    exit 0
  done
}

#!/usr/bin/env bash
# Builds isola's guest kernel and copies its bzImage to OUT_PATH.
#
#   scripts/build-kernel.sh OUT_PATH
#
# The kernel is Debian's linux-source-6.1 configured with `make allnoconfig` plus the
# fragment vm/kernel/isola.config (everything the guest needs built in, no modules), with
# the patches vm/kernel/patches/*.patch applied (each says why).
# Building takes ~5 minutes on 2 cores, so the result is cached outside the clone under
#   ${ISOLA_KERNEL_CACHE:-/var/cache/isola/kernel}/<key>/bzImage
# where <key> is the sha256 of the fragment, the patches, the source package version and RECIPE below;
# a second call with the same inputs is instant.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_PATH" >&2
  exit 2
fi
OUT=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FRAGMENT=$ROOT/vm/kernel/isola.config
PATCHES=$ROOT/vm/kernel/patches
CACHE=${ISOLA_KERNEL_CACHE:-/var/cache/isola/kernel}
SRC_PKG=linux-source-6.1
TARBALL=/usr/src/linux-source-6.1.tar.xz
# Bump when the way the kernel is built changes (not the fragment), to invalidate old entries.
RECIPE=1

log() { echo "build-kernel: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ -f "$FRAGMENT" ] || die "missing Kconfig fragment $FRAGMENT"

# --- build dependencies -------------------------------------------------------------
# gcc/make/libc6-dev compile; bc, bison, flex run during the build; libelf-dev is for objtool
# (x86_64's ORC unwinder); lz4 compresses the bzImage (CONFIG_KERNEL_LZ4); xz-utils
# unpacks the source tarball. apt-get update only runs when something is missing.
PKGS="$SRC_PKG gcc make libc6-dev bc bison flex libelf-dev lz4 xz-utils patch"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  log "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
[ -f "$TARBALL" ] || die "$TARBALL not found after installing $SRC_PKG"

# --- cache key --------------------------------------------------------------------------
SRC_VERSION=$(dpkg-query -W -f='${Version}' "$SRC_PKG")
# (the patches' names and contents, in the order they are applied)
KEY=$( { cat "$FRAGMENT"; for p in "$PATCHES"/*.patch; do [ -f "$p" ] && { echo "patch ${p##*/}"; cat "$p"; }; done
         echo "$SRC_PKG=$SRC_VERSION"; echo "recipe=$RECIPE"; } \
       | sha256sum | cut -c1-64)
ENTRY=$CACHE/$KEY

# Copies the cached bzImage to OUT via a temp file + rename, so OUT is never half-written.
install_out() {
  local tmp
  mkdir -p "$(dirname "$OUT")"
  tmp=$(mktemp "$OUT.tmp.XXXXXX")
  cp "$ENTRY/bzImage" "$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$OUT"
}

# Fast path: entries are only ever created complete (see the rename below).
if [ -f "$ENTRY/bzImage" ]; then
  install_out
  exit 0
fi

mkdir -p "$CACHE"
# Serialize builds of the same key: a concurrent caller waits here and then finds the
# entry made by the first one. The lock dies with its holder, so a killed build frees it.
exec 9>"$CACHE/$KEY.lock"
flock 9
if [ -f "$ENTRY/bzImage" ]; then
  install_out
  exit 0
fi

# Temp dirs are named after the building pid; remove those whose builder was killed.
for d in "$CACHE"/work.* "$CACHE"/stage.*; do
  [ -d "$d" ] || continue
  pid=${d##*/}; pid=${pid#*.}; pid=${pid%%.*}
  kill -0 "$pid" 2>/dev/null || rm -rf "$d"
done

# Everything is built under a temp dir inside $CACHE (same filesystem, so the final
# rename is atomic) and removed on exit, whether the build succeeded or not.
WORK=$(mktemp -d "$CACHE/work.$$.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/src
mkdir "$SRC"

start=$(date +%s)
log "building guest kernel $SRC_PKG $SRC_VERSION (key ${KEY:0:12}, ~5 min on 2 cores)"
tar -xJf "$TARBALL" -C "$SRC" --strip-components=1
for p in "$PATCHES"/*.patch; do
  [ -f "$p" ] || continue
  patch -s -p1 -d "$SRC" <"$p" || die "patch ${p##*/} does not apply to $SRC_PKG $SRC_VERSION"
done

# Fixed build identity so that the same inputs give the same bzImage.
export KBUILD_BUILD_USER=isola KBUILD_BUILD_HOST=isola
# (the timestamp must be a date: usr/gen_initramfs.sh parses it; the tarball's comes from the package)
KBUILD_BUILD_TIMESTAMP=$(date -u -R -r "$TARBALL")
export KBUILD_BUILD_TIMESTAMP
MAKE=(make -C "$SRC" -s ARCH=x86_64 "-j$(nproc)")

# Runs make with its output in a log; on failure shows the end of the log (the errors).
run_make() {
  if ! "${MAKE[@]}" "$@" >"$WORK/make.log" 2>&1; then
    tail -n 60 "$WORK/make.log" >&2
    die "make $* failed"
  fi
}

# allnoconfig turns off every option the fragment does not force on.
run_make allnoconfig KCONFIG_ALLCONFIG="$FRAGMENT"

# Kconfig silently drops options whose dependencies are unmet: check every assignment of
# the fragment made it into .config, naming the ones that did not.
lost=""
while IFS= read -r line; do
  case $line in CONFIG_*=*) ;; *) continue ;; esac
  grep -qxF "$line" "$SRC/.config" || lost="$lost ${line%%=*}"
done <"$FRAGMENT"
[ -z "$lost" ] || die "options of $FRAGMENT missing from the resulting .config (unmet dependencies?):$lost"

run_make bzImage

# Publish: fill a temp dir, then rename it to the entry name. rename(2) of a directory
# fails if a non-empty entry already exists, so a racing build can never clobber one.
STAGE=$(mktemp -d "$CACHE/stage.$$.XXXXXX")
trap 'rm -rf "$WORK" "$STAGE"' EXIT
cp "$SRC/arch/x86/boot/bzImage" "$STAGE/bzImage"
cp "$SRC/.config" "$STAGE/config"
chmod 755 "$STAGE"
mv -T "$STAGE" "$ENTRY" 2>/dev/null || [ -f "$ENTRY/bzImage" ] || die "could not publish $ENTRY"
log "built $(stat -c %s "$ENTRY/bzImage") byte bzImage in $(($(date +%s) - start)) s: $ENTRY/bzImage"
install_out

#!/usr/bin/env bash
# Makes the initramfs of isola's guest VMs: a newc cpio with INIT_BINARY as /init.
#
#   scripts/mkinitramfs.sh OUT_PATH INIT_BINARY [EXTRA_FILE[:/PATH/IN/IMAGE]...]
#
# Each EXTRA_FILE is copied to /PATH/IN/IMAGE (default: /its-basename).
# The image also holds the empty directories /dev /proc /sys /mnt and the /dev/console
# node: the kernel opens /dev/console for init's stdin/stdout/stderr before /init runs,
# i.e. before init could mount devtmpfs, so the node must be in the archive.
# ISOLA_INITRAMFS_COMPRESS=none|gzip (default none: for a ~0.8 MB archive both boot equally
# fast under TCG, see vm/kernel/NOTES.md, and none skips the gzip step).
# The output is reproducible (fixed owners, times and order) and written atomically.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 OUT_PATH INIT_BINARY [EXTRA_FILE[:/PATH/IN/IMAGE]...]" >&2
  exit 2
fi
OUT=$1
INIT=$2
shift 2
COMPRESS=${ISOLA_INITRAMFS_COMPRESS:-none}

die() { echo "mkinitramfs: error: $*" >&2; exit 1; }
[ -f "$INIT" ] || die "init binary $INIT not found"
case $COMPRESS in none|gzip) ;; *) die "ISOLA_INITRAMFS_COMPRESS must be none or gzip" ;; esac
command -v cpio >/dev/null || die "cpio is not installed (apt-get install cpio)"
# A device node can only be created (and so packed by cpio) by root.
[ "$(id -u)" = 0 ] || die "must run as root (mknod /dev/console)"

OUT_DIR=$(dirname "$OUT")
mkdir -p "$OUT_DIR"
ROOT=$(mktemp -d)
TMP_OUT=$(mktemp "$OUT.tmp.XXXXXX")
trap 'rm -rf "$ROOT" "$TMP_OUT" "$TMP_OUT.cpio"' EXIT

mkdir -m 755 "$ROOT/dev" "$ROOT/proc" "$ROOT/sys" "$ROOT/mnt"
mknod -m 600 "$ROOT/dev/console" c 5 1
install -m 755 "$INIT" "$ROOT/init"
for spec in "$@"; do
  src=${spec%%:*}
  dest=/$(basename "$src")
  [ "$spec" = "$src" ] || dest=${spec#*:}
  case $dest in /*) ;; *) die "image path of $src must be absolute: $dest" ;; esac
  [ -f "$src" ] || die "extra file $src not found"
  mkdir -p "$ROOT$(dirname "$dest")"
  cp -p "$src" "$ROOT$dest"
done

if [ -n "${ISOLA_INITRAMFS_MODULES:-}" ]; then
  read -r kver mods <<<"$ISOLA_INITRAMFS_MODULES"
  [ -d "/lib/modules/$kver" ] || die "no modules for kernel $kver in /lib/modules"
  command -v modprobe >/dev/null || die "modprobe (kmod) is not installed"
  mkdir -p "$ROOT/lib/modules"
  : >"$ROOT/lib/modules/load.order"
  # modprobe prints each module after its dependencies; a module shared by several appears once.
  for m in $mods; do
    modprobe -S "$kver" --show-depends "$m" || die "no module $m for kernel $kver"
  done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r ko; do
    cp "$ko" "$ROOT/lib/modules/"
    echo "/lib/modules/$(basename "$ko")" >>"$ROOT/lib/modules/load.order"
  done
fi

# Fixed timestamps and a sorted file list make the archive byte-for-byte reproducible.
find "$ROOT" -exec touch -h -d @0 {} +
(
  cd "$ROOT"
  find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
    cpio --quiet -o -H newc --owner=0:0 --reproducible
) >"$TMP_OUT.cpio"
if [ "$COMPRESS" = gzip ]; then
  gzip -n -9 <"$TMP_OUT.cpio" >"$TMP_OUT"
  rm -f "$TMP_OUT.cpio"
else
  mv -f "$TMP_OUT.cpio" "$TMP_OUT"
fi
chmod 644 "$TMP_OUT"
mv -f "$TMP_OUT" "$OUT"

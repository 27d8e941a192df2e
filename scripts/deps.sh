#!/bin/sh
# Installs the Debian packages isola needs to build and test; quiet and quick when all are present.
# The -dev packages after libseccomp-dev hold the static libraries of libarchive's dependencies (static release
# binaries, see the Makefile).
set -e
PKGS="make gcc clang libclang-rt-14-dev pkg-config libarchive-dev libjansson-dev libssl-dev bats busybox-static
python3 jq bc tar crun runc gzip zstd xz-utils util-linux procps skopeo podman libseccomp-dev
libacl1-dev liblzma-dev libzstd-dev liblz4-dev libbz2-dev zlib1g-dev nettle-dev libb2-dev
qemu-system-x86 erofs-utils e2fsprogs cpio kmod linux-image-cloud-amd64 libcap2-bin"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

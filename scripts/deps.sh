#!/bin/sh
# Installs the Debian packages isola needs to build and test; quiet and quick when all are present.
# The -dev packages after libseccomp-dev hold the static libraries of libarchive's dependencies (static release
# binaries, see the Makefile).
set -e
PKGS="make gcc clang libclang-rt-14-dev pkg-config libarchive-dev libjansson-dev libssl-dev bats busybox-static
python3 jq bc tar crun runc gzip zstd xz-utils util-linux procps skopeo podman libseccomp-dev
libacl1-dev liblzma-dev libzstd-dev liblz4-dev libbz2-dev zlib1g-dev nettle-dev libb2-dev
qemu-system-x86 erofs-utils e2fsprogs cpio kmod linux-image-cloud-amd64 libcap2-bin docker.io
libnl-3-dev libnl-route-3-dev aardvark-dns containernetworking-plugins iptables iproute2 libmicrohttpd-dev
libcurl4-openssl-dev docker-registry apache2-utils openssl curl buildah iperf3 python3-docker docker-compose"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# docker.io is the reference of tests/compat, whose runs start a dockerd of their own (private socket and data root):
# installing it must neither start nor enable the system-wide dockerd and containerd.  A policy-rc.d that refuses
# keeps invoke-rc.d and deb-systemd-invoke from starting them; systemctl disable undoes the enabling.
policy=/usr/sbin/policy-rc.d
made_policy=
docker_new=
# docker-registry (the distribution server pull.bats and bench/pull.sh start on a free port of their own) likewise: its
# package would start a system-wide registry on port 5000; iperf3's (bench/iperf.sh) a server on port 5201.
case " $missing " in *" docker.io "* | *" docker-registry "* | *" iperf3 "*) docker_new=1 ;; esac
if [ -n "$docker_new" ] && [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  made_policy=1
  trap 'rm -f "$policy"' EXIT
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
if [ -n "$docker_new" ] && command -v systemctl >/dev/null; then
  systemctl disable docker.service docker.socket containerd.service docker-registry.service iperf3.service \
    >/dev/null 2>&1 || true
fi
[ -z "$made_policy" ] || rm -f "$policy"

#!/bin/sh
# Builds the default image, busybox:latest, from Debian's busybox-static: a root filesystem with the usual applet
# links, /etc/passwd and /etc/group, imported and saved as an OCI archive by isola itself.
#   usage: scripts/mkbusybox.sh ISOLA_BINARY OUTPUT.tar
set -eu
isola=$(readlink -f "$1")
out=$2
bb=/bin/busybox
if ! [ -x "$bb" ] || ldd "$bb" >/dev/null 2>&1; then
  echo "mkbusybox: $bb must be the static busybox from Debian's busybox-static" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
rootfs=$tmp/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/root" "$rootfs/home" "$rootfs/var/spool/mail" "$rootfs/var/www" \
  "$rootfs/usr/bin" "$rootfs/usr/sbin" "$rootfs/sbin" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
install -d -m 1777 "$rootfs/tmp"
install -m 0755 "$bb" "$rootfs/bin/busybox"
# Relative links: an absolute /bin/busybox link would point at the host's busybox when followed from outside.
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
done
cat > "$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:100:65534:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat > "$rootfs/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
mail:x:8:
www-data:x:33:
operator:x:37:
users:x:100:
nogroup:x:65534:
GROUP
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"

root=$tmp/store
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$rootfs" -cf "$tmp/rootfs.tar" .
"$isola" --root "$root" import -m "busybox from Debian busybox-static" \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["sh"]' \
  "$tmp/rootfs.tar" busybox:latest >/dev/null
mkdir -p "$(dirname "$out")"
"$isola" --root "$root" save -o "$out" busybox:latest
echo "built $out"

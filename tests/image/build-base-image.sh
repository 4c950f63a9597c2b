#!/usr/bin/env bash
# Builds the test hosts' base image, paas-test/debian-systemd:bookworm, with
# debootstrap + docker import: Debian 12 with systemd as PID 1, python3, sudo,
# iproute2 and ca-certificates. Nothing is pulled from a registry.
#
# - The Debian mirror is read from this machine's own apt configuration at run
#   time (never written in the repository).
# - The host's extra CA certificates (/usr/local/share/ca-certificates) are
#   added to the image, so HTTPS to the package registries works as on the host.
# - apt in the image uses the host's apt-cacher-ng (port 3142 on the container's
#   default gateway) when it answers, and goes direct otherwise.
#
# Re-running is cheap: an image whose recipe label matches this script is reused.
# FORCE=1 rebuilds.
set -euo pipefail

IMAGE=${IMAGE:-paas-test/debian-systemd:bookworm}
SUITE=bookworm
PACKAGES=systemd,systemd-sysv,dbus,python3,sudo,iproute2,ca-certificates,procps,netcat-openbsd
here=$(cd "$(dirname "$0")" && pwd)
recipe=$(cat "$0" "$here/apt-proxy-detect" | sha256sum | cut -c1-16)

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  have=$(docker image inspect -f '{{ index .Config.Labels "paas.recipe" }}' "$IMAGE" 2>/dev/null || true)
  if [ "$have" = "$recipe" ]; then
    echo "base image $IMAGE is up to date (recipe $recipe)"
    exit 0
  fi
fi

# The mirror this machine uses, from its deb822 sources or sources.list.
mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v -- '-security' | head -1 || true)
if [ -z "$mirror" ]; then
  mirror=$(grep -hE '^deb\s' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v -- '-security' | head -1 || true)
fi
[ -n "$mirror" ] || { echo "no Debian mirror found in /etc/apt/sources.list*" >&2; exit 1; }

# Through the local apt-cacher-ng when it runs: repeated builds are fast.
fetch=$mirror
if curl -fsS -o /dev/null --max-time 3 http://127.0.0.1:3142/acng-report.html 2>/dev/null; then
  fetch="http://127.0.0.1:3142/${mirror#*://}"
fi

work=$(mktemp -d /var/tmp/paas-rootfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
echo "debootstrap $SUITE from the configured mirror (via ${fetch%%/${mirror#*://}})"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$fetch" >"$work/debootstrap.log" 2>&1 || {
  tail -30 "$work/debootstrap.log" >&2; exit 1; }

# apt sources inside the image: the same as this machine's Debian sources.
rm -f "$root/etc/apt/sources.list"
if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
  for f in /etc/apt/sources.list.d/*.sources; do
    grep -q 'debian' "$f" && cp "$f" "$root/etc/apt/sources.list.d/"
  done
else
  grep -E '^deb\s' /etc/apt/sources.list > "$root/etc/apt/sources.list"
fi

# The host's extra CA certificates, so HTTPS works from the containers.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null
fi

install -m 0755 "$here/apt-proxy-detect" "$root/usr/local/bin/apt-proxy-detect"
cat > "$root/etc/apt/apt.conf.d/01proxy-detect" <<'CONF'
// Test image only: use apt-cacher-ng on the docker host when it answers.
Acquire::http::Proxy-Auto-Detect "/usr/local/bin/apt-proxy-detect";
CONF
cat > "$root/etc/apt/apt.conf.d/02paas-test" <<'CONF'
APT::Install-Recommends "false";
Acquire::Retries "3";
CONF
# A container has no kernel console, udev or swap to manage.
for unit in getty@tty1.service console-getty.service systemd-udevd.service \
            systemd-udev-trigger.service systemd-modules-load.service \
            sys-kernel-debug.mount sys-kernel-tracing.mount systemd-remount-fs.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
: > "$root/etc/machine-id"
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*

tar -C "$root" --numeric-owner -c . | docker import \
  -c 'CMD ["/lib/systemd/systemd"]' \
  -c 'ENV container=docker' \
  -c "LABEL paas.recipe=$recipe" \
  - "$IMAGE" >/dev/null
echo "built $IMAGE (recipe $recipe)"

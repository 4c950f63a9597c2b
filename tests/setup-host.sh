#!/usr/bin/env bash
# Prepares this machine (Debian 12, root) to run the local cluster and the tests:
# Docker engine, debootstrap, an apt cache for the test hosts, Maven and Java for
# the Exhibitor build, ZooKeeper (only its jars: the local integration tests start a
# private server on a loopback port), and make sure dockerd and apt-cacher-ng run.
# Safe to re-run.
set -euo pipefail

need=()
for pkg in docker.io debootstrap apt-cacher-ng curl ca-certificates git maven default-jdk-headless \
           python3-venv netcat-openbsd openssh-client zookeeper; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

have_systemd() { [ -d /run/systemd/system ]; }

# apt-cacher-ng forwards to this machine's own Debian mirror (read from its apt
# configuration at run time, never written in the repository).
mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v -- '-security' | head -1 || true)
[ -n "$mirror" ] || mirror=$(grep -hE '^deb\s' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v -- '-security' | head -1 || true)
if [ -n "$mirror" ] && [ "$(cat /etc/apt-cacher-ng/backends_debian 2>/dev/null)" != "$mirror" ]; then
  echo "$mirror" > /etc/apt-cacher-ng/backends_debian
  pkill -x apt-cacher-ng 2>/dev/null || true
  sleep 1
fi
if ! curl -fsS -o /dev/null --max-time 3 http://127.0.0.1:3142/acng-report.html 2>/dev/null; then
  if have_systemd; then
    systemctl restart apt-cacher-ng
  else
    mkdir -p /var/run/apt-cacher-ng && chown apt-cacher-ng: /var/run/apt-cacher-ng 2>/dev/null || true
    nohup apt-cacher-ng -c /etc/apt-cacher-ng ForeGround=1 >/var/log/apt-cacher-ng-foreground.log 2>&1 &
  fi
  for _ in $(seq 1 20); do
    curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:3142/acng-report.html 2>/dev/null && break
    sleep 0.5
  done
fi

if ! docker info >/dev/null 2>&1; then
  if have_systemd; then
    systemctl start docker
  else
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/dockerd.log" >&2; exit 1; }
fi
echo "host ready: docker $(docker version -f '{{.Server.Version}}'), apt cache on :3142"

#!/usr/bin/env bash
# Installs the peers and tools that run-peers.sh needs, from Debian's mirror.
# The Debian packages register systemd units / init scripts; nothing here
# enables or starts them. run-peers.sh starts every server itself, in the
# foreground of its own process, with its own config in a temp dir.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (apt-get install)" >&2
  exit 1
fi

# On Debian container images /usr/sbin/policy-rc.d (exit 101) already keeps
# invoke-rc.d from starting the services that the packages install. Where it
# is missing, add one only for the duration of the install.
added_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  added_policy=1
fi
cleanup() { if [ "$added_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
  nginx squid tinyproxy haproxy trafficserver wrk dnsmasq apache2-utils \
  curl dnsutils iproute2 util-linux procps
# Optional: a second load generator (not used by run-peers.sh's table), and
# rsvg-convert, with which `make chart` also writes a PNG of the SVG chart.
DEBIAN_FRONTEND=noninteractive apt-get install -y -q hey || true
DEBIAN_FRONTEND=noninteractive apt-get install -y -q librsvg2-bin || true

# Packages that ship a service may still have been started by a policy
# outside our control; report (never kill) anything listening on our ports.
if command -v ss >/dev/null; then
  if ss -ltnuH | awk '{print $5}' | grep -Eq ':18[0-9]{3}$'; then
    echo "install.sh: WARNING: something already listens on a port in 18000-18999:" >&2
    ss -ltnup | grep -E ':18[0-9]{3} ' >&2 || true
  fi
fi
echo "install.sh: done"

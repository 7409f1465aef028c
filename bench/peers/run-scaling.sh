#!/usr/bin/env bash
# run-scaling.sh - the scaling run: /small through sluice (2 event loops and
# 1), HAProxy, ATS, nginx, the two L4 relays (HAProxy mode tcp, and gnet:
# the ceilings for any proxy hop) and direct, at 1, 10, 100 and 1000 wrk
# connections.
#
# It is run-peers.sh with other defaults; results go to
# bench/peers/results/scaling-<timestamp>.md/.tsv (plus the sluice logs), and
# `make chart` draws the newest scaling-*.tsv. About 6-8 minutes on 2 cores.
# Any option is passed on to run-peers.sh and overrides these defaults, e.g.
#   bench/peers/run-scaling.sh -d 10 -w 2
#   bench/peers/run-scaling.sh -C "1 10 100 1000 5000"
# Environment: SLUICE_LOOPS (default 2) is the event loops of the "sluice"
# peer; "sluice-1loop" always runs with -loops 1. SLUICE_BIN as in run-peers.sh.
set -u -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export SLUICE_LOOPS=${SLUICE_LOOPS:-2}
# wrk with 1000 connections (and the proxy with 2000 sockets) needs more than
# the common 1024 open files; run-peers.sh raises the limit too.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# Build bin/sluice from the current tree first (as `make peers` does), unless
# SLUICE_BIN names another binary.
if [[ -z ${SLUICE_BIN:-} ]] && command -v go >/dev/null; then
  (cd "$HERE/../.." && go build -o bin/sluice ./cmd/sluice) || { echo "run-scaling.sh: go build failed" >&2; exit 1; }
fi
exec "$HERE/run-peers.sh" -n scaling \
  -P "direct l4relay gnetrelay sluice sluice-1loop haproxy ats nginx" \
  -p small -C "1 10 100 1000" -d 5 -w 1 "$@"

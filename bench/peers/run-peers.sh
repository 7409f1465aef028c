#!/usr/bin/env bash
# run-peers.sh - measure sluice and existing forward proxies ("peers") side by side.
#
# Adapted from ../shared/peers (the peers harness) into the sluice repo:
# sluice is a built-in peer here (bin/sluice, built by `make peers`), results
# go to bench/peers/results/, and -C runs several wrk connection counts (the
# scaling run, see run-scaling.sh).
#
# For each peer in turn (and a "direct" run with no proxy) it starts the peer
# with its own config in a temp dir, checks with curl -x that it proxies
# correctly, runs wrk through it for a bounded time, records requests/s,
# latency percentiles and the CPU time the peer's processes consumed, then
# stops it by PID. Everything listens on 127.0.0.1, ports 18000-18999.
#
# Cached rows (issue 20): the paths cache-small and cache-big are /small and
# /big with Cache-Control: public, max-age=3600 at the origin; squid-cache,
# ats-cache and sluice-cache are the caching peers (on request, -P). Before
# the load, each peer fetches such a path once (the entry is stored) and then
# again, and the driver records whether the second response came without the
# origin (a hit) and its Age/X-Cache/Via headers.
#
# Idle mode (-i N): instead of wrk, bench/idleconns opens N idle keep-alive
# client connections through each peer (default: sluice, nginx, haproxy) and
# records the RSS of the peer's process tree before and with them, and how
# many connections the peer kept open (results in idle-<timestamp>.md/.tsv).
#
# See README.md in this directory. Run ./install.sh once first (root).
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CONF=$HERE/conf
REPO=$(cd "$HERE/../.." && pwd)

DURATION=10        # seconds per measured wrk run
WARMUP=2           # seconds of unrecorded wrk load before each measured run
THREADS=1
CONNS_LIST=50     # wrk connections; several ("1 10 100 1000") = one run per count
WRK_TIMEOUT=5s     # wrk --timeout (a response slower than this is an error)
PATHS="small big"
KNOWN_PATHS="small big cache-small cache-big"
ALL_PEERS="direct l4relay gnetrelay sluice-gnet sluice-netpoll nginx squid tinyproxy haproxy ats go-baseline"
CACHE_PEERS="squid-cache ats-cache sluice-cache"   # caching peers, on request (-P)
KNOWN_PEERS="$ALL_PEERS sluice sluice-1loop $CACHE_PEERS"
PEERS=$ALL_PEERS
EXTRAS=()          # NAME:PORT:COMMAND
KEEP=0
PERF_STAT=0        # -S: perf stat syscalls, context switches and wake-ups per request
PIN_PROXY=         # -A CPUS: the proxy under test on these CPUs, wrk/origin/dnsmasq on the rest
PIN_LOAD=          # the rest (set from -A)
WORKERS=2          # HAProxy nbthread and gnetrelay loops (-A: the proxy's CPU count)
PINNING=0          # 1 while a peer is being started (start_bg pins it to PIN_PROXY)
OUT_DIR=$HERE/results
NAME=results       # output files: $OUT_DIR/$NAME-<timestamp>.md/.tsv
NAME_SET=0
PEERS_SET=0
IDLE_N=0           # -i: idle keep-alive clients per peer (0 = the wrk runs)
IDLE_HOLD=5        # -H: seconds the idle clients are held before RSS is read
IDLE_PEERS="sluice-gnet sluice-netpoll nginx haproxy"
SLUICE_IDLE_TIMEOUT=5m  # sluice -idle-timeout in idle mode
# sluice: the binary (make peers builds bin/sluice; if it is missing the
# driver builds it into the temp dir), its event loops (0 = GOMAXPROCS) and
# any extra flags.
SLUICE_BIN=${SLUICE_BIN:-$REPO/bin/sluice}
SLUICE_LOOPS=${SLUICE_LOOPS:-0}
SLUICE_FLAGS=${SLUICE_FLAGS:-}

DNS_PORT=18053
ORIGIN_PORT=18080
declare -A PORT=(
  [nginx]=18101 [squid]=18102 [tinyproxy]=18103 [haproxy]=18104
  [ats]=18105 [go-baseline]=18106 [sluice]=18110 [sluice-1loop]=18111
  [sluice-gnet]=18112 [sluice-netpoll]=18113
  [l4relay]=18120 [gnetrelay]=18121
  [sluice-cache]=18130 [squid-cache]=18132 [ats-cache]=18135
)

usage() {
  cat <<EOF
Usage: $0 [options]
Environment: SLUICE_BIN (default $REPO/bin/sluice), SLUICE_LOOPS (0),
SLUICE_FLAGS (extra sluice flags, e.g. "-log-level debug").
  -d SECONDS        measured wrk duration per peer and path (default $DURATION)
  -w SECONDS        warm-up wrk duration before each measured run, 0 = none (default $WARMUP)
  -c CONNS          wrk connections (default $CONNS_LIST)
  -C "CONNS..."     several connection counts, one measured run each, e.g.
                    "1 10 100 1000" (the scaling run; overrides -c)
  -t THREADS        wrk threads (default $THREADS)
  -p "PATHS"        origin paths to load, from: $KNOWN_PATHS
                    (default "$PATHS"); cache-small and cache-big are
                    /cache/small and /cache/big, the same bodies with
                    Cache-Control: public, max-age=3600 (for the caching peers)
  -P "PEERS"        peers to run, from: $KNOWN_PEERS
                    (default: $ALL_PEERS)
                    sluice = \$SLUICE_BIN -loops \$SLUICE_LOOPS (0 = GOMAXPROCS)
                    on its default engine, sluice-gnet and sluice-netpoll
                    the same with -engine gnet / netpoll, sluice-1loop the
                    default engine with -loops 1; squid-cache, ats-cache
                    and sluice-cache are squid, ATS and sluice (default
                    engine) with their response caches on
                    (conf/squid-cache.conf, conf/ats-cache/,
                    conf/sluice-cache.yaml); give them cache-* paths
  -x NAME:PORT:CMD  also run an extra peer: CMD is run with bash -c "exec CMD"
                    and must serve a forward proxy on 127.0.0.1:PORT (PORT in
                    18000-18999). CMD may use \$DNS_ADDR (127.0.0.1:$DNS_PORT),
                    \$PORT and \$RUN (temp dir). Repeatable.
  -o DIR            where results-<timestamp>.md/.tsv go (default $OUT_DIR)
  -n NAME           output file prefix instead of "results" (NAME-<timestamp>.md/.tsv)
  -k                keep the temp dir (configs, logs) after the run
  -S                also count the peer's syscalls, context switches and
                    wake-ups per request with perf stat (raw_syscalls:sys_enter,
                    context-switches, sched:sched_waking) over each measured
                    run; off by default because the tracepoints slow every
                    syscall a little (about 2% here), so the other columns of
                    an -S run read slightly high
  -A CPUS           pin: each peer runs on CPUS only (a taskset list, e.g. 1
                    or 2-3) and wrk, the origin and dnsmasq on the other CPUs;
                    HAProxy's nbthread, gnetrelay's loops and sluice's
                    GOMAXPROCS (its default loop count) follow the number of
                    CPUS. The proxy then has CPUs of its own, as on a machine
                    where the load comes from elsewhere; the direct rows have
                    wrk and the origin on the other CPUs only. Meant for
                    l4relay, gnetrelay, sluice* and haproxy: nginx, squid,
                    tinyproxy and ATS keep their configured worker counts
  -i N              idle mode: no wrk; open N idle keep-alive clients through
                    each peer with bench/idleconns (one absolute-form GET
                    /small each) and record the RSS of the peer's process tree
                    before and with them and how many stayed open. Default
                    peers then "$IDLE_PEERS", output prefix "idle".
  -H SECONDS        idle mode: how long the clients stay idle before RSS is
                    read (default $IDLE_HOLD, at most 30: the peers' client
                    keep-alive timeouts are 60 s and more)
  -h                this help
EOF
}

while getopts "d:w:c:C:t:p:P:x:o:n:kSA:i:H:h" opt; do
  case $opt in
    d) DURATION=$OPTARG ;;
    w) WARMUP=$OPTARG ;;
    c) CONNS_LIST=$OPTARG ;;
    C) CONNS_LIST=$OPTARG ;;
    t) THREADS=$OPTARG ;;
    p) PATHS=$OPTARG ;;
    P) PEERS=$OPTARG; PEERS_SET=1 ;;
    x) EXTRAS+=("$OPTARG") ;;
    o) OUT_DIR=$OPTARG ;;
    n) NAME=$OPTARG; NAME_SET=1 ;;
    k) KEEP=1 ;;
    S) PERF_STAT=1 ;;
    A) PIN_PROXY=$OPTARG ;;
    i) IDLE_N=$OPTARG ;;
    H) IDLE_HOLD=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

for v in DURATION WARMUP THREADS SLUICE_LOOPS IDLE_N IDLE_HOLD; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$v must be an integer" >&2; exit 2; }
done
[[ -n $CONNS_LIST ]] || { echo "no connection count" >&2; exit 2; }
MAX_CONNS=0
for c in $CONNS_LIST; do
  [[ $c =~ ^[0-9]+$ ]] && (( c >= 1 && c <= 20000 )) || { echo "connections must be 1..20000, got '$c'" >&2; exit 2; }
  (( c > MAX_CONNS )) && MAX_CONNS=$c
done
(( THREADS >= 1 )) || { echo "threads must be >= 1" >&2; exit 2; }
if (( IDLE_N > 0 )); then
  (( IDLE_N <= 20000 )) || { echo "-i: idle clients must be 1..20000" >&2; exit 2; }
  (( IDLE_HOLD >= 1 && IDLE_HOLD <= 30 )) || { echo "-H: hold must be 1..30 s" >&2; exit 2; }
  (( PEERS_SET )) || PEERS=$IDLE_PEERS
  (( NAME_SET )) || NAME=idle
  MAX_CONNS=$IDLE_N
fi
# HAProxy's global maxconn (conf/haproxy.cfg @MAXCONN@): 8000 for the wrk
# runs, room for the idle clients in idle mode.
HAPROXY_MAXCONN=$(( IDLE_N + 100 > 8000 ? IDLE_N + 100 : 8000 ))
[[ $NAME =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || { echo "bad -n name '$NAME'" >&2; exit 2; }
for p in $PEERS; do
  [[ " $KNOWN_PEERS " == *" $p "* ]] || (( ${#EXTRAS[@]} )) || { echo "unknown peer '$p' (known: $KNOWN_PEERS)" >&2; exit 2; }
done
(( DURATION >= 1 && DURATION <= 300 )) || { echo "duration must be 1..300 s" >&2; exit 2; }
(( WARMUP <= 60 )) || { echo "warm-up must be <= 60 s" >&2; exit 2; }
for p in $PATHS; do
  [[ " $KNOWN_PATHS " == *" $p "* ]] || { echo "unknown path '$p' (known: $KNOWN_PATHS)" >&2; exit 2; }
done

url_path() {  # PATH NAME -> path at the origin, without the leading /
  case $1 in
    cache-small) echo cache/small ;;
    cache-big) echo cache/big ;;
    *) echo "$1" ;;
  esac
}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for b in nginx dnsmasq wrk curl ss awk sed sha256sum timeout; do
  command -v "$b" >/dev/null || die "missing '$b' (run ./install.sh as root)"
done
[[ $(id -u) == 0 ]] || log "WARNING: not root; squid/ats (chown to their users) and tinyproxy (unshare + bind mounts) need root"

NCPU=$(nproc)  # before -A narrows this script's CPUs

cpu_list() {  # taskset-style list ("0-2,5") -> one CPU number per line
  local part a
  for part in ${1//,/ }; do
    if [[ $part =~ ^([0-9]+)-([0-9]+)$ ]]; then
      for ((a = BASH_REMATCH[1]; a <= BASH_REMATCH[2]; a++)); do echo "$a"; done
    elif [[ $part =~ ^[0-9]+$ ]]; then
      echo "$part"
    else
      return 1
    fi
  done
}

# -A: this script (and so wrk, the origin, dnsmasq and the checks' curl, which
# inherit its affinity) moves to the CPUs the proxy does not get; start_bg
# starts each peer under taskset on the proxy's CPUs.
if [[ -n $PIN_PROXY ]]; then
  command -v taskset >/dev/null || die "-A needs taskset (util-linux)"
  allowed=$(taskset -pc $$ | sed 's/.*: //')
  proxy_cpus=$(cpu_list "$PIN_PROXY") && [[ -n $proxy_cpus ]] || die "-A: not a CPU list: $PIN_PROXY"
  proxy_cpus=$(sort -un <<<"$proxy_cpus")
  PIN_PROXY=$(paste -sd, <<<"$proxy_cpus")
  all_cpus=$(cpu_list "$allowed")
  for c in $proxy_cpus; do
    grep -qx "$c" <<<"$all_cpus" || die "-A: CPU $c is not one this run may use ($allowed)"
  done
  PIN_LOAD=$(grep -vxF -f <(echo "$proxy_cpus") <<<"$all_cpus" | paste -sd,)
  [[ -n $PIN_LOAD ]] || die "-A $PIN_PROXY leaves no CPU for wrk, the origin and dnsmasq"
  WORKERS=$(wc -l <<<"$proxy_cpus")
  taskset -pc "$PIN_LOAD" $$ >/dev/null || die "taskset -pc $PIN_LOAD $$ failed"
fi

TS=$(date +%Y%m%d-%H%M%S)
START_EPOCH=$(date +%s)
RUN=$(mktemp -d /tmp/peers-bench.XXXXXX)
chmod 755 "$RUN"
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
RESULTS_MD=$OUT_DIR/$NAME-$TS.md
RESULTS_TSV=$OUT_DIR/$NAME-$TS.tsv

# wrk, the peers and the origin each hold one descriptor per connection (a
# proxy two): raise the soft limit for everything started from here. In idle
# mode idleconns and each peer process hold one per idle client, plus a few
# (upstream connections are reused or closed once the response is sent).
if (( MAX_CONNS > 200 )); then
  want=$(( MAX_CONNS * 4 + 4096 ))
  if (( $(ulimit -n) < want )); then
    ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  fi
  need=$(( MAX_CONNS * 2 + 64 ))
  (( IDLE_N > 0 )) && need=$(( IDLE_N + 256 ))
  (( $(ulimit -n) >= need )) || log "WARNING: open-files limit $(ulimit -n) is low for $MAX_CONNS connections"
fi
CLK_TCK=$(getconf CLK_TCK)

# --------------------------------------------------------------------------
# Process bookkeeping: every process we start is recorded as "pid:starttime";
# it and its descendants are stopped by PID only (never by name).

OWNED=()   # pid:starttime of every root process we started (LIFO stop order)

proc_starttime() {  # PID -> starttime (field 22 of /proc/PID/stat), empty if gone
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  s=${s##*) }
  set -- $s
  echo "${20}"
}

proc_alive() {  # PID -> 0 if the process exists and is not a zombie
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [[ ${s:0:1} != Z && ${s:0:1} != X ]]
}

# All processes: "pid ppid starttime ticks user sys" (ticks =
# utime+stime+cutime+cstime; user = utime+cutime, sys = stime+cstime).
proc_table() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk '{
    line = $0; p = 0
    while ((k = index(substr(line, p + 1), ")")) > 0) p += k
    n = split(substr(line, p + 2), f, " ")
    print $1, f[2], f[20], f[12] + f[13] + f[14] + f[15], f[12] + f[14], f[13] + f[15]
  }'
}

# ROOT_PID... -> "pid:starttime" for the roots and all their descendants.
tree_members() {
  proc_table | awk -v roots="$*" '
    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) in_tree[r[i]] = 1 }
    { pp[$1] = $2; st[$1] = $3 }
    END {
      changed = 1
      while (changed) {
        changed = 0
        for (p in pp) if (!(p in in_tree) && (pp[p] in in_tree)) { in_tree[p] = 1; changed = 1 }
      }
      for (p in in_tree) if (p in st) print p ":" st[p]
    }'
}

# ROOT_PID... -> "user sys" CPU ticks of the roots and all their descendants.
tree_ticks_split() {
  proc_table | awk -v roots="$*" '
    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) in_tree[r[i]] = 1 }
    { pp[$1] = $2; u[$1] = $5; k[$1] = $6 }
    END {
      changed = 1
      while (changed) {
        changed = 0
        for (p in pp) if (!(p in in_tree) && (pp[p] in in_tree)) { in_tree[p] = 1; changed = 1 }
      }
      su = 0; sk = 0; for (p in in_tree) if (p in u) { su += u[p]; sk += k[p] }
      print su, sk
    }'
}

# ROOT_PID... -> total CPU ticks of the roots and all their descendants.
tree_ticks() {
  local u k
  read -r u k <<<"$(tree_ticks_split "$@")"
  echo $(( u + k ))
}

listener_pids() {  # PORT -> PIDs of processes with a TCP listener on 127.0.0.1:PORT
  ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
}

port_in_use() {  # PORT -> 0 if anything listens on it (TCP or UDP)
  [[ -n $(ss -ltnH "sport = :$1" 2>/dev/null) || -n $(ss -lunH "sport = :$1" 2>/dev/null) ]]
}

# Stop a set of processes we own ("pid:starttime" words): TERM, wait up to
# 10 s, then KILL whatever is left. Only PIDs whose start time still matches.
stop_members() {
  local m pid st i left
  for m in "$@"; do
    pid=${m%%:*}; st=${m##*:}
    [[ $(proc_starttime "$pid") == "$st" ]] && kill -TERM "$pid" 2>/dev/null
  done
  for ((i = 0; i < 100; i++)); do
    left=0
    for m in "$@"; do
      pid=${m%%:*}; st=${m##*:}
      if [[ $(proc_starttime "$pid") == "$st" ]] && proc_alive "$pid"; then left=1; fi
    done
    (( left )) || break
    sleep 0.1
  done
  for m in "$@"; do
    pid=${m%%:*}; st=${m##*:}
    if [[ $(proc_starttime "$pid") == "$st" ]] && proc_alive "$pid"; then
      log "  pid $pid did not exit on TERM; sending KILL"
      kill -KILL "$pid" 2>/dev/null
    fi
  done
  # Reap our direct children.
  for m in "$@"; do wait "${m%%:*}" 2>/dev/null; done
  return 0
}

# Stop one started root (given as pid:starttime) and everything under it
# (plus PIDs recorded in MEMBERS_<pid> at start-up, e.g. a daemonized child).
stop_root() {
  local root=$1 pid=${1%%:*} extra
  local members
  members=$(tree_members "$pid")
  extra=$(cat "$RUN/members.$pid" 2>/dev/null)
  # shellcheck disable=SC2086
  stop_members $(printf '%s\n' "$root" $members $extra | sort -u)
}

stop_all() {
  local i
  for ((i = ${#OWNED[@]} - 1; i >= 0; i--)); do
    stop_root "${OWNED[$i]}"
  done
  OWNED=()
}

cleanup() {
  stop_all
  if (( KEEP )); then log "temp dir kept: $RUN"; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# Start a command in the background as a process we own. Sets STARTED_PID.
start_bg() {  # LOGFILE CMD...
  local logf=$1; shift
  (( PINNING )) && [[ -n $PIN_PROXY ]] && set -- taskset -c "$PIN_PROXY" "$@"
  "$@" >"$logf" 2>&1 </dev/null &
  STARTED_PID=$!
  sleep 0.05
  OWNED+=("$STARTED_PID:$(proc_starttime "$STARTED_PID")")
}

wait_tcp_port() {  # PORT PID SECONDS -> 0 once something listens on 127.0.0.1:PORT
  local port=$1 pid=$2 secs=$3 i
  for ((i = 0; i < secs * 10; i++)); do
    [[ -n $(ss -ltnH "src 127.0.0.1 and sport = :$port" 2>/dev/null) ]] && return 0
    if ! proc_alive "$pid"; then
      # The root exited: fine only if it left a (daemonized) listener behind.
      sleep 0.5
      [[ -n $(ss -ltnH "src 127.0.0.1 and sport = :$port" 2>/dev/null) ]]
      return
    fi
    sleep 0.1
  done
  return 1
}

render() {  # TEMPLATE OUT [PORT]
  sed -e "s#@RUN@#$RUN#g" -e "s#@PORT@#${3:-}#g" -e "s#@DNS_PORT@#$DNS_PORT#g" \
      -e "s#@ORIGIN_PORT@#$ORIGIN_PORT#g" -e "s#@MAXCONN@#$HAPROXY_MAXCONN#g" -e "s#@NBTHREAD@#$WORKERS#g" "$1" > "$2"
}

# --------------------------------------------------------------------------
# Origin (nginx) and resolver (dnsmasq).

ORIGIN_HOST=origin.test:$ORIGIN_PORT
SMALL_BODY='origin small response: 0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWX'

start_origin() {
  mkdir -p "$RUN/origin/tmp"
  head -c 1048576 /dev/urandom > "$RUN/origin/big.bin"
  BIG_SHA=$(sha256sum "$RUN/origin/big.bin" | cut -d' ' -f1)
  # /cache/small: the body of /small (return 200 "...\n") from a file.
  printf '%s\n' "$SMALL_BODY" > "$RUN/origin/small.txt"
  render "$CONF/origin-nginx.conf" "$RUN/origin/nginx.conf"
  nginx -t -q -c "$RUN/origin/nginx.conf" -p "$RUN/origin/" || die "origin nginx config invalid"
  start_bg "$RUN/origin/stdout.log" nginx -c "$RUN/origin/nginx.conf" -p "$RUN/origin/"
  ORIGIN_PID=$STARTED_PID
  wait_tcp_port "$ORIGIN_PORT" "$ORIGIN_PID" 10 || die "origin did not start (see $RUN/origin)"
  [[ $(curl -sS -m 5 "http://127.0.0.1:$ORIGIN_PORT/small") == "$SMALL_BODY" ]] || die "origin /small wrong"
  [[ $(curl -sS -m 5 "http://127.0.0.1:$ORIGIN_PORT/cache/small") == "$SMALL_BODY" ]] || die "origin /cache/small wrong"
  curl -sS -m 5 -o /dev/null -D - "http://127.0.0.1:$ORIGIN_PORT/cache/big" | grep -qi '^cache-control: public, max-age=3600' \
    || die "origin /cache/big has no Cache-Control: public, max-age=3600"
}

start_dns() {
  mkdir -p "$RUN/dnsmasq"
  render "$CONF/dnsmasq.conf" "$RUN/dnsmasq/dnsmasq.conf"
  : > "$RUN/dnsmasq/queries.log"
  start_bg "$RUN/dnsmasq/stdout.log" dnsmasq --keep-in-foreground -C "$RUN/dnsmasq/dnsmasq.conf"
  DNS_PID=$STARTED_PID
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -n $(ss -lunH "src 127.0.0.1 and sport = :$DNS_PORT" 2>/dev/null) ]] && break
    sleep 0.1
  done
  [[ -n $(ss -lunH "src 127.0.0.1 and sport = :$DNS_PORT" 2>/dev/null) ]] || die "dnsmasq did not start"
  if command -v dig >/dev/null; then
    [[ $(dig +short +time=2 +tries=1 @127.0.0.1 -p "$DNS_PORT" origin.test A) == 127.0.0.1 ]] \
      || die "dnsmasq does not resolve origin.test"
  fi
}

origin_accepts() {
  curl -sS -m 5 "http://127.0.0.1:$ORIGIN_PORT/__status" | awk 'NR == 3 { print $1 }'
}

# "accepts requests" from one stub_status fetch (which counts itself as a
# request).
origin_counts() {
  curl -sS -m 5 "http://127.0.0.1:$ORIGIN_PORT/__status" | awk 'NR == 3 { print $1, $3 }'
}

dns_queries() { grep -c 'query\[' "$RUN/dnsmasq/queries.log" 2>/dev/null || echo 0; }

# Private hosts/resolv.conf for the peers that cannot use dnsmasq on :18053.
cp "$CONF/hosts.bench" "$RUN/hosts"
echo "nameserver 127.0.0.1" > "$RUN/resolv.conf"
chmod 644 "$RUN/hosts" "$RUN/resolv.conf"

# --------------------------------------------------------------------------
# Peers. Each start_<peer> PORT starts it in the background and sets
# PEER_PID (the root process) or returns non-zero with PEER_NOTE set.

start_nginx() {
  local d=$RUN/nginx
  mkdir -p "$d/tmp"
  render "$CONF/nginx-fwd.conf" "$d/nginx.conf" "$1"
  nginx -t -q -c "$d/nginx.conf" -p "$d/" 2>"$d/configtest.log" || { PEER_NOTE="config test failed"; return 1; }
  start_bg "$d/stdout.log" nginx -c "$d/nginx.conf" -p "$d/"
  PEER_PID=$STARTED_PID
}

start_squid_conf() {  # NAME CONF PORT
  local d=$RUN/$1
  mkdir -p "$d"
  render "$2" "$d/squid.conf" "$3"
  chown -R proxy:proxy "$d" 2>/dev/null || chmod 777 "$d"
  squid -k parse -f "$d/squid.conf" >"$d/parse.log" 2>&1 || { PEER_NOTE="squid -k parse failed"; return 1; }
  (cd "$d" && exec squid --foreground -f "$d/squid.conf") >"$d/stdout.log" 2>&1 </dev/null &
  STARTED_PID=$!
  sleep 0.05
  OWNED+=("$STARTED_PID:$(proc_starttime "$STARTED_PID")")
  PEER_PID=$STARTED_PID
}

start_squid() { start_squid_conf squid "$CONF/squid.conf" "$1"; }
# squid-cache: a shared memory cache (cache_mem 256 MB, objects up to 2 MB),
# no cache_dir, collapsed_forwarding on; forwarding as squid.
start_squid-cache() { start_squid_conf squid-cache "$CONF/squid-cache.conf" "$1"; }

start_tinyproxy() {
  local d=$RUN/tinyproxy
  mkdir -p "$d"
  chmod 777 "$d"
  render "$CONF/tinyproxy.conf" "$d/tinyproxy.conf" "$1"
  command -v unshare >/dev/null || { PEER_NOTE="needs unshare (util-linux) for a private /etc/hosts"; return 1; }
  # Private mount namespace: /etc/hosts and /etc/resolv.conf are replaced for
  # tinyproxy only (bind mounts vanish with the namespace).
  start_bg "$d/stdout.log" unshare --mount --propagation private sh -c \
    'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && exec tinyproxy -d -c "$3"' \
    sh "$RUN/hosts" "$RUN/resolv.conf" "$d/tinyproxy.conf"
  PEER_PID=$STARTED_PID
}

start_haproxy() {
  local d=$RUN/haproxy
  mkdir -p "$d"
  render "$CONF/haproxy.cfg" "$d/haproxy.cfg" "$1"
  haproxy -c -q -f "$d/haproxy.cfg" >"$d/check.log" 2>&1 || { PEER_NOTE="haproxy -c failed"; return 1; }
  start_bg "$d/stdout.log" haproxy -db -f "$d/haproxy.cfg"
  PEER_PID=$STARTED_PID
}

# l4relay: HAProxy in mode tcp straight to the origin (conf/l4relay.cfg),
# nothing parsed, no DNS, splice-auto: the ceiling for any proxy hop on
# these CPUs. Its checks that need a proxy (the /big name, the conflicting
# Host) go to the origin as sent, so their columns say what the origin did.
start_l4relay() {
  local d=$RUN/l4relay
  mkdir -p "$d"
  render "$CONF/l4relay.cfg" "$d/l4relay.cfg" "$1"
  haproxy -c -q -f "$d/l4relay.cfg" >"$d/check.log" 2>&1 || { PEER_NOTE="haproxy -c failed (l4relay)"; return 1; }
  start_bg "$d/stdout.log" haproxy -db -f "$d/l4relay.cfg"
  PEER_PID=$STARTED_PID
}

# gnetrelay: a plain L4 relay on gnet (bench/gnetrelay), sluice's engine
# with nothing parsed: the floor for a gnet and Go runtime proxy, between
# l4relay (C, HAProxy) and sluice (HTTP-aware). Built here from the repo.
start_gnetrelay() {
  local d=$RUN/gnetrelay
  mkdir -p "$d"
  (cd "$REPO" && go build -o "$d/gnetrelay" ./bench/gnetrelay) >"$d/build.log" 2>&1 \
    || { PEER_NOTE="go build ./bench/gnetrelay failed (see build.log)"; return 1; }
  start_bg "$d/stdout.log" "$d/gnetrelay" -listen "127.0.0.1:$1" -upstream "127.0.0.1:$ORIGIN_PORT" -loops "$WORKERS"
  PEER_PID=$STARTED_PID
}

start_ats_conf() {  # NAME CONFDIR PORT SPAN_SIZE
  local a=$RUN/$1 f src
  mkdir -p "$a/etc" "$a/share" "$a/var" "$a/run" "$a/log" "$a/cache"
  # Package defaults for the files we do not override (body_factory, sni.yaml,
  # logging.yaml, ...), then our own files on top.
  cp -a /etc/trafficserver/. "$a/etc/" 2>/dev/null || { PEER_NOTE="/etc/trafficserver missing"; return 1; }
  # Each file from CONFDIR, else from conf/ats (the shared ones).
  for f in records.config storage.config remap.config plugin.config ip_allow.yaml runroot.yaml; do
    src=$2/$f; [[ -f $src ]] || src=$CONF/ats/$f
    if [[ $f == runroot.yaml ]]; then render "$src" "$a/$f" "$3"; else render "$src" "$a/etc/$f" "$3"; fi
  done
  truncate -s "$4" "$a/cache/span"
  chown -R trafficserver:trafficserver "$a"
  (cd "$a" && exec traffic_server --run-root="$a/runroot.yaml") >"$a/stdout.log" 2>&1 </dev/null &
  STARTED_PID=$!
  sleep 0.05
  OWNED+=("$STARTED_PID:$(proc_starttime "$STARTED_PID")")
  PEER_PID=$STARTED_PID
}

start_ats() { start_ats_conf ats "$CONF/ats" "$1" 64M; }
# ats-cache: HTTP cache on, 256 MiB RAM cache over a 64M span (as ats)
# (conf/ats-cache/records.config, storage.config, runroot.yaml).
start_ats-cache() { start_ats_conf ats-cache "$CONF/ats-cache" "$1" 64M; }

start_go-baseline() {
  local d=$RUN/go-baseline
  mkdir -p "$d"
  command -v go >/dev/null || { PEER_NOTE="go toolchain not found"; return 1; }
  (cd "$HERE/goproxy-baseline" && go build -o "$d/goproxy-baseline" .) >"$d/build.log" 2>&1 \
    || { PEER_NOTE="go build failed (see build.log)"; return 1; }
  start_bg "$d/stdout.log" "$d/goproxy-baseline" -listen "127.0.0.1:$1" -dns "127.0.0.1:$DNS_PORT"
  PEER_PID=$STARTED_PID
}

# sluice, built-in: the binary from `make peers` (bin/sluice), or one built
# here from the repo if there is none. Its stderr (slog) is kept as
# $NAME-<ts>.<peer>.log beside the results.
SLUICE_BUILT=
sluice_binary() {  # -> path of the sluice binary, building it if needed
  if [[ -x $SLUICE_BIN ]]; then echo "$SLUICE_BIN"; return 0; fi
  if [[ -z $SLUICE_BUILT ]]; then
    command -v go >/dev/null || return 1
    mkdir -p "$RUN/sluice-build"
    (cd "$REPO" && go build -o "$RUN/sluice-build/sluice" ./cmd/sluice) >"$RUN/sluice-build/build.log" 2>&1 || return 1
    SLUICE_BUILT=$RUN/sluice-build/sluice
  fi
  echo "$SLUICE_BUILT"
}

start_sluice_loops() {  # PEER PORT LOOPS [ENGINE [CONFIG]]
  local d=$RUN/$1 bin newer engine=() config=()
  [[ -n ${4:-} ]] && engine=(-engine "$4")
  [[ -n ${5:-} ]] && config=(-config "$5")
  mkdir -p "$d"
  bin=$(sluice_binary) || { PEER_NOTE="no sluice binary and go build failed (make build)"; return 1; }
  newer=$(find "$REPO" -name '*.go' -newer "$bin" -not -path '*/bench/*' -not -path '*/fuzz/*' -not -name '*_test.go' 2>/dev/null | head -3 | tr '\n' ' ')
  [[ -n $newer ]] && log "  WARNING: $bin is older than $newer(make build)"
  local idle=()
  if (( IDLE_N > 0 )); then
    # Idle mode: clients stay idle longer than the default 60 s would allow,
    # and the client cap (by default (RLIMIT_NOFILE-64)/2) fits them all.
    # A peer with its own config file gets it merged in (one -config).
    { [[ -n ${5:-} ]] && cat "$5"; printf 'limits:\n  max_conns: %d\n' $(( IDLE_N + 100 )); } > "$d/idle.yaml"
    idle=(-idle-timeout "$SLUICE_IDLE_TIMEOUT" -config "$d/idle.yaml")
    config=()
  fi
  # shellcheck disable=SC2086
  start_bg "$d/stderr.log" "$bin" -listen "127.0.0.1:$2" -dns "127.0.0.1:$DNS_PORT" -admin '' -access-log '' \
    -loops "$3" "${engine[@]}" "${config[@]}" "${idle[@]}" $SLUICE_FLAGS
  PEER_PID=$STARTED_PID
  SLUICE_LOGS+=("$1")
}

start_sluice() { start_sluice_loops sluice "$1" "$SLUICE_LOOPS"; }
start_sluice-1loop() { start_sluice_loops sluice-1loop "$1" 1; }
start_sluice-gnet() { start_sluice_loops sluice-gnet "$1" "$SLUICE_LOOPS" gnet; }
start_sluice-netpoll() { start_sluice_loops sluice-netpoll "$1" "$SLUICE_LOOPS" netpoll; }
# sluice-cache: the default engine with conf/sluice-cache.yaml (cache:
# max_bytes 256 MiB, max_object_bytes 2 MiB).
start_sluice-cache() { start_sluice_loops sluice-cache "$1" "$SLUICE_LOOPS" "" "$CONF/sluice-cache.yaml"; }

SLUICE_LOGS=()

# Extra peers given with -x NAME:PORT:CMD.
declare -A EXTRA_CMD=()
for e in "${EXTRAS[@]}"; do
  name=${e%%:*}; rest=${e#*:}; port=${rest%%:*}; cmd=${rest#*:}
  [[ $name =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "extra peer name '$name': use [a-z0-9-]"
  [[ $port =~ ^18[0-9]{3}$ ]] || die "extra peer port '$port' must be in 18000-18999"
  [[ -n ${PORT[$name]:-} || $name == direct ]] && die "extra peer name '$name' clashes with a built-in peer"
  PORT[$name]=$port
  EXTRA_CMD[$name]=$cmd
  PEERS="$PEERS $name"
done

start_extra() {  # NAME PORT
  local d=$RUN/extra-$1
  mkdir -p "$d"
  start_bg "$d/stdout.log" env DNS_ADDR="127.0.0.1:$DNS_PORT" PORT="$2" RUN="$RUN" \
    ORIGIN="$ORIGIN_HOST" bash -c "exec ${EXTRA_CMD[$1]}"
  PEER_PID=$STARTED_PID
}

peer_version() {
  case $1 in
    direct) echo "-" ;;
    nginx) nginx -v 2>&1 | sed 's#.*nginx/#nginx #' ;;
    squid) squid -v | head -1 | sed 's/Squid Cache: Version /squid /' ;;
    squid-cache) squid -v | head -1 | sed 's/Squid Cache: Version /squid /; s/$/, memory cache/' ;;
    tinyproxy) tinyproxy -v 2>&1 | head -1 ;;
    haproxy) haproxy -v | head -1 | awk '{print "haproxy", $3}' ;;
    l4relay) haproxy -v | head -1 | awk '{print "haproxy", $3, "mode tcp (L4 relay)"}' ;;
    gnetrelay) echo "gnet v2.10.0 L4 relay, $(go version 2>/dev/null | awk '{print $3}')" ;;
    ats|ats-cache) traffic_server -V 2>&1 | grep -o 'Traffic Server - traffic_server - [0-9.]*' \
        | awk -v c="$([[ $1 == ats-cache ]] && echo ', RAM cache')" '{print "ATS", $NF c}' | head -1 ;;
    go-baseline) go version 2>/dev/null | awk '{print $3}' | sed 's/^/net\/http /' ;;
    sluice|sluice-1loop|sluice-gnet|sluice-netpoll|sluice-cache)
      # The binary's own identity (GOFLAGS may carry -buildvcs=false, so no
      # VCS stamp): its Go version, mtime and hash, beside the repo's HEAD now.
      local rev dirty bin loops=$SLUICE_LOOPS gov
      [[ $1 == sluice-1loop ]] && loops=1
      (( loops == 0 )) && loops="GOMAXPROCS=$( [[ -n $PIN_PROXY ]] && echo "$WORKERS" || echo "$NCPU")"
      rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
      dirty=$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo +dirty)
      bin=$(sluice_binary) || { echo "sluice (no binary)"; return 0; }
      gov=$(go version "$bin" 2>/dev/null | awk '{print $2}')
      local eng=default
      [[ $1 == sluice-gnet ]] && eng=gnet
      [[ $1 == sluice-netpoll ]] && eng=netpoll
      local cache=
      [[ $1 == sluice-cache ]] && cache=", cache (conf/sluice-cache.yaml)"
      echo "sluice ${gov:-go?} built $(date -u -r "$bin" '+%Y-%m-%dT%H:%MZ') sha256:$(sha256sum "$bin" | cut -c1-10), repo HEAD $rev$dirty, engine $eng, loops $loops$cache" ;;
    *) echo "extra" ;;
  esac
}

# --------------------------------------------------------------------------
# Load + measurement.

proc_stat_cpu() {  # -> "busy total" jiffies over all CPUs
  awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

WRK_LUA=$HERE/wrk-proxy.lua

# wrk_cmd NAME PATH -> prints the command line (for the report) and sets
# WRK_ENV_PATH, WRK_URL.
wrk_target() {  # PEER PATH
  if [[ $1 == direct ]]; then
    WRK_ENV_PATH=/$(url_path "$2")
    WRK_URL=http://127.0.0.1:$ORIGIN_PORT/
  else
    WRK_ENV_PATH=http://$ORIGIN_HOST/$(url_path "$2")
    WRK_URL=http://127.0.0.1:${PORT[$1]}/
  fi
}

wrk_threads() { echo $(( $1 < THREADS ? $1 : THREADS )); }  # CONNS -> wrk -t (wrk needs t <= c)

wrk_cmdline() {  # PEER PATH DURATION CONNS
  wrk_target "$1" "$2"
  echo "WRK_PATH=$WRK_ENV_PATH WRK_HOST=$ORIGIN_HOST wrk -t$(wrk_threads "$4") -c$4 -d${3}s --timeout $WRK_TIMEOUT --latency -s wrk-proxy.lua $WRK_URL"
}

run_wrk() {  # PEER PATH DURATION OUTFILE CONNS -> wrk results line in OUTFILE, wrk CPU ticks in OUTFILE.cpu
  local peer=$1 path=$2 dur=$3 out=$4 conns=$5
  wrk_target "$peer" "$path"
  # The wrapper bash reaps wrk and then reads its own cutime+cstime (= wrk's
  # CPU time). timeout bounds the whole thing even if wrk misbehaves.
  WRK_PATH=$WRK_ENV_PATH WRK_HOST=$ORIGIN_HOST WRK_OUT=$out timeout $((dur + 30)) \
    bash -c 'wrk "$@" >"$WRK_OUT.stdout" 2>&1; rc=$?
             s=$(cat /proc/$$/stat); s=${s##*) }; set -- $s
             echo "$(( ${14} + ${15} ))" >"$WRK_OUT.cpu"; exit $rc' \
    wrk -t"$(wrk_threads "$conns")" -c"$conns" -d"${dur}s" --timeout "$WRK_TIMEOUT" --latency -s "$WRK_LUA" "$WRK_URL"
}

kv() {  # FILE KEY -> value from a "k=v k=v" line
  tr ' ' '\n' < "$1" | awk -F= -v k="$2" '$1 == k { print $2 }'
}

if (( IDLE_N > 0 )); then
  printf 'peer\tclients\topened\tstill_open\tclosed_by_peer\tresponses_2xx\topen_s\thold_s\toldest_s\tprocesses\trss_before_mib\trss_idle_mib\trss_delta_mib\trss_kib_per_client\tpss_before_mib\tpss_idle_mib\tupstream_conns\tfds_before\tfds_idle\n' > "$RESULTS_TSV"
else
  printf 'peer\tpath\trequests\tduration_s\trps\tMiB_s\tp50_ms\tp90_ms\tp99_ms\tmax_ms\tmean_ms\terr_connect\terr_read\terr_write\terr_status\terr_timeout\tproxy_cpu_s\tproxy_cpu_us_per_req\torigin_cpu_us_per_req\twrk_cpu_s\tbox_busy_pct\tupstream_conns\tdns_queries\tdnsmasq_cpu_s\tconns\tproxy_rss_mib\torigin_requests\tproxy_user_us_per_req\tproxy_sys_us_per_req\tsyscalls_per_req\tctxsw_per_req\tmigrations_per_req\twakeups_per_req\n' > "$RESULTS_TSV"
fi

ROWS=()       # markdown rows of the main table
SETUP_ROWS=() # markdown rows of the per-peer check table
FAILED=()     # "peer: reason"
WRK_CMDS=()
LOG_NOTES=()  # per sluice peer: its stderr log summary

# ROOT_PID... -> resident set of the roots and their descendants, MiB (VmRSS
# summed: pages shared between processes, e.g. nginx workers, count twice).
tree_rss_mib() {
  local m kb=0 v
  for m in $(tree_members "$@"); do
    v=$(awk '/^VmRSS:/ { print $2 }' "/proc/${m%%:*}/status" 2>/dev/null)
    kb=$(( kb + ${v:-0} ))
  done
  awk -v kb="$kb" 'BEGIN { printf "%.1f", kb / 1024 }'
}

measure() {  # PEER PATH CONNS ROOTPIDS...
  local peer=$1 path=$2 conns=$3; shift 3
  local roots="$*" o=$RUN/wrk-$peer-$path-c$conns
  if (( WARMUP > 0 )); then
    run_wrk "$peer" "$path" "$WARMUP" "$o.warmup" "$conns" || true
  fi
  local acc0 req0 dns0 pu0 pk0 or0 dc0 cpu0 acc1 req1 dns1 pu1 pk1 or1 dc1 cpu1
  read -r acc0 req0 <<<"$(origin_counts)"; dns0=$(dns_queries)
  pu0=0; pk0=0; [[ -n $roots ]] && read -r pu0 pk0 <<<"$(tree_ticks_split $roots)"
  or0=$(tree_ticks "$ORIGIN_PID"); dc0=$(tree_ticks "$DNS_PID"); cpu0=$(proc_stat_cpu)
  WRK_CMDS+=("$(wrk_cmdline "$peer" "$path" "$DURATION" "$conns")")
  local perf_pid=
  if (( PERF_STAT )) && [[ -n $roots ]]; then
    # Every thread of every process in the peer's tree at this moment.
    perf stat -x, -e raw_syscalls:sys_enter,context-switches,cpu-migrations,sched:sched_waking \
      -p "$(tree_members $roots | cut -d: -f1 | paste -sd,)" -o "$o.perf" &
    perf_pid=$!
  fi
  run_wrk "$peer" "$path" "$DURATION" "$o" "$conns"
  local rc=$?
  local sysc=- ctxsw=- migr=- wake=-
  if [[ -n $perf_pid ]]; then
    kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid" 2>/dev/null
    sysc=$(awk -F, '$3 == "raw_syscalls:sys_enter" { print $1 }' "$o.perf" 2>/dev/null)
    ctxsw=$(awk -F, '$3 == "context-switches" { print $1 }' "$o.perf" 2>/dev/null)
    migr=$(awk -F, '$3 == "cpu-migrations" { print $1 }' "$o.perf" 2>/dev/null)
    wake=$(awk -F, '$3 == "sched:sched_waking" { print $1 }' "$o.perf" 2>/dev/null)
  fi
  local rss=-
  [[ -n $roots ]] && rss=$(tree_rss_mib $roots)
  cpu1=$(proc_stat_cpu); or1=$(tree_ticks "$ORIGIN_PID"); dc1=$(tree_ticks "$DNS_PID")
  pu1=0; pk1=0; [[ -n $roots ]] && read -r pu1 pk1 <<<"$(tree_ticks_split $roots)"
  dns1=$(dns_queries); read -r acc1 req1 <<<"$(origin_counts)"
  if [[ ! -s $o ]]; then
    log "  wrk produced no result (rc=$rc); output: $(tail -3 "$o.stdout" 2>/dev/null | tr '\n' ' ')"
    FAILED+=("$peer/$path/c$conns: wrk produced no result (rc=$rc)")
    return 1
  fi
  local req dur rps bytes p50 p90 p99 max mean ec er ew es et wrkt
  req=$(kv "$o" requests); dur=$(kv "$o" duration_s); rps=$(kv "$o" rps); bytes=$(kv "$o" bytes)
  p50=$(kv "$o" lat_p50_us); p90=$(kv "$o" lat_p90_us); p99=$(kv "$o" lat_p99_us)
  max=$(kv "$o" lat_max_us); mean=$(kv "$o" lat_mean_us)
  ec=$(kv "$o" err_connect); er=$(kv "$o" err_read); ew=$(kv "$o" err_write)
  es=$(kv "$o" err_status); et=$(kv "$o" err_timeout)
  wrkt=$(cat "$o.cpu" 2>/dev/null || echo 0)
  # The status fetch after the run opens one connection of its own and is
  # one request: origin requests = those the peer (or wrk direct) sent.
  local upconns=$(( acc1 - acc0 - 1 )) dnsq=$(( dns1 - dns0 )) oreq=$(( req1 - req0 - 1 ))
  local line
  line=$(awk -v peer="$peer" -v path="$path" -v req="$req" -v dur="$dur" -v rps="$rps" -v bytes="$bytes" \
      -v p50="$p50" -v p90="$p90" -v p99="$p99" -v max="$max" -v mean="$mean" \
      -v ec="$ec" -v er="$er" -v ew="$ew" -v es="$es" -v et="$et" \
      -v pt=$(( pu1 + pk1 - pu0 - pk0 )) -v put=$(( pu1 - pu0 )) -v pkt=$(( pk1 - pk0 )) \
      -v sysc="${sysc:--}" -v ctxsw="${ctxsw:--}" -v migr="${migr:--}" -v wake="${wake:--}" -v ot=$(( or1 - or0 )) -v dt=$(( dc1 - dc0 )) -v wt="$wrkt" -v hz="$CLK_TCK" -v hasproxy="${roots:+1}" \
      -v cb0="${cpu0% *}" -v ct0="${cpu0#* }" -v cb1="${cpu1% *}" -v ct1="${cpu1#* }" \
      -v up="$upconns" -v dnsq="$dnsq" -v conns="$conns" -v rss="$rss" -v oreq="$oreq" 'BEGIN {
        mib = bytes / dur / 1048576
        pcpu = pt / hz; ocpu = ot / hz; wcpu = wt / hz; dcpu = dt / hz
        pus = (req > 0 && hasproxy) ? sprintf("%.1f", pcpu * 1e6 / req) : "-"
        pcs = hasproxy ? sprintf("%.2f", pcpu) : "-"
        ous = req > 0 ? sprintf("%.1f", ocpu * 1e6 / req) : "-"
        busy = (ct1 - ct0) > 0 ? 100 * (cb1 - cb0) / (ct1 - ct0) : 0
        ok = req > 0 && hasproxy
        uus = ok ? sprintf("%.1f", put / hz * 1e6 / req) : "-"
        kus = ok ? sprintf("%.1f", pkt / hz * 1e6 / req) : "-"
        spr = (ok && sysc ~ /^[0-9]+$/) ? sprintf("%.2f", sysc / req) : "-"
        cpr = (ok && ctxsw ~ /^[0-9]+$/) ? sprintf("%.3f", ctxsw / req) : "-"
        mpr = (ok && migr ~ /^[0-9]+$/) ? sprintf("%.4f", migr / req) : "-"
        wpr = (ok && wake ~ /^[0-9]+$/) ? sprintf("%.3f", wake / req) : "-"
        printf "%s\t%s\t%d\t%.2f\t%.0f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%.2f\t%.0f\t%d\t%d\t%.2f\t%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n",
          peer, path, req, dur, rps, mib, p50/1000, p90/1000, p99/1000, max/1000, mean/1000,
          ec, er, ew, es, et, pcs, pus, ous, wcpu, busy, up, dnsq, dcpu, conns, rss, oreq,
          uus, kus, spr, cpr, mpr, wpr
      }')
  printf '%s\n' "$line" >> "$RESULTS_TSV"
  ROWS+=("$(awk -F'\t' -v upath="$(url_path "$path")" '{
      printf "| %s | /%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s/%s/%s/%s/%s |",
        $1, upath, $25, $5, $6, $7, $8, $9, $10, $17, $18, $28, $29, $30, $31, $33, $32, $19, $26, $24, $20, $21, $22, $27, $23, $12, $13, $14, $15, $16
    }' <<<"$line")")
  # A caching peer's row on a cache-* path should be all hits.
  if [[ " $CACHE_PEERS " == *" $peer "* && $path == cache-* ]] && (( oreq > 0 )); then
    FAILED+=("$peer/$path/c$conns: $oreq requests reached the origin during the measured run (not all hits)")
  fi
  log "  $peer /$path c=$conns: $(awk -F'\t' '{ printf "%s req/s, p50 %s ms, p99 %s ms, proxy CPU %s us/req, errors c/r/w/s/t %s/%s/%s/%s/%s", $5, $7, $9, $18, $12, $13, $14, $15, $16 }' <<<"$line")"
}

# Idle mode: bench/idleconns, built once into the run dir.
IDLE_OUT=()   # per peer: a heading and idleconns' output (markdown)
IDLECONNS=$RUN/idleconns
IDLE_CMDS=()

measure_idle() {  # PEER PORT ROOTPIDS...
  local peer=$1 port=$2; shift 2
  local o=$RUN/idle-$peer.out pids acc0 acc1 rc line
  pids=$(tr ' ' ',' <<<"$*")
  local args=(-proxy "127.0.0.1:$port" -origin "$ORIGIN_HOST" -path /small -pid "$pids" -n "$IDLE_N" -hold "${IDLE_HOLD}s")
  IDLE_CMDS+=("go run ./bench/idleconns ${args[*]}")
  acc0=$(origin_accepts)
  # Bounded: at most -timeout (10 s) per connection that fails, and opening
  # 10,000 takes seconds; timeout kills it if a peer stalls everything.
  timeout $(( 120 + IDLE_HOLD + IDLE_N / 100 )) "$IDLECONNS" "${args[@]}" >"$o" 2>&1
  rc=$?
  acc1=$(origin_accepts)
  IDLE_OUT+=("### $peer" "" '```' "$(cat "$o")" '```' "")
  line=$(grep '^result ' "$o" | tail -1)
  if [[ -z $line ]]; then
    log "  idleconns produced no result (rc=$rc): $(tail -3 "$o" | tr '\n' ' ')"
    FAILED+=("$peer: idleconns produced no result (rc=$rc)")
    return 1
  fi
  local kvf=$RUN/idle-$peer.kv
  printf '%s\n' "${line#result }" > "$kvf"
  local n opened open eof ok2xx open_s hold_s oldest procs r0 r1 s0 s1 f0 f1
  n=$(kv "$kvf" n); opened=$(kv "$kvf" opened); open=$(kv "$kvf" open); eof=$(kv "$kvf" eof)
  ok2xx=$(kv "$kvf" ok2xx); open_s=$(kv "$kvf" open_s); hold_s=$(kv "$kvf" hold_s); oldest=$(kv "$kvf" oldest_s)
  procs=$(kv "$kvf" procs); r0=$(kv "$kvf" rss_before_kib); r1=$(kv "$kvf" rss_after_kib)
  s0=$(kv "$kvf" pss_before_kib); s1=$(kv "$kvf" pss_after_kib)
  f0=$(kv "$kvf" fds_before); f1=$(kv "$kvf" fds_after)
  (( open < n )) && FAILED+=("$peer: only $open of $n idle clients still open at the end (opened $opened, closed by the peer $eof)")
  # The status fetch after the run opens one connection of its own.
  line=$(awk -v peer="$peer" -v n="$n" -v opened="$opened" -v open="$open" -v eof="$eof" -v ok="$ok2xx" \
      -v os="$open_s" -v hs="$hold_s" -v old="$oldest" -v procs="$procs" -v r0="$r0" -v r1="$r1" -v s0="$s0" -v s1="$s1" \
      -v f0="$f0" -v f1="$f1" -v up=$(( acc1 - acc0 - 1 )) 'BEGIN {
        perc = opened > 0 ? (r1 - r0) / opened : 0
        p0 = s0 >= 0 ? sprintf("%.1f", s0 / 1024) : "-"
        p1 = s1 >= 0 ? sprintf("%.1f", s1 / 1024) : "-"
        printf "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%d\t%.1f\t%.1f\t%.1f\t%.2f\t%s\t%s\t%d\t%d\t%d\n",
          peer, n, opened, open, eof, ok, os, hs, old, procs, r0 / 1024, r1 / 1024, (r1 - r0) / 1024, perc, p0, p1, up, f0, f1
      }')
  printf '%s\n' "$line" >> "$RESULTS_TSV"
  ROWS+=("$(awk -F'\t' '{
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s -> %s | %s s + %s s |", $1, $2, $3, $4, $6, $11, $12, $13, $14, $15, $16, $10, $17, $18, $19, $7, $8
    }' <<<"$line")")
  log "  $peer: $open/$n idle clients still open; RSS $(awk -F'\t' '{ printf "%s -> %s MiB (%s KiB per client), PSS %s -> %s MiB, %s processes", $11, $12, $14, $15, $16, $10 }' <<<"$line")"
}

# Correctness checks through a proxy on PORT; fills CHECK_* variables.
check_peer() {  # PEER PORT
  local peer=$1 port=$2 name body sha
  CHECK_ABS=no; CHECK_BIG=no; CHECK_ORIGINFORM=no; CHECK_DNS=no; CHECK_CONFLICT=-
  body=$(curl -sS -m 10 -x "http://127.0.0.1:$port" "http://$ORIGIN_HOST/small" 2>"$RUN/check-$peer.err")
  [[ $body == "$SMALL_BODY" ]] && CHECK_ABS=yes
  name=$peer.bench.test
  local q0; q0=$(grep -c " $name " "$RUN/dnsmasq/queries.log" 2>/dev/null)
  sha=$(curl -sS -m 20 -x "http://127.0.0.1:$port" "http://$name:$ORIGIN_PORT/big" 2>>"$RUN/check-$peer.err" | sha256sum | cut -d' ' -f1)
  [[ $sha == "$BIG_SHA" ]] && CHECK_BIG=yes
  local q1; q1=$(grep -c " $name " "$RUN/dnsmasq/queries.log" 2>/dev/null)
  (( q1 > q0 )) && CHECK_DNS=yes
  body=$(curl -sS -m 10 -H "Host: $ORIGIN_HOST" "http://127.0.0.1:$port/small" 2>>"$RUN/check-$peer.err")
  [[ $body == "$SMALL_BODY" ]] && CHECK_ORIGINFORM=yes
  # Absolute-form target with a conflicting Host header (port 1 on loopback:
  # nothing listens there). "URI" = the proxy went to the URI's authority.
  local code
  code=$(curl -sS -m 10 -o "$RUN/check-$peer.conflict" -w '%{http_code}' -H 'Host: conflict.bench.test:1' \
    -x "http://127.0.0.1:$port" "http://$ORIGIN_HOST/small" 2>>"$RUN/check-$peer.err")
  if [[ $(cat "$RUN/check-$peer.conflict" 2>/dev/null) == "$SMALL_BODY" ]]; then
    CHECK_CONFLICT="URI"
  else
    CHECK_CONFLICT="HTTP ${code:-000}"
  fi
  return 0
}

# Cache check and warm-up for a cache-* path through the peer on PORT: one
# request (a caching peer stores the response), then a second one with the
# origin's request counter read around it. A hit = the right body and no
# request at the origin. Adds a row to CACHE_ROWS; a caching peer
# ($CACHE_PEERS) that misses is a failure, the others are expected to miss.
CACHE_ROWS=()
hdr() {  # FILE NAME -> value of the last NAME: header in a curl -D dump, or -
  local v
  v=$(tr -d '\r' < "$1" 2>/dev/null | awk -v n="$(tr 'A-Z' 'a-z' <<<"$2")" '
    { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) { v = substr($0, i + 1); sub(/^ +/, "", v) } }
    END { print v }')
  echo "${v:--}"
}
cache_check() {  # PEER PORT PATH
  local peer=$1 port=$2 path=$3 url f=$RUN/cache-$1-$3 code1 code2 ok=no r0 r1 oreq verdict
  url=http://$ORIGIN_HOST/$(url_path "$path")
  code1=$(curl -sS -m 20 -o "$f.body1" -D "$f.h1" -w '%{http_code}' -x "http://127.0.0.1:$port" "$url" 2>"$f.err")
  sleep 0.5  # let the peer finish storing the entry
  read -r _ r0 <<<"$(origin_counts)"
  code2=$(curl -sS -m 20 -o "$f.body2" -D "$f.h2" -w '%{http_code}' -x "http://127.0.0.1:$port" "$url" 2>>"$f.err")
  read -r _ r1 <<<"$(origin_counts)"
  oreq=$(( r1 - r0 - 1 ))
  if [[ $path == cache-big ]]; then
    [[ $(sha256sum < "$f.body2" | cut -d' ' -f1) == "$BIG_SHA" ]] && ok=yes
  else
    [[ $(cat "$f.body2") == "$SMALL_BODY" ]] && ok=yes
  fi
  if [[ $ok == yes ]] && (( oreq == 0 )); then verdict=hit; else verdict="miss"; fi
  [[ $ok == yes ]] || verdict="$verdict, wrong body"
  CACHE_ROWS+=("| $peer | /$(url_path "$path") | ${code1:-000}, Age $(hdr "$f.h1" Age) | ${code2:-000} | $(hdr "$f.h2" Age) | $(hdr "$f.h2" X-Cache) | $(hdr "$f.h2" Via) | $oreq | $verdict |")
  log "  cache check /$(url_path "$path"): 2nd response $code2, Age $(hdr "$f.h2" Age), X-Cache $(hdr "$f.h2" X-Cache), Via $(hdr "$f.h2" Via), origin requests $oreq -> $verdict"
  if [[ " $CACHE_PEERS " == *" $peer "* && $verdict != hit ]]; then
    FAILED+=("$peer: /$(url_path "$path") second request was not a cache hit ($verdict; origin requests $oreq; headers in $f.h2)")
  fi
  return 0
}

# --------------------------------------------------------------------------
# Main.

for p in $DNS_PORT $ORIGIN_PORT; do
  port_in_use "$p" && die "port $p is already in use; not touching whatever holds it"
done

log "run dir: $RUN"
if (( IDLE_N > 0 )); then
  command -v go >/dev/null || die "idle mode needs the go toolchain (bench/idleconns)"
  (cd "$REPO" && go build -o "$IDLECONNS" ./bench/idleconns) || die "go build ./bench/idleconns failed"
fi
start_dns
start_origin
log "origin nginx pid $ORIGIN_PID on 127.0.0.1:$ORIGIN_PORT, dnsmasq pid $DNS_PID on 127.0.0.1:$DNS_PORT"

for peer in $PEERS; do
  if [[ $peer == direct ]] && (( IDLE_N > 0 )); then
    log "== direct: skipped in idle mode (no proxy to measure)"
    continue
  fi
  if [[ $peer == direct ]]; then
    log "== direct (no proxy): wrk -> origin 127.0.0.1:$ORIGIN_PORT"
    SETUP_ROWS+=("| direct | 127.0.0.1:$ORIGIN_PORT | - | - | - | - | - | - | - |")
    for path in $PATHS; do for c in $CONNS_LIST; do measure direct "$path" "$c"; done; done
    continue
  fi
  port=${PORT[$peer]:-}
  [[ -n $port ]] || { FAILED+=("$peer: unknown peer"); log "unknown peer $peer"; continue; }
  ver=$(peer_version "$peer")
  log "== $peer ($ver) on 127.0.0.1:$port"
  if port_in_use "$port"; then
    FAILED+=("$peer: port $port already in use")
    SETUP_ROWS+=("| $peer | 127.0.0.1:$port | $ver | not started: port in use | | | | | |")
    continue
  fi
  PEER_PID=; PEER_NOTE=
  n_owned=${#OWNED[@]}
  PINNING=1
  if [[ -n ${EXTRA_CMD[$peer]:-} ]]; then start_extra "$peer" "$port"; else "start_$peer" "$port"; fi
  PINNING=0
  if [[ -z $PEER_PID ]]; then
    FAILED+=("$peer: ${PEER_NOTE:-did not start}")
    SETUP_ROWS+=("| $peer | 127.0.0.1:$port | $ver | not started: ${PEER_NOTE:-} | | | | | |")
    continue
  fi
  if ! wait_tcp_port "$port" "$PEER_PID" 30; then
    FAILED+=("$peer: nothing listened on $port within 30 s (logs in run dir)")
    SETUP_ROWS+=("| $peer | 127.0.0.1:$port | $ver | no listener after 30 s | | | | | |")
    while (( ${#OWNED[@]} > n_owned )); do stop_root "${OWNED[-1]}"; unset 'OWNED[-1]'; done
    continue
  fi
  sleep 1  # let multi-process peers (squid kids, ATS) finish starting
  # Listener PIDs that are not under PEER_PID (a peer that forked away) are
  # ours too: record them for accounting and for stopping.
  roots=$PEER_PID
  for lp in $(listener_pids "$port"); do
    if ! tree_members "$PEER_PID" | grep -q "^$lp:"; then
      roots="$roots $lp"
      echo "$lp:$(proc_starttime "$lp")" >> "$RUN/members.$PEER_PID"
    fi
  done
  log "  pids: $(tree_members $roots | cut -d: -f1 | sort -n | tr '\n' ' ')"
  check_peer "$peer" "$port"
  SETUP_ROWS+=("| $peer | 127.0.0.1:$port | $ver | $CHECK_ABS | $CHECK_BIG | $CHECK_ORIGINFORM | $CHECK_CONFLICT | $CHECK_DNS | $(tree_members $roots | wc -l) |")
  log "  check: absolute-form /small=$CHECK_ABS, /big via $peer.bench.test=$CHECK_BIG, origin-form=$CHECK_ORIGINFORM, URI vs conflicting Host=$CHECK_CONFLICT, dnsmasq queried=$CHECK_DNS"
  if [[ $CHECK_ABS != yes ]]; then
    FAILED+=("$peer: curl -x check failed: $(head -c 300 "$RUN/check-$peer.err" | tr '\n' ' ')")
  elif (( IDLE_N > 0 )); then
    # shellcheck disable=SC2086
    measure_idle "$peer" "$port" $roots
  else
    # cache-* paths: store the entry (one request) and check that the next
    # one is a hit, before any load.
    for path in $PATHS; do [[ $path == cache-* ]] && cache_check "$peer" "$port" "$path"; done
    for path in $PATHS; do for c in $CONNS_LIST; do measure "$peer" "$path" "$c" $roots; done; done
  fi
  log "  stopping $peer"
  while (( ${#OWNED[@]} > n_owned )); do stop_root "${OWNED[-1]}"; unset 'OWNED[-1]'; done
  if [[ " ${SLUICE_LOGS[*]} " == *" $peer "* && -f $RUN/$peer/stderr.log ]]; then
    cp "$RUN/$peer/stderr.log" "$OUT_DIR/$NAME-$TS.$peer.log"
    # gnet's "received event ... of a stale connection" (an epoll event for a
    # connection it has just closed, typically when wrk closes its
    # connections at the end of a run) is counted apart from the rest.
    slog_re='^time=[^ ]+ level=(DEBUG|INFO|WARN|ERROR) '
    n_stale=$(grep -c -E 'level=WARN msg="received event\[.*of a stale connection' "$RUN/$peer/stderr.log")
    n_warn=$(grep -E 'level=(WARN|ERROR)' "$RUN/$peer/stderr.log" | grep -c -v 'of a stale connection')
    n_other=$(grep -c -v -E "$slog_re" "$RUN/$peer/stderr.log")
    LOG_NOTES+=("$peer: stderr $(wc -l < "$RUN/$peer/stderr.log") lines: $n_warn WARN/ERROR, $n_stale gnet 'event of a stale connection' warnings, $n_other lines not from slog (panic?) -> $NAME-$TS.$peer.log")
    log "  $peer log: ${LOG_NOTES[-1]}"
    (( n_warn + n_other > 0 )) && FAILED+=("$peer: its log has $n_warn WARN/ERROR and $n_other non-slog lines, see $NAME-$TS.$peer.log")
  fi
  sleep 1
done

# --------------------------------------------------------------------------
# Report.

host_line() {
  echo "Host: $(. /etc/os-release; echo "$PRETTY_NAME"), $NCPU CPUs ($(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//')), kernel $(uname -r)."
}

report_checks() {
  echo "## Checks"
  echo
  echo "| peer | listen | version | curl -x /small | /big via <peer>.bench.test (sha256) | origin-form + Host | absolute-form + conflicting Host | dnsmasq queried | processes |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${SETUP_ROWS[@]}"
  echo
  echo "absolute-form + conflicting Host: \`curl -x ... -H 'Host: conflict.bench.test:1' http://$ORIGIN_HOST/small\`; URI = the peer went to the URI's authority, otherwise the HTTP status it answered. dnsmasq queried = dnsmasq logged a query for <peer>.bench.test during the checks (no: the peer resolved from a private hosts file, see README)."
  echo
}

report_tail() {  # sluice logs and failures
  if (( ${#LOG_NOTES[@]} )); then
    echo "## sluice logs"
    echo
    printf -- '- %s\n' "${LOG_NOTES[@]}"
    echo
  fi
  echo "## Failures"
  echo
  if (( ${#FAILED[@]} )); then printf -- '- %s\n' "${FAILED[@]}"; else echo "none"; fi
}

report_wrk() {
  echo "# Forward-proxy peers benchmark, $TS"
  echo
  host_line
  if [[ -n $PIN_PROXY ]]; then
    echo "Pinned (-A $PIN_PROXY): each proxy on CPU(s) $PIN_PROXY only (HAProxy nbthread $WORKERS, sluice started with GOMAXPROCS $WORKERS; gnetrelay and sluice on gnet run $WORKERS loop(s) and one P more); the load generator (wrk), the origin (nginx, 1 worker) and dnsmasq on CPU(s) $PIN_LOAD. The direct rows have no proxy: wrk and the origin on CPU(s) $PIN_LOAD only."
  else
    echo "Load generator (wrk), proxy, origin (nginx, 1 worker) and dnsmasq all share these $NCPU CPUs; nothing is pinned."
  fi
  echo "Run: $(date -d "${TS:0:8} ${TS:9:2}:${TS:11:2}:${TS:13:2}" '+%Y-%m-%d %H:%M:%S %Z' 2>/dev/null || echo "$TS"); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Each measured run: ${DURATION}s, $THREADS wrk thread(s) (at most one per connection), connections: $CONNS_LIST; each preceded by a ${WARMUP}s warm-up run at the same connection count."
  echo "Proxied requests are absolute-form (\`GET http://$ORIGIN_HOST/PATH HTTP/1.1\`, Host: $ORIGIN_HOST); direct requests are origin-form to 127.0.0.1:$ORIGIN_PORT."
  echo
  echo "| peer | path | conns | req/s | MiB/s | p50 ms | p90 ms | p99 ms | max ms | proxy CPU s | proxy CPU µs/req | user / sys µs/req | syscalls/req | ctx switches/req | wake-ups/req | CPU migrations/req | origin CPU µs/req | proxy RSS MiB | dnsmasq CPU s | wrk CPU s | box busy % | new upstream conns | origin requests | DNS queries | errors c/r/w/s/t |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "Columns: proxy CPU = utime+stime (+ reaped children) of all the peer's processes and threads, from /proc/PID/stat, over the measured run; µs/req divides by the requests wrk completed; user / sys splits it into utime and stime. syscalls/req, ctx switches/req, wake-ups/req and CPU migrations/req: perf stat (raw_syscalls:sys_enter, context-switches, sched:sched_waking, cpu-migrations) on every thread of the peer's processes over the measured run, with -S only (- otherwise); a wake-up is one the peer's threads made, of another task (wrk, the origin, a thread of its own). origin/dnsmasq/wrk CPU are measured the same way. proxy RSS = VmRSS summed over the peer's processes right after the measured run (shared pages of multi-process peers count once per process). box busy % = non-idle share of all $NCPU CPUs (/proc/stat). new upstream conns = connections the origin accepted during the run (nginx stub_status), i.e. not reused from the warm-up. origin requests = requests the origin served during the run (stub_status; 0 = every response came from the peer's cache). DNS queries = queries dnsmasq logged during the run. errors = wrk's connect/read/write/status(non-2xx/3xx)/timeout counts; a read error is also counted each time the server closes a connection (e.g. a peer without client keep-alive)."
  echo
  report_checks
  if (( ${#CACHE_ROWS[@]} )); then
    echo "## Cache checks"
    echo
    echo "| peer | path | 1st response (stores the entry) | 2nd response | 2nd Age | 2nd X-Cache | 2nd Via | origin requests for the 2nd | 2nd from the cache |"
    echo "|---|---|---|---|---|---|---|---:|---|"
    printf '%s\n' "${CACHE_ROWS[@]}"
    echo
    echo "Per peer and cache-* path, before its load: \`curl -x http://127.0.0.1:PORT http://$ORIGIN_HOST/cache/...\` twice, 0.5 s apart; origin requests = requests the origin's stub_status counted during the second one (its own status fetch excluded). hit = the right body and no origin request. The caching peers ($CACHE_PEERS) must hit; the others go to the origin every time."
    echo
  fi
  echo "## wrk commands (run from $HERE)"
  echo
  echo '```'
  printf '%s\n' "${WRK_CMDS[@]}"
  echo '```'
  echo
  report_tail
}

report_idle() {
  echo "# Idle keep-alive clients: proxy memory, $TS"
  echo
  host_line
  echo "Run: $(date -u -d "@$START_EPOCH" '+%Y-%m-%d %H:%M:%S UTC'); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); open-files limit $(ulimit -n)."
  echo "Per peer: bench/idleconns opens $IDLE_N client connections to it one after the other, sends one absolute-form \`GET http://$ORIGIN_HOST/small HTTP/1.1\` on each (reading the whole response), keeps them all open and idle for ${IDLE_HOLD}s, reads the memory of the peer's process tree, then checks with a non-blocking MSG_PEEK how many are still open."
  echo
  echo "| peer | clients | opened | still open at the end | 2xx responses | RSS before MiB | RSS with the idle clients MiB | RSS delta MiB | KiB per client | PSS before MiB | PSS with clients MiB | processes | new upstream conns | open fds before -> with clients | open + hold |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "RSS = VmRSS (/proc/PID/status) summed over the peer's process tree: the PID the driver started and all its descendants (nginx: master + 2 workers; a page shared by several processes counts once per process). PSS = Pss from /proc/PID/smaps_rollup summed (shared pages split between the processes that map them). Both are user-space memory: socket buffers are kernel memory and not included. \"before\" is read after the checks below (a few requests through the peer), just before the idle clients connect. still open = no EOF, reset or unexpected data on the client socket after the hold. new upstream conns = connections the origin accepted while the clients connected (nginx: one per request, closed after the response). open fds = descriptors open in the peer's processes (/proc/PID/fd): the clients plus listeners, files and the upstream connections the peer keeps idle. open + hold = seconds to open the clients one after the other + seconds they were held before the memory was read."
  echo
  echo "Peer settings for this mode: sluice \`-idle-timeout $SLUICE_IDLE_TIMEOUT\` and \`limits.max_conns: $(( IDLE_N + 100 ))\` (a -config file); HAProxy \`maxconn $HAPROXY_MAXCONN\` (client keep-alive: \`timeout http-keep-alive 60s\`); nginx as in the wrk runs (\`worker_connections 8192\` x 2 workers, \`keepalive_timeout 75s\`)."
  echo
  echo "## Per process"
  echo
  printf '%s\n' "${IDLE_OUT[@]}"
  report_checks
  echo "## Commands (run from the repository root; -pid = the peer's PIDs in this run)"
  echo
  echo '```'
  printf '%s\n' "${IDLE_CMDS[@]}"
  echo '```'
  echo
  report_tail
}

if (( IDLE_N > 0 )); then report_idle; else report_wrk; fi > "$RESULTS_MD"

cat "$RESULTS_MD"
log "results: $RESULTS_MD and $RESULTS_TSV"

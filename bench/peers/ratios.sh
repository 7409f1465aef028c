#!/usr/bin/env bash
# ratios.sh - per-round ratios between any two peers, over round TSVs of
# run-rounds.sh (or single runs of run-peers.sh), with their medians.
#
# run-rounds.sh gives each peer's ratio to one baseline, within one set of
# rounds. This gives the ratio of any peer to any other (sluice to the
# gnetrelay floor, gnetrelay to HAProxy, ...) and can join the rounds of
# several sets: each TSV is one round, and a pair counts in a round only
# when both of its peers ran in it.
#
# Usage: ratios.sh [-p PATH] [-c CONNS] [-r "A/B C/D ..."] TSV...
#   -p PATH   the path compared (default small; big and cache-big compare MiB/s)
#   -c CONNS  the connection count compared (default 50)
#   -r PAIRS  the ratios, each PEER/BASE (default: every peer to l4relay,
#             to gnetrelay and to haproxy, where both ran)
# Output: a Markdown table, one row per pair: the median of the per-round
# throughput and CPU-per-request ratios, the rounds, each round's throughput
# ratio; then each peer's median req/s, CPU, user and sys µs per request
# over the rounds it ran in.
#
#   bench/peers/ratios.sh -r "sluice-gnet/gnetrelay gnetrelay/l4relay" \
#     bench/peers/results/rounds-20261207-171417-?-*.tsv
set -u -o pipefail
path=small conns=50 pairs=""
while getopts "p:c:r:h" o; do
  case $o in
    p) path=$OPTARG ;;
    c) conns=$OPTARG ;;
    r) pairs=$OPTARG ;;
    *) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
(($#)) || { echo "ratios.sh: no TSV given (-h for usage)" >&2; exit 2; }
[[ $conns =~ ^[1-9][0-9]*$ ]] || { echo "ratios.sh: -c: want a connection count, got '$conns'" >&2; exit 2; }
for f in "$@"; do
  [[ -r $f ]] || { echo "ratios.sh: cannot read $f" >&2; exit 2; }
  head -1 "$f" | grep -q '^peer	path	' || { echo "ratios.sh: $f is not a run-peers.sh TSV" >&2; exit 2; }
done
for p in $pairs; do
  [[ $p =~ ^[^/]+/[^/]+$ ]] || { echo "ratios.sh: -r: want PEER/BASE, got '$p'" >&2; exit 2; }
done

awk -F'\t' -v path="$path" -v conns="$conns" -v pairs="$pairs" '
function median(s,   a, n, t, i, j) {
  n = split(s, a, " ")
  if (n == 0) return ""
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
  return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
FNR == 1 {
  r++
  for (i = 1; i <= NF; i++) col[$i] = i # columns by name: older TSVs lack the last ones
  next
}
$2 == path && $(col["conns"]) == conns {
  if (!($1 in seen)) { seen[$1] = 1; peers[++np] = $1 }
  thr = (path == "big" || path == "cache-big") ? $(col["MiB_s"]) : $(col["rps"])
  T[r, $1] = thr; C[r, $1] = $(col["proxy_cpu_us_per_req"])
  U[r, $1] = ("proxy_user_us_per_req" in col) ? $(col["proxy_user_us_per_req"]) : "-"
  S[r, $1] = ("proxy_sys_us_per_req" in col) ? $(col["proxy_sys_us_per_req"]) : "-"
}
END {
  n = split(pairs, want, " ")
  if (n == 0)
    for (b = 1; b <= 3; b++) {
      base = (b == 1) ? "l4relay" : (b == 2) ? "gnetrelay" : "haproxy"
      if (!(base in seen)) continue
      for (i = 1; i <= np; i++)
        if (peers[i] != base && !(peers[i] in done)) want[++n] = peers[i] "/" base
      done[base] = 1 # l4relay/gnetrelay, not gnetrelay/l4relay again
    }
  unit = (path == "big" || path == "cache-big") ? "MiB/s" : "req/s"
  printf "| ratio (/%s, %s connections) | %s | CPU per request | rounds | %s, each round |\n", path, conns, unit, unit
  print "|---|---:|---:|---:|---|"
  for (k = 1; k <= n; k++) {
    split(want[k], ab, "/")
    rt = ""; rc = ""; each = ""; m = 0
    for (i = 1; i <= r; i++) {
      if (!((i, ab[1]) in T) || !((i, ab[2]) in T) || T[i, ab[2]] + 0 <= 0) continue
      x = T[i, ab[1]] / T[i, ab[2]]; rt = rt " " x; each = each sprintf(" %.2f", x); m++
      if (C[i, ab[1]] != "-" && C[i, ab[2]] + 0 > 0) rc = rc " " C[i, ab[1]] / C[i, ab[2]]
    }
    if (m == 0) { printf "| %s | - | - | 0 | (never in the same round) |\n", want[k]; continue }
    mc = median(rc)
    printf "| %s | %.2f | %s | %d |%s |\n", want[k], median(rt), (mc == "") ? "-" : sprintf("%.2f", mc), m, each
  }
  print ""
  printf "| peer | rounds | median %s | median CPU µs/req | user | sys |\n", unit
  print "|---|---:|---:|---:|---:|---:|"
  for (p = 1; p <= np; p++) {
    nm = peers[p]; st = ""; sc = ""; su = ""; ss = ""; m = 0
    for (i = 1; i <= r; i++) {
      if (!((i, nm) in T)) continue
      m++; st = st " " T[i, nm]
      if (C[i, nm] != "-" && C[i, nm] != "") sc = sc " " C[i, nm]
      if (U[i, nm] != "-") su = su " " U[i, nm]
      if (S[i, nm] != "-") ss = ss " " S[i, nm]
    }
    printf "| %s | %d | %.0f | %s | %s | %s |\n", nm, m, median(st), (sc == "") ? "-" : median(sc), (su == "") ? "-" : median(su), (ss == "") ? "-" : median(ss)
  }
}' "$@"

#!/usr/bin/env bash
# run-rounds.sh - repeat a peers comparison R times and report medians.
#
# Single runs of the peers harness vary by up to ~20-30% for the same proxy on
# a shared 2-core machine, in both directions, and a slow minute hits every
# peer run in it. This runs run-peers.sh R times (each round runs every peer
# once, in the same order), then writes, per peer and path, the median req/s,
# MiB/s, p99 and proxy CPU µs/req over the rounds, and the median over rounds
# of each round's ratio to a baseline peer (the ratio within one round is
# what the issue's targets are about). Results: results/rounds-<ts>.md, plus
# each round's own results/rounds-<ts>-<i>-*.md/.tsv.
#
#   bench/peers/run-rounds.sh -r 5 -b haproxy -- -P "sluice haproxy" -p small -d 8
#
# Options before `--`: -r ROUNDS (default 3), -b BASELINE peer (default
# haproxy). Everything after `--` goes to run-peers.sh (not -n or -o).
set -u -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=3
BASE=haproxy
while (($#)); do
  case $1 in
    -r) ROUNDS=$2; shift 2 ;;
    -b) BASE=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "run-rounds.sh: unknown option $1 (run-peers.sh options go after --)" >&2; exit 2 ;;
  esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "run-rounds.sh: -r: want a positive number, got $ROUNDS" >&2; exit 2; }

OUT=$HERE/results
TS=$(date -u +%Y%m%d-%H%M%S)
NAME=rounds-$TS
tsvs=()
for ((i = 1; i <= ROUNDS; i++)); do
  echo "[$(date -u +%H:%M:%S)] round $i of $ROUNDS"
  "$HERE/run-peers.sh" -n "$NAME-$i" "$@" || { echo "run-rounds.sh: round $i failed" >&2; exit 1; }
  t=$(ls -t "$OUT/$NAME-$i"-*.tsv 2>/dev/null | head -1)
  [[ -n $t ]] || { echo "run-rounds.sh: round $i wrote no TSV" >&2; exit 1; }
  tsvs+=("$t")
done

{
  echo "# Peers comparison, $ROUNDS rounds, $TS"
  echo
  echo "Run: $(date -u +%Y-%m-%d) UTC, rounds started $TS; run-peers.sh options: ${*:-(defaults)}."
  echo "Each round ran every peer once; medians over the rounds. ratio = the median over rounds of"
  echo "(peer / $BASE in the same round), for req/s (MiB/s on /big and /cache-big) and proxy CPU µs/req."
  echo "Round files: $(for t in "${tsvs[@]}"; do basename "$t" .tsv; done | tr '\n' ' ')"
  echo
  echo "| peer | path | conns | rounds | median req/s | median MiB/s | median p99 ms | median proxy CPU µs/req | throughput ratio to $BASE (median; each round) | CPU ratio to $BASE (median) |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---|---:|"
  # peer path conns round rps mib p99 cpu -> one line each, then per key.
  for ((i = 0; i < ${#tsvs[@]}; i++)); do
    awk -F'\t' -v r="$i" 'NR > 1 { print $1, $2, $25, r, $5, $6, $9, $18 }' "${tsvs[$i]}"
  done | awk -v base="$BASE" '
    function median(s,   a, n, t, i, j) {
      n = split(s, a, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      if (n == 0) return "-"
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    {
      k = $1 SUBSEP $2 SUBSEP $3
      if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
      n[k]++; rps[k] = rps[k] " " $5; mib[k] = mib[k] " " $6; p99[k] = p99[k] " " $7; cpu[k] = cpu[k] " " $8
      thr = ($2 == "big" || $2 == "cache-big") ? $6 : $5
      T[k, $4] = thr; C[k, $4] = $8
      if ($1 == base) { BT[$2, $3, $4] = thr; BC[$2, $3, $4] = $8 }
      if ($4 + 0 > maxr) maxr = $4 + 0
    }
    END {
      for (i = 1; i <= nk; i++) {
        k = order[i]; split(k, f, SUBSEP)
        rt = ""; rc = ""; each = ""
        for (r = 0; r <= maxr; r++) {
          if ((k, r) in T && (f[2], f[3], r) in BT && BT[f[2], f[3], r] + 0 > 0) {
            x = T[k, r] / BT[f[2], f[3], r]; rt = rt " " x; each = each sprintf(" %.2f", x)
            if (C[k, r] != "-" && BC[f[2], f[3], r] != "-" && BC[f[2], f[3], r] + 0 > 0) rc = rc " " C[k, r] / BC[f[2], f[3], r]
          }
        }
        mt = median(rt); mc = median(rc)
        printf "| %s | /%s | %s | %d | %.0f | %.1f | %.2f | %s | %s (%s) | %s |\n", f[1], f[2], f[3], n[k],
          median(rps[k]), median(mib[k]), median(p99[k]), median(cpu[k]),
          (mt == "-") ? "-" : sprintf("%.2f", mt), substr(each, 2), (mc == "-") ? "-" : sprintf("%.2f", mc)
      }
    }'
} > "$OUT/$NAME.md"
echo "[$(date -u +%H:%M:%S)] results: $OUT/$NAME.md"
cat "$OUT/$NAME.md"

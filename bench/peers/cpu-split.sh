#!/usr/bin/env bash
# cpu-split.sh - where a proxy's CPU goes, from a perf profile, by category:
# kernel time by the system call it serves (sending, receiving, epoll, the
# scheduler) and user time by component (Go runtime, syscall stubs, gnet,
# sluice's parser, session, engine, policy, metrics; libc and the program
# for a C proxy). With the proxy's CPU per request it also gives µs/request.
#
# Usage: cpu-split.sh PERF_DATA COMM [US_PER_REQ]
#   PERF_DATA   perf record -g output of the proxy under load, e.g. from
#               run-peers.sh -x 'p:18199:perf record -F 2999 -g -o /tmp/p.data -- bin/sluice ...'
#   COMM        the proxy's thread name (sluice, haproxy, gnetrelay); other
#               processes' samples are left out
#   US_PER_REQ  the run's proxy CPU µs/req (the TSV's proxy_cpu_us_per_req)
#
# Each sample counts once, in the first category that matches its stack
# (the leaf frame first); percentages are of the COMM's samples.
set -u -o pipefail
[[ $# -ge 2 ]] || { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
data=$1 comm=$2 us=${3:-}
perf script -i "$data" -F comm,ip,sym,dso --comms "$comm" 2>/dev/null | awk -v us="$us" '
function classify(   kern, i, f) {
  kern = (leafdso ~ /kernel/)
  if (kern) {
    for (i = 1; i <= n; i++) {
      f = sym[i]
      if (f ~ /sys_(write|sendto|sendmsg|writev|splice)|ksys_write|__sys_sendto/) return "kernel: send (write/send, loopback delivery to the peer)"
      if (f ~ /sys_(read|recvfrom|recvmsg|readv)|ksys_read|__sys_recvfrom/) return "kernel: receive (read/recv)"
      if (f ~ /epoll_wait|epoll_pwait|do_epoll|ep_poll/) return "kernel: epoll_wait"
      if (f ~ /futex|nanosleep|sched_yield|clock_nanosleep/) return "kernel: scheduler (futex, sleeps)"
      if (f ~ /epoll_ctl|sys_accept|sys_connect|sys_close|__x64_sys_socket/) return "kernel: connection setup (accept, connect, epoll_ctl)"
    }
    return "kernel: other (interrupts, softirq, scheduling, timers)"
  }
  f = sym[1]
  if (leafdso ~ /vdso/) return "user: vdso (clock reads)"
  if (leafdso ~ /libc/) return "user: libc"
  if (f ~ /Syscall|^syscall\.|^golang.org\/x\/sys\/unix\.|entersyscall|exitsyscall/) return "user: syscall stubs (entersyscall/exitsyscall)"
  if (f ~ /^runtime\.|^internal\/runtime|^aeshash|^indexbyte|^memeqbody|^cmpbody/) return "user: Go runtime (scheduler, maps, memmove)"
  if (f ~ /panjf2000\/gnet/) return "user: gnet"
  if (f ~ /cloudwego\/netpoll/) return "user: netpoll"
  if (f ~ /sluice\/parser/) return "user: sluice parser"
  if (f ~ /sluice\/proxy/) return "user: sluice session (proxy)"
  if (f ~ /sluice\/engine/) return "user: sluice engine"
  if (f ~ /sluice\/policy/) return "user: sluice policy"
  if (f ~ /sluice\/metrics|sluice\/accesslog/) return "user: sluice metrics, access log"
  if (f ~ /sluice\/resolver/) return "user: sluice resolver"
  if (f ~ /^main\./) return "user: the relay program"
  if (leafdso ~ /haproxy/) return "user: haproxy"
  if (f ~ /^time\.|^internal\/strconv|^strconv|^net\/netip|^sync|^bytes|^math/) return "user: Go standard library"
  return "user: other"
}
function flush() {
  if (n > 0) { c[classify()]++; total++ }
  n = 0
}
/^[^ \t]/ { flush(); next }
/^[ \t]+[0-9a-f]+ / {
  line = $0; sub(/^[ \t]+[0-9a-f]+ /, "", line)
  d = line; sub(/.*\(/, "", d); sub(/\)$/, "", d)
  s = line; sub(/ \([^()]*\)$/, "", s); sub(/\+0x[0-9a-f]+$/, "", s)
  n++; sym[n] = s; if (n == 1) leafdso = d
  next
}
END {
  flush()
  if (total == 0) { print "no samples for that comm" > "/dev/stderr"; exit 1 }
  for (k in c) {
    split(k, part, ": ")
    side[part[1]] += c[k]
    printf "%s\t%.1f", k, 100 * c[k] / total
    if (us != "") printf "\t%.2f", us * c[k] / total
    printf "\n"
  }
  for (k in side) {
    printf "%s total\t%.1f", k, 100 * side[k] / total
    if (us != "") printf "\t%.2f", us * side[k] / total
    printf "\n"
  }
}' | sort -t$'\t' -k1,1 | awk -F'\t' -v us="$us" 'BEGIN {
    printf "| category | share of samples %% |%s\n|---|---:|%s\n", (us != "" ? " µs/request |" : ""), (us != "" ? "---:|" : "") }
  { printf "| %s | %s |%s\n", $1, $2, (us != "" ? " " $3 " |" : "") }'

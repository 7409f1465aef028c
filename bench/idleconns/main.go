// Command idleconns measures a proxy's memory with many idle keep-alive
// clients (issue 8: 10,000 idle client connections, RSS under 64 MiB). It opens
// N connections to the proxy one after the other, sends one absolute-form GET
// on each through it to an origin (reading the whole response), keeps them all
// open and idle for -hold, and prints the proxy's memory before and after.
//
// Memory is that of the proxy's process tree: the processes given by -pid
// (one PID or a comma-separated list) and all their descendants, so a
// multi-process proxy (nginx: master + workers) is counted whole. For each
// process it prints VmRSS (/proc/PID/status), PSS (/proc/PID/smaps_rollup)
// and its open descriptors (/proc/PID/fd: client sockets, plus any upstream
// connections the proxy keeps), then the sums: summed VmRSS counts a page
// shared by several processes once per process, summed PSS splits it between
// them. Socket buffers are kernel memory and are in neither.
//
// After the hold it checks, with a non-blocking MSG_PEEK on each socket, how
// many of the connections are still open (no EOF, no reset, nothing sent by
// the proxy), so a proxy that closed idle clients is visible instead of
// looking cheap. The last line is machine-readable ("result k=v ...", used by
// bench/peers/run-peers.sh -i). Exit status 1 if fewer than N connections
// were still open at the end.
//
//	ulimit -n 20000
//	go run ./bench/idleconns -proxy 127.0.0.1:3128 -origin 127.0.0.1:8080 -pid $(pgrep -n sluice) -n 10000
//
// A proxy needs its open-files limit above N, and its own connection cap
// above N (sluice: limits.max_conns in a -config file, otherwise it is
// derived from RLIMIT_NOFILE as (limit-64)/2).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one process of the measured tree.
type proc struct {
	pid          int
	comm         string
	rssKiB       int64 // VmRSS
	pssKiB       int64 // Pss from smaps_rollup, -1 if unreadable
	anonKiB      int64 // RssAnon
	fileShmemKiB int64 // RssFile + RssShmem
	fds          int   // open file descriptors, -1 if unreadable
}

// statusKiB returns the "Key: N kB" fields of a /proc status-like file.
func statusKiB(path string) map[string]int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	m := make(map[string]int64)
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				m[k] = n
			}
		}
	}
	return m
}

// parents maps every live PID to its parent PID (field 4 of /proc/PID/stat).
func parents() map[int]int {
	pp := make(map[int]int)
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		// comm may hold spaces and parentheses: fields start after the last ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 {
			if ppid, err := strconv.Atoi(f[1]); err == nil {
				pp[pid] = ppid
			}
		}
	}
	return pp
}

// tree returns the roots and all their live descendants, sorted by PID.
func tree(roots []int) []proc {
	pp := parents()
	in := make(map[int]bool)
	for _, r := range roots {
		if _, ok := pp[r]; ok {
			in[r] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for pid, ppid := range pp {
			if !in[pid] && in[ppid] {
				in[pid] = true
				changed = true
			}
		}
	}
	var ps []proc
	for pid := range in {
		st := statusKiB(fmt.Sprintf("/proc/%d/status", pid))
		if st == nil {
			continue // exited meanwhile
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		p := proc{pid: pid, comm: strings.TrimSpace(string(comm)), rssKiB: st["VmRSS"],
			anonKiB: st["RssAnon"], fileShmemKiB: st["RssFile"] + st["RssShmem"], pssKiB: -1}
		if sr := statusKiB(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); sr != nil {
			if v, ok := sr["Pss"]; ok {
				p.pssKiB = v
			}
		}
		p.fds = -1
		if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
			p.fds = len(ents)
		}
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].pid < ps[j].pid })
	return ps
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

// report prints the tree's processes and returns the summed VmRSS and PSS
// (PSS -1 if some process had none) and open descriptors.
func report(label string, ps []proc) (rss, pss int64, fds int) {
	fmt.Printf("%s:\n", label)
	for _, p := range ps {
		pssS := "?"
		if p.pssKiB >= 0 {
			pssS = mib(p.pssKiB)
		}
		fmt.Printf("  pid %-7d %-15s VmRSS %10s (anon %s, file+shmem %s)  PSS %s  fds %d\n",
			p.pid, p.comm, mib(p.rssKiB), mib(p.anonKiB), mib(p.fileShmemKiB), pssS, p.fds)
		rss += p.rssKiB
		fds += max(p.fds, 0)
		if p.pssKiB >= 0 && pss >= 0 {
			pss += p.pssKiB
		} else {
			pss = -1
		}
	}
	pssS := "?"
	if pss >= 0 {
		pssS = mib(pss)
	}
	fmt.Printf("  total (%d processes): VmRSS %s, PSS %s, open fds %d\n", len(ps), mib(rss), pssS, fds)
	return rss, pss, fds
}

// connState peeks at a connection without blocking: "open" (nothing to
// read), "eof" (the proxy closed it), "data" (the proxy sent something
// unasked, e.g. a 408 before closing) or "error" (reset, ...).
func connState(c net.Conn) string {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return "error"
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return "error"
	}
	var n int
	var rerr error
	buf := make([]byte, 1)
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // one attempt, never wait
	})
	switch {
	case err != nil:
		return "error"
	case errors.Is(rerr, syscall.EAGAIN):
		return "open"
	case rerr != nil:
		return "error"
	case n == 0:
		return "eof"
	default:
		return "data"
	}
}

func parsePIDs(s string) ([]int, error) {
	var pids []int
	for _, f := range strings.Split(s, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("bad pid %q", f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

func main() {
	proxy := flag.String("proxy", "127.0.0.1:3128", "proxy `address`")
	origin := flag.String("origin", "", "origin `host:port` the requests go to (required)")
	path := flag.String("path", "/", "`path` requested from the origin")
	pidList := flag.String("pid", "", "the proxy's process `ids`, comma-separated (required); their descendants are counted too")
	n := flag.Int("n", 10000, "idle connections to open")
	hold := flag.Duration("hold", 2*time.Second, "how long the connections stay idle before memory is read")
	timeout := flag.Duration("timeout", 10*time.Second, "per-connection dial + request `timeout`")
	flag.Parse()
	pids, err := parsePIDs(*pidList)
	if *origin == "" || err != nil || *n < 1 {
		if err != nil {
			fmt.Fprintln(os.Stderr, "-pid:", err)
		}
		flag.Usage()
		os.Exit(2)
	}

	fmt.Printf("proxy %s, pids %s and descendants; each connection: GET http://%s%s HTTP/1.1\n", *proxy, *pidList, *origin, *path)
	fmt.Println("RSS = VmRSS summed over the process tree (shared pages count once per process); PSS = proportional set size summed (shared pages split)")
	rss0, pss0, fds0 := report("before", tree(pids))

	conns := make([]net.Conn, 0, *n)
	statuses := make(map[int]int)
	closeAsked := 0
	var stopErr error
	start := time.Now()
	for i := 0; i < *n; i++ {
		c, err := net.DialTimeout("tcp", *proxy, *timeout)
		if err != nil {
			stopErr = fmt.Errorf("dial %d: %w", i, err)
			break
		}
		_ = c.SetDeadline(time.Now().Add(*timeout))
		fmt.Fprintf(c, "GET http://%s%s HTTP/1.1\r\nHost: %s\r\n\r\n", *origin, *path, *origin)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil {
			stopErr = fmt.Errorf("request %d: %w", i, err)
			c.Close()
			break
		}
		statuses[resp.StatusCode]++
		if resp.Close {
			closeAsked++
		}
		_ = c.SetDeadline(time.Time{})
		conns = append(conns, c)
	}
	openDur := time.Since(start)
	if stopErr != nil {
		fmt.Printf("stopped opening: %v\n", stopErr)
	}
	var codes []string
	for code, k := range statuses {
		codes = append(codes, fmt.Sprintf("%d x %d", k, code))
	}
	sort.Strings(codes)
	fmt.Printf("opened %d/%d connections in %.1f s; responses: %s; %d asked to close (Connection: close)\n",
		len(conns), *n, openDur.Seconds(), strings.Join(codes, ", "), closeAsked)

	time.Sleep(*hold)
	after := tree(pids)
	rss1, pss1, fds1 := report(fmt.Sprintf("with %d idle keep-alive clients, after %s idle", len(conns), *hold), after)

	state := make(map[string]int)
	for _, c := range conns {
		state[connState(c)]++
	}
	oldest := time.Since(start)
	fmt.Printf("still open at the end: %d/%d (closed by the proxy: %d, unexpected data: %d, error/reset: %d); oldest connection %.1f s old\n",
		state["open"], *n, state["eof"], state["data"], state["error"], oldest.Seconds())
	perConn := 0.0
	if len(conns) > 0 {
		perConn = float64(rss1-rss0) / float64(len(conns))
	}
	fmt.Printf("RSS %s -> %s (+%.2f KiB per connection opened)\n", mib(rss0), mib(rss1), perConn)
	fmt.Printf("result n=%d opened=%d open=%d eof=%d data=%d error=%d ok2xx=%d close_asked=%d procs=%d open_s=%.1f hold_s=%.0f oldest_s=%.1f rss_before_kib=%d rss_after_kib=%d pss_before_kib=%d pss_after_kib=%d fds_before=%d fds_after=%d\n",
		*n, len(conns), state["open"], state["eof"], state["data"], state["error"], count2xx(statuses), closeAsked,
		len(after), openDur.Seconds(), hold.Seconds(), oldest.Seconds(), rss0, rss1, pss0, pss1, fds0, fds1)
	for _, c := range conns {
		c.Close()
	}
	if state["open"] < *n {
		os.Exit(1)
	}
}

func count2xx(statuses map[int]int) int {
	k := 0
	for code, v := range statuses {
		if code >= 200 && code < 300 {
			k += v
		}
	}
	return k
}

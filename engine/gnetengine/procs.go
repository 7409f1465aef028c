package gnetengine

import (
	"runtime"
	"sync"
)

// Every gnet loop, and gnet's accepting reactor, blocks in epoll_wait as an
// ordinary system call, so its goroutine keeps its P while it waits. With as
// many loops as Ps, no P is left idle to block in Go's own netpoller, and a
// goroutine parked there (a stream-mode splice, a tunnel, a DNS exchange) is
// woken only when sysmon polls the network, which it does at most every 10 ms
// once the process looks idle to it. Measured: splicing 4 MiB responses to
// one wrk client, p99 went from 14-18 ms to 4-10 ms (loop mode: 4-9 ms) with
// one P more than loops (BENCHMARKS.md, "The 10 ms netpoll stall").
//
// So a server asks for one P beyond the loops of all running servers. It
// never lowers GOMAXPROCS; the loops' default count is taken from the
// GOMAXPROCS the process started with, not from the raised value.

// startProcs is GOMAXPROCS as the process started: the default loop count.
var startProcs = runtime.GOMAXPROCS(0)

// procs counts the loops of the servers that are running. Guarded by its mu.
var procs struct {
	mu         sync.Mutex
	loops      int
	raisedFrom int // GOMAXPROCS before reserveProcs first raised it; 0 if it did not
}

// reserveProcs counts n more loops and raises GOMAXPROCS to one beyond all
// counted loops if it is lower. It returns the GOMAXPROCS now in force.
func reserveProcs(n int) int {
	procs.mu.Lock()
	defer procs.mu.Unlock()
	procs.loops += n
	cur := runtime.GOMAXPROCS(0)
	if want := procs.loops + 1; cur < want {
		if procs.raisedFrom == 0 {
			procs.raisedFrom = cur
		}
		runtime.GOMAXPROCS(want)
		return want
	}
	return cur
}

// releaseProcs uncounts n loops of a stopped server. While other servers
// run GOMAXPROCS stays where it is (lowering it under them would be worse
// than an idle P); when the last one stops, a GOMAXPROCS that reserveProcs
// raised goes back to what it was before.
func releaseProcs(n int) {
	procs.mu.Lock()
	defer procs.mu.Unlock()
	procs.loops -= n
	if procs.loops == 0 && procs.raisedFrom > 0 {
		runtime.GOMAXPROCS(procs.raisedFrom)
		procs.raisedFrom = 0
	}
}

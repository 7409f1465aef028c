package engine

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// File descriptors are the resource an egress proxy runs out of first, and
// running out is fatal in more ways than one: gnet stops its whole engine
// when accept(2) fails with EMFILE (DESIGN.md, gnet facts), a dial fails in
// an unexpected place, a splice pipe cannot be made. So the server keeps an
// fd budget below RLIMIT_NOFILE and counts what each kind of connection
// really holds:
//
//	client socket                    1   (accept -> close)
//	upstream socket                  1   (dial start -> close)
//	TLS-originated upstream          +2  (its TCP socket and the bridge's end
//	                                      of the pair: Connect -> bridge closed)
//	stream mode or tunnel, spliced   +4  (a pipe per direction: 2 fds each)
//	admin connection                 1   (cmd/sluice counts them through FDs)
//
// A new client beyond the budget is answered 503 and closed at once by the
// accept loop; a dial beyond it fails with 503 before any socket is made; a
// tunnel or stream that cannot have its pipes copies through user space
// instead (2 fds, not 6). The reserve is for what the process holds besides
// connections (epoll and event fds, listeners, DNS sockets, log files) and
// for the brief duplicates made while a socket changes hands (Enroll, detach).

// fdReserve is kept below RLIMIT_NOFILE for the process itself: 64 plus 4
// per event loop (its epoll fd, its event fd, and headroom for the
// descriptors duplicated while a connection is enrolled or detached).
func fdReserve(loops int) int64 { return 64 + 4*int64(loops) }

// pipeFDs is what one spliced stream or tunnel holds beyond its two sockets.
const pipeFDs = 4

// FDs is the server's file-descriptor budget. Safe for concurrent use.
type FDs struct {
	// Set once by newFDs.
	limit  int64 // RLIMIT_NOFILE (soft) in force
	budget int64 // what connections may hold: limit minus the reserve

	used    atomic.Int64 // descriptors held by counted connections and pipes
	refused atomic.Int64 // acquisitions refused
}

// newFDs raises RLIMIT_NOFILE to its hard limit and sets the budget below it.
func newFDs(loops int) *FDs {
	var rl unix.Rlimit
	limit := int64(1024)
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil {
		if rl.Cur < rl.Max {
			rl.Cur = rl.Max
			_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
			_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
		}
		limit = int64(min(rl.Cur, 1<<40))
	}
	return newFDsLimit(limit, loops)
}

func newFDsLimit(limit int64, loops int) *FDs {
	b := limit - fdReserve(loops)
	if b < 16 {
		b = 16
	}
	return &FDs{limit: limit, budget: b}
}

// Acquire counts n more descriptors held. It reports false, counting
// nothing, when that would pass the budget.
func (f *FDs) Acquire(n int64) bool {
	for {
		u := f.used.Load()
		if u+n > f.budget {
			f.refused.Add(1)
			return false
		}
		if f.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// Release counts n descriptors closed; every Acquire is matched by Releases
// of the same total.
func (f *FDs) Release(n int64) {
	if f.used.Add(-n) < 0 {
		panic("BUG: engine: FDs.Release without Acquire")
	}
}

// Used reports the descriptors counted now.
func (f *FDs) Used() int64 { return f.used.Load() }

// Budget reports how many descriptors connections may hold.
func (f *FDs) Budget() int64 { return f.budget }

// Limit reports RLIMIT_NOFILE as the server found (and raised) it.
func (f *FDs) Limit() int64 { return f.limit }

// Refused reports how many acquisitions the budget refused.
func (f *FDs) Refused() int64 { return f.refused.Load() }

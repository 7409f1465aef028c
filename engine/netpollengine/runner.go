package netpollengine

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"
)

// workerIdle is how long a handler goroutine waits for more work before it
// exits.
const workerIdle = 10 * time.Second

// runner runs netpoll's handlers (its Config.Runner) on goroutines that
// live on while there is work, instead of netpoll's default goroutine pool,
// whose workers exit as soon as its queue is empty. A handler here runs the
// whole proxy session, whose stack is deeper than a new goroutine's, so on
// fresh goroutines every event paid for growing and copying the stack
// again: 7.9% of sluice's CPU under /small load (runtime.newstack and
// copystack, BENCHMARKS.md). A worker keeps its grown stack until it has
// been idle for workerIdle.
//
// A handler that panics is logged with its stack and the worker goes on, as
// netpoll's pool does: netpoll then closes that connection, and the shard
// lock was released by the handler's own defer.
//
// tasks is unbuffered: a send succeeds only when a worker is waiting, and
// otherwise a new worker starts, so the poller never blocks.
type runner struct {
	tasks  chan func()
	logger *slog.Logger
}

func newRunner(logger *slog.Logger) *runner {
	return &runner{tasks: make(chan func()), logger: logger}
}

// run is netpoll's Config.Runner.
func (r *runner) run(_ context.Context, f func()) {
	select {
	case r.tasks <- f:
	default:
		go r.work(f)
	}
}

// work runs f, then whatever comes, until idle for workerIdle.
func (r *runner) work(f func()) {
	var idle *time.Timer
	for {
		r.call(f)
		select {
		case f = <-r.tasks:
			continue
		default:
		}
		if idle == nil {
			idle = time.NewTimer(workerIdle)
		} else {
			idle.Reset(workerIdle)
		}
		select {
		case f = <-r.tasks:
			idle.Stop()
		case <-idle.C:
			return
		}
	}
}

// call runs one handler, logging a panic instead of ending the process.
func (r *runner) call(f func()) {
	defer func() {
		if p := recover(); p != nil {
			r.logger.Error("netpoll handler panicked", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	f()
}

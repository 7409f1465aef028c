package gnetengine

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"testing"

	"github.com/sluiceproxy/sluice/engine/eventloop"
)

// noHandler refuses every connection.
type noHandler struct{}

func (noHandler) Open(eventloop.Loop, eventloop.Socket, any) eventloop.Endpoint { return nil }

// A running gnet engine leaves one P beyond all running loops, and its loops
// are uncounted when it stops; the last one to stop puts GOMAXPROCS back.
func TestEngineLeavesAProcForNetpoll(t *testing.T) {
	loopsNow := func() int {
		procs.mu.Lock()
		defer procs.mu.Unlock()
		return procs.loops
	}
	before, procsBefore := loopsNow(), runtime.GOMAXPROCS(0)
	e := New()
	if err := e.Start(eventloop.Options{Loops: 3, ReadBuffer: 64 << 10, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, noHandler{}); err != nil {
		t.Fatal(err)
	}
	if n := loopsNow(); n < before+3 {
		t.Fatalf("counted loops %d, want at least %d", n, before+3)
	}
	if got, n := runtime.GOMAXPROCS(0), loopsNow(); got <= n {
		t.Fatalf("GOMAXPROCS %d with %d loops running: no P left for Go's netpoller", got, n)
	}
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-e.Done()
	if n := loopsNow(); n != before {
		t.Fatalf("after Stop: counted loops %d, want %d", n, before)
	}
	if got := runtime.GOMAXPROCS(0); before == 0 && got != procsBefore {
		t.Fatalf("after the last server stopped: GOMAXPROCS %d, want %d as before", got, procsBefore)
	}
}

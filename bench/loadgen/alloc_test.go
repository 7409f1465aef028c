package loadgen

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestRoundTripAllocs proves the steady state allocates nothing per request:
// one worker, already connected, doing whole round trips (write, read, parse,
// record) against a live origin, for each framing and with pipelining.
func TestRoundTripAllocs(t *testing.T) {
	chunked := []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n40\r\n" +
		"0123456789012345678901234567890123456789012345678901234567890123\r\n0\r\n\r\n")
	for _, tc := range []struct {
		name     string
		response []byte
		depth    int
	}{
		{"length", okResponse, 1},
		{"length-pipelined", okResponse, 8},
		{"chunked", chunked, 1},
		{"chunked-pipelined", chunked, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &rawOrigin{response: tc.response}
			addr := o.start(t)
			cfg := Config{Target: addr, URL: "http://origin.test/", Pipeline: tc.depth}
			p, err := cfg.plan()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := newRunState(ctx, cancel, p, time.Now())
			w := s.workers[0]
			if !w.dial(tc.depth) {
				t.Fatal(s.firstErr)
			}
			defer w.finish()
			const runs = 2000
			allocs := testing.AllocsPerRun(runs, func() {
				if resend := w.roundTrip(tc.depth); resend != 0 || w.conn == nil {
					panic(fmt.Sprintf("round trip failed: resend %d, error %v", resend, s.firstErr))
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per round trip of %d requests, want 0", allocs, tc.depth)
			}
			if got, want := w.requests.Load(), int64((runs+1)*tc.depth); got != want || w.errors.Load() != 0 {
				t.Errorf("%d responses, %d errors; want %d, 0", got, w.errors.Load(), want)
			}
		})
	}
}

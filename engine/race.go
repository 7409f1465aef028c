package engine

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/sluiceproxy/sluice/proxy"
)

// race dials up.addr (IPv6) and, once Config.HappyEyeballsDelay has passed
// without a connection or at once when that attempt fails, up.fallback
// (IPv4) beside it (RFC 8305 §5). The first connection wins and the other
// attempt is cancelled (or closed, if it connects anyway); up.addr becomes
// the winner's address, with the per-host count moved to it. Both failing
// returns the first error. It runs on the dial's goroutine.
func (s *Server) race(d *net.Dialer, up *upConn) (net.Conn, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		c   net.Conn
		err error
		ap  netip.AddrPort
	}
	results := make(chan result, 2)
	dial := func(ap netip.AddrPort) {
		c, err := d.DialContext(ctx, "tcp", ap.String())
		results <- result{c, err, ap}
	}
	go dial(up.addr)
	timer := time.NewTimer(s.cfg.HappyEyeballsDelay)
	defer timer.Stop()
	running, raced := 1, false
	startFallback := func() {
		if !raced {
			raced = true
			running++
			go dial(up.fallback)
		}
	}
	var firstErr error
	for {
		select {
		case <-timer.C:
			startFallback()
		case r := <-results:
			running--
			if r.err == nil {
				cancel()
				if running > 0 {
					go func() { // the loser, should it connect after all
						if l := <-results; l.c != nil {
							l.c.Close()
						}
					}()
				}
				if r.ap != up.addr {
					// The IPv4 address won: the per-host count moves to
					// it, and the IPv6 one is avoided for a while, so the
					// next connections do not wait the delay for it.
					if !s.hostLimit.Acquire(r.ap) {
						r.c.Close()
						return nil, proxy.ErrUpstreamCap
					}
					s.hostLimit.Release(up.addr)
					s.health.failed(up.addr, time.Now())
					up.addr = r.ap
				}
				return r.c, nil
			}
			if firstErr == nil {
				firstErr = r.err
			}
			if !raced {
				startFallback() // the IPv6 attempt failed before the delay
				continue
			}
			if running == 0 {
				return nil, firstErr
			}
		}
	}
}

package proxy

import (
	"net/netip"

	"github.com/sluiceproxy/sluice/resolver"
)

// Pump delivers a Session's events without ever re-entering it: the settle
// protocol every driver uses (package engine's clients on both engines, and
// proxytest's in-memory driver), so tests and fuzzing see the event
// orderings production sees.
//
// A driver calls the Pump's event methods, never the Session's, and only
// when no session call is in progress (its event loop serialises them),
// except closes: a close reported inside a session call (a write that
// fails, an upstream closing while the client's bytes are fed) is recorded
// and delivered once that call has returned. After every event the pump
// settles: it delivers what was recorded, hands the driver the tunnel or the
// stream mode the session asked for, and feeds the client's buffered bytes
// until the session takes no more.
//
// Owned by the goroutine that drives the session (its event loop).
type Pump struct {
	// S is the session. Init it, then drive it through the Pump only.
	S    Session
	port Port

	depth    int   // session calls in progress
	gone     bool  // the client closed; told once depth is 0
	goneTold bool  // the session was told
	upClosed bool  // the attached upstream closed; not yet told
	upErr    error // with upClosed

	tunnelAsk     bool   // Driver.Tunnel was called: handed over by settle
	tunnelPreface []byte // with tunnelAsk
	streamAsk     bool   // Driver.StreamBody was called: handed over by settle
	streamSpec    StreamSpec
}

// Port is the driver's side of a Pump: the client's input, and what must
// wait until the session call that asked for it has returned.
type Port interface {
	// Input returns the client's unconsumed bytes, or nil.
	Input() []byte
	// Consume drops the first n bytes of Input.
	Consume(n int)
	// Starved is Input coming back empty: the session waits for more.
	Starved()
	// Flush sends what the session wrote to the client during the event.
	Flush()
	// Away reports that the client's bytes cannot be fed now (its socket
	// is off the loop in stream mode, or a hand-over is pending).
	Away() bool
	// StartTunnel starts the tunnel the session asked for (Driver.Tunnel).
	StartTunnel(preface []byte)
	// StartStream starts the stream mode the session asked for
	// (Driver.StreamBody).
	StartStream(spec StreamSpec)
	// Gone is the session told that the client closed: drop what is kept
	// for the connection.
	Gone()
	// OverBudget reports whether the connection pair buffers more than loop
	// mode allows (false while the client is off the loop).
	OverBudget() bool
	// Park holds the client's bytes back (in the kernel) while the session
	// waits for its request body's destination; false if it cannot, and
	// the session then aborts as if it could not wait.
	Park() bool
}

// Init prepares the pump to drive its session through port. Init the
// session (p.S.Init) as well.
func (p *Pump) Init(port Port) { p.port = port }

// Busy reports whether a session call is in progress.
func (p *Pump) Busy() bool { return p.depth > 0 }

// Gone reports whether the client connection closed.
func (p *Pump) Gone() bool { return p.gone }

// Asked reports whether the session asked for a tunnel or stream mode that
// the driver has not been handed yet: the connections' bytes must wait.
func (p *Pump) Asked() bool { return p.tunnelAsk || p.streamAsk }

// AskTunnel records Driver.Tunnel; settle hands it over.
func (p *Pump) AskTunnel(preface []byte) {
	p.tunnelAsk = true
	p.tunnelPreface = append(p.tunnelPreface[:0], preface...)
}

// AskStream records Driver.StreamBody; settle hands it over.
func (p *Pump) AskStream(spec StreamSpec) {
	p.streamAsk = true
	p.streamSpec = spec
}

// Settle settles unless a session call is in progress (it then settles as
// that call's event ends).
func (p *Pump) Settle() {
	if p.depth == 0 {
		p.settle()
	}
}

// ClientClosed is the client connection closing.
func (p *Pump) ClientClosed() {
	p.gone = true
	p.Settle()
}

// UpstreamClosed is the attached upstream connection closing.
func (p *Pump) UpstreamClosed(err error) {
	p.upClosed, p.upErr = true, err
	p.Settle()
}

// UpstreamData feeds the attached upstream's bytes and returns how many the
// session consumed. It does not settle: the driver feeds what it has, then
// calls Settle.
func (p *Pump) UpstreamData(b []byte) int {
	p.depth++
	n := p.S.UpstreamData(b)
	p.depth--
	return n
}

// Resolved delivers the resolver's answer (Session.Resolved).
func (p *Pump) Resolved(gen uint32, ans *resolver.Answer, err error) {
	if p.gone {
		return
	}
	p.depth++
	p.S.Resolved(gen, ans, err)
	p.depth--
	p.Settle()
}

// Connected delivers a completed dial (Session.Connected).
func (p *Pump) Connected(gen uint32) {
	p.depth++
	p.S.Connected(gen)
	p.depth--
	p.Settle()
}

// ConnectFailed delivers a failed dial (Session.ConnectFailed).
func (p *Pump) ConnectFailed(gen uint32, err error) {
	p.depth++
	p.S.ConnectFailed(gen, err)
	p.depth--
	p.Settle()
}

// Authenticated delivers a verified credential (Session.Authenticated).
func (p *Pump) Authenticated(gen uint32, user string, ok bool) {
	if p.gone {
		return
	}
	p.depth++
	p.S.Authenticated(gen, user, ok)
	p.depth--
	p.Settle()
}

// CacheWoken delivers the end of the flight the session waited on
// (Session.CacheWoken).
func (p *Pump) CacheWoken(gen uint32) {
	if p.gone {
		return
	}
	p.depth++
	p.S.CacheWoken(gen)
	p.depth--
	p.Settle()
}

// Transparent makes the connection one of the transparent listener, with
// its original destination (Session.Transparent). Call it right after Init.
func (p *Pump) Transparent(orig netip.AddrPort) {
	p.depth++
	p.S.Transparent(orig)
	p.depth--
	p.Settle()
}

// Timeout fires the session's timer (Session.Timeout).
func (p *Pump) Timeout() {
	if p.gone {
		return
	}
	p.depth++
	p.S.Timeout()
	p.depth--
	p.Settle()
}

// StreamDone reports a streamed body moved (Session.StreamDone). The driver
// settles (or feeds the upstream's bytes first) afterwards.
func (p *Pump) StreamDone(clean bool, moved int64) {
	if p.gone {
		return
	}
	p.depth++
	p.S.StreamDone(clean, moved)
	p.depth--
}

// Drain asks the session to close after its current request (Session.Drain).
func (p *Pump) Drain() {
	p.depth++
	p.S.Drain()
	p.depth--
	p.Settle()
}

// settle delivers recorded closes, hands over a tunnel or stream mode, and
// feeds the client's bytes until the session takes no more. It runs after
// every event, at depth 0.
func (p *Pump) settle() {
	port := p.port
	for {
		if p.upClosed {
			p.upClosed = false
			err := p.upErr
			p.upErr = nil
			p.depth++
			p.S.UpstreamClosed(err)
			p.depth--
			continue
		}
		if p.gone {
			if !p.goneTold {
				p.goneTold = true
				p.tunnelAsk, p.streamAsk = false, false
				p.depth++
				p.S.ClientClosed()
				p.depth--
				port.Gone()
				continue
			}
			return
		}
		if p.S.Closed() {
			port.Flush()
			if p.tunnelAsk {
				p.tunnelAsk = false
				port.StartTunnel(p.tunnelPreface)
				p.tunnelPreface = p.tunnelPreface[:0]
			}
			return
		}
		if p.streamAsk {
			p.streamAsk = false
			port.Flush()
			port.StartStream(p.streamSpec)
			return
		}
		if port.Away() {
			port.Flush()
			return
		}
		buf := port.Input()
		if len(buf) == 0 {
			port.Starved()
			break
		}
		p.depth++
		n := p.S.ClientData(buf)
		p.depth--
		if p.gone {
			continue
		}
		if n == 0 {
			if p.upClosed || p.streamAsk {
				continue
			}
			break
		}
		port.Consume(n)
	}
	port.Flush()
	if !p.gone && !p.S.Closed() && port.OverBudget() {
		if p.S.WaitingForBody() && port.Park() {
			return // the kernel holds the rest of the body back
		}
		p.depth++
		p.S.Abort()
		p.depth--
	}
}

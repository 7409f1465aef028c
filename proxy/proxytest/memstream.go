package proxytest

import (
	"github.com/sluiceproxy/sluice/compression"
	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/proxy"
)

// Stream mode in memory. With MemDriver.AutoStream, a body the session hands
// to stream mode is moved the way the engines' stream job moves it
// (engine/stream.go): exactly the body's bytes, by its framing, from the sender's
// input to the receiver; bytes past the body stay with the sender (a
// pipelined request) or make the upstream unusable (clean false); a
// close-delimited body, or a sender that closes inside a body, ends the
// client connection. So FuzzSession sees the orderings of stream mode, not
// only of loop mode.

// memStream is the body being moved. Owned by its MemDriver.
type memStream struct {
	spec  proxy.StreamSpec
	moved int64
	enc   *proxy.BodyEncoder // spec.Encode: the body is compressed on its way
}

// newMemStream starts moving the body of spec.
func (m *MemDriver) newMemStream(spec proxy.StreamSpec) *memStream {
	st := &memStream{spec: spec}
	if spec.Encode != compression.Identity {
		st.enc = new(proxy.BodyEncoder)
		if err := st.enc.Start(m.Config.Compress.Encoders, &spec); err != nil {
			panic(err) // the session asked for a coding its Config has no encoder for
		}
	}
	return st
}

// encodedEnd is the upstream closing while a body is encoded: the end of a
// close-delimited body is sent before both connections close.
func (st *memStream) encodedEnd(dst *[]byte) {
	if st.enc == nil {
		return
	}
	if st.enc.End() == nil {
		*dst = append(*dst, st.enc.Output()...)
	}
	st.enc.Release()
}

// streamMove moves what the sender has of the streamed body; it reports
// whether the stream ended (and the session was told).
func (m *MemDriver) streamMove() bool {
	st := m.stream
	if st == nil {
		return false
	}
	src := &m.ClientIn
	var dst *[]byte
	if st.spec.ToClient {
		if m.Up == nil {
			return false
		}
		src, dst = &m.Up.In, &m.ClientOut
	} else if m.Up != nil {
		dst = &m.Up.Out
	}
	out := func(b []byte) {
		if dst != nil {
			*dst = append(*dst, b...)
		}
		st.moved += int64(len(b))
	}
	done := false
	if st.enc != nil {
		used, fin, err := st.enc.Feed(*src)
		if err != nil {
			st.enc.Release()
			m.streamFailed()
			return true
		}
		out(st.enc.Output())
		st.enc.Take()
		*src = consume(*src, used)
		if done = fin; done {
			st.enc.Release()
		}
	}
	switch framing := st.spec.Framing; {
	case st.enc != nil:
		if framing == parser.FramingClose {
			return false // ends with the upstream's close (UpstreamHangup)
		}
	case framing == parser.FramingLength:
		k := min(int64(len(*src)), st.spec.Remain)
		out((*src)[:k])
		*src = consume(*src, int(k))
		st.spec.Remain -= k
		done = st.spec.Remain == 0
	case framing == parser.FramingChunked:
		for len(*src) > 0 && !done {
			n, data, fin, err := st.spec.Chunks.Decode(*src)
			if err != nil {
				m.streamFailed()
				return true
			}
			if n == 0 {
				break
			}
			if st.spec.Unframe {
				out(data)
			} else {
				out((*src)[:n])
			}
			*src = consume(*src, n)
			done = fin
		}
	case framing == parser.FramingClose:
		out(*src)
		*src = (*src)[:0]
		return false // ends with the upstream's close (UpstreamHangup)
	}
	if !done {
		return false
	}
	m.stream, m.streamOpen = nil, false
	clean := true
	if st.spec.ToClient && len(*src) > 0 {
		clean = false // the upstream sent past the response
		*src = (*src)[:0]
	}
	m.pump.StreamDone(clean, st.moved)
	m.afterStream()
	return true
}

// streamFailed ends a stream whose sender broke the framing or closed: as
// the engines do, both connections close and the session hears of
// the client's.
func (m *MemDriver) streamFailed() {
	m.stream, m.streamOpen = nil, false
	if up := m.Up; up != nil {
		up.Open, up.Closed = false, true
		m.Up = nil
	}
	if !m.ClientClosed {
		m.ClientClosed = true
		m.pump.ClientClosed()
	}
}

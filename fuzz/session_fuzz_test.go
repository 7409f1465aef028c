package fuzz

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/compression"
	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/proxy/proxytest"
)

// FuzzSession feeds arbitrary client and upstream bytes, in arbitrary pieces,
// through a whole proxy session driven in memory (proxytest.MemDriver), and checks:
//   - no panic;
//   - what reaches an upstream is a sequence of well-formed request heads and
//     bodies: nothing of a request sluice rejected is forwarded;
//   - what reaches the client is a sequence of well-formed responses, one
//     final response per request at most, in order; and when the connection
//     is still open and idle, exactly one per request the client completed.
func FuzzSession(f *testing.F) {
	seeds := []struct {
		client, upstream string
		split            uint8 // 0: derived from the seed's index
	}{
		{"GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0},
		{"GET / HTTP/1.1\r\nHost: origin.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: origin.test\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 0},
		{"POST / HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 0},
		{"HEAD / HTTP/1.1\r\nHost: origin.test\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 0},
		{"GET http://origin.test/ HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n", 0},
		{"POST / HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", "HTTP/1.1 200 OK\r\n\r\nclose-delimited", 0},
		{"GET / HTTP/1.1\r\nHost: nx.invalid\r\n\r\n", "", 0},
		{"CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n", 0},
		{"GET / HTTP/1.1\r\nHost: origin.test\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 0},
		{"GET / HTTP/1.1\r\nHost: origin.test\r\n\r\n", "HTTP/1.1 101 Switching\r\n\r\n", 0},
		// Stream mode (bodies over StreamThreshold with a receiver behind):
		// a response body to a slow client, by length and chunked, and a
		// request body to a slow upstream, then a pipelined request.
		{"GET / HTTP/1.1\r\nHost: origin.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: origin.test\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n0123456789012345678901234567890123456789", 0x40 | 5},
		{"GET / HTTP/1.1\r\nHost: origin.test\r\n\r\n",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n01234567890123456789\r\n14\r\n01234567890123456789\r\n0\r\n\r\n", 0x40 | 7},
		{"POST / HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 40\r\n\r\n0123456789012345678901234567890123456789GET /2 HTTP/1.1\r\nHost: origin.test\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0x20 | 3},
		// A tunnel with bytes both ways after it opens.
		{"CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n\r\nclient hello", "server hello", 0x20 | 2},
		// The cache: a stored response, then a hit; a revalidation's 304.
		{"GET / HTTP/1.1\r\nHost: origin.test\r\n\r\nGET / HTTP/1.1\r\nHost: origin.test\r\n\r\n",
			"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 2\r\n\r\nok", 0},
		{"GET / HTTP/1.1\r\nHost: origin.test\r\n\r\nGET / HTTP/1.1\r\nHost: origin.test\r\n\r\n",
			"HTTP/1.1 200 OK\r\nCache-Control: no-cache, max-age=60\r\nETag: \"v\"\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 304 Not Modified\r\n\r\n", 0},
		// Compression: on the loop (a short body of known length), off it
		// (longer, and chunked), and close-delimited for HTTP/1.0.
		{"GET / HTTP/1.1\r\nHost: origin.test\r\nAccept-Encoding: gzip\r\n\r\nGET /2 HTTP/1.1\r\nHost: origin.test\r\nAccept-Encoding: zstd\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n\r\n01234567890123456789", 0},
		{"GET / HTTP/1.1\r\nHost: origin.test\r\nAccept-Encoding: zstd\r\n\r\nGET /2 HTTP/1.1\r\nHost: origin.test\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n01234567890123456789\r\n0\r\n\r\n", 3},
		// Compressed cache entries: stored, then hit by a zstd client and
		// an identity one (decoded).
		{"GET / HTTP/1.1\r\nHost: origin.test\r\n\r\nGET / HTTP/1.1\r\nHost: origin.test\r\nAccept-Encoding: zstd\r\n\r\nGET / HTTP/1.1\r\nHost: origin.test\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=60\r\nContent-Length: 60\r\n\r\n012345678901234567890123456789012345678901234567890123456789", 0},
		{"GET http://origin.test/ HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 90\r\n\r\n012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789", 0},
	}
	for i, s := range seeds {
		split := s.split
		if split == 0 {
			split = uint8(i*7 + 1)
		}
		f.Add([]byte(s.client), []byte(s.upstream), split)
	}
	f.Fuzz(func(t *testing.T, client, upstream []byte, split uint8) {
		if len(client) > 1<<14 || len(upstream) > 1<<14 {
			return
		}
		// Bodies over 16 bytes may stream; split's bits 5 and 6 say
		// whether the upstream or the client is behind, so stream mode
		// (moved by the MemDriver as the engines move it) is fuzzed
		// too.
		// The response cache is on, emptied for each input, so inputs whose
		// responses are cacheable reach hits and revalidation too.
		fuzzCache.Purge()
		m := proxytest.NewMemDriver(engine.Config{StreamThreshold: 16, Cache: fuzzCache, Compress: fuzzCompress}, netip.MustParseAddrPort("127.0.0.1:3128"))
		m.AutoStream = true
		m.BehindUpstream = split&0x20 != 0
		m.BehindClient = split&0x40 != 0
		m.Names["origin.test"] = []netip.Addr{netip.MustParseAddr("192.0.2.1")}
		step := int(split%32) + 1
		answered := map[*proxytest.MemUpstream]bool{}
		respond := func() {
			for rounds := 0; rounds < 8; rounds++ {
				up := m.Up
				if up == nil || !up.Open || len(up.Out) == 0 || answered[up] || len(answered) == maxAnswered {
					return
				}
				answered[up] = true
				for i := 0; i < len(upstream) && m.Up == up; i += step {
					m.UpstreamSend(upstream[i:min(i+step, len(upstream))])
				}
				if m.Up == up && split&0x80 != 0 {
					m.UpstreamHangup()
				}
			}
		}
		for i := 0; i < len(client); i += step {
			m.ClientSend(client[i:min(i+step, len(client))])
			respond()
		}
		respond()

		for _, up := range m.Upstreams {
			if err := checkForwarded(up.Out); err != nil {
				t.Fatalf("upstream received a malformed request stream: %v\n%q", err, up.Out)
			}
		}
		methods, complete := clientRequests(client)
		finals, err := countResponses(m.ClientOut, methods)
		if err != nil && !m.ClientClosed {
			t.Fatalf("client received malformed responses: %v\n%q", err, m.ClientOut)
		}
		if finals > len(methods) {
			t.Fatalf("%d final responses for %d requests\n%q", finals, len(methods), m.ClientOut)
		}
		if !m.ClientClosed && m.Session().Idle() && finals != complete {
			t.Fatalf("open idle connection: %d final responses for %d complete requests\n%q", finals, complete, m.ClientOut)
		}
		if tn := m.Tunneled; tn != nil {
			// A tunnel hands over exactly the bytes that follow what the
			// session consumed: the client's reach the upstream unchanged
			// and in order, and so do the upstream's after the preface.
			if !bytes.HasSuffix(client, tn.ToUpstream) {
				t.Fatalf("tunnel: client bytes to the upstream %q are not the end of what the client sent", tn.ToUpstream)
			}
			if !bytes.HasPrefix(tn.ToClient, tn.Preface) || !bytes.Contains(upstream, tn.ToClient[len(tn.Preface):]) {
				t.Fatalf("tunnel: bytes to the client %q are not the preface %q and then upstream bytes", tn.ToClient, tn.Preface)
			}
		}
		// A request that leads a collapsed-forwarding flight ends it
		// however it ends: once the client is gone, no key is in flight.
		m.ClientHangup()
		if st := fuzzCache.Flights().Stats(); st.InFlight != 0 {
			t.Fatalf("%d keys still in flight after the client closed", st.InFlight)
		}
	})
}

// fuzzCache is FuzzSession's response cache: fastcache maps its memory in
// 64 KiB chunks as entries need them, so one store, purged per input, costs
// little and keeps each input independent.
var fuzzCache = cache.NewStore(32<<20, 1<<20)

// fuzzCompress compresses bodies of 8 bytes and more: up to 32 on the loop,
// longer ones in stream mode.
var fuzzCompress, _ = compression.NewCompressor(compression.Compressor{Policy: compression.Policy{MinLength: 8}, LoopMax: 32}, compression.DefaultLevels)

// maxAnswered bounds the upstream connections FuzzSession answers, to keep
// a run linear in its input. Each answered connection gets all of the
// upstream bytes, so answering every one would cost O(len(client) ×
// len(upstream)): a client stream of many requests whose responses close the
// connection took 0.8s a run at 16 KiB each. A request after the last
// answered connection waits for its response, which leaves the session not
// idle, and every check allows that.
const maxAnswered = 8

// checkForwarded parses b as the request stream sluice sends upstream. A
// truncated body at the end is allowed; a truncated or invalid head is not.
func checkForwarded(b []byte) error {
	var p parser.RequestParser
	for len(b) > 0 {
		p.Reset()
		n, err := p.Parse(b)
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("truncated head")
		}
		b = b[n:]
		fr, length := p.Req.BodyFraming()
		var used int
		b, used = skipBody(b, fr, length)
		if used < 0 {
			return nil // the body was still being forwarded
		}
	}
	return nil
}

// skipBody drops one message body of the given framing from b; used is -1
// when b ends inside it.
func skipBody(b []byte, fr parser.Framing, length int64) ([]byte, int) {
	switch fr {
	case parser.FramingLength:
		if int64(len(b)) < length {
			return nil, -1
		}
		return b[length:], int(length)
	case parser.FramingChunked:
		var d parser.ChunkedDecoder
		used := 0
		for {
			n, _, done, err := d.Decode(b[used:])
			if err != nil || n == 0 {
				return nil, -1
			}
			used += n
			if done {
				return b[used:], used
			}
		}
	case parser.FramingClose:
		return nil, -1
	}
	return b, 0
}

// clientRequests lists the methods of the requests in the client's bytes, up
// to the first one sluice must reject (which is answered too), and how many of
// them were complete, body included.
func clientRequests(b []byte) (methods []parser.Method, complete int) {
	var p parser.RequestParser
	for len(b) > 0 {
		p.Reset()
		n, err := p.Parse(b)
		if err != nil {
			return append(methods, parser.MethodOther), complete + 1
		}
		if n == 0 {
			return methods, complete
		}
		methods = append(methods, p.Req.Method)
		b = b[n:]
		fr, length := p.Req.BodyFraming()
		var used int
		b, used = skipBody(b, fr, length)
		if used < 0 {
			return methods, complete
		}
		complete++
	}
	return methods, complete
}

// countResponses counts the final responses in the client's bytes, using the
// request methods for framing (HEAD). 1xx responses are skipped.
func countResponses(b []byte, methods []parser.Method) (int, error) {
	var p parser.ResponseParser
	finals := 0
	for len(b) > 0 {
		p.Reset()
		n, err := p.Parse(b)
		if err != nil {
			return finals, err
		}
		if n == 0 {
			return finals, errors.New("truncated response head")
		}
		b = b[n:]
		if p.Resp.StatusCode < 200 {
			continue
		}
		m := parser.MethodGET
		if finals < len(methods) {
			m = methods[finals]
		}
		finals++
		fr, length := parser.ResponseFraming(m, &p.Resp)
		var used int
		b, used = skipBody(b, fr, length)
		if used < 0 {
			return finals, nil
		}
	}
	return finals, nil
}

package proxy

import (
	"strconv"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/compression"
	"github.com/sluiceproxy/sluice/internal/ascii"
	"github.com/sluiceproxy/sluice/parser"
)

// Compression of responses (Config.Compress). A response the policy allows
// (compression.Policy.Decide: not to HEAD, not 204/304/206, not for a
// Range, not no-transform, not already encoded, a compressible type, long
// enough) goes to a client that accepts one of the offered codings
// compressed: with Content-Encoding, Accept-Encoding added to Vary, a weak
// ETag (parser.ForwardResponse.Encoding).
//
// A body of known length up to LoopMax is gathered on the loop, compressed
// whole when it ends and sent with its Content-Length. Any other body goes
// to stream mode at once (StreamSpec.Encode): the driver compresses it off
// the loop as it arrives (BodyEncoder), chunked, or delimited by close for
// an HTTP/1.0 client.

// sessionCompress is the compression state of a session's current
// response. Owned by the session.
type sessionCompress struct {
	loop   bool               // the body is gathered on the loop: head and body wait for its end
	coding compression.Coding // with loop: the coding
	head   []byte             // with loop: the head, without its empty line
	body   []byte             // with loop: the body so far
	out    encodedWriter
	vals   [][]byte
}

// compressStart decides whether the response whose head is resp is
// compressed and, if it is, writes its head (now, or with the body when it
// is gathered on the loop) and starts its body's path. It reports whether
// it took the response.
func (s *Session) compressStart(resp *parser.Response) bool {
	z := s.cfg.Compress
	if z == nil || !s.reqDone || s.respFrame == parser.FramingNone ||
		s.respFrame == parser.FramingLength && s.respRemain == 0 {
		return false
	}
	zs := s.zip
	if zs == nil {
		zs = new(sessionCompress)
		s.zip = zs
	}
	req := &s.rp.Req
	zs.vals = fieldValues(req.Raw, req.Headers, []byte("accept-encoding"), zs.vals[:0])
	coding := compression.Negotiate(zs.vals, z.Offered)
	if coding == compression.Identity {
		return false
	}
	zs.vals = fieldValues(resp.Raw, resp.Headers, []byte("cache-control"), zs.vals[:0])
	ct, _ := resp.Header("content-type")
	ce, hasCE := resp.Header("content-encoding")
	length := int64(-1)
	if s.respFrame == parser.FramingLength {
		length = s.respRemain
	}
	x := compression.Exchange{
		Head:        req.Method == parser.MethodHEAD,
		Range:       hasField(req.Raw, req.Headers, "range", ""),
		Status:      resp.StatusCode,
		NoTransform: len(zs.vals) > 0 && cache.ParseCacheControl(zs.vals...).NoTransform,
		Encoded:     hasCE && !(len(ce) == 0 || ascii.EqualFold(ce, "identity")),
		ContentType: ct,
		Length:      length,
		Coding:      coding,
	}
	if z.Policy.Decide(x) != compression.Compress {
		return false
	}
	fr := parser.ForwardResponse{Via: s.via, Date: s.httpDate(), Encoding: coding.String()}
	zs.loop, zs.coding = length >= 0 && length <= int64(z.LoopMax), coding
	switch {
	case zs.loop:
		// Sent once the body is compressed, with its Content-Length.
	case req.ProtoMinor == 0:
		s.closeAfter = true // RFC 9112 §7: no chunked to an HTTP/1.0 client
	default:
		fr.Chunked = true
	}
	if s.closeAfter {
		fr.Close = true
	} else if req.ProtoMinor == 0 {
		fr.KeepAlive = true
	}
	s.rec.Status = resp.StatusCode
	s.rec.Encoding = coding.String()
	s.clientSent = true
	s.phase = respBody
	s.d.SetTimer(s.cfg.IdleTimeout)
	if zs.loop {
		zs.head = parser.AppendResponseHead(zs.head[:0], resp, &fr)
		zs.head = zs.head[:len(zs.head)-2] // Content-Length follows
		zs.body = zs.body[:0]
		return true
	}
	s.out = parser.AppendResponseHead(s.out[:0], resp, &fr)
	s.toClient(s.out)
	s.cacheStop() // the body bypasses the session
	s.streaming = true
	s.streamResp = true
	s.d.SetTimer(0) // the stream applies the idle timeout itself
	s.d.StreamBody(StreamSpec{
		ToClient: true, Framing: s.respFrame, Remain: s.respRemain, Chunks: s.respChunks,
		Unframe: req.ProtoMinor == 0, Encode: coding,
	})
	return true
}

// compressing reports whether the response body is being gathered to be
// compressed on the loop.
func (s *Session) compressing() bool { return s.zip != nil && s.zip.loop }

// compressBody gathers body bytes to compress on the loop.
func (s *Session) compressBody(b []byte) {
	s.zip.body = append(s.zip.body, b...)
}

// compressDone compresses the gathered body and sends the response.
func (s *Session) compressDone() {
	zs := s.zip
	zs.loop = false
	zs.out = encodedWriter{out: zs.out.out[:0]}
	enc, err := s.cfg.Compress.Encoders.Get(zs.coding, &zs.out)
	if err == nil {
		_, err = enc.Write(zs.body)
		if err == nil {
			err = enc.Close()
		}
		enc.Release()
	}
	if err != nil {
		// Encoders do not fail writing to memory; if one ever does, the
		// client must not get a partial body with a full length.
		s.cfg.Logger.Error("compress response", "err", err)
		s.closeAfter = true
		return
	}
	zs.head = append(zs.head, "Content-Length: "...)
	zs.head = strconv.AppendInt(zs.head, int64(len(zs.out.out)), 10)
	zs.head = append(zs.head, "\r\n\r\n"...)
	s.toClient(zs.head)
	s.toClient(zs.out.out)
	if cap(zs.body) > 64<<10 {
		zs.body = nil
	}
	if cap(zs.out.out) > 64<<10 {
		zs.out.out = nil
	}
}

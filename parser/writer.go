package parser

import (
	"strconv"

	"github.com/sluiceproxy/sluice/internal/ascii"
)

// Head writers: the request head sluice sends upstream and the response head it
// sends back, append-style so that a reused buffer makes them allocation-free.
// Field lines are written as "Name: value" with the value as parsed (OWS
// trimmed), in their original order.

// ForwardRequest says how to rewrite a request head for the upstream.
type ForwardRequest struct {
	// Authority is the value of the Host field to send, the target
	// authority (RFC 9112 §3.2.2: it replaces the client's Host). Required.
	Authority []byte
	// Via is this proxy's Via entry, for instance "1.1 sluice" (RFC 9110
	// §7.6.3): appended to the last Via field as ", 1.1 sluice", or sent as a
	// new field. Empty: no Via.
	Via []byte
	// Upgrade keeps the Upgrade field and sends "Connection: upgrade".
	Upgrade bool
	// MaxForwards, with SetMaxForwards, replaces every Max-Forwards field
	// with this value (RFC 9110 §7.6.2: an intermediary forwarding OPTIONS
	// or TRACE decrements it).
	MaxForwards    int64
	SetMaxForwards bool
	// AbsoluteForm sends the target as "http://" Authority and the path:
	// the request goes to a parent proxy (RFC 9112 §3.2.2).
	AbsoluteForm bool
	// ProxyAuthorization, if not empty, is sent as the Proxy-Authorization
	// field: the parent proxy's credentials (the client's is never
	// forwarded).
	ProxyAuthorization string
}

// AppendRequestHead appends to dst the head of r as sluice forwards it:
// "METHOD target HTTP/1.1", where an absolute-form target becomes its
// origin-form (the path and query, "/" when empty, "*" for an OPTIONS with
// neither: RFC 9112 §3.2.4) and other forms are kept;
// "Host: " f.Authority; every field of r except the hop-by-hop ones
// (Connection, Keep-Alive, Proxy-Connection, Proxy-Authorization, TE, Trailer,
// Upgrade unless f.Upgrade, the client's Host, and every field named in
// Connection); the Via entry; "Connection: upgrade" if f.Upgrade; and the empty
// line. Content-Length and Transfer-Encoding are kept even when Connection
// names them, so that Connection cannot change the framing the upstream sees;
// Content-Length is sent once, as the parsed value.
func AppendRequestHead(dst []byte, r *Request, f *ForwardRequest) []byte {
	raw := r.Raw
	dst = append(dst, raw[r.MethodName.Start:r.MethodName.End]...)
	dst = append(dst, ' ')
	switch {
	case f.AbsoluteForm && r.Method != MethodCONNECT:
		// To a parent proxy: http://authority, then the path as below
		// ("OPTIONS *" and a pathless OPTIONS ask about the server: none).
		dst = append(dst, "http://"...)
		dst = append(dst, f.Authority...)
		if r.Form == FormAbsolute {
			if p := raw[r.Path.Start:r.Path.End]; len(p) > 0 || r.Method != MethodOPTIONS {
				if len(p) == 0 || p[0] != '/' {
					dst = append(dst, '/')
				}
				dst = append(dst, p...)
			}
		} else if t := raw[r.Target.Start:r.Target.End]; len(t) > 0 && t[0] == '/' {
			dst = append(dst, t...)
		}
	case r.Form == FormAbsolute:
		p := raw[r.Path.Start:r.Path.End]
		switch {
		case len(p) == 0 && r.Method == MethodOPTIONS:
			// RFC 9112 §3.2.4: "OPTIONS http://h:8001 HTTP/1.1" asks
			// about the server, and is forwarded as "OPTIONS *".
			dst = append(dst, '*')
		case len(p) == 0 || p[0] != '/':
			dst = append(dst, '/')
		}
		dst = append(dst, p...)
	default:
		dst = append(dst, raw[r.Target.Start:r.Target.End]...)
	}
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, f.Authority...)
	dst = append(dst, "\r\n"...)
	if f.ProxyAuthorization != "" {
		dst = append(dst, "Proxy-Authorization: "...)
		dst = append(dst, f.ProxyAuthorization...)
		dst = append(dst, "\r\n"...)
	}
	skip := ""
	if f.SetMaxForwards {
		skip = "Max-Forwards"
		dst = append(dst, "Max-Forwards: "...)
		dst = strconv.AppendInt(dst, f.MaxForwards, 10)
		dst = append(dst, "\r\n"...)
	}
	dst = appendFields(dst, raw, r.Headers, f.Via, f.Upgrade, false, r.ContentLength, skip, "", false)
	if f.Upgrade {
		dst = append(dst, "Connection: upgrade\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// ForwardResponse says how to rewrite a response head for the client.
type ForwardResponse struct {
	// Via is this proxy's Via entry, as in ForwardRequest.
	Via []byte
	// Close sends "Connection: close": the client connection ends after this
	// response.
	Close bool
	// KeepAlive sends "Connection: keep-alive", for an HTTP/1.0 client that
	// asked to keep the connection.
	KeepAlive bool
	// Unframe drops Transfer-Encoding and Content-Length, for a body the
	// proxy re-frames (chunked to an HTTP/1.0 client, delimited by close).
	Unframe bool
	// Upgrade keeps the Upgrade field and sends "Connection: upgrade".
	Upgrade bool
	// Date, if not empty, is sent as a Date field when the response has
	// none (RFC 9110 §6.6.1: a recipient with a clock adds it): an
	// IMF-fixdate such as "Sun, 06 Nov 1994 08:49:37 GMT".
	Date []byte
	// Skip, if not empty, names (in any case) a field left out: Age, for a
	// head stored in the cache (a hit sends its own).
	Skip string
	// Encoding, if not empty, is the content-coding the proxy applies to
	// the body (gzip, zstd): it is sent as Content-Encoding, Accept-Encoding
	// is added to Vary (RFC 9110 §12.5.5: the response now depends on it),
	// a strong ETag becomes weak (§8.8.1: the bytes differ from the
	// origin's), and Content-Length and Transfer-Encoding are dropped, as
	// with Unframe: the caller frames the body.
	Encoding string
	// VaryEncoding adds Accept-Encoding to Vary as Encoding does, for a
	// representation sent as it is by a proxy that sends others encoded.
	VaryEncoding bool
	// Chunked sends "Transfer-Encoding: chunked" (a body the proxy frames).
	Chunked bool
}

// AppendResponseHead appends to dst the head of r as sluice returns it to the
// client: "HTTP/1.1 code reason", the fields of r minus the hop-by-hop ones (as
// in AppendRequestHead; Transfer-Encoding and Content-Length too if
// f.Unframe), the Via entry, a Connection field with the options f asks for
// (upgrade, close, keep-alive), and the empty line.
func AppendResponseHead(dst []byte, r *Response, f *ForwardResponse) []byte {
	raw := r.Raw
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(r.StatusCode), 10)
	dst = append(dst, ' ')
	dst = append(dst, raw[r.Reason.Start:r.Reason.End]...)
	dst = append(dst, "\r\n"...)
	dst = appendFields(dst, raw, r.Headers, f.Via, f.Upgrade, f.Unframe || f.Encoding != "", r.ContentLength, f.Skip, f.Encoding, f.VaryEncoding || f.Encoding != "")
	if f.Chunked {
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	if len(f.Date) > 0 && !r.HasDate {
		dst = append(dst, "Date: "...)
		dst = append(dst, f.Date...)
		dst = append(dst, "\r\n"...)
	}
	if f.Upgrade || f.Close || f.KeepAlive {
		dst = append(dst, "Connection: "...)
		sep := false
		for _, o := range [...]struct {
			on   bool
			name string
		}{{f.Upgrade, "upgrade"}, {f.Close, "close"}, {f.KeepAlive, "keep-alive"}} {
			if !o.on {
				continue
			}
			if sep {
				dst = append(dst, ", "...)
			}
			dst = append(dst, o.name...)
			sep = true
		}
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// appendFields appends the end-to-end fields of hs and the Via entry via.
// Content-Length is written once, as the decimal cl, where the first
// Content-Length field was (RFC 9110 §8.6: a list of identical values or
// repeated fields become one value).
// A field named skip (if not empty; compared ignoring case on both sides)
// is left out.
//
// With enc (a content-coding the proxy applies), a strong ETag is sent weak
// and Content-Encoding: enc follows. With varyEnc, Accept-Encoding is added
// to the last Vary field unless a Vary lists it or is "*" (or a Vary field
// is added).
func appendFields(dst, raw []byte, hs []Header, via []byte, upgrade, unframe bool, cl int64, skip, enc string, varyEnc bool) []byte {
	// listed: Connection names a field other than the ones dropped anyway,
	// so each field must be looked up in it.
	listed := false
	clWritten := false
	lastVia, lastVary := -1, -1
	varyDone := false // a Vary field lists Accept-Encoding, or is "*"
	// raw[runStart:runEnd]: field lines to write as they are, not yet
	// appended.
	var runStart, runEnd int32
	for i := range hs {
		switch hs[i].kindIn(raw) {
		case fieldConnection:
			listed = listed || namesOtherFields(raw[hs[i].Value.Start:hs[i].Value.End])
		case fieldVia:
			lastVia = i
		case fieldVary:
			if !varyEnc {
				continue
			}
			lastVary = i
			for v := raw[hs[i].Value.Start:hs[i].Value.End]; len(v) > 0; {
				var e []byte
				e, v = nextElement(v)
				varyDone = varyDone || equalFold(e, "accept-encoding") || len(e) == 1 && e[0] == '*'
			}
		}
	}
	drop := droppedKinds(upgrade, unframe)
	// The fields amended in place: -1 for none.
	amendVia, amendVary := -1, -1
	if len(via) > 0 {
		amendVia = lastVia
	}
	if !varyDone {
		amendVary = lastVary
	}
	for i := range hs {
		h := &hs[i]
		kind := h.kindIn(raw)
		if drop&(1<<kind) != 0 {
			continue
		}
		if listed && connectionDroppable&(1<<kind) != 0 && connectionListed(raw, hs, raw[h.Name.Start:h.Name.End]) {
			continue
		}
		if skip != "" && h.Name.Len() == len(skip) && ascii.EqualFold(raw[h.Name.Start:h.Name.End], skip) {
			continue
		}
		// asIs: the line is written "Name: value" as parsed, so when raw
		// holds it in that form it is copied from there.
		asIs := true
		if cl >= 0 && kind == fieldContentLength {
			if clWritten {
				continue
			}
			clWritten = true
			var b [20]byte
			asIs = string(raw[h.Value.Start:h.Value.End]) == string(strconv.AppendInt(b[:0], cl, 10))
		}
		if i == amendVary || i == amendVia || kind == fieldETag && enc != "" {
			asIs = false
		}
		if asIs && normalFieldLine(raw, h) {
			// One append for a run of such lines, adjacent in raw.
			if h.Name.Start != runEnd {
				dst = append(dst, raw[runStart:runEnd]...)
				runStart = h.Name.Start
			}
			runEnd = h.Value.End + 2
			continue
		}
		dst = append(dst, raw[runStart:runEnd]...)
		runStart, runEnd = 0, 0
		dst = append(dst, raw[h.Name.Start:h.Name.End]...)
		dst = append(dst, ": "...)
		if kind == fieldContentLength && cl >= 0 {
			dst = strconv.AppendInt(dst, cl, 10)
			dst = append(dst, "\r\n"...)
			continue
		}
		if enc != "" && kind == fieldETag && !(h.Value.Len() >= 2 && raw[h.Value.Start] == 'W' && raw[h.Value.Start+1] == '/') {
			dst = append(dst, "W/"...)
		}
		dst = append(dst, raw[h.Value.Start:h.Value.End]...)
		if i == amendVary {
			if h.Value.Len() > 0 {
				dst = append(dst, ", "...)
			}
			dst = append(dst, "Accept-Encoding"...)
		}
		if i == amendVia {
			if h.Value.Len() > 0 {
				dst = append(dst, ", "...)
			}
			dst = append(dst, via...)
		}
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, raw[runStart:runEnd]...)
	if lastVia < 0 && len(via) > 0 {
		dst = append(dst, "Via: "...)
		dst = append(dst, via...)
		dst = append(dst, "\r\n"...)
	}
	if varyEnc && lastVary < 0 {
		dst = append(dst, "Vary: Accept-Encoding\r\n"...)
	}
	if enc != "" {
		dst = append(dst, "Content-Encoding: "...)
		dst = append(dst, enc...)
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// normalFieldLine reports whether raw holds h as the writers write it,
// "Name: value" CRLF: one SP after the colon and no trailing OWS.
func normalFieldLine(raw []byte, h *Header) bool {
	n, v := h.Name.End, h.Value.End
	return h.Value.Start == n+2 && int(v)+2 <= len(raw) && raw[n] == ':' && raw[n+1] == ' ' &&
		raw[v] == '\r' && raw[v+1] == '\n'
}

// droppedKinds returns the set (bit 1<<kind) of the kinds of fields that are
// not forwarded whatever Connection says: the hop-by-hop fields (RFC 9110
// §7.6.1), Host (replaced), Upgrade unless upgrade, and the framing fields
// if unframe (the proxy re-frames the body).
func droppedKinds(upgrade, unframe bool) uint32 {
	d := uint32(1<<fieldHost | 1<<fieldConnection | 1<<fieldTE | 1<<fieldTrailer |
		1<<fieldKeepAlive | 1<<fieldProxyConnection | 1<<fieldProxyAuthorization)
	if !upgrade {
		d |= 1 << fieldUpgrade
	}
	if unframe {
		d |= 1<<fieldContentLength | 1<<fieldTransferEncoding
	}
	return d
}

// connectionDroppable is the set of the kinds of fields dropped when
// Connection names them: not those droppedKinds decides on, nor Via, kept
// because it carries our entry.
const connectionDroppable uint32 = 1<<fieldOther | 1<<fieldExpect | 1<<fieldDate | 1<<fieldVary | 1<<fieldETag

// namesOtherFields reports whether the Connection value v has an option other
// than close, keep-alive and upgrade, whose fields are dealt with by name.
func namesOtherFields(v []byte) bool {
	for len(v) > 0 {
		var e []byte
		e, v = nextElement(v)
		if len(e) > 0 && !equalFold(e, "close") && !equalFold(e, "keep-alive") && !equalFold(e, "upgrade") {
			return true
		}
	}
	return false
}

package compression

import "github.com/sluiceproxy/sluice/internal/ascii"

// DefaultTypes are the media types compressed unless configured otherwise:
// text, JSON, JavaScript, XML and SVG ("+json" and "+xml" suffixes
// included).
var DefaultTypes = []string{"text/*", "application/json", "application/javascript", "application/xml", "image/svg+xml", "+json", "+xml"}

// DefaultMinLength is the smallest body compressed: below it the coding's
// framing costs more than it saves.
const DefaultMinLength = 1024

// Reason says why a response is not compressed; "" means it may be.
type Reason string

// The reasons Decide gives.
const (
	Compress          Reason = ""
	ReasonHead        Reason = "head"         // a HEAD request: no body to code
	ReasonStatus      Reason = "status"       // 204, 304, 206 or 1xx: no body, or a range of one
	ReasonRange       Reason = "range"        // the request asked for a range
	ReasonNoTransform Reason = "no-transform" // Cache-Control: no-transform
	ReasonEncoded     Reason = "encoded"      // the origin sent a Content-Encoding
	ReasonType        Reason = "type"         // not a compressible media type
	ReasonShort       Reason = "short"        // a known length below the minimum
	ReasonNotAccepted Reason = "not-accepted" // the client accepts none of the codings
)

// Exchange is what decides whether a response is compressed.
type Exchange struct {
	Head        bool   // the request's method is HEAD
	Range       bool   // the request has a Range field
	Status      int    // the response's status
	NoTransform bool   // the response's Cache-Control has no-transform
	Encoded     bool   // the response has a Content-Encoding other than identity
	ContentType []byte // the response's Content-Type value
	Length      int64  // the body's length, -1 when not known (chunked or close-delimited)
	Coding      Coding // what Negotiate chose
}

// Policy is which responses are compressed: the media types (type/subtype,
// type/*, or a +suffix), and the minimum length.
type Policy struct {
	Types     []string
	MinLength int64
}

// Decide says whether the response may be compressed with x.Coding.
func (p Policy) Decide(x Exchange) Reason {
	switch {
	case x.Head:
		return ReasonHead
	case x.Status < 200 || x.Status == 204 || x.Status == 304 || x.Status == 206:
		return ReasonStatus
	case x.Range:
		return ReasonRange
	case x.NoTransform:
		return ReasonNoTransform
	case x.Encoded:
		return ReasonEncoded
	case !p.Compressible(x.ContentType):
		return ReasonType
	case x.Length >= 0 && x.Length < p.MinLength:
		return ReasonShort
	case x.Coding == Identity:
		return ReasonNotAccepted
	}
	return Compress
}

// Compressible reports whether a Content-Type value names one of p's media
// types. Parameters (charset) are ignored; matching is case-insensitive.
func (p Policy) Compressible(contentType []byte) bool {
	ct := contentType
	for i, c := range ct {
		if c == ';' {
			ct = ct[:i]
			break
		}
	}
	ct = ascii.TrimOWS(ct)
	slash := -1
	for i, c := range ct {
		if c == '/' {
			slash = i
			break
		}
	}
	if slash <= 0 || slash == len(ct)-1 {
		return false
	}
	for _, t := range p.Types {
		switch {
		case len(t) > 0 && t[0] == '+':
			if len(ct) > len(t) && ascii.EqualFold(ct[len(ct)-len(t):], t) {
				return true
			}
		case len(t) > 2 && t[len(t)-2:] == "/*":
			if ascii.EqualFold(ct[:slash+1], t[:len(t)-1]) {
				return true
			}
		default:
			if ascii.EqualFold(ct, t) {
				return true
			}
		}
	}
	return false
}

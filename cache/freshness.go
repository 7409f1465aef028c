package cache

import (
	"time"

	"github.com/sluiceproxy/sluice/internal/ascii"
)

// HTTP-date layouts (RFC 9110 §5.6.7): the preferred IMF-fixdate and the two
// obsolete forms a recipient must accept.
const (
	imfFixdate = "Mon, 02 Jan 2006 15:04:05 GMT"
	rfc850Date = "Monday, 02-Jan-06 15:04:05 GMT"
	asctime    = "Mon Jan _2 15:04:05 2006"
)

// ParseHTTPDate parses an HTTP-date in any of its three forms; ok is false
// for anything else (an invalid date: RFC 9111 §5.3 then treats Expires as
// a time in the past).
func ParseHTTPDate(b []byte) (t time.Time, ok bool) {
	s := string(ascii.TrimOWS(trimLeft(b)))
	for _, layout := range [...]string{imfFixdate, rfc850Date, asctime} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Times are what a stored response's age and freshness are computed from
// (RFC 9111 §4.2): its header fields and when it was requested and received.
type Times struct {
	Date      time.Time // the Date field; zero if absent or invalid
	Expires   time.Time // the Expires field; zero if absent
	ExpiresOK bool      // Expires was present; with a zero Expires: invalid, so already expired
	Age       int64     // the Age field in seconds; 0 if absent or invalid
	Request   time.Time // when the request that got the response was sent
	Response  time.Time // when the response was received
}

// Lifetime is the response's freshness lifetime for a shared cache (RFC 9111
// §4.2.1): s-maxage, else max-age, else Expires minus Date (Date being the
// receipt time when absent), else 0: sluice applies no heuristic freshness
// (§4.2.2), as Envoy and ATS do by default. Invalid freshness information
// gives 0 (stale).
func Lifetime(cc Directives, t Times) time.Duration {
	if cc.Invalid {
		return 0
	}
	switch {
	case cc.SMaxAge != Absent:
		return seconds(cc.SMaxAge)
	case cc.MaxAge != Absent:
		return seconds(cc.MaxAge)
	case t.ExpiresOK:
		if t.Expires.IsZero() {
			return 0
		}
		date := t.Date
		if date.IsZero() {
			date = t.Response
		}
		if d := t.Expires.Sub(date); d > 0 {
			return d
		}
	}
	return 0
}

// HasLifetime reports whether the response states its freshness explicitly
// (s-maxage, max-age or Expires, RFC 9111 §4.2.1). Without heuristic
// freshness only such a response is worth storing.
func HasLifetime(cc Directives, t Times) bool {
	return cc.SMaxAge != Absent || cc.MaxAge != Absent || t.ExpiresOK
}

// CurrentAge is the response's age at now (RFC 9111 §4.2.3): the age it had
// when received (the larger of the apparent age from Date and the Age field
// corrected for the request's delay), plus the time it has been stored.
func CurrentAge(t Times, now time.Time) time.Duration {
	apparent := time.Duration(0)
	if !t.Date.IsZero() {
		apparent = max(0, t.Response.Sub(t.Date))
	}
	delay := max(0, t.Response.Sub(t.Request))
	corrected := seconds(t.Age) + delay
	initial := max(apparent, corrected)
	resident := max(0, now.Sub(t.Response))
	return initial + resident
}

// seconds converts delta-seconds to a Duration (at most 2^31 s: no
// overflow).
func seconds(n int64) time.Duration {
	return time.Duration(min(n, maxDelta)) * time.Second
}

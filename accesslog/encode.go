package accesslog

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sluiceproxy/sluice/proxy"
)

// timeLayout is RFC 3339 with milliseconds, for times already in UTC.
const timeLayout = "2006-01-02T15:04:05.000Z"

// AppendJSON appends r as one JSON object and a newline to dst and returns
// the extended buffer. The keys and their order are documented in the
// package comment. It allocates only when dst must grow.
func AppendJSON(dst []byte, r *proxy.Record) []byte {
	dst = append(dst, `{"time":"`...)
	dst = appendTime(dst, r.Start)
	dst = append(dst, `","client":`...)
	dst = appendAddrPort(dst, r.Client)
	dst = append(dst, `,"user":`...)
	dst = appendJSONString(dst, r.User)
	dst = append(dst, `,"method":`...)
	dst = appendJSONString(dst, r.Method)
	dst = append(dst, `,"scheme":`...)
	dst = appendJSONString(dst, r.Scheme)
	dst = append(dst, `,"host":`...)
	dst = appendJSONString(dst, r.Host)
	dst = append(dst, `,"port":`...)
	dst = strconv.AppendUint(dst, uint64(r.Port), 10)
	dst = append(dst, `,"path":`...)
	dst = appendJSONString(dst, r.Path)
	dst = append(dst, `,"protocol":`...)
	dst = appendJSONString(dst, r.Proto)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, `,"bytes_in":`...)
	dst = strconv.AppendInt(dst, r.BytesIn, 10)
	dst = append(dst, `,"bytes_out":`...)
	dst = strconv.AppendInt(dst, r.BytesOut, 10)
	dst = append(dst, `,"duration_ms":`...)
	dst = appendMillis(dst, r.Duration)
	dst = append(dst, `,"dns_ms":`...)
	dst = appendMillis(dst, r.DNS)
	dst = append(dst, `,"connect_ms":`...)
	dst = appendMillis(dst, r.Connect)
	dst = append(dst, `,"ttfb_ms":`...)
	dst = appendMillis(dst, r.TTFB)
	dst = append(dst, `,"upstream":`...)
	dst = appendAddrPort(dst, r.Upstream)
	dst = append(dst, `,"reused":`...)
	dst = strconv.AppendBool(dst, r.Reused)
	dst = append(dst, `,"tunnel":`...)
	dst = strconv.AppendBool(dst, r.Tunnel)
	dst = append(dst, `,"error":`...)
	dst = appendJSONString(dst, r.Error)
	dst = append(dst, `,"rule":`...)
	dst = appendJSONString(dst, r.Rule)
	dst = append(dst, `,"cache":`...)
	dst = appendJSONString(dst, r.Cache)
	dst = append(dst, `,"encoding":`...)
	dst = appendJSONString(dst, r.Encoding)
	return append(dst, "}\n"...)
}

// appendTime appends t in UTC as timeLayout does, by hand: half the cost of
// a line was time.Time.AppendFormat's layout interpretation.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(dst, timeLayout)
	}
	h, mi, s := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	return append(dst,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+mo/10), byte('0'+mo%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// appendAddrPort appends ap as a JSON string, "" if it is not valid.
func appendAddrPort(dst []byte, ap netip.AddrPort) []byte {
	dst = append(dst, '"')
	if ap.IsValid() {
		dst = ap.AppendTo(dst) // digits, dots, colons, brackets and a zone
	}
	return append(dst, '"')
}

// appendMillis appends d in milliseconds with three decimals
// (microseconds); a negative d is written as 0.
func appendMillis(dst []byte, d time.Duration) []byte {
	if d <= 0 {
		return append(dst, '0')
	}
	us := int64(d / time.Microsecond)
	dst = strconv.AppendInt(dst, us/1000, 10)
	frac := us % 1000
	return append(dst, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

// jsonSafe reports the bytes that stand for themselves inside a JSON string
// (RFC 8259 §7: everything but '"', '\\' and the controls U+0000 to U+001F).
// Bytes >= 0x80 are false here: they go through UTF-8 validation.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string (RFC 8259 §7). Quotes,
// backslashes and control bytes are escaped; invalid UTF-8 becomes U+FFFD,
// as encoding/json does, so the line stays valid JSON; U+2028 and U+2029
// are escaped so that the line is also a valid JavaScript string literal.
// strconv.AppendQuote is not JSON: it writes \x escapes.
func appendJSONString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is safe and not yet copied
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		// Copy at most UTFMax bytes to decode them: the same code then
		// serves strings and byte slices without converting either.
		var b [utf8.UTFMax]byte
		n := copy(b[:], s[i:])
		r, size := utf8.DecodeRune(b[:n])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

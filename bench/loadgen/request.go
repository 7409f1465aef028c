package loadgen

import (
	"net/url"
	"strconv"
	"strings"
)

// appendRequest appends to dst the one request a run sends over and over: the
// request line, Host, Content-Length when body is non-nil, the extra header lines,
// and the body. With proxy the request-target is absolute-form (RFC 9112 §3.2.2),
// otherwise origin-form (§3.2.1); a fragment is never sent. A "Host:" line in
// headers replaces the generated one. The inputs must have passed Config.plan.
func appendRequest(dst []byte, method string, u *url.URL, proxy bool, headers []string, body []byte) []byte {
	dst = append(dst, method...)
	dst = append(dst, ' ')
	if proxy {
		dst = append(dst, "http://"...)
		dst = append(dst, u.Host...)
	}
	dst = append(dst, u.RequestURI()...)
	dst = append(dst, " HTTP/1.1\r\n"...)

	hostSet := false
	for _, h := range headers {
		name, _, _ := strings.Cut(h, ":")
		if strings.EqualFold(strings.TrimSpace(name), "host") {
			hostSet = true
		}
	}
	if !hostSet {
		dst = append(dst, "Host: "...)
		dst = append(dst, u.Host...)
		dst = append(dst, "\r\n"...)
	}
	if body != nil {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(body)), 10)
		dst = append(dst, "\r\n"...)
	}
	for _, h := range headers {
		dst = append(dst, h...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}

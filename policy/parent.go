package policy

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// Parent is a parent proxy a rule sends its requests through (Rule.Via).
// Immutable once compiled.
type Parent struct {
	Host string // lower case; a name or an IP literal (no brackets)
	Port uint16
	// Authorization is the Proxy-Authorization value sluice sends it
	// ("Basic ..."), empty without credentials.
	Authorization string
	// Authority is host:port as a request line names it.
	Authority string
}

// ParseParent parses "http://[user:password@]host:port".
func ParseParent(s string) (*Parent, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if u.Scheme != "http" {
		return nil, errors.New("want http://host:port")
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("a parent proxy URL has no path")
	}
	host, port := u.Hostname(), u.Port()
	if host == "" || port == "" {
		return nil, errors.New("want http://host:port (the port too)")
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return nil, errors.New("not a port")
	}
	p := &Parent{Host: strings.ToLower(host), Port: uint16(n), Authority: u.Host}
	if u.User != nil {
		pw, _ := u.User.Password()
		p.Authorization = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw))
	}
	return p, nil
}

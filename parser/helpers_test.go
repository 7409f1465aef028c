package parser

import (
	"reflect"
	"testing"
)

// parseRequestWhole parses in with one call.
func parseRequestWhole(in string, lim Limits) (*RequestParser, int, error) {
	p := &RequestParser{Limits: lim}
	p.Reset()
	n, err := p.Parse([]byte(in))
	return p, n, err
}

// parseRequestBytewise appends in one byte at a time to a growing buffer (so
// the buffer moves) and calls Parse after each byte, until it is done or fails.
func parseRequestBytewise(in string, lim Limits) (*RequestParser, int, error) {
	p := &RequestParser{Limits: lim}
	p.Reset()
	var buf []byte
	for i := 0; i < len(in); i++ {
		buf = append(buf, in[i])
		n, err := p.Parse(buf)
		if n > 0 || err != nil {
			return p, n, err
		}
	}
	return p, 0, nil
}

// parseRequestBoth parses in whole and byte at a time and fails the test
// unless both give the same result.
func parseRequestBoth(t *testing.T, in string, lim Limits) (*Request, int, error) {
	t.Helper()
	pw, nw, ew := parseRequestWhole(in, lim)
	pb, nb, eb := parseRequestBytewise(in, lim)
	if nw != nb || ew != eb {
		t.Fatalf("whole: (%d, %v), byte at a time: (%d, %v)", nw, ew, nb, eb)
	}
	if ew == nil && nw > 0 && !reflect.DeepEqual(pw.Req, pb.Req) {
		t.Fatalf("whole and byte-at-a-time requests differ:\n%+v\n%+v", pw.Req, pb.Req)
	}
	return &pw.Req, nw, ew
}

func parseResponseWhole(in string, lim Limits) (*ResponseParser, int, error) {
	p := &ResponseParser{Limits: lim}
	p.Reset()
	n, err := p.Parse([]byte(in))
	return p, n, err
}

func parseResponseBytewise(in string, lim Limits) (*ResponseParser, int, error) {
	p := &ResponseParser{Limits: lim}
	p.Reset()
	var buf []byte
	for i := 0; i < len(in); i++ {
		buf = append(buf, in[i])
		n, err := p.Parse(buf)
		if n > 0 || err != nil {
			return p, n, err
		}
	}
	return p, 0, nil
}

func parseResponseBoth(t *testing.T, in string, lim Limits) (*Response, int, error) {
	t.Helper()
	pw, nw, ew := parseResponseWhole(in, lim)
	pb, nb, eb := parseResponseBytewise(in, lim)
	if nw != nb || ew != eb {
		t.Fatalf("whole: (%d, %v), byte at a time: (%d, %v)", nw, ew, nb, eb)
	}
	if ew == nil && nw > 0 && !reflect.DeepEqual(pw.Resp, pb.Resp) {
		t.Fatalf("whole and byte-at-a-time responses differ:\n%+v\n%+v", pw.Resp, pb.Resp)
	}
	return &pw.Resp, nw, ew
}

package loadgen

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

func TestPlanRequest(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{
			name: "origin-form",
			cfg:  Config{URL: "http://origin.test:8080/small?q=1#frag"},
			want: "GET /small?q=1 HTTP/1.1\r\nHost: origin.test:8080\r\n\r\n",
		},
		{
			name: "absolute-form",
			cfg:  Config{URL: "http://origin.test:8080/small?q=1", Proxy: true},
			want: "GET http://origin.test:8080/small?q=1 HTTP/1.1\r\nHost: origin.test:8080\r\n\r\n",
		},
		{
			name: "empty-path",
			cfg:  Config{URL: "http://origin.test", Proxy: true},
			want: "GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\n\r\n",
		},
		{
			name: "body-and-headers",
			cfg:  Config{URL: "http://o/up", Method: "POST", Body: []byte("abc"), Headers: []string{"X-A: 1", "Accept: */*"}},
			want: "POST /up HTTP/1.1\r\nHost: o\r\nContent-Length: 3\r\nX-A: 1\r\nAccept: */*\r\n\r\nabc",
		},
		{
			name: "empty-body",
			cfg:  Config{URL: "http://o/", Method: "PUT", Body: []byte{}},
			want: "PUT / HTTP/1.1\r\nHost: o\r\nContent-Length: 0\r\n\r\n",
		},
		{
			name: "host-override",
			cfg:  Config{URL: "http://o/", Headers: []string{"host: other"}},
			want: "GET / HTTP/1.1\r\nhost: other\r\n\r\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.cfg.plan()
			if err != nil {
				t.Fatal(err)
			}
			if string(p.request) != tc.want {
				t.Fatalf("request\n%q\nwant\n%q", p.request, tc.want)
			}
			// net/http must read it as one well-formed request.
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(p.request)))
			if err != nil {
				t.Fatalf("net/http rejects it: %v", err)
			}
			body, _ := io.ReadAll(req.Body)
			if !bytes.Equal(body, tc.cfg.Body) {
				t.Errorf("body %q, want %q", body, tc.cfg.Body)
			}
		})
	}
}

func TestPlanDefaults(t *testing.T) {
	p, err := (&Config{URL: "http://origin.test/x", Pipeline: 3}).plan()
	if err != nil {
		t.Fatal(err)
	}
	if p.target != "origin.test:80" || p.conns != DefaultConnections || p.timeout != DefaultTimeout ||
		p.bufSize != DefaultReadBufferSize || p.interval != 0 || p.head {
		t.Errorf("plan %+v", p)
	}
	if want := bytes.Repeat(p.request, 3); !bytes.Equal(p.batch, want) {
		t.Errorf("batch %q, want 3 copies of the request", p.batch)
	}
	if p, _ := (&Config{URL: "http://[::1]:81/", Method: "HEAD", Rate: 4}).plan(); p.target != "[::1]:81" || !p.head || p.interval != 250e6 {
		t.Errorf("plan %+v", p)
	}
}

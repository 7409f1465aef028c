package accesslog

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/proxy"
)

var start = time.Date(2025, 3, 4, 5, 6, 7, 891_234_567, time.FixedZone("X", 3600))

// keys is the documented key order.
var keys = []string{"time", "client", "user", "method", "scheme", "host", "port", "path",
	"protocol", "status", "bytes_in", "bytes_out", "duration_ms", "dns_ms", "connect_ms",
	"ttfb_ms", "upstream", "reused", "tunnel", "error", "rule", "cache", "encoding"}

func TestAppendJSON(t *testing.T) {
	tests := []struct {
		name string
		rec  proxy.Record
		want map[string]any // the keys that differ from the zero line
	}{
		{
			name: "get",
			rec: proxy.Record{
				Start: start, Client: netip.MustParseAddrPort("10.0.0.7:51234"), User: "alice",
				Method: []byte("GET"), Scheme: "http", Host: []byte("example.com"), Port: 80,
				Path: []byte("/a?b=c"), Proto: "HTTP/1.1", Status: 200, BytesIn: 120, BytesOut: 4567,
				Duration: 12345678 * time.Nanosecond, DNS: 2500 * time.Microsecond,
				Connect: time.Millisecond, TTFB: 9 * time.Millisecond,
				Upstream: netip.MustParseAddrPort("93.184.216.34:80"), Reused: true, Rule: "web",
				Cache: proxy.CacheMiss, Encoding: "zstd",
			},
			want: map[string]any{
				"time": "2025-03-04T04:06:07.891Z", "client": "10.0.0.7:51234", "user": "alice",
				"method": "GET", "scheme": "http", "host": "example.com", "port": 80.0,
				"path": "/a?b=c", "protocol": "HTTP/1.1", "status": 200.0, "bytes_in": 120.0,
				"bytes_out": 4567.0, "duration_ms": 12.345, "dns_ms": 2.5, "connect_ms": 1.0,
				"ttfb_ms": 9.0, "upstream": "93.184.216.34:80", "reused": true, "rule": "web",
				"cache": "miss", "encoding": "zstd",
			},
		},
		{
			name: "connect tunnel, v6",
			rec: proxy.Record{
				Start: start, Client: netip.MustParseAddrPort("[::1]:40000"),
				Method: []byte("CONNECT"), Host: []byte("example.org"), Port: 443, Proto: "HTTP/1.1",
				Status: 200, BytesIn: 1 << 40, BytesOut: 3, Duration: 90 * time.Second, Tunnel: true,
				Upstream: netip.MustParseAddrPort("[2001:db8::1]:443"),
			},
			want: map[string]any{
				"client": "[::1]:40000", "method": "CONNECT", "host": "example.org", "port": 443.0,
				"protocol": "HTTP/1.1", "status": 200.0, "bytes_in": float64(1 << 40), "bytes_out": 3.0,
				"duration_ms": 90000.0, "upstream": "[2001:db8::1]:443", "tunnel": true,
			},
		},
		{
			name: "sluice error, no response",
			rec: proxy.Record{
				Start: start, Method: []byte("GET"), Host: []byte("nx.test"), Port: 80, Path: []byte("/"),
				Status: 0, Error: "DNS name not found", Duration: -time.Second,
			},
			want: map[string]any{
				"method": "GET", "host": "nx.test", "port": 80.0, "path": "/", "error": "DNS name not found",
			},
		},
		{
			name: "odd bytes",
			rec: proxy.Record{
				Start:  start,
				Method: []byte("G\"T"),
				Host:   []byte("a\\b\"c\x00\x1f\x7f.test"),
				Path:   []byte("/\"q\"\\\n\r\t\b\f\x01\xff\xc3(é\u2028\u2029€😀\xed\xa0\x80\xf4\x90\x80\x80"),
				User:   "bob\"\\\x02",
				Rule:   "r\xfe",
			},
			want: map[string]any{
				"method": "G\"T",
				"host":   "a\\b\"c\x00\x1f\x7f.test",
				"path":   "/\"q\"\\\n\r\t\b\f\x01\ufffd\ufffd(é\u2028\u2029€😀\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd",
				"user":   "bob\"\\\x02",
				"rule":   "r\ufffd",
			},
		},
	}
	zero := map[string]any{
		"time": "2025-03-04T04:06:07.891Z", "client": "", "user": "", "method": "", "scheme": "",
		"host": "", "port": 0.0, "path": "", "protocol": "", "status": 0.0, "bytes_in": 0.0,
		"bytes_out": 0.0, "duration_ms": 0.0, "dns_ms": 0.0, "connect_ms": 0.0, "ttfb_ms": 0.0,
		"upstream": "", "reused": false, "tunnel": false, "error": "", "rule": "", "cache": "", "encoding": "",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := AppendJSON([]byte("prefix"), &tt.rec)
			line, ok := bytes.CutPrefix(line, []byte("prefix"))
			if !ok || !bytes.HasSuffix(line, []byte("}\n")) || bytes.Count(line, []byte("\n")) != 1 {
				t.Fatalf("not one line: %q", line)
			}
			if !json.Valid(line) {
				t.Fatalf("invalid JSON: %q", line)
			}
			var got map[string]any
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{}
			for k, v := range zero {
				want[k] = v
			}
			for k, v := range tt.want {
				want[k] = v
			}
			for k := range want {
				if !reflect.DeepEqual(got[k], want[k]) {
					t.Errorf("%s = %#v, want %#v", k, got[k], want[k])
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d keys, want %d: %s", len(got), len(want), line)
			}
			if order := keyOrder(t, line); !reflect.DeepEqual(order, keys) {
				t.Errorf("key order %v", order)
			}
		})
	}
}

// keyOrder returns the top-level keys of the JSON object line, in order.
func keyOrder(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var order []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, k.(string))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return order
}

func TestAppendTime(t *testing.T) {
	times := []time.Time{start, {}, time.Unix(0, 0), time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 0, 0, 0, 1_000_000, time.FixedZone("W", -5*3600))}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		times = append(times, time.Unix(rng.Int64N(300<<30), rng.Int64N(1e9)).In(time.Local))
	}
	for _, tm := range times {
		if got, want := string(appendTime(nil, tm)), tm.UTC().Format(timeLayout); got != want {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

func TestAppendMillis(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", -5: "0", time.Nanosecond: "0.000", 999 * time.Nanosecond: "0.000",
		time.Microsecond: "0.001", 1234567 * time.Nanosecond: "1.234", 10 * time.Millisecond: "10.000",
		time.Hour: "3600000.000",
	} {
		if got := string(appendMillis(nil, d)); got != want {
			t.Errorf("appendMillis(%v) = %s, want %s", d, got, want)
		}
	}
}

// checkJSONString checks appendJSONString against encoding/json: the output
// is one valid JSON string that decodes to what encoding/json makes of s
// (invalid UTF-8 replaced by U+FFFD byte by byte).
func checkJSONString(t *testing.T, s string) {
	out := appendJSONString(nil, s)
	if !json.Valid(out) {
		t.Fatalf("appendJSONString(%q) = %s: invalid JSON", s, out)
	}
	if outB := appendJSONString(nil, []byte(s)); !bytes.Equal(out, outB) {
		t.Fatalf("string and []byte disagree: %s vs %s", out, outB)
	}
	var got, want string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	ref, _ := json.Marshal(s)
	if err := json.Unmarshal(ref, &want); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("appendJSONString(%q) decodes to %q, encoding/json to %q", s, got, want)
	}
}

var jsonStringSeeds = []string{
	"", "plain", `"`, `\`, "\x00", "\x1f", "\x7f", "\n\r\t\b\f", "\xff", "\xc3", "\xc3(",
	"é", "\u2028\u2029", "😀", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf0\x9f\x98",
	"<script>&", strings.Repeat("a\"", 100),
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range jsonStringSeeds {
		checkJSONString(t, s)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStringSeeds {
		f.Add(s)
	}
	f.Fuzz(checkJSONString)
}

func TestAppendJSONAllocs(t *testing.T) {
	rec := testRecord(1)
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf = AppendJSON(buf[:0], &rec) }); n != 0 {
		t.Errorf("AppendJSON: %v allocations", n)
	}
}

// testRecord is a typical request record, numbered i.
func testRecord(i int) proxy.Record {
	return proxy.Record{
		Start: start.Add(time.Duration(i) * time.Millisecond), Client: netip.MustParseAddrPort("127.0.0.1:40000"),
		Method: []byte("GET"), Scheme: "http", Host: []byte("origin.test"), Port: 8080,
		Path: []byte("/small?i=" + string(rune('a'+i%26))), Proto: "HTTP/1.1", Status: 200 + i%2,
		BytesIn: 80, BytesOut: int64(i), Duration: 1500 * time.Microsecond,
		Upstream: netip.MustParseAddrPort("127.0.0.1:8080"), Reused: i%2 == 1,
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	rec := testRecord(1)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], &rec)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkAppendJSONEncodingJSON is the baseline: encoding/json of a
// struct with the same fields.
func BenchmarkAppendJSONEncodingJSON(b *testing.B) {
	rec := testRecord(1)
	type line struct {
		Time                                 string
		Client, User, Method, Scheme, Host   string
		Port                                 uint16
		Path, Protocol                       string
		Status                               int
		BytesIn, BytesOut                    int64
		DurationMS, DNSMS, ConnectMS, TTFBMS float64
		Upstream                             string
		Reused, Tunnel                       bool
		Error, Rule                          string
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = json.Marshal(line{
			Time: rec.Start.UTC().Format(timeLayout), Client: rec.Client.String(), User: rec.User,
			Method: string(rec.Method), Scheme: rec.Scheme, Host: string(rec.Host), Port: rec.Port,
			Path: string(rec.Path), Protocol: rec.Proto, Status: rec.Status, BytesIn: rec.BytesIn,
			BytesOut: rec.BytesOut, DurationMS: float64(rec.Duration) / 1e6, Upstream: rec.Upstream.String(),
			Reused: rec.Reused, Error: rec.Error, Rule: rec.Rule,
		})
	}
}

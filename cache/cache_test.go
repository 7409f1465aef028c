package cache

import (
	"testing"
	"time"
)

func TestParseCacheControl(t *testing.T) {
	a := int64(Absent)
	tests := []struct {
		in   []string
		want Directives
	}{
		{[]string{"max-age=60"}, Directives{MaxAge: 60, SMaxAge: a, MaxStale: a, MinFresh: a}},
		{[]string{"Public, S-MAXAGE=300 , must-revalidate"}, Directives{Public: true, MustRevalidate: true, MaxAge: a, SMaxAge: 300, MaxStale: a, MinFresh: a}},
		{[]string{"no-store", "no-cache=\"Set-Cookie, X-A\""}, Directives{NoStore: true, NoCache: true, MaxAge: a, SMaxAge: a, MaxStale: a, MinFresh: a}},
		{[]string{`max-age="30"`}, Directives{MaxAge: 30, SMaxAge: a, MaxStale: a, MinFresh: a}},
		{[]string{"max-age=10, max-age=20"}, Directives{MaxAge: 10, SMaxAge: a, MaxStale: a, MinFresh: a, Invalid: true}},
		{[]string{"max-age=soon"}, Directives{MaxAge: a, SMaxAge: a, MaxStale: a, MinFresh: a, Invalid: true}},
		{[]string{"max-age=99999999999999999999"}, Directives{MaxAge: maxDelta, SMaxAge: a, MaxStale: a, MinFresh: a}},
		{[]string{"max-stale, min-fresh=5, only-if-cached"}, Directives{MaxStaleAny: true, OnlyIfCached: true, MaxAge: a, SMaxAge: a, MaxStale: a, MinFresh: 5}},
		{[]string{"private=\"x\\\"y\", no-transform, unknown=1, ,"}, Directives{Private: true, NoTransform: true, MaxAge: a, SMaxAge: a, MaxStale: a, MinFresh: a}},
		{nil, Directives{MaxAge: a, SMaxAge: a, MaxStale: a, MinFresh: a}},
	}
	for _, tt := range tests {
		var vs [][]byte
		for _, s := range tt.in {
			vs = append(vs, []byte(s))
		}
		if got := ParseCacheControl(vs...); got != tt.want {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"} {
		got, ok := ParseHTTPDate([]byte(s))
		if !ok || !got.Equal(want) {
			t.Errorf("%q: %v %v", s, got, ok)
		}
	}
	if _, ok := ParseHTTPDate([]byte("0")); ok {
		t.Error(`"0" parsed as a date`)
	}
}

func TestLifetimeAndAge(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	cc := func(s string) Directives { return ParseCacheControl([]byte(s)) }
	times := Times{Date: t0, Request: t0, Response: t0.Add(time.Second)}
	if got := Lifetime(cc("max-age=60, s-maxage=120"), times); got != 120*time.Second {
		t.Errorf("s-maxage wins: %v", got)
	}
	if got := Lifetime(cc("max-age=60"), times); got != 60*time.Second {
		t.Errorf("max-age: %v", got)
	}
	exp := times
	exp.Expires, exp.ExpiresOK = t0.Add(time.Hour), true
	if got := Lifetime(cc(""), exp); got != time.Hour {
		t.Errorf("Expires - Date: %v", got)
	}
	bad := times
	bad.ExpiresOK = true // present but not a date: already expired
	if got := Lifetime(cc(""), bad); got != 0 {
		t.Errorf("invalid Expires: %v", got)
	}
	if got := Lifetime(cc("max-age=60, max-age=70"), times); got != 0 {
		t.Errorf("conflicting max-age is stale: %v", got)
	}
	if got := Lifetime(cc("public"), times); got != 0 {
		t.Errorf("no heuristic freshness: %v", got)
	}
	// Age: apparent age 1 s from Date; the Age field 5 s plus the 1 s
	// request delay wins; 10 s stored after that.
	aged := times
	aged.Age = 5
	if got := CurrentAge(aged, t0.Add(11*time.Second)); got != 16*time.Second {
		t.Errorf("current age: %v, want 16s", got)
	}
	// A Date in the future gives no negative age.
	future := Times{Date: t0.Add(time.Hour), Request: t0, Response: t0}
	if got := CurrentAge(future, t0); got != 0 {
		t.Errorf("future Date: %v", got)
	}
}

func TestDecide(t *testing.T) {
	cc := func(s string) Directives { return ParseCacheControl([]byte(s)) }
	ok := Exchange{GET: true, Request: cc(""), Status: 200, Response: cc("max-age=60")}
	tests := []struct {
		name string
		edit func(*Exchange)
		want Reason
	}{
		{"stored", func(*Exchange) {}, Storable},
		{"POST", func(x *Exchange) { x.GET = false }, ReasonMethod},
		{"206", func(x *Exchange) { x.Status = 206 }, ReasonStatus},
		{"500", func(x *Exchange) { x.Status = 500 }, ReasonStatus},
		{"404 stored", func(x *Exchange) { x.Status = 404 }, Storable},
		{"request no-store", func(x *Exchange) { x.Request = cc("no-store") }, ReasonNoStore},
		{"response no-store", func(x *Exchange) { x.Response = cc("no-store, max-age=60") }, ReasonNoStore},
		{"private", func(x *Exchange) { x.Response = cc("private, max-age=60") }, ReasonPrivate},
		{"vary star", func(x *Exchange) { x.VaryStar = true }, ReasonVaryStar},
		{"set-cookie", func(x *Exchange) { x.SetCookie = true }, ReasonSetCookie},
		{"authorization", func(x *Exchange) { x.Authorization = true }, ReasonAuthorized},
		{"authorization public", func(x *Exchange) { x.Authorization = true; x.Response = cc("public, max-age=60") }, Storable},
		{"authorization s-maxage", func(x *Exchange) { x.Authorization = true; x.Response = cc("s-maxage=60") }, Storable},
		{"authorization must-revalidate", func(x *Exchange) { x.Authorization = true; x.Response = cc("must-revalidate, max-age=60") }, Storable},
		{"no lifetime", func(x *Exchange) { x.Response = cc("public") }, ReasonNoLifetime},
		{"expires", func(x *Exchange) { x.Response = cc(""); x.Times.ExpiresOK = true }, Storable},
	}
	for _, tt := range tests {
		x := ok
		tt.edit(&x)
		if got := Decide(x); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestKeys(t *testing.T) {
	k1 := AppendKey(nil, []byte("http"), []byte("Origin.TEST:80"), []byte("/a?b"))
	k2 := AppendKey(nil, []byte("http"), []byte("origin.test:80"), []byte("/a?b"))
	if string(k1) != string(k2) {
		t.Errorf("host case matters: %q %q", k1, k2)
	}
	if k3 := AppendKey(nil, []byte("http"), []byte("origin.test:80"), []byte("/A?b")); string(k3) == string(k1) {
		t.Error("target case ignored")
	}
	key := func(target string) string {
		return string(AppendKey(nil, []byte("http"), []byte("a.test:80"), []byte(target)))
	}
	if key("") != key("/") || key("?q") != key("/?q") {
		t.Error("a target without a path is not keyed as /")
	}
	var names []string
	star := VaryNames([][]byte{[]byte("Accept-Encoding, USER-agent"), []byte(" , accept")}, nil, func(n []byte) { names = append(names, string(n)) })
	if star || len(names) != 3 || names[0] != "accept-encoding" || names[1] != "user-agent" || names[2] != "accept" {
		t.Errorf("VaryNames: %q star %v", names, star)
	}
	if !VaryNames([][]byte{[]byte("accept, *")}, nil, func([]byte) {}) {
		t.Error("Vary: * not seen")
	}
	v := func(vals ...string) string {
		if vals == nil {
			return string(AppendVaryValue(nil, []byte("accept"), nil))
		}
		var bs [][]byte
		for _, s := range vals {
			bs = append(bs, []byte(s))
		}
		return string(AppendVaryValue(nil, []byte("accept"), bs))
	}
	if v("gzip,  br") != v("gzip, br") || v("gzip", "br") != v("gzip, br") || v("text/html;  q=1") != v("text/html; q=1") {
		t.Errorf("whitespace matters: %q %q %q", v("gzip,  br"), v("gzip", "br"), v("text/html;  q=1"))
	}
	if v() == v("") || v("gzip") == v("br") {
		t.Errorf("distinct values share a key: %q %q", v(), v(""))
	}
}

// A directive with an empty value does not swallow the next one (found by
// FuzzCacheHeaders: "=,must-revalidate" lost must-revalidate).
func TestEmptyValueKeepsNextDirective(t *testing.T) {
	for _, in := range []string{"=,must-revalidate", "max-age=,must-revalidate", "x= ,must-revalidate"} {
		if d := ParseCacheControl([]byte(in)); !d.MustRevalidate {
			t.Errorf("%q: must-revalidate lost: %+v", in, d)
		}
	}
}

package fuzz

import (
	"bytes"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/cache"
)

// FuzzCacheHeaders feeds arbitrary Cache-Control, Vary and date values to
// the cache's header logic and checks:
//   - no panic;
//   - delta-seconds are Absent or within 0..2^31, and the same directives
//     come out of the value whole and split into two field lines at any
//     comma (field lines combine as a comma-separated list, RFC 9110 §5.3);
//   - lifetimes and ages are never negative; no-store is never stored;
//   - a date that parses formats back (IMF-fixdate) to the same instant;
//   - the Vary key ignores whitespace after commas, and "*" is seen.
func FuzzCacheHeaders(f *testing.F) {
	for _, s := range []struct{ cc, vary, date string }{
		{"max-age=60", "Accept-Encoding", "Sun, 06 Nov 1994 08:49:37 GMT"},
		{"public, s-maxage=300, must-revalidate", "accept, user-agent", "Sunday, 06-Nov-94 08:49:37 GMT"},
		{`no-cache="Set-Cookie", private="a\"b"`, "*", "Sun Nov  6 08:49:37 1994"},
		{"max-age=1, max-age=2, max-stale, min-fresh=x", " , ,accept", "0"},
		{"max-age=99999999999999999999999", "", ""},
	} {
		f.Add([]byte(s.cc), []byte(s.vary), []byte(s.date), int64(5))
	}
	f.Fuzz(func(t *testing.T, cc, vary, date []byte, age int64) {
		d := cache.ParseCacheControl(cc)
		for _, n := range []int64{d.MaxAge, d.SMaxAge, d.MaxStale, d.MinFresh} {
			if n != cache.Absent && (n < 0 || n > 1<<31) {
				t.Fatalf("%q: delta-seconds %d", cc, n)
			}
		}
		for i, c := range cc {
			if c != ',' {
				continue
			}
			if bytes.Contains(cc, []byte(`"`)) {
				break // a comma inside a quoted string is not a list separator
			}
			if got := cache.ParseCacheControl(cc[:i], cc[i+1:]); got != d {
				t.Fatalf("%q split at %d: %+v, whole: %+v", cc, i, got, d)
			}
		}

		t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
		times := cache.Times{Request: t0, Response: t0.Add(time.Second), Age: max(age, 0) % (1 << 31)}
		if dt, ok := cache.ParseHTTPDate(date); ok {
			back, ok2 := cache.ParseHTTPDate([]byte(dt.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")))
			if !ok2 || !back.Equal(dt) {
				t.Fatalf("%q: parsed %v, formatted back %v %v", date, dt, back, ok2)
			}
			times.Date, times.Expires, times.ExpiresOK = dt, dt.Add(time.Hour), true
		}
		if l := cache.Lifetime(d, times); l < 0 {
			t.Fatalf("negative lifetime %v for %q", l, cc)
		}
		if a := cache.CurrentAge(times, t0); a < 0 {
			t.Fatalf("negative age %v", a)
		}
		x := cache.Exchange{GET: true, Status: 200, Request: cache.ParseCacheControl(nil), Response: d, Times: times}
		if r := cache.Decide(x); d.NoStore && r == cache.Storable {
			t.Fatalf("%q: no-store stored", cc)
		}

		var names [][]byte
		star := cache.VaryNames([][]byte{vary}, nil, func(n []byte) { names = append(names, append([]byte(nil), n...)) })
		spaced := bytes.ReplaceAll(vary, []byte(","), []byte(",  "))
		var names2 [][]byte
		star2 := cache.VaryNames([][]byte{spaced}, nil, func(n []byte) { names2 = append(names2, append([]byte(nil), n...)) })
		if star != star2 || len(names) != len(names2) {
			t.Fatalf("Vary %q vs %q: %q %v, %q %v", vary, spaced, names, star, names2, star2)
		}
		if k1, k2 := cache.AppendVaryValue(nil, []byte("x"), [][]byte{vary}), cache.AppendVaryValue(nil, []byte("x"), [][]byte{spaced}); !bytes.Equal(k1, k2) {
			t.Fatalf("Vary value key differs with spaces after commas: %q %q", k1, k2)
		}
	})
}

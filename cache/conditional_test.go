package cache

import (
	"testing"
	"time"
)

func TestNotModified(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	stored := Entry{
		Status: 200, ETag: []byte(`W/"v1"`), LastModified: []byte("Mon, 07 Dec 2026 07:00:00 GMT"),
		Times: Times{Date: t0, Response: t0.Add(1500 * time.Millisecond)},
	}
	noValidators := Entry{Status: 200, Times: Times{Response: t0.Add(1500 * time.Millisecond)}}
	dated := noValidators
	dated.Times.Date = t0
	strong := stored
	strong.ETag = []byte(`"v1"`)
	notFound := stored
	notFound.Status = 404
	before, at, after := "Mon, 07 Dec 2026 06:59:59 GMT", "Mon, 07 Dec 2026 07:00:00 GMT", "Mon, 07 Dec 2026 07:00:01 GMT"
	tests := []struct {
		name      string
		inm, ims  []string
		e         *Entry
		want      bool
		rfcClause string
	}{
		{"no conditions", nil, nil, &stored, false, ""},
		{"etag weak vs weak", []string{`W/"v1"`}, nil, &stored, true, "RFC 9110 §8.8.3.2 weak comparison"},
		{"etag strong vs weak", []string{`"v1"`}, nil, &stored, true, "§8.8.3.2"},
		{"etag weak vs strong", []string{`W/"v1"`}, nil, &strong, true, "§8.8.3.2"},
		{"etag other", []string{`"v2"`}, nil, &stored, false, ""},
		{"etag in a list", []string{`"a", W/"b" ,"v1"`}, nil, &stored, true, "§13.1.2 list"},
		{"etag over field lines", []string{`"a"`, `"v1"`}, nil, &stored, true, "§5.3 lines combine"},
		{"etag with a comma", []string{`"x,v1"`}, nil, &stored, false, "etagc includes ','"},
		{"stored etag with a comma", []string{`"a", "x,y"`}, nil, &Entry{Status: 200, ETag: []byte(`"x,y"`)}, true, ""},
		{"etag unquoted", []string{`v1`}, nil, &stored, false, "not an entity-tag"},
		{"etag lower-case weak", []string{`w/"v1"`}, nil, &stored, false, `weak is %s"W/"`},
		{"etag malformed then good", []string{`v1 x, "v1"`}, nil, &stored, true, ""},
		{"etag trailing garbage", []string{`"v1"x`}, nil, &stored, false, ""},
		{"star", []string{"*"}, nil, &stored, true, "§13.1.2 *"},
		{"star without a stored etag", []string{" * "}, nil, &noValidators, true, "a stored representation exists"},
		{"etag without a stored etag", []string{`"v1"`}, nil, &noValidators, false, ""},
		{"inm beats ims", []string{`"v2"`}, []string{after}, &stored, false, "§13.2.2 step 3 before 4"},
		{"ims equal", nil, []string{at}, &stored, true, "§13.1.3 earlier or equal"},
		{"ims later", nil, []string{after}, &stored, true, ""},
		{"ims earlier", nil, []string{before}, &stored, false, ""},
		{"ims obsolete form", nil, []string{"Monday, 07-Dec-26 07:00:00 GMT"}, &stored, true, "§5.6.7"},
		{"ims invalid", nil, []string{"yesterday"}, &stored, false, "§13.1.3 ignored"},
		{"ims two lines", nil, []string{at, at}, &stored, false, "§13.1.3 one member"},
		{"ims against Date", nil, []string{"Mon, 07 Dec 2026 08:00:00 GMT"}, &dated, true, "RFC 9111 §4.3.2 Date"},
		{"ims before Date", nil, []string{"Mon, 07 Dec 2026 07:59:59 GMT"}, &dated, false, ""},
		{"ims against receipt", nil, []string{"Mon, 07 Dec 2026 08:00:01 GMT"}, &noValidators, true, "§4.3.2 received, whole seconds"},
		{"ims before receipt", nil, []string{"Mon, 07 Dec 2026 07:59:59 GMT"}, &noValidators, false, ""},
		{"not 2xx", []string{"*"}, nil, &notFound, false, "RFC 9110 §13.2.1"},
	}
	for _, tt := range tests {
		if got := NotModified(bytesOf(tt.inm), bytesOf(tt.ims), tt.e); got != tt.want {
			t.Errorf("%s (%s): %v, want %v", tt.name, tt.rfcClause, got, tt.want)
		}
	}
}

func bytesOf(ss []string) [][]byte {
	var bs [][]byte
	for _, s := range ss {
		bs = append(bs, []byte(s))
	}
	return bs
}

// The weak comparison of a stored ETag with a list allocates nothing: it
// runs on every conditional hit.
func TestNotModifiedAllocs(t *testing.T) {
	e := &Entry{Status: 200, ETag: []byte(`"v1"`)}
	inm := [][]byte{[]byte(`"a", W/"b", "v1"`)}
	if n := testing.AllocsPerRun(100, func() {
		if !NotModified(inm, nil, e) {
			t.Fatal("no match")
		}
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func TestSelects(t *testing.T) {
	for _, tc := range []struct {
		etag304, stored string
		want            bool
	}{
		{"", `"v1"`, true},
		{`"v1"`, `"v1"`, true},
		{` "v1" `, `"v1"`, true},
		{`"v2"`, `"v1"`, false},
		{`"v1"`, `W/"v1"`, false}, // strong comparison: a weak tag matches no strong one
		{`"v1"`, "", false},
		{`W/"v2"`, `"v1"`, true}, // no strong validator: the response revalidated
		{`bogus`, `"v1"`, true},
	} {
		var e304 []byte
		if tc.etag304 != "" {
			e304 = []byte(tc.etag304)
		}
		if got := Selects(e304, []byte(tc.stored)); got != tc.want {
			t.Errorf("304 ETag %q, stored %q: %v, want %v", tc.etag304, tc.stored, got, tc.want)
		}
	}
}

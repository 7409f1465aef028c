package cache

import (
	"bytes"
	"testing"
)

// variantEntry is a response that varies on Accept-Language, selected by
// the value lang (nil: the request had no Accept-Language).
func variantEntry(body string, names []string, langs ...[]byte) *Entry {
	e := testEntry([]byte(body))
	for i, n := range names {
		var vals [][]byte
		if langs[i] != nil {
			vals = [][]byte{langs[i]}
		}
		e.Vary = AppendVaryValue(e.Vary, []byte(n), vals)
	}
	return e
}

// lookup gets key as the session does: the primary key, then, for a
// variant index, the variant that the request's values select.
func lookup(s *Store, key []byte, req map[string][]byte) (*Entry, bool) {
	var e Entry
	buf, ok := s.Get(nil, key, &e)
	if !ok || e.Variants == 0 {
		return &e, ok
	}
	var vary []byte
	for names := e.Vary; len(names) > 0; {
		i := bytes.IndexByte(names, 0)
		name := names[:i]
		names = names[i+1:]
		var vals [][]byte
		if v := req[string(name)]; v != nil {
			vals = [][]byte{v}
		}
		vary = AppendVaryValue(vary, name, vals)
	}
	_, ok = s.GetVariant(buf[:0], key, e.Variants, vary, &e)
	return &e, ok
}

func TestStoreVariants(t *testing.T) {
	s := NewStore(32<<20, 4<<20)
	key := []byte("GET\x00http\x00v.test:80\x00/")
	al := []string{"accept-language"}
	en, fr := []byte("en"), []byte("fr")
	s.Put(key, variantEntry("english", al, en), nil)
	s.Put(key, variantEntry("french", al, fr), nil)
	s.Put(key, variantEntry("none", al, nil), nil)
	for _, tc := range []struct {
		lang []byte
		want string
	}{{en, "english"}, {fr, "french"}, {nil, "none"}, {en, "english"}} {
		e, ok := lookup(s, key, map[string][]byte{"accept-language": tc.lang})
		if !ok || string(e.Body) != tc.want {
			t.Fatalf("Accept-Language %q: ok %v, body %q, want %q", tc.lang, ok, e.Body, tc.want)
		}
		if !bytes.Equal(e.Vary, variantEntry("", al, tc.lang).Vary) {
			t.Fatalf("variant's Vary %q", e.Vary)
		}
	}
	if _, ok := lookup(s, key, map[string][]byte{"accept-language": []byte("de")}); ok {
		t.Fatal("a variant never stored was found")
	}
	// One lookup is one hit or one miss, the index not counted.
	if st := s.Stats(); st.Hits != 4 || st.Misses != 1 || st.Stores != 3 {
		t.Fatalf("stats %+v", st)
	}

	// A response that varies on other fields replaces the index: the old
	// variants are gone, even for a request with the same values.
	both := []string{"accept-language", "accept-encoding"}
	s.Put(key, variantEntry("english gzip", both, en, []byte("gzip")), nil)
	if _, ok := lookup(s, key, map[string][]byte{"accept-language": fr}); ok {
		t.Fatal("a variant of the replaced index was found")
	}
	if e, ok := lookup(s, key, map[string][]byte{"accept-language": en, "accept-encoding": []byte("gzip")}); !ok || string(e.Body) != "english gzip" {
		t.Fatalf("new variant: %v %q", ok, e.Body)
	}

	// Invalidation deletes the index; a new index with the same names does
	// not bring the old variants back (fr was stored before the Delete).
	s.Put(key, variantEntry("french", al, fr), nil)
	s.Delete(key)
	if _, ok := lookup(s, key, map[string][]byte{"accept-language": fr}); ok {
		t.Fatal("variant found after Delete")
	}
	s.Put(key, variantEntry("english 2", al, en), nil)
	if _, ok := lookup(s, key, map[string][]byte{"accept-language": fr}); ok {
		t.Fatal("a variant stored before the Delete came back with a new index")
	}
	if e, ok := lookup(s, key, map[string][]byte{"accept-language": en}); !ok || string(e.Body) != "english 2" {
		t.Fatalf("after Delete: %v %q", ok, e.Body)
	}

	// A response without Vary replaces the index, and is found with one Get.
	s.Put(key, testEntry([]byte("plain")), nil)
	var e Entry
	if _, ok := s.Get(nil, key, &e); !ok || e.Variants != 0 || string(e.Body) != "plain" {
		t.Fatalf("plain after variants: %v %+v", ok, e)
	}
	if _, ok := lookup(s, key, map[string][]byte{"accept-language": en}); !ok {
		t.Fatal("plain entry not found")
	}
	// And a big variant (SetBig) replaces a plain entry too.
	big := variantEntry(string(bytes.Repeat([]byte("x"), 200<<10)), al, en)
	s.Put(key, big, nil)
	if e, ok := lookup(s, key, map[string][]byte{"accept-language": en}); !ok || len(e.Body) != len(big.Body) {
		t.Fatalf("big variant: %v %d bytes", ok, len(e.Body))
	}
}

func TestIndexCodec(t *testing.T) {
	b := appendIndex(nil, 42, []byte("accept\x00accept-language\x00"))
	var e Entry
	if err := e.Decode(b); err != nil || e.Variants != 42 || string(e.Vary) != "accept\x00accept-language\x00" || e.Status != 0 {
		t.Fatalf("decoded %+v, %v", e, err)
	}
	for _, bad := range [][]byte{
		b[:5], b[:len(b)-1], append(b, 0), appendIndex(nil, 0, []byte("a\x00")), appendIndex(nil, 1, nil), appendIndex(nil, 1, []byte("a")),
	} {
		if err := e.Decode(bad); err == nil {
			t.Errorf("decoded a corrupt index %q", bad)
		}
	}
	// A response decoded after an index is not taken for one.
	if err := e.Decode(testEntry([]byte("x")).Append(nil)); err != nil || e.Variants != 0 {
		t.Fatalf("entry after index: %v, Variants %d", err, e.Variants)
	}
}

func TestVaryNamesOfRecords(t *testing.T) {
	rec := AppendVaryValue(AppendVaryValue(nil, []byte("accept"), nil), []byte("accept-language"), [][]byte{[]byte("en")})
	if got := string(appendVaryNames(nil, rec)); got != "accept\x00accept-language\x00" {
		t.Fatalf("names %q", got)
	}
}

// A variant lookup allocates nothing when dst has room.
func TestStoreGetVariantAllocs(t *testing.T) {
	s := NewStore(32<<20, 1<<20)
	key := []byte("GET\x00http\x00v.test:80\x00/")
	e0 := variantEntry("english", []string{"accept-language"}, []byte("en"))
	s.Put(key, e0, nil)
	var e Entry
	dst := make([]byte, 0, 4096)
	if _, ok := s.Get(dst, key, &e); !ok || e.Variants == 0 {
		t.Fatal("no index")
	}
	variants := e.Variants
	if n := testing.AllocsPerRun(100, func() {
		if _, ok := s.GetVariant(dst, key, variants, e0.Vary, &e); !ok {
			t.Fatal("miss")
		}
	}); n > 0 {
		t.Fatalf("%v allocations per GetVariant", n)
	}
}

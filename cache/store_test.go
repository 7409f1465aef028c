package cache

import (
	"bytes"
	"testing"
	"time"
)

func testEntry(body []byte) *Entry {
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	return &Entry{
		Status: 200, Lifetime: time.Minute, Revalidate: true,
		Times:        Times{Date: t0, Expires: t0.Add(time.Hour), ExpiresOK: true, Age: 3, Request: t0, Response: t0.Add(time.Millisecond)},
		ETag:         []byte(`"v1"`),
		LastModified: []byte("Sun, 06 Nov 1994 08:49:37 GMT"),
		Head:         []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
		Body:         body,
	}
}

func sameEntry(t *testing.T, got, want *Entry) {
	t.Helper()
	if got.Status != want.Status || got.Lifetime != want.Lifetime || got.Revalidate != want.Revalidate || got.NoCache != want.NoCache ||
		!got.Times.Date.Equal(want.Times.Date) || !got.Times.Expires.Equal(want.Times.Expires) || got.Times.ExpiresOK != want.Times.ExpiresOK ||
		got.Times.Age != want.Times.Age || !got.Times.Request.Equal(want.Times.Request) || !got.Times.Response.Equal(want.Times.Response) ||
		!bytes.Equal(got.ETag, want.ETag) || !bytes.Equal(got.LastModified, want.LastModified) || !bytes.Equal(got.Vary, want.Vary) ||
		!bytes.Equal(got.Head, want.Head) || !bytes.Equal(got.Body, want.Body) ||
		got.Zstd != want.Zstd || got.Size != want.Size || !bytes.Equal(got.ZHead, want.ZHead) {
		t.Fatalf("entry changed:\n got %+v\nwant %+v", got, want)
	}
}

func TestEntryCodec(t *testing.T) {
	want := testEntry([]byte("hello"))
	want.Vary = []byte("accept-encoding\x00gzip\x00")
	b := want.Append(nil)
	var got Entry
	if err := got.Decode(b); err != nil {
		t.Fatal(err)
	}
	sameEntry(t, &got, want)
	for _, bad := range [][]byte{nil, b[:10], append([]byte{9}, b[1:]...), b[:len(b)-1], append(b, 0)} {
		if err := got.Decode(bad); err == nil {
			t.Errorf("decoded a corrupt entry of %d bytes", len(bad))
		}
	}
	// Kept compressed: the identity size and the zstd head travel with it.
	want.Zstd, want.Size, want.ZHead = true, 12345, []byte("HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\n\r\n")
	b = want.Append(nil)
	if err := got.Decode(b); err != nil {
		t.Fatal(err)
	}
	sameEntry(t, &got, want)
	for _, bad := range [][]byte{b[:len(b)-1], append(b, 0)} {
		if err := got.Decode(bad); err == nil {
			t.Errorf("decoded a corrupt entry of %d bytes", len(bad))
		}
	}
}

func TestStore(t *testing.T) {
	s := NewStore(32<<20, 4<<20)
	small := testEntry([]byte("hello"))
	big := testEntry(bytes.Repeat([]byte("0123456789abcdef"), 20000)) // 320 KB: SetBig
	var buf []byte
	buf, _ = s.Put([]byte("k-small"), small, buf)
	buf, _ = s.Put([]byte("k-big"), big, buf)
	var e Entry
	var got []byte
	var ok bool
	if got, ok = s.Get(got[:0], []byte("k-small"), &e); !ok {
		t.Fatal("small entry missing")
	}
	sameEntry(t, &e, small)
	if got, ok = s.Get(got[:0], []byte("k-big"), &e); !ok {
		t.Fatal("big entry missing")
	}
	sameEntry(t, &e, big)
	if _, ok = s.Get(nil, []byte("k-none"), &e); ok {
		t.Fatal("hit for a key never stored")
	}
	// Replacing a big entry with a small one leaves no big one behind.
	buf, _ = s.Put([]byte("k-big"), small, buf)
	if got, ok = s.Get(got[:0], []byte("k-big"), &e); !ok || len(e.Body) != len(small.Body) {
		t.Fatalf("replaced entry: ok %v, body %d bytes", ok, len(e.Body))
	}
	s.Delete([]byte("k-small"))
	if _, ok = s.Get(nil, []byte("k-small"), &e); ok {
		t.Fatal("deleted entry still served")
	}
	huge := testEntry(make([]byte, 5<<20))
	if _, ok := s.Put([]byte("k-huge"), huge, buf); ok {
		t.Error("Put stored an entry over maxObject")
	}
	if _, ok = s.Get(nil, []byte("k-huge"), &e); ok {
		t.Fatal("an entry over max_object was stored")
	}
	s.Purge()
	if _, ok = s.Get(nil, []byte("k-big"), &e); ok {
		t.Fatal("purged entry still served")
	}
	st := s.Stats()
	if st.Stores != 3 || st.TooBig != 1 || st.Hits != 3 || st.Misses != 4 || st.Deletes != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A Get of a stored entry allocates nothing when dst has room.
func TestStoreGetAllocs(t *testing.T) {
	s := NewStore(32<<20, 1<<20)
	s.Put([]byte("k"), testEntry([]byte("hello")), nil)
	dst := make([]byte, 0, 4096)
	var e Entry
	key := []byte("k")
	if n := testing.AllocsPerRun(100, func() {
		if _, ok := s.Get(dst, key, &e); !ok {
			t.Fatal("miss")
		}
	}); n > 0 {
		t.Fatalf("%v allocations per Get", n)
	}
}

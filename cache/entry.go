package cache

import (
	"encoding/binary"
	"errors"
	"time"
)

// Entry is a stored response: what serving it and judging its freshness
// need. fastcache has no expiry of its own, so the times travel with it.
//
// A value; the byte slices of an Entry from Decode point into the buffer it
// was decoded from.
type Entry struct {
	Status   int
	Lifetime time.Duration // its freshness lifetime when stored (Lifetime)
	Times    Times
	// Revalidate is set when a stale entry must not be served without
	// revalidation (must-revalidate, proxy-revalidate, s-maxage), and
	// NoCache when not even a fresh one may be (no-cache).
	Revalidate, NoCache bool

	ETag, LastModified []byte // validators, for a conditional request
	Vary               []byte // the request's values of the fields it varies on (AppendVaryValue records)
	Head               []byte // the response head as sluice forwards it, without Age
	Body               []byte

	// Zstd says Body is kept as one zstd frame (compression.AppendFrame)
	// of Size bytes; ZHead is then the head of that representation, sent as
	// it is to a client that accepts zstd (Content-Encoding: zstd, a weak
	// ETag), while Head goes with the decoded body.
	Zstd  bool
	Size  int64
	ZHead []byte

	// Variants is not zero only in a variant index: what is kept under a
	// primary key whose responses vary (RFC 9111 §4.1) in place of a
	// response. Then Vary lists the field names they vary on (lower-case,
	// each NUL-terminated) and no other field is set; Store.GetVariant
	// finds the response a request selects. Drawn at random when the index
	// is made, it is part of its variants' keys: the variants of an index
	// that was deleted or replaced are never found again.
	Variants uint64
}

// entryVersion is the first byte of an encoded entry: a cache file written
// by another version is not misread. A variant index starts with
// indexVersion.
const (
	entryVersion = 2
	indexVersion = 0x80 | entryVersion
)

const (
	flagRevalidate = 1 << iota
	flagNoCache
	flagExpiresOK
	flagZstd
)

// errCorrupt is a stored value that is not an entry of this version.
var errCorrupt = errors.New("cache: corrupt entry")

// Append appends e's encoding to dst.
func (e *Entry) Append(dst []byte) []byte {
	var flags byte
	if e.Revalidate {
		flags |= flagRevalidate
	}
	if e.NoCache {
		flags |= flagNoCache
	}
	if e.Times.ExpiresOK {
		flags |= flagExpiresOK
	}
	if e.Zstd {
		flags |= flagZstd
	}
	dst = append(dst, entryVersion, flags)
	dst = binary.BigEndian.AppendUint16(dst, uint16(e.Status))
	for _, v := range [...]int64{
		int64(e.Lifetime), unixNano(e.Times.Date), unixNano(e.Times.Expires),
		e.Times.Age, unixNano(e.Times.Request), unixNano(e.Times.Response),
	} {
		dst = binary.BigEndian.AppendUint64(dst, uint64(v))
	}
	for _, b := range [...][]byte{e.ETag, e.LastModified, e.Vary, e.Head, e.Body} {
		dst = binary.AppendUvarint(dst, uint64(len(b)))
		dst = append(dst, b...)
	}
	if e.Zstd {
		dst = binary.AppendUvarint(dst, uint64(e.Size))
		dst = binary.AppendUvarint(dst, uint64(len(e.ZHead)))
		dst = append(dst, e.ZHead...)
	}
	return dst
}

// Decode sets e from an encoding made by Append, or by appendIndex; e's
// slices point into b.
func (e *Entry) Decode(b []byte) error {
	if len(b) > 0 && b[0] == indexVersion {
		return e.decodeIndex(b)
	}
	const fixed = 2 + 2 + 6*8
	if len(b) < fixed || b[0] != entryVersion {
		return errCorrupt
	}
	flags := b[1]
	e.Status = int(binary.BigEndian.Uint16(b[2:]))
	var v [6]int64
	for i := range v {
		v[i] = int64(binary.BigEndian.Uint64(b[4+8*i:]))
	}
	e.Lifetime = time.Duration(v[0])
	e.Times = Times{
		Date: fromUnixNano(v[1]), Expires: fromUnixNano(v[2]), Age: v[3],
		Request: fromUnixNano(v[4]), Response: fromUnixNano(v[5]),
		ExpiresOK: flags&flagExpiresOK != 0,
	}
	e.Revalidate, e.NoCache = flags&flagRevalidate != 0, flags&flagNoCache != 0
	e.Zstd, e.Size, e.ZHead = flags&flagZstd != 0, 0, nil
	e.Variants = 0
	b = b[fixed:]
	for _, dst := range [...]*[]byte{&e.ETag, &e.LastModified, &e.Vary, &e.Head, &e.Body} {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return errCorrupt
		}
		*dst = b[k : k+int(n)]
		b = b[k+int(n):]
	}
	if e.Zstd {
		size, k := binary.Uvarint(b)
		if k <= 0 || size > 1<<40 {
			return errCorrupt
		}
		e.Size = int64(size)
		b = b[k:]
		n, k := binary.Uvarint(b)
		if k <= 0 || n != uint64(len(b)-k) {
			return errCorrupt
		}
		e.ZHead = b[k:]
		b = b[len(b):]
	}
	if len(b) != 0 {
		return errCorrupt
	}
	return nil
}

// unixNano is t in nanoseconds since 1970, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

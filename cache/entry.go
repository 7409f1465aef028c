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
	Vary               []byte // the field names it varies on, lower-case, NUL-terminated each
	Head               []byte // the response head as sluice forwards it, without Age
	Body               []byte
}

// entryVersion is the first byte of an encoded entry: a cache file written
// by another version is not misread.
const entryVersion = 1

const (
	flagRevalidate = 1 << iota
	flagNoCache
	flagExpiresOK
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
	return dst
}

// Decode sets e from an encoding made by Append; e's slices point into b.
func (e *Entry) Decode(b []byte) error {
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
	b = b[fixed:]
	for _, dst := range [...]*[]byte{&e.ETag, &e.LastModified, &e.Vary, &e.Head, &e.Body} {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return errCorrupt
		}
		*dst = b[k : k+int(n)]
		b = b[k+int(n):]
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

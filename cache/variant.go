package cache

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
)

// Several responses for one URL (RFC 9111 §4.1). A response without Vary is
// stored under the request's primary key. A response with Vary is stored
// under a secondary key, the primary key followed by the request's values
// of the fields it varies on (Entry.Vary), and under the primary key goes a
// variant index naming those fields (Entry.Variants). A lookup that finds
// an index builds the secondary key from the request and gets the variant
// (GetVariant): one more Get only for URLs that vary.
//
// Whatever replaces or deletes the primary key's entry makes the variants
// unreachable: their keys hold the index's random Variants value, which a
// new index does not share. They stay in fastcache until its ring buffers
// overwrite them.

// appendIndex appends the encoding of a variant index: indexVersion, the
// Variants value, the field names (lower-case, NUL-terminated each).
func appendIndex(dst []byte, variants uint64, names []byte) []byte {
	dst = append(dst, indexVersion)
	dst = binary.BigEndian.AppendUint64(dst, variants)
	dst = binary.AppendUvarint(dst, uint64(len(names)))
	return append(dst, names...)
}

// decodeIndex sets e from an encoding made by appendIndex.
func (e *Entry) decodeIndex(b []byte) error {
	const fixed = 1 + 8
	if len(b) < fixed {
		return errCorrupt
	}
	*e = Entry{Variants: binary.BigEndian.Uint64(b[1:])}
	b = b[fixed:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n != uint64(len(b)-k) || e.Variants == 0 {
		return errCorrupt
	}
	e.Vary = b[k:]
	if len(e.Vary) == 0 || e.Vary[len(e.Vary)-1] != 0 {
		return errCorrupt
	}
	return nil
}

// appendVaryNames appends the field names of AppendVaryValue records, each
// NUL-terminated: a variant index's names.
func appendVaryNames(dst, records []byte) []byte {
	for len(records) > 0 {
		i := bytes.IndexByte(records, 0)
		if i < 0 {
			break
		}
		dst = append(dst, records[:i+1]...)
		records = records[i+1:]
		if j := bytes.IndexByte(records, 0); j >= 0 {
			records = records[j+1:]
		} else {
			break
		}
	}
	return dst
}

// appendVariantKey appends the secondary key of a variant: the primary key,
// NUL (a primary key has no fourth one), the index's Variants value and the
// request's AppendVaryValue records.
func appendVariantKey(dst, key []byte, variants uint64, vary []byte) []byte {
	dst = append(dst, key...)
	dst = append(dst, 0)
	dst = binary.BigEndian.AppendUint64(dst, variants)
	return append(dst, vary...)
}

// putIndex makes sure the variant index under key names the fields of vary
// (a response's AppendVaryValue records): an index naming the same fields
// is kept, so the variants stored before stay; anything else there (a
// response without Vary, an index of other fields) is replaced by a new
// index. It returns the key the response goes under.
//
// Two responses stored at once with new names may each write an index; the
// last one wins and the other's variant is lost, a miss at worst.
func (s *Store) putIndex(key, vary []byte) []byte {
	names := appendVaryNames(nil, vary)
	k := append([]byte{'s'}, key...)
	var cur Entry
	var variants uint64
	if b, ok := s.fc.HasGet(nil, k); ok && cur.Decode(b) == nil && cur.Variants != 0 && bytes.Equal(cur.Vary, names) {
		variants = cur.Variants
	} else {
		for variants == 0 {
			variants = rand.Uint64()
		}
		s.fc.Del(append([]byte{'b'}, key...))
		s.hot.del(key)
		s.fc.Set(k, appendIndex(nil, variants, names))
	}
	return appendVariantKey(nil, key, variants, vary)
}

// GetVariant is Get for the response a variant index selects (RFC 9111
// §4.1): key is the primary key the index was found under, variants its
// Variants, and vary the request's AppendVaryValue records for its names,
// in the index's order. A miss is counted as one; the index was not.
func (s *Store) GetVariant(dst, key []byte, variants uint64, vary []byte, e *Entry) (buf []byte, ok bool) {
	var kb [512]byte // no allocation for the usual key
	k := appendVariantKey(append(kb[:0], 's'), key, variants, vary)
	buf, ok = s.get(dst, k, e)
	if ok && e.Variants != 0 {
		// An index under a secondary key: only a store of another format
		// (or a fastcache collision) could have put it there.
		s.misses.Add(1)
		return buf[:len(dst)], false
	}
	return buf, ok
}

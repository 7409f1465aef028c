package parser

import (
	"encoding/binary"
	"math/bits"
)

// Field lines: their syntax, a one-pass fast path, and lookup by name.
//
//	field-line   = field-name ":" OWS field-value OWS     (RFC 9112 §5)
//	field-name   = token                                  (RFC 9110 §5.1)

// parseFieldLine parses the field line raw[start:lf], where raw[lf] is its LF.
// The line is not empty.
func parseFieldLine(raw []byte, start, lf int) (Header, *Error) {
	end := lf
	if end > start && raw[end-1] == '\r' {
		end--
	} else {
		return Header{}, ErrBareLF
	}
	line := raw[start:end]
	if len(line) == 0 {
		return Header{}, ErrBareLF // BUG: the caller handles the empty line
	}
	switch line[0] {
	case ' ', '\t':
		// RFC 9112 §5.2: obs-fold; §2.2: whitespace before the first field.
		return Header{}, ErrObsFold
	case ':':
		return Header{}, ErrEmptyHeaderName
	}
	i := len(line)
	for k, c := range line {
		if !tokenTable[c] {
			i = k
			break
		}
	}
	if i == len(line) {
		return Header{}, ErrMissingColon
	}
	if line[i] != ':' {
		return Header{}, badNameError(line, i)
	}
	name := span(start, start+i)

	// Value: skip leading OWS, validate the rest, trim trailing OWS.
	j := i + 1
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	v := line[j:]
	if !validFieldValue(v) {
		return Header{}, ErrBadHeaderValue
	}
	k := len(v)
	for k > 0 && (v[k-1] == ' ' || v[k-1] == '\t') {
		k--
	}
	return Header{Name: name, Value: span(start+j, start+j+k)}, nil
}

// validFieldValue reports whether every byte of v is in fieldValueTable. It
// checks eight bytes at a time for the common case, no byte below 0x20 and no
// DEL, and looks bytes up in the table only in a word that has one (HTAB is
// below 0x20 yet allowed).
func validFieldValue(v []byte) bool {
	for len(v) >= 8 {
		if ctlOrDelMask(binary.LittleEndian.Uint64(v)) != 0 {
			for _, c := range v[:8] {
				if !fieldValueTable[c] {
					return false
				}
			}
		}
		v = v[8:]
	}
	for _, c := range v {
		if !fieldValueTable[c] {
			return false
		}
	}
	return true
}

// scanFieldLines is the fast path for field lines: in one pass per line it
// appends to hs the valid field lines that start at buf[start] and end in
// CRLF before buf[end], until len(hs) is max. It stops at anything else (an
// incomplete line, the empty line, any error) and returns the offset where it
// stopped; the caller then finds that line's LF and parses it with
// parseFieldLine, which decides what the line is.
func scanFieldLines(hs []Header, buf []byte, start, end, max int) ([]Header, int) {
	if end > len(buf) {
		return hs, start
	}
	b := buf[:end]
	for len(hs) < max && start < len(b) {
		i := start
		for i+4 <= len(b) && tokenTable[b[i]] && tokenTable[b[i+1]] && tokenTable[b[i+2]] && tokenTable[b[i+3]] {
			i += 4
		}
		for i < len(b) && tokenTable[b[i]] {
			i++
		}
		if i == start || i >= len(b) || b[i] != ':' {
			break
		}
		nameEnd := i
		i++
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
		}
		vStart := i
		// Eight bytes at a time up to the first byte below 0x20 or DEL,
		// which must be the CR of the line end (or an HTAB, skipped).
		for i+8 <= len(b) {
			m := ctlOrDelMask(binary.LittleEndian.Uint64(b[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
			if b[i] != '\t' {
				break
			}
			i++
		}
		if i+8 > len(b) {
			for i < len(b) && fieldValueTable[b[i]] {
				i++
			}
		}
		if i+1 >= len(b) || b[i] != '\r' || b[i+1] != '\n' {
			break
		}
		vEnd := i
		for vEnd > vStart && (b[vEnd-1] == ' ' || b[vEnd-1] == '\t') {
			vEnd--
		}
		hs = append(hs, Header{Name: span(start, nameEnd), Value: span(vStart, vEnd)})
		start = i + 2
	}
	return hs, start
}

// ctlOrDelMask returns a mask with the high bit set in each byte of x that
// may be below 0x20 or equal to 0x7F (DEL). Bytes of obs-text (0x80 and up)
// are never flagged. The lowest flagged byte is exact; bytes above it may be
// flagged falsely (a borrow propagates upwards), so a caller uses only the
// lowest, or re-checks.
func ctlOrDelMask(x uint64) uint64 {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	lt := (x - 0x20*ones) & ^x & highs // hasless(x, 0x20)
	y := x ^ 0x7f*ones
	return lt | (y-ones)&^y&highs // haszero(x ^ 0x7F..)
}

// badNameError classifies a field line whose name stops at line[i], a byte
// that is neither a token byte nor a colon.
func badNameError(line []byte, i int) *Error {
	j := i
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	if j > i && j < len(line) && line[j] == ':' {
		// RFC 9112 §5.1: no whitespace is allowed between the field name and
		// colon; a server MUST reject, a proxy MUST remove it before forwarding.
		return ErrSpaceBeforeColon
	}
	for ; j < len(line); j++ {
		if line[j] == ':' {
			return ErrBadHeaderName
		}
	}
	return ErrMissingColon
}

// lookupHeader returns the value of the first field named name
// (case-insensitive) among hs.
func lookupHeader(raw []byte, hs []Header, name string) ([]byte, bool) {
	for i := range hs {
		h := &hs[i]
		if h.Name.Len() != len(name) {
			continue
		}
		n := raw[h.Name.Start:h.Name.End]
		match := true
		for k := 0; k < len(n); k++ {
			if lower(n[k]) != lower(name[k]) {
				match = false
				break
			}
		}
		if match {
			return raw[h.Value.Start:h.Value.End], true
		}
	}
	return nil, false
}

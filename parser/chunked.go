package parser

// The chunked transfer coding, RFC 9112 §7.1:
//
//	chunked-body   = *chunk
//	                 last-chunk
//	                 trailer-section
//	                 CRLF
//	chunk          = chunk-size [ chunk-ext ] CRLF
//	                 chunk-data CRLF
//	chunk-size     = 1*HEXDIG
//	last-chunk     = 1*("0") [ chunk-ext ] CRLF
//	chunk-data     = 1*OCTET ; a sequence of chunk-size octets
//	chunk-ext      = *( BWS ";" BWS chunk-ext-name
//	                    [ BWS "=" BWS chunk-ext-val ] )
//	chunk-ext-name = token
//	chunk-ext-val  = token / quoted-string
//	trailer-section = *( field-line CRLF )

// Decoder states. The chunk line is parsed byte by byte so that no byte is
// ever looked at twice and nothing needs to be kept between calls.
const (
	csSize          uint8 = iota // chunk-size digits
	csExtBWS                     // BWS that must be followed by ";"
	csExtName0                   // after ";": BWS, then the name
	csExtName                    // chunk-ext-name
	csExtAfterName               // BWS after the name: "=" or ";"
	csExtValue0                  // after "=": BWS, then the value
	csExtToken                   // token value
	csExtQuoted                  // inside a quoted-string
	csExtQuotedPair              // after a backslash in a quoted-string
	csExtAfterQuote              // after a quoted-string
	csSizeLF                     // the CR ending the chunk line was read
	csData                       // chunk-data, remaining bytes to go
	csDataCR                     // the CR after chunk-data
	csDataLF                     // the LF after chunk-data
	csTrailerStart               // start of a trailer line or of the final CRLF
	csTrailerName                // a trailer field name
	csTrailerNameWS              // whitespace after a trailer field name
	csTrailerValue               // a trailer field value
	csTrailerLF                  // the CR ending a trailer line was read
	csEndLF                      // the CR of the final CRLF was read
	csDone
	csFailed
)

const (
	maxChunkSize   = 1<<62 - 1
	maxChunkDigits = 32
)

// ChunkedDecoder decodes the chunked transfer coding incrementally and without
// copying. Its zero value is ready to use. It is owned by one goroutine.
type ChunkedDecoder struct {
	// MaxTrailerBytes bounds the trailer section, its final CRLF included;
	// 0 means DefaultMaxTrailerBytes.
	MaxTrailerBytes int

	state     uint8
	digits    int   // chunk-size digits read
	size      int64 // chunk-size being read, then the chunk-data bytes to go
	extBytes  int   // chunk-ext bytes of the current chunk line
	trailer   int   // trailer-section bytes read
	err       error // the error, once failed
	lastChunk bool  // the chunk line being read is the last-chunk
}

// Reset prepares d for a new body.
func (d *ChunkedDecoder) Reset() {
	*d = ChunkedDecoder{MaxTrailerBytes: d.MaxTrailerBytes}
}

// DataRemaining returns how many bytes of the current chunk's data are still
// to come, 0 outside chunk-data. Once Decode consumed a chunk line, the caller
// may move that many bytes by other means (splice) and tell the decoder with
// SkipData.
func (d *ChunkedDecoder) DataRemaining() int64 {
	if d.state == csData {
		return d.size
	}
	return 0
}

// SkipData records that n bytes of chunk data were moved without passing
// through Decode. n must not exceed DataRemaining.
func (d *ChunkedDecoder) SkipData(n int64) {
	if d.state != csData || n < 0 || n > d.size {
		panic("parser: BUG: SkipData beyond the current chunk's data")
	}
	d.size -= n
	if d.size == 0 {
		d.state = csDataCR
	}
}

// Done reports whether the last chunk and the trailer section were decoded.
func (d *ChunkedDecoder) Done() bool { return d.state == csDone }

// Decode consumes the chunked body from in. It returns n, how many bytes of in
// belong to the body and were consumed; data, the chunk-data among them, a
// subslice of in ending at in[n] (at most one contiguous piece per call, so a
// call stops after a piece of data); and done when the last chunk and the
// trailer section ended, n then ending exactly at the body's end. Framing bytes
// are consumed as they arrive: unless done or failed, n < len(in) only when
// data was returned, and the caller passes the unconsumed rest again. With
// empty in it returns (0, nil, false, nil): more bytes are needed. A bare LF
// or CR anywhere in the framing is an error; after an error Decode returns it
// again until Reset. data is valid as long as in is.
func (d *ChunkedDecoder) Decode(in []byte) (n int, data []byte, done bool, err error) {
	switch d.state {
	case csDone:
		return 0, nil, true, nil
	case csFailed:
		return 0, nil, false, d.err
	}
	i := 0
	for i < len(in) {
		if d.state == csData {
			take := int64(len(in) - i)
			if take > d.size {
				take = d.size
			}
			data = in[i : i+int(take)]
			i += int(take)
			d.size -= take
			if d.size == 0 {
				d.state = csDataCR
			}
			return i, data, false, nil
		}
		c := in[i]
		i++
		if e := d.step(c); e != nil {
			d.state = csFailed
			d.err = e
			return 0, nil, false, e
		}
		if d.state == csDone {
			return i, nil, true, nil
		}
	}
	return i, nil, false, nil
}

// step advances the framing state machine by the byte c.
func (d *ChunkedDecoder) step(c byte) *Error {
	switch d.state {
	case csSize:
		if v := hexValue[c]; v >= 0 {
			d.digits++
			if d.digits > maxChunkDigits || d.size > maxChunkSize>>4 {
				return ErrChunkSizeOverflow
			}
			d.size = d.size<<4 | int64(v)
			return nil
		}
		if d.digits == 0 {
			return ErrBadChunkSize
		}
		switch c {
		case '\r':
			d.state = csSizeLF
		case ';':
			d.state = csExtName0
		case ' ', '\t':
			d.state = csExtBWS
		case '\n':
			return ErrBareLF
		default:
			return ErrBadChunkSize
		}
		d.lastChunk = d.size == 0
		return d.countExt(c)
	case csSizeLF:
		if c != '\n' {
			return ErrBadChunkSize // a CR not followed by LF
		}
		if d.lastChunk {
			d.state = csTrailerStart
			return nil
		}
		d.state = csData
		return nil
	case csDataCR:
		if c != '\r' {
			return ErrBadChunkTerminator
		}
		d.state = csDataLF
		return nil
	case csDataLF:
		if c != '\n' {
			return ErrBadChunkTerminator
		}
		d.state = csSize
		d.digits, d.size, d.extBytes = 0, 0, 0
		return nil
	case csExtBWS, csExtName0, csExtName, csExtAfterName, csExtValue0,
		csExtToken, csExtQuoted, csExtQuotedPair, csExtAfterQuote:
		if err := d.countExt(c); err != nil {
			return err
		}
		return d.stepExt(c)
	}
	return d.stepTrailer(c)
}

// countExt counts a byte of the chunk line after the size against
// MaxChunkExtBytes.
func (d *ChunkedDecoder) countExt(c byte) *Error {
	if c == '\r' {
		return nil
	}
	d.extBytes++
	if d.extBytes > MaxChunkExtBytes {
		return ErrChunkExtTooLong
	}
	return nil
}

// stepExt advances through chunk-ext by the byte c. Whitespace is allowed only
// where the grammar has BWS: before ";" and around "="; a chunk line never
// ends in whitespace.
func (d *ChunkedDecoder) stepExt(c byte) *Error {
	ws := c == ' ' || c == '\t'
	switch d.state {
	case csExtBWS:
		switch {
		case ws:
		case c == ';':
			d.state = csExtName0
		default:
			return d.extError(c)
		}
	case csExtName0:
		switch {
		case ws:
		case tokenTable[c]:
			d.state = csExtName
		default:
			return d.extError(c)
		}
	case csExtName:
		switch {
		case tokenTable[c]:
		case c == ';':
			d.state = csExtName0
		case c == '=':
			d.state = csExtValue0
		case ws:
			d.state = csExtAfterName
		case c == '\r':
			d.state = csSizeLF
		default:
			return d.extError(c)
		}
	case csExtAfterName:
		switch {
		case ws:
		case c == '=':
			d.state = csExtValue0
		case c == ';':
			d.state = csExtName0
		default:
			return d.extError(c)
		}
	case csExtValue0:
		switch {
		case ws:
		case c == '"':
			d.state = csExtQuoted
		case tokenTable[c]:
			d.state = csExtToken
		default:
			return d.extError(c)
		}
	case csExtToken, csExtAfterQuote:
		switch {
		case d.state == csExtToken && tokenTable[c]:
		case c == ';':
			d.state = csExtName0
		case ws:
			d.state = csExtBWS
		case c == '\r':
			d.state = csSizeLF
		default:
			return d.extError(c)
		}
	case csExtQuoted:
		switch {
		case c == '"':
			d.state = csExtAfterQuote
		case c == '\\':
			d.state = csExtQuotedPair
		case qdtextTable[c]:
		default:
			return d.extError(c)
		}
	case csExtQuotedPair:
		if !fieldValueTable[c] {
			return d.extError(c)
		}
		d.state = csExtQuoted
	}
	return nil
}

func (d *ChunkedDecoder) extError(c byte) *Error {
	if c == '\n' {
		return ErrBareLF
	}
	return ErrBadChunkExt
}

// stepTrailer advances through the trailer section by the byte c. Trailer
// fields are validated like header fields (RFC 9112 §7.1.2) and discarded.
func (d *ChunkedDecoder) stepTrailer(c byte) *Error {
	d.trailer++
	max := d.MaxTrailerBytes
	if max <= 0 {
		max = DefaultMaxTrailerBytes
	}
	if d.trailer > max {
		return ErrTrailerTooLarge
	}
	switch d.state {
	case csTrailerStart:
		switch {
		case c == '\r':
			d.state = csEndLF
		case tokenTable[c]:
			d.state = csTrailerName
		case c == ' ' || c == '\t':
			return ErrObsFold
		case c == ':':
			return ErrEmptyHeaderName
		case c == '\n':
			return ErrBareLF
		default:
			return ErrBadHeaderName
		}
	case csTrailerName:
		switch {
		case tokenTable[c]:
		case c == ':':
			d.state = csTrailerValue
		case c == ' ' || c == '\t':
			d.state = csTrailerNameWS
		case c == '\r' || c == '\n':
			return ErrMissingColon
		default:
			return ErrBadHeaderName
		}
	case csTrailerNameWS:
		switch {
		case c == ' ' || c == '\t':
		case c == ':':
			return ErrSpaceBeforeColon
		case c == '\r' || c == '\n':
			return ErrMissingColon
		default:
			return ErrBadHeaderName
		}
	case csTrailerValue:
		switch {
		case fieldValueTable[c]:
		case c == '\r':
			d.state = csTrailerLF
		case c == '\n':
			return ErrBareLF
		default:
			return ErrBadHeaderValue
		}
	case csTrailerLF:
		if c != '\n' {
			return ErrBadHeaderValue // a CR not followed by LF
		}
		d.state = csTrailerStart
	case csEndLF:
		if c != '\n' {
			return ErrBadChunkTerminator
		}
		d.state = csDone
	}
	return nil
}

package parser

import "errors"

// The server name of a TLS ClientHello (RFC 8446 §4.1.2, RFC 6066 §3), for
// the transparent listener: a redirected TLS connection is routed by the
// name it asks for, without terminating TLS. Only the handshake's first
// message is read; the records stay the client's, relayed unchanged.

// MaxClientHello bounds the handshake bytes gathered for a ClientHello:
// post-quantum key shares make them a few KiB, and a TLS record carries at
// most 16 KiB.
const MaxClientHello = 64 << 10

// ErrNotClientHello is a TLS stream whose first handshake message is not a
// well-formed ClientHello, or a longer one than MaxClientHello.
var ErrNotClientHello = errors.New("tls: not a ClientHello")

// ClientHelloSNI returns the host_name of the server_name extension of the
// ClientHello at the start of b, a stream of TLS records. done is false when
// b holds only part of it (wait for more); name is empty when the hello
// names no server. The returned name points into a buffer of its own only
// when the hello spans records; otherwise into b.
func ClientHelloSNI(b []byte) (name []byte, done bool, err error) {
	// Gather the handshake message from the records' fragments.
	var msg []byte
	joined := false
	need := -1 // the handshake message's length with its 4-byte header, once known
	for len(b) > 0 {
		if len(b) < 5 {
			return nil, false, nil
		}
		if b[0] != 22 || b[1] != 3 {
			return nil, false, ErrNotClientHello
		}
		n := int(b[3])<<8 | int(b[4])
		if n == 0 || n > 1<<14+2048 {
			return nil, false, ErrNotClientHello
		}
		if len(b) < 5+n {
			// Part of a record: enough if the message is in what came.
			msg = joinFragment(msg, b[5:], &joined)
			break
		}
		msg = joinFragment(msg, b[5:5+n], &joined)
		b = b[5+n:]
		if len(msg) >= 4 {
			need = 4 + (int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3]))
			if len(msg) >= need {
				break
			}
		}
		if len(msg) > MaxClientHello {
			return nil, false, ErrNotClientHello
		}
	}
	if len(msg) < 4 {
		return nil, false, nil
	}
	if msg[0] != 1 { // client_hello
		return nil, false, ErrNotClientHello
	}
	need = 4 + (int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3]))
	if need > MaxClientHello {
		return nil, false, ErrNotClientHello
	}
	if len(msg) < need {
		return nil, false, nil
	}
	name, err = helloServerName(msg[4:need])
	return name, err == nil, err
}

// joinFragment adds a record's fragment to the handshake bytes gathered in
// msg: the first one is used in place; from the second, msg is a copy of its
// own (appending in place would write over the stream's next bytes).
func joinFragment(msg, frag []byte, joined *bool) []byte {
	if msg == nil && !*joined {
		return frag
	}
	if !*joined {
		msg = append(make([]byte, 0, len(msg)+len(frag)), msg...)
		*joined = true
	}
	return append(msg, frag...)
}

// helloServerName finds the host_name in a ClientHello body.
func helloServerName(h []byte) ([]byte, error) {
	r := helloReader(h)
	// legacy_version, random
	if !r.skip(2 + 32) {
		return nil, ErrNotClientHello
	}
	// legacy_session_id, cipher_suites, legacy_compression_methods
	if _, ok := r.vec(1); !ok {
		return nil, ErrNotClientHello
	}
	if _, ok := r.vec(2); !ok {
		return nil, ErrNotClientHello
	}
	if _, ok := r.vec(1); !ok {
		return nil, ErrNotClientHello
	}
	if len(r) == 0 {
		return nil, nil // no extensions (TLS 1.0/1.1 style)
	}
	exts, ok := r.vec(2)
	if !ok || len(r) != 0 {
		return nil, ErrNotClientHello
	}
	for len(exts) > 0 {
		var typ int
		if typ, ok = exts.u16(); !ok {
			return nil, ErrNotClientHello
		}
		var data helloReader
		if data, ok = exts.vec(2); !ok {
			return nil, ErrNotClientHello
		}
		if typ != 0 { // server_name
			continue
		}
		list, ok := data.vec(2)
		if !ok || len(data) != 0 {
			return nil, ErrNotClientHello
		}
		for len(list) > 0 {
			nt, ok := list.u8()
			if !ok {
				return nil, ErrNotClientHello
			}
			name, ok := list.vec(2)
			if !ok {
				return nil, ErrNotClientHello
			}
			if nt == 0 { // host_name
				if len(name) == 0 {
					return nil, ErrNotClientHello
				}
				return name, nil
			}
		}
		return nil, nil
	}
	return nil, nil
}

// helloReader reads a ClientHello's fields.
type helloReader []byte

func (r *helloReader) skip(n int) bool {
	if len(*r) < n {
		return false
	}
	*r = (*r)[n:]
	return true
}

func (r *helloReader) u8() (int, bool) {
	if len(*r) < 1 {
		return 0, false
	}
	v := int((*r)[0])
	*r = (*r)[1:]
	return v, true
}

func (r *helloReader) u16() (int, bool) {
	if len(*r) < 2 {
		return 0, false
	}
	v := int((*r)[0])<<8 | int((*r)[1])
	*r = (*r)[2:]
	return v, true
}

// vec reads a vector with a length prefix of lenBytes (1 or 2) bytes.
func (r *helloReader) vec(lenBytes int) (helloReader, bool) {
	var n int
	var ok bool
	if lenBytes == 1 {
		n, ok = r.u8()
	} else {
		n, ok = r.u16()
	}
	if !ok || len(*r) < n {
		return nil, false
	}
	v := (*r)[:n]
	*r = (*r)[n:]
	return v, true
}

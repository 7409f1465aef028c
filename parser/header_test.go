package parser

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestScanFieldLineAgrees checks the one-pass fast path against the
// line-based parser on random lines: the fast path may decline a line, but
// what it accepts the line parser accepts the same way, and it accepts every
// valid complete line.
func TestScanFieldLineAgrees(t *testing.T) {
	alphabet := []byte("aZ09-_:: \t\t\r\n\x00\x01\x1f\x7f\x80\xff\"(,;=")
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 200000; iter++ {
		n := rng.IntN(40)
		line := make([]byte, 0, n+2)
		for i := 0; i < n; i++ {
			line = append(line, alphabet[rng.IntN(len(alphabet))])
		}
		if rng.IntN(2) == 0 {
			line = append(line, '\r', '\n')
		}
		lf := bytes.IndexByte(line, '\n')
		hs, next := scanFieldLines(nil, line, 0, len(line), 1)
		ok := len(hs) == 1
		var h Header
		if ok {
			h = hs[0]
		}
		if lf < 0 {
			if ok {
				t.Fatalf("%q: fast path accepted a line without LF", line)
			}
			continue
		}
		var ph Header
		var perr *Error = ErrBareLF
		if lf > 0 {
			ph, perr = parseFieldLine(line, 0, lf)
		}
		if ok && (perr != nil || ph != h || next != lf+1) {
			t.Fatalf("%q: fast path %+v next %d, line parser %+v %v", line, h, next, ph, perr)
		}
		if !ok && perr == nil {
			t.Fatalf("%q: fast path declined a valid line", line)
		}
	}
}

func TestCtlOrDelMask(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 8; pos++ {
			w := bytes.Repeat([]byte("a"), 8)
			w[pos] = byte(c)
			var x uint64
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(w[i])
			}
			m := ctlOrDelMask(x)
			bad := c < 0x20 || c == 0x7f
			if bad != (m != 0) || bad && m != 0x80<<(8*pos) {
				t.Fatalf("byte %#x at %d: mask %#x", c, pos, m)
			}
		}
	}
}

// TestFieldNameSlots checks that the names classifyField knows have a slot
// each, and that it finds each in any case and nothing else.
func TestFieldNameSlots(t *testing.T) {
	seen := map[int]string{}
	for _, f := range knownFields {
		s := fieldNameSlot(f.name[0], len(f.name))
		if o, ok := seen[s]; ok {
			t.Fatalf("%q and %q share slot %d", f.name, o, s)
		}
		seen[s] = f.name
		for _, n := range []string{f.name, strings.ToUpper(f.name), strings.ToUpper(f.name[:1]) + f.name[1:]} {
			if k := classifyField([]byte(n)); k != f.kind {
				t.Errorf("classifyField(%q) = %d, want %d", n, k, f.kind)
			}
		}
		for _, n := range []string{f.name[1:], f.name + "s", "x" + f.name[1:], f.name[:len(f.name)-1] + "\r"} {
			if k := classifyField([]byte(n)); k != fieldOther {
				t.Errorf("classifyField(%q) = %d, want fieldOther", n, k)
			}
		}
	}
	if k := classifyField(nil); k != fieldOther {
		t.Errorf("classifyField(nil) = %d", k)
	}
}

// TestHostPortUserinfo checks what parseHostPort's late '@' scan relies on:
// splitHostPort accepts nothing with an '@', so an '@' anywhere still means
// hostUserinfo and everything else gets splitHostPort's answer.
func TestHostPortUserinfo(t *testing.T) {
	alphabet := []byte("a0@:[]:.1f%-9@")
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 200000; iter++ {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if iter%4 == 0 && len(b) > 2 {
			b[0], b[len(b)-1] = '[', ']'
		}
		_, _, _, split := splitHostPort(b, 0, len(b))
		_, _, _, res := parseHostPort(b, 0, len(b))
		at := bytes.IndexByte(b, '@') >= 0
		if split == hostOK && at || at && res != hostUserinfo || !at && res != split {
			t.Fatalf("%q: splitHostPort %d, parseHostPort %d", b, split, res)
		}
	}
}

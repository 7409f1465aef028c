package ascii

import "testing"

func TestASCII(t *testing.T) {
	if !EqualFold([]byte("Cache-CONTROL"), "cache-control") || !EqualFold([]byte("x-a"), "X-A") ||
		EqualFold([]byte("é"), "É") || EqualFold([]byte("ab"), "abc") {
		t.Error("EqualFold")
	}
	if got := string(AppendLower([]byte("k:"), []byte("Host.TEST-1"))); got != "k:host.test-1" {
		t.Errorf("AppendLower: %q", got)
	}
	if got := string(TrimOWS([]byte(" \t a b\t "))); got != "a b" {
		t.Errorf("TrimOWS: %q", got)
	}
	if got := TrimOWS([]byte(" \t")); len(got) != 0 {
		t.Errorf("TrimOWS of blanks: %q", got)
	}
}

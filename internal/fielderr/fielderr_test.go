package fielderr

import (
	"errors"
	"strings"
	"testing"
)

func TestError(t *testing.T) {
	kind := errors.New("x: invalid configuration")
	l := List{
		{Field: "a.b", Value: "v", Reason: "bad", Kind: kind},
		{Field: "c", Reason: "missing", Kind: kind},
		{Field: "d", Value: strings.Repeat("z", 200), Reason: "long", Kind: kind},
	}
	var err error = l
	if got := strings.Split(err.Error(), "\n"); got[0] != `a.b: "v": bad` || got[1] != "c: missing" || len(got[2]) > 150 {
		t.Fatalf("Error() = %q", err.Error())
	}
	var first *Error
	if !errors.As(err, &first) || first.Field != "a.b" || !errors.Is(err, kind) {
		t.Fatalf("As/Is: %v %v", first, errors.Is(err, kind))
	}
}

package fielderr

import (
	"errors"
	"testing"
)

func TestMessage(t *testing.T) {
	kind, cause := errors.New("kind"), errors.New("decoder says no")
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{Pkg: "quote", Field: "header version", Want: "3, 4 or 5", Got: "7"}, "quote: header version: want 3, 4 or 5, got 7"},
		{Error{Pkg: "cmw", Path: `entry "a"/2`, Field: "tag number", Want: "at least 1668546817", Got: "5"}, `cmw: entry "a"/2: tag number: want at least 1668546817, got 5`},
		{Error{Pkg: "cca", Field: "token", Got: "trailing bytes", Cause: cause}, "cca: token: trailing bytes (decoder says no)"},
		{Error{Pkg: "cca", Field: "token", Cause: cause}, "cca: token: decoder says no"},
		{Error{Pkg: "pcs", Path: "tcbInfo.version", Got: "missing"}, "pcs: tcbInfo.version: missing"},
		{Error{Pkg: "pcs", Got: "body larger than 1 bytes"}, "pcs: body larger than 1 bytes"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	err := error(&Error{Pkg: "cca", Field: "f", Kind: kind, Cause: cause})
	if !errors.Is(err, kind) || !errors.Is(err, cause) {
		t.Errorf("%v does not match its kind and cause", err)
	}
	if errs := (&Error{Kind: kind}).Unwrap(); len(errs) != 1 || errs[0] != kind {
		t.Errorf("Unwrap without a cause: %v", errs)
	}
}

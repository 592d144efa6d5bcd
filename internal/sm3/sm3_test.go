package sm3

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// The two examples of GB/T 32905-2016, appendix A.
func TestStandardExamples(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
		{strings.Repeat("abcd", 16), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"},
	} {
		got := Sum([]byte(c.in))
		if hex.EncodeToString(got[:]) != c.want {
			t.Errorf("SM3(%q) = %x, want %s", c.in, got, c.want)
		}
	}
}

// Writing in pieces of any size gives the digest of the whole, and Sum
// leaves the running state alone.
func TestIncremental(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdefghij"), 37)
	want := Sum(data)
	for _, step := range []int{1, 3, 63, 64, 65, 200} {
		h := New()
		for i := 0; i < len(data); i += step {
			h.Write(data[i:min(i+step, len(data))])
			h.Sum(nil)
		}
		if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
			t.Errorf("step %d: %x, want %x", step, got, want)
		}
	}
}

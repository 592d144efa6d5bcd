package contentkey

import "testing"

func TestPartsAreDelimited(t *testing.T) {
	base := Of("k", []byte("ab"), []byte("c"))
	for name, other := range map[string][32]byte{
		"parts split elsewhere": Of("k", []byte("a"), []byte("bc")),
		"parts joined":          Of("k", []byte("abc")),
		"another kind":          Of("j", []byte("ab"), []byte("c")),
		"an empty part added":   Of("k", []byte("ab"), []byte("c"), nil),
	} {
		if other == base {
			t.Errorf("%s: same key", name)
		}
	}
	if Of("k", []byte("ab"), []byte("c")) != base {
		t.Error("the same parts gave another key")
	}
}

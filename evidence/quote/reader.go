package quote

import (
	"encoding/binary"
	"fmt"
)

// reader walks a byte slice field by field. Every read is bounds-checked
// and a failed read names the field. Returned slices alias the input and
// have their capacity capped so that appending to them cannot overwrite
// the bytes that follow.
type reader struct {
	b    []byte
	off  int
	name string // prefix for field names in errors, e.g. "signature data"
}

func newReader(b []byte, name string) *reader { return &reader{b: b, name: name} }

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) field(f string) string {
	if r.name == "" {
		return f
	}
	return r.name + " " + f
}

// bytes returns the next n bytes.
func (r *reader) bytes(n int, field string) ([]byte, error) {
	if n < 0 || n > r.left() {
		return nil, truncatedErr(r.field(field), n, r.left())
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s, nil
}

// read copies the next len(dst) bytes into dst.
func (r *reader) read(dst []byte, field string) error {
	s, err := r.bytes(len(dst), field)
	if err != nil {
		return err
	}
	copy(dst, s)
	return nil
}

func (r *reader) u16(field string) (uint16, error) {
	s, err := r.bytes(2, field)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(s), nil
}

func (r *reader) u32(field string) (uint32, error) {
	s, err := r.bytes(4, field)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(s), nil
}

// sized reads a length that was itself read from the input: n must fit in
// what is left. It is kept separate from bytes so that a 32-bit length can
// never overflow int.
func (r *reader) sized(n uint32, field string) ([]byte, error) {
	if uint64(n) > uint64(r.left()) {
		return nil, formatErr(ErrTruncated, r.field(field), fmt.Sprintf("at most %d bytes (what is left)", r.left()), fmt.Sprintf("%d bytes", n))
	}
	return r.bytes(int(n), field)
}

// rest returns everything not read yet.
func (r *reader) rest() []byte {
	s := r.b[r.off:len(r.b):len(r.b)]
	r.off = len(r.b)
	return s
}

// writer helpers used by the Marshal methods.

func appendU16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

func putU32(b []byte, v uint32) { binary.LittleEndian.PutUint32(b, v) }

// Package sm3 implements the SM3 hash function (GB/T 32905-2016, also
// ISO/IEC 10118-3:2018), which Hygon CSV guests use for their measurement
// registers and event logs. The Go standard library and x/crypto have no
// SM3; it is small enough to carry here rather than add a dependency.
package sm3

import (
	"encoding/binary"
	"hash"
	"math/bits"
)

// Size and BlockSize are SM3's digest and block sizes in bytes.
const (
	Size      = 32
	BlockSize = 64
)

var iv = [8]uint32{0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e}

type digest struct {
	h   [8]uint32
	buf [BlockSize]byte
	nx  int
	len uint64
}

// New returns an SM3 hash.
func New() hash.Hash {
	d := &digest{}
	d.Reset()
	return d
}

// Sum returns the SM3 digest of data.
func Sum(data []byte) [Size]byte {
	d := digest{h: iv}
	d.Write(data)
	var out [Size]byte
	d.checkSum(&out)
	return out
}

func (d *digest) Reset()         { *d = digest{h: iv} }
func (d *digest) Size() int      { return Size }
func (d *digest) BlockSize() int { return BlockSize }

func (d *digest) Write(p []byte) (int, error) {
	n := len(p)
	d.len += uint64(n)
	if d.nx > 0 {
		c := copy(d.buf[d.nx:], p)
		d.nx += c
		p = p[c:]
		if d.nx == BlockSize {
			d.block(d.buf[:])
			d.nx = 0
		}
	}
	for len(p) >= BlockSize {
		d.block(p[:BlockSize])
		p = p[BlockSize:]
	}
	d.nx += copy(d.buf[:], p)
	return n, nil
}

func (d *digest) Sum(in []byte) []byte {
	c := *d // Sum must not change the running state
	var out [Size]byte
	c.checkSum(&out)
	return append(in, out[:]...)
}

func (d *digest) checkSum(out *[Size]byte) {
	bitLen := d.len << 3
	var pad [BlockSize + 8]byte
	pad[0] = 0x80
	n := 56 - int(d.len%BlockSize)
	if n <= 0 {
		n += BlockSize
	}
	binary.BigEndian.PutUint64(pad[n:], bitLen)
	d.Write(pad[:n+8])
	for i, v := range d.h {
		binary.BigEndian.PutUint32(out[4*i:], v)
	}
}

func p0(x uint32) uint32 { return x ^ bits.RotateLeft32(x, 9) ^ bits.RotateLeft32(x, 17) }
func p1(x uint32) uint32 { return x ^ bits.RotateLeft32(x, 15) ^ bits.RotateLeft32(x, 23) }

// block runs the compression function on one 64-byte block.
func (d *digest) block(b []byte) {
	var w [68]uint32
	for i := 0; i < 16; i++ {
		w[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	for j := 16; j < 68; j++ {
		w[j] = p1(w[j-16]^w[j-9]^bits.RotateLeft32(w[j-3], 15)) ^ bits.RotateLeft32(w[j-13], 7) ^ w[j-6]
	}
	a, b1, c, dd, e, f, g, h := d.h[0], d.h[1], d.h[2], d.h[3], d.h[4], d.h[5], d.h[6], d.h[7]
	for j := 0; j < 64; j++ {
		t := uint32(0x79cc4519)
		if j >= 16 {
			t = 0x7a879d8a
		}
		a12 := bits.RotateLeft32(a, 12)
		ss1 := bits.RotateLeft32(a12+e+bits.RotateLeft32(t, j%32), 7)
		ss2 := ss1 ^ a12
		var ff, gg uint32
		if j < 16 {
			ff, gg = a^b1^c, e^f^g
		} else {
			ff, gg = (a&b1)|(a&c)|(b1&c), (e&f)|(^e&g)
		}
		tt1 := ff + dd + ss2 + (w[j] ^ w[j+4])
		tt2 := gg + h + ss1 + w[j]
		dd, c, b1, a = c, bits.RotateLeft32(b1, 9), a, tt1
		h, g, f, e = g, bits.RotateLeft32(f, 19), e, p0(tt2)
	}
	d.h[0] ^= a
	d.h[1] ^= b1
	d.h[2] ^= c
	d.h[3] ^= dd
	d.h[4] ^= e
	d.h[5] ^= f
	d.h[6] ^= g
	d.h[7] ^= h
}

package cmw

import "fmt"

// RFC 9277 (Appendix B / section 4.3) maps each CoAP Content-Format ID cf in
// [0, 65024] to the CBOR tag number
//
//	TN(cf) = 1668546817 + (cf / 255) * 256 + cf % 255
//
// i.e. 0x63740101 plus cf written in base 255, one digit per byte. Tag CMWs
// use these numbers.
const (
	TNMin = 1668546817 // TN(0) = 0x63740101
	TNMax = 1668612095 // TN(65024) = 0x6374FFFF
	// MaxTNContentFormat is the largest Content-Format ID with a TN tag;
	// IDs 65025..65535 have none.
	MaxTNContentFormat = 65024
)

// TN returns the CBOR tag number derived from CoAP Content-Format cf.
func TN(cf uint16) (uint64, error) {
	if cf > MaxTNContentFormat {
		return 0, malformed("content-format", fmt.Sprintf("at most %d to have a TN tag", MaxTNContentFormat), cf)
	}
	c := uint64(cf)
	return TNMin + (c/255)*256 + c%255, nil
}

// ContentFormat is the inverse of [TN]: it returns the Content-Format ID
// whose TN tag is tn. It fails for numbers outside [TNMin, TNMax] and for
// the numbers inside the range that TN never produces (those whose low
// byte is 0x00).
func ContentFormat(tn uint64) (uint16, error) {
	if tn < TNMin || tn > TNMax {
		return 0, malformed("tag number", fmt.Sprintf("RFC 9277 TN range [%d, %d]", TNMin, TNMax), tn)
	}
	off := tn - TNMin
	hi, lo := off/256, off%256
	if lo == 255 {
		return 0, malformed("tag number", "a TN() image (low byte not 0x00)", fmt.Sprintf("%d (%#x)", tn, tn))
	}
	return uint16(hi*255 + lo), nil
}

package evidence

import (
	"fmt"
	"strings"

	"github.com/ratls/ratls/evidence/cmw"
)

// maxCMWDepth bounds CMWs nested inside CMW leaves.
const maxCMWDepth = 4

// isCMWTag reports whether n is in the RFC 9277 range that tag CMWs use.
func isCMWTag(n uint64) bool { return n >= cmw.TNMin && n <= cmw.TNMax }

// looksLikeCMW reports whether b starts like a CBOR or JSON CMW.
func looksLikeCMW(b []byte) bool {
	_, _, ok := cmw.Demux(b)
	return ok
}

// parseCMWExtension reads the id-pe-cmw extension (DER CHOICE of an OCTET
// STRING holding CBOR or a UTF8String holding JSON).
func parseCMWExtension(v []byte) ([]*Item, error) {
	c, err := cmw.ParseExtension(v)
	if err != nil {
		return nil, err
	}
	return itemsFromCMW(c, 0)
}

func parseCMWDepth(b []byte, depth int) ([]*Item, error) {
	c, err := cmw.Parse(b)
	if err != nil {
		return nil, err
	}
	return itemsFromCMW(c, depth)
}

// itemsFromCMW turns every leaf of a CMW into an Item. A leaf whose content
// is recognised evidence is parsed (and must parse); any other leaf becomes
// an item of KindUnsupported that says what it was, so nothing is silently
// dropped.
func itemsFromCMW(c *cmw.CMW, depth int) ([]*Item, error) {
	if depth > maxCMWDepth {
		return nil, fmt.Errorf("cmw: nested more than %d levels deep", maxCMWDepth)
	}
	var items []*Item
	err := c.Walk(func(path []cmw.Label, leaf *cmw.CMW) error {
		labels := make([]string, len(path))
		for i, l := range path {
			labels[i] = l.String()
		}
		where := "cmw"
		if len(labels) > 0 {
			where += " entry " + strings.Join(labels, "/")
		}
		inner, err := parseRaw(leaf.Value, depth+1)
		if err != nil {
			inner = []*Item{{Kind: KindUnsupported, Data: leaf.Value, Note: fmt.Sprintf("%s: content not recognised as evidence: %v", where, err)}}
		}
		for _, it := range inner {
			it.Format = FormatCMW
			it.Path = append(labels, it.Path...)
			if it.MediaType == "" {
				it.MediaType = cmwType(leaf)
			}
		}
		items = append(items, inner...)
		return nil
	})
	return items, err
}

// cmwType names a leaf's type: its media type, its CoAP Content-Format, or
// the TN tag it came in.
func cmwType(c *cmw.CMW) string {
	switch {
	case c.Kind == cmw.KindTag:
		if cf, err := cmw.ContentFormat(c.Tag); err == nil {
			return fmt.Sprintf("content-format %d (tag %d)", cf, c.Tag)
		}
		return fmt.Sprintf("tag %d", c.Tag)
	case c.HasContentFormat:
		return fmt.Sprintf("content-format %d", c.ContentFormat)
	}
	return c.MediaType
}

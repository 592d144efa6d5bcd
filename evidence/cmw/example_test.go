package cmw_test

import (
	"fmt"

	"github.com/ratls/ratls/evidence/cmw"
)

func ExampleParse() {
	// The JSON collection example of draft-ietf-rats-msg-wrap.
	c, err := cmw.Parse([]byte(`{
	  "attester A": ["application/eat-ucs+json", "e30K", 4],
	  "attester B": ["application/eat-ucs+cbor", "oA", 4]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = c.Walk(func(path []cmw.Label, leaf *cmw.CMW) error {
		fmt.Printf("%s: %s %x (%s)\n", path[0], leaf.MediaType, leaf.Value, leaf.Indicator)
		return nil
	})
	out, _ := c.MarshalCBOR()
	fmt.Printf("%x\n", out)
	// Output:
	// attester A: application/eat-ucs+json 7b7d0a (evidence)
	// attester B: application/eat-ucs+cbor a0 (evidence)
	// a26a617474657374657220418378186170706c69636174696f6e2f6561742d7563732b6a736f6e437b7d0a046a617474657374657220428378186170706c69636174696f6e2f6561742d7563732b63626f7241a004
}

func ExampleParse_error() {
	_, err := cmw.Parse([]byte(`["application/eat+jwt", "I0faVQ==", 0]`))
	fmt.Println(err)
	// Output:
	// cmw: record value: want base64url characters [A-Za-z0-9_-] without padding, got '=' at offset 6
}

func ExampleTN() {
	tn, _ := cmw.TN(30001)
	cf, _ := cmw.ContentFormat(1668612070)
	fmt.Println(tn, cf)
	// Output:
	// 1668576935 64999
}

package evidence

// Evidence is TEE evidence as an attester produces it, before it is put in a
// certificate: what it is (a CBOR tag from the registry, e.g. TagIntelQuote
// for a DCAP quote) and its bytes.
type Evidence struct {
	Tag  uint64
	Data []byte
}

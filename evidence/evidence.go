package evidence

// Evidence is TEE evidence as an attester produces it, before it is put in a
// certificate: what it is (a CBOR tag from the registry, e.g. TagIntelQuote
// for a DCAP quote) and its bytes.
type Evidence struct {
	Tag  uint64
	Data []byte
	// Endorsements, when the attester has them (e.g. the VCEK chain a
	// SEV-SNP host supplies with an extended report), are carried in the
	// certificate so verifiers need not fetch them.
	Endorsements *Endorsements
}

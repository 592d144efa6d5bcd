package tee

import "github.com/ratls/ratls/evidence"

// preferenceOrder lists the certificate evidence formats in the order a
// verifier prefers them. A certificate often carries the same evidence in
// several formats so that older peers can read it; a verifier should read
// the standard one and leave the legacy copies to those peers. So the
// standards come first: Interoperable RA-TLS (its claims buffer names the
// key's hash algorithm and can carry a nonce), then IETF CMW. Next comes
// rats-tls before 2023, the same claims buffer under private tags, and then
// the formats without a claims buffer of their own, which bind a digest of
// the key: Open Enclave, Gramine's legacy extension, and last the Intel SGX
// SDK legacy extension, which usually repeats the interoperable quote.
var preferenceOrder = []evidence.Format{
	evidence.FormatInterop, evidence.FormatCMW, evidence.FormatRatsTLSLegacy,
	evidence.FormatOpenEnclave, evidence.FormatGramineLegacy, evidence.FormatIntelSDKLegacy,
}

// Preferred returns the item of ce a verifier should verify: the first, in
// the format preference order above and then in extension order, that was
// recognised (its Kind is not evidence.KindUnsupported). It returns nil
// when the certificate carries no such evidence.
func Preferred(ce *evidence.CertificateEvidence) *evidence.Item {
	for _, f := range preferenceOrder {
		for _, it := range ce.Items {
			if it.Format == f && it.Kind != evidence.KindUnsupported {
				return it
			}
		}
	}
	return nil
}

package tee

import "github.com/ratls/ratls/verify/checks"

// Checks any family's evidence may carry, added by the root package around
// a family's verification: the claims buffer's binding, freshness, and the
// RA-TLS certificate itself.
const (
	CheckClaimsBinding       = "claims.binding"
	CheckNonce               = "nonce"
	CheckCertificateValidity = "certificate.validity"
	CheckCertificateSig      = "certificate.signature"
	CheckCriticalExtensions  = "certificate.critical_extensions"
)

func init() {
	checks.Define(checks.InstanceIdentity, CheckClaimsBinding, CheckNonce, CheckCertificateValidity, CheckCertificateSig, CheckCriticalExtensions)
}

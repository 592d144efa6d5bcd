package evidence

// BindingStatus is the outcome of checking that evidence vouches for a
// certificate's public key. Package keybinding checks it; the types live
// here because appraisal and verification results report them too.
type BindingStatus string

// Binding outcomes.
const (
	BindingOK            BindingStatus = "ok"             // the evidence binds this key
	BindingMismatch      BindingStatus = "mismatch"       // it binds something else
	BindingAbsent        BindingStatus = "absent"         // the format carries no binding to check
	BindingNotApplicable BindingStatus = "not-applicable" // no certificate to bind to
)

// Binding rules, named in results so a reader knows which convention matched.
const (
	// RuleClaimsSHA256: report_data = SHA-256(claims-buffer) ‖ 32 zero bytes,
	// and the claims' pubkey-hash is the hash of the certificate's SPKI.
	RuleClaimsSHA256 = "claims-sha256"
	// RuleClaimsSHA384: the Intel SGX SDK TDX variant, report_data =
	// SHA-384(claims-buffer) ‖ 16 zero bytes.
	RuleClaimsSHA384 = "claims-sha384"
	// RuleSPKISHA256: report_data = SHA-256(DER SubjectPublicKeyInfo) ‖ zeros
	// (Gramine / sgx-ra-tls legacy extension, EGo).
	RuleSPKISHA256 = "spki-sha256"
	// RulePKCS1SHA256: report_data = SHA-256(DER PKCS#1 RSAPublicKey) ‖ zeros
	// (Enclave-TLS / rats-tls before the interoperable format).
	RulePKCS1SHA256 = "pkcs1-sha256"
	// RulePEMSHA256: report_data = SHA-256(PEM public key ‖ NUL) ‖ zeros
	// (Open Enclave remote reports).
	RulePEMSHA256 = "pem-sha256"
	// RuleOECustomClaims: the Open Enclave custom-claims buffer is the PEM
	// public key and report_data = SHA-256(custom claims) ‖ zeros.
	RuleOECustomClaims = "oe-custom-claims"
)

// Binding reports whether and how evidence binds a certificate key
// (keybinding.Check).
type Binding struct {
	Status BindingStatus
	Rule   string // the rule that matched, or that was checked on mismatch
	Detail string // what was compared, with expected and actual values
}

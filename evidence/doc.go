// Package evidence parses and produces the wire formats that carry TEE
// evidence inside X.509 certificates: the Interoperable RA-TLS tagged-CBOR
// evidence and endorsements extensions, the claims buffer that binds a
// certificate's public key, IETF CMW, and the legacy formats of Gramine,
// the Intel SGX SDK, Open Enclave and rats-tls.
//
// Package ratls verifies what this package finds (VerifyCertificate,
// VerifyEvidence, PeerVerifier); use this package alone to read evidence
// without trusting it, as package inspect does. The TEE formats are parsed
// by evidence/quote (SGX, TDX), evidence/snp, evidence/cca, evidence/azure
// and evidence/eventlog, and CMW envelopes by evidence/cmw.
//
// It only parses: it checks structure strictly and reports what the bytes
// say, but it verifies no signatures and makes no trust decision. Whether
// the evidence binds the certificate key is package keybinding's verdict,
// and which of several evidence items to verify is tee.Preferred's; the
// Binding type they report in is defined here.
package evidence

// Package ratls makes remote attestation part of TLS. A workload in a
// trusted execution environment (Intel SGX or TDX, AMD SEV-SNP, Arm CCA,
// Azure confidential VMs) proves what code it runs, on which platform, by
// presenting the TEE's signed evidence; its peers verify that evidence and
// accept the workload only when a policy says the result is good enough.
//
// This package is the entry point: it issues RA-TLS certificates, plugs
// them into crypto/tls, and verifies and appraises evidence. It follows
// the Confidential Computing Consortium's Interoperable RA-TLS format, so
// its certificates are read by Gramine, rats-tls and the Intel SGX SDK and
// theirs by it.
//
// # Three ways to use it
//
// RA-TLS certificates with crypto/tls. A server in a TEE creates an
// [Issuer] from an [Attester] (package attest/tsm, attest/gramine or
// attest/sevguest, or attest/sim for a simulated TEE) and serves with
// [ServerConfig]: its certificate carries evidence whose report data
// binds the certificate's key, and is renewed before it expires. A client
// creates a [PeerVerifier] with [VerifyOptions] holding its policy and
// dials with [ClientConfig]: the handshake fails unless the server's
// evidence verifies and the policy accepts it, and
// [PeerVerifier.Verification] returns what the evidence proved. The
// verification takes the place of certificate chain and host name checks.
// Passing an Issuer to ClientConfig and a PeerVerifier to ServerConfig
// attests both sides (mutual attestation). Two stronger modes bind the
// evidence to the connection rather than to a reusable certificate: nonce
// mode ([IssuerOptions].AllowNonce with [PeerVerifier.FreshClientConfig] or
// [PeerVerifier.DialFresh]) and post-handshake mode ([PostHandshake], RFC
// 9261 Exported Authenticators after draft-fossati-seat-expat); see
// docs/binding.md for what each proves.
//
// Raw evidence. [VerifyEvidence] verifies evidence that comes without a
// certificate (a DCAP quote, an SEV-SNP report, an Arm CCA token, Azure
// vTPM evidence, as parsed by evidence.ParseRaw), with
// [VerifyOptions].Nonce requiring the relying party's challenge in it.
// [VerifyCertificate] does the same for an RA-TLS certificate outside a
// handshake, and [CreateCertificate] makes one without an Issuer.
//
// The verification service. Package service runs verification as an HTTP
// service ("ratls verifier serve") that appraises evidence against policies
// it stores and answers with a signed EAR (package ear); package
// service/client is its Go client. Relying parties that cannot verify TEE
// evidence themselves use it, and [PostHandshake].Passport carries its
// results in a TLS connection (the passport model).
//
// # The verdict
//
// Verifying gives a [Verification]. It holds the verifier's result for the
// evidence's TEE (every check it ran, with what was expected and found),
// the key binding of a certificate, Err (nil only when every check
// passed) and the policy's Appraisal, which is never nil. The appraisal's
// Status is one of the EAR tiers: affirming, warning (acceptable only
// because the policy explicitly allows a known weakness, or because
// nothing was compared with reference values) or contraindicated. Each
// condition short of affirming is a Reason naming the check, its
// trust-vector category, whether it failed or could not run, and the
// expected and actual values. [Verification.Accepted] is the yes or no
// answer: not contraindicated.
//
// Policies (package appraise) are strict by default: only an up-to-date
// TCB, no debug TEEs, the certificate key bound by the evidence, collateral
// valid at the verification time. Evidence whose measurements were not
// compared with the policy's reference values is at best a warning
// (Appraisal.ReferenceValuesChecked says whether they were), and a
// PeerVerifier refuses such a peer unless the policy sets
// accept_any_measurement.
//
// A verification that could not complete because collateral (Intel's TCB
// Info, QE Identity and CRLs; AMD's certificates and CRLs) could not be
// fetched is not accepted, but it is no verdict about the TEE:
// [Verification.CollateralUnavailable] tells it apart, matching
// [ErrCollateralUnavailable], so that callers can report an outage and
// try again. A handshake refused for either reason fails with a
// [*PeerError] carrying the Verification.
//
// By default a verifier trusts only the vendors' genuine roots (Intel's
// SGX root, AMD's ARKs; Arm CCA platform keys must be configured, in the
// policy or the options) and uses only the collateral a certificate carries
// in its endorsements extension ([EndorsementsFromCollateral],
// [EndorsementsFromSNPCertificates]); its own collateral sources
// (collateral/pcs, collateral/kds) win over the certificate's. They are
// given per TEE family in [VerifyOptions].TEE: a dcap.Options for SGX
// and TDX quotes, a sevsnp.Options for SEV-SNP reports, an
// armcca.Options for Arm CCA tokens.
//
// # Packages
//
// The layers below this one can be used on their own. Parsers turn bytes
// into named fields and decide nothing; verifiers check signatures, chains
// and collateral and report every fact; policies decide what is
// acceptable.
//
//   - Formats: evidence (certificate extensions, tagged CBOR, claims,
//     legacy formats) with evidence/quote (SGX and TDX), evidence/snp,
//     evidence/cca, evidence/azure, evidence/eventlog and evidence/cmw.
//   - Collateral: collateral/pcs (Intel PCS and PCCS, caches, offline
//     files) and collateral/kds (AMD KDS, caches, certificate files).
//   - Verifiers: verify/intel, verify/amd, verify/arm, verify/azure and
//     verify/measuredboot (event log replay), sharing verify/checks.
//   - Key binding: keybinding (whether the evidence's signed report data
//     commits to the certificate's key, and by which rule).
//   - TEE families: tee (the Family interface and its registry, and
//     tee.Preferred, which of a certificate's evidence to verify) with
//     tee/dcap (SGX and TDX), tee/sevsnp, tee/armcca and tee/azurevtpm.
//     Each verifies, appraises and names the EAR submodules of its own
//     evidence; this package, the service, inspect and the CLI find the
//     family of a piece of evidence with tee.For. A family from outside
//     ratls registers itself the same way.
//   - Appraisal and results: appraise (policies), appraise/pin (a policy
//     from a known-good machine), ear (signed attestation results).
//   - Attesters: attest/tsm, attest/gramine, attest/sevguest, attest/detect
//     (which one the machine supports), attest/rtmr (runtime measurements)
//     and attest/sim (a simulated TEE for development and tests).
//   - Transport: exportedauth (RFC 9261 over crypto/tls).
//   - Tools: inspect (describes certificates and evidence) and explore
//     (the evidence explorer page).
//   - Service: service, service/client, service/api (wire types),
//     service/store (SQLite or PostgreSQL) and service/shared (collateral
//     shared by replicas).
//   - Tests: the packages under testing/ make correctly signed evidence
//     under test PKIs shaped like the vendors'.
package ratls

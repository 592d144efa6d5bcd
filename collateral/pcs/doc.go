// Package pcs parses and evaluates Intel SGX/TDX attestation collateral as
// served by the Intel Provisioning Certification Service (PCS) and its caches
// (PCCS): TCB Info, Enclave Identity (QE, QVE, TD_QE), issuer chains and CRLs,
// and the SGX extensions of PCK certificates.
//
// Package verify/intel verifies quotes against it, and it follows the
// behaviour of Intel's Quote Verification Library (QVL):
//
//   - Parsing is strict. Required fields must be present with the exact JSON
//     type, hex strings must have the exact length, statuses must come from
//     Intel's fixed sets, keys are matched case-sensitively, duplicate keys
//     are rejected at every level, and inputs are size limited. Unknown
//     fields inside tcbInfo / enclaveIdentity are ignored, as QVL ignores
//     them, so that additive PCS format changes do not break verification;
//     the top-level PCS body must hold exactly the signed object and its
//     signature.
//   - Signatures are checked over the exact bytes of the signed JSON value as
//     received (TCBInfo.Raw, EnclaveIdentity.Raw), never over a re-encoding.
//   - TCB levels are evaluated in QVL's order (sorted descending by SGX
//     components, PCESVN, then TDX components), not in JSON order, and
//     statuses are converged with the TDX module and QE statuses exactly as
//     QVL's TcbLevelCheck, TdxModuleCheck and TDRelaunchCheck do.
//
// Where this package deliberately differs from QVL it is stricter, and the
// difference is documented on the function concerned.
//
// A verifier typically: parses the PCK certificate's SGX extensions
// (ParsePCKExtensions), obtains a Collateral (LoadDir, ParseDCAPQVLJSON, or
// the Parse functions on PCS responses), verifies the issuer chains and CRLs
// against the pinned Intel root, checks the collateral signatures
// (CheckSignature) and validity (ValidAt), checks TCBInfo.CheckPCK, then
// evaluates the platform (MatchSGX, or MatchTDX and RelaunchStatus), the QE
// (MatchQE) and combines both with ConvergeStatus.
//
// Collateral comes from a Provider: Client fetches it from Intel's PCS or a
// PCCS, Cache keeps it in memory and on disk until its next update, and
// Static serves offline collateral (LoadDir, ParseDCAPQVLJSON).
// Verifiers take a Provider (ratls.VerifyOptions, intel.Options); a Cache
// in front of a Client is the usual one, and "ratls collateral fetch"
// writes directories for air-gapped verifiers.
//
// The package makes no policy decision: whether OutOfDate is acceptable is
// for the caller.
package pcs

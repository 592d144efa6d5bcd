// Package ear produces and consumes EAT Attestation Results (EAR,
// draft-ietf-rats-ear) as JSON Web Tokens signed with ES256 or ES384,
// implemented with the standard library only.
//
// # Versions
//
// MarshalJSON emits the dotted claim names with eat_profile
// ProfileVeraison, the form Veraison and Trustee relying parties parse.
// UnmarshalJSON also accepts the profiles of drafts -01/-02 and -03 and the
// -03 underscore names (ear_status, ear_trustworthiness_vector,
// ear_appraisal_policy_ids, ear_verifier_id, ear_raw_evidence,
// ear_veraison_annotated_evidence); a claim spelled both ways is rejected.
// Nested tokens in submods, arrays of nonces and the -03 top-level status
// are not supported; other unknown claims are ignored.
//
// # Extension claim
//
// Each submodule may carry "ratls.reasons": an array of
// {"check","expected","actual","message","status"} objects (appraise.Reason)
// explaining why the status is not affirming.
//
// # Mapping appraisals to trust vectors
//
// FromAppraisal keeps the appraisal's status and builds a trust vector:
//
//   - Unless a signature or verification check failed (contraindicated),
//     the evidence is genuine: instance-identity 2, hardware 2,
//     configuration 2, runtime-opaque 2, and executables 2 when reference
//     values were checked. Without reference values executables stays 0
//     (no claim): claiming 3 (approved boot-time) would assert something
//     that was not compared.
//   - A failed signature check: instance-identity 99 (cryptographic
//     validation failed) and hardware 97.
//   - Another failed verification check (chain, format, collateral, CRL,
//     TCB-info match…): hardware 97 and instance-identity 97; when the
//     policy excused it (warning, e.g. expired collateral, a simulated trust
//     anchor): hardware 32.
//   - key_binding or sev_snp.signing_key: instance-identity 96, or 32 when
//     only a warning.
//   - TCB status, advisories, TCB date and evaluation data number, SNP TCB
//     components: configuration 96, or 32 when accepted with a warning.
//     VMPL, guest policy and CCA lifecycle: the same configuration values.
//   - debug: runtime-opaque 96 (memory visible to the host), or 32 when
//     allow_debug accepted it.
//   - Minimum security versions (sgx.isv_svn, sev_snp.guest_svn):
//     executables 96, or 32.
//   - Any other reference value mismatch (measurements, product IDs,
//     components): executables 33 (unrecognized run-time).
//   - Anything else: configuration 96, or 32.
//
// A claim only ever gets worse. The submodule status is the appraisal's,
// and never better than the vector's worst claim, as the draft requires.
package ear

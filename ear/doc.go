// Package ear produces and consumes EAT Attestation Results (EAR,
// draft-ietf-rats-ear) as JSON Web Tokens signed with ES256 or ES384,
// implemented with the standard library only.
//
// The verification service (package service) signs an EAR for every
// appraisal (appraise.Appraisal.Submodule makes its submodule) and
// service/client verifies them; ratls.PostHandshake carries one in a TLS
// connection (the passport model). Use this package to verify EARs from any
// verifier that produces them, or to produce them yourself.
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
// Each submodule may carry "ratls.reasons": an array of Reason objects
// ({"check","category","state","expected","actual","message","status"})
// explaining why the status is not affirming. The category is the
// trust-vector claim the check speaks for; the state tells a check that
// failed (an invalid value) from one that could not run (an absent value).
//
// # Mapping appraisals to trust vectors
//
// FromReasons derives the trust vector from the reasons' categories and
// states alone (see its documentation); the package does not depend on the
// verifiers or on the names of their checks.
package ear

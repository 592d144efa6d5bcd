// Package quote converts Intel SGX and TDX DCAP quotes and reports between
// their binary form and named Go fields.
//
// Package evidence finds quotes in certificates and raw input and parses
// them with this package; verify/intel verifies them.
//
// It handles:
//
//   - ECDSA quotes version 3 (SGX), version 4 (SGX or TDX 1.0 body) and
//     version 5 (body type 1 = SGX, 2 = TDX 1.0, 3 = TDX 1.5), the payload of
//     the Interoperable RA-TLS tag 60000;
//   - sgx_report2_t / TDREPORT (1024 bytes), the payload of tag 60001;
//   - sgx_report_t (EREPORT, 432 bytes), the payload of tag 60002.
//
// Parsing is strict: every length field is checked against the buffer, sizes
// are capped, values the format does not define are rejected, and errors
// name the field, the expected value and the value found (see [FormatError]).
// Nothing here checks a signature, a certificate or a policy; a verifier does
// that with the values exposed here, including the exact signed byte ranges
// ([Quote.SignedData], [Signature.QEReportRaw], [Signature.QEBindingData]).
//
// Every parsed structure re-encodes to its input byte for byte: reserved
// fields are kept, and Marshal methods reproduce the original encoding.
//
// # Structural rules
//
// The rules follow Intel's Quote Verification Library (QVL):
//
//   - header version 3, 4 or 5; attestation key type 2 (ECDSA P-256). A
//     version 3 quote may also carry type 3 (ECDSA P-384), which Intel's
//     headers name but do not define a separate layout for: the quote is
//     parsed with the only defined signature layout (64-byte signature and
//     key) and the type is reported in [Header.AttKeyType]. A verifier that
//     cannot check P-384 must reject it.
//   - version 3 quotes are SGX only (att_key_data_0 must be 0) and carry
//     certification data of type 1 to 5; versions 4 and 5 carry type 6 (QE
//     report certification data), whose nested entry must be of type 1 to 5.
//     Certification data therefore nests at most two levels deep.
//   - a version 5 body_size must equal the size of its body_type, and the
//     body type must match the header TEE type.
//   - inputs shorter than QVL's minimum quote (a header, an SGX report body
//     and the smallest version 3 signature data) or longer than 64 KiB are
//     rejected.
//   - the content of a type 6 entry must be consumed exactly. Bytes inside
//     signature_data after the outermost certification data are tolerated,
//     as QVL tolerates them, and returned in [Signature.Extra]; no signature
//     covers them.
//   - bytes after signature_data are tolerated and returned in
//     [Quote.Trailing] (quote buffers are often padded).
//
// The QE vendor ID is not checked here; see [Header.IsIntelQE].
package quote

// Package cmw parses and encodes RATS Conceptual Message Wrappers (CMW,
// draft-ietf-rats-msg-wrap-23): the envelope that labels an attestation
// message (Evidence, Attestation Results, Endorsements, Reference Values,
// Appraisal Policy) with its media type so it can travel through protocols
// that do not know the message format.
//
// Package evidence reads evidence wrapped in CMWs with it, and ratls's
// post-handshake attestation carries its evidence or attestation result in
// one (the cmw_attestation extension).
//
// A CMW is a tree. Its leaves are
//
//   - records: [type, value, ? ind], where type is a media type (or, in
//     CBOR, a CoAP Content-Format number), value the wrapped bytes (base64url
//     in JSON) and ind an optional bitmap of conceptual message types;
//   - tags (CBOR only): the value as a byte string under the CBOR tag number
//     that RFC 9277 derives from a Content-Format ([TN]).
//
// Its inner nodes are collections: a CBOR map or JSON object from labels to
// CMWs, optionally typed by "__cmwc_t". A CBOR collection holds only CBOR
// CMWs and a JSON collection only JSON CMWs.
//
// Parsing is strict: the grammar's every rule is checked (media type
// syntax, non-zero ind with only registered bits, TN tag range, byte-string
// tag content, at least one entry, collection type syntax, unique keys), the
// input is one complete value with no trailing bytes, and sizes are capped
// (256 KiB, collections nested 8 deep, 64 entries each). CBOR input must
// use definite lengths but need not be in deterministic encoding; JSON
// input must be valid UTF-8 without duplicate keys. Errors are [*FormatError]s that name
// the entry path, field, expected and found values, and wrap [ErrMalformed]
// or [ErrLimit].
//
// Encoding is canonical: deterministic CBOR (RFC 8949 section 4.2.1) and
// JSON in RFC 8785 form. Parsing an encoder's output gives back an equal
// tree.
//
// The package also handles the id-pe-cmw X.509 extension
// ([OIDExtension], [EncodeExtension], [ParseExtension]) and collections
// wrapped in a non-CMW outer tag such as Arm CCA's 907 ([ParseCBORTagged]).
// It wraps and unwraps only: it does not interpret or verify the wrapped
// messages.
package cmw

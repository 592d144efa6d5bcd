// Package ratls makes remote attestation part of TLS: it builds RA-TLS
// certificates that carry TEE evidence bound to the certificate's key, and
// (in later layers) verifies them during the handshake.
//
// The wire formats live in package evidence and its subpackages; this package
// turns them into X.509 certificates and crypto/tls configurations.
package ratls

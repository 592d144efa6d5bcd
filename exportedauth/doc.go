// Package exportedauth implements Exported Authenticators (RFC 9261) over
// Go's crypto/tls, for TLS 1.3 connections.
//
// Package ratls builds post-handshake attestation on it (ratls.PostHandshake);
// it is usable on its own, without attestation.
//
// An exported authenticator proves, after the handshake, that one end of
// a TLS connection holds the private key of a certificate. It is built from
// two exporter values of the connection (ConnectionState.ExportKeyingMaterial
// is all it needs: no change to crypto/tls) and is carried by the
// application, so it can be requested and sent at any time:
//
//	server                                  client
//	  req, _ := exportedauth.NewRequest(exportedauth.Server, ctx, schemes)
//	  ---------------- req.Marshal() ------------------>
//	                                          s, _ := exportedauth.NewSession(&state)
//	                                          auth, _ := s.Authenticate(exportedauth.Client, req, id)
//	  <------------------- auth -------------------------
//	  a, err := s.Verify(exportedauth.Client, req, auth, verifyChain)
//
// A client asks the server with a ClientCertificateRequest
// (NewRequest(Client, ...)); a server may also authenticate without being
// asked (Session.Spontaneous). An endpoint that will not authenticate
// answers with an empty authenticator (Session.Refuse), which Verify
// reports as ErrRefused.
//
// # Wire format
//
// Requests are CertificateRequest (type 13) or ClientCertificateRequest
// (type 17) handshake messages; authenticators are the concatenation of the
// TLS 1.3 Certificate (11), CertificateVerify (15) and Finished (20)
// handshake messages, each with its type and 24-bit length and no record
// framing. With Hash the hash of the connection's cipher suite, HC and FK
// the exporter values of the sender's role ("EXPORTER-{client,server}
// authenticator handshake context" and "... finished key", empty context,
// Hash-length output), and Request the request message as sent (empty for
// a spontaneous authenticator):
//
//	CertificateVerify.signature = Sign(0x20 × 64 || "Exported Authenticator" || 0x00 ||
//	                                   Hash(HC || Request || Certificate))
//	Finished = HMAC-Hash(FK, Hash(HC || Request || Certificate || CertificateVerify))
//	empty authenticator = Finished over HC || Request || Certificate with no entries
//
// # Test vectors
//
// RFC 9261 gives no test vectors, and no erratum we know of adds any. The
// tests check the byte layout and the formulas above against values
// computed independently (a separate implementation of the formulas run
// outside Go, pinned as hex, with fixed exporter values), and against the
// vectors of Facebook's Fizz, an independent C++ implementation. Fizz puts
// the authenticator request into the transcript without its handshake
// header (RFC 9261 Section 4 says requests are handshake messages
// "including length and type fields"), and one of its vectors was signed
// with the TLS 1.3 server CertificateVerify context string instead of
// "Exported Authenticator"; the tests document both differences.
//
// # What this package does not do
//
// TLS 1.2 is not supported (RFC 9261 allows it only with the extended
// master secret, which crypto/tls does not report). Certificate chain
// validation is the caller's: Verify hands the chain to a function the
// caller supplies and fails when there is none. Requests and
// authenticators are not encrypted here: send them over the TLS connection
// they belong to.
package exportedauth

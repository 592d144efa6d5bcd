package exportedauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a self-signed certificate for key.
func selfSigned(t testing.TB, key crypto.Signer, name string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{name},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch kind {
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "p521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "rsa":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// tlsPair returns both ends of an established TLS 1.3 connection.
func tlsPair(t testing.TB) (client, server *tls.Conn) {
	t.Helper()
	key := newKey(t, "p256")
	cert := selfSigned(t, key, "server.test")
	c1, c2 := net.Pipe()
	server = tls.Server(c2, &tls.Config{MinVersion: tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}}})
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client = tls.Client(c1, &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: "server.test"})
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	// Closing the pipe, not the TLS connections: close_notify would block
	// on a synchronous pipe nobody reads.
	t.Cleanup(func() { c1.Close(); c2.Close() })
	return client, server
}

func sessions(t testing.TB) (client, server *Session) {
	t.Helper()
	c, s := tlsPair(t)
	cs, ss := c.ConnectionState(), s.ConnectionState()
	var err error
	if client, err = NewSession(&cs); err != nil {
		t.Fatal(err)
	}
	if server, err = NewSession(&ss); err != nil {
		t.Fatal(err)
	}
	return client, server
}

func identity(t testing.TB, kind string) (*Identity, *x509.Certificate) {
	key := newKey(t, kind)
	cert := selfSigned(t, key, kind)
	return &Identity{Chain: [][]byte{cert.Raw}, Key: key}, cert
}

func context32(t testing.TB) []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// Both directions on a real connection, with every key type.
func TestLoopbackBothDirections(t *testing.T) {
	for _, kind := range []string{"p256", "p384", "p521", "rsa", "ed25519"} {
		t.Run(kind, func(t *testing.T) {
			client, server := sessions(t)
			// The client asks the server (ClientCertificateRequest).
			req, err := NewRequest(Client, context32(t), DefaultSignatureSchemes)
			if err != nil {
				t.Fatal(err)
			}
			wire, err := ParseRequest(req.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			id, cert := identity(t, kind)
			auth, err := server.Authenticate(Server, wire, id)
			if err != nil {
				t.Fatal(err)
			}
			a, err := client.Verify(Server, req, auth, acceptChain(cert))
			if err != nil {
				t.Fatal(err)
			}
			if !a.Chain[0].Equal(cert) || !schemeFits(a.Scheme, cert.PublicKey) {
				t.Fatalf("verified: scheme %s, leaf %s", a.Scheme, a.Chain[0].Subject)
			}
			// The server asks the client (CertificateRequest).
			req, err = NewRequest(Server, context32(t), DefaultSignatureSchemes)
			if err != nil {
				t.Fatal(err)
			}
			id, cert = identity(t, kind)
			auth, err = client.Authenticate(Client, req, id)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := server.Verify(Client, req, auth, acceptChain(cert)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoopbackSpontaneousAndRefusal(t *testing.T) {
	client, server := sessions(t)
	id, cert := identity(t, "p256")
	auth, err := server.Spontaneous(id, nil, []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.VerifySpontaneous(auth, []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256}, nil, acceptChain(cert)); err != nil {
		t.Fatal(err)
	}
	// Only a server authenticates unasked: the client's keys do not fit.
	if _, err := server.Verify(Client, &Request{From: Server}, auth, acceptChain(cert)); err == nil {
		t.Fatal("a spontaneous server authenticator verified as a client's")
	}
	req, _ := NewRequest(Server, context32(t), DefaultSignatureSchemes)
	empty, err := client.Refuse(Client, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Verify(Client, req, empty, acceptChain(cert)); !errors.Is(err, ErrRefused) {
		t.Fatalf("refusal: %v", err)
	}
	// A request the key cannot answer: no authenticator (RFC 9261 5.2.2).
	req, _ = NewRequest(Server, context32(t), []tls.SignatureScheme{tls.Ed25519})
	if _, err := client.Authenticate(Client, req, id); !errors.Is(err, ErrNoSignatureScheme) {
		t.Fatalf("no common scheme: %v", err)
	}
}

// An authenticator replayed on another connection is refused: its
// signature and MAC cover the first connection's exporter values.
func TestReplayOnSecondConnectionRefused(t *testing.T) {
	client1, server1 := sessions(t)
	client2, _ := sessions(t)
	req, _ := NewRequest(Client, context32(t), DefaultSignatureSchemes)
	id, cert := identity(t, "p256")
	auth, err := server1.Authenticate(Server, req, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client2.Verify(Server, req, auth, acceptChain(cert)); err == nil || !strings.Contains(err.Error(), "CertificateVerify") {
		t.Fatalf("replayed on another connection: %v", err)
	}
	if _, err := client1.Verify(Server, req, auth, acceptChain(cert)); err != nil {
		t.Fatal(err)
	}
	// And on the same connection only once.
	if _, err := client1.Verify(Server, req, auth, acceptChain(cert)); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("replayed on the same connection: %v", err)
	}
}

// mislabelled is a session whose exporter answers with the wrong
// labels: an implementation that swapped the roles' labels or used
// another label altogether.
func mislabelled(t *testing.T, conn *tls.Conn, rename map[string]string) *Session {
	cs := conn.ConnectionState()
	h, err := SuiteHash(cs.CipherSuite)
	if err != nil {
		t.Fatal(err)
	}
	return NewSessionFromExporter(h, func(label string, ctx []byte, n int) ([]byte, error) {
		if r, ok := rename[label]; ok {
			label = r
		}
		return cs.ExportKeyingMaterial(label, ctx, n)
	})
}

func TestWrongExporterLabelRefused(t *testing.T) {
	for name, rename := range map[string]map[string]string{
		"client labels for a server authenticator": {labelServerHandshakeContext: labelClientHandshakeContext, labelServerFinishedKey: labelClientFinishedKey},
		"wrong handshake context label":            {labelServerHandshakeContext: "EXPORTER-authenticator handshake context"},
		"wrong finished key label":                 {labelServerFinishedKey: "EXPORTER-client authenticator finished key"},
	} {
		c, s := tlsPair(t)
		cs := c.ConnectionState()
		client, err := NewSession(&cs)
		if err != nil {
			t.Fatal(err)
		}
		server := mislabelled(t, s, rename)
		req, _ := NewRequest(Client, context32(t), DefaultSignatureSchemes)
		id, cert := identity(t, "p256")
		auth, err := server.Authenticate(Server, req, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Verify(Server, req, auth, acceptChain(cert)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestWrongContextRefused(t *testing.T) {
	client, server := sessions(t)
	id, cert := identity(t, "p256")
	asked, _ := NewRequest(Client, []byte("context A"), DefaultSignatureSchemes)
	other, _ := NewRequest(Client, []byte("context B"), DefaultSignatureSchemes)
	auth, err := server.Authenticate(Server, other, id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Verify(Server, asked, auth, acceptChain(cert))
	if err == nil || !strings.Contains(err.Error(), "certificate_request_context: want 636f6e746578742041") {
		t.Fatalf("authenticator for another request: %v", err)
	}
}

func TestExtensionsAndChainChecks(t *testing.T) {
	client, server := sessions(t)
	id, cert := identity(t, "p256")
	req, _ := NewRequest(Client, context32(t), DefaultSignatureSchemes, Extension{Type: 0xffff})
	id.Extensions = []Extension{{Type: 0x1234, Data: []byte("x")}}
	if _, err := server.Authenticate(Server, req, id); err == nil || !strings.Contains(err.Error(), "not offered") {
		t.Fatalf("extension not offered: %v", err)
	}
	// A forged authenticator with an extension the request did not offer.
	forged, err := server.authenticate(Server, req.raw, req.Context, req.SignatureSchemes(), id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Verify(Server, req, forged, acceptChain(cert)); err == nil || !strings.Contains(err.Error(), "did not offer") {
		t.Fatalf("extension not offered, verify: %v", err)
	}
	id.Extensions = []Extension{{Type: 0xffff, Data: []byte("attestation")}}
	auth, err := server.Authenticate(Server, req, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Verify(Server, req, auth, nil); err == nil || !strings.Contains(err.Error(), "no certificate chain validation") {
		t.Fatalf("no chain verifier: %v", err)
	}
	refuse := func([]*x509.Certificate) error { return errors.New("untrusted") }
	if _, err := client.Verify(Server, req, auth, refuse); err == nil || !strings.Contains(err.Error(), "untrusted") {
		t.Fatalf("chain refused: %v", err)
	}
	// Failed validations do not use up the context.
	a, err := client.Verify(Server, req, auth, acceptChain(cert))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := a.Entries[0].Extension(0xffff); string(d) != "attestation" {
		t.Fatalf("extension: %q", d)
	}
}

// Flipping any single byte of an authenticator makes it invalid.
func TestTamperedAuthenticatorRefused(t *testing.T) {
	c, s := tlsPair(t)
	cs, ss := c.ConnectionState(), s.ConnectionState()
	server, _ := NewSession(&ss)
	req, _ := NewRequest(Client, context32(t), DefaultSignatureSchemes, Extension{Type: 0xffff})
	id, cert := identity(t, "ed25519")
	id.Extensions = []Extension{{Type: 0xffff, Data: []byte("evidence")}}
	auth, err := server.Authenticate(Server, req, id)
	if err != nil {
		t.Fatal(err)
	}
	for i := range auth {
		bad := bytes.Clone(auth)
		bad[i] ^= 0x01
		client, _ := NewSession(&cs)
		if _, err := client.Verify(Server, req, bad, acceptChain(cert)); err == nil {
			t.Fatalf("byte %d flipped: accepted", i)
		}
	}
	for n := range len(auth) {
		client, _ := NewSession(&cs)
		if _, err := client.Verify(Server, req, auth[:n], acceptChain(cert)); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
}

func TestSessionNeedsTLS13(t *testing.T) {
	cs := tls.ConnectionState{Version: tls.VersionTLS12, HandshakeComplete: true, CipherSuite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	if _, err := NewSession(&cs); err == nil || !strings.Contains(err.Error(), "want TLS 1.3") {
		t.Fatalf("TLS 1.2: %v", err)
	}
	cs = tls.ConnectionState{Version: tls.VersionTLS13}
	if _, err := NewSession(&cs); err == nil || !strings.Contains(err.Error(), "not complete") {
		t.Fatalf("incomplete handshake: %v", err)
	}
}

func TestRoleMisuse(t *testing.T) {
	client, server := sessions(t)
	id, cert := identity(t, "p256")
	fromServer, _ := NewRequest(Server, context32(t), DefaultSignatureSchemes)
	// A server does not answer its own CertificateRequest.
	if _, err := server.Authenticate(Server, fromServer, id); err == nil {
		t.Fatal("a server answered its own request")
	}
	if _, err := server.Refuse(Server, fromServer); err == nil {
		t.Fatal("a server refused its own request")
	}
	auth, err := client.Authenticate(Client, fromServer, id)
	if err != nil {
		t.Fatal(err)
	}
	// Checked as the server's authenticator, the client's is refused.
	if _, err := client.Verify(Server, fromServer, auth, acceptChain(cert)); err == nil {
		t.Fatal("verified against the wrong role")
	}
	if _, err := server.Authenticate(Server, nil, id); err == nil {
		t.Fatal("Authenticate without a request")
	}
	if _, err := NewRequest(Role(7), nil, DefaultSignatureSchemes); err == nil {
		t.Fatal("unknown role")
	}
}

package ratls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// handshake runs one TLS handshake over an in-memory pipe, both sides in
// this process.
func handshake(b *testing.B, server, client *tls.Config) {
	c1, c2 := net.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- tls.Server(c1, server).Handshake()
	}()
	c := tls.Client(c2, client)
	if err := c.Handshake(); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	// Close the pipe, not the TLS connections: close_notify would block
	// on the unbuffered pipe.
	c1.Close()
	c2.Close()
}

// plainConfigs is the baseline: a TLS 1.3 server with an ECDSA P-256
// certificate from a CA, and a client verifying it against that CA.
func plainConfigs(b *testing.B) (server, client *tls.Config) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "server"}, DNSNames: []string{"server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	server = &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: "server"}
	return server, client
}

// BenchmarkHandshake compares a TLS 1.3 handshake with a plain ECDSA P-256
// certificate (verified against a CA, as any client does) with RA-TLS
// handshakes: "ratls-cached" presents an already verified RA-TLS
// certificate (the common case), "ratls-first" verifies the quote each time.
func BenchmarkHandshake(b *testing.B) {
	b.Run("plain-p256", func(b *testing.B) {
		server, client := plainConfigs(b)
		b.ReportAllocs()
		for b.Loop() {
			handshake(b, server, client)
		}
	})
	for _, first := range []bool{false, true} {
		name := "ratls-cached"
		if first {
			name = "ratls-first"
		}
		b.Run(name, func(b *testing.B) {
			t := &testing.T{}
			att, iss := newAttestedServer(t, true)
			server := ServerConfig(iss, nil)
			opts := att.options()
			pv := NewPeerVerifier(opts)
			handshake(b, server, ClientConfig(pv, nil)) // issue the certificate; warm the verifier
			b.ReportAllocs()
			for b.Loop() {
				if first {
					pv = NewPeerVerifier(opts) // forget verified peers, keep the quote verifier's caches
				}
				handshake(b, server, ClientConfig(pv, nil))
			}
		})
	}
}

// BenchmarkIssueCertificate is the server-side cost of one RA-TLS
// certificate with the simulated platform's quote generation.
func BenchmarkIssueCertificate(b *testing.B) {
	t := &testing.T{}
	tp := newTestPlatform(t, true)
	key, _ := GenerateKey("")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CreateCertificate(b.Context(), key, tp, nil); err != nil {
			b.Fatal(err)
		}
	}
}

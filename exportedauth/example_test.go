package exportedauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log"
	"math/big"
	"net"
	"time"

	"github.com/ratls/ratls/exportedauth"
)

// selfSigned returns a throw-away certificate and its key.
func selfSigned(name string) (*ecdsa.PrivateKey, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	return key, der
}

// After a TLS 1.3 handshake, the server asks the client to prove that it
// holds a certificate's key; the client answers with an authenticator
// bound to this connection, which the server verifies. Requests and
// authenticators travel over the connection as application data (package
// ratls frames them for post-handshake attestation).
func Example() {
	serverKey, serverDER := selfSigned("server")
	serverConn, clientConn := net.Pipe()
	server := tls.Server(serverConn, &tls.Config{MinVersion: tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}}})
	client := tls.Client(clientConn, &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true})
	done := make(chan error)
	go func() { done <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		log.Fatal(err)
	}
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	serverState, clientState := server.ConnectionState(), client.ConnectionState()

	// Server: a request with a fresh, unpredictable context.
	reqContext := make([]byte, 32)
	rand.Read(reqContext)
	req, err := exportedauth.NewRequest(exportedauth.Server, reqContext, exportedauth.DefaultSignatureSchemes)
	if err != nil {
		log.Fatal(err)
	}

	// Client: the authenticator for its certificate.
	clientKey, clientDER := selfSigned("client")
	cs, err := exportedauth.NewSession(&clientState)
	if err != nil {
		log.Fatal(err)
	}
	auth, err := cs.Authenticate(exportedauth.Client, req, &exportedauth.Identity{Chain: [][]byte{clientDER}, Key: clientKey})
	if err != nil {
		log.Fatal(err)
	}

	// Server: verify it; checking the chain is the caller's job.
	ss, err := exportedauth.NewSession(&serverState)
	if err != nil {
		log.Fatal(err)
	}
	a, err := ss.Verify(exportedauth.Client, req, auth, func(chain []*x509.Certificate) error {
		if chain[0].Subject.CommonName != "client" {
			return errors.New("unknown client")
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("client proved:", a.Chain[0].Subject.CommonName)

	// The same authenticator is not accepted twice on the connection.
	_, err = ss.Verify(exportedauth.Client, req, auth, func([]*x509.Certificate) error { return nil })
	fmt.Println("replayed:", err != nil)
	// Output:
	// client proved: client
	// replayed: true
}

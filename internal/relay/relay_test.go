package relay

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"testing"
	"time"
)

const timeout = 30 * time.Second

// Copy copies both ways and returns once both sides are closed.
func TestCopy(t *testing.T) {
	a, aPeer := net.Pipe()
	b, bPeer := net.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan struct{})
	go func() { Copy(a, b); close(done) }()

	for _, step := range []struct {
		from, to net.Conn
		msg      string
	}{
		{aPeer, bPeer, "from a to b"},
		{bPeer, aPeer, "from b to a"},
		{aPeer, bPeer, "and back again"},
	} {
		step.to.SetDeadline(time.Now().Add(timeout))
		step.from.SetDeadline(time.Now().Add(timeout))
		go io.WriteString(step.from, step.msg)
		buf := make([]byte, len(step.msg))
		if _, err := io.ReadFull(step.to, buf); err != nil || string(buf) != step.msg {
			t.Fatalf("relayed %q, %v; want %q", buf, err, step.msg)
		}
	}
	select {
	case <-done:
		t.Fatal("Copy returned while both sides were open")
	default:
	}
	aPeer.Close()
	bPeer.Close()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatal("Copy did not return after both sides closed")
	}
}

// selfSigned returns a certificate for cn and its key.
func selfSigned(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// A TLS relay presents its certificate, pipes the plaintext to the target
// and passes the client's half-close on.
func TestStartTLS(t *testing.T) {
	target, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{selfSigned(t, "target")}})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c) // until the client's half-close
				c.Write(append([]byte("target got "), b...))
			}()
		}
	}()
	r, err := StartTLS("127.0.0.1:0", selfSigned(t, "relay"), target.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", r.Addr(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "relay" {
		t.Errorf("the client sees %q's certificate, want the relay's", cn)
	}
	if v := c.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Errorf("TLS version %x, want 1.3", v)
	}
	io.WriteString(c, "hello")
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, []byte("target got hello")) {
		t.Errorf("got %q, %v", got, err)
	}

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := tls.Dial("tcp", r.Addr(), &tls.Config{InsecureSkipVerify: true}); err == nil {
		c.Close()
		t.Error("the relay accepts connections after Close")
	}
}

package ratls

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNonceServerName(t *testing.T) {
	nonce := bytes.Repeat([]byte{0xa5}, NonceSize)
	name := NonceServerName(nonce)
	if len(strings.Split(name, ".")[0]) > 63 || name != strings.ToLower(name) {
		t.Fatalf("not a DNS-safe name: %s", name)
	}
	got, ok := NonceFromServerName(strings.ToUpper(name))
	if !ok || !bytes.Equal(got, nonce) {
		t.Fatalf("round trip: %x %v", got, ok)
	}
	for _, bad := range []string{"example.com", "nonce.ratls.invalid", ".nonce.ratls.invalid", "a.b.nonce.ratls.invalid", "!!!!.nonce.ratls.invalid", "aa.nonce.ratls.invalid"} {
		if _, ok := NonceFromServerName(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNonceMode(t *testing.T) {
	att, _ := newAttestedServer(t, true)
	iss := NewIssuer(att, &IssuerOptions{AllowNonce: true, Certificate: CertificateOptions{
		Endorsements: att.endorsements(t), Now: func() time.Time { return att.pki.Now },
	}})
	addr := serve(t, ServerConfig(iss, nil))
	pv := NewPeerVerifier(att.options())
	var seen [][]byte
	pv.OnVerified = func(v *Verification) { seen = append(seen, v.Item.Claims.Nonce) }
	for range 2 {
		cfg, err := pv.FreshClientConfig(nil)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := echo(t, addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if v := pv.Verification(conn.ConnectionState()); v == nil || !bytes.Equal(v.Item.Claims.Nonce, seen[len(seen)-1]) {
			t.Error("the fresh verification is not available from the connection state")
		}
		conn.Close()
	}
	if len(seen) != 2 || len(seen[0]) != NonceSize || bytes.Equal(seen[0], seen[1]) {
		t.Fatalf("nonces: %x", seen)
	}
	if att.calls.Load() != 2 {
		t.Errorf("each fresh connection needs its own quote: %d", att.calls.Load())
	}
	// The normal mode still works on the same server and reuses its certificate.
	if conn, err := echo(t, addr, ClientConfig(pv, nil)); err != nil {
		t.Fatal(err)
	} else {
		conn.Close()
	}
	// HTTP with a fresh attestation per connection.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerConfig(iss, nil))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fresh") })}
	go srv.Serve(ln)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DialTLSContext: pv.DialFresh}, Timeout: 10 * time.Second}
	resp, err := client.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// A certificate made earlier — even presented by a server holding its key —
// is refused in nonce mode: this is the replay the mode exists to stop.
func TestNonceModeRejectsReplay(t *testing.T) {
	att, _ := newAttestedServer(t, false)
	iss := NewIssuer(att, &IssuerOptions{AllowNonce: true, Certificate: CertificateOptions{
		Endorsements: att.endorsements(t), Now: func() time.Time { return att.pki.Now },
	}})
	recorded, err := iss.FreshCertificate(context.Background(), bytes.Repeat([]byte{7}, NonceSize))
	if err != nil {
		t.Fatal(err)
	}
	replayer := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{*recorded}}
	addr := serve(t, replayer)
	pv := NewPeerVerifier(att.options())
	cfg, _ := pv.FreshClientConfig(nil)
	_, err = echo(t, addr, cfg)
	var pe *PeerError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "nonce") {
		t.Fatalf("replayed certificate: want a nonce rejection, got %v", err)
	}
	// A server that does not enable nonce mode is refused by a fresh client.
	plain := NewIssuer(att, &IssuerOptions{Certificate: CertificateOptions{Endorsements: att.endorsements(t), Now: func() time.Time { return att.pki.Now }}})
	addr = serve(t, ServerConfig(plain, nil))
	cfg, _ = pv.FreshClientConfig(nil)
	if _, err := echo(t, addr, cfg); err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Errorf("server without nonce mode: %v", err)
	}
}

// A FreshClientConfig carries one nonce, so it is good for one handshake.
// Reused, it would accept a certificate replayed from its first connection:
// the second use is refused, whatever the server presents.
func TestFreshClientConfigOneHandshake(t *testing.T) {
	att, _ := newAttestedServer(t, true)
	iss := NewIssuer(att, &IssuerOptions{AllowNonce: true, Certificate: CertificateOptions{
		Endorsements: att.endorsements(t), Now: func() time.Time { return att.pki.Now },
	}})
	// The honest server; it records the certificate it made for the
	// first connection, as an attacker holding the key could.
	var first atomic.Pointer[tls.Certificate]
	honest := ServerConfig(iss, nil)
	honest.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, err := iss.GetCertificate(hello)
		if err == nil {
			first.CompareAndSwap(nil, c)
		}
		return c, err
	}
	honestAddr := serve(t, honest)
	pv := NewPeerVerifier(att.options())
	cfg, err := pv.FreshClientConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := echo(t, honestAddr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	recorded := first.Load()
	if recorded == nil {
		t.Fatal("the server issued no certificate")
	}
	replayAddr := serve(t, &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{*recorded}})

	// The same configuration again, to the replaying server and to the
	// honest one (which would quote the same nonce again): refused.
	for _, addr := range []string{replayAddr, honestAddr} {
		_, err = echo(t, addr, cfg)
		if !errors.Is(err, ErrNonceUsed) || !strings.Contains(err.Error(), "nonce already used") {
			t.Errorf("second handshake with one FreshClientConfig: want ErrNonceUsed, got %v", err)
		}
	}
	// Clones share the nonce, and so its single use (net/http clones
	// TLSClientConfig for every connection).
	if _, err = echo(t, honestAddr, cfg.Clone()); !errors.Is(err, ErrNonceUsed) {
		t.Errorf("clone of a used FreshClientConfig: want ErrNonceUsed, got %v", err)
	}
	// A new configuration has a new nonce: the replayed certificate fails
	// the nonce check.
	cfg2, _ := pv.FreshClientConfig(nil)
	_, err = echo(t, replayAddr, cfg2)
	var pe *PeerError
	if !errors.As(err, &pe) || reasonOf(pe.Verification, "nonce") == nil {
		t.Errorf("replayed certificate to a new FreshClientConfig: want a nonce rejection, got %v", err)
	}
	// A handshake refused by verification used the nonce up too: the
	// server has seen it.
	if _, err = echo(t, honestAddr, cfg2); !errors.Is(err, ErrNonceUsed) {
		t.Errorf("reuse after a refused handshake: want ErrNonceUsed, got %v", err)
	}
	// Of concurrent handshakes with one configuration, only one succeeds.
	cfg3, _ := pv.FreshClientConfig(nil)
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() {
			conn, err := echo(t, honestAddr, cfg3)
			if err == nil {
				conn.Close()
			}
			errs <- err
		}()
	}
	ok := 0
	for range cap(errs) {
		switch err := <-errs; {
		case err == nil:
			ok++
		case !errors.Is(err, ErrNonceUsed):
			t.Errorf("concurrent handshake: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("concurrent handshakes with one FreshClientConfig: want 1 accepted, got %d", ok)
	}
	// DialFresh draws a nonce per connection, so it can be used again and
	// again (as http.Transport.DialTLSContext does).
	for range 2 {
		conn, err := pv.DialFresh(context.Background(), "tcp", honestAddr)
		if err != nil {
			t.Fatalf("DialFresh: %v", err)
		}
		conn.Close()
	}
}

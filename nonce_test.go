package ratls

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strings"
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

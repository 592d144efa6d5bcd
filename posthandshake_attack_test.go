package ratls

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/cmw"
	"github.com/ratls/ratls/exportedauth"
)

// The attacker of these tests holds the victim server's certificate and
// private key (leaked, or used as an oracle) but not its TEE: it can
// terminate TLS as the victim and sign anything with the victim's key, and
// it can connect to the genuine server as any client.

// forgeFunc makes the attacker's authenticator for the client's request on
// the attacker's connection; nil sends none (DONE right away).
type forgeFunc func(t *testing.T, cs *tls.ConnectionState, sess *exportedauth.Session, req *exportedauth.Request) []byte

// attackerServer terminates TLS with the leaked certificate and answers the
// post-handshake exchange with forge.
func attackerServer(t *testing.T, leaked *tls.Certificate, forge forgeFunc) string {
	t.Helper()
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{*leaked}, SessionTicketsDisabled: true}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				conn := c.(*tls.Conn)
				body, err := readFrame(conn, frameRequest)
				if err != nil {
					return
				}
				req, err := exportedauth.ParseRequest(body)
				if err != nil {
					return
				}
				cs := conn.ConnectionState()
				sess, _ := exportedauth.NewSession(&cs)
				writeFrame(conn, frameRequest, nil)
				if auth := forge(t, &cs, sess, req); auth != nil {
					writeFrame(conn, frameAuthenticator, auth)
				}
				writeFrame(conn, frameDone, nil)
				io.Copy(conn, conn)
			}()
		}
	}()
	return ln.Addr().String()
}

func leakedCertificate(t *testing.T, p *phPlatform) *tls.Certificate {
	t.Helper()
	c, err := p.iss.Certificate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// askGenuine connects to the genuine server as a client and has it answer
// req on that connection; it returns the genuine authenticator and the
// attacker's view of that connection.
func askGenuine(t *testing.T, addr string, req []byte) ([]byte, tls.ConnectionState) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, PostHandshakeClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := writeFrame(c, frameRequest, req); err != nil {
		t.Fatal(err)
	}
	if _, err := readFrame(c, frameRequest); err != nil {
		t.Fatal(err)
	}
	auth, err := readFrame(c, frameAuthenticator)
	if err != nil {
		t.Fatal(err)
	}
	return auth, c.ConnectionState()
}

// cmwOf returns the cmw_attestation extension data of an authenticator.
func cmwOf(t *testing.T, auth []byte) []byte {
	t.Helper()
	a, err := exportedauth.ParseAuthenticator(auth)
	if err != nil {
		t.Fatal(err)
	}
	data, ok := a.Entries[0].Extension(ExtensionCMWAttestation)
	if !ok {
		t.Fatal("no cmw_attestation")
	}
	return data
}

// resign builds a valid RFC 9261 authenticator for req on the attacker's
// connection with the leaked key, carrying cmwData (nil: no extension).
func resignAuthenticator(t *testing.T, sess *exportedauth.Session, req *exportedauth.Request, leaked *tls.Certificate, cmwData []byte) []byte {
	t.Helper()
	id := &exportedauth.Identity{Chain: leaked.Certificate, Key: leaked.PrivateKey.(crypto.Signer)}
	if cmwData != nil {
		id.Extensions = []exportedauth.Extension{{Type: ExtensionCMWAttestation, Data: cmwData}}
	}
	auth, err := sess.Authenticate(exportedauth.Server, req, id)
	if err != nil {
		t.Fatal(err)
	}
	return auth
}

// forgeEvidence makes cmw_attestation data with genuine evidence of tp
// whose claims name binder and the SHA-256 of keySPKI: evidence from an
// attester that bound the wrong values.
func forgeEvidence(t *testing.T, tp *testPlatform, binder, keySPKI []byte) []byte {
	t.Helper()
	claims, err := evidence.NewClaims(keySPKI, evidence.SHA256, binder)
	if err != nil {
		t.Fatal(err)
	}
	var rd [64]byte
	h := sha256.Sum256(claims)
	copy(rd[:], h[:])
	ev, err := tp.Attest(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	tagged, err := evidence.EncodeTagged(ev.Tag, ev.Data, claims)
	if err != nil {
		t.Fatal(err)
	}
	c, err := (&cmw.CMW{Kind: cmw.KindRecord, Format: cmw.FormatCBOR, MediaType: MediaTypeEvidence, Value: tagged, Indicator: cmw.Evidence}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	data, err := marshalCMWAttestation(c)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// binderWith is the draft's binder with the given label, context and key.
func binderWith(t *testing.T, cs *tls.ConnectionState, label string, context, spki []byte) []byte {
	t.Helper()
	ekm, err := cs.ExportKeyingMaterial(label, context, 32)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(append(append([]byte{}, spki...), ekm...))
	return h[:]
}

// wantRefusal asserts err is a policy refusal naming check.
func wantRefusal(t *testing.T, what string, err error, check string) {
	t.Helper()
	var pe *PeerError
	if !errors.As(err, &pe) {
		t.Fatalf("%s: want a refusal naming %s, got %v", what, check, err)
	}
	if reasonOf(pe.Verification, check) == nil {
		t.Fatalf("%s: want a reason %s, got %v", what, check, pe)
	}
}

func dialPH(t *testing.T, addr string, pv *PeerVerifier) (*ChannelVerification, error) {
	t.Helper()
	conn, v, err := (&PostHandshake{Peers: pv}).Dial(context.Background(), "tcp", addr)
	if err == nil {
		pingPong(t, conn)
		conn.Close()
	}
	return v, err
}

// A relay holding the server's key between a client and the genuine
// server: certificate mode accepts it, post-handshake mode refuses it.
func TestRelayRefusedByPostHandshake(t *testing.T) {
	victim := newPHPlatform(t, true)
	leaked := leakedCertificate(t, victim)

	// Certificate mode: the relay terminates TLS with the leaked
	// certificate and pipes to the genuine server; the client accepts.
	genuineCert := serve(t, ServerConfig(victim.iss, nil))
	relayLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{*leaked}})
	if err != nil {
		t.Fatal(err)
	}
	defer relayLn.Close()
	go func() {
		for {
			c, err := relayLn.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := tls.Dial("tcp", genuineCert, &tls.Config{InsecureSkipVerify: true})
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	conn, err := echo(t, relayLn.Addr().String(), ClientConfig(victim.verifier(), nil))
	if err != nil {
		t.Fatalf("certificate mode was expected to accept the relay (its weakness): %v", err)
	}
	conn.Close()

	// Post-handshake mode: the relay forwards the client's request to the
	// genuine server over its own connection.
	genuine, _ := servePH(t, PostHandshakeServerConfig(victim.iss), (&PostHandshake{Issuer: victim.iss}).Server)
	forward := attackerServer(t, leaked, func(t *testing.T, _ *tls.ConnectionState, _ *exportedauth.Session, req *exportedauth.Request) []byte {
		auth, _ := askGenuine(t, genuine, req.Marshal())
		return auth
	})
	if _, err := dialPH(t, forward, victim.verifier()); err == nil || !strings.Contains(err.Error(), "CertificateVerify") {
		t.Fatalf("relayed authenticator: %v", err)
	}
	// It re-signs the genuine evidence for the client's connection with
	// the leaked key: the authenticator is valid, the evidence is bound
	// to the relay's connection with the genuine server.
	resigned := attackerServer(t, leaked, func(t *testing.T, _ *tls.ConnectionState, sess *exportedauth.Session, req *exportedauth.Request) []byte {
		auth, _ := askGenuine(t, genuine, req.Marshal())
		return resignAuthenticator(t, sess, req, leaked, cmwOf(t, auth))
	})
	_, err = dialPH(t, resigned, victim.verifier())
	wantRefusal(t, "re-signed relayed evidence", err, CheckChannelBinder)
}

// An authenticator recorded on an earlier connection is refused on a new
// one, replayed as is or re-signed with the leaked key.
func TestReplayedAuthenticatorRefused(t *testing.T) {
	victim := newPHPlatform(t, true)
	leaked := leakedCertificate(t, victim)
	genuine, _ := servePH(t, PostHandshakeServerConfig(victim.iss), (&PostHandshake{Issuer: victim.iss}).Server)
	oldReq, err := attestationRequest(exportedauth.Client)
	if err != nil {
		t.Fatal(err)
	}
	recorded, _ := askGenuine(t, genuine, oldReq.Marshal())

	replay := attackerServer(t, leaked, func(*testing.T, *tls.ConnectionState, *exportedauth.Session, *exportedauth.Request) []byte {
		return recorded
	})
	if _, err := dialPH(t, replay, victim.verifier()); err == nil || !strings.Contains(err.Error(), "certificate_request_context") {
		t.Fatalf("replayed authenticator: %v", err)
	}
	resigned := attackerServer(t, leaked, func(t *testing.T, _ *tls.ConnectionState, sess *exportedauth.Session, req *exportedauth.Request) []byte {
		return resignAuthenticator(t, sess, req, leaked, cmwOf(t, recorded))
	})
	_, err = dialPH(t, resigned, victim.verifier())
	wantRefusal(t, "re-signed recorded evidence", err, CheckChannelBinder)
}

// Evidence whose binder was derived wrongly is refused: another exporter
// label (earlier revisions of the draft), another context, another
// connection's exporter, another key.
func TestWrongBinderRefused(t *testing.T) {
	victim := newPHPlatform(t, true)
	leaked := leakedCertificate(t, victim)
	spki := leaked.Leaf.RawSubjectPublicKeyInfo
	genuine, _ := servePH(t, PostHandshakeServerConfig(victim.iss), (&PostHandshake{Issuer: victim.iss}).Server)
	otherKey, err := GenerateKey("")
	if err != nil {
		t.Fatal(err)
	}
	otherSPKI, err := x509.MarshalPKIXPublicKey(otherKey.Public())
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		check string
		cmw   func(t *testing.T, cs *tls.ConnectionState, req *exportedauth.Request) []byte
	}{
		{"exporter label of draft -02", CheckChannelBinder, func(t *testing.T, cs *tls.ConnectionState, req *exportedauth.Request) []byte {
			return forgeEvidence(t, victim.tp, binderWith(t, cs, "Attestation", req.Context, spki), spki)
		}},
		{"exporter label Attestation Binding", CheckChannelBinder, func(t *testing.T, cs *tls.ConnectionState, req *exportedauth.Request) []byte {
			return forgeEvidence(t, victim.tp, binderWith(t, cs, "Attestation Binding", req.Context, spki), spki)
		}},
		{"another request's context", CheckChannelBinder, func(t *testing.T, cs *tls.ConnectionState, req *exportedauth.Request) []byte {
			return forgeEvidence(t, victim.tp, binderWith(t, cs, labelCMWAttestation, []byte("another context"), spki), spki)
		}},
		{"another connection's exporter", CheckChannelBinder, func(t *testing.T, _ *tls.ConnectionState, req *exportedauth.Request) []byte {
			_, other := askGenuine(t, genuine, req.Marshal())
			return forgeEvidence(t, victim.tp, binderWith(t, &other, labelCMWAttestation, req.Context, spki), spki)
		}},
		{"binder over another key", CheckChannelBinder, func(t *testing.T, cs *tls.ConnectionState, req *exportedauth.Request) []byte {
			return forgeEvidence(t, victim.tp, binderWith(t, cs, labelCMWAttestation, req.Context, otherSPKI), spki)
		}},
		{"key hash of another key", CheckChannelKey, func(t *testing.T, cs *tls.ConnectionState, req *exportedauth.Request) []byte {
			return forgeEvidence(t, victim.tp, binderWith(t, cs, labelCMWAttestation, req.Context, spki), otherSPKI)
		}},
	} {
		addr := attackerServer(t, leaked, func(t *testing.T, cs *tls.ConnectionState, sess *exportedauth.Session, req *exportedauth.Request) []byte {
			return resignAuthenticator(t, sess, req, leaked, tc.cmw(t, cs, req))
		})
		_, err := dialPH(t, addr, victim.verifier())
		wantRefusal(t, tc.name, err, tc.check)
	}

	// The control: the same forgery with every value right is accepted,
	// so each refusal above is due to its one wrong value.
	addr := attackerServer(t, leaked, func(t *testing.T, cs *tls.ConnectionState, sess *exportedauth.Session, req *exportedauth.Request) []byte {
		return resignAuthenticator(t, sess, req, leaked, forgeEvidence(t, victim.tp, binderWith(t, cs, labelCMWAttestation, req.Context, spki), spki))
	})
	if _, err := dialPH(t, addr, victim.verifier()); err != nil {
		t.Fatalf("control: %v", err)
	}
}

// An authenticator answering another context than the client's request.
func TestWrongContextRefused(t *testing.T) {
	victim := newPHPlatform(t, true)
	leaked := leakedCertificate(t, victim)
	spki := leaked.Leaf.RawSubjectPublicKeyInfo
	addr := attackerServer(t, leaked, func(t *testing.T, cs *tls.ConnectionState, sess *exportedauth.Session, req *exportedauth.Request) []byte {
		other, err := exportedauth.NewRequest(exportedauth.Client, []byte("not the client's context"), exportedauth.DefaultSignatureSchemes, exportedauth.Extension{Type: ExtensionCMWAttestation})
		if err != nil {
			t.Fatal(err)
		}
		return resignAuthenticator(t, sess, other, leaked, forgeEvidence(t, victim.tp, binderWith(t, cs, labelCMWAttestation, other.Context, spki), spki))
	})
	if _, err := dialPH(t, addr, victim.verifier()); err == nil || !strings.Contains(err.Error(), "certificate_request_context: want") {
		t.Fatalf("authenticator for another context: %v", err)
	}
}

// A client that demands post-handshake attestation refuses every way of
// falling back to less.
func TestDowngradeRefused(t *testing.T) {
	victim := newPHPlatform(t, true)
	leaked := leakedCertificate(t, victim)
	pv := victim.verifier()

	// A certificate-mode server (it echoes: the client's own request comes
	// back).
	certMode := serve(t, ServerConfig(victim.iss, nil))
	if _, err := dialPH(t, certMode, pv); err == nil || !strings.Contains(err.Error(), "reflected request") {
		t.Fatalf("certificate-mode echo server: %v", err)
	}
	// A certificate-mode server that speaks first.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerConfig(victim.iss, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.WriteString(c, "220 hello\r\n"); io.Copy(io.Discard, c) }()
		}
	}()
	if _, err := dialPH(t, ln.Addr().String(), pv); err == nil || !strings.Contains(err.Error(), "does not speak this protocol") {
		t.Fatalf("certificate-mode server that speaks first: %v", err)
	}
	// A server that skips the authenticator.
	skip := attackerServer(t, leaked, func(*testing.T, *tls.ConnectionState, *exportedauth.Session, *exportedauth.Request) []byte {
		return nil
	})
	if _, err := dialPH(t, skip, pv); err == nil || !strings.Contains(err.Error(), "want a AUTHENTICATOR frame, got DONE") {
		t.Fatalf("skipped authenticator: %v", err)
	}
	// A server that declines (empty authenticator), as a PostHandshake
	// without an Issuer does.
	declines, _ := servePH(t, PostHandshakeServerConfig(victim.iss), (&PostHandshake{}).Server)
	if _, err := dialPH(t, declines, pv); err == nil || !strings.Contains(err.Error(), "declined to attest") {
		t.Fatalf("empty authenticator: %v", err)
	}
	// A valid authenticator without attestation.
	plain := attackerServer(t, leaked, func(t *testing.T, _ *tls.ConnectionState, sess *exportedauth.Session, req *exportedauth.Request) []byte {
		return resignAuthenticator(t, sess, req, leaked, nil)
	})
	_, err = dialPH(t, plain, pv)
	wantRefusal(t, "authenticator without cmw_attestation", err, CheckCMWAttestation)
}

// The server must attest the key it presented in the handshake.
func TestAuthenticatorForAnotherCertificateRefused(t *testing.T) {
	a, b := newPHPlatform(t, true), newPHPlatform(t, true)
	cfg := PostHandshakeServerConfig(a.iss) // handshake with a's certificate
	addr, _ := servePH(t, cfg, (&PostHandshake{Issuer: b.iss}).Server)
	pv := b.verifier()
	var reported []*Verification
	pv.OnVerified = func(v *Verification) { reported = append(reported, v) }
	if _, err := dialPH(t, addr, pv); err == nil || !strings.Contains(err.Error(), "another certificate") {
		t.Fatalf("authenticator for another certificate: %v", err)
	}
	// The hook must not hear of a verification for a connection that is
	// then refused: a log of it would read "accepted".
	if len(reported) != 0 {
		t.Fatalf("OnVerified reported %d verifications (accepted: %v) of a refused connection", len(reported), reported[0].Accepted())
	}
}

// The policy applies as in certificate mode: no reference values, no peer.
func TestPostHandshakeNeedsReferenceValues(t *testing.T) {
	victim := newPHPlatform(t, true)
	addr, _ := servePH(t, PostHandshakeServerConfig(victim.iss), (&PostHandshake{Issuer: victim.iss}).Server)
	opts := *victim.opts
	opts.Policy = &appraise.Policy{}
	_, err := dialPH(t, addr, NewPeerVerifier(&opts))
	wantRefusal(t, "no reference values", err, appraise.CheckReferenceValues)
	opts.Policy = &appraise.Policy{AcceptAnyMeasurement: true}
	if _, err := dialPH(t, addr, NewPeerVerifier(&opts)); err != nil {
		t.Fatalf("accept_any_measurement: %v", err)
	}
}

func TestPassportRefusals(t *testing.T) {
	victim := newPHPlatform(t, true)
	svc := newFakeService(t, victim.opts)
	dialP := func(ph *PostHandshake, keys *ear.JWKSet, pv *PeerVerifier) error {
		addr, _ := servePH(t, PostHandshakeServerConfig(victim.iss), ph.Server)
		conn, _, err := (&PostHandshake{Peers: pv, PassportKeys: keys}).Dial(context.Background(), "tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err
	}
	ph := &PostHandshake{Issuer: victim.iss, Passport: svc.passport}
	if err := dialP(ph, svc.keys, victim.verifier()); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, "no keys", dialP(ph, nil, victim.verifier()), CheckPassport)
	other := newFakeService(t, victim.opts)
	wantRefusal(t, "EAR of an unknown service", dialP(ph, other.keys, victim.verifier()), CheckPassport)

	svc.mutate = func(e *ear.EAR) { e.Nonce = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }
	wantRefusal(t, "EAR for another binder", dialP(ph, svc.keys, victim.verifier()), CheckChannelBinder)
	svc.mutate = func(e *ear.EAR) { e.Nonce = "" }
	wantRefusal(t, "EAR without nonce", dialP(ph, svc.keys, victim.verifier()), CheckChannelBinder)
	// The ratls service and Veraison write eat_nonce in padded base64url:
	// the same binder, accepted; another binder padded is not.
	svc.mutate = func(e *ear.EAR) {
		b, err := base64.RawURLEncoding.DecodeString(e.Nonce)
		if err != nil {
			t.Errorf("the fake service's eat_nonce %q: %v", e.Nonce, err)
		}
		e.Nonce = base64.URLEncoding.EncodeToString(b)
	}
	if err := dialP(ph, svc.keys, victim.verifier()); err != nil {
		t.Fatalf("EAR with the binder in padded base64url: %v", err)
	}
	svc.mutate = func(e *ear.EAR) { e.Nonce = base64.URLEncoding.EncodeToString(make([]byte, 32)) }
	wantRefusal(t, "EAR for another binder, padded", dialP(ph, svc.keys, victim.verifier()), CheckChannelBinder)
	svc.mutate = func(e *ear.EAR) {
		b, _ := base64.RawURLEncoding.DecodeString(e.Nonce)
		e.Nonce = base64.RawURLEncoding.EncodeToString(b) + "=="
	}
	wantRefusal(t, "EAR with the binder wrongly padded", dialP(ph, svc.keys, victim.verifier()), CheckChannelBinder)

	svc.mutate = func(e *ear.EAR) {
		for _, s := range e.Submods {
			s.Status = ear.StatusContraindicated
		}
	}
	wantRefusal(t, "contraindicated EAR", dialP(ph, svc.keys, victim.verifier()), CheckPassport)
	// A warning that says nothing about reference values is refused, as a
	// peer without reference values is, unless accept_any_measurement.
	svc.mutate = func(e *ear.EAR) {
		for _, s := range e.Submods {
			s.Status, s.Reasons = ear.StatusWarning, nil
		}
	}
	wantRefusal(t, "unexplained warning EAR", dialP(ph, svc.keys, victim.verifier()), appraise.CheckReferenceValues)
	// An affirming EAR from a service that accepted any measurement
	// (executables absent) does not pass for reference values checked.
	svc.mutate = func(e *ear.EAR) {
		for _, s := range e.Submods {
			s.Status = ear.StatusAffirming
			s.TrustVector.Executables = ear.NoClaim
		}
	}
	wantRefusal(t, "affirming EAR whose executables claim is absent", dialP(ph, svc.keys, victim.verifier()), appraise.CheckReferenceValues)
	svc.mutate = func(e *ear.EAR) {
		for _, s := range e.Submods {
			s.Status, s.Reasons = ear.StatusWarning, nil
		}
	}
	opts := *victim.opts
	opts.Policy = &appraise.Policy{AcceptAnyMeasurement: true}
	if err := dialP(ph, svc.keys, NewPeerVerifier(&opts)); err != nil {
		t.Fatalf("warning EAR with accept_any_measurement: %v", err)
	}
	// The service's own reference-value warning is refused the same way.
	svc.mutate = func(e *ear.EAR) {
		for _, s := range e.Submods {
			s.Status = ear.StatusWarning
			s.Reasons = []ear.Reason{{Check: appraise.CheckReferenceValues, State: "not_run", Message: "no reference values", Status: ear.StatusWarning, Category: "executables"}}
		}
	}
	wantRefusal(t, "EAR without reference values", dialP(ph, svc.keys, victim.verifier()), appraise.CheckReferenceValues)
}

func TestCMWAttestationCodec(t *testing.T) {
	if _, err := marshalCMWAttestation(nil); err == nil {
		t.Error("empty cmw_data accepted")
	}
	if _, err := marshalCMWAttestation(make([]byte, 1<<16)); err == nil {
		t.Error("oversized cmw_data accepted")
	}
	rec, _ := (&cmw.CMW{Kind: cmw.KindRecord, Format: cmw.FormatJSON, MediaType: MediaTypeEvidence, Value: []byte{1, 2, 3}}).Marshal()
	data, err := marshalCMWAttestation(rec)
	if err != nil {
		t.Fatal(err)
	}
	if data[0] != 0 || int(data[1]) != len(rec) {
		t.Fatalf("length prefix: %x", data[:2])
	}
	c, err := parseCMWAttestation(data)
	if err != nil || c.MediaType != MediaTypeEvidence || string(c.Value) != "\x01\x02\x03" {
		t.Fatalf("parsed: %+v %v", c, err)
	}
	coll, _ := (&cmw.CMW{Kind: cmw.KindCollection, Format: cmw.FormatJSON, Entries: []cmw.Entry{{Label: cmw.TextLabel("a"), CMW: &cmw.CMW{Kind: cmw.KindRecord, Format: cmw.FormatJSON, MediaType: "a/b", Value: []byte{1}}}}}).Marshal()
	collData, _ := marshalCMWAttestation(coll)
	for name, in := range map[string][]byte{
		"nothing": nil, "one byte": {0}, "empty cmw_data": {0, 0}, "short": append([]byte{0, 9}, rec...),
		"long": append(append([]byte{}, data...), 0), "not a CMW": {0, 3, 1, 2, 3}, "collection": collData,
	} {
		if _, err := parseCMWAttestation(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The server checks a client's attestation the same way: a client that
// holds a leaked client key and re-signs evidence bound to another
// connection is refused, and told why.
func TestMutualClientForgeryRefused(t *testing.T) {
	srv, cli := newPHPlatform(t, true), newPHPlatform(t, false)
	leaked := leakedCertificate(t, cli)
	spki := leaked.Leaf.RawSubjectPublicKeyInfo
	addr, results := servePH(t, PostHandshakeServerConfig(srv.iss), (&PostHandshake{Issuer: srv.iss, Peers: cli.verifier()}).Server)

	for _, tc := range []struct {
		name, check string
		binder      func(cs *tls.ConnectionState, req *exportedauth.Request) []byte
	}{
		{"binder of another context", CheckChannelBinder, func(cs *tls.ConnectionState, _ *exportedauth.Request) []byte {
			return binderWith(t, cs, labelCMWAttestation, []byte("another context"), spki)
		}},
		{"control", "", func(cs *tls.ConnectionState, req *exportedauth.Request) []byte {
			return binderWith(t, cs, labelCMWAttestation, req.Context, spki)
		}},
	} {
		c, err := tls.Dial("tcp", addr, PostHandshakeClientConfig())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		cs := c.ConnectionState()
		sess, _ := exportedauth.NewSession(&cs)
		writeFrame(c, frameRequest, nil)
		body, err := readFrame(c, frameRequest)
		if err != nil {
			t.Fatal(err)
		}
		req, err := exportedauth.ParseRequest(body)
		if err != nil {
			t.Fatal(err)
		}
		id := &exportedauth.Identity{Chain: leaked.Certificate, Key: leaked.PrivateKey.(crypto.Signer),
			Extensions: []exportedauth.Extension{{Type: ExtensionCMWAttestation, Data: forgeEvidence(t, cli.tp, tc.binder(&cs, req), spki)}}}
		auth, err := sess.Authenticate(exportedauth.Client, req, id)
		if err != nil {
			t.Fatal(err)
		}
		writeFrame(c, frameAuthenticator, auth)
		_, err = readFrame(c, frameDone)
		c.Close()
		r := <-results
		if tc.check == "" {
			if err != nil || r.err != nil {
				t.Fatalf("%s: client %v, server %v", tc.name, err, r.err)
			}
			continue
		}
		var refused *PeerRefusedError
		if !errors.As(err, &refused) || !strings.Contains(refused.Reason, tc.check) {
			t.Errorf("%s: the client was not told why: %v", tc.name, err)
		}
		wantRefusal(t, tc.name+" (server)", r.err, tc.check)
	}
}

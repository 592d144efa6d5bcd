package ratls

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/internal/lru"
	"github.com/ratls/ratls/verify/checks"
)

// PeerVerifier verifies the RA-TLS certificate a TLS peer presents: its
// evidence, collateral and key binding, appraised by a policy. It replaces
// PKI name checks with the attested identity. Results are cached by the
// exact certificate bytes until the earliest expiry of anything they depend
// on, so repeat handshakes with a known peer cost no verification.
type PeerVerifier struct {
	opts VerifyOptions
	// OnVerified, when set, is called with every verification (accepted or
	// not) before the handshake completes.
	OnVerified func(*Verification)

	results *lru.Cache[[32]byte, cachedVerification] // by SHA-256 of the certificate
}

type cachedVerification struct {
	v     *Verification
	until time.Time
}

// NewPeerVerifier returns a PeerVerifier; opts may be nil (strict default
// policy, Intel root, collateral only from the certificate).
func NewPeerVerifier(opts *VerifyOptions) *PeerVerifier {
	p := &PeerVerifier{results: lru.NewEntries[[32]byte, cachedVerification](1024)}
	if opts != nil {
		p.opts = *opts
	}
	return p
}

// PeerError is returned by VerifyConnection when the peer's evidence is
// rejected, or could not be verified for want of collateral
// (Verification.CollateralUnavailable); it carries the full verification
// for diagnosis. errors.Is(err, ErrCollateralUnavailable) tells the two
// apart.
type PeerError struct {
	Verification *Verification
}

func (e *PeerError) Error() string {
	if err := e.Verification.CollateralUnavailable(); err != nil {
		// An outage of the collateral source is no verdict about the peer.
		return "ratls: could not verify the peer: " + err.Error()
	}
	a := e.Verification.Appraisal
	var reasons []string
	for _, r := range a.Reasons {
		if r.Status != appraise.Contraindicated {
			continue
		}
		s := r.Check + ": " + r.Message
		switch {
		case r.Expected != "" && r.Actual != "":
			s += fmt.Sprintf(" (expected %s, actual %s)", r.Expected, r.Actual)
		case r.Expected != "":
			s += " (expected " + r.Expected + ")"
		case r.Actual != "":
			s += " (actual " + r.Actual + ")"
		}
		reasons = append(reasons, s)
	}
	return "ratls: peer attestation rejected: " + strings.Join(reasons, "; ")
}

// Unwrap exposes why the peer could not be verified, when collateral was
// unavailable.
func (e *PeerError) Unwrap() error { return e.Verification.CollateralUnavailable() }

// VerifyConnection is a tls.Config.VerifyConnection callback: it verifies
// the peer's leaf certificate and fails the handshake unless the policy
// accepts it.
func (p *PeerVerifier) VerifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("ratls: the peer presented no certificate")
	}
	v, err := p.verify(context.Background(), cs.PeerCertificates[0])
	if err != nil {
		return err
	}
	if !v.Accepted() {
		return &PeerError{Verification: v}
	}
	return nil
}

// Verification returns the verification of the peer of an established
// connection, or nil if this verifier did not verify it.
func (p *PeerVerifier) Verification(cs tls.ConnectionState) *Verification {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	if c, ok := p.results.Get(sha256.Sum256(cs.PeerCertificates[0].Raw)); ok {
		return c.v
	}
	return nil
}

func (p *PeerVerifier) now() time.Time {
	if !p.opts.Now.IsZero() {
		return p.opts.Now
	}
	return time.Now()
}

func (p *PeerVerifier) verify(ctx context.Context, cert *x509.Certificate) (*Verification, error) {
	key := sha256.Sum256(cert.Raw)
	now := p.now()
	if c, ok := p.results.Get(key); ok && now.Before(c.until) {
		return c.v, nil
	}
	v, err := p.verifyCertificate(ctx, cert, nil)
	if err != nil {
		return nil, err
	}
	// Only accepted results are reused, and only while everything they
	// depend on is valid; a rejection is examined afresh on every handshake.
	until := cert.NotAfter
	if u := v.ValidUntil(); !u.IsZero() && u.Before(until) {
		until = u
	}
	if !v.Accepted() {
		until = time.Time{}
	}
	p.record(cert, v, until)
	return v, nil
}

// verifyCertificate verifies a peer's certificate with the verifier's
// options (and nonce, when given), applies the rules for TLS peers and
// reports the verification to OnVerified.
func (p *PeerVerifier) verifyCertificate(ctx context.Context, cert *x509.Certificate, nonce []byte) (*Verification, error) {
	o := p.opts
	if nonce != nil {
		o.Nonce = nonce
	}
	v, err := VerifyCertificate(ctx, cert, &o)
	if err != nil {
		return nil, fmt.Errorf("ratls: peer certificate: %w", err)
	}
	p.requireReferenceValues(v)
	if p.OnVerified != nil {
		p.OnVerified(v)
	}
	return v, nil
}

// requireReferenceValues refuses a peer whose measurements were not
// compared with reference values: any genuine TEE, including one running
// an attacker's code, would otherwise be accepted. The policy's
// accept_any_measurement is the explicit way to accept that.
func (p *PeerVerifier) requireReferenceValues(v *Verification) {
	if v.Appraisal.ReferenceValuesChecked || p.opts.policy().AcceptAnyMeasurement {
		return
	}
	v.Appraisal.Add(appraise.Reason{Check: appraise.CheckReferenceValues, Category: checks.Executables, State: checks.NotRun,
		Expected: "reference values for the peer's TEE", Actual: "none",
		Message: "a TLS peer is accepted only when its measurements match the policy's reference values (or the policy sets accept_any_measurement)",
		Status:  appraise.Contraindicated})
}

// record keeps a verification for Verification lookups; it is reused for
// later handshakes until the given time (never, when zero).
func (p *PeerVerifier) record(cert *x509.Certificate, v *Verification, until time.Time) {
	p.results.Add(sha256.Sum256(cert.Raw), cachedVerification{v: v, until: until}, 0)
}

// ServerConfig returns a TLS 1.3 server configuration that presents RA-TLS
// certificates from iss. With clients non-nil it requires and verifies an
// RA-TLS client certificate too (mutual attestation).
func ServerConfig(iss *Issuer, clients *PeerVerifier) *tls.Config {
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS13,
		GetCertificate: iss.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
	if clients != nil {
		cfg.ClientAuth = tls.RequireAnyClientCert
		cfg.VerifyConnection = clients.VerifyConnection
	}
	return cfg
}

// ClientConfig returns a TLS 1.3 client configuration that accepts a server
// only if servers verifies its RA-TLS certificate. With iss non-nil the
// client presents its own RA-TLS certificate (mutual attestation).
//
// It sets no ALPN protocols: net/http and gRPC add their own.
//
// Chain and name verification are switched off on purpose: the attested
// identity, checked in VerifyConnection for every handshake (including
// resumed ones), takes their place.
func ClientConfig(servers *PeerVerifier, iss *Issuer) *tls.Config {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by VerifyConnection below
		VerifyConnection:   servers.VerifyConnection,
	}
	if iss != nil {
		cfg.GetClientCertificate = iss.GetClientCertificate
	}
	return cfg
}

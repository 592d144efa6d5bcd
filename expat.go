package ratls

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/cmw"
	"github.com/ratls/ratls/exportedauth"
	"github.com/ratls/ratls/internal/bounded"
	"github.com/ratls/ratls/internal/lru"
	"github.com/ratls/ratls/keybinding"
	"github.com/ratls/ratls/verify/checks"
)

// Attestation in exported authenticators, after draft-fossati-seat-expat:
// an authenticator's end-entity certificate entry carries a cmw_attestation
// extension holding a CMW with Evidence (background-check model) or an EAR
// (passport model), bound to the connection and the request by the
// attestation binder. docs/binding.md records the revision implemented and
// every choice the draft leaves open.

const (
	// ExpatRevision is the revision of draft-fossati-seat-expat
	// implemented: the editor's copy of 19 September 2026, which follows
	// -03 (exporter label "EXPORTER-cmw-attestation").
	ExpatRevision = "draft-fossati-seat-expat editor's copy of 2026-09-19 (after -03)"
	// ExtensionCMWAttestation is the cmw_attestation extension's type. The
	// draft leaves it to IANA; 0xFFFF is in the range TLS reserves for
	// private use, and the other implementation we know of uses it too.
	ExtensionCMWAttestation uint16 = 0xFFFF
	// labelCMWAttestation is the exporter label of the attestation binder.
	labelCMWAttestation = "EXPORTER-cmw-attestation"
	// RuleChannelClaims names the binding of post-handshake evidence in
	// Verification.Binding: the claims buffer the report data commits to
	// names the binder and the authenticator key's hash.
	RuleChannelClaims = "expat-claims"
	// binderExporterSize is the exporter output the binder hashes.
	binderExporterSize = 32

	// MediaTypeEvidence is the CMW type of the Evidence ratls sends: RA-TLS
	// tagged evidence, #6.<tag>([evidence, claims buffer]).
	MediaTypeEvidence = "application/vnd.ratls.evidence+cbor"
	// MediaTypeEAR is the CMW type of an Attestation Result: an EAR JWT.
	MediaTypeEAR = `application/eat+jwt; eat_profile="tag:github.com,2023:veraison/ear"`

	// Attestation models (RFC 9334).
	ModelBackgroundCheck = "background-check"
	ModelPassport        = "passport"
)

// Checks the post-handshake verification adds to an appraisal.
const (
	CheckCMWAttestation = "channel.cmw_attestation" // the extension and its CMW
	CheckChannelBinder  = "channel.binder"          // the evidence names this connection's binder
	CheckChannelKey     = "channel.key"             // the evidence names the authenticator's key
	CheckPassport       = "channel.passport"        // the EAR's signature and status
)

func init() {
	checks.Define(checks.InstanceIdentity, CheckCMWAttestation, CheckChannelBinder, CheckChannelKey)
	checks.Define(checks.Hardware, CheckPassport)
}

// AttestationBinder is the binding value of draft-fossati-seat-expat
// Section 5.1 for one request on one connection:
//
//	Hash(public_key || TLS-Exporter("EXPORTER-cmw-attestation", certificate_request_context, 32))
//
// with Hash the cipher suite's hash and public_key the DER
// SubjectPublicKeyInfo of the authenticator's end-entity certificate.
func AttestationBinder(cs *tls.ConnectionState, requestContext, spki []byte) ([]byte, error) {
	h, err := exportedauth.SuiteHash(cs.CipherSuite)
	if err != nil {
		return nil, err
	}
	ev, err := cs.ExportKeyingMaterial(labelCMWAttestation, requestContext, binderExporterSize)
	if err != nil {
		return nil, fmt.Errorf("ratls: exporter %q: %w", labelCMWAttestation, err)
	}
	d := h.New()
	d.Write(spki)
	d.Write(ev)
	return d.Sum(nil), nil
}

// suiteHashAlg is the cipher suite hash as a claims-buffer hash algorithm.
func suiteHashAlg(cs *tls.ConnectionState) (evidence.HashAlg, error) {
	h, err := exportedauth.SuiteHash(cs.CipherSuite)
	if err != nil {
		return 0, err
	}
	if h == crypto.SHA384 {
		return evidence.SHA384, nil
	}
	return evidence.SHA256, nil
}

// marshalCMWAttestation encodes a CMW as cmw_attestation extension data:
// struct { opaque cmw_data<1..2^16-1>; } CMWAttestation.
func marshalCMWAttestation(c []byte) ([]byte, error) {
	if len(c) == 0 || len(c) > 1<<16-1 {
		return nil, fmt.Errorf("ratls: cmw_attestation: cmw_data must be 1 to 65535 bytes, got %d", len(c))
	}
	return append([]byte{byte(len(c) >> 8), byte(len(c))}, c...), nil
}

// parseCMWAttestation decodes cmw_attestation extension data and returns
// the CMW it carries, checked to be a well-formed CBOR or JSON CMW.
func parseCMWAttestation(data []byte) (*cmw.CMW, error) {
	if len(data) < 2 {
		return nil, fmt.Errorf("cmw_attestation: want a 2-byte length and cmw_data, got %d bytes", len(data))
	}
	n := int(data[0])<<8 | int(data[1])
	if n == 0 {
		return nil, errors.New("cmw_attestation: cmw_data is empty (an empty extension only offers attestation, in a request)")
	}
	if len(data)-2 != n {
		return nil, fmt.Errorf("cmw_attestation: cmw_data length says %d bytes, %d follow", n, len(data)-2)
	}
	c, err := cmw.Parse(data[2:])
	if err != nil {
		return nil, fmt.Errorf("cmw_attestation: %w", err)
	}
	if c.Kind != cmw.KindRecord {
		return nil, fmt.Errorf("cmw_attestation: want a CMW record, got a %s", c.Kind)
	}
	return c, nil
}

// PassportFunc trades Evidence for an Attestation Result (passport model):
// it submits the evidence, of the given media type, to a verification
// service under the session nonce and returns the EAR (a JWT) the service
// signs, whose eat_nonce is that nonce.
type PassportFunc func(ctx context.Context, mediaType string, evidence, nonce []byte) ([]byte, error)

// attestedAuthenticator answers req with an authenticator for the
// Issuer's current key: in its light certificate (light set, see
// lightCertificates) or in its RA-TLS certificate, whichever the handshake
// presented. When req offers cmw_attestation (an empty extension), the
// end-entity entry carries Evidence bound to this connection and request,
// or, with passport set, the EAR a verification service issued for that
// Evidence.
func (i *Issuer) attestedAuthenticator(ctx context.Context, cs *tls.ConnectionState, sess *exportedauth.Session, as exportedauth.Role, req *exportedauth.Request, passport PassportFunc, light bool) ([]byte, error) {
	cert, err := i.Certificate(ctx)
	if err == nil && light {
		cert, err = lightCertificates.get(cert)
	}
	if err != nil {
		return nil, err
	}
	key, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("ratls: the certificate key (%T) cannot sign", cert.PrivateKey)
	}
	id := &exportedauth.Identity{Chain: cert.Certificate, Key: key}
	if _, offered := req.Extension(ExtensionCMWAttestation); offered {
		c, err := i.channelAttestation(ctx, cs, req.Context, cert.Leaf.RawSubjectPublicKeyInfo, passport)
		if err != nil {
			return nil, err
		}
		data, err := marshalCMWAttestation(c)
		if err != nil {
			return nil, err
		}
		id.Extensions = []exportedauth.Extension{{Type: ExtensionCMWAttestation, Data: data}}
	}
	return sess.Authenticate(as, req, id)
}

// channelAttestation produces the CMW for one request: Evidence whose
// claims buffer names the binder ("nonce") and the key's hash under the
// cipher suite hash ("pubkey-hash", the draft's AIK_pub_hash), the report
// data being SHA-256 of that buffer; or the EAR for it.
func (i *Issuer) channelAttestation(ctx context.Context, cs *tls.ConnectionState, requestContext, spki []byte, passport PassportFunc) ([]byte, error) {
	binder, err := AttestationBinder(cs, requestContext, spki)
	if err != nil {
		return nil, err
	}
	alg, err := suiteHashAlg(cs)
	if err != nil {
		return nil, err
	}
	claims, err := evidence.NewClaims(spki, alg, binder)
	if err != nil {
		return nil, fmt.Errorf("ratls: %w", err)
	}
	var rd [64]byte
	h := sha256.Sum256(claims)
	copy(rd[:], h[:])
	actx, cancel := context.WithTimeout(ctx, i.opts.Timeout)
	defer cancel()
	ev, err := attest(actx, i.att, rd)
	if err != nil {
		return nil, err
	}
	tagged, err := evidence.EncodeTagged(ev.Tag, ev.Data, claims)
	if err != nil {
		return nil, fmt.Errorf("ratls: %w", err)
	}
	rec := &cmw.CMW{Kind: cmw.KindRecord, Format: cmw.FormatCBOR, MediaType: MediaTypeEvidence, Value: tagged, Indicator: cmw.Evidence}
	if passport != nil {
		token, err := passport(actx, MediaTypeEvidence, tagged, binder)
		if err != nil {
			return nil, fmt.Errorf("ratls: passport: %w", err)
		}
		rec = &cmw.CMW{Kind: cmw.KindRecord, Format: cmw.FormatCBOR, MediaType: MediaTypeEAR, Value: token, Indicator: cmw.AttestationResults}
	}
	return rec.Marshal()
}

// ChannelVerification is the outcome of verifying a peer's attested
// authenticator.
type ChannelVerification struct {
	// Model is ModelBackgroundCheck (the peer sent Evidence, verified
	// here) or ModelPassport (it sent an EAR).
	Model string
	// Context is the certificate_request_context of this side's request.
	Context []byte
	// Binder is the binding value this connection and request call for.
	Binder []byte
	// Verification holds the verdict: Certificate is the authenticator's
	// end-entity certificate; for Evidence, the whole verification; for an
	// EAR, an appraisal made of the EAR's statuses and reasons. Both carry
	// the channel binding checks.
	Verification *Verification
	// Attestation is the CMW the peer's cmw_attestation carried.
	Attestation *cmw.CMW
	// EAR is the peer's Attestation Result (passport model).
	EAR *ear.EAR
}

// Accepted reports whether the peer's attestation is accepted.
func (c *ChannelVerification) Accepted() bool { return c.Verification.Accepted() }

// verifyAttestedAuthenticator checks the authenticator the peer (in role
// from) sent for req on this connection: RFC 9261 (context, signature,
// Finished, chain), then the cmw_attestation it must carry, appraised with
// this verifier's options and policy. passportKeys are the verification
// services' keys for EARs; nil refuses EARs. An RFC 9261 failure is an
// error; an attestation the policy refuses is a *PeerError.
func (p *PeerVerifier) verifyAttestedAuthenticator(ctx context.Context, cs *tls.ConnectionState, sess *exportedauth.Session, from exportedauth.Role, req *exportedauth.Request, auth []byte, passportKeys *ear.JWKSet) (*ChannelVerification, error) {
	a, err := sess.Verify(from, req, auth, p.checkAuthenticatorChain)
	if errors.Is(err, exportedauth.ErrRefused) {
		return nil, fmt.Errorf("ratls: the %s declined to attest (it sent an empty authenticator)", from)
	}
	if err != nil {
		return nil, fmt.Errorf("ratls: the %s's authenticator: %w", from, err)
	}
	leaf := a.Chain[0]
	if from == exportedauth.Server && len(cs.PeerCertificates) > 0 && !bytes.Equal(leaf.Raw, cs.PeerCertificates[0].Raw) {
		// Refused before anything is verified or reported: the server must
		// attest the key it presented in the handshake.
		return nil, errors.New("ratls: the server's authenticator is for another certificate than the one it presented in the handshake")
	}
	binder, err := AttestationBinder(cs, req.Context, leaf.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, err
	}
	cv := &ChannelVerification{Context: bytes.Clone(req.Context), Binder: binder}
	c, err := attestationCMW(a)
	switch {
	case err != nil:
		v := &Verification{Certificate: leaf, Appraisal: appraise.NewAppraisal(p.opts.policy().Name())}
		v.Appraisal.Add(appraise.Reason{Check: CheckCMWAttestation, Category: checks.InstanceIdentity, State: checks.NotRun,
			Expected: "a cmw_attestation extension with Evidence or an EAR in the end-entity certificate entry", Actual: err.Error(),
			Message: "the peer authenticated without attestation: post-handshake mode requires it", Status: appraise.Contraindicated})
		cv.Verification = v
	case strings.HasPrefix(c.MediaType, "application/eat+jwt"):
		cv.Model, cv.Attestation = ModelPassport, c
		cv.Verification, cv.EAR = p.verifyPassport(c.Value, leaf, binder, passportKeys)
	default:
		cv.Model, cv.Attestation = ModelBackgroundCheck, c
		cv.Verification = p.verifyChannelEvidence(ctx, cs, c, leaf, binder)
	}
	if p.OnVerified != nil {
		p.OnVerified(cv.Verification)
	}
	if !cv.Accepted() {
		return cv, &PeerError{Verification: cv.Verification}
	}
	return cv, nil
}

// attestationCMW returns the CMW of the authenticator's cmw_attestation
// extension, which only the end-entity entry may carry.
func attestationCMW(a *exportedauth.Authenticator) (*cmw.CMW, error) {
	for i, e := range a.Entries[1:] {
		if _, ok := e.Extension(ExtensionCMWAttestation); ok {
			return nil, fmt.Errorf("cmw_attestation in certificate %d: only the end-entity certificate's entry may carry it", i+1)
		}
	}
	data, ok := a.Entries[0].Extension(ExtensionCMWAttestation)
	if !ok {
		return nil, errors.New("no cmw_attestation extension")
	}
	return parseCMWAttestation(data)
}

// checkAuthenticatorChain checks what can be checked of an authenticator's
// chain without PKI: each certificate is valid now and signed by the next,
// and a self-issued last one by itself. Trust in the identity comes from
// the attestation, as for RA-TLS certificates.
func (p *PeerVerifier) checkAuthenticatorChain(chain []*x509.Certificate) error {
	now := p.now()
	for i, c := range chain {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return fmt.Errorf("certificate %d (%s) is valid from %s to %s, not at %s", i, c.Subject, c.NotBefore.UTC(), c.NotAfter.UTC(), now.UTC())
		}
		switch {
		case i+1 < len(chain):
			if err := c.CheckSignatureFrom(chain[i+1]); err != nil {
				return fmt.Errorf("certificate %d is not signed by certificate %d: %w", i, i+1, err)
			}
		case bytes.Equal(c.RawIssuer, c.RawSubject):
			if err := selfSignatures.check(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// verifyChannelEvidence verifies Evidence (background-check model) with
// the verifier's options and policy, then its binding: the claims buffer
// the report data commits to must name this connection's binder and the
// authenticator's key.
func (p *PeerVerifier) verifyChannelEvidence(ctx context.Context, cs *tls.ConnectionState, c *cmw.CMW, leaf *x509.Certificate, binder []byte) *Verification {
	items, err := evidence.ParseRaw(c.Value)
	if err == nil && len(items) != 1 {
		err = fmt.Errorf("want one piece of evidence, got %d", len(items))
	}
	if err != nil {
		v := &Verification{Certificate: leaf, Appraisal: appraise.NewAppraisal(p.opts.policy().Name())}
		v.Appraisal.Reject(CheckCMWAttestation, checks.InstanceIdentity, "Evidence in a CMW record", err.Error(),
			"the cmw_attestation extension does not carry evidence ratls can verify")
		return v
	}
	item := items[0]
	o := withLeafEndorsements(p.opts, leaf)
	o.Nonce = nil // the binder is checked below, with its own reasons
	v := VerifyEvidence(ctx, item, &o)
	v.Certificate = leaf
	p.requireReferenceValues(v)
	// The appraisal saw raw evidence; the binding is checked here.
	v.Appraisal.Notes = slices.DeleteFunc(v.Appraisal.Notes, func(n string) bool { return strings.HasPrefix(n, "raw evidence:") })
	v.Appraisal.Notes = append(v.Appraisal.Notes, "post-handshake evidence: bound to the connection and the authenticator's key by its claims buffer (checks "+CheckChannelBinder+" and "+CheckChannelKey+")")
	v.Binding = &evidence.Binding{Status: evidence.BindingAbsent, Rule: RuleChannelClaims, Detail: "no claims buffer bound by the report data"}
	bound := false
	if item.Claims != nil {
		_, bound = keybinding.ClaimsBound(item.Claims, item.ReportData())
	}
	if !bound {
		v.Appraisal.Add(appraise.Reason{Check: CheckChannelBinder, Category: checks.InstanceIdentity, State: checks.NotRun,
			Expected: "a claims buffer bound by the report data, naming the binder", Actual: "none",
			Message: "the evidence carries no claims the TEE vouches for: nothing binds it to this connection", Status: appraise.Contraindicated})
		return v
	}
	v.Binding = &evidence.Binding{Status: evidence.BindingOK, Rule: RuleChannelClaims,
		Detail: "claims buffer: nonce = binder of this connection and request, pubkey-hash = hash of the authenticator's key"}
	if !bytes.Equal(item.Claims.Nonce, binder) {
		v.Binding.Status = evidence.BindingMismatch
		actual := "absent"
		if item.Claims.Nonce != nil {
			actual = hex.EncodeToString(item.Claims.Nonce)
		}
		v.Appraisal.Reject(CheckChannelBinder, checks.InstanceIdentity, hex.EncodeToString(binder), actual,
			"the evidence is bound to another connection or request (binder = Hash(certificate key || exporter \""+labelCMWAttestation+"\" of this connection and request)): replayed or relayed")
	}
	alg, _ := suiteHashAlg(cs)
	if want := alg.Sum(leaf.RawSubjectPublicKeyInfo); item.Claims.PubKeyHashAlg != alg || !bytes.Equal(item.Claims.PubKeyHash, want) {
		v.Appraisal.Reject(CheckChannelKey, checks.InstanceIdentity, alg.String()+":"+hex.EncodeToString(want),
			item.Claims.PubKeyHashAlg.String()+":"+hex.EncodeToString(item.Claims.PubKeyHash),
			"the evidence vouches for another key than the one that signed the authenticator")
		v.Binding.Status = evidence.BindingMismatch
	}
	return v
}

// withLeafEndorsements returns o with the collateral the authenticator's
// certificate carries (an RA-TLS endorsements extension) as the peer's, as
// VerifyCertificate takes it: a ratls server's certificate carries its
// platform's collateral, which verifies its channel evidence as well, but
// only where o's own sources have nothing, never below what the verifier
// has seen, and with every revocation applying. Unusable endorsements are
// ignored: verification then reports the missing collateral.
func withLeafEndorsements(o VerifyOptions, leaf *x509.Certificate) VerifyOptions {
	ce, err := evidence.FromCertificate(leaf)
	if err != nil {
		return o
	}
	o.peer, o.lenientPeer = ce.Endorsements, true
	return o
}

// lightCertificates holds, for each RA-TLS certificate an Issuer made, a
// certificate for the same key without evidence or collateral: the
// identity of post-handshake mode, where the evidence comes in the
// authenticator, bound to the connection. It keeps the handshake and the
// authenticator small (an RA-TLS certificate with collateral is 10 to 20
// KB) and costs one signature per certificate the Issuer makes.
//
// The handshake and the authenticator must present the same light
// certificate, so entries are dropped only once their certificate has
// expired, or past a bound no real server reaches.
var lightCertificates = &lightCache{m: make(map[*tls.Certificate]*tls.Certificate), max: 4096}

type lightCache struct {
	mu  sync.Mutex
	m   map[*tls.Certificate]*tls.Certificate
	max int
}

func (lc *lightCache) get(full *tls.Certificate) (*tls.Certificate, error) {
	lc.mu.Lock()
	light := lc.m[full]
	lc.mu.Unlock()
	if light != nil {
		return light, nil
	}
	key, ok := full.PrivateKey.(crypto.Signer)
	if !ok || full.Leaf == nil {
		return nil, fmt.Errorf("ratls: the certificate key (%T) cannot sign", full.PrivateKey)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	l := full.Leaf
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: l.Subject, NotBefore: l.NotBefore, NotAfter: l.NotAfter, DNSNames: l.DNSNames,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("ratls: light certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	light = &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: full.PrivateKey, Leaf: leaf}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if l := lc.m[full]; l != nil { // made concurrently
		return l, nil
	}
	now := time.Now()
	for f := range lc.m {
		if f.Leaf == nil || now.After(f.Leaf.NotAfter) {
			delete(lc.m, f)
		}
	}
	bounded.MakeRoom(lc.m, lc.max)
	lc.m[full] = light
	return light, nil
}

// selfSignatures remembers, by content, the certificates whose
// self-signature verified: a server's certificate is checked once, not on
// every connection.
var selfSignatures = &signatureCache{ok: lru.NewEntries[[32]byte, struct{}](1024)}

type signatureCache struct {
	ok *lru.Cache[[32]byte, struct{}] // by SHA-256 of the certificate
}

func (sc *signatureCache) check(c *x509.Certificate) error {
	key := sha256.Sum256(c.Raw)
	if _, ok := sc.ok.Get(key); ok {
		return nil
	}
	if err := CheckSelfSignature(c); err != nil {
		return err
	}
	sc.ok.Add(key, struct{}{}, 0)
	return nil
}

// eatNonceIs reports whether an EAR's eat_nonce is nonce in base64url,
// unpadded or padded: Veraison's verifier and the ratls service pad it.
func eatNonceIs(eatNonce string, nonce []byte) bool {
	return eatNonce == base64.RawURLEncoding.EncodeToString(nonce) || eatNonce == base64.URLEncoding.EncodeToString(nonce)
}

// verifyPassport checks an EAR (passport model): its signature by one of
// the verification services' keys, its nonce (the binder), and its
// verdict, under the same rule as Evidence: a warning is accepted, but an
// EAR that does not say the workload's measurements were compared with
// reference values is refused unless the policy sets
// accept_any_measurement.
func (p *PeerVerifier) verifyPassport(token []byte, leaf *x509.Certificate, binder []byte, keys *ear.JWKSet) (*Verification, *ear.EAR) {
	a := appraise.NewAppraisal(p.opts.policy().Name())
	v := &Verification{Certificate: leaf, Appraisal: a}
	if keys == nil {
		a.Add(appraise.Reason{Check: CheckPassport, Category: checks.Hardware, State: checks.NotRun, Expected: "verification service keys", Actual: "none",
			Message: "the peer sent an Attestation Result (EAR), but no verification service keys are configured to check it", Status: appraise.Contraindicated})
		return v, nil
	}
	e, err := ear.Verify(token, keys, p.now())
	if err != nil {
		a.Reject(CheckPassport, checks.Hardware, "an EAR signed by a trusted verification service", "invalid", err.Error())
		return v, nil
	}
	if want := base64.RawURLEncoding.EncodeToString(binder); !eatNonceIs(e.Nonce, binder) {
		a.Reject(CheckChannelBinder, checks.InstanceIdentity, want, orAbsent(e.Nonce),
			"the EAR's eat_nonce is not this connection's binder: it was issued for another connection or request")
	}
	names := make([]string, 0, len(e.Submods))
	for name := range e.Submods {
		names = append(names, name)
	}
	slices.Sort(names)
	// Reference values count as checked only where every submodule says
	// so positively: its executables claim is affirming, and no reason
	// says reference values were not checked.
	a.ReferenceValuesChecked = len(names) > 0
	for _, name := range names {
		sub := e.Submods[name]
		if sub.TrustVector == nil || ear.TierOf(sub.TrustVector.Executables) != ear.StatusAffirming {
			a.ReferenceValuesChecked = false
		}
		for _, r := range sub.Reasons {
			if r.Check == appraise.CheckReferenceValues && r.State == checks.NotRun {
				a.ReferenceValuesChecked = false
			}
		}
		if sub.Status == ear.StatusAffirming {
			continue
		}
		if len(sub.Reasons) == 0 {
			a.ReferenceValuesChecked = false // a warning that explains nothing
		}
		for _, r := range sub.Reasons {
			if r.Status != ear.StatusWarning && r.Status != ear.StatusAffirming {
				r.Status = ear.StatusContraindicated
			}
			r.Message = fmt.Sprintf("EAR submodule %q: %s", name, r.Message)
			a.Add(r)
		}
		// The submodule's own status stands even if its reasons say less;
		// any status but affirming or warning refuses.
		st := ear.StatusContraindicated
		if sub.Status == ear.StatusWarning {
			st = ear.StatusWarning
		}
		if a.Status.Code() < st.Code() {
			a.Add(appraise.Reason{Check: CheckPassport, Category: checks.Hardware, State: checks.Failed, Expected: string(ear.StatusAffirming),
				Actual: string(sub.Status), Message: fmt.Sprintf("the EAR's submodule %q is %s", name, sub.Status), Status: st})
		}
	}
	p.requireReferenceValues(v)
	return v, e
}

func orAbsent(s string) string {
	if s == "" {
		return "absent"
	}
	return s
}

package service_test

// The Veraison compatibility suite: the exchanges of Veraison's own clients
// with the service, rebuilt byte for byte from their source, as tables.
//
//   - github.com/veraison/apiclient at ab8774e (the version evcli v2 pins):
//     verification/challengeresponse.go (newSessionRequest, Run, wrapEvInCMW,
//     challengeResponse, pollForAttestationResult) and common/client.go
//     (PostResource, DeleteResource).
//   - github.com/veraison/evcli/v2 (cmd/cca/verify_as_attester.go and
//     verify_as_relyingparty.go), which drives apiclient for Arm CCA.
//   - github.com/veraison/cmw v0.1.0, apiclient's CMW encoder.
//
// What those clients accept in an answer is asserted as they check it:
// apiclient wants 201 and a Location (absolute, or relative to the
// newSession URI) from newSession, decodes the session with encoding/json
// into []byte nonce and evidence members (standard, padded base64), wants
// 200 and status "complete" (or 202, then polls with GET) after posting
// evidence, and 200, 202 or 204 from DELETE. Nothing here needs the
// Veraison code: the suite runs in CI on its own.

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/armcca"
	"github.com/ratls/ratls/tee/sevsnp"

	"net/http/httptest"
	"slices"
	"sync"

	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/testing/ccatest"
	"github.com/ratls/ratls/verify/amd"
)

// veraisonSessionMedia is the Accept of every apiclient session request.
const veraisonSessionMedia = "application/vnd.veraison.challenge-response-session+json"

// veraisonSession is apiclient's ChallengeResponseSession: what it decodes
// from the service's answers, with the same Go types, so that encoding/json
// reads the answer exactly as apiclient does.
type veraisonSession struct {
	Nonce    []byte          `json:"nonce"`
	Expiry   string          `json:"expiry"`
	Accept   []string        `json:"accept"`
	Status   string          `json:"status"`
	Evidence veraisonBlob    `json:"evidence"`
	Result   json.RawMessage `json:"result"`
}

type veraisonBlob struct {
	Type  string `json:"type"`
	Value []byte `json:"value"`
}

// apiclient is one configuration of Veraison's client against the fixture.
type apiclient struct {
	t     testing.TB
	base  string // the service's URL
	auth  string // the Authorization header its IAuthenticator gives; "" for none
	nonce []byte // ChallengeResponseConfig.Nonce; nil: NonceSz
	size  uint   // ChallengeResponseConfig.NonceSz
}

// exchange is a request as sent and the answer as received.
type exchange struct {
	req  *http.Request
	code int
	hdr  http.Header
	body []byte
}

func (c *apiclient) send(req *http.Request) *exchange {
	c.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return &exchange{req: req, code: res.StatusCode, hdr: res.Header, body: b}
}

// newSessionRequest is newSessionRequest: POST with no body, the nonce or
// its size in the query (nonce in padded base64url since ab8774e), Accept
// set and no Authorization, whatever Auth says.
func (c *apiclient) newSessionRequest() *http.Request {
	req, err := http.NewRequest("POST", c.base+api.PathNewSession, http.NoBody)
	if err != nil {
		c.t.Fatal(err)
	}
	q := req.URL.Query()
	if len(c.nonce) > 0 {
		q.Set("nonce", base64.URLEncoding.EncodeToString(c.nonce))
	} else if c.size > 0 {
		q.Set("nonceSize", fmt.Sprint(c.size))
	}
	req.URL.RawQuery = q.Encode()
	req.Header.Set("Accept", veraisonSessionMedia)
	return req
}

// newSession is apiclient's newSession: 201, the Location resolved against
// the newSession URI, the body decoded.
func (c *apiclient) newSession() (string, *veraisonSession) {
	c.t.Helper()
	x := c.send(c.newSessionRequest())
	if x.code != http.StatusCreated {
		c.t.Fatalf("newSession response has unexpected status: %d: %s", x.code, x.body)
	}
	loc := x.hdr.Get("Location")
	if loc == "" {
		c.t.Fatal("no Location header found in response")
	}
	base, _ := url.Parse(c.base + api.PathNewSession)
	ref, err := url.Parse(loc)
	if err != nil {
		c.t.Fatalf("the returned Location %q is not a valid URI: %v", loc, err)
	}
	var s veraisonSession
	if err := json.NewDecoder(bytes.NewReader(x.body)).Decode(&s); err != nil {
		c.t.Fatalf("failure JSON decoding response body: %v: %s", err, x.body)
	}
	return base.ResolveReference(ref).String(), &s
}

// newRequest is common.Client.newRequest: the Authorization header when
// the authenticator gives one.
func (c *apiclient) newRequest(method, uri string, body io.Reader) *http.Request {
	req, err := http.NewRequest(method, uri, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	return req
}

// postEvidence is PostResource(evidence, mediaType, session media, uri).
func (c *apiclient) postEvidence(uri, mediaType string, evidence []byte) *exchange {
	c.t.Helper()
	req := c.newRequest("POST", uri, bytes.NewBuffer(evidence))
	req.Header.Set("Content-Type", mediaType)
	req.Header.Set("Accept", veraisonSessionMedia)
	return c.send(req)
}

// challengeResponse is apiclient's challengeResponse (without polling: the
// service answers synchronously): 200, a session whose status is complete,
// and its result as the raw JSON apiclient returns.
func (c *apiclient) challengeResponse(uri, mediaType string, evidence []byte) json.RawMessage {
	c.t.Helper()
	x := c.postEvidence(uri, mediaType, evidence)
	if x.code != http.StatusOK {
		c.t.Fatalf("session response has unexpected status: %d: %s", x.code, x.body)
	}
	var s veraisonSession
	if err := json.NewDecoder(bytes.NewReader(x.body)).Decode(&s); err != nil {
		c.t.Fatalf("failure decoding session resource body: %v: %s", err, x.body)
	}
	if s.Status != "complete" {
		c.t.Fatalf("unexpected session state: %s", s.Status)
	}
	return s.Result
}

// deleteSession is DeleteResource: 200, 202 or 204.
func (c *apiclient) deleteSession(uri string) *exchange {
	c.t.Helper()
	x := c.send(c.newRequest("DELETE", uri, http.NoBody))
	switch x.code {
	case http.StatusOK, http.StatusAccepted, http.StatusNoContent:
	default:
		c.t.Errorf("DELETE %q, response has unexpected status: %d: %s", uri, x.code, x.body)
	}
	return x
}

// result reads the EAR of a result as apiclient returns it (a JSON string).
func (f *fixture) veraisonResult(raw json.RawMessage) *ear.EAR {
	f.t.Helper()
	var token string
	if err := json.Unmarshal(raw, &token); err != nil {
		f.t.Fatalf("result: want a JSON string (the EAR), got %s", raw)
	}
	return f.verifyEAR(token)
}

// cborHead encodes a CBOR initial byte and argument.
func cborHead(major byte, n int) []byte {
	switch {
	case n < 24:
		return []byte{major<<5 | byte(n)}
	case n < 1<<8:
		return []byte{major<<5 | 24, byte(n)}
	case n < 1<<16:
		return binary.BigEndian.AppendUint16([]byte{major<<5 | 25}, uint16(n))
	}
	return binary.BigEndian.AppendUint32([]byte{major<<5 | 26}, uint32(n))
}

// cmwWrap is wrapEvInCMW with cmw v0.1.0: a record [type, value, 4]
// (indicator Evidence), as a CBOR array (WrapCBOR) or a JSON array
// (WrapJSON, the value in unpadded base64url), and apiclient's media type.
func cmwWrap(wrap, mt string, ev []byte) ([]byte, string) {
	if wrap == "json" {
		t, _ := json.Marshal(mt)
		return fmt.Appendf(nil, `[%s,"%s",4]`, t, base64.RawURLEncoding.EncodeToString(ev)), "application/vnd.veraison.cmw+json"
	}
	b := []byte{0x83}
	b = append(append(b, cborHead(3, len(mt))...), mt...)
	b = append(append(b, cborHead(2, len(ev))...), ev...)
	return append(b, 0x04), "application/vnd.veraison.cmw+cbor"
}

// apiclient's Run with Wrap set: the evidence its builder returns, wrapped
// in a CMW whose media type is Veraison's spelling.
func TestVeraisonCMWWrap(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := &apiclient{t: t, base: f.http.URL, size: 32}
	for _, wrap := range []string{"cbor", "json"} {
		t.Run(wrap, func(t *testing.T) {
			c.t = t
			uri, s := c.newSession()
			body, mt := cmwWrap(wrap, api.MediaDCAPQuote, quote(t, f.tdx, s.Nonce))
			if wrap == "json" && !bytes.HasPrefix(body, []byte(`["application/vnd.ratls.dcap-quote","`)) || wrap == "cbor" && !bytes.HasPrefix(body, []byte("\x83\x78\x20application/vnd.ratls.dcap-quote\x59")) {
				t.Fatalf("CMW as cmw v0.1.0 encodes it: got %q", body[:40])
			}
			e := f.veraisonResult(c.challengeResponse(uri, mt, body))
			if len(e.Submods) != 1 || e.Submods["tdx"] == nil || e.Submods["tdx"].Status != ear.StatusWarning {
				t.Errorf("EAR of wrapped evidence: want tdx warning (simulated root), got %+v", e.Submods)
			}
			c.deleteSession(uri)
		})
	}
	if !strings.Contains(strings.Join(api.EvidenceMedia, " "), "application/vnd.veraison.cmw+cbor") {
		t.Errorf("the advertised media types lack Veraison's CMW spelling: %v", api.EvidenceMedia)
	}
}

// A CMW record is read as the media type it names, as Veraison unwraps it
// before dispatching: a DCAP quote in a record that says it is a SEV-SNP
// report is refused, not appraised as whatever it parses as.
func TestCMWRecordTypeIsHonoured(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	q := quote(t, f.tdx, nil)
	for _, wrap := range []string{"cbor", "json"} {
		body, mt := cmwWrap(wrap, api.MediaSNPReport, q)
		f.do("POST", api.PathAttest, "", mt, body).problem(t, http.StatusBadRequest, "media-type-mismatch")
		body, mt = cmwWrap(wrap, api.MediaDCAPQuote, q)
		if r := f.do("POST", api.PathAttest, "", mt, body); r.code != http.StatusOK {
			t.Errorf("%s CMW record of a DCAP quote: want 200, got %d %s", wrap, r.code, r.body)
		}
	}
}

// tsmReport is ratsd's tokens.TSMReport (github.com/veraison/ratsd,
// tokens/tsm-report.go): members in its field order, empty ones left out
// (omitempty), blobs as unpadded base64url in JSON (BinaryString) and as
// byte strings in CBOR (fxamacker/cbor, which takes the json names).
type tsmReport struct {
	aux, out        []byte
	provider        string
	manifest        []byte
	serviceProvider string
}

func (r *tsmReport) members() (names []string, blobs [][]byte, texts []string) {
	add := func(name string, blob []byte, text string, keep bool) {
		if keep {
			names, blobs, texts = append(names, name), append(blobs, blob), append(texts, text)
		}
	}
	add("auxblob", r.aux, "", len(r.aux) > 0)
	add("outblob", r.out, "", true)
	add("provider", nil, r.provider, true)
	add("manifestblob", r.manifest, "", len(r.manifest) > 0)
	add("service_provider", nil, r.serviceProvider, r.serviceProvider != "")
	return
}

func (r *tsmReport) json() []byte {
	names, blobs, texts := r.members()
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		v := texts[i]
		if blobs[i] != nil {
			v = base64.RawURLEncoding.EncodeToString(blobs[i])
		}
		q, _ := json.Marshal(v)
		fmt.Fprintf(&b, "%q:%s", n, q)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func (r *tsmReport) cbor() []byte {
	names, blobs, texts := r.members()
	b := cborHead(5, len(names))
	for i, n := range names {
		b = append(append(b, cborHead(3, len(n))...), n...)
		if blobs[i] != nil {
			b = append(append(b, cborHead(2, len(blobs[i]))...), blobs[i]...)
		} else {
			b = append(append(b, cborHead(3, len(texts[i]))...), texts[i]...)
		}
	}
	return b
}

// A configfs-tsm report as ratsd encodes it, in JSON and CBOR, with and
// without a service provider (an SVSM report), through a session: ratsd's
// tsm attester asks for 64-byte nonces.
func TestVeraisonTSMReport(t *testing.T) {
	p := testAMDPKI(t)
	// The fixture's clock is the simulation's time plus an hour.
	now := testSim(t).Now().Add(time.Hour)
	crl, err := p.CRL(1, now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// The verifier's own source has the VCEK CRL; the auxblob's CRL,
	// whose kind nothing states, only adds revocations.
	own := &kds.Certificates{Intermediate: p.ASK, Root: p.ARK, Source: "configured",
		CRLs: []kds.CRL{{List: crl, Kind: kds.CRLVCEK, Source: "configured"}}}
	f := newFixture(t, fixtureOptions{mutate: func(c *service.Config) {
		tee.Edit[sevsnp.Options](&c.Verify.TEE).Verifier = amd.NewVerifier(&amd.Config{ExtraRoots: []*x509.Certificate{p.ARK}})
		tee.Edit[sevsnp.Options](&c.Verify.TEE).Certificates = kds.Static{C: own}
	}})
	c := &apiclient{t: t, base: f.http.URL, size: 64}
	for _, tc := range []struct {
		name, mt string
		encode   func(*tsmReport) []byte
		service  string
	}{
		{"json", "application/vnd.veraison.tsm-report+json", (*tsmReport).json, ""},
		{"cbor", "application/vnd.veraison.tsm-report+cbor", (*tsmReport).cbor, ""},
		{"json provider newline", "application/vnd.veraison.tsm-report+json", func(r *tsmReport) []byte { r.provider += "\n"; return r.json() }, ""},
		{"json service provider", "application/vnd.veraison.tsm-report+json", (*tsmReport).json, "svsm"},
		{"cbor service provider", "application/vnd.veraison.tsm-report+cbor", (*tsmReport).cbor, "svsm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			uri, s := c.newSession()
			report, err := p.Report(snp.SigningKeyVCEK, [64]byte(s.Nonce), nil)
			if err != nil {
				t.Fatal(err)
			}
			r := &tsmReport{out: report, aux: p.CertTable(snp.SigningKeyVCEK, crl), provider: "sev_guest"}
			if tc.service != "" {
				r.serviceProvider, r.manifest = tc.service, []byte("a service manifest")
			}
			e := f.veraisonResult(c.challengeResponse(uri, tc.mt, tc.encode(r)))
			if len(e.Submods) != 1 {
				t.Fatalf("submods: want one, got %v", e.Submods)
			}
			for name, sub := range e.Submods {
				// Genuine and fresh; no reference values and no minimum
				// TCB in the built-in policy: a warning.
				if sub.Status != ear.StatusWarning {
					t.Errorf("%s: want warning, got %s: %+v", name, sub.Status, sub.Reasons)
				}
				for _, reason := range sub.Reasons {
					if reason.Status == ear.StatusContraindicated {
						t.Errorf("%s: contraindicated reason %s: %s", name, reason.Check, reason.Message)
					}
				}
			}
		})
	}
	// The padded standard base64 of ratls's earlier documentation still
	// reads; mixing alphabets does not.
	report, _ := p.Report(snp.SigningKeyVCEK, [64]byte{}, nil)
	body := fmt.Appendf(nil, `{"provider":"sev_guest","outblob":%q}`, base64.StdEncoding.EncodeToString(report))
	if r := f.do("POST", api.PathAttest, "", api.MediaTSMReport, body); r.code != 200 && r.code != 422 || !bytes.Contains(r.body, []byte(`"ear"`)) {
		t.Errorf("padded standard base64: want an appraisal, got %d %s", r.code, r.body)
	}
	f.do("POST", api.PathAttest, "", api.MediaTSMReport, []byte(`{"provider":"sev_guest","outblob":"ab+-"}`)).problem(t, 400, "malformed-evidence")
	// ratsd's rules: outblob and provider are required, a manifest needs
	// its service provider; members are known and unique.
	for _, bad := range []string{
		`{"provider":"sev_guest"}`,
		`{"outblob":"AAAA"}`,
		`{"provider":"sev_guest","outblob":"AAAA","manifestblob":"AAAA"}`,
		`{"provider":"sev_guest","outblob":"AAAA","extra":1}`,
		`{"provider":"sev_guest","provider":"tdx_guest","outblob":"AAAA"}`,
	} {
		f.do("POST", api.PathAttest, "", api.MediaTSMReport, []byte(bad)).problem(t, 400, "malformed-evidence")
	}
	for _, bad := range [][]byte{
		(&tsmReport{provider: "sev_guest"}).cbor(),                           // an empty outblob is left out
		{0xa1, 0x67, 'o', 'u', 't', 'b', 'l', 'o', 'b', 0x63, 'A', 'A', 'A'}, // a text blob
		{0x80}, // not a map
	} {
		f.do("POST", api.PathAttest, "", "application/vnd.veraison.tsm-report+cbor", bad).problem(t, 400, "malformed-evidence")
	}
}

// evcli's relying-party mode: the nonce is the relying party's (padded
// base64url in the query), the evidence was made for another one. The
// result is contraindicated on the claim a nonce speaks for — this
// instance's identity — with no other claim affirmed, and the reason is
// where Veraison's tools show it.
func TestVeraisonNonceMismatch(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	nonce := bytes.Repeat([]byte{0xfb}, 64) // '+' and '/' in standard base64
	c := &apiclient{t: t, base: f.http.URL, nonce: nonce}
	uri, s := c.newSession()
	if !bytes.Equal(s.Nonce, nonce) {
		t.Fatalf("session nonce: want the relying party's, got %x", s.Nonce)
	}
	e := f.veraisonResult(c.challengeResponse(uri, api.MediaDCAPQuote, quote(t, f.tdx, []byte("another nonce"))))
	sub := e.Submods["tdx"]
	if sub == nil || sub.Status != ear.StatusContraindicated {
		t.Fatalf("want tdx contraindicated, got %+v", e.Submods)
	}
	// Hardware is 32 for the simulated root, as in every simulated result.
	if *sub.TrustVector != (ear.TrustVector{InstanceIdentity: ear.UntrustworthyInstance, Hardware: 32}) {
		t.Errorf("trust vector: want instance-identity %d, hardware 32 and no other claim, got %+v", ear.UntrustworthyInstance, *sub.TrustVector)
	}
	if p, _ := sub.PolicyClaims["problem"].(string); !strings.HasPrefix(p, "nonce: ") || !strings.Contains(p, "expected "+hex.EncodeToString(nonce)) {
		t.Errorf("policy-claims problem: want the nonce reason, got %v", sub.PolicyClaims)
	}
	if rs, _ := sub.PolicyClaims["reasons"].([]any); len(rs) != len(sub.Reasons) {
		t.Errorf("policy-claims reasons: want %d, got %v", len(sub.Reasons), sub.PolicyClaims)
	}
	c.deleteSession(uri)
}

// evcliAccept is what evcli's CCA evidence builders look for in the
// session's accept list, compared as a string (cmd/cca/verify_as.go).
const evcliAccept = `application/eat-collection; profile="http://arm.com/CCA-SSD/1.0.0"`

// evcliBuild is BuildEvidence of evcli's attester and relying-party modes:
// the CCA media type must be offered verbatim.
func evcliBuild(t testing.TB, accept []string, token []byte) ([]byte, string) {
	t.Helper()
	for _, ct := range accept {
		if ct == evcliAccept {
			return token, evcliAccept
		}
	}
	t.Fatalf("expecting media type %s, got %s", evcliAccept, strings.Join(accept, ", "))
	return nil, ""
}

func ccaFixture(t *testing.T) (*fixture, *ccatest.Platform) {
	t.Helper()
	p, err := ccatest.NewPlatform()
	if err != nil {
		t.Fatal(err)
	}
	return newFixture(t, fixtureOptions{mutate: func(c *service.Config) { tee.Edit[armcca.Options](&c.Verify.TEE).Key = p.Public() }}), p
}

// "evcli cca verify-as attester": nonceSize=64, the token made with the
// session's nonce as realm challenge, DELETE at the end. The EAR has
// Veraison's two CCA submodules, each with its claims annotated under
// Veraison's names (ccatoken's JSON: bytes in standard base64).
func TestVeraisonCCASubmodules(t *testing.T) {
	f, p := ccaFixture(t)
	c := &apiclient{t: t, base: f.http.URL, size: 64}
	uri, s := c.newSession()
	if len(s.Nonce) != 64 {
		t.Fatalf("nonceSize=64: got %d bytes", len(s.Nonce))
	}
	realm := ccatest.NewRealm(s.Nonce)
	token, err := p.Token(realm)
	if err != nil {
		t.Fatal(err)
	}
	ev, mt := evcliBuild(t, s.Accept, token)
	e := f.veraisonResult(c.challengeResponse(uri, mt, ev))
	c.deleteSession(uri)

	plat, rlm := e.Submods["CCA_SSD_PLATFORM"], e.Submods["CCA_REALM"]
	if len(e.Submods) != 2 || plat == nil || rlm == nil {
		t.Fatalf("submods: want CCA_SSD_PLATFORM and CCA_REALM, got %v", e.Submods)
	}
	b64 := base64.StdEncoding.EncodeToString
	for k, want := range map[string]any{
		"cca-platform-profile":           ccatest.PlatformProfile,
		"cca-platform-implementation-id": b64(p.ImplementationID),
		"cca-platform-instance-id":       b64(p.InstanceID),
		"cca-platform-config":            b64(p.Config),
		"cca-platform-lifecycle":         json.Number("12291"),
		"cca-platform-hash-algo-id":      "sha-256",
		"cca-platform-service-indicator": "https://veraison.example/.well-known/veraison/verification",
	} {
		if got := plat.AnnotatedEvidence[k]; got != want {
			t.Errorf("platform %s: want %v, got %v", k, want, got)
		}
	}
	comps, _ := plat.AnnotatedEvidence["cca-platform-sw-components"].([]any)
	if len(comps) != 2 {
		t.Fatalf("platform sw components: %v", plat.AnnotatedEvidence["cca-platform-sw-components"])
	}
	c0, _ := comps[0].(map[string]any)
	if c0["measurement-type"] != "BL" || c0["measurement-value"] != b64(p.SWComponents[0].Measurement) ||
		c0["version"] != "1.0.0" || c0["signer-id"] != b64(p.SWComponents[0].SignerID) {
		t.Errorf("platform sw component 0: %v", c0)
	}
	if _, ok := plat.AnnotatedEvidence["cca-platform-challenge"].(string); !ok {
		t.Errorf("platform challenge: %v", plat.AnnotatedEvidence["cca-platform-challenge"])
	}
	for k, want := range map[string]any{
		"cca-realm-challenge":               b64(realm.Challenge),
		"cca-realm-personalization-value":   b64(realm.PersonalizationValue),
		"cca-realm-initial-measurement":     b64(realm.InitialMeasurement),
		"cca-realm-hash-algo-id":            "sha-256",
		"cca-realm-public-key-hash-algo-id": "sha-256",
	} {
		if got := rlm.AnnotatedEvidence[k]; got != want {
			t.Errorf("realm %s: want %v, got %v", k, want, got)
		}
	}
	rems, _ := rlm.AnnotatedEvidence["cca-realm-extensible-measurements"].([]any)
	if len(rems) != 4 || rems[3] != b64(realm.REMs[3]) {
		t.Errorf("realm REMs: %v", rlm.AnnotatedEvidence["cca-realm-extensible-measurements"])
	}
	if _, ok := rlm.AnnotatedEvidence["cca-realm-public-key"].(string); !ok {
		t.Errorf("realm public key: %v", rlm.AnnotatedEvidence["cca-realm-public-key"])
	}

	// Genuine, fresh and secured, but the built-in policy has no
	// reference values: both warn, and neither claims the executables.
	for name, sub := range map[string]*ear.Appraisal{"CCA_SSD_PLATFORM": plat, "CCA_REALM": rlm} {
		if sub.Status != ear.StatusWarning || sub.TrustVector.Executables != 0 || sub.TrustVector.Hardware != 2 || sub.TrustVector.InstanceIdentity != 2 {
			t.Errorf("%s: want warning, executables absent, hardware and instance-identity 2; got %s %+v %+v", name, sub.Status, sub.TrustVector, sub.Reasons)
		}
	}
}

// A failure of the platform is a failure of the realm it hosts; a failure
// of the realm is the realm's alone.
func TestCCASubmoduleReasons(t *testing.T) {
	f, p := ccaFixture(t)
	check := func(name string, token []byte, nonce []byte, platform, realm ear.Status, wantCheck string) {
		t.Helper()
		r := f.do("POST", api.PathAttest+"?nonce="+base64.RawURLEncoding.EncodeToString(nonce), "", api.MediaCCAToken, token)
		var res struct {
			EAR string `json:"ear"`
		}
		r.json(t, &res)
		e := f.verifyEAR(res.EAR)
		pl, rl := e.Submods["CCA_SSD_PLATFORM"], e.Submods["CCA_REALM"]
		if pl == nil || rl == nil || pl.Status != platform || rl.Status != realm {
			t.Fatalf("%s: want platform %s and realm %s, got %+v", name, platform, realm, e.Submods)
		}
		found := false
		for _, rs := range rl.Reasons {
			found = found || rs.Check == wantCheck
		}
		if !found {
			t.Errorf("%s: realm reasons lack %s: %+v", name, wantCheck, rl.Reasons)
		}
	}
	nonce := bytes.Repeat([]byte{7}, 32)
	good, _ := p.Token(ccatest.NewRealm(nonce))
	check("wrong nonce", good, bytes.Repeat([]byte{8}, 32), ear.StatusWarning, ear.StatusContraindicated, "nonce")
	p.Lifecycle = 0x5000 // recoverable debug
	debug, _ := p.Token(ccatest.NewRealm(nonce))
	check("debug platform", debug, nonce, ear.StatusContraindicated, ear.StatusContraindicated, "cca.lifecycle")
}

// The session life cycle as apiclient sees it: a relative Location
// ("session/<id>", which apiclient resolves against the newSession URI),
// the evidence and the result, padded eat_nonce, GET of the finished
// session (apiclient's poll: no Accept) with its evidence, DELETE.
func TestVeraisonSessionLifeCycle(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := &apiclient{t: t, base: f.http.URL, size: 32}
	x := c.send(c.newSessionRequest())
	if x.code != http.StatusCreated || x.hdr.Get("Content-Type") != veraisonSessionMedia {
		t.Fatalf("newSession: %d %s: %s", x.code, x.hdr.Get("Content-Type"), x.body)
	}
	loc := x.hdr.Get("Location")
	id, ok := strings.CutPrefix(loc, "session/")
	if !ok || len(id) != 36 {
		t.Fatalf("Location: want Veraison's relative session/<uuid>, got %q", loc)
	}
	uri, s := c.newSession()
	if uri != f.http.URL+api.PathSession+strings.TrimPrefix(uri, f.http.URL+api.PathSession) || !strings.HasPrefix(uri, f.http.URL+api.PathSession) {
		t.Fatalf("resolved session URI: %q", uri)
	}
	q := quote(t, f.tdx, s.Nonce)
	e := f.veraisonResult(c.challengeResponse(uri, api.MediaDCAPQuote, q))
	if e.Nonce != base64.URLEncoding.EncodeToString(s.Nonce) {
		t.Errorf("eat_nonce: want padded base64url %q, as Veraison encodes it, got %q", base64.URLEncoding.EncodeToString(s.Nonce), e.Nonce)
	}
	poll := c.send(c.newRequest("GET", uri, http.NoBody))
	var got veraisonSession
	if err := json.Unmarshal(poll.body, &got); err != nil || poll.code != http.StatusOK {
		t.Fatalf("GET: %d %s", poll.code, poll.body)
	}
	if got.Status != "complete" || got.Evidence.Type != api.MediaDCAPQuote || !bytes.Equal(got.Evidence.Value, q) || len(got.Result) == 0 {
		t.Errorf("GET of the finished session: want it complete with its evidence and result, got %s", poll.body)
	}
	if x := c.deleteSession(uri); x.code != http.StatusNoContent {
		t.Errorf("DELETE: want 204, got %d", x.code)
	}
}

// Status codes as Veraison's verification service answers them
// (verification/api/handler.go): content negotiation first (406), then the
// body (empty: 400), the media type (415, with Accept listing what is
// taken), the session ID (not a UUID: 400), the session (unknown or
// expired: 404). DELETE of an unknown session is 204; a method the path
// does not take is 404 (gin's default).
func TestVeraisonStatusCodes(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := &apiclient{t: t, base: f.http.URL, size: 32}
	_, s := c.newSession()
	expired, _ := c.newSession()
	f.advance(service.DefaultSessionTTL + time.Second)
	fresh, _ := c.newSession()
	q := quote(t, f.tdx, s.Nonce)
	const unknown = "/challenge-response/v1/session/6f1e7e3a-0f6a-4c59-9a54-5b9a7f6a1d2c"
	rel := func(u string) string { return strings.TrimPrefix(u, f.http.URL) }
	cases := []struct {
		name, method, path, accept, ctype string
		body                              []byte
		code                              int
		typ                               string // problem type; "" for no problem
	}{
		{"newSession, JSON wanted", "POST", api.PathNewSession, "application/json", "", nil, 406, "not-acceptable"},
		{"newSession, anything", "POST", api.PathNewSession, "*/*", "", nil, 201, ""},
		{"newSession, application/*", "POST", api.PathNewSession, "application/*", "", nil, 201, ""},
		{"newSession, refused by q=0", "POST", api.PathNewSession, veraisonSessionMedia + ";q=0", "", nil, 406, "not-acceptable"},
		{"GET, text wanted", "GET", rel(fresh), "text/plain", "", nil, 406, "not-acceptable"},
		{"POST, text wanted", "POST", rel(fresh), "text/plain", api.MediaDCAPQuote, q, 406, "not-acceptable"},
		{"empty body", "POST", rel(fresh), veraisonSessionMedia, api.MediaDCAPQuote, nil, 400, "bad-request"},
		{"unsupported media type", "POST", rel(fresh), veraisonSessionMedia, "application/psa-attestation-token", q, 415, "unsupported-media-type"},
		{"GET, not a UUID", "GET", api.PathSession + "not-a-uuid", "", "", nil, 400, "bad-request"},
		{"POST, not a UUID", "POST", api.PathSession + "not-a-uuid", veraisonSessionMedia, api.MediaDCAPQuote, q, 400, "bad-request"},
		{"DELETE, not a UUID", "DELETE", api.PathSession + "not-a-uuid", "", "", nil, 400, "bad-request"},
		{"GET, unknown", "GET", unknown, "", "", nil, 404, "not-found"},
		{"POST, unknown", "POST", unknown, veraisonSessionMedia, api.MediaDCAPQuote, q, 404, "not-found"},
		{"DELETE, unknown", "DELETE", unknown, "", "", nil, 204, ""},
		{"GET, expired", "GET", rel(expired), "", "", nil, 404, "stale-nonce"},
		{"POST, expired", "POST", rel(expired), veraisonSessionMedia, api.MediaDCAPQuote, q, 404, "stale-nonce"},
		{"DELETE, expired", "DELETE", rel(expired), "", "", nil, 204, ""},
		{"PUT on a session", "PUT", rel(fresh), "", "", nil, 404, "not-found"},
		{"GET on newSession", "GET", api.PathNewSession, "", "", nil, 404, "not-found"},
		{"POST on discovery", "POST", api.PathDiscovery, "", "", nil, 404, "not-found"},
		{"discovery, text wanted", "GET", api.PathDiscovery, "text/plain", "", nil, 406, "not-acceptable"},
		{"discovery, JSON wanted", "GET", api.PathDiscovery, "application/json", "", nil, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, f.http.URL+tc.path, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			x := c.send(req)
			if tc.typ == "" {
				if x.code != tc.code {
					t.Fatalf("want %d, got %d: %s", tc.code, x.code, x.body)
				}
				return
			}
			r := &response{code: x.code, hdr: x.hdr, body: x.body}
			r.problem(t, tc.code, tc.typ)
			if tc.code == 415 {
				if got := x.hdr.Get("Accept"); got != strings.Join(api.EvidenceMedia, ", ") {
					t.Errorf("415 Accept: want the accepted media types, got %q", got)
				}
			}
		})
	}
	// Nothing above used the fresh session up.
	var got api.Session
	f.do("GET", rel(fresh), "", "", nil).json(t, &got)
	if got.Status != "waiting" {
		t.Errorf("fresh session after protocol errors: want waiting, got %s", got.Status)
	}
}

// A second POST of the same evidence answers as the first did (Veraison
// answers 200 again): the stored result, not a second appraisal, as the
// nonce is redeemed once. Other evidence is refused.
func TestVeraisonSecondPOST(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := &apiclient{t: t, base: f.http.URL, size: 32}
	uri, s := c.newSession()
	q := quote(t, f.tdx, s.Nonce)
	first := c.challengeResponse(uri, api.MediaDCAPQuote, q)
	again := c.challengeResponse(uri, api.MediaDCAPQuote, q)
	if !bytes.Equal(first, again) {
		t.Errorf("second POST: want the same result, got another")
	}
	var apps struct{ Appraisals []api.Appraisal }
	f.do("GET", api.PathAppraisals, f.admin, "", nil).json(t, &apps)
	if len(apps.Appraisals) != 1 {
		t.Errorf("appraisal log: want one appraisal, got %d", len(apps.Appraisals))
	}
	x := c.postEvidence(uri, api.MediaDCAPQuote, quote(t, f.sgx, s.Nonce))
	(&response{code: x.code, hdr: x.hdr, body: x.body}).problem(t, http.StatusConflict, "nonce-redeemed")
	x = c.postEvidence(uri, api.MediaCertificateDER, q)
	(&response{code: x.code, hdr: x.hdr, body: x.body}).problem(t, http.StatusConflict, "nonce-redeemed")
}

// Discovery as Veraison serves it: cacheable for a minute (Cache-Control
// max-age and Expires), and media types that mean in the document what
// they mean in Veraison's: application/pem-certificate-chain is Veraison's
// RIoT evidence (a DICE certificate chain), not an RA-TLS certificate.
func TestVeraisonDiscovery(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	req, _ := http.NewRequest("GET", f.http.URL+api.PathDiscovery, nil)
	req.Header.Set("Accept", "application/vnd.veraison.discovery+json")
	x := (&apiclient{t: t}).send(req)
	if x.code != 200 || x.hdr.Get("Content-Type") != "application/vnd.veraison.discovery+json" {
		t.Fatalf("discovery: %d %s", x.code, x.hdr.Get("Content-Type"))
	}
	if got := x.hdr.Get("Cache-Control"); got != "max-age=60" {
		t.Errorf("Cache-Control: want max-age=60, as Veraison's default, got %q", got)
	}
	exp, err := http.ParseTime(x.hdr.Get("Expires"))
	if err != nil || !exp.Equal(f.clock().Add(time.Minute).Truncate(time.Second)) {
		t.Errorf("Expires: want %s, got %q (%v)", f.clock().Add(time.Minute).UTC().Format(http.TimeFormat), x.hdr.Get("Expires"), err)
	}
	var d struct {
		MediaTypes []string `json:"media-types"`
	}
	if err := json.Unmarshal(x.body, &d); err != nil {
		t.Fatal(err)
	}
	mts := strings.Join(d.MediaTypes, "\n")
	if strings.Contains(mts, "application/pem-certificate-chain") || !strings.Contains(mts, "application/vnd.ratls.pem-certificate") {
		t.Errorf("media-types: want no application/pem-certificate-chain and the ratls PEM certificate type, got %v", d.MediaTypes)
	}
	// A session refuses Veraison's RIoT type, with the types it takes.
	c := &apiclient{t: t, base: f.http.URL, size: 32}
	uri, _ := c.newSession()
	x = c.postEvidence(uri, "application/pem-certificate-chain", []byte("-----BEGIN CERTIFICATE-----\n"))
	(&response{code: x.code, hdr: x.hdr, body: x.body}).problem(t, http.StatusUnsupportedMediaType, "unsupported-media-type")
	// Another max age.
	g := newFixture(t, fixtureOptions{mutate: func(c *service.Config) { c.DiscoveryMaxAge = time.Hour }})
	if r := g.do("GET", api.PathDiscovery, "", "", nil); r.hdr.Get("Cache-Control") != "max-age=3600" {
		t.Errorf("DiscoveryMaxAge 1h: Cache-Control %q", r.hdr.Get("Cache-Control"))
	}
}

// Who can use which --verify-auth mode. apiclient sends its authenticator's
// Authorization when it posts evidence and when it deletes the session,
// never on newSession or on its polling GET (newSessionRequest and
// pollForAttestationResult use the bare http.Client): "evidence" asks for
// a token exactly there, so apiclient with an authenticator works and
// without one does not; "all" locks apiclient out whatever it is given.
func TestVeraisonVerifyAuthModes(t *testing.T) {
	p := newOIDCProvider(t)
	for _, tc := range []struct {
		mode              service.VerifyAuth
		withAuth, without bool // apiclient's Run succeeds with / without an authenticator
	}{
		{service.VerifyAuthNone, true, true},
		{service.VerifyAuthEvidence, true, false},
		{service.VerifyAuthAll, false, false},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			f := newFixture(t, fixtureOptions{mutate: func(c *service.Config) {
				c.VerifyAuth = tc.mode
				c.OIDC = &service.OIDCConfig{Issuer: p.issuer()}
			}})
			token := p.token("RS256", map[string]any{"iss": p.issuer(), "exp": f.clock().Add(time.Hour).Unix()})
			run := func(auth string) bool {
				c := &apiclient{t: t, base: f.http.URL, size: 32, auth: auth}
				x := c.send(c.newSessionRequest())
				if x.code != http.StatusCreated {
					return false
				}
				id, _ := api.SessionIDFromLocation(x.hdr.Get("Location"))
				uri := f.http.URL + api.PathSession + id
				var s veraisonSession
				json.Unmarshal(x.body, &s)
				if x := c.postEvidence(uri, api.MediaDCAPQuote, quote(t, f.tdx, s.Nonce)); x.code != http.StatusOK {
					return false
				}
				if x := c.send(c.newRequest("DELETE", uri, http.NoBody)); x.code != http.StatusNoContent {
					return false
				}
				return true
			}
			if got := run("Bearer " + token); got != tc.withAuth {
				t.Errorf("apiclient with an OAuth2 authenticator: want success %v, got %v", tc.withAuth, got)
			}
			if got := run(""); got != tc.without {
				t.Errorf("apiclient without an authenticator: want success %v, got %v", tc.without, got)
			}
			// The native API needs a token whenever evidence does.
			want := 200
			if tc.mode != service.VerifyAuthNone {
				want = 401
			}
			if r := f.do("POST", api.PathAttest, "", api.MediaDCAPQuote, quote(t, f.tdx, nil)); r.code != want {
				t.Errorf("/v1/attest without a token: want %d, got %d", want, r.code)
			}
		})
	}
}

// Platform keys of several Arm CCA platforms, provisioned through the
// management API in Veraison's JWK form (or PEM), each found by the
// instance ID the token names; a platform with no key is not trusted.
func TestCCAPlatformKeysProvisioned(t *testing.T) {
	f := newFixture(t, fixtureOptions{}) // no --cca-cpak
	var platforms []*ccatest.Platform
	var keys []string
	for i := range 3 {
		p, err := ccatest.NewPlatform()
		if err != nil {
			t.Fatal(err)
		}
		p.InstanceID[1] = byte(i) // distinct instance IDs
		platforms = append(platforms, p)
		pub := &p.CPAK.PublicKey
		b64 := base64.RawURLEncoding.EncodeToString
		pt, err := pub.Bytes() // 0x04 || x || y
		if err != nil {
			t.Fatal(err)
		}
		jwk := fmt.Sprintf(`{"kty":"EC","crv":"P-384","x":%q,"y":%q}`, b64(pt[1:49]), b64(pt[49:]))
		switch i {
		case 0:
			keys = append(keys, fmt.Sprintf(`{"instance_id":"%x","jwk":%s}`, p.InstanceID, jwk))
		case 1:
			der, _ := x509.MarshalPKIXPublicKey(pub)
			pemKey, _ := json.Marshal(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
			keys = append(keys, fmt.Sprintf(`{"instance_id":"%x","pem":%s}`, p.InstanceID, pemKey))
		}
	}
	body := `{"cca":{"platform_keys":[` + strings.Join(keys, ",") + `]}}`
	if r := f.do("POST", api.PathReferences+"/default", f.admin, "application/json", []byte(body)); r.code != 201 {
		t.Fatalf("provisioning the keys: %d %s", r.code, r.body)
	}
	c := &apiclient{t: t, base: f.http.URL, size: 64}
	for i, p := range platforms {
		uri, s := c.newSession()
		token, err := p.Token(ccatest.NewRealm(s.Nonce))
		if err != nil {
			t.Fatal(err)
		}
		e := f.veraisonResult(c.challengeResponse(uri, evcliAccept, token))
		plat := e.Submods[api.SubmodCCAPlatform]
		if plat == nil {
			t.Fatalf("platform %d: submods %v", i, e.Submods)
		}
		keyFailed := false
		for _, r := range plat.Reasons {
			keyFailed = keyFailed || r.Check == "platform.key"
		}
		if trusted := i < 2; trusted == keyFailed || trusted && plat.TrustVector.Hardware != 2 {
			t.Errorf("platform %d (provisioned %v): status %s, hardware %d, reasons %+v", i, i < 2, plat.Status, plat.TrustVector.Hardware, plat.Reasons)
		}
	}
}

// The platform submodule claims its configuration and executables only
// when the policy pins them (cca.platform_config, platform_sw_components),
// as Veraison's reference values do; a mismatch contraindicates the
// platform and the realm on it.
func TestCCAPlatformReferenceValues(t *testing.T) {
	f, p := ccaFixture(t)
	rim := hex.EncodeToString(ccatest.NewRealm(nil).InitialMeasurement)
	put := func(body string) {
		t.Helper()
		if r := f.do("POST", api.PathReferences+"/default", f.admin, "application/json", []byte(body)); r.code != 201 {
			t.Fatalf("reference values: %d %s", r.code, r.body)
		}
		f.advance(2 * service.DefaultPolicyTTL)
	}
	attest := func() (*ear.Appraisal, *ear.Appraisal) {
		t.Helper()
		token, err := p.Token(ccatest.NewRealm(nil))
		if err != nil {
			t.Fatal(err)
		}
		r := f.do("POST", api.PathAttest, "", api.MediaCCAToken, token)
		var res struct {
			EAR string `json:"ear"`
		}
		r.json(t, &res)
		e := f.verifyEAR(res.EAR)
		return e.Submods[api.SubmodCCAPlatform], e.Submods[api.SubmodCCARealm]
	}
	put(`{"cca":{"realm_initial_measurement":["` + rim + `"]}}`)
	plat, realm := attest()
	if plat.Status != ear.StatusAffirming || plat.TrustVector.Configuration != 0 || plat.TrustVector.Executables != 0 || realm.Status != ear.StatusAffirming || realm.TrustVector.Executables != 2 {
		t.Errorf("realm pinned only: want both affirming, the platform claiming neither configuration nor executables; got %s %+v, %s %+v", plat.Status, plat.TrustVector, realm.Status, realm.TrustVector)
	}
	comps := make([]string, len(p.SWComponents))
	for i, c := range p.SWComponents {
		comps[i] = fmt.Sprintf(`{"measurement":"%x","type":%q,"version":%q}`, c.Measurement, c.Type, c.Version)
	}
	put(`{"cca":{"realm_initial_measurement":["` + rim + `"],"platform_config":["` + hex.EncodeToString(p.Config) + `"],"platform_sw_components":[` + strings.Join(comps, ",") + `]}}`)
	if plat, _ = attest(); plat.Status != ear.StatusAffirming || plat.TrustVector.Configuration != 2 || plat.TrustVector.Executables != 2 {
		t.Errorf("platform pinned: want configuration and executables 2, got %s %+v", plat.Status, plat.TrustVector)
	}
	put(`{"cca":{"realm_initial_measurement":["` + rim + `"],"platform_config":["cf02"]}}`)
	if plat, realm = attest(); plat.Status != ear.StatusContraindicated || plat.TrustVector.Configuration != 96 || realm.Status != ear.StatusContraindicated {
		t.Errorf("another platform configuration: want both contraindicated, platform configuration 96; got %s %+v, %s", plat.Status, plat.TrustVector, realm.Status)
	}
}

// Nonces in every form Veraison's clients, released and to come, write:
// the query of newSession (apiclient: padded base64url; its versions
// before ab8774e: standard base64, with '+' escaped, or not by hand; the
// unpadded base64url of Veraison's main branch) and JSON (the /v1/attest
// envelope). The session answers with padded standard base64, which
// released apiclient decodes.
func TestVeraisonNonceForms(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	nonce := []byte{0xfb, 0xff, 0xbf, 0x00, 0x01, 0x02, 0x03, 0xfe, 0xef, 0x10} // '+' and '/' in standard base64
	for name, q := range map[string]string{
		"padded base64url":        url.QueryEscape(base64.URLEncoding.EncodeToString(nonce)),
		"unpadded base64url":      base64.RawURLEncoding.EncodeToString(nonce),
		"standard, escaped":       url.QueryEscape(base64.StdEncoding.EncodeToString(nonce)),
		"standard, '+' unescaped": base64.StdEncoding.EncodeToString(nonce),
	} {
		r := f.do("POST", api.PathNewSession+"?nonce="+q, "", "", nil)
		var s veraisonSession
		if err := json.Unmarshal(r.body, &s); err != nil || r.code != 201 || !bytes.Equal(s.Nonce, nonce) {
			t.Errorf("%s (%s): %d %s", name, q, r.code, r.body)
		}
		if !bytes.Contains(r.body, []byte(`"nonce":"`+base64.StdEncoding.EncodeToString(nonce)+`"`)) {
			t.Errorf("%s: the session's nonce is not padded standard base64: %s", name, r.body)
		}
	}
	f.do("POST", api.PathNewSession+"?nonce="+base64.URLEncoding.EncodeToString(nonce)[:13]+"=", "", "", nil).problem(t, 400, "bad-request")
	q := quote(t, f.tdx, nonce)
	body := fmt.Appendf(nil, `{"media_type":%q,"evidence":%q,"nonce":%q}`, api.MediaDCAPQuote, base64.StdEncoding.EncodeToString(q), base64.RawURLEncoding.EncodeToString(nonce))
	r := f.do("POST", api.PathAttest, "", "application/json", body)
	var res api.AttestResult
	r.json(t, &res)
	if r.code != 200 || f.verifyEAR(res.EAR).Nonce != base64.URLEncoding.EncodeToString(nonce) {
		t.Errorf("/v1/attest with an unpadded base64url nonce: %d %s", r.code, r.body)
	}
}

// recorded is a request as it reached the service.
type recorded struct {
	method, uri                 string
	accept, ctype, auth, length string
	body                        []byte
}

// recorder serves h and keeps every request.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	h    http.Handler
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, recorded{r.Method, r.RequestURI, r.Header.Get("Accept"), r.Header.Get("Content-Type"),
		r.Header.Get("Authorization"), r.Header.Get("Content-Length"), b})
	rc.mu.Unlock()
	rc.h.ServeHTTP(w, r)
}

// The exchanges of Veraison's clients, step by step, as the service sees
// them on the wire: each request exactly as apiclient (and evcli through
// it) builds it, and the answer as the client takes it.
func TestVeraisonExchanges(t *testing.T) {
	f, cp := ccaFixture(t)
	rc := &recorder{h: f.srv.Handler()}
	hs := httptest.NewServer(rc)
	defer hs.Close()
	relyingParty := bytes.Repeat([]byte{0xab}, 64)
	type flow struct {
		name        string
		client      apiclient
		evidence    func(nonce []byte) ([]byte, string) // the EvidenceBuilder
		wrap        string                              // "", "cbor" or "json"
		newSession  string                              // the request URI of newSession
		auth        string                              // Authorization on POST and DELETE
		wantSubmods []string
	}
	dcap := func(nonce []byte) ([]byte, string) { return quote(t, f.tdx, nonce), api.MediaDCAPQuote }
	ccaToken := func(nonce []byte) ([]byte, string) {
		tok, err := cp.Token(ccatest.NewRealm(nonce))
		if err != nil {
			t.Fatal(err)
		}
		return tok, evcliAccept
	}
	flows := []flow{
		{"apiclient Run, nonceSize", apiclient{size: 32}, dcap, "", api.PathNewSession + "?nonceSize=32", "", []string{"tdx"}},
		{"apiclient Run, nonce", apiclient{nonce: []byte("0123456789abcdef")}, dcap, "",
			api.PathNewSession + "?nonce=MDEyMzQ1Njc4OWFiY2RlZg%3D%3D", "", []string{"tdx"}},
		{"apiclient Run, WrapCBOR", apiclient{size: 16}, dcap, "cbor", api.PathNewSession + "?nonceSize=16", "", []string{"tdx"}},
		{"apiclient Run, WrapJSON", apiclient{size: 16}, dcap, "json", api.PathNewSession + "?nonceSize=16", "", []string{"tdx"}},
		{"apiclient Run, OAuth2 authenticator", apiclient{size: 8, auth: "Bearer eyJ.e30.sig"}, dcap, "", api.PathNewSession + "?nonceSize=8", "Bearer eyJ.e30.sig", []string{"tdx"}},
		{"evcli cca verify-as attester", apiclient{size: 64}, ccaToken, "", api.PathNewSession + "?nonceSize=64", "", []string{api.SubmodCCARealm, api.SubmodCCAPlatform}},
		{"evcli cca verify-as relying-party", apiclient{nonce: relyingParty}, ccaToken, "",
			api.PathNewSession + "?nonce=" + url.QueryEscape(base64.URLEncoding.EncodeToString(relyingParty)), "", []string{api.SubmodCCARealm, api.SubmodCCAPlatform}},
	}
	for _, fl := range flows {
		t.Run(fl.name, func(t *testing.T) {
			c := fl.client
			c.t, c.base = t, hs.URL
			rc.mu.Lock()
			rc.reqs = nil
			rc.mu.Unlock()

			uri, s := c.newSession()
			ev, mt := fl.evidence(s.Nonce)
			if fl.wrap != "" {
				ev, mt = cmwWrap(fl.wrap, mt, ev)
			}
			e := f.veraisonResult(c.challengeResponse(uri, mt, ev))
			c.deleteSession(uri)
			// pollForAttestationResult's GET (http.Client.Get: no header),
			// here after the DELETE: the session is gone.
			get, _ := http.NewRequest("GET", uri, http.NoBody)
			poll := c.send(get)
			if poll.code != http.StatusNotFound {
				t.Errorf("GET after DELETE: want 404, got %d", poll.code)
			}

			path := strings.TrimPrefix(uri, hs.URL)
			want := []recorded{
				{method: "POST", uri: fl.newSession, accept: veraisonSessionMedia, length: "0"},
				{method: "POST", uri: path, accept: veraisonSessionMedia, ctype: mt, auth: fl.auth, length: fmt.Sprint(len(ev)), body: ev},
				{method: "DELETE", uri: path, auth: fl.auth},
				{method: "GET", uri: path},
			}
			if len(rc.reqs) != len(want) {
				t.Fatalf("requests: want %d, got %d: %+v", len(want), len(rc.reqs), rc.reqs)
			}
			for i, w := range want {
				g := rc.reqs[i]
				if g.method != w.method || g.uri != w.uri || g.accept != w.accept || g.ctype != w.ctype || g.auth != w.auth ||
					(w.length != "" && g.length != w.length) || !bytes.Equal(g.body, w.body) {
					t.Errorf("request %d:\n got %s %s Accept %q Content-Type %q Authorization %q Content-Length %q body %d bytes\nwant %s %s Accept %q Content-Type %q Authorization %q Content-Length %q body %d bytes",
						i, g.method, g.uri, g.accept, g.ctype, g.auth, g.length, len(g.body), w.method, w.uri, w.accept, w.ctype, w.auth, w.length, len(w.body))
				}
			}
			var names []string
			for n := range e.Submods {
				names = append(names, n)
			}
			slices.Sort(names)
			if !slices.Equal(names, fl.wantSubmods) {
				t.Errorf("submods: want %v, got %v", fl.wantSubmods, names)
			}
			if e.Nonce != base64.URLEncoding.EncodeToString(s.Nonce) {
				t.Errorf("eat_nonce: %q", e.Nonce)
			}
		})
	}
}

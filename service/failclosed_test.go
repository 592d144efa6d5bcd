package service_test

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/cmw"
	"github.com/ratls/ratls/service/api"
)

// An attacker takes a genuine quote whose report data binds some old claims
// buffer, and wraps it with a claims buffer that names the session's nonce.
// The service must not sign an EAR that vouches for that nonce: the claims
// are not the TEE's.
func TestSessionRefusesUnboundClaims(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	oldClaims, err := evidence.NewClaims([]byte("an old certificate's key"), evidence.SHA256, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(oldClaims)
	genuine := quote(t, f.sgx, h[:])

	for _, mt := range []string{api.MediaTaggedEvidence, api.MediaCMWJSON} {
		t.Run(mt, func(t *testing.T) {
			loc, s := f.newSession("")
			forgedClaims, err := evidence.NewClaims([]byte("an old certificate's key"), evidence.SHA256, s.Nonce)
			if err != nil {
				t.Fatal(err)
			}
			body, err := evidence.EncodeTagged(evidence.TagIntelQuote, genuine, forgedClaims)
			if err != nil {
				t.Fatal(err)
			}
			if mt == api.MediaCMWJSON {
				rec := &cmw.CMW{Kind: cmw.KindRecord, MediaType: api.MediaTaggedEvidence, Value: body, Indicator: cmw.Evidence}
				if body, err = rec.MarshalJSON(); err != nil {
					t.Fatal(err)
				}
			}
			r := f.do("POST", loc, "", mt, body)
			token := earOf(t, r)
			sub := f.verifyEAR(token).Submods["sgx"]
			if sub == nil || sub.Status != ear.StatusContraindicated {
				t.Fatalf("want a contraindicated sgx result, got %+v", sub)
			}
			var binding, nonce bool
			for _, rs := range sub.Reasons {
				binding = binding || rs.Check == "claims.binding"
				nonce = nonce || (rs.Check == "nonce" && rs.Actual == "absent")
			}
			if !binding || !nonce {
				t.Errorf("want claims.binding and an absent nonce among the reasons, got %+v", sub.Reasons)
			}
			if sub.TrustVector.InstanceIdentity == ear.TrustworthyInstance || sub.TrustVector.Hardware == ear.GenuineHardware {
				t.Errorf("trust vector affirms a trustworthy instance or genuine hardware: %+v", sub.TrustVector)
			}
		})
	}
}

// earOf returns the signed EAR of a session answer (200, the session's
// result) or of a rejection (a problem document carrying the EAR).
func earOf(t *testing.T, r *response) string {
	t.Helper()
	if r.code == http.StatusOK {
		var s api.Session
		r.json(t, &s)
		if s.Result == nil {
			t.Fatalf("session without a result: %s", r.body)
		}
		return *s.Result
	}
	var p api.Problem
	if err := json.Unmarshal(r.body, &p); err != nil || p.EAR == "" {
		t.Fatalf("want a result or a rejection carrying an EAR, got %d %s", r.code, r.body)
	}
	return p.EAR
}

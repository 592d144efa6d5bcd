package sevsnp_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/tee/sevsnp"
)

// WithPeer adds the peer's certificates behind the configured source and
// changes neither the caller's list nor its options.
func TestWithPeerLeavesTheCallersOptions(t *testing.T) {
	own := kds.Static{C: &kds.Certificates{Source: "own"}}
	mine := &sevsnp.Options{Certificates: own, Product: "Milan"}
	other := &dcap.Options{}
	opts := []tee.Options{other, mine}
	out := sevsnp.WithPeer(opts, &kds.Certificates{Source: "peer"})
	if opts[0] != tee.Options(other) || opts[1] != tee.Options(mine) || mine.Certificates != kds.Provider(own) {
		t.Fatal("WithPeer changed the caller's options")
	}
	got := tee.Find[*sevsnp.Options](out)
	if got == nil || got == mine || got.Product != "Milan" || tee.Find[*dcap.Options](out) != other {
		t.Fatalf("WithPeer: %+v", out)
	}
	c, err := got.Certificates.Certificates(context.Background(), kds.Request{Product: "Milan"})
	if err != nil || c.Source != "own" {
		t.Fatalf("the configured source must answer first: %+v, %v", c, err)
	}
	// Without options of its own, the peer's certificates are all there is.
	if p := tee.Find[*sevsnp.Options](sevsnp.WithPeer(nil, &kds.Certificates{Source: "peer"})); p == nil || p.Certificates == nil {
		t.Fatal("WithPeer without sev_snp options gave no source")
	}
}

// Certificates that cannot be read in a certificate's endorsements
// extension make the evidence unreadable, not merely unverified.
func TestBadEndorsementsAreAnError(t *testing.T) {
	f := tee.Named(sevsnp.Name)
	in := &tee.Input{Policy: &appraise.Policy{}, Peer: &evidence.Endorsements{SNP: &evidence.SNPEndorsements{Leaf: []byte("not a certificate")}}}
	r := f.Verify(context.Background(), &evidence.Item{SNP: &snp.Report{}}, in)
	var ee *tee.EndorsementsError
	if !errors.As(r.Err, &ee) || r.Appraisal == nil || r.Appraisal.Status != appraise.Contraindicated {
		t.Fatalf("want an EndorsementsError and a refusal, got %v %+v", r.Err, r.Appraisal)
	}
}

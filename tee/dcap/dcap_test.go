package dcap_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
)

// Intel collateral that cannot be read in a certificate's endorsements
// extension makes the evidence unreadable: nothing is verified with it.
func TestBadEndorsementsAreAnError(t *testing.T) {
	f := tee.Named(dcap.Name)
	in := &tee.Input{Policy: &appraise.Policy{}, Peer: &evidence.Endorsements{TCBInfo: []byte("{not json")}}
	r := f.Verify(context.Background(), &evidence.Item{Quote: &quote.Quote{}}, in)
	var ee *tee.EndorsementsError
	if !errors.As(r.Err, &ee) || r.Appraisal == nil || r.Appraisal.Status != appraise.Contraindicated || r.Verified != nil {
		t.Fatalf("want an EndorsementsError and a refusal, got %v %+v", r.Err, r.Appraisal)
	}
}

// Of gives zero options, with the shared default verifier, when none were
// given, and the caller's when they were.
func TestOf(t *testing.T) {
	if o := dcap.Of(&tee.Input{}); o == nil || o.VerifierOf() == nil || o.Collateral != nil {
		t.Fatalf("no options: %+v", o)
	}
	mine := &dcap.Options{Update: "early"}
	if o := dcap.Of(&tee.Input{Options: []tee.Options{mine}}); o != mine {
		t.Fatalf("given options: %+v", o)
	}
}

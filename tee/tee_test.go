package tee_test

import (
	"context"
	"testing"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/ear"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/tee/sevsnp"
)

type named string

func (n named) Name() string                                                 { return string(n) }
func (named) Verifies(*evidence.Item) bool                                   { return false }
func (named) Verify(context.Context, *evidence.Item, *tee.Input) *tee.Result { return nil }
func (named) Submodules(*evidence.Item, *tee.Result, *appraise.Policy) map[string]*ear.Appraisal {
	return nil
}

func TestRegisterTwicePanics(t *testing.T) {
	tee.Register(named("test-family"))
	defer func() {
		if recover() == nil {
			t.Error("a second family named test-family was registered")
		}
	}()
	tee.Register(named("test-family"))
}

func TestBuiltinFamilies(t *testing.T) {
	for _, name := range []string{dcap.Name, sevsnp.Name} {
		if tee.Named(name) == nil {
			t.Errorf("family %q not registered", name)
		}
	}
	if f := tee.For(&evidence.Item{Kind: evidence.KindUnsupported}); f != nil {
		t.Errorf("unsupported evidence claimed by %q", f.Name())
	}
}

func TestEditLeavesSharedOptionsAlone(t *testing.T) {
	shared := &dcap.Options{Update: "standard"}
	a := []tee.Options{shared}
	b := a
	tee.Edit[dcap.Options](&b).Update = "early"
	if shared.Update != "standard" || a[0] != tee.Options(shared) {
		t.Fatalf("Edit changed options shared with another slice: %+v", shared)
	}
	if got := tee.Find[*dcap.Options](b); got == nil || got.Update != "early" {
		t.Fatalf("Find after Edit: %+v", got)
	}
	if tee.Find[*sevsnp.Options](b) != nil {
		t.Fatal("Find returned options that were never given")
	}
	tee.Edit[sevsnp.Options](&b).Product = "Milan"
	if got := tee.Find[*sevsnp.Options](b); got == nil || got.Product != "Milan" || len(a) != 1 {
		t.Fatalf("Edit of absent options: %+v, original %d options", got, len(a))
	}
}

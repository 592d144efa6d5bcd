package kds

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"
)

func TestWithPeer(t *testing.T) {
	_, r := loadVector(t, goSevGuest)
	req := requestFor(r)
	ctx := context.Background()
	parse := func(name string, b []byte) *x509.Certificate {
		c, err := ParseCertificate(name, b)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	crl := func(n int64) *x509.RevocationList {
		l, err := ParseCRL("crl", testCRL(t, "Milan", n, crlThisUpdate, crlNextUpdate))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	chain := splitPEM(t, readTestdata(t, "amd-roots", "ask_ark_milan.pem"))
	vcek := parse("vcek", readTestdata(t, goSevGuest.folder, goSevGuest.vcekFile))
	otherVCEK := parse("other vcek", readTestdata(t, virtee.folder, virtee.vcekFile))
	ask, ark := parse("ask", chain[0]), parse("ark", chain[1])
	ownCRL, peerCRL := crl(2), crl(1)
	own := &Certificates{Leaf: vcek, Intermediate: ask, Root: ark, Source: "kds",
		CRLs: []CRL{{List: ownCRL, Kind: CRLVCEK, Source: "kds"}}}
	// The peer claims its CRL is the VLEK CRL: it cannot know, and is not
	// believed.
	peer := &Certificates{Leaf: otherVCEK, Intermediate: ask, Root: ark, Source: "auxblob",
		CRLs: []CRL{{List: peerCRL, Kind: CRLVLEK, Source: "auxblob"}}}
	serve := func(c *Certificates, err error) Provider {
		return providerFunc(func(context.Context, Request) (*Certificates, error) { return c, err })
	}
	peerAnswer := func(t *testing.T, got *Certificates) {
		t.Helper()
		if got.Leaf != otherVCEK || got.Source != "auxblob" || len(got.CRLs) != 1 || got.CRLs[0].List != peerCRL || got.CRLs[0].Kind != CRLUnknown {
			t.Errorf("want the peer's certificates with its CRL of unstated kind, got leaf %v, %q, %+v", got.Leaf == otherVCEK, got.Source, got.CRLs)
		}
	}

	t.Run("no configured provider", func(t *testing.T) {
		got, err := WithPeer(nil, peer).Certificates(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		peerAnswer(t, got)
		if peer.CRLs[0].Kind != CRLVLEK {
			t.Error("WithPeer modified the peer's certificates")
		}
	})
	t.Run("configured provider wins", func(t *testing.T) {
		got, err := WithPeer(serve(own, nil), peer).Certificates(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if got.Leaf != vcek || got.Intermediate != ask || got.Source != "kds" {
			t.Errorf("leaf is the configured one: %v; source %q", got.Leaf == vcek, got.Source)
		}
		// Revocations from both apply: the configured CRL first.
		if len(got.CRLs) != 2 || got.CRLs[0] != own.CRLs[0] || got.CRLs[1].List != peerCRL || got.CRLs[1].Kind != CRLUnknown {
			t.Errorf("CRLs %+v, want the configured one then the peer's of unstated kind", got.CRLs)
		}
	})
	t.Run("the same CRL twice", func(t *testing.T) {
		same := *peer
		same.CRLs = []CRL{{List: ownCRL, Source: "auxblob"}}
		got, err := WithPeer(serve(own, nil), &same).Certificates(ctx, req)
		if err != nil || len(got.CRLs) != 1 || got.CRLs[0].Kind != CRLVCEK {
			t.Errorf("%v, CRLs %+v; want the configured CRL once", err, got.CRLs)
		}
	})
	t.Run("the peer fills the leaf the provider lacks", func(t *testing.T) {
		leafless := &Certificates{Intermediate: ask, Root: ark, Source: "kds", CRLs: own.CRLs}
		got, err := WithPeer(serve(leafless, nil), peer).Certificates(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if got.Leaf != otherVCEK || got.Intermediate != ask || got.Source != "kds (leaf from auxblob)" || len(got.CRLs) != 2 {
			t.Errorf("leaf from peer %v, source %q, %d CRLs", got.Leaf == otherVCEK, got.Source, len(got.CRLs))
		}
		if leafless.Leaf != nil {
			t.Error("WithPeer modified the provider's certificates")
		}
	})
	for _, gap := range []error{ErrNotFound, ErrVLEKNotFetchable, ErrUnsupported} {
		t.Run(fmt.Sprintf("provider has nothing: %v", gap), func(t *testing.T) {
			got, err := WithPeer(serve(nil, fmt.Errorf("kds: x: %w", gap)), peer).Certificates(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			peerAnswer(t, got)
		})
	}
	for _, failure := range []error{&HTTPError{StatusCode: 503, Status: "503 Service Unavailable"}, ErrExpired, ErrMismatch, ErrFormat,
		context.DeadlineExceeded} {
		t.Run(fmt.Sprintf("provider fails: %v", failure), func(t *testing.T) {
			if got, err := WithPeer(serve(nil, failure), peer).Certificates(ctx, req); !errors.Is(err, failure) || got != nil {
				t.Errorf("got %v, %v; want the provider's error", got, err)
			}
		})
	}
	t.Run("provider answers nothing", func(t *testing.T) {
		if _, err := WithPeer(serve(nil, nil), peer).Certificates(ctx, req); err == nil {
			t.Error("no error")
		}
	})
	t.Run("no peer", func(t *testing.T) {
		var p Provider = Static{C: own}
		if got := WithPeer(p, nil); got != p {
			t.Error("WithPeer without peer certificates did not return the provider")
		}
	})
}

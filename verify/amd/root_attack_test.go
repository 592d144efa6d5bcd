package amd

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/internal/testvectors"
)

// A chain whose ARK has AMD's key and name but a corrupted body or
// signature is refused: the root must be AMD's certificate, or a correctly
// self-signed one of its key.
func TestCorruptedARKRefused(t *testing.T) {
	dir := testvectors.Path("snp-go-sev-guest") + "/"
	raw, err := os.ReadFile(dir + "attestation.bin")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := snp.ParseReport(raw)
	if err != nil {
		t.Fatal(err)
	}
	der, err := os.ReadFile(dir + "vcek.testcer.der")
	if err != nil {
		t.Fatal(err)
	}
	pemChain, err := os.ReadFile(dir + "milan_cert_chain.pem")
	if err != nil {
		t.Fatal(err)
	}
	var ders [][]byte
	for rest := pemChain; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		ders = append(ders, blk.Bytes)
	}
	if len(ders) != 2 {
		t.Fatalf("want ASK and ARK in the chain file, got %d certificates", len(ders))
	}
	now := time.Date(2022, 9, 25, 0, 55, 28, 0, time.UTC)
	chain := func(ark []byte) []*x509.Certificate {
		var out []*x509.Certificate
		for _, b := range [][]byte{der, ders[0], ark} {
			c, err := x509.ParseCertificate(b)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, c)
		}
		return out
	}
	// The genuine chain passes its chain check (the CRL is missing here).
	r, _ := NewVerifier(nil).Verify(context.Background(), rep, Options{Now: now, Certs: chain(ders[1])})
	if c, ok := r.Check(CheckChain); !ok || !c.OK {
		t.Fatalf("genuine chain: %+v", c)
	}
	// The same ARK with one bit of its signature flipped.
	bad := append([]byte(nil), ders[1]...)
	bad[len(bad)-1] ^= 1
	r, _ = NewVerifier(nil).Verify(context.Background(), rep, Options{Now: now, Certs: chain(bad)})
	if c, ok := r.Check(CheckChain); !ok || c.OK || !strings.Contains(c.Detail, "self-signature does not verify") {
		t.Fatalf("corrupted ARK: want the chain check to fail naming the self-signature, got %+v", c)
	}
}

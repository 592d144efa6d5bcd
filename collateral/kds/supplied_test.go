package kds

import (
	"errors"
	"testing"
)

func TestParseSupplied(t *testing.T) {
	vcek := readTestdata(t, goSevGuest.folder, goSevGuest.vcekFile)
	ask, ark, err := ParseCertChain("chain", readTestdata(t, goSevGuest.folder, goSevGuest.chainFile))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseSupplied("auxblob", vcek, ask.Raw, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != "auxblob" || c.Leaf == nil || c.Intermediate == nil || !c.Intermediate.Equal(ask) || c.Root != nil || c.CRLs != nil {
		t.Errorf("without the ARK: got %+v", c)
	}
	if c, err = ParseSupplied("auxblob", vcek, ask.Raw, ark.Raw, nil); err != nil || !c.Root.Equal(ark) {
		t.Errorf("with the ARK: %+v, %v", c, err)
	}
	if _, err := ParseSupplied("auxblob", nil, ask.Raw, ark.Raw, nil); !errors.Is(err, ErrFormat) {
		t.Errorf("no leaf: %v, want ErrFormat", err)
	}
	if _, err := ParseSupplied("auxblob", vcek, nil, nil, []byte("not a CRL")); !errors.Is(err, ErrFormat) {
		t.Errorf("bad CRL: %v, want ErrFormat", err)
	}
}

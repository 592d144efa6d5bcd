package kds

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ratls/ratls/evidence/snp"
)

// A directory without the leaf is the certificates KDS serves for a VLEK
// (or for a masked chip ID): the intermediate says which key it is for, and
// the leaf is left to the evidence.
func TestLoadDirWithoutLeaf(t *testing.T) {
	milan := splitPEM(t, readTestdata(t, "amd-roots", "ask_ark_milan.pem"))
	vlekChain := splitPEM(t, readTestdata(t, "amd-roots", "ask_ark_milan_vlek.pem"))
	crl := testCRL(t, "Milan", vlekCRLNumber, crlThisUpdate, crlNextUpdate)
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		inter []byte
		kind  CRLKind
	}{
		{"VLEK", map[string][]byte{"asvk.pem": pemCert(vlekChain[0]), "ark.pem": pemCert(vlekChain[1]), "vlek-crl.der": crl}, vlekChain[0], CRLVLEK},
		{"VCEK", map[string][]byte{"ask.der": milan[0], "ark.pem": pemCert(milan[1]), "vcek-crl.der": crl}, milan[0], CRLVCEK},
	} {
		certs, err := LoadDir(writeDir(t, tc.files))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if certs.Leaf != nil || !bytes.Equal(certs.Intermediate.Raw, tc.inter) || onlyCRL(t, certs).Kind != tc.kind {
			t.Errorf("%s: leaf %v, intermediate or CRL kind %v wrong", tc.name, certs.Leaf, onlyCRL(t, certs).Kind)
		}
	}
	// Both intermediates and no leaf: which key is it for?
	_, err := LoadDir(writeDir(t, map[string][]byte{"ask.pem": pemCert(milan[0]), "asvk.pem": pemCert(vlekChain[0]), "ark.pem": pemCert(milan[1])}))
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("ask.pem and asvk.pem without a leaf: %v", err)
	}
}

// WriteDir writes what LoadDir reads back, byte for byte.
func TestWriteDir(t *testing.T) {
	vcek, err := x509.ParseCertificate(readTestdata(t, "snp-go-sev-guest", "vcek.testcer.der"))
	if err != nil {
		t.Fatal(err)
	}
	milan := splitPEM(t, readTestdata(t, "amd-roots", "ask_ark_milan.pem"))
	ask, _ := x509.ParseCertificate(milan[0])
	ark, _ := x509.ParseCertificate(milan[1])
	crl, err := x509.ParseRevocationList(testCRL(t, "Milan", 1, crlThisUpdate, crlNextUpdate))
	if err != nil {
		t.Fatal(err)
	}
	in := &Certificates{Leaf: vcek, Intermediate: ask, Root: ark, CRLs: []CRL{{List: crl, Kind: CRLVCEK}}}
	dir := filepath.Join(t.TempDir(), "out")
	if err := WriteDir(dir, in, snp.SigningKeyVCEK); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"ark.pem", "ask.pem", "vcek-crl.der", "vcek.pem"}; !slices.Equal(names, want) {
		t.Errorf("files %v, want %v", names, want)
	}
	out, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Leaf.Equal(vcek) || !out.Intermediate.Equal(ask) || !out.Root.Equal(ark) || !bytes.Equal(onlyCRL(t, out).List.Raw, crl.Raw) {
		t.Error("read back differs")
	}
	if err := WriteDir(dir, &Certificates{Leaf: vcek}, snp.SigningKeyVCEK); err == nil {
		t.Error("WriteDir without intermediate and root: no error")
	}
	in.CRLs[0].Kind = CRLUnknown
	if err := WriteDir(dir, in, snp.SigningKeyVCEK); err == nil {
		t.Error("WriteDir of a CRL of unknown kind: no error")
	}
}

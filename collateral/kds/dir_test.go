package kds

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeDir(t testing.TB, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestLoadDir(t *testing.T) {
	vcek := readTestdata(t, "snp-go-sev-guest", "vcek.testcer.der")
	milan := splitPEM(t, readTestdata(t, "amd-roots", "ask_ark_milan.pem"))
	vlekChain := splitPEM(t, readTestdata(t, "amd-roots", "ask_ark_milan_vlek.pem"))
	crl := testCRL(t, "Milan", 1, crlThisUpdate, crlNextUpdate)
	ask, ark := pemCert(milan[0]), pemCert(milan[1])

	t.Run("VCEK as DER in vcek.pem, with CRL", func(t *testing.T) {
		dir := writeDir(t, map[string][]byte{"vcek.pem": vcek, "ask.pem": ask, "ark.pem": ark, "crl.der": crl})
		certs, err := LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(certs.Leaf.Raw, vcek) || !bytes.Equal(certs.Intermediate.Raw, milan[0]) ||
			!bytes.Equal(certs.Root.Raw, milan[1]) || !bytes.Equal(onlyCRL(t, certs).List.Raw, crl) {
			t.Error("loaded certificates differ from the files")
		}
		// crl.der, the name of earlier releases, is the VCEK CRL.
		if c := onlyCRL(t, certs); c.Kind != CRLVCEK || c.Source != filepath.Join(dir, "crl.der") {
			t.Errorf("CRL %v from %q, want the VCEK CRL from crl.der", c.Kind, c.Source)
		}
		if certs.Leaf.Subject.CommonName != "SEV-VCEK" || certs.Source != "dir "+dir {
			t.Errorf("leaf %q, source %q", certs.Leaf.Subject.CommonName, certs.Source)
		}
		got, err := Static{certs}.Certificates(context.Background(), Request{})
		if err != nil || got != certs {
			t.Errorf("Static returned %p, %v", got, err)
		}
	})
	vlekCRL := testCRL(t, "Milan", vlekCRLNumber, crlThisUpdate, crlNextUpdate)
	t.Run("VLEK with ASVK, PEM VLEK CRL, DER ark", func(t *testing.T) {
		// No real VLEK among the vectors: a VCEK stands in for the leaf,
		// LoadDir does not look inside.
		crlPEM := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: vlekCRL})
		dir := writeDir(t, map[string][]byte{"vlek.der": vcek, "asvk.pem": pemCert(vlekChain[0]), "ark.der": vlekChain[1], "vlek-crl.pem": crlPEM})
		certs, err := LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if certs.Intermediate.Subject.CommonName != "SEV-VLEK-Milan" || len(certs.Chain()) != 3 {
			t.Errorf("intermediate %q", certs.Intermediate.Subject.CommonName)
		}
		if c := onlyCRL(t, certs); c.Kind != CRLVLEK || c.List.Number.Int64() != vlekCRLNumber {
			t.Errorf("CRL %v number %v, want the VLEK CRL", c.Kind, c.List.Number)
		}
	})
	t.Run("both CRLs, the leaf's first", func(t *testing.T) {
		for _, leaf := range []string{"vcek", "vlek"} {
			inter, want := map[string][]byte{"ask.pem": ask}, []CRLKind{CRLVCEK, CRLVLEK}
			if leaf == "vlek" {
				inter, want = map[string][]byte{"asvk.pem": pemCert(vlekChain[0])}, []CRLKind{CRLVLEK, CRLVCEK}
			}
			files := map[string][]byte{leaf + ".der": vcek, "ark.pem": ark, "vcek-crl.der": crl, "vlek-crl.der": vlekCRL}
			for k, v := range inter {
				files[k] = v
			}
			certs, err := LoadDir(writeDir(t, files))
			if err != nil {
				t.Fatal(err)
			}
			if len(certs.CRLs) != 2 || certs.CRLs[0].Kind != want[0] || certs.CRLs[1].Kind != want[1] {
				t.Fatalf("%s directory: CRLs %+v, want %v", leaf, certs.CRLs, want)
			}
			for _, c := range certs.CRLs {
				if n := c.List.Number.Int64(); c.Kind == CRLVCEK && n != 1 || c.Kind == CRLVLEK && n != vlekCRLNumber {
					t.Errorf("%s directory: %v is number %d, from %s", leaf, c.Kind, n, c.Source)
				}
			}
		}
	})
	t.Run("no CRL", func(t *testing.T) {
		certs, err := LoadDir(writeDir(t, map[string][]byte{"vcek.der": vcek, "ask.pem": ask, "ark.pem": ark}))
		if err != nil || len(certs.CRLs) != 0 {
			t.Fatalf("CRLs %v, error %v", certs.CRLs, err)
		}
	})

	for _, tc := range []struct {
		name     string
		files    map[string][]byte
		notFound bool
		msg      string
	}{
		{"empty", map[string][]byte{}, true, "no leaf (VCEK or VLEK) certificate: want vcek.pem or vcek.der or vlek.pem or vlek.der"},
		{"missing ark", map[string][]byte{"vcek.pem": vcek, "ask.pem": ask}, true, "no root certificate: want ark.pem or ark.der"},
		{"missing ask", map[string][]byte{"vcek.pem": vcek, "ark.pem": ark}, true, "no intermediate certificate: want ask.pem"},
		{"missing asvk", map[string][]byte{"vlek.pem": vcek, "ark.pem": ark}, true, "want asvk.pem"},
		{"VCEK and VLEK", map[string][]byte{"vcek.pem": vcek, "vlek.pem": vcek, "ask.pem": ask, "ark.pem": ark}, false, "both vcek.pem and vlek.pem"},
		{"two VCEK files", map[string][]byte{"vcek.pem": vcek, "vcek.der": vcek, "ask.pem": ask, "ark.pem": ark}, false, "both vcek.pem and vcek.der"},
		{"VCEK with ASVK", map[string][]byte{"vcek.pem": vcek, "ask.pem": ask, "asvk.pem": ask, "ark.pem": ark}, false, "asvk.pem does not belong with vcek.pem"},
		{"malformed ark", map[string][]byte{"vcek.pem": vcek, "ask.pem": ask, "ark.pem": ark[:100]}, false, "ark.pem"},
		{"two certificates in ask.pem", map[string][]byte{"vcek.pem": vcek, "ask.pem": append(ask, ark...), "ark.pem": ark}, false, "exactly one PEM certificate"},
		{"malformed CRL", map[string][]byte{"vcek.pem": vcek, "ask.pem": ask, "ark.pem": ark, "crl.der": crl[:20]}, false, "crl.der"},
		{"malformed VLEK CRL", map[string][]byte{"vcek.pem": vcek, "ask.pem": ask, "ark.pem": ark, "vlek-crl.der": crl[:20]}, false, "vlek-crl.der"},
		{"crl.der in a VLEK directory", map[string][]byte{"vlek.pem": vcek, "asvk.pem": ask, "ark.pem": ark, "crl.der": crl}, false,
			"crl.der does not say which CRL it is: name the VLEK CRL (https://kdsintf.amd.com/vlek/v1/{product}/crl) vlek-crl.der"},
		{"crl.der and vcek-crl.der", map[string][]byte{"vcek.pem": vcek, "ask.pem": ask, "ark.pem": ark, "crl.der": crl, "vcek-crl.pem": crl}, false,
			"both vcek-crl.pem and crl.der present"},
		{"two VLEK CRL files", map[string][]byte{"vlek.pem": vcek, "asvk.pem": ask, "ark.pem": ark, "vlek-crl.der": crl, "vlek-crl.pem": crl}, false,
			"both vlek-crl.pem and vlek-crl.der"},
		{"oversize VCEK", map[string][]byte{"vcek.pem": make([]byte, maxCertSize+1), "ask.pem": ask, "ark.pem": ark}, false, "larger than the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadDir(writeDir(t, tc.files))
			if err == nil || !strings.Contains(err.Error(), tc.msg) || errors.Is(err, ErrNotFound) != tc.notFound {
				t.Fatalf("error %v, want one containing %q (ErrNotFound %v)", err, tc.msg, tc.notFound)
			}
		})
	}
	if _, err := (Static{}).Certificates(context.Background(), Request{}); err == nil {
		t.Error("empty Static: no error")
	}
}

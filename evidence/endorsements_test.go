package evidence

import (
	"bytes"
	"testing"

	"github.com/ratls/ratls/evidence/snp"
)

func TestSNPEndorsementsFromCertTable(t *testing.T) {
	vlek := (&snp.CertTable{VLEK: []byte("vlek"), ASK: []byte("asvk"), ARK: []byte("ark"), CRL: []byte("crl")}).Marshal()
	e, err := SNPEndorsementsFromCertTable(vlek)
	if err != nil {
		t.Fatal(err)
	}
	if e == nil || !bytes.Equal(e.Leaf, []byte("vlek")) || !bytes.Equal(e.Intermediate, []byte("asvk")) ||
		!bytes.Equal(e.Root, []byte("ark")) || !bytes.Equal(e.CRL, []byte("crl")) {
		t.Errorf("got %+v", e)
	}
	if e, err := SNPEndorsementsFromCertTable((&snp.CertTable{ASK: []byte("ask")}).Marshal()); e != nil || err != nil {
		t.Errorf("table without a leaf: got %+v, %v; want nil, nil", e, err)
	}
	if _, err := SNPEndorsementsFromCertTable([]byte{1, 2, 3}); err == nil {
		t.Error("malformed table accepted")
	}
}

package azure

import (
	"crypto/sha256"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// TPMQuote is a TPM2_Quote: the TPMS_ATTEST the TPM signed, its signature
// (RSASSA-PKCS1-v1_5 with SHA-256, by the attestation key) and the PCR
// values the quote's digest covers.
type TPMQuote struct {
	Message   []byte
	Signature []byte
	PCRs      [][]byte
	Attest    *tpm2.TPMSAttest
	Info      *tpm2.TPMSQuoteInfo
	// Selected are the PCR indices of the quote's selection, in the order
	// the digest covers them.
	Selected []int
}

// ParseTPMQuote parses a marshalled TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE
// (TPM 2.0 Library Part 2 §10.12.12), which must be exactly the message:
// nothing may follow it. The quote must select one SHA-256 bank, and pcrs
// must hold one 32-byte value per selected PCR, in index order.
func ParseTPMQuote(message, signature []byte, pcrs [][]byte) (*TPMQuote, error) {
	a, err := unmarshalAttest(message)
	if err != nil {
		return nil, err
	}
	if a.Magic != tpm2.TPMGeneratedValue {
		return nil, malformed("TPM quote: magic %#x, want TPM_GENERATED_VALUE %#x", uint32(a.Magic), uint32(tpm2.TPMGeneratedValue))
	}
	if a.Type != tpm2.TPMSTAttestQuote {
		return nil, malformed("TPM quote: attestation type %#x, want TPM_ST_ATTEST_QUOTE %#x", uint16(a.Type), uint16(tpm2.TPMSTAttestQuote))
	}
	info, err := a.Attested.Quote()
	if err != nil {
		return nil, malformed("TPM quote: %v", err)
	}
	if n := attestSize(a, info); n != len(message) {
		return nil, malformed("TPM quote: %d bytes after the TPMS_ATTEST's %d", len(message)-n, n)
	}
	// The decoder reads any byte as clockInfo.safe; TPMI_YES_NO is 0 or 1.
	if safe := message[4+2+2+len(a.QualifiedSigner.Buffer)+2+len(a.ExtraData.Buffer)+16]; safe > 1 {
		return nil, malformed("TPM quote: clockInfo.safe is %#x, not YES or NO", safe)
	}
	q := &TPMQuote{Message: message, Signature: signature, PCRs: pcrs, Attest: a, Info: info}
	sel := info.PCRSelect.PCRSelections
	if len(sel) != 1 || sel[0].Hash != tpm2.TPMAlgSHA256 {
		return nil, malformed("TPM quote: PCR selection %v, want one SHA-256 bank", sel)
	}
	for i, b := range sel[0].PCRSelect {
		for bit := 0; bit < 8; bit++ {
			if b&(1<<bit) != 0 {
				q.Selected = append(q.Selected, i*8+bit)
			}
		}
	}
	if len(pcrs) != len(q.Selected) {
		return nil, malformed("TPM quote: %d PCR values for %d selected PCRs", len(pcrs), len(q.Selected))
	}
	for i, p := range pcrs {
		if len(p) != sha256.Size {
			return nil, malformed("TPM quote: PCR %d value of %d bytes, want 32", q.Selected[i], len(p))
		}
	}
	return q, nil
}

// unmarshalAttest unmarshals a TPMS_ATTEST, turning a panic of the
// reflection-based decoder into an error: hostile input must not crash a
// verifier.
func unmarshalAttest(b []byte) (a *tpm2.TPMSAttest, err error) {
	defer func() {
		if r := recover(); r != nil {
			a, err = nil, malformed("TPM quote: %v", r)
		}
	}()
	a, err = tpm2.Unmarshal[tpm2.TPMSAttest](b)
	if err != nil {
		return nil, malformed("TPM quote: TPMS_ATTEST: %v", err)
	}
	return a, nil
}

// attestSize is the marshalled size of a quote's TPMS_ATTEST (Part 2
// §10.12.12): what the decoder consumed, so that nothing may follow it.
func attestSize(a *tpm2.TPMSAttest, info *tpm2.TPMSQuoteInfo) int {
	n := 4 + 2 + 2 + len(a.QualifiedSigner.Buffer) + 2 + len(a.ExtraData.Buffer) + 17 + 8 // magic … firmwareVersion
	n += 4                                                                                // TPML_PCR_SELECTION count
	for _, s := range info.PCRSelect.PCRSelections {
		n += 2 + 1 + len(s.PCRSelect)
	}
	return n + 2 + len(info.PCRDigest.Buffer)
}

// Nonce is the quote's extraData: the verifier's nonce.
func (q *TPMQuote) Nonce() []byte { return q.Attest.ExtraData.Buffer }

// PCRDigest is the digest the quote signs over its PCRs.
func (q *TPMQuote) PCRDigest() []byte { return q.Info.PCRDigest.Buffer }

// PCRValue returns the value of PCR i, nil when the quote does not select it.
func (q *TPMQuote) PCRValue(i int) []byte {
	for j, s := range q.Selected {
		if s == i {
			return q.PCRs[j]
		}
	}
	return nil
}

// ComputePCRDigest is SHA-256 over the PCR values in selection order, what
// PCRDigest must equal.
func (q *TPMQuote) ComputePCRDigest() []byte {
	h := sha256.New()
	for _, p := range q.PCRs {
		h.Write(p)
	}
	return h.Sum(nil)
}

func (q *TPMQuote) String() string {
	return fmt.Sprintf("TPM quote of PCRs %v, nonce %x", q.Selected, q.Nonce())
}

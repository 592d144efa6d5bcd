package inspect

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"fmt"

	"github.com/ratls/ratls/evidence/azure"
	"github.com/ratls/ratls/evidence/eventlog"
	"github.com/ratls/ratls/verify/measuredboot"
)

// AzureVTPM describes Azure vTPM CVM evidence. Nothing in it is verified;
// RuntimeDataBound and PCRDigestMatches only compare values that the
// evidence holds.
type AzureVTPM struct {
	Version           int    `json:"version"`
	HCLVersion        uint32 `json:"hcl_version"`
	HardwareReport    string `json:"hardware_report"`
	RuntimeDataSize   int    `json:"runtime_data_size"`
	RuntimeDataSHA256 string `json:"runtime_data_sha256"`
	// RuntimeDataBound: the hardware report's report data is the runtime
	// data's hash (the TD quote's, for TDX).
	RuntimeDataBound bool                  `json:"runtime_data_bound"`
	AttestationKey   string                `json:"attestation_key_sha256,omitempty"`
	AttestationError string                `json:"attestation_key_error,omitempty"`
	VMConfiguration  azure.VMConfiguration `json:"vm_configuration"`
	UserData         string                `json:"user_data"`
	TPMQuote         Fields                `json:"tpm_quote"`
	PCRDigestMatches bool                  `json:"pcr_digest_matches"`
	VCEKSubject      string                `json:"vcek_subject,omitempty"`
	TDQuote          *Quote                `json:"td_quote,omitempty"`
}

func describeAzure(e *Evidence, ev *azure.Evidence) {
	h := ev.HCL
	a := &AzureVTPM{
		Version: ev.Version, HCLVersion: h.Version, HardwareReport: ev.TEE(), RuntimeDataSize: len(h.RuntimeData),
		VMConfiguration: h.Runtime.VMConfiguration, UserData: h.Runtime.UserData,
	}
	sum := sha256.Sum256(h.RuntimeData)
	a.RuntimeDataSHA256 = hexs(sum[:])
	rd := h.ReportData()
	if ev.TDQuote != nil {
		r := ev.TDQuote.ReportData()
		rd = r[:]
		a.TDQuote = describeQuote(ev.TDQuote)
	}
	var digest []byte
	switch h.HashType {
	case 2:
		s := sha512.Sum384(h.RuntimeData)
		digest = s[:]
	case 3:
		s := sha512.Sum512(h.RuntimeData)
		digest = s[:]
	default:
		digest = sum[:]
	}
	a.RuntimeDataBound = bytes.Equal(rd[:len(digest)], digest) && len(bytes.Trim(rd[len(digest):], "\x00")) == 0
	if ak, err := h.AttestationKey(); err != nil {
		a.AttestationError = err.Error()
	} else {
		der, _ := x509.MarshalPKIXPublicKey(ak)
		s := sha256.Sum256(der)
		a.AttestationKey = hexs(s[:])
	}
	q := ev.Quote
	a.TPMQuote = Fields{
		{"nonce", hexs(q.Nonce())},
		{"qualified_signer", hexs(q.Attest.QualifiedSigner.Buffer)},
		{"clock", q.Attest.ClockInfo.Clock},
		{"reset_count", q.Attest.ClockInfo.ResetCount},
		{"firmware_version", fmt.Sprintf("%#016x", q.Attest.FirmwareVersion)},
		{"pcrs_selected", fmt.Sprint(q.Selected)},
		{"pcr_digest", hexs(q.PCRDigest())},
	}
	a.PCRDigestMatches = bytes.Equal(q.ComputePCRDigest(), q.PCRDigest())
	if c, err := x509.ParseCertificate(ev.VCEK); err == nil {
		a.VCEKSubject = c.Subject.String()
	}
	e.Azure = a
	switch {
	case h.SNP != nil:
		e.SNPReport, e.Measurements = describeSNP(h.SNP)
	case ev.TDQuote != nil:
		e.Measurements = tdMeasurements(ev.TDQuote.TD)
	}
	e.Measurements = append(e.Measurements, pcrFields(q)...)
	if ev.EventLog != nil {
		e.EventLog = describeEventLog(ev.EventLog, pcrBank(q))
	}
}

func pcrFields(q *azure.TPMQuote) Fields {
	var fs Fields
	for i, idx := range q.Selected {
		fs = append(fs, Field{fmt.Sprintf("pcr%02d", idx), hexs(q.PCRs[i])})
	}
	return fs
}

func pcrBank(q *azure.TPMQuote) measuredboot.Bank {
	b := measuredboot.Bank{Alg: eventlog.SHA256, TPM: true}
	for i, idx := range q.Selected {
		b.Registers = append(b.Registers, measuredboot.Register{Index: uint32(idx), Name: fmt.Sprintf("PCR%d", idx), Value: q.PCRs[i]})
	}
	return b
}

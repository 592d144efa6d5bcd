package azure

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ratls/ratls/evidence/quote"
)

// Evidence is one Azure vTPM CVM's evidence.
type Evidence struct {
	// Version is Trustee's evidence version: 1, or 2 (the runtime data's
	// user-data then starts with the expected report data).
	Version int
	HCL     *HCLReport
	Quote   *TPMQuote
	// VCEK is the DER VCEK of an SEV-SNP CVM.
	VCEK []byte
	// TDQuote is the DCAP quote of a TDX CVM's TDREPORT.
	TDQuote    *quote.Quote
	TDQuoteRaw []byte
	// EventLog is the UEFI event log of the vTPM's PCRs, when the attester
	// sent one ("tpm_eventlog", a ratls addition Trustee ignores).
	EventLog []byte
}

// TEE returns "sev_snp" or "tdx".
func (e *Evidence) TEE() string {
	if e.HCL.ReportType == ReportTypeTDX {
		return "tdx"
	}
	return "sev_snp"
}

// trusteeJSON is the evidence of Trustee's az-snp-vtpm and az-tdx-vtpm
// attesters, versions 1 and 2 (deps/verifier/src/az_*_vtpm/compat.rs).
type trusteeJSON struct {
	Version     *int          `json:"version"`
	TPMQuote    *tpmQuoteJSON `json:"tpm_quote"`
	HCLReport   string        `json:"hcl_report"`
	VCEK        string        `json:"vcek,omitempty"`
	TDQuote     string        `json:"td_quote,omitempty"`
	TPMEventLog string        `json:"tpm_eventlog,omitempty"`
}

type tpmQuoteJSON struct {
	Signature string   `json:"signature"`
	Message   string   `json:"message"`
	PCRs      []string `json:"pcrs"`
}

// maxSize bounds the evidence JSON.
const maxSize = 1 << 20

// Parse parses Trustee's Azure vTPM evidence JSON, versions 1 and 2. Keys
// are exact and unique; version 0 (byte arrays, a PEM VCEK) is refused.
func Parse(b []byte) (*Evidence, error) {
	if len(b) > maxSize {
		return nil, malformed("%d bytes exceeds the limit of %d", len(b), maxSize)
	}
	j, err := decodeTrustee(b)
	if err != nil {
		return nil, malformed("%v", err)
	}
	if j.Version == nil {
		return nil, malformed("no \"version\": version 0 evidence is not supported (want 1 or 2)")
	}
	if *j.Version != 1 && *j.Version != 2 {
		return nil, malformed("version %d, want 1 or 2", *j.Version)
	}
	if j.TPMQuote == nil {
		return nil, malformed("no tpm_quote")
	}
	e := &Evidence{Version: *j.Version}
	raw, err := decodeBase64URL("hcl_report", j.HCLReport)
	if err != nil {
		return nil, err
	}
	if e.HCL, err = ParseHCLReport(raw); err != nil {
		return nil, err
	}
	msg, err1 := hex.DecodeString(j.TPMQuote.Message)
	sig, err2 := hex.DecodeString(j.TPMQuote.Signature)
	if err1 != nil || err2 != nil {
		return nil, malformed("tpm_quote: message and signature must be hex")
	}
	pcrs := make([][]byte, len(j.TPMQuote.PCRs))
	for i, p := range j.TPMQuote.PCRs {
		if pcrs[i], err = hex.DecodeString(p); err != nil {
			return nil, malformed("tpm_quote: pcrs[%d] is not hex", i)
		}
	}
	if e.Quote, err = ParseTPMQuote(msg, sig, pcrs); err != nil {
		return nil, err
	}
	switch e.HCL.ReportType {
	case ReportTypeSNP:
		if j.TDQuote != "" || j.VCEK == "" {
			return nil, malformed("SEV-SNP evidence needs \"vcek\" and no \"td_quote\"")
		}
		if e.VCEK, err = decodeBase64URL("vcek", j.VCEK); err != nil {
			return nil, err
		}
	case ReportTypeTDX:
		if j.VCEK != "" || j.TDQuote == "" {
			return nil, malformed("TDX evidence needs \"td_quote\" and no \"vcek\"")
		}
		if e.TDQuoteRaw, err = decodeBase64URL("td_quote", j.TDQuote); err != nil {
			return nil, err
		}
		if e.TDQuote, err = quote.Parse(e.TDQuoteRaw); err != nil {
			return nil, fmt.Errorf("%w: td_quote: %w", ErrFormat, err)
		}
		if !e.TDQuote.IsTDX() {
			return nil, malformed("td_quote is not a TDX quote")
		}
	}
	if j.TPMEventLog != "" {
		if e.EventLog, err = base64.StdEncoding.DecodeString(j.TPMEventLog); err != nil {
			return nil, malformed("tpm_eventlog: %v", err)
		}
	}
	return e, nil
}

// decodeBase64URL reads base64url with or without padding (serde_with
// writes it padded).
func decodeBase64URL(field, s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, malformed("%s: %v", field, err)
	}
	return b, nil
}

// LooksLike reports whether b is a JSON object with an "hcl_report" key
// and only the keys of Azure vTPM evidence at the top: such evidence
// rather than a CMW collection.
func LooksLike(b []byte) bool {
	return topLevelKeys(b, "hcl_report", "version", "tpm_quote", "hcl_report", "vcek", "td_quote", "tpm_eventlog")
}

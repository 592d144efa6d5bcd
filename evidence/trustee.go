package evidence

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/ratls/ratls/internal/strictjson"
)

// trusteeTDX is the evidence of Trustee's TDX attester
// (deps/verifier/src/tdx): the DCAP quote and the CC event log (the CCEL
// log area, in which CoCo's attestation agent appends its runtime events),
// both standard base64.
type trusteeTDX struct {
	CCEventLog *string `json:"cc_eventlog"`
	Quote      string  `json:"quote"`
}

// looksLikeTrusteeTDX reports whether b is a JSON object of Trustee's TDX
// evidence: a string "quote", and no key but "quote" and "cc_eventlog"
// (a CMW collection has its own keys and array or object entries).
func looksLikeTrusteeTDX(b []byte) bool {
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil {
		return false
	}
	for k := range top {
		if k != "quote" && k != "cc_eventlog" {
			return false
		}
	}
	q, ok := top["quote"]
	return ok && bytes.HasPrefix(q, []byte(`"`))
}

// parseTrusteeTDX reads Trustee's TDX evidence: keys exact and unique, the
// quote a TDX quote, the event log kept for the verifier to replay.
func parseTrusteeTDX(b []byte) ([]*Item, error) {
	var j trusteeTDX
	if err := strictjson.Decode(b, &j); err != nil {
		return nil, fmt.Errorf("evidence: Trustee TDX evidence: %w", err)
	}
	q, err := base64.StdEncoding.DecodeString(j.Quote)
	if err != nil {
		return nil, fmt.Errorf("evidence: Trustee TDX evidence: quote: %w", err)
	}
	it := &Item{Format: FormatTrustee}
	if err := it.parsePayload(KindIntelQuote, q); err != nil {
		return nil, err
	}
	if it.TEE != TEETDX {
		return nil, fmt.Errorf("evidence: Trustee TDX evidence: the quote is not a TDX quote")
	}
	if j.CCEventLog != nil && *j.CCEventLog != "" {
		if it.EventLog, err = base64.StdEncoding.DecodeString(*j.CCEventLog); err != nil {
			return nil, fmt.Errorf("evidence: Trustee TDX evidence: cc_eventlog: %w", err)
		}
	}
	return []*Item{it}, nil
}

// TrusteeTDX encodes a TDX quote and its CC event log as Trustee's TDX
// evidence JSON.
func TrusteeTDX(quote, ccEventLog []byte) []byte {
	j := trusteeTDX{Quote: base64.StdEncoding.EncodeToString(quote)}
	if ccEventLog != nil {
		s := base64.StdEncoding.EncodeToString(ccEventLog)
		j.CCEventLog = &s
	}
	b, _ := json.Marshal(j)
	return b
}

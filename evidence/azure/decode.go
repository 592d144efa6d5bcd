package azure

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// decodeTrustee decodes the evidence JSON in one pass with the rules of
// internal/strictjson — keys exact (case included), each once, none
// unknown, nothing after the object — but for this one shape, which is on
// every verification's path.
func decodeTrustee(b []byte) (*trusteeJSON, error) {
	var j trusteeJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	err := object(dec, "", map[string]func() error{
		"version":      func() error { return dec.Decode(&j.Version) },
		"hcl_report":   func() error { return dec.Decode(&j.HCLReport) },
		"vcek":         func() error { return dec.Decode(&j.VCEK) },
		"td_quote":     func() error { return dec.Decode(&j.TDQuote) },
		"tpm_eventlog": func() error { return dec.Decode(&j.TPMEventLog) },
		"tpm_quote": func() error {
			j.TPMQuote = &tpmQuoteJSON{}
			q := j.TPMQuote
			return object(dec, "tpm_quote.", map[string]func() error{
				"signature": func() error { return dec.Decode(&q.Signature) },
				"message":   func() error { return dec.Decode(&q.Message) },
				"pcrs":      func() error { return dec.Decode(&q.PCRs) },
			})
		},
	})
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return &j, nil
}

// object reads one JSON object whose keys must be among fields, each at
// most once; fields decode the values.
func object(dec *json.Decoder, path string, fields map[string]func() error) error {
	t, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%s: %v", pathOr(path), err)
	}
	if t != json.Delim('{') {
		return fmt.Errorf("%s: want an object", pathOr(path))
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		decode, ok := fields[key]
		switch {
		case !ok:
			return fmt.Errorf("unknown key %q", path+key)
		case seen[key]:
			return fmt.Errorf("duplicate key %q", path+key)
		}
		seen[key] = true
		if err := decode(); err != nil {
			return fmt.Errorf("%s: %v", path+key, err)
		}
	}
	_, err = dec.Token() // '}'
	return err
}

func pathOr(p string) string {
	if p == "" {
		return "evidence"
	}
	return p[:len(p)-1]
}

package inspect

import (
	"fmt"
	"strings"

	"github.com/ratls/ratls/evidence"
)

// ExtractKinds are what Extract takes out of evidence.
var ExtractKinds = []string{"quote", "report", "token", "claims"}

// extractKinds maps an extract kind to the evidence kinds it takes.
var extractKinds = map[string][]evidence.Kind{
	"quote":  {evidence.KindIntelQuote},
	"report": {evidence.KindSNPReport, evidence.KindIntelReport, evidence.KindSGXReport, evidence.KindSEVReport, evidence.KindCSVReport},
	"token":  {evidence.KindCCAToken, evidence.KindCCAPlatform},
}

// Extract returns the bytes of one piece of a report's evidence, as the
// TEE produced them: a DCAP quote ("quote"), an SEV-SNP report, TDREPORT or
// SGX report ("report"), an Arm CCA token ("token"), or the Interoperable
// RA-TLS claims buffer the report data binds ("claims"). It takes the first
// item that has it, the preferred one first. what names the input in the
// error when there is none, which says what the input carries instead.
func Extract(r *Report, kind, what string) ([]byte, error) {
	if kind == "claims" {
		for _, it := range r.Items {
			if it.Claims != nil {
				return it.Claims.Raw, nil
			}
		}
		return nil, fmt.Errorf("%s carries no claims buffer (%s)", what, carries(r))
	}
	kinds, ok := extractKinds[kind]
	if !ok {
		return nil, fmt.Errorf("--extract: want %s, got %q", strings.Join(ExtractKinds, ", "), kind)
	}
	for _, it := range r.Items {
		for _, k := range kinds {
			if it.Kind == k {
				return it.Data, nil
			}
		}
	}
	hint := ""
	for _, it := range r.Items {
		for k, ks := range extractKinds {
			for _, kk := range ks {
				if it.Kind == kk && hint == "" {
					hint = ": use --extract " + k
				}
			}
		}
	}
	return nil, fmt.Errorf("%s carries no %s (%s)%s", what, kind, carries(r), hint)
}

// carries says what evidence a report holds, for messages.
func carries(r *Report) string {
	if r.Source == SourceCollateral {
		return "it is collateral, not evidence"
	}
	if len(r.Items) == 0 {
		return "it carries no evidence"
	}
	var kinds []string
	for _, it := range r.Items {
		kinds = append(kinds, string(it.Kind))
	}
	return "it carries " + strings.Join(kinds, ", ")
}

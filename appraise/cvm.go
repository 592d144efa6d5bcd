package appraise

import (
	"github.com/ratls/ratls/evidence"
	azureverify "github.com/ratls/ratls/verify/azure"
	"github.com/ratls/ratls/verify/checks"
)

// AppraiseAzure appraises the verification of an Azure vTPM confidential
// VM: its hardware report as SEV-SNP or TDX evidence (every rule of the
// sev_snp and tdx sections applies), and every check of the vTPM chain,
// which no policy switch excuses.
func (p *Policy) AppraiseAzure(res *azureverify.Result, verr error, binding *evidence.Binding) *Appraisal {
	var a *Appraisal
	switch {
	case res == nil:
		return noResult(NewAppraisal(p.Name()), verr)
	case res.SNP != nil:
		a = p.AppraiseSNP(res.SNP, res.HardwareErr, binding)
	case res.TDX != nil:
		a = p.AppraiseIntel(res.TDX, res.HardwareErr, binding)
	default:
		a = NewAppraisal(p.Name())
	}
	list := res.Checks
	if res.SNP != nil || res.TDX != nil {
		// The hardware report's own checks were appraised above.
		list = withoutCheck(list, azureverify.CheckHardwareReport)
	}
	required := azureverify.Required
	if res.SNP != nil || res.TDX != nil {
		required = withoutName(required, azureverify.CheckHardwareReport)
	}
	a.verificationReasons(list, required, nil, func(checks.Check) string { return "" })
	return a
}

func withoutCheck(l checks.List, name string) checks.List {
	var out checks.List
	for _, c := range l {
		if c.Name != name {
			out = append(out, c)
		}
	}
	return out
}

func withoutName(names []string, name string) []string {
	var out []string
	for _, n := range names {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}

package main

import (
	"encoding/hex"

	"github.com/ratls/ratls"
	azureverify "github.com/ratls/ratls/verify/azure"
	"github.com/ratls/ratls/verify/measuredboot"
)

// measuredBootJSON is the "measured_boot" object of ratls verify --json:
// the registers the event log replayed to, and the facts it established.
type measuredBootJSON struct {
	Algorithm   string              `json:"algorithm"`
	Registers   map[string]string   `json:"registers"`
	Undescribed []string            `json:"undescribed_registers,omitempty"`
	Events      int                 `json:"events"`
	Facts       *measuredboot.Facts `json:"facts"`
}

func describeMeasuredBoot(v *ratls.Verification) *measuredBootJSON {
	r := v.MeasuredBoot
	if r == nil {
		return nil
	}
	out := &measuredBootJSON{Algorithm: r.Alg.String(), Registers: map[string]string{}, Undescribed: r.Undescribed, Events: len(r.Events), Facts: r.Facts()}
	undescribed := map[string]bool{}
	for _, n := range r.Undescribed {
		undescribed[n] = true
	}
	for _, reg := range r.Registers {
		if !undescribed[reg.Name] {
			out.Registers[reg.Name] = hex.EncodeToString(reg.Value)
		}
	}
	return out
}

func writeMeasuredBoot(p *printer, m *measuredBootJSON) {
	if m == nil {
		return
	}
	p.line(1, "ok   event log", "replays to the signed "+joinRegisters(m.Registers)+" ("+m.Algorithm+")")
	writeFacts(p, 2, m.Facts)
}

func joinRegisters(regs map[string]string) string {
	names := make([]string, 0, len(regs))
	for n := range regs {
		names = append(names, n)
	}
	sortRegisters(names)
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

// describeAzure adds what the Azure vTPM verifier says beyond its checks:
// the hardware report's verification.
func describeAzure(r *azureverify.Result, out *verificationJSON) {
	out.Azure = r
	if r.SNP != nil {
		out.SNP = r.SNP
	}
	if t := r.TDX; t != nil {
		out.FMSPC, out.TrustAnchor, out.Collateral = t.FMSPC, t.TrustAnchor, t.Collateral
		if tcb := t.TCB; tcb != nil {
			out.TCB, out.TCBStatus, out.AdvisoryIDs = tcb, string(tcb.Status), tcb.AdvisoryIDs
		}
	}
	out.ValidFrom, out.ValidUntil = fmtWindow(r.Valid.From), fmtWindow(r.Valid.Until)
}

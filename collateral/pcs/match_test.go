package pcs

import (
	"errors"
	"testing"
)

func comp16(vals ...uint8) [16]uint8 {
	var c [16]uint8
	copy(c[:], vals)
	return c
}

// TestMatchSGXQVLOrder: levels listed lowest first in the JSON are still
// evaluated highest first (QVL's std::set order), so a fully patched platform
// gets the UpToDate level, not the first OutOfDate level that it also meets.
func TestMatchSGXQVLOrder(t *testing.T) {
	ti := synthTCBInfo(t, tcbInfoDoc(TCBInfoIDSGX,
		sgxLevel(svns(1, 1), 10, "OutOfDate"),
		sgxLevel(svns(3, 3), 13, "UpToDate"),
		sgxLevel(svns(3, 3), 11, "SWHardeningNeeded"),
		sgxLevel(svns(2, 9), 13, "ConfigurationNeeded"),
	))
	// Sorted: (3,3)/13, (3,3)/11, (2,9)/13, (1,1)/10.
	wantOrder := []Status{"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "OutOfDate"}
	for i, l := range ti.TCBLevels {
		if l.TCBStatus != wantOrder[i] {
			t.Fatalf("level %d status %s, want %s", i, l.TCBStatus, wantOrder[i])
		}
	}
	for _, c := range []struct {
		comp   [16]uint8
		pcesvn uint16
		want   Status
	}{
		{comp16(3, 3), 13, StatusUpToDate},
		{comp16(9, 9, 9), 20, StatusUpToDate},
		{comp16(3, 3), 12, StatusSWHardeningNeeded}, // PCESVN below the top level
		{comp16(2, 9), 13, StatusConfigurationNeeded},
		{comp16(3, 8), 13, StatusUpToDate},
		{comp16(2, 8), 13, StatusOutOfDate}, // component 2 below (2,9)
		{comp16(1, 1), 10, StatusOutOfDate},
	} {
		l, err := ti.MatchSGX(c.comp, c.pcesvn)
		if err != nil {
			t.Fatalf("%v/%d: %v", c.comp[:2], c.pcesvn, err)
		}
		if l.TCBStatus != c.want {
			t.Errorf("%v/%d: %s, want %s", c.comp[:2], c.pcesvn, l.TCBStatus, c.want)
		}
	}
	for _, c := range []struct {
		comp   [16]uint8
		pcesvn uint16
	}{{comp16(0, 9), 20}, {comp16(1, 1), 9}, {comp16(9, 0), 20}} {
		if _, err := ti.MatchSGX(c.comp, c.pcesvn); !errors.Is(err, ErrNoTCBLevel) {
			t.Errorf("%v/%d: %v, want ErrNoTCBLevel", c.comp[:2], c.pcesvn, err)
		}
	}
	if _, err := ti.MatchTDX(comp16(3, 3), 13, [16]byte{}); err == nil {
		t.Error("MatchTDX on SGX TCB Info succeeded")
	}
}

// TestMatchSVNAbove255: a component SVN above 255 (present in Intel's
// synthetic TDX sample) is never met by a platform byte; QVL would truncate it.
func TestMatchSVNAbove255(t *testing.T) {
	ti := synthTCBInfo(t, tcbInfoDoc(TCBInfoIDSGX, sgxLevel(svns(256), 0, "UpToDate")))
	if _, err := ti.MatchSGX(comp16(255), 0); !errors.Is(err, ErrNoTCBLevel) {
		t.Fatalf("got %v, want ErrNoTCBLevel", err)
	}
}

func TestDuplicateTCBLevels(t *testing.T) {
	d := tcbInfoDoc(TCBInfoIDSGX, sgxLevel(svns(3, 3), 13, "UpToDate"), sgxLevel(svns(3, 3), 13, "OutOfDate"))
	if _, err := ParseTCBInfo(bodyOf(t, "tcbInfo", d)); !errors.Is(err, ErrFormat) {
		t.Fatalf("duplicate SGX levels: %v, want ErrFormat", err)
	}
	// TDX levels that differ only in TDX components are distinct, and are
	// ordered by them.
	ti := synthTCBInfo(t, tcbInfoDoc(TCBInfoIDTDX,
		tdxLevel(svns(3, 3), 13, svns(0, 0, 2), "OutOfDate"),
		tdxLevel(svns(3, 3), 13, svns(0, 0, 3), "UpToDate"),
	))
	if ti.TCBLevels[0].TCBStatus != StatusUpToDate {
		t.Fatalf("first level %s, want UpToDate", ti.TCBLevels[0].TCBStatus)
	}
	d = tcbInfoDoc(TCBInfoIDTDX,
		tdxLevel(svns(3, 3), 13, svns(0, 0, 3), "OutOfDate"),
		tdxLevel(svns(3, 3), 13, svns(0, 0, 3), "UpToDate"))
	if _, err := ParseTCBInfo(bodyOf(t, "tcbInfo", d)); !errors.Is(err, ErrFormat) {
		t.Fatalf("duplicate TDX levels: %v, want ErrFormat", err)
	}
}

// tdxInfo is a TDX TCB Info with two platform levels and TDX module
// identities TDX_01 (isvsvn 6 UpToDate, 4 OutOfDate, 2 Revoked) and
// TDX_03 (isvsvn 3 UpToDate).
func tdxInfo(t *testing.T, levelStatus string) *TCBInfo {
	d := tcbInfoDoc(TCBInfoIDTDX,
		tdxLevel(svns(2, 2), 11, svns(5, 0, 2), "OutOfDate"),
		tdxLevel(svns(3, 3), 11, svns(5, 0, 3), levelStatus),
	)
	d["tdxModuleIdentities"] = []any{
		moduleIdentity("TDX_03", moduleLevel(3, "UpToDate")),
		// Lowercase id and ascending JSON order: QVL matches ids
		// case-insensitively and sorts the levels.
		moduleIdentity("tdx_01", moduleLevel(2, "Revoked"), moduleLevel(4, "OutOfDate"), moduleLevel(6, "UpToDate")),
	}
	return synthTCBInfo(t, d)
}

func TestMatchTDX(t *testing.T) {
	ti := tdxInfo(t, "UpToDate")
	for _, c := range []struct {
		name       string
		tee        [16]byte
		wantLevel  Status
		wantModule Status
		wantID     string
		want       Status
	}{
		// TEE_TCB_SVN[1] > 0: bytes 0-1 are judged by the module identity,
		// so 04 01 03 meets the level [5,0,3] (automata-dcap #69 case).
		{"module 1.6 top level", [16]byte{6, 1, 3}, "UpToDate", "UpToDate", "tdx_01", "UpToDate"},
		{"module 1.4 out of date", [16]byte{4, 1, 3}, "UpToDate", "OutOfDate", "tdx_01", "OutOfDate"},
		{"module 1.5 out of date", [16]byte{5, 1, 3}, "UpToDate", "OutOfDate", "tdx_01", "OutOfDate"},
		{"module 1.2 revoked", [16]byte{2, 1, 3}, "UpToDate", "Revoked", "tdx_01", "Revoked"},
		{"module 3.3", [16]byte{3, 3, 3}, "UpToDate", "UpToDate", "TDX_03", "UpToDate"},
		{"second level", [16]byte{6, 1, 2}, "OutOfDate", "UpToDate", "tdx_01", "OutOfDate"},
		// TEE_TCB_SVN[1] == 0: all 16 bytes compared, module UpToDate.
		{"module version 0", [16]byte{5, 0, 3}, "UpToDate", "UpToDate", "", "UpToDate"},
		{"module version 0 second level", [16]byte{5, 0, 2}, "OutOfDate", "UpToDate", "", "OutOfDate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := ti.MatchTDX(comp16(3, 3), 11, c.tee)
			if err != nil {
				t.Fatal(err)
			}
			if res.TDXLevel.TCBStatus != c.wantLevel || res.ModuleStatus != c.wantModule || res.Status != c.want {
				t.Errorf("level %s module %s status %s, want %s %s %s", res.TDXLevel.TCBStatus, res.ModuleStatus, res.Status,
					c.wantLevel, c.wantModule, c.want)
			}
			if c.wantID == "" {
				if res.ModuleIdentity != nil || res.ModuleLevel != nil || res.Module != *ti.TDXModule {
					t.Errorf("module identity %+v, want the tdxModule default", res.ModuleIdentity)
				}
			} else if res.ModuleIdentity == nil || res.ModuleIdentity.ID != c.wantID || res.ModuleLevel == nil {
				t.Errorf("module identity %+v, want %s", res.ModuleIdentity, c.wantID)
			}
			if res.SGXLevel != &ti.TCBLevels[0] {
				t.Errorf("SGX level is not the first SGX-matching level")
			}
		})
	}

	// Failures.
	for _, c := range []struct {
		name   string
		comp   [16]uint8
		tee    [16]byte
		target error
	}{
		{"no module identity for version 2", comp16(3, 3), [16]byte{6, 2, 3}, ErrTDXModuleMismatch},
		{"module below every level", comp16(3, 3), [16]byte{1, 1, 3}, ErrNoTCBLevel},
		{"module 3 below its level", comp16(3, 3), [16]byte{2, 3, 3}, ErrNoTCBLevel},
		{"no SGX level", comp16(1, 1), [16]byte{6, 1, 3}, ErrNoTCBLevel},
		{"no TDX level", comp16(3, 3), [16]byte{6, 1, 1}, ErrNoTCBLevel},
		{"version 0 compares byte 0", comp16(3, 3), [16]byte{4, 0, 3}, ErrNoTCBLevel},
		// The module identity check comes first in QVL (4.1.2.4.11).
		{"module mismatch before TCB level", comp16(1, 1), [16]byte{6, 9, 3}, ErrTDXModuleMismatch},
	} {
		if _, err := ti.MatchTDX(c.comp, 11, c.tee); !errors.Is(err, c.target) {
			t.Errorf("%s: %v, want %v", c.name, err, c.target)
		}
	}
	if _, err := ti.MatchSGX(comp16(3, 3), 11); err == nil {
		t.Error("MatchSGX on TDX TCB Info succeeded")
	}
}

// TestTDXModuleIdentityMissing: a TCB Info without tdxModuleIdentities
// cannot evaluate a TD whose module major version is not 0.
func TestTDXModuleIdentityMissing(t *testing.T) {
	ti := synthTCBInfo(t, tcbInfoDoc(TCBInfoIDTDX, tdxLevel(svns(3, 3), 11, svns(5, 0, 3), "UpToDate")))
	if _, err := ti.MatchTDX(comp16(3, 3), 11, [16]byte{6, 1, 3}); !errors.Is(err, ErrTDXModuleMismatch) {
		t.Fatalf("got %v, want ErrTDXModuleMismatch", err)
	}
	if res, err := ti.MatchTDX(comp16(3, 3), 11, [16]byte{5, 0, 3}); err != nil || res.Status != StatusUpToDate {
		t.Fatalf("module version 0: %v %v", res, err)
	}
}

// TestModuleConvergence checks QVL's convergeTcbStatusWithTdxModuleStatus
// table through MatchTDX.
func TestModuleConvergence(t *testing.T) {
	for _, c := range []struct {
		platform, module, want Status
	}{
		{"UpToDate", "OutOfDate", "OutOfDate"},
		{"SWHardeningNeeded", "OutOfDate", "OutOfDate"},
		{"ConfigurationNeeded", "OutOfDate", "OutOfDateConfigurationNeeded"},
		{"ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded"},
		{"OutOfDate", "OutOfDate", "OutOfDate"},
		{"OutOfDateConfigurationNeeded", "OutOfDate", "OutOfDateConfigurationNeeded"},
		{"Revoked", "OutOfDate", "Revoked"},
		{"UpToDate", "Revoked", "Revoked"},
		{"ConfigurationNeeded", "Revoked", "Revoked"},
		{"SWHardeningNeeded", "UpToDate", "SWHardeningNeeded"},
		{"Revoked", "UpToDate", "Revoked"},
	} {
		d := tcbInfoDoc(TCBInfoIDTDX, tdxLevel(svns(3, 3), 11, svns(5, 0, 3), string(c.platform)))
		d["tdxModuleIdentities"] = []any{moduleIdentity("TDX_01", moduleLevel(1, string(c.module)))}
		ti := synthTCBInfo(t, d)
		res, err := ti.MatchTDX(comp16(3, 3), 11, [16]byte{1, 1, 3})
		if err != nil {
			t.Fatalf("%s+%s: %v", c.platform, c.module, err)
		}
		if res.Status != c.want {
			t.Errorf("platform %s module %s: %s, want %s", c.platform, c.module, res.Status, c.want)
		}
	}
	// A module level may only be UpToDate, OutOfDate or Revoked.
	d := tcbInfoDoc(TCBInfoIDTDX, tdxLevel(svns(3, 3), 11, svns(5, 0, 3), "UpToDate"))
	d["tdxModuleIdentities"] = []any{moduleIdentity("TDX_01", moduleLevel(1, "ConfigurationNeeded"))}
	ti := synthTCBInfo(t, d)
	if _, err := ti.MatchTDX(comp16(3, 3), 11, [16]byte{1, 1, 3}); !errors.Is(err, ErrUnrecognizedStatus) {
		t.Fatalf("module ConfigurationNeeded: %v, want ErrUnrecognizedStatus", err)
	}
}

func TestRelaunchStatus(t *testing.T) {
	// Top level: TDX components [5,0,3]; module TDX_01 newest isvsvn 6.
	for _, c := range []struct {
		name     string
		platform string
		tee      [16]byte
		svn2     [16]byte
		qe       Status
		want     Status
	}{
		{"module out of date, newer module loaded", "UpToDate", [16]byte{4, 1, 3}, [16]byte{6, 1, 3}, "", StatusTDRelaunchAdvised},
		{"QE up to date", "UpToDate", [16]byte{4, 1, 3}, [16]byte{6, 1, 3}, StatusUpToDate, StatusTDRelaunchAdvised},
		{"configuration needed", "ConfigurationNeeded", [16]byte{4, 1, 3}, [16]byte{6, 1, 3}, "", StatusTDRelaunchAdvisedConfigurationNeeded},
		{"loaded module not newest", "UpToDate", [16]byte{4, 1, 3}, [16]byte{5, 1, 3}, "", StatusOutOfDate},
		{"loaded microcode not newest", "UpToDate", [16]byte{4, 1, 3}, [16]byte{6, 1, 2}, "", StatusOutOfDate},
		{"QE out of date", "UpToDate", [16]byte{4, 1, 3}, [16]byte{6, 1, 3}, StatusOutOfDate, StatusOutOfDate},
		{"module up to date", "UpToDate", [16]byte{6, 1, 3}, [16]byte{6, 1, 3}, "", StatusUpToDate},
		{"platform revoked", "Revoked", [16]byte{4, 1, 3}, [16]byte{6, 1, 3}, "", StatusRevoked},
		// SVN2 module version 0: bytes 0 and 2 against the top level.
		{"svn2 version 0", "UpToDate", [16]byte{4, 1, 3}, [16]byte{5, 0, 3}, "", StatusTDRelaunchAdvised},
		{"svn2 version 0 too old", "UpToDate", [16]byte{4, 1, 3}, [16]byte{4, 0, 3}, "", StatusOutOfDate},
	} {
		t.Run(c.name, func(t *testing.T) {
			ti := tdxInfo(t, c.platform)
			res, err := ti.MatchTDX(comp16(3, 3), 11, c.tee)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ti.RelaunchStatus(res, c.svn2, c.qe)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
	ti := tdxInfo(t, "UpToDate")
	res, err := ti.MatchTDX(comp16(3, 3), 11, [16]byte{4, 1, 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ti.RelaunchStatus(res, [16]byte{6, 7, 3}, ""); !errors.Is(err, ErrTDXModuleMismatch) {
		t.Errorf("unknown SVN2 module version: %v, want ErrTDXModuleMismatch", err)
	}
	if _, err := ti.RelaunchStatus(nil, [16]byte{}, ""); err == nil {
		t.Error("nil result accepted")
	}
}

func TestConvergeStatus(t *testing.T) {
	all := append(append([]Status{}, tcbInfoStatuses...), StatusTDRelaunchAdvised, StatusTDRelaunchAdvisedConfigurationNeeded)
	for _, p := range all {
		for _, q := range []Status{"", StatusUpToDate, StatusOutOfDate, StatusConfigurationNeeded, StatusOutOfDateConfigurationNeeded, StatusRevoked} {
			got, err := ConvergeStatus(p, q)
			if err != nil {
				t.Fatalf("%s+%s: %v", p, q, err)
			}
			want := p
			switch q {
			case StatusRevoked:
				want = StatusRevoked
			case StatusOutOfDate, StatusConfigurationNeeded, StatusOutOfDateConfigurationNeeded:
				switch p {
				case StatusUpToDate, StatusSWHardeningNeeded:
					want = StatusOutOfDate
				case StatusConfigurationNeeded, StatusConfigurationAndSWHardeningNeeded:
					want = StatusOutOfDateConfigurationNeeded
				}
			}
			if got != want {
				t.Errorf("platform %s QE %s: %s, want %s", p, q, got, want)
			}
		}
	}
	for _, c := range [][2]Status{{"Bogus", "UpToDate"}, {"", "UpToDate"}, {"UpToDate", "SWHardeningNeeded"}, {"UpToDate", "Bogus"}} {
		if _, err := ConvergeStatus(c[0], c[1]); !errors.Is(err, ErrUnrecognizedStatus) {
			t.Errorf("%q+%q: %v, want ErrUnrecognizedStatus", c[0], c[1], err)
		}
	}
}

func TestMatchQE(t *testing.T) {
	e := synthIdentity(t, qeIdentityDoc(qeLevel(8, "UpToDate"), qeLevel(6, "OutOfDate"), qeLevel(2, "Revoked")))
	good := EnclaveReport{MiscSelect: 0, ISVProdID: 1, ISVSVN: 8}
	good.Attributes[0] = 0x11
	copy(good.MRSigner[:], mustHex(t, "8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff"))

	for _, c := range []struct {
		svn  uint16
		want Status
	}{{8, "UpToDate"}, {100, "UpToDate"}, {7, "OutOfDate"}, {6, "OutOfDate"}, {5, "Revoked"}, {2, "Revoked"}} {
		r := good
		r.ISVSVN = c.svn
		l, err := e.MatchQE(r)
		if err != nil || l.TCBStatus != c.want {
			t.Errorf("isvsvn %d: %v %v, want %s", c.svn, l, err, c.want)
		}
	}
	r := good
	r.ISVSVN = 1
	if _, err := e.MatchQE(r); !errors.Is(err, ErrNoTCBLevel) {
		t.Errorf("isvsvn 1: %v, want ErrNoTCBLevel", err)
	}

	// Bits outside the masks do not matter.
	r = good
	r.Attributes[0] |= 0x04 // masked out by FB
	r.Attributes[8] = 0xff  // XFRM, masked out
	if _, err := e.MatchQE(r); err != nil {
		t.Errorf("masked-out attribute bits: %v", err)
	}

	for _, c := range []struct {
		field  string
		mutate func(*EnclaveReport)
		want   string
	}{
		{"MISCSELECT", func(r *EnclaveReport) { r.MiscSelect = 1 }, "01000000"},
		{"ATTRIBUTES", func(r *EnclaveReport) { r.Attributes[0] = 0x13 }, "13000000000000000000000000000000"}, // DEBUG bit
		{"MRSIGNER", func(r *EnclaveReport) { r.MRSigner[31] ^= 1 }, ""},
		{"ISVPRODID", func(r *EnclaveReport) { r.ISVProdID = 2 }, "2"},
	} {
		r := good
		c.mutate(&r)
		_, err := e.MatchQE(r)
		var me *IdentityMismatchError
		if !errors.As(err, &me) || !errors.Is(err, ErrIdentityMismatch) || me.Field != c.field || me.Identity != "QE" {
			t.Errorf("%s: %v", c.field, err)
			continue
		}
		if c.want != "" && me.Got != c.want {
			t.Errorf("%s: got %q, want %q (%v)", c.field, me.Got, c.want, err)
		}
	}
}

func TestTDXModuleCheck(t *testing.T) {
	m := TDXModule{AttributesMask: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}}
	if err := m.Check([48]byte{}, [8]byte{7: 1}); err != nil {
		t.Errorf("masked-out bit: %v", err)
	}
	var me *IdentityMismatchError
	if err := m.Check([48]byte{}, [8]byte{1}); !errors.As(err, &me) || me.Field != "SEAMATTRIBUTES" {
		t.Errorf("attributes: %v", err)
	}
	if err := m.Check([48]byte{47: 1}, [8]byte{}); !errors.As(err, &me) || me.Field != "MRSIGNERSEAM" {
		t.Errorf("mrsigner: %v", err)
	}
}

// TestSyntheticSignature signs synthetic documents with a generated key.
func TestSyntheticSignature(t *testing.T) {
	s := newTestSigner(t, cnTCBSigning)
	other := newTestSigner(t, cnTCBSigning)
	ti, err := ParseTCBInfo(s.signedDocBody(t, "tcbInfo", tcbInfoDoc(TCBInfoIDSGX, sgxLevel(svns(1), 1, "UpToDate"))))
	if err != nil {
		t.Fatal(err)
	}
	if err := ti.CheckSignature(s.cert); err != nil {
		t.Fatal(err)
	}
	if err := ti.CheckSignature(other.cert); !errors.Is(err, ErrSignature) {
		t.Fatalf("other key: %v", err)
	}
	e, err := ParseEnclaveIdentity(s.signedDocBody(t, "enclaveIdentity", qeIdentityDoc(qeLevel(1, "UpToDate"))))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CheckSignature(s.cert); err != nil {
		t.Fatal(err)
	}
	// A body rebuilt from Raw (dcap-qvl layout) keeps the signature valid.
	again, err := parseBareTCBInfo(ti.Raw, ti.Signature)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.CheckSignature(s.cert); err != nil {
		t.Fatal(err)
	}
	reparsed, err := ParseTCBInfo(again.Body())
	if err != nil || reparsed.CheckSignature(s.cert) != nil {
		t.Fatalf("synthesized body: %v", err)
	}
	if _, err := parseBareTCBInfo(ti.Raw, ti.Signature[:63]); !errors.Is(err, ErrFormat) {
		t.Fatalf("63-byte signature: %v", err)
	}
}

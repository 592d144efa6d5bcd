package amd

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/evidence/snp"
)

// failedChecks returns name -> class of the failed checks.
func failedChecks(r *Result) map[string]error {
	out := make(map[string]error)
	for _, c := range r.Failed() {
		out[c.Name] = c.Err()
	}
	return out
}

// wantFailures asserts that exactly the given checks failed (besides crl,
// which fails with ErrNoCRL whenever no CRL is given), with the given
// classes, and that the returned error carries each class.
func wantFailures(t *testing.T, r *Result, err error, want map[string]error) {
	t.Helper()
	got := failedChecks(r)
	if _, ok := want[CheckCRL]; !ok && got[CheckCRL] == ErrNoCRL {
		delete(got, CheckCRL)
	}
	if len(got) != len(want) {
		t.Errorf("failed checks: want %v, got %v (%v)", want, got, err)
	}
	for name, class := range want {
		if got[name] != class {
			t.Errorf("check %s: want class %v, got %v (%v)", name, class, got[name], err)
		}
		if !errors.Is(err, class) {
			t.Errorf("error does not wrap %v: %v", class, err)
		}
	}
}

// TestFlippedBytes flips one byte in each region of a real report and
// checks which checks catch it.
func TestFlippedBytes(t *testing.T) {
	ctx := context.Background()
	for _, vec := range vectors(t) {
		v := NewVerifier(nil)
		opt := Options{Now: vec.now, Certs: []*x509.Certificate{vec.vcek}}
		for _, tc := range []struct {
			name string
			off  int
			want map[string]error
		}{
			{"guest_svn", 0x04, map[string]error{CheckSignature: ErrSignature}},
			{"report_data", 0x50 + 7, map[string]error{CheckSignature: ErrSignature}},
			{"measurement", 0x90 + 20, map[string]error{CheckSignature: ErrSignature}},
			{"host_data", 0xC0, map[string]error{CheckSignature: ErrSignature}},
			// REPORTED_TCB byte 0 is the boot loader SPL: the certificate
			// no longer matches and the signature breaks.
			{"reported_tcb", 0x180, map[string]error{CheckTCB: ErrMismatch, CheckSignature: ErrSignature}},
			{"chip_id", 0x1A0 + 63, map[string]error{CheckHWID: ErrMismatch, CheckSignature: ErrSignature}},
			{"launch_tcb", 0x1F0 + 7, map[string]error{CheckSignature: ErrSignature}},
			{"signature R", 0x2A0 + 5, map[string]error{CheckSignature: ErrSignature}},
			{"signature S", 0x2E8 + 47, map[string]error{CheckSignature: ErrSignature}},
		} {
			b := bytes.Clone(vec.raw)
			b[tc.off] ^= 0x01
			r, err := v.VerifyBytes(ctx, b, opt)
			if err == nil {
				t.Errorf("%s/%s: flipped byte at 0x%X verified", vec.name, tc.name, tc.off)
				continue
			}
			t.Run(vec.name+"/"+tc.name, func(t *testing.T) { wantFailures(t, r, err, tc.want) })
		}
		// The virtee crate's own negative case: report byte 21 ^= 0x80.
		b := bytes.Clone(vec.raw)
		b[21] ^= 0x80
		if r, err := v.VerifyBytes(ctx, b, opt); err == nil {
			t.Errorf("%s: byte 21 ^ 0x80 verified", vec.name)
		} else if _, ok := failedChecks(r)[CheckSignature]; !ok {
			t.Errorf("%s: byte 21 ^ 0x80: want a signature failure, got %v", vec.name, err)
		}
	}
}

// TestWrongChain gives each real report certificates it must not accept.
func TestWrongChain(t *testing.T) {
	vecs := vectors(t)
	gosev, virtee := vecs[0], vecs[1]
	genoa := readPEMChain(t, "amd-roots/ask_ark_genoa.pem")
	turinVCEK := readCert(t, "snp-virtee/vcek_turin.der")
	turinChain := readPEMChain(t, "snp-virtee/cert_chain_turin.pem")
	ctx := context.Background()
	v := NewVerifier(nil)
	rep := parse(t, virtee.raw)

	for _, tc := range []struct {
		name    string
		certs   []*x509.Certificate
		product string
		want    map[string]error
	}{
		{"Genoa ASK and ARK for a Milan VCEK", []*x509.Certificate{virtee.vcek, genoa[0], genoa[1]}, "",
			map[string]error{CheckChain: ErrChain}},
		{"Milan ASK with the Genoa ARK", []*x509.Certificate{virtee.vcek, virtee.chain[0], genoa[1]}, "",
			map[string]error{CheckChain: ErrChain}},
		{"Milan VCEK declared Genoa", []*x509.Certificate{virtee.vcek}, "Genoa",
			map[string]error{CheckProduct: ErrMismatch}},
		{"unknown product option", []*x509.Certificate{virtee.vcek}, "Naples",
			map[string]error{CheckProduct: ErrUnsupported}},
		// Another real Milan chip's VCEK chains fine but is for another
		// chip and TCB, and its key did not sign the report.
		{"VCEK of another Milan chip", []*x509.Certificate{gosev.vcek}, "",
			map[string]error{CheckTCB: ErrMismatch, CheckHWID: ErrMismatch, CheckSignature: ErrSignature}},
		// A real Turin VCEK names Turin; with the Milan product given the
		// sources disagree.
		{"Turin VCEK declared Milan", []*x509.Certificate{turinVCEK}, "Milan",
			map[string]error{CheckProduct: ErrMismatch}},
		// Taken at its word (Turin), the chain verifies, but the TCB
		// comparison is unsupported and the chip and key differ.
		{"Turin VCEK", append([]*x509.Certificate{turinVCEK}, turinChain...), "",
			// (It was issued in 2024, after the vector's pinned time.)
			map[string]error{CheckChain: ErrValidity, CheckTCB: ErrUnsupported, CheckHWID: ErrMismatch, CheckSignature: ErrSignature}},
		{"ASK given as the VCEK", []*x509.Certificate{virtee.chain[0]}, "Milan",
			map[string]error{CheckChain: ErrChain}},
		{"no certificate", nil, "Milan", map[string]error{CheckChain: ErrNoCertificate}},
		{"too many certificates", []*x509.Certificate{virtee.vcek, virtee.chain[0], virtee.chain[1], virtee.chain[1]}, "",
			map[string]error{CheckChain: ErrMalformed}},
		{"nil certificate", []*x509.Certificate{virtee.vcek, nil}, "", map[string]error{CheckChain: ErrMalformed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := v.Verify(ctx, rep, Options{Now: virtee.now, Certs: tc.certs, Product: tc.product})
			wantFailures(t, r, err, tc.want)
		})
	}

	// At 2025-01-01 the Turin chain is valid.
	r, _ := v.Verify(ctx, rep, Options{Now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Certs: []*x509.Certificate{turinVCEK}})
	if c, _ := r.Check(CheckChain); !c.OK {
		t.Errorf("Turin chain at 2025-01-01: %s", c.Detail)
	}
	if r.Product != "Turin" || r.ProductName != "Turin" || r.TCB == nil || !r.TCB.HasFMC || r.TCB.Microcode != 9 {
		// Values from snp-virtee/PROVENANCE.md: fmc=0 bl=0 tee=0 snp=0 ucode=9.
		t.Errorf("Turin VCEK facts: product %q (%q), TCB %+v", r.Product, r.ProductName, r.TCB)
	}
}

// TestSignerInfo checks the report.format and hwid checks on signer info
// values the real reports do not have.
func TestSignerInfo(t *testing.T) {
	vec := vectors(t)[1]
	ctx := context.Background()
	v := NewVerifier(nil)
	opt := Options{Now: vec.now, Certs: []*x509.Certificate{vec.vcek}}

	rep := parse(t, vec.raw)
	rep.SignerInfo = snp.SignerInfo(uint32(snp.SigningKeyNone) << 2)
	r, err := v.Verify(ctx, rep, opt)
	wantFailures(t, r, err, map[string]error{CheckReportFormat: ErrUnsupported})
	if len(r.Checks) != 1 {
		t.Errorf("an unsigned report must stop after report.format, got %+v", r.Checks)
	}

	rep = parse(t, vec.raw)
	rep.SignatureAlgo = 2
	r, err = v.Verify(ctx, rep, opt)
	wantFailures(t, r, err, map[string]error{CheckReportFormat: ErrUnsupported})

	// MASK_CHIP_KEY: CHIP_ID is not compared (the signature breaks because
	// the signed signer info changed).
	rep = parse(t, vec.raw)
	rep.SignerInfo |= 2
	rep.ChipID = [64]byte{}
	r, err = v.Verify(ctx, rep, opt)
	wantFailures(t, r, err, map[string]error{CheckSignature: ErrSignature})
	if c, _ := r.Check(CheckHWID); !c.OK || !strings.Contains(c.Detail, "MASK_CHIP_KEY") {
		t.Errorf("masked chip ID: hwid check %+v", c)
	}

	// A report claiming the VLEK must chain to the ASVK: the VCEK is
	// signed by the ASK.
	rep = parse(t, vec.raw)
	rep.SignerInfo = snp.SignerInfo(uint32(snp.SigningKeyVLEK) << 2)
	r, err = v.Verify(ctx, rep, opt)
	wantFailures(t, r, err, map[string]error{CheckChain: ErrChain})
	r, err = v.Verify(ctx, rep, Options{Now: vec.now, Certs: []*x509.Certificate{vec.vcek, vec.chain[0]}})
	wantFailures(t, r, err, map[string]error{CheckChain: ErrChain})
	if r.SigningKey != "vlek" {
		t.Errorf("signing key: want vlek, got %q", r.SigningKey)
	}

	// Zero signature components.
	rep = parse(t, vec.raw)
	rep.SignatureR = [72]byte{}
	r, err = v.Verify(ctx, rep, opt)
	wantFailures(t, r, err, map[string]error{CheckSignature: ErrSignature})

	r, err = v.Verify(ctx, nil, opt)
	wantFailures(t, r, err, map[string]error{CheckReportFormat: ErrMalformed})
}

// TestTimeBoundaries pins the verification time at and just outside the
// valid window from EXPECTED.json.
func TestTimeBoundaries(t *testing.T) {
	ctx := context.Background()
	for _, vec := range vectors(t) {
		v := NewVerifier(nil)
		w := vec.expect.Computed.ValidWindow
		for _, tc := range []struct {
			name string
			now  time.Time
			ok   bool
		}{
			{"notBefore", w[0], true},
			{"notAfter", w[1], true},
			{"before", w[0].Add(-time.Second), false},
			{"after", w[1].Add(time.Second), false},
		} {
			t.Run(vec.name+"/"+tc.name, func(t *testing.T) {
				r, err := v.VerifyBytes(ctx, vec.raw, Options{Now: tc.now, Certs: append([]*x509.Certificate{vec.vcek}, vec.chain...)})
				if tc.ok {
					onlyNoCRL(t, r, err)
					return
				}
				wantFailures(t, r, err, map[string]error{CheckChain: ErrValidity})
				if c, _ := r.Check(CheckChain); !strings.Contains(c.Detail, "VCEK") {
					t.Errorf("validity detail does not name the certificate: %s", c.Detail)
				}
				// The other checks still ran and passed.
				for _, name := range []string{CheckTCB, CheckHWID, CheckSignature} {
					if c, ok := r.Check(name); !ok || !c.OK {
						t.Errorf("%s: want passed, got %+v", name, c)
					}
				}
			})
		}
	}
}

// TestCompareTCB unit-tests the REPORTED_TCB comparison, which a signed
// report cannot reach with a modified REPORTED_TCB (the signature breaks).
func TestCompareTCB(t *testing.T) {
	// The virtee Milan VCEK: bl 3, tee 0, snp 8, ucode 115 (EXPECTED.json);
	// REPORTED_TCB 0x7308000000000003 in the Milan layout.
	cert := &certExtensions{tcb: CertTCB{Bootloader: 3, SNP: 8, Microcode: 115}, have: haveAllTCB}
	const reported = snp.TCBVersion(0x7308000000000003)
	for _, tc := range []struct {
		name     string
		product  string
		ext      *certExtensions
		reported snp.TCBVersion
		class    error
	}{
		{"equal", "Milan", cert, reported, nil},
		{"equal Genoa", "Genoa", cert, reported, nil},
		{"reported above (ucode)", "Milan", cert, reported + 1<<56, ErrMismatch},
		{"reported above (snp)", "Milan", cert, reported + 1<<48, ErrMismatch},
		{"reported above (bl)", "Milan", cert, reported + 1, ErrMismatch},
		{"reported below (tee)", "Milan", &certExtensions{tcb: CertTCB{Bootloader: 3, TEE: 1, SNP: 8, Microcode: 115}, have: haveAllTCB}, reported, ErrMismatch},
		{"reserved byte set", "Milan", cert, reported | 1<<16, ErrMismatch},
		{"Turin", "Turin", cert, reported, ErrUnsupported},
		{"missing ucodeSPL", "Milan", &certExtensions{tcb: cert.tcb, have: haveBL | haveTEE | haveSNP}, reported, ErrMalformed},
		{"fmcSPL on Milan", "Milan", &certExtensions{tcb: CertTCB{Bootloader: 3, SNP: 8, Microcode: 115, HasFMC: true}, have: haveAllTCB}, reported, ErrMismatch},
	} {
		_, err := compareTCB(tc.product, tc.ext, tc.reported)
		if tc.class == nil && err != nil || tc.class != nil && !errors.Is(err, tc.class) {
			t.Errorf("%s: want %v, got %v", tc.name, tc.class, err)
		}
	}
}

// TestParseExtensions checks the extension decoder on the real VCEKs
// (values from EXPECTED.json / PROVENANCE.md) and on malformed values.
func TestParseExtensions(t *testing.T) {
	turin, err := parseExtensions(readCert(t, "snp-virtee/vcek_turin.der"))
	if err != nil {
		t.Fatal(err)
	}
	if turin.productName != "Turin" || len(turin.hwID) != 8 || string(turin.hwID) != "\x1e\x55\x0a\x8e\xe5\xcf\x9f\x4d" ||
		turin.tcb.Microcode != 9 || !turin.tcb.HasFMC {
		t.Errorf("Turin VCEK: %+v", turin)
	}
	for _, tc := range []struct {
		name string
		val  []byte
		f    func([]byte) error
	}{
		{"spl 256", []byte{2, 2, 1, 0}, func(b []byte) error { _, err := spl(b); return err }},
		{"spl negative", []byte{2, 1, 0xff}, func(b []byte) error { _, err := spl(b); return err }},
		{"spl trailing", []byte{2, 1, 1, 0}, func(b []byte) error { _, err := spl(b); return err }},
		{"spl not integer", []byte{4, 1, 1}, func(b []byte) error { _, err := spl(b); return err }},
		{"spl truncated", []byte{2, 2, 1}, func(b []byte) error { _, err := spl(b); return err }},
		{"ia5 trailing", []byte{0x16, 1, 'M', 0}, func(b []byte) error { _, err := ia5(b); return err }},
		{"ia5 wrong tag", []byte{0x0c, 1, 'M'}, func(b []byte) error { _, err := ia5(b); return err }},
		{"ia5 non-ASCII", []byte{0x16, 1, 0xC3}, func(b []byte) error { _, err := ia5(b); return err }},
		{"ia5 constructed", []byte{0x36, 3, 0x16, 1, 'M'}, func(b []byte) error { _, err := ia5(b); return err }},
	} {
		if tc.f(tc.val) == nil {
			t.Errorf("%s: accepted %x", tc.name, tc.val)
		}
	}
}

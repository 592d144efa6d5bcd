package sim

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
)

// testSeed and testNow fix the simulation of most tests.
var (
	testSeed = mustHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	testNow  = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func newTestSim(t testing.TB) *Sim {
	t.Helper()
	s, err := New(InitOptions{Seed: testSeed, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func initTestDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sim")
	if err := Init(dir, InitOptions{Seed: testSeed, Now: testNow}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInitWritesLayout(t *testing.T) {
	dir := initTestDir(t)

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode: want 0700, got %#o", got)
	}
	fi, err = os.Stat(filepath.Join(dir, StateFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("sim.json mode: want 0600, got %#o", got)
	}
	want := `{
  "version": 1,
  "seed": "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
  "now": "2025-06-01T12:00:00Z",
  "validity": "8760h0m0s"
}
`
	if got := string(readFile(t, filepath.Join(dir, StateFile))); got != want {
		t.Errorf("sim.json:\n%s\nwant:\n%s", got, want)
	}

	blk, rest := pem.Decode(readFile(t, filepath.Join(dir, RootFile)))
	if blk == nil || blk.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("root.pem: want one CERTIFICATE block, got %v (%d bytes after)", blk, len(rest))
	}
	root, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("root.pem is not self-signed: %v", err)
	}

	for _, tee := range []string{"sgx", "tdx"} {
		c, err := pcs.LoadDir(filepath.Join(dir, tee))
		if err != nil {
			t.Fatalf("%s: pcs.LoadDir: %v", tee, err)
		}
		if m := c.Missing(); len(m) != 0 {
			t.Errorf("%s: missing collateral %v", tee, m)
		}
		wantID := strings.ToUpper(tee)
		if c.TCBInfo.ID != wantID {
			t.Errorf("%s: TCB Info id: want %q, got %q", tee, wantID, c.TCBInfo.ID)
		}
		last := c.TCBInfoIssuerChain[len(c.TCBInfoIssuerChain)-1]
		if !bytes.Equal(last.Raw, root.Raw) {
			t.Errorf("%s: TCB Info issuer chain does not end in root.pem", tee)
		}
	}
}

func TestInitLoadIdentical(t *testing.T) {
	dir := initTestDir(t)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.RootPEM(), readFile(t, filepath.Join(dir, RootFile))) {
		t.Error("loaded RootPEM differs from root.pem")
	}
	if !bytes.Equal(s.Root().Raw, pemDER(t, readFile(t, filepath.Join(dir, RootFile)))) {
		t.Error("loaded Root differs from root.pem")
	}
	if !s.Now().Equal(testNow) || s.Validity() != 365*24*time.Hour || s.Dir() != dir {
		t.Errorf("loaded Now/Validity/Dir: got %v, %v, %q", s.Now(), s.Validity(), s.Dir())
	}
	if got := s.Seed(); !bytes.Equal(got[:], testSeed) {
		t.Errorf("loaded seed: got %x", got)
	}
	for _, tee := range []string{"sgx", "tdx"} {
		if got, want := s.CollateralDir(tee), filepath.Join(dir, tee); got != want {
			t.Errorf("CollateralDir(%s): want %q, got %q", tee, want, got)
		}
		fromDir, err := pcs.LoadDir(s.CollateralDir(tee))
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Collateral(tee)
		if err != nil {
			t.Fatal(err)
		}
		assertSameCollateral(t, tee, got, fromDir)
	}

	// An in-memory simulation from the same seed and time is the same.
	m := newTestSim(t)
	if !bytes.Equal(m.RootPEM(), s.RootPEM()) {
		t.Error("New with the same seed gives another root")
	}
	for _, tee := range []string{"sgx", "tdx"} {
		a, _ := m.Collateral(tee)
		b, _ := s.Collateral(tee)
		assertSameCollateral(t, tee, a, b)
	}
}

func pemDER(t *testing.T, b []byte) []byte {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("no PEM block")
	}
	return blk.Bytes
}

func assertSameCollateral(t *testing.T, tee string, a, b *pcs.Collateral) {
	t.Helper()
	if !bytes.Equal(a.TCBInfo.Raw, b.TCBInfo.Raw) || !bytes.Equal(a.TCBInfo.Signature, b.TCBInfo.Signature) {
		t.Errorf("%s: TCB Info differs", tee)
	}
	if !bytes.Equal(a.QEIdentity.Raw, b.QEIdentity.Raw) || !bytes.Equal(a.QEIdentity.Signature, b.QEIdentity.Signature) {
		t.Errorf("%s: QE Identity differs", tee)
	}
	if !bytes.Equal(a.PCKCRL.Raw, b.PCKCRL.Raw) || !bytes.Equal(a.RootCACRL.Raw, b.RootCACRL.Raw) {
		t.Errorf("%s: CRLs differ", tee)
	}
	for i, pair := range [][2][]*x509.Certificate{
		{a.TCBInfoIssuerChain, b.TCBInfoIssuerChain},
		{a.QEIdentityIssuerChain, b.QEIdentityIssuerChain},
		{a.PCKCRLIssuerChain, b.PCKCRLIssuerChain},
	} {
		if !bytes.Equal(pcs.EncodePEMChain(pair[0]), pcs.EncodePEMChain(pair[1])) {
			t.Errorf("%s: issuer chain %d differs", tee, i)
		}
	}
}

func TestSeedDeterminesPKI(t *testing.T) {
	a := newTestSim(t)
	other := bytes.Clone(testSeed)
	other[31] ^= 1
	b, err := New(InitOptions{Seed: other, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Root().RawSubjectPublicKeyInfo, b.Root().RawSubjectPublicKeyInfo) {
		t.Error("different seeds give the same root key")
	}
	// A random seed is drawn when none is given.
	r1, err := New(InitOptions{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := New(InitOptions{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Seed() == r2.Seed() || r1.Seed() == ([32]byte{}) {
		t.Error("random seeds repeat or are zero")
	}
}

func TestCollateralValidity(t *testing.T) {
	s, err := New(InitOptions{Seed: testSeed, Now: testNow, Validity: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	want := testNow.Add(48 * time.Hour)
	for _, tee := range []string{"sgx", "tdx"} {
		c, _ := s.Collateral(tee)
		if !c.TCBInfo.NextUpdate.Equal(want) || !c.QEIdentity.NextUpdate.Equal(want) {
			t.Errorf("%s: nextUpdate: want %v, got TCB Info %v, QE Identity %v", tee, want, c.TCBInfo.NextUpdate, c.QEIdentity.NextUpdate)
		}
		if !c.PCKCRL.NextUpdate.Equal(want) || !c.RootCACRL.NextUpdate.Equal(want) {
			t.Errorf("%s: CRL nextUpdate: want %v, got %v, %v", tee, want, c.PCKCRL.NextUpdate, c.RootCACRL.NextUpdate)
		}
		if !c.TCBInfo.IssueDate.Before(testNow) {
			t.Errorf("%s: TCB Info issueDate %v is not before the reference time", tee, c.TCBInfo.IssueDate)
		}
	}
	d, err := New(InitOptions{Seed: testSeed, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := d.Collateral("sgx")
	if want := testNow.AddDate(0, 0, 365); !c.TCBInfo.NextUpdate.Equal(want) {
		t.Errorf("default validity: want nextUpdate %v, got %v", want, c.TCBInfo.NextUpdate)
	}
}

func TestDefaultNow(t *testing.T) {
	before := time.Now().Truncate(time.Second)
	s, err := New(InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	if s.Now().Before(before) || s.Now().After(after) || s.Now().Nanosecond() != 0 || s.Now().Location() != time.UTC {
		t.Errorf("default Now: want the current time in whole seconds (UTC), got %v", s.Now())
	}
}

func TestCollateralCachedAndTEEs(t *testing.T) {
	s := newTestSim(t)
	for _, tee := range []string{"sgx", "tdx"} {
		a, err := s.Collateral(tee)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.Collateral(tee)
		if a != b {
			t.Errorf("%s: Collateral returns a new pointer on each call", tee)
		}
		if a.Source != "simulated" {
			t.Errorf("%s: Source: want %q, got %q", tee, "simulated", a.Source)
		}
		if got := s.CollateralDir(tee); got != "" {
			t.Errorf("in-memory CollateralDir(%s): want \"\", got %q", tee, got)
		}
	}
	for _, tee := range []string{"", "SGX", "snp"} {
		if _, err := s.Collateral(tee); err == nil || !strings.Contains(err.Error(), `want "sgx" or "tdx"`) {
			t.Errorf("Collateral(%q): want a TEE error, got %v", tee, err)
		}
		if _, err := s.Attester(tee, Measurements{}); err == nil {
			t.Errorf("Attester(%q): want an error", tee)
		}
	}
	dir := initTestDir(t)
	l, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.CollateralDir("snp"); got != "" {
		t.Errorf("CollateralDir(snp): want \"\", got %q", got)
	}
}

func TestRootPEMIsACopy(t *testing.T) {
	s := newTestSim(t)
	p := s.RootPEM()
	p[0] ^= 0xff
	if bytes.Equal(p, s.RootPEM()) {
		t.Error("RootPEM returns the internal slice")
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts InitOptions
		want string
	}{
		{"short seed", InitOptions{Seed: make([]byte, 31)}, "seed: want 32 bytes, got 31"},
		{"long seed", InitOptions{Seed: make([]byte, 33)}, "seed: want 32 bytes, got 33"},
		{"empty seed", InitOptions{Seed: []byte{}}, "seed: want 32 bytes, got 0"},
		{"negative validity", InitOptions{Validity: -time.Hour}, "validity"},
		{"long validity", InitOptions{Validity: MaxValidity + time.Second}, "validity"},
		{"early now", InitOptions{Now: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}, "year between 1971 and 9970, got 1900"},
		{"late now", InitOptions{Now: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, "got 9999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: want error containing %q, got %v", tc.want, err)
			}
			dir := filepath.Join(t.TempDir(), "sim")
			if err := Init(dir, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Init: want error containing %q, got %v", tc.want, err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Init with bad options created %s", dir)
			}
		})
	}
	if err := Init("", InitOptions{}); err == nil {
		t.Error("Init(\"\"): want an error")
	}
}

func TestInitRefusesExisting(t *testing.T) {
	dir := initTestDir(t)
	before := readFile(t, filepath.Join(dir, StateFile))
	err := Init(dir, InitOptions{Now: testNow})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second Init: want an already-exists error, got %v", err)
	}
	if !bytes.Equal(before, readFile(t, filepath.Join(dir, StateFile))) {
		t.Error("second Init changed sim.json")
	}
	if _, err := Load(dir); err != nil {
		t.Errorf("Load after refused Init: %v", err)
	}
}

func TestInitIntoExistingEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := Init(dir, InitOptions{Seed: testSeed, Now: testNow}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err != nil {
		t.Fatal(err)
	}
}

// TestLoadTampered changes one thing in an initialized directory and
// expects Load to refuse it.
func TestLoadTampered(t *testing.T) {
	state := func(seed, now, extra string) string {
		return `{"version":1,"seed":"` + seed + `","now":"` + now + `"` + extra + `}`
	}
	seedHex := hex.EncodeToString(testSeed)
	otherSeed := "ff" + seedHex[2:]
	for _, tc := range []struct {
		name   string
		file   string
		data   []byte // nil: remove the file
		want   string
		modify func([]byte) []byte
	}{
		{name: "other seed", file: StateFile, data: []byte(state(otherSeed, "2025-06-01T12:00:00Z", "")), want: "root.pem does not match"},
		{name: "other time", file: StateFile, data: []byte(state(seedHex, "2025-06-01T12:00:01Z", "")), want: "root.pem does not match"},
		{name: "other validity", file: StateFile, data: []byte(state(seedHex, "2025-06-01T12:00:00Z", `,"validity":"1h"`)), want: "tcb_info.json does not match"},
		{name: "version 2", file: StateFile, data: []byte(`{"version":2,"seed":"` + seedHex + `","now":"2025-06-01T12:00:00Z"}`), want: "version: want 1, got 2"},
		{name: "truncated", file: StateFile, modify: func(b []byte) []byte { return b[:len(b)/2] }, want: "malformed JSON"},
		{name: "unknown field", file: StateFile, data: []byte(state(seedHex, "2025-06-01T12:00:00Z", `,"key":"x"`)), want: "unknown field"},
		{name: "no sim.json", file: StateFile, want: "no such file"},
		{name: "root changed", file: RootFile, modify: func(b []byte) []byte { return append(b, '\n') }, want: "root.pem does not match"},
		{name: "no root", file: RootFile, want: "no such file"},
		{name: "TCB Info changed", file: "tdx/" + pcs.FileTCBInfo, modify: func(b []byte) []byte { return bytes.Replace(b, []byte("UpToDate"), []byte("OutOfDate"), 1) }, want: "tdx/tcb_info.json does not match"},
		{name: "PCK CRL changed", file: "sgx/" + pcs.FilePCKCRL, modify: func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, want: "sgx/pck_crl.der does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := initTestDir(t)
			path := filepath.Join(dir, tc.file)
			data := tc.data
			if tc.modify != nil {
				data = tc.modify(readFile(t, path))
			}
			if data == nil {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load: want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestLoadWithoutCollateralFiles(t *testing.T) {
	dir := initTestDir(t)
	if err := os.RemoveAll(filepath.Join(dir, "sgx")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "tdx", pcs.FileRootCACRL)); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err != nil {
		t.Errorf("Load with collateral files removed: %v", err)
	}
}

func TestParseState(t *testing.T) {
	seedHex := hex.EncodeToString(testSeed)
	good := `{"version":1,"seed":"` + seedHex + `","now":"2025-06-01T12:00:00Z"}`
	seed, now, validity, err := parseState([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(seed[:], testSeed) || !now.Equal(testNow) || now.Location() != time.UTC || validity != DefaultValidity {
		t.Errorf("parseState: got %x, %v, %v", seed, now, validity)
	}
	// An offset time is the same instant, kept in UTC.
	_, now, _, err = parseState([]byte(`{"version":1,"seed":"` + seedHex + `","now":"2025-06-01T14:00:00+02:00","validity":"720h"}`))
	if err != nil || !now.Equal(testNow) || now.Location() != time.UTC {
		t.Errorf("offset time: got %v, %v", now, err)
	}

	for _, tc := range []struct{ name, in, want string }{
		{"empty", ``, "malformed JSON"},
		{"not an object", `[]`, "malformed JSON"},
		{"trailing data", good + `{}`, "data after the object"},
		{"trailing garbage", good + `x`, "data after the object"},
		{"missing version", `{"seed":"` + seedHex + `","now":"2025-06-01T12:00:00Z"}`, "version: want 1, got 0"},
		{"version string", `{"version":"1","seed":"` + seedHex + `","now":"2025-06-01T12:00:00Z"}`, "malformed JSON"},
		{"short seed", `{"version":1,"seed":"` + seedHex[:62] + `","now":"2025-06-01T12:00:00Z"}`, "seed: want 64 hex digits, got 62"},
		{"long seed", `{"version":1,"seed":"` + seedHex + `00","now":"2025-06-01T12:00:00Z"}`, "seed: want 64 hex digits, got 66"},
		{"non-hex seed", `{"version":1,"seed":"` + "zz" + seedHex[2:] + `","now":"2025-06-01T12:00:00Z"}`, "seed: want hex digits"},
		{"missing now", `{"version":1,"seed":"` + seedHex + `"}`, "now: want an RFC 3339 time"},
		{"bad now", `{"version":1,"seed":"` + seedHex + `","now":"2025-06-01 12:00:00"}`, "now: want an RFC 3339 time"},
		{"fractional now", `{"version":1,"seed":"` + seedHex + `","now":"2025-06-01T12:00:00.5Z"}`, "now: want whole seconds"},
		{"ancient now", `{"version":1,"seed":"` + seedHex + `","now":"1900-06-01T12:00:00Z"}`, "year between"},
		{"bad validity", `{"version":1,"seed":"` + seedHex + `","now":"2025-06-01T12:00:00Z","validity":"1 year"}`, "validity: want a duration"},
		{"zero validity", `{"version":1,"seed":"` + seedHex + `","now":"2025-06-01T12:00:00Z","validity":"0s"}`, "validity: want more than 0"},
		{"long validity", `{"version":1,"seed":"` + seedHex + `","now":"2025-06-01T12:00:00Z","validity":"100000h"}`, "validity: want more than 0"},
		{"too large", `{"version":1,"seed":"` + seedHex + `","now":"2025-06-01T12:00:00Z"}` + strings.Repeat(" ", maxStateSize), "size: want at most 4096 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, _, err := parseState([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestStateRoundTrip(t *testing.T) {
	for _, v := range []time.Duration{time.Second, 90 * time.Minute, DefaultValidity, MaxValidity} {
		b, err := encodeState([32]byte(testSeed), testNow, v)
		if err != nil {
			t.Fatal(err)
		}
		seed, now, validity, err := parseState(b)
		if err != nil {
			t.Fatalf("validity %v: %v", v, err)
		}
		if !bytes.Equal(seed[:], testSeed) || !now.Equal(testNow) || validity != v {
			t.Errorf("round trip of validity %v: got %x, %v, %v", v, seed, now, validity)
		}
	}
}

func TestProvider(t *testing.T) {
	s, err := New(InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Provider()
	for _, tee := range []pcs.TEE{pcs.TEESGX, pcs.TEETDX} {
		got, err := p.Collateral(context.Background(), pcs.Request{TEE: tee, CA: pcs.CAProcessor})
		if err != nil {
			t.Fatalf("%s: %v", tee, err)
		}
		want, _ := s.Collateral(string(tee))
		if got != want || got.TCBInfo == nil {
			t.Errorf("%s: want the simulation's %s collateral", tee, tee)
		}
	}
}

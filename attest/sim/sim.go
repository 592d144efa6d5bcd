package sim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/internal/dcapsim"
	"github.com/ratls/ratls/verify/intel"
)

// TEE names accepted by [Sim.Collateral], [Sim.CollateralDir] and
// [Sim.Attester].
const (
	TEESGX = "sgx"
	TEETDX = "tdx"
)

// Names of the files and directories [Init] writes.
const (
	StateFile = "sim.json"
	RootFile  = "root.pem"
	// PolicyFile is an appraisal policy with the reference values of the
	// default simulated enclave and TD (ReferencePolicy), written by Init.
	PolicyFile = "policy.json"
)

// SeedSize is the size of a simulation seed in bytes.
const SeedSize = 32

// stateVersion is the version of the sim.json format and of the derivation
// of the PKI from the seed.
const stateVersion = 1

// Validity bounds. Collateral (TCB Info, QE Identity, CRLs) is valid until
// the reference time plus the validity.
//
// Intel's PCS serves collateral valid for 30 days. A simulation lives on
// disk and is used for a while, so the default is a year; it cannot exceed
// MaxValidity because the simulated TCB signing and PCK certificates expire
// seven years after the reference time.
const (
	DefaultValidity = 365 * 24 * time.Hour
	MaxValidity     = 7 * 365 * 24 * time.Hour
)

// Names in the simulated certificates. commonNamePrefix starts every common
// name ("ratls Simulated SGX Root CA", "... PCK Platform CA",
// "... PCK Processor CA", "... TCB Signing", "... PCK Certificate"). The CRL
// distribution points use the reserved .invalid domain: they name nothing
// that could be fetched.
const (
	commonNamePrefix = "ratls Simulated SGX"
	rootCRLURL       = "https://simulated.ratls.invalid/SimulatedSGXRootCA.der"
	pckCRLURLBase    = "https://simulated.ratls.invalid/sgx/certification/v4/pckcrl"
)

// maxStateSize bounds sim.json, which is a few hundred bytes.
const maxStateSize = 4096

// Directory and file permissions of Init: the seed derives every simulated
// private key, so the directory and sim.json are private.
const (
	dirPermission   = 0o700
	statePermission = 0o600
	rootPermission  = 0o644
)

// InitOptions configures [Init] and [New]. The zero value is usable.
type InitOptions struct {
	// Seed is the 32-byte seed every key and identifier derives from. Nil
	// means 32 random bytes from crypto/rand.
	Seed []byte
	// Now is the reference time: certificates and collateral are valid
	// around it and quotes evaluate to UpToDate at it. Zero means
	// time.Now(). It is truncated to the second and kept in UTC.
	Now time.Time
	// Validity is how long after Now the collateral stays valid (its
	// nextUpdate). Zero means DefaultValidity; at most MaxValidity.
	Validity time.Duration
}

// Sim is a simulated SGX and TDX platform under a simulation root CA. It is
// safe for concurrent use.
type Sim struct {
	seed     [SeedSize]byte
	now      time.Time
	validity time.Duration
	dir      string // "" for an in-memory simulation

	pki       *dcapsim.PKI
	rootPEM   []byte
	platforms map[string]*dcapsim.Platform
	// raw holds the signed collateral bytes Init writes; parsed holds
	// them parsed, returned by Collateral. Both are built once.
	raw    map[string]*dcapsim.Collateral
	parsed map[string]*pcs.Collateral
}

// New returns an in-memory simulation, for tests and demonstrations.
func New(opts InitOptions) (*Sim, error) {
	seed, now, validity, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	return build(seed, now, validity, "")
}

// resolve applies the defaults of o and checks it.
func (o InitOptions) resolve() (seed [SeedSize]byte, now time.Time, validity time.Duration, err error) {
	switch {
	case o.Seed == nil:
		if _, err = io.ReadFull(rand.Reader, seed[:]); err != nil {
			return seed, now, 0, fmt.Errorf("sim: generating seed: %w", err)
		}
	case len(o.Seed) != SeedSize:
		return seed, now, 0, fmt.Errorf("sim: seed: want %d bytes, got %d", SeedSize, len(o.Seed))
	default:
		copy(seed[:], o.Seed)
	}
	now = o.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Second)
	if err = checkNow(now); err != nil {
		return seed, now, 0, err
	}
	validity = o.Validity
	if validity == 0 {
		validity = DefaultValidity
	}
	if err = checkValidity(validity); err != nil {
		return seed, now, 0, err
	}
	return seed, now, validity, nil
}

// checkNow requires a reference time that sim.json can hold (RFC 3339 has
// four-digit years) with room for the certificate validities around it.
func checkNow(now time.Time) error {
	if y := now.Year(); y < 1971 || y > 9970 {
		return fmt.Errorf("sim: reference time: want a year between 1971 and 9970, got %d", y)
	}
	return nil
}

func checkValidity(v time.Duration) error {
	if v <= 0 || v > MaxValidity {
		return fmt.Errorf("sim: validity: want more than 0 and at most %v, got %v", MaxValidity, v)
	}
	return nil
}

// seedStream is the PKI's random source. While the simulation is built it
// reads the ChaCha8 stream of the seed, so that the seed determines the PKI;
// afterwards it reads crypto/rand, so that nothing done later can depend on
// or disturb the seed stream. The lock makes it safe for concurrent use
// (math/rand/v2 generators are not).
type seedStream struct {
	mu sync.Mutex
	r  io.Reader
}

func (s *seedStream) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.Read(p)
}

func (s *seedStream) detach() {
	s.mu.Lock()
	s.r = rand.Reader
	s.mu.Unlock()
}

// derivationLabel separates the ChaCha8 key from the raw seed, and names the
// derivation version: another derivation gets another label.
const derivationLabel = "ratls simulated TEE v1\x00"

// build derives the PKI and both platforms from the seed. The order of the
// calls fixes the draws from the seed stream: it must not change within a
// stateVersion (Load detects a change by comparing root.pem).
func build(seed [SeedSize]byte, now time.Time, validity time.Duration, dir string) (*Sim, error) {
	h := sha256.New()
	h.Write([]byte(derivationLabel))
	h.Write(seed[:])
	var key [32]byte
	copy(key[:], h.Sum(nil))
	src := &seedStream{r: mrand.NewChaCha8(key)}

	pki, err := dcapsim.New(dcapsim.Options{
		Now:              now,
		Rand:             src,
		CommonNamePrefix: commonNamePrefix,
		Organization:     intel.SimulatedOrganization,
		RootCRLURL:       rootCRLURL,
		PCKCRLURLBase:    pckCRLURLBase,
	})
	if err != nil {
		return nil, fmt.Errorf("sim: building the simulated PKI: %w", err)
	}
	s := &Sim{
		seed:      seed,
		now:       now,
		validity:  validity,
		dir:       dir,
		pki:       pki,
		rootPEM:   pki.RootPEM(),
		platforms: make(map[string]*dcapsim.Platform, 2),
		raw:       make(map[string]*dcapsim.Collateral, 2),
		parsed:    make(map[string]*pcs.Collateral, 2),
	}
	for _, tee := range []string{TEESGX, TEETDX} {
		pl, err := pki.DefaultPlatform(tee == TEETDX)
		if err != nil {
			return nil, fmt.Errorf("sim: building the simulated %s platform: %w", tee, err)
		}
		s.platforms[tee] = pl
	}
	src.detach()

	nextUpdate := now.Add(validity)
	for _, tee := range []string{TEESGX, TEETDX} {
		pl := s.platforms[tee]
		pl.TCBInfoOptions.NextUpdate = nextUpdate
		pl.QEIdentityOptions.NextUpdate = nextUpdate
		pl.CRLNextUpdate = nextUpdate
		// Replace the test PKI's "dcaptest" labels in values no verifier
		// checks, so that simulated quotes never mention the test package.
		if tee == TEETDX {
			pl.QuoteOptions.QE.MREnclave = sha256.Sum256([]byte("ratls simulated TD quoting enclave"))
			pl.QuoteOptions.TD.MRSEAM = sha384([]byte("ratls simulated TDX module"))
		} else {
			pl.QuoteOptions.QE.MREnclave = sha256.Sum256([]byte("ratls simulated quoting enclave"))
		}
		raw, err := pl.Collateral()
		if err != nil {
			return nil, fmt.Errorf("sim: signing %s collateral: %w", tee, err)
		}
		source := "simulated"
		if dir != "" {
			source = "simulated:" + filepath.Join(dir, tee)
		}
		parsed, err := parseCollateral(raw, source)
		if err != nil {
			return nil, fmt.Errorf("sim: %s collateral: %w", tee, err)
		}
		s.raw[tee], s.parsed[tee] = raw, parsed
	}
	return s, nil
}

// parseCollateral parses signed collateral bytes the way pcs.LoadDir parses
// the files holding them.
func parseCollateral(c *dcapsim.Collateral, source string) (*pcs.Collateral, error) {
	out := &pcs.Collateral{Source: source}
	var err error
	if out.TCBInfo, err = pcs.ParseTCBInfo(c.TCBInfo); err != nil {
		return nil, err
	}
	if out.QEIdentity, err = pcs.ParseEnclaveIdentity(c.QEIdentity); err != nil {
		return nil, err
	}
	for _, ch := range []struct {
		pem []byte
		dst *[]*x509.Certificate
	}{
		{c.TCBInfoIssuerChain, &out.TCBInfoIssuerChain},
		{c.QEIdentityIssuerChain, &out.QEIdentityIssuerChain},
		{c.PCKCRLIssuerChain, &out.PCKCRLIssuerChain},
	} {
		if *ch.dst, err = pcs.ParsePEMChain(ch.pem); err != nil {
			return nil, err
		}
	}
	if out.PCKCRL, err = pcs.ParseCRL(c.PCKCRL); err != nil {
		return nil, err
	}
	if out.RootCACRL, err = pcs.ParseCRL(c.RootCRL); err != nil {
		return nil, err
	}
	return out, nil
}

// Init creates a simulation in dir: the directory (mode 0700, created if
// needed), sim.json (mode 0600) holding the seed and reference time,
// root.pem (the simulation root to give verifiers as a trusted root) and the
// collateral directories sgx/ and tdx/ in the layout of pcs.LoadDir. It
// refuses to overwrite an existing sim.json; sim.json is written last, so a
// failed Init leaves no simulation that Load would accept.
func Init(dir string, opts InitOptions) error {
	if dir == "" {
		return errors.New("sim: init: empty directory name")
	}
	seed, now, validity, err := opts.resolve()
	if err != nil {
		return err
	}
	statePath := filepath.Join(dir, StateFile)
	if _, err := os.Lstat(statePath); err == nil {
		return fmt.Errorf("sim: init: %s already exists; remove it to create a new simulation", statePath)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sim: init: %w", err)
	}
	s, err := build(seed, now, validity, dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, dirPermission); err != nil {
		return fmt.Errorf("sim: init: %w", err)
	}
	for _, tee := range []string{TEESGX, TEETDX} {
		if err := s.raw[tee].WriteDir(filepath.Join(dir, tee)); err != nil {
			return fmt.Errorf("sim: init: %s collateral: %w", tee, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, RootFile), s.rootPEM, rootPermission); err != nil {
		return fmt.Errorf("sim: init: %w", err)
	}
	pol, err := json.MarshalIndent(ReferencePolicy(Measurements{}), "", "  ")
	if err != nil {
		return fmt.Errorf("sim: init: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, PolicyFile), append(pol, '\n'), rootPermission); err != nil {
		return fmt.Errorf("sim: init: %w", err)
	}
	state, err := encodeState(seed, now, validity)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(statePath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, statePermission)
	if err != nil {
		return fmt.Errorf("sim: init: %w", err)
	}
	if _, err := f.Write(state); err != nil {
		f.Close()
		return fmt.Errorf("sim: init: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sim: init: %w", err)
	}
	return nil
}

// Load rebuilds the simulation Init wrote to dir from its sim.json. The
// rebuilt root must equal root.pem byte for byte, and the collateral files
// present in sgx/ and tdx/ must equal the rebuilt collateral: a mismatch
// means the files were changed or written by an incompatible version, and
// quotes would not verify against them.
func Load(dir string) (*Sim, error) {
	b, err := readLimited(filepath.Join(dir, StateFile), maxStateSize)
	if err != nil {
		return nil, fmt.Errorf("sim: load: %w", err)
	}
	seed, now, validity, err := parseState(b)
	if err != nil {
		return nil, fmt.Errorf("sim: load %s: %w", filepath.Join(dir, StateFile), err)
	}
	s, err := build(seed, now, validity, dir)
	if err != nil {
		return nil, err
	}
	rootPath := filepath.Join(dir, RootFile)
	root, err := readLimited(rootPath, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("sim: load: %w", err)
	}
	if !bytes.Equal(root, s.rootPEM) {
		return nil, fmt.Errorf("sim: load: %s does not match the root derived from %s (want SHA-256 %x, got %x): the files were changed or written by an incompatible version",
			rootPath, StateFile, sha256.Sum256(s.rootPEM), sha256.Sum256(root))
	}
	for _, tee := range []string{TEESGX, TEETDX} {
		if err := s.checkCollateralDir(tee); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// checkCollateralDir compares the collateral files present in dir/tee with
// the rebuilt collateral.
func (s *Sim) checkCollateralDir(tee string) error {
	c := s.raw[tee]
	for _, f := range []struct {
		name string
		want []byte
	}{
		{dcapsim.FileTCBInfo, c.TCBInfo},
		{dcapsim.FileTCBInfoIssuerChain, c.TCBInfoIssuerChain},
		{dcapsim.FileQEIdentity, c.QEIdentity},
		{dcapsim.FileQEIdentityIssuerChain, c.QEIdentityIssuerChain},
		{dcapsim.FilePCKCRL, c.PCKCRL},
		{dcapsim.FilePCKCRLIssuerChain, c.PCKCRLIssuerChain},
		{dcapsim.FileRootCRL, c.RootCRL},
	} {
		path := filepath.Join(s.dir, tee, f.name)
		got, err := readLimited(path, pcs.MaxJSONSize)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sim: load: %w", err)
		}
		if !bytes.Equal(got, f.want) {
			return fmt.Errorf("sim: load: %s does not match the collateral derived from %s: the file was changed or written by an incompatible version", path, StateFile)
		}
	}
	return nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: want at most %d bytes, got more", path, limit)
	}
	return b, nil
}

// stateJSON is the content of sim.json.
type stateJSON struct {
	Version  int    `json:"version"`
	Seed     string `json:"seed"`
	Now      string `json:"now"`
	Validity string `json:"validity,omitempty"`
}

func encodeState(seed [SeedSize]byte, now time.Time, validity time.Duration) ([]byte, error) {
	b, err := json.MarshalIndent(stateJSON{
		Version:  stateVersion,
		Seed:     hex.EncodeToString(seed[:]),
		Now:      now.UTC().Format(time.RFC3339),
		Validity: validity.String(),
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sim: encoding %s: %w", StateFile, err)
	}
	return append(b, '\n'), nil
}

// parseState parses the content of sim.json strictly: a JSON object with
// version 1, seed (64 hex digits), now (RFC 3339, whole seconds) and
// optionally validity (a Go duration, default DefaultValidity), and nothing
// else.
func parseState(b []byte) (seed [SeedSize]byte, now time.Time, validity time.Duration, err error) {
	if len(b) > maxStateSize {
		return seed, now, 0, fmt.Errorf("size: want at most %d bytes, got %d", maxStateSize, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var st stateJSON
	if err := dec.Decode(&st); err != nil {
		return seed, now, 0, fmt.Errorf("malformed JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return seed, now, 0, errors.New("malformed JSON: data after the object")
	}
	if st.Version != stateVersion {
		return seed, now, 0, fmt.Errorf("version: want %d, got %d", stateVersion, st.Version)
	}
	if len(st.Seed) != 2*SeedSize {
		return seed, now, 0, fmt.Errorf("seed: want %d hex digits, got %d characters", 2*SeedSize, len(st.Seed))
	}
	if _, err := hex.Decode(seed[:], []byte(st.Seed)); err != nil {
		return seed, now, 0, fmt.Errorf("seed: want hex digits: %w", err)
	}
	if now, err = time.Parse(time.RFC3339, st.Now); err != nil {
		return seed, now, 0, fmt.Errorf("now: want an RFC 3339 time: %w", err)
	}
	if !now.Equal(now.Truncate(time.Second)) {
		return seed, now, 0, fmt.Errorf("now: want whole seconds, got %q", st.Now)
	}
	now = now.UTC()
	if err := checkNow(now); err != nil {
		return seed, now, 0, err
	}
	validity = DefaultValidity
	if st.Validity != "" {
		if validity, err = time.ParseDuration(st.Validity); err != nil {
			return seed, now, 0, fmt.Errorf("validity: want a duration such as \"8760h\": %w", err)
		}
	}
	if err := checkValidity(validity); err != nil {
		return seed, now, 0, err
	}
	return seed, now, validity, nil
}

// Root returns the simulation root CA certificate. The certificate is
// shared: do not modify it.
func (s *Sim) Root() *x509.Certificate { return s.pki.Root }

// RootPEM returns the simulation root CA certificate in PEM form, the
// content of root.pem.
func (s *Sim) RootPEM() []byte { return bytes.Clone(s.rootPEM) }

// Now returns the reference time.
func (s *Sim) Now() time.Time { return s.now }

// Validity returns how long after Now the collateral is valid.
func (s *Sim) Validity() time.Duration { return s.validity }

// Seed returns the seed the simulation derives from. Anyone holding it can
// produce quotes the simulation root vouches for.
func (s *Sim) Seed() [SeedSize]byte { return s.seed }

// Dir returns the directory the simulation was created in or loaded from,
// "" for an in-memory simulation.
func (s *Sim) Dir() string { return s.dir }

// Collateral returns the parsed collateral of the simulated SGX or TDX
// platform. It returns the same pointer on every call, so verifier caches
// keyed by collateral identity work; do not modify it.
func (s *Sim) Collateral(tee string) (*pcs.Collateral, error) {
	c, ok := s.parsed[tee]
	if !ok {
		return nil, teeError(tee)
	}
	return c, nil
}

// Provider returns the simulation's collateral as a pcs.Provider for both
// simulated TEEs, so that a verifier (or a verification service) is set up
// as with Intel's PCS: it answers requests for SGX and TDX collateral of any
// FMSPC with the simulated platform's collateral.
func (s *Sim) Provider() pcs.Provider { return provider{s} }

type provider struct{ s *Sim }

func (p provider) Collateral(_ context.Context, req pcs.Request) (*pcs.Collateral, error) {
	tee := TEESGX
	if req.TEE == pcs.TEETDX {
		tee = TEETDX
	}
	return p.s.Collateral(tee)
}

// CollateralDir returns the collateral directory of the simulated SGX or TDX
// platform (dir/sgx or dir/tdx), or "" for an in-memory simulation or an
// unknown TEE.
func (s *Sim) CollateralDir(tee string) string {
	if s.dir == "" || (tee != TEESGX && tee != TEETDX) {
		return ""
	}
	return filepath.Join(s.dir, tee)
}

func teeError(tee string) error {
	return fmt.Errorf("sim: TEE: want %q or %q, got %q", TEESGX, TEETDX, tee)
}

// Package intel verifies Intel SGX and TDX DCAP quotes the way Intel's
// Quote Verification Library does: the quote signature by the attestation
// key, the QE report signature by the PCK key and its binding of the
// attestation key, the PCK certificate chain to the Intel SGX Root CA
// (pinned by key; the chain's root must be a copy of it or correctly
// self-signed), CRLs, the signatures and validity of the TCB Info and QE
// Identity, and the TCB level evaluation with Intel's ordering and status
// convergence rules.
//
// Package ratls runs this verifier for every SGX or TDX quote it verifies
// (VerifyCertificate, VerifyEvidence, PeerVerifier) and appraises the
// result with package appraise; use this package directly to verify quotes
// under a policy of your own. Collateral comes from collateral/pcs. Create
// one Verifier per process and reuse it: its caches make repeated
// verifications cheap.
//
// A Verifier proves facts; it does not decide whether they are good enough.
// Every check it ran is in the Result, with what was expected and found.
// Acceptance (which TCB statuses, which measurements) is for a policy.
//
// Work that depends only on collateral or on a platform (PCK chains, QE
// reports, collateral signatures) is verified once and cached by a hash of
// the exact bytes it vouches for, so verifying another quote from a known
// platform costs one ECDSA P-256 verification plus bookkeeping. A PCK CA is
// verified once for all the platforms it certifies, so a new platform
// costs its PCK certificate, QE report and quote signatures; collateral of
// many FMSPCs shares the checks of its common parts. The caches are bounded
// by memory (Config.CacheBytes) and drop the least recently used entries
// first; Verifier.CacheStats reports their hits, misses and evictions.
//
// # Expired collateral
//
// Collateral past its next update is still evaluated, as Intel's QVL
// evaluates it and reports the expiry separately: tcb_info.validity,
// qe_identity.validity, pck_crl or root_ca_crl fails with ErrValidity (the
// one condition a policy may excuse), and the TCB level, the QE identity
// match and the revocation lookups still run and apply. Collateral whose
// signature does not verify, or whose signer is revoked, is not used.
//
// # Collateral precedence
//
// A verification draws on up to two collateral sources: the verifier's own
// (Options.Collateral, or what Options.Provider answers) and the attester's
// (Options.PeerCollateral, such as an RA-TLS certificate's endorsements
// extension). The attester chooses what it sends, so its collateral may be
// old or selective:
//
//   - The verifier's own collateral wins. Each item (TCB Info, QE
//     Identity, PCK CRL, root CA CRL) is taken from the attester's
//     collateral only when the verifier's own has no current item for this
//     platform: no own collateral at all; a Provider error saying that it
//     has nothing for the platform or only expired collateral (matching
//     fs.ErrNotExist, as *pcs.MissingError does, or pcs.ErrExpired) or
//     that it cannot be reached (an HTTP 404, 429 or 5xx answer, a network
//     error, a timeout), while any other Provider error fails the
//     verification; an own item that is absent or is for another platform
//     (TCB Info of another TEE, FMSPC or PCE ID, QE Identity of another id,
//     PCK CRL of another CA, collateral chaining to another root); or an
//     own item that is past its next update or fails its signature check
//     where the attester's is current and its signature verifies.
//   - The attester's TCB Info and QE Identity must not be older than what
//     the verifier has verified for the same platform: each Verifier keeps
//     a floor, the highest tcbEvaluationDataNumber of signature-checked TCB
//     Info per root, TEE and FMSPC, and of QE Identity per root and id,
//     from either source. Below it, tcb_info.evaluation_data_number or
//     qe_identity.evaluation_data_number fails with ErrRollback. The
//     verifier's own collateral is not held to the floor: it is the
//     verifier's choice (for instance of the TCB update channel).
//   - Revocations apply from every source: a PCK certificate (or PCK CA,
//     or collateral signer) listed by any CRL whose signature verifies is
//     revoked, whichever CRL was used for the validity check, and whether
//     or not that CRL is current.
package intel

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/big"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/internal/lru"
)

// Cache bounds. A verifier keeps what it has verified so that the next
// quote costs less; these bound the memory it uses for that.
const (
	// DefaultCacheBytes is the default Config.CacheBytes: 64 MiB, about
	// 60,000 platforms (see PlatformCacheEntryBytes).
	DefaultCacheBytes = 64 << 20
	// DefaultCollateralCacheBytes is the default
	// Config.CollateralCacheBytes: 16 MiB, about 20,000 collateral values.
	DefaultCollateralCacheBytes = 16 << 20
	// PlatformCacheEntryBytes is about the memory one cached platform
	// takes (measured; the cache's own estimate is close to it): divide
	// Config.CacheBytes by it for the number of platforms that fit.
	PlatformCacheEntryBytes = 1100
	// pckCACacheBytes bounds the verified PCK CAs: a few per trusted root.
	pckCACacheBytes = 1 << 20
	// maxAcceptedRoots bounds the distinct root certificates accepted for
	// the trusted roots (re-issues of a root with the same key).
	maxAcceptedRoots = 64
)

// Config configures a Verifier.
type Config struct {
	// ExtraRoots are trusted in addition to the Intel SGX Root CA: test
	// PKIs and simulated TEEs. Like the Intel root, each is trusted by its
	// key: a chain's root certificate must be a copy of it or correctly
	// self-signed with that key. Results say which root a chain ended in.
	ExtraRoots []*x509.Certificate
	// WithoutIntelRoot trusts only ExtraRoots.
	WithoutIntelRoot bool
	// CacheBytes bounds the memory of the cache of verified platforms: what
	// later quotes of a platform need from its PCK certificate chain and
	// QE report, about PlatformCacheEntryBytes each. The platforms seen
	// least recently are dropped first; a dropped platform costs one PCK
	// certificate and one QE report signature verification when it is seen
	// again. Default DefaultCacheBytes. Size it at the number of platforms
	// that attest to this verifier times PlatformCacheEntryBytes.
	CacheBytes int64
	// CollateralCacheBytes bounds the memory of what verifying collateral
	// established (signatures, revocation lists), not the collateral
	// itself, which stays with its source (such as a pcs.Cache). Default
	// DefaultCollateralCacheBytes.
	CollateralCacheBytes int64
	// CacheSize, when positive, also bounds each cache by its number of
	// entries.
	CacheSize int
}

// Options are per verification.
type Options struct {
	// Now is the verification time; zero means time.Now(). Every
	// certificate, CRL and collateral item must be valid at Now.
	Now time.Time
	// PCKChainPEM is the PCK certificate chain (PCK certificate, PCK CA,
	// root; PEM) for quotes that identify the platform by PPID
	// (certification data types 1-4) instead of carrying the chain. It is
	// ignored for quotes that carry their chain.
	PCKChainPEM []byte
	// Collateral is the TCB Info, QE Identity and CRLs to evaluate against.
	// When it is nil, Provider is asked for the collateral of the quote's
	// platform (FMSPC and PCK CA from its verified PCK certificate). With
	// neither, and no PeerCollateral, the signatures and the PCK chain are
	// verified but the result fails the collateral.present check.
	// Collateral values are cached by identity: do not modify one after
	// passing it here.
	Collateral *pcs.Collateral
	Provider   pcs.Provider
	// PeerCollateral is collateral the attester supplied with its evidence,
	// such as the endorsements extension of an RA-TLS certificate. The
	// verifier's own collateral (Collateral or Provider) wins: an item is
	// taken from PeerCollateral only when the own collateral has no current
	// one for this platform, or when Provider reports that it has nothing
	// (current) for the platform or cannot be reached (any other Provider
	// error fails the verification). PeerCollateral values are cached by
	// identity too. Peer TCB Info and QE Identity older than any this
	// Verifier has verified for the platform are refused
	// (tcb_info.evaluation_data_number, qe_identity.evaluation_data_number),
	// and the peer's CRLs revoke too. See "Collateral precedence" in the
	// package documentation.
	PeerCollateral *pcs.Collateral
	// Update is the TCB update channel asked of Provider (default standard).
	Update pcs.Update
}

// Verifier verifies DCAP quotes. It is safe for concurrent use; reuse one
// Verifier so its caches work.
type Verifier struct {
	roots *trustStore

	// platforms are verified PCK chains with their last QE report, by a
	// hash of the chain bytes; pckCAs the verified PCK CAs they share.
	platforms *lru.Cache[[sha256.Size]byte, *verifiedChain]
	pckCAs    *lru.Cache[[sha256.Size]byte, *pckCA]
	// recentCAs are the PCK CAs used last, looked at first.
	recentCAs     [4]atomic.Pointer[pckCA]
	recentCAIndex atomic.Uint32
	recentCAHits  atomic.Uint64
	// colls are the facts of verified collateral by collateral value,
	// dropped when the value is garbage (see collateral); facts the
	// signature checks they share.
	colls *lru.Cache[weak.Pointer[pcs.Collateral], *collateralFacts]
	facts *lru.Cache[[sha256.Size]byte, *signedFact]

	qeHits, qeMisses atomic.Uint64

	// floors hold the highest tcbEvaluationDataNumber verified per
	// platform (see collateralSources).
	floorMu sync.Mutex
	floors  map[floorKey]uint32
}

// NewVerifier returns a Verifier trusting the Intel SGX Root CA and any
// extra roots in cfg (which may be nil).
func NewVerifier(cfg *Config) *Verifier {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.CacheBytes <= 0 {
		c.CacheBytes = DefaultCacheBytes
	}
	if c.CollateralCacheBytes <= 0 {
		c.CollateralCacheBytes = DefaultCollateralCacheBytes
	}
	return &Verifier{
		roots:     newTrustStore(c.ExtraRoots, c.WithoutIntelRoot, maxAcceptedRoots),
		platforms: lru.New[[sha256.Size]byte, *verifiedChain](c.CacheBytes, c.CacheSize),
		pckCAs:    lru.New[[sha256.Size]byte, *pckCA](pckCACacheBytes, c.CacheSize),
		// Collateral facts are mostly small; the signature checks they
		// share hold the revocation lists.
		colls:  lru.New[weak.Pointer[pcs.Collateral], *collateralFacts](c.CollateralCacheBytes/2, c.CacheSize),
		facts:  lru.New[[sha256.Size]byte, *signedFact](c.CollateralCacheBytes/2, c.CacheSize),
		floors: make(map[floorKey]uint32),
	}
}

// CacheStats are the counters and size of a cache.
type CacheStats = lru.Stats

// CacheStats returns the counters and sizes of the Verifier's caches, by
// name: "platforms" (verified PCK chains), "qe_reports" (the QE report slot
// of each cached platform: hits and misses only), "pck_cas", "collateral"
// (facts of verified collateral values) and "signatures" (signature checks
// shared by collateral values).
func (v *Verifier) CacheStats() map[string]CacheStats {
	return map[string]CacheStats{
		"platforms":  v.platforms.Stats(),
		"qe_reports": {Hits: v.qeHits.Load(), Misses: v.qeMisses.Load()},
		"pck_cas":    v.pckCAs.Stats().Add(lru.Stats{Hits: v.recentCAHits.Load()}),
		"collateral": v.colls.Stats(),
		"signatures": v.facts.Stats(),
	}
}

// VerifyBytes parses a quote and verifies it.
func (v *Verifier) VerifyBytes(ctx context.Context, b []byte, opt Options) (*Result, error) {
	q, err := quote.Parse(b)
	if err != nil {
		r := &Result{}
		r.Checks.Fail(CheckQuoteFormat, ErrMalformed, "%v", err)
		return r, r.err()
	}
	return v.Verify(ctx, q, opt)
}

// Verify verifies a parsed quote. It returns the result and, when any check
// failed or could not run, a *VerificationError naming the failed checks.
// The result is filled as far as verification got, so callers can show
// every fact and reason.
func (v *Verifier) Verify(ctx context.Context, q *quote.Quote, opt Options) (*Result, error) {
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	r := &Result{Quote: q, TEE: "sgx"}
	if q.IsTDX() {
		r.TEE = "tdx"
	}
	if q.Header.AttKeyType != quote.AttKeyTypeECDSAP256 {
		r.Checks.Fail(CheckQuoteFormat, ErrUnsupported, "attestation key type: want %d (ECDSA P-256, the only type Intel's quoting enclaves use), got %d", quote.AttKeyTypeECDSAP256, q.Header.AttKeyType)
		return r, r.err()
	}
	if !q.Header.IsIntelQE() {
		r.Checks.Fail(CheckQuoteFormat, ErrUnsupported, "QE vendor ID: want Intel's 939a7233f79c4ca9940a0db3957f0607, got %x", q.Header.QEVendorID)
		return r, r.err()
	}
	r.Checks.Pass(CheckQuoteFormat, fmt.Sprintf("quote v%d, %s, ECDSA P-256 attestation key, Intel QE", q.Header.Version, strings.ToUpper(r.TEE)))

	cd := &q.Signature.Certification
	if cd.Type != quote.CertTypePCKChain && opt.PCKChainPEM != nil {
		cd = &quote.CertificationData{Type: quote.CertTypePCKChain, Data: opt.PCKChainPEM}
	}
	chainPEM, err := cd.PCKChainPEM()
	if err != nil {
		r.Checks.Fail(CheckPCKChain, ErrUnsupported, "%v: give the PCK certificate chain with --pck-chain (PEM, leaf first) or in the collateral (dcap-qvl's pck_certificate_chain)", err)
		return r, r.err()
	}
	chain, err := v.pckChain(chainPEM, cd)
	if err != nil {
		r.Checks.Fail(CheckPCKChain, ErrChain, "%v", err)
		return r, r.err()
	}
	r.TrustAnchor, r.PCK, r.PCKCA = &chain.anchor, chain.pck, chain.caType
	r.FMSPC = hex.EncodeToString(chain.pck.FMSPC[:])
	r.Valid = chain.window
	if !chain.window.Contains(now) {
		r.Checks.Fail(CheckPCKChain, ErrValidity, "%v", windowError("PCK certificate chain", chain.window, now))
		return r, r.err()
	}
	r.Checks.Pass(CheckPCKChain, fmt.Sprintf("PCK certificate issued by %s, chained to %s (key SHA-256 %s)", chain.ca.Subject.CommonName, chain.anchor.Subject, chain.anchor.SPKISHA256))

	attKey, ok := v.verifyQE(r, chain, &q.Signature)
	if !ok {
		return r, r.err()
	}
	digest := sha256.Sum256(q.SignedData())
	if !verifyRS(attKey, digest[:], q.Signature.QuoteSignature[:]) {
		r.Checks.Fail(CheckQuoteSignature, ErrSignature, "quote signature does not verify with the attestation key %x", q.Signature.AttestationKey[:8])
		return r, r.err()
	}
	r.Checks.Pass(CheckQuoteSignature, "header and report body signed by the attestation key")

	src, err := v.collateralSources(ctx, q, chain, opt)
	if err != nil {
		// The TCB cannot be evaluated without collateral: the check did
		// not run. The provider's error stays findable (errors.Is), e.g.
		// to tell an unavailable source (pcs.ErrUnavailable) from a
		// verdict.
		r.Checks.NotRunCause(CheckCollateral, ErrNoCollateral, err, "%v", err)
		return r, r.err()
	}
	v.evaluate(r, chain, src, now)
	return r, r.err()
}

// collateralSources gathers the verifier's own collateral and the
// attester's, verified (and cached) each on its own.
func (v *Verifier) collateralSources(ctx context.Context, q *quote.Quote, chain *verifiedChain, opt Options) (collateralSources, error) {
	var src collateralSources
	own := opt.Collateral
	if own == nil && opt.Provider != nil {
		req := pcs.Request{TEE: pcs.TEESGX, FMSPC: chain.pck.FMSPC, CA: chain.caType, Update: opt.Update}
		if q.IsTDX() {
			req.TEE = pcs.TEETDX
		}
		var err error
		if own, err = opt.Provider.Collateral(ctx, req); err != nil {
			if opt.PeerCollateral == nil || !collateralGap(err) {
				return src, fmt.Errorf("collateral for %s: %w", req, err)
			}
			own, src.ownMissing = nil, true
		}
	}
	if own == nil && opt.PeerCollateral == nil {
		return src, fmt.Errorf("no TCB Info, QE Identity or CRLs given: the TCB status cannot be evaluated (fetch collateral or pass it offline)")
	}
	if own != nil {
		src.own = v.collateral(own)
	}
	if opt.PeerCollateral != nil && opt.PeerCollateral != own {
		src.peer = v.collateral(opt.PeerCollateral)
	}
	return src, nil
}

// verifyRS checks an ECDSA signature given as 64 bytes r||s.
func verifyRS(key *ecdsa.PublicKey, digest, sig []byte) bool {
	rr := new(big.Int).SetBytes(sig[:32])
	ss := new(big.Int).SetBytes(sig[32:64])
	return ecdsa.Verify(key, digest, rr, ss)
}

// pckChain returns the verified chain for these exact bytes, verifying and
// caching it on first sight. A platform is found by a hash of its PCK
// certificate's PEM text and must have the rest of the chain (its CA and
// root) byte for byte: hashing only the PCK certificate's part saves time
// on every quote.
func (v *Verifier) pckChain(chainPEM []byte, cd *quote.CertificationData) (*verifiedChain, error) {
	leafPEM, restPEM := splitPCKChain(chainPEM)
	key := sha256.Sum256(leafPEM)
	if c, ok := v.platforms.GetIf(key, func(c *verifiedChain) bool { return bytes.Equal(c.restPEM, restPEM) }); ok {
		return c, nil
	}
	c, err := v.verifyPCKChain(chainPEM, cd)
	if err != nil {
		return nil, err
	}
	v.platforms.Add(key, c, c.size())
	return c, nil
}

// verifyQE checks the QE report signature (by the PCK key) and that the QE
// report binds the attestation key, returning the parsed attestation key.
// The outcome depends only on these bytes and the PCK key, so a success is
// kept with the platform, identified by a hash of all of them.
func (v *Verifier) verifyQE(r *Result, chain *verifiedChain, s *quote.Signature) (*ecdsa.PublicKey, bool) {
	h := sha256.New()
	h.Write(chain.spki[:])
	h.Write(s.QEReportRaw)
	h.Write(s.QEReportSignature[:])
	h.Write(s.AttestationKey[:])
	h.Write(s.QEAuthData)
	var key [sha256.Size]byte
	h.Sum(key[:0])

	if qe := chain.qe.Load(); qe != nil && qe.key == key {
		v.qeHits.Add(1)
		r.Checks.Pass(CheckQEReportSig, "QE report signed by the PCK key")
		r.Checks.Pass(CheckQEReportBinding, "QE report data = SHA-256(attestation key || QE authentication data)")
		return qe.attKey, true
	}
	v.qeMisses.Add(1)

	qeDigest := sha256.Sum256(s.QEReportRaw)
	if !verifyRS(chain.leafKey, qeDigest[:], s.QEReportSignature[:]) {
		r.Checks.Fail(CheckQEReportSig, ErrSignature, "QE report signature does not verify with the PCK certificate key")
		return nil, false
	}
	r.Checks.Pass(CheckQEReportSig, "QE report signed by the PCK key")

	bind := sha256.New()
	bind.Write(s.AttestationKey[:])
	bind.Write(s.QEAuthData)
	want := make([]byte, 64)
	bind.Sum(want[:0])
	if got := s.QEReport.ReportData[:]; !bytes.Equal(got, want) {
		r.Checks.Fail(CheckQEReportBinding, ErrSignature, "QE report data: want SHA-256(attestation key || QE auth data) %x followed by 32 zero bytes, got %x", want[:32], got)
		return nil, false
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, s.AttestationKey[:]...))
	if err != nil {
		r.Checks.Fail(CheckQEReportBinding, ErrMalformed, "attestation key is not a P-256 point: %v", err)
		return nil, false
	}
	r.Checks.Pass(CheckQEReportBinding, "QE report data = SHA-256(attestation key || QE authentication data)")
	chain.qe.Store(&verifiedQE{key: key, attKey: pub})
	return pub, true
}

// collateral returns the verified form of c, verifying it on first use.
// The facts are cached by c's identity, weakly: the cache does not keep c
// alive, and drops its entry once c is garbage, so the memory of
// collateral is its source's to bound.
func (v *Verifier) collateral(c *pcs.Collateral) *verifiedCollateral {
	key := weak.Make(c)
	facts, ok := v.colls.Get(key)
	if !ok {
		facts = v.verifyCollateral(c)
		v.colls.Add(key, facts, collateralFactsSize)
		colls := v.colls
		runtime.AddCleanup(c, func(k weak.Pointer[pcs.Collateral]) { colls.Remove(k) }, key)
	}
	return &verifiedCollateral{src: c, collateralFacts: facts}
}

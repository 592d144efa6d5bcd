// Package amd verifies AMD SEV-SNP attestation reports: the report
// signature (ECDSA P-384 with SHA-384) by the VCEK or VLEK, that key's
// certificate chain through the ASK or ASVK to the AMD Root Key (ARK) of
// the report's product (Milan, Genoa or Turin; the genuine ARKs are
// embedded and pinned), revocation against the ARK's CRLs (the VCEK CRL
// for a VCEK chain, the VLEK CRL for a VLEK chain), and that the report
// agrees with its certificate: product, REPORTED_TCB and chip ID.
//
// Package ratls runs this verifier for every SEV-SNP report it verifies
// (VerifyCertificate, VerifyEvidence, PeerVerifier) and appraises the
// result with package appraise; use this package directly to verify reports
// under a policy of your own. Certificates and CRLs come from
// collateral/kds. Create one Verifier per process and reuse it: its caches
// make repeated verifications cheap.
//
// A Verifier proves facts; it does not decide whether they are good enough.
// Every check it ran is in the Result, with what was expected and found.
// Acceptance (measurements, policy bits, minimum TCB, whether a missing
// CRL is tolerable) is for a policy.
//
// Certificate chains are verified once and cached by a hash of their exact
// bytes, so verifying another report from a known chip costs one ECDSA
// P-384 verification plus bookkeeping. An ASK or ASVK and its ARK are
// verified once for all the chips they certify, so a new chip costs its
// report signature and its certificate's signature. The caches are bounded
// by memory (Config.CacheBytes) and drop the least recently used entries
// first; Verifier.CacheStats reports their hits, misses and evictions.
package amd

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/internal/lru"
)

// Config configures a Verifier.
type Config struct {
	// ExtraRoots are ARKs trusted in addition to AMD's, for test PKIs. A
	// root serves the product its subject common name names ("ARK-Milan"
	// serves Milan), and its intermediates must be named like AMD's
	// ("SEV-Milan" issues VCEKs, "SEV-VLEK-Milan" VLEKs). Results say
	// which root a chain ended in.
	ExtraRoots []*x509.Certificate
	// WithoutAMDRoots trusts only ExtraRoots (and embeds no intermediates).
	WithoutAMDRoots bool
	// CacheBytes bounds the memory of the cache of verified chips: what
	// later reports of a chip need from its verified VCEK or VLEK, about
	// ChipCacheEntryBytes each. The chips seen least recently are dropped
	// first; a dropped chip costs one certificate signature verification
	// when it is seen again (its ASK or ASVK and ARK are verified once and
	// kept apart). Default DefaultCacheBytes.
	CacheBytes int64
	// CacheSize, when positive, also bounds each cache by its number of
	// entries.
	CacheSize int
}

// Cache bounds.
const (
	// DefaultCacheBytes is the default Config.CacheBytes: 64 MiB, about
	// 80,000 chips.
	DefaultCacheBytes = 64 << 20
	// ChipCacheEntryBytes is about the memory one cached chip takes
	// (measured): divide Config.CacheBytes by it for the number of chips
	// that fit.
	ChipCacheEntryBytes = 800
	// smallCacheBytes bounds the caches of verified issuers and CRL
	// signatures: a few per product.
	smallCacheBytes = 4 << 20
	// maxCRLFloors bounds the CRL floors (one per ARK and kind of CRL).
	maxCRLFloors = 256
)

// Options are per verification.
type Options struct {
	// Now is the verification time; zero means time.Now(). Every
	// certificate, and the CRL, must be valid at Now.
	Now time.Time
	// Certs is the certificate of the key that signed the report (VCEK or
	// VLEK, as the report's signer info says), optionally followed by its
	// issuer (ASK for a VCEK, ASVK for a VLEK) and then the ARK: the
	// certificate table of an extended report, or a KDS VCEK plus its
	// cert_chain. Missing issuers are taken from the embedded AMD
	// certificates of the product.
	Certs []*x509.Certificate
	// Product ("Milan", "Genoa" or "Turin") names the product when the
	// report does not (version 2 reports carry no CPUID). It must agree
	// with the report and the certificate where they name one.
	Product string
	// CRLs are the ARK's certificate revocation lists at hand, from any
	// source (kds.Certificates.CRLs). Each must be issued and signed by
	// the chain's ARK. Revocations on any of them apply: none may list the
	// ASK or ASVK, nor may a list of the chain's kind (or of unstated
	// kind) list the VCEK or VLEK. The crl check also needs the list of
	// the chain's kind, and takes the newest one given: the VCEK CRL
	// (https://kdsintf.amd.com/vcek/v1/{product}/crl) for a VCEK, the VLEK
	// CRL (https://kdsintf.amd.com/vlek/v1/{product}/crl) for a VLEK. A CRL
	// of unstated kind, as a report's certificate table carries, can serve
	// as the VCEK CRL, as it always has, but not as the VLEK CRL. That CRL
	// must be current at Now and no older than the newest of its kind this
	// Verifier has seen for the ARK (see Verifier). Without it the crl
	// check fails with ErrNoCRL; with only the other kind's, with ErrCRL.
	CRLs []kds.CRL
}

// Verifier verifies SEV-SNP reports. It is safe for concurrent use; reuse
// one Verifier so its caches work.
//
// A Verifier remembers, per ARK and kind of CRL, the newest CRL it has
// seen (by CRL number and thisUpdate) among those of known kind that the
// ARK signed, and refuses older ones as the CRL of a chain: a peer cannot
// roll revocation back by supplying a CRL that is still valid but was
// issued before a revocation.
type Verifier struct {
	roots *trustStore

	// chains are verified VCEKs and VLEKs (with their issuer and ARK), by a
	// hash of their certificates; issuers the verified issuers and ARKs
	// they share; crls the outcome of CRL signature checks.
	chains  *lru.Cache[[sha256.Size]byte, *verifiedChain]
	issuers *lru.Cache[[sha256.Size]byte, *verifiedIssuer]
	crls    *lru.Cache[[sha256.Size]byte, crlCheck]

	// floors are the newest CRL seen of each ARK and kind; mu makes
	// raising one atomic, so that a floor never goes down.
	mu     sync.Mutex
	floors *lru.Cache[string, crlFloor]
}

// CacheStats are the counters and sizes of a cache.
type CacheStats = lru.Stats

// CacheStats returns the counters and sizes of the Verifier's caches, by
// name: "chips" (verified VCEKs and VLEKs), "issuers" (verified ASKs and
// ASVKs with their ARK) and "crl_signatures".
func (v *Verifier) CacheStats() map[string]CacheStats {
	return map[string]CacheStats{"chips": v.chains.Stats(), "issuers": v.issuers.Stats(), "crl_signatures": v.crls.Stats()}
}

// NewVerifier returns a Verifier trusting the AMD roots and any extra roots
// in cfg (which may be nil).
func NewVerifier(cfg *Config) *Verifier {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.CacheBytes <= 0 {
		c.CacheBytes = DefaultCacheBytes
	}
	return &Verifier{
		roots:   &trustStore{amd: !c.WithoutAMDRoots, extra: slices.Clone(c.ExtraRoots)},
		chains:  lru.New[[sha256.Size]byte, *verifiedChain](c.CacheBytes, c.CacheSize),
		issuers: lru.New[[sha256.Size]byte, *verifiedIssuer](smallCacheBytes, c.CacheSize),
		crls:    lru.New[[sha256.Size]byte, crlCheck](smallCacheBytes, c.CacheSize),
		floors:  lru.NewEntries[string, crlFloor](maxCRLFloors),
	}
}

// VerifyBytes parses a 1184-byte report and verifies it.
func (v *Verifier) VerifyBytes(ctx context.Context, b []byte, opt Options) (*Result, error) {
	rep, err := snp.ParseReport(b)
	if err != nil {
		r := &Result{TEE: "sev_snp"}
		r.Checks.Fail(CheckReportFormat, ErrMalformed, "%v", err)
		return r, r.err()
	}
	return v.Verify(ctx, rep, opt)
}

// Verify verifies a parsed report. It returns the result and, when any
// check failed, a *VerificationError naming the failed checks. The result
// is filled as far as verification got, so callers can show every fact and
// reason. Checks that depend only on a trusted certificate (crl, tcb, hwid,
// signature) all run even when one of them fails, so that a policy may
// accept specific failures such as ErrNoCRL. ctx is reserved for fetching
// missing certificates and CRLs; Verify does no I/O today.
func (v *Verifier) Verify(ctx context.Context, rep *snp.Report, opt Options) (*Result, error) {
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	r := &Result{Report: rep, TEE: "sev_snp"}
	if rep == nil {
		r.Checks.Fail(CheckReportFormat, ErrMalformed, "no report")
		return r, r.err()
	}
	kind := rep.SignerInfo.SigningKey()
	if kind != snp.SigningKeyVCEK && kind != snp.SigningKeyVLEK {
		r.Checks.Fail(CheckReportFormat, ErrUnsupported, "signing key: want VCEK or VLEK, got %v", kind)
		return r, r.err()
	}
	if rep.SignatureAlgo != snp.SignatureAlgoECDSAP384SHA384 {
		r.Checks.Fail(CheckReportFormat, ErrUnsupported, "signature_algo: want 1 (ECDSA P-384 with SHA-384), got %d", rep.SignatureAlgo)
		return r, r.err()
	}
	r.SigningKey = strings.ToLower(kind.String())
	r.Checks.Pass(CheckReportFormat, fmt.Sprintf("report version %d, ECDSA P-384 with SHA-384, signed by the %v", rep.Version, kind))

	if len(opt.Certs) > 3 || slices.Contains(opt.Certs, nil) {
		r.Checks.Fail(CheckChain, ErrMalformed, "certificates: want the %v followed by at most its issuer and the ARK, got %d entries (or a nil one)", kind, len(opt.Certs))
		return r, r.err()
	}
	var leaf *x509.Certificate
	if len(opt.Certs) > 0 {
		leaf = opt.Certs[0]
	}

	product, ok := resolveProduct(r, rep, opt.Product, leaf)
	if !ok {
		return r, r.err()
	}
	r.Product = product
	if leaf == nil {
		from := "fetch it from https://kdsintf.amd.com or take it from the report's certificate table"
		if kind == snp.SigningKeyVLEK {
			from = "the cloud provider supplies it, usually in the report's certificate table; KDS serves none"
		}
		r.Checks.Fail(CheckChain, ErrNoCertificate, "no %v certificate given (%s)", kind, from)
		return r, r.err()
	}

	chain, err := v.chain(product, kind, opt.Certs)
	if err != nil {
		failWith(r, CheckChain, err)
		return r, r.err()
	}
	r.TrustAnchor = &chain.anchor
	r.ProductName = chain.ext.productName
	r.CSPID = chain.ext.cspID
	tcb := chain.ext.tcb
	r.TCB = &tcb
	r.Valid = chain.window
	if err := chain.validityError(kind, product, now); err != nil {
		failWith(r, CheckChain, err)
	} else {
		leafRole, issuerRole, _ := roleNames(kind, product)
		r.Checks.Pass(CheckChain, fmt.Sprintf("%s signed by the %s %q, signed by the ARK %q (key SHA-256 %s)",
			leafRole, issuerRole, chain.intermediate.Subject.CommonName, chain.anchor.Subject, chain.anchor.SPKISHA256))
	}

	if w, detail, err := v.checkCRLs(chain, kind, product, opt.CRLs, now); err != nil {
		failWith(r, CheckCRL, err)
	} else {
		r.Valid = r.Valid.Intersect(w)
		r.Checks.Pass(CheckCRL, detail)
	}

	if detail, err := compareTCB(product, chain.ext, rep.ReportedTCB); err != nil {
		failWith(r, CheckTCB, err)
	} else {
		r.Checks.Pass(CheckTCB, detail)
	}

	if detail, err := compareHWID(product, kind, chain.ext, rep); err != nil {
		failWith(r, CheckHWID, err)
	} else {
		r.Checks.Pass(CheckHWID, detail)
	}

	digest := sha512.Sum384(rep.SignedData())
	sigR, sigS := rep.SignatureRS()
	switch {
	case sigR.Sign() == 0 || sigS.Sign() == 0:
		r.Checks.Fail(CheckSignature, ErrSignature, "report signature has a zero R or S component")
	case !ecdsa.Verify(chain.key, digest[:], sigR, sigS):
		r.Checks.Fail(CheckSignature, ErrSignature, "report signature does not verify with the %v key", kind)
	default:
		r.Checks.Pass(CheckSignature, fmt.Sprintf("report bytes 0x000-0x29F signed by the %v key", kind))
	}
	return r, r.err()
}

// failWith records err (a *checkError) as the failure of check name.
func failWith(r *Result, name string, err error) {
	if ce, ok := err.(*checkError); ok {
		r.Checks.Fail(name, ce.class, "%s", ce.detail)
		return
	}
	r.Checks.Fail(name, ErrChain, "%v", err)
}

// resolveProduct finds the product from the report's CPUID fields (version
// 3 and later), the caller's option and the certificate's productName, in
// that order of precedence. Every source that names a product must agree.
func resolveProduct(r *Result, rep *snp.Report, option string, leaf *x509.Certificate) (string, bool) {
	type source struct{ from, product string }
	var sources []source
	if rep.Version >= 3 {
		p, err := rep.Product()
		if err != nil {
			r.Checks.Fail(CheckProduct, ErrUnsupported, "%v", err)
			return "", false
		}
		sources = append(sources, source{fmt.Sprintf("report CPUID %02Xh/%02Xh stepping %d",
			rep.CPUIDFamilyID, rep.CPUIDModelID, rep.CPUIDStepping), p})
	}
	if option != "" {
		if genuineARK(option) == nil {
			r.Checks.Fail(CheckProduct, ErrUnsupported, "product option: want Milan, Genoa or Turin, got %q", option)
			return "", false
		}
		sources = append(sources, source{"product option", option})
	}
	if leaf != nil {
		p, name, err := certProduct(leaf)
		if err != nil {
			r.Checks.Fail(CheckProduct, ErrMalformed, "%v", err)
			return "", false
		}
		if name != "" {
			if genuineARK(p) == nil {
				r.Checks.Fail(CheckProduct, ErrUnsupported, "certificate productName: want Milan, Genoa or Turin (with an optional stepping suffix), got %q", name)
				return "", false
			}
			sources = append(sources, source{fmt.Sprintf("certificate productName %q", name), p})
		}
	}
	if len(sources) == 0 {
		r.Checks.Fail(CheckProduct, ErrUnsupported, "product unknown: the report (version %d) has no CPUID fields, no product option was given and there is no certificate productName", rep.Version)
		return "", false
	}
	froms := make([]string, len(sources))
	for i, s := range sources {
		if s.product != sources[0].product {
			r.Checks.Fail(CheckProduct, ErrMismatch, "%s says %s, but %s says %s", sources[0].from, sources[0].product, s.from, s.product)
			return "", false
		}
		froms[i] = s.from
	}
	r.Checks.Pass(CheckProduct, fmt.Sprintf("%s (from %s)", sources[0].product, strings.Join(froms, ", ")))
	return sources[0].product, true
}

// compareTCB checks that the certificate was issued for the report's
// REPORTED_TCB: a VCEK or VLEK is derived from exactly that TCB.
func compareTCB(product string, ext *certExtensions, reported snp.TCBVersion) (string, error) {
	if product == snp.ProductTurin {
		// Turin packs TCB_VERSION differently (it adds an FMC SPL) and
		// public descriptions of the new layout disagree.
		return "", errorf(ErrUnsupported, "the Turin TCB_VERSION layout is not supported: REPORTED_TCB 0x%016x not compared with the certificate", uint64(reported))
	}
	if ext.have&haveAllTCB != haveAllTCB {
		return "", errorf(ErrMalformed, "certificate lacks a TCB extension: want blSPL, teeSPL, snpSPL and ucodeSPL (1.3.6.1.4.1.3704.1.3.1/.2/.3/.8)")
	}
	if ext.tcb.HasFMC {
		return "", errorf(ErrMismatch, "certificate has an fmcSPL extension (a Turin certificate), but the product is %s", product)
	}
	want := ext.tcb.Version()
	if want != reported {
		return "", errorf(ErrMismatch, "REPORTED_TCB: want the certificate's %v, got %v", want, reported)
	}
	return fmt.Sprintf("REPORTED_TCB %v equals the certificate's TCB", reported), nil
}

// compareHWID checks that a VCEK was issued to the chip that produced the
// report.
func compareHWID(product string, kind snp.SigningKey, ext *certExtensions, rep *snp.Report) (string, error) {
	if kind == snp.SigningKeyVLEK {
		return "VLEK certificates carry no hwID: not compared", nil
	}
	if rep.SignerInfo.MaskChipKey() {
		return "CHIP_ID masked by the guest (MASK_CHIP_KEY): not compared", nil
	}
	want := 64
	if product == snp.ProductTurin {
		want = 8 // Turin VCEKs are issued for the first 8 bytes of CHIP_ID
	}
	if len(ext.hwID) != want {
		return "", errorf(ErrMalformed, "VCEK hwID extension (1.3.6.1.4.1.3704.1.4): want %d bytes for %s, got %d", want, product, len(ext.hwID))
	}
	if got := rep.ChipID[:want]; string(got) != string(ext.hwID) {
		return "", errorf(ErrMismatch, "CHIP_ID: want the VCEK's hwID %x, got %x", ext.hwID, got)
	}
	return fmt.Sprintf("CHIP_ID equals the VCEK hwID (%d bytes)", want), nil
}

// chain returns the verified chain for these exact certificates, verifying
// and caching it on first sight.
func (v *Verifier) chain(product string, kind snp.SigningKey, certs []*x509.Certificate) (*verifiedChain, error) {
	key := chainKey(product, kind, certs)
	if c, ok := v.chains.Get(key); ok {
		return c, nil
	}
	c, err := v.verifyChain(product, kind, certs)
	if err != nil {
		return nil, err
	}
	v.chains.Add(key, c, c.size())
	return c, nil
}

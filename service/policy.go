package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/internal/lru"
	"github.com/ratls/ratls/service/store"
)

const (
	maxPolicyName = 64
	// maxParsedDocuments bounds the parsed policy versions kept in memory.
	maxParsedDocuments = 1024
)

// referenceValues is the body of a reference value set: the reference
// sections of a policy (docs/policy.md), and nothing else.
type referenceValues struct {
	SGX *appraise.SGXReference `json:"sgx,omitempty"`
	TDX *appraise.TDXReference `json:"tdx,omitempty"`
	SNP *appraise.SNPReference `json:"sev_snp,omitempty"`
	CCA *appraise.CCAReference `json:"cca,omitempty"`
}

// parseDocument reads and validates a policy or reference value set as the
// policy it amounts to.
func parseDocument(kind string, body []byte) (*appraise.Policy, error) {
	// JSON decoders replace invalid UTF-8 with U+FFFD, so such a body
	// would be accepted as something other than it says, and served back
	// as invalid JSON.
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%s: not valid UTF-8 (from byte %d)", kind, firstInvalidUTF8(body))
	}
	if kind == store.KindPolicy {
		p, err := appraise.ReadPolicy(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	if len(body) > appraise.MaxPolicySize {
		return nil, fmt.Errorf("reference values: larger than %d bytes", appraise.MaxPolicySize)
	}
	var rv referenceValues
	if err := strictJSON(body, &rv); err != nil {
		return nil, fmt.Errorf("reference values: %w", err)
	}
	p := &appraise.Policy{SGX: rv.SGX, TDX: rv.TDX, SNP: rv.SNP, CCA: rv.CCA}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("reference values: %w", err)
	}
	return p, nil
}

// firstInvalidUTF8 is the offset of the first byte of b that is not part
// of valid UTF-8.
func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// policies resolves policy references to policies, merging the reference
// value set of the same name. Versions are immutable, so a parsed version is
// kept for good; which version is the latest is looked up again after
// latestTTL, the time a new version takes to reach every replica.
type policies struct {
	st        store.Store
	builtin   *appraise.Policy
	latestTTL time.Duration
	now       func() time.Time

	parsed *lru.Cache[docKey, *appraise.Policy]
	latest *lru.Cache[docKey, latestEntry] // Version 0
}

type docKey struct {
	kind, name string
	version    int
}

type latestEntry struct {
	version int // 0: none stored
	at      time.Time
}

func newPolicies(st store.Store, builtin *appraise.Policy, ttl time.Duration, now func() time.Time) *policies {
	if builtin == nil {
		builtin = &appraise.Policy{}
	}
	return &policies{st: st, builtin: builtin, latestTTL: ttl, now: now,
		parsed: lru.NewEntries[docKey, *appraise.Policy](maxParsedDocuments),
		latest: lru.NewEntries[docKey, latestEntry](maxParsedDocuments)}
}

// splitRef splits "name" or "name@version".
func splitRef(ref string) (name string, version int, err error) {
	name, v, hasVersion := strings.Cut(ref, "@")
	if err := checkName("policy", name, maxPolicyName); err != nil {
		return "", 0, err
	}
	if hasVersion {
		if version, err = strconv.Atoi(v); err != nil || version < 1 {
			return "", 0, problem(http.StatusBadRequest, probBadRequest, "Invalid policy reference",
				"policy %q: want name or name@version with a version from 1, got version %q", clip(ref), clip(v))
		}
	}
	return name, version, nil
}

// resolve returns the policy named by ref ("" is defaultName), with its
// reference values merged, and its ID set to "name@version", plus
// "+refs@version" when a reference value set was merged. When no policy
// named defaultName is stored, the built-in policy stands in for it.
func (p *policies) resolve(ctx context.Context, ref, defaultName string) (*appraise.Policy, error) {
	explicit := ref != ""
	if !explicit {
		ref = defaultName
	}
	name, version, err := splitRef(ref)
	if err != nil {
		return nil, err
	}
	base, id, err := p.get(ctx, store.KindPolicy, name, version)
	if err != nil {
		return nil, err
	}
	if base == nil {
		if explicit && (name != defaultName || version != 0) {
			return nil, problem(http.StatusBadRequest, probBadRequest, "Unknown policy", "no policy %q is stored", ref)
		}
		base, id = p.builtin, p.builtin.Name()
	}
	refs, refsID, err := p.get(ctx, store.KindReferenceValues, name, 0)
	if err != nil {
		return nil, err
	}
	pol := *base
	pol.ID = id
	if refs != nil {
		pol.ID += "+refs@" + strings.TrimPrefix(refsID, name+"@")
		if refs.SGX != nil {
			pol.SGX = refs.SGX
		}
		if refs.TDX != nil {
			pol.TDX = refs.TDX
		}
		if refs.SNP != nil {
			pol.SNP = refs.SNP
		}
		if refs.CCA != nil {
			pol.CCA = refs.CCA
		}
	}
	return &pol, nil
}

// get returns a parsed version (0: the latest) and its "name@version", or
// nil when none is stored.
func (p *policies) get(ctx context.Context, kind, name string, version int) (*appraise.Policy, string, error) {
	now := p.now()
	if version == 0 {
		k := docKey{kind, name, 0}
		l, ok := p.latest.Get(k)
		if ok && now.Sub(l.at) < p.latestTTL {
			if l.version == 0 {
				return nil, "", nil
			}
			version = l.version
		}
	}
	if version != 0 {
		if pol, ok := p.parsed.Get(docKey{kind, name, version}); ok {
			return pol, fmt.Sprintf("%s@%d", name, version), nil
		}
	}
	d, err := p.st.Document(ctx, kind, name, version)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if version == 0 {
			p.latest.Add(docKey{kind, name, 0}, latestEntry{at: now}, 0)
		}
		return nil, "", nil
	case err != nil:
		return nil, "", err
	}
	pol, err := parseDocument(kind, d.Body)
	if err != nil {
		// Stored documents were validated when they were put.
		return nil, "", fmt.Errorf("stored %s %s@%d no longer parses: %w", kind, name, d.Version, err)
	}
	p.parsed.Add(docKey{kind, name, d.Version}, pol, 0)
	if version == 0 {
		p.latest.Add(docKey{kind, name, 0}, latestEntry{version: d.Version, at: now}, 0)
	}
	return pol, fmt.Sprintf("%s@%d", name, d.Version), nil
}

// forget drops the cached latest version of kind/name, after a put on
// this replica.
func (p *policies) forget(kind, name string) {
	p.latest.Remove(docKey{kind, name, 0})
}

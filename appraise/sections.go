package appraise

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/internal/strictjson"
	"github.com/ratls/ratls/verify/checks"
)

// Policy sections of TEE families that live outside this package: a
// family registers its key (tee.Register does, for a family with a
// section), and a policy then carries that section's JSON in
// Policy.Sections for the family to decode and apply.
var sections struct {
	sync.RWMutex
	keys map[string]func(json.RawMessage) error
}

// RegisterSection adds a policy section named key, validated by validate
// when a policy is read. It panics when key is already a section: two
// owners must never read one section.
func RegisterSection(key string, validate func(json.RawMessage) error) {
	sections.Lock()
	defer sections.Unlock()
	if _, ok := sections.keys[key]; ok || builtinKey(key) {
		panic(fmt.Sprintf("appraise: policy section %q registered twice", key))
	}
	if sections.keys == nil {
		sections.keys = make(map[string]func(json.RawMessage) error)
	}
	sections.keys[key] = validate
}

// builtinKey reports whether key is a key of Policy's own.
func builtinKey(key string) bool {
	t := reflect.TypeFor[Policy]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name == key {
			return true
		}
	}
	return false
}

// Section returns the policy's section named key (one registered with
// RegisterSection); nil when the policy has none.
func (p *Policy) Section(key string) json.RawMessage { return p.Sections[key] }

// splitSections decodes b's registered sections into sections and returns
// b without them. Keys are checked strictly first (no duplicates), so a
// section cannot be given twice.
func splitSections(b []byte) (rest []byte, out map[string]json.RawMessage, err error) {
	sections.RLock()
	defer sections.RUnlock()
	if len(sections.keys) == 0 {
		return b, nil, nil
	}
	var top map[string]json.RawMessage
	if err := strictjson.Decode(b, &top); err != nil {
		return nil, nil, err
	}
	for _, k := range slices.Sorted(maps.Keys(top)) {
		validate, ok := sections.keys[k]
		if !ok {
			continue
		}
		if err := validate(top[k]); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", k, err)
		}
		if out == nil {
			out = make(map[string]json.RawMessage)
		}
		out[k] = top[k]
		delete(top, k)
	}
	if out == nil {
		return b, nil, nil
	}
	rest, err = json.Marshal(top)
	return rest, out, err
}

// MarshalJSON writes the policy with its registered sections, so that a
// policy read, stored and read again says the same.
func (p Policy) MarshalJSON() ([]byte, error) {
	type plain Policy
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.Sections) == 0 {
		return b, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	maps.Copy(m, p.Sections)
	return json.Marshal(m)
}

// AppraiseSection appraises the verification of a TEE family that has a
// registered section (RegisterSection): every failed check and every
// required check that did not run refuses, as does a debuggable TEE
// unless allow_debug; the key binding is appraised; and the policy's
// section decides what may be concluded about the workload. It reports
// whether the family is to compare the section's reference values
// (hasValues: the section pins the workload), adding a refusal with Reject
// for each that does not match.
func (p *Policy) AppraiseSection(section string, list checks.List, required []string, verr error, debug bool, binding *evidence.Binding, hasValues bool) (*Appraisal, bool) {
	a := NewAppraisal(p.Name())
	if len(list) == 0 {
		return noResult(a, verr), false
	}
	a.verificationReasons(list, required, verr, func(checks.Check) string { return "" })
	if debug {
		p.debugReason(a)
	}
	p.appraiseBinding(a, binding)
	return a, p.referenceValues(a, section, hasValues, p.Section(section) != nil)
}

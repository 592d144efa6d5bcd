package ear

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Status is an AR4SI trustworthiness tier, the value of ear.status.
type Status string

// The four tiers, from best to worst. The draft orders none below
// affirming: "no claim" never makes a result worse.
const (
	StatusNone            Status = "none"
	StatusAffirming       Status = "affirming"
	StatusWarning         Status = "warning"
	StatusContraindicated Status = "contraindicated"
)

// Code returns the tier's integer encoding (0, 2, 32, 96), or -1 for an
// unknown status.
func (s Status) Code() int {
	switch s {
	case StatusNone:
		return 0
	case StatusAffirming:
		return 2
	case StatusWarning:
		return 32
	case StatusContraindicated:
		return 96
	}
	return -1
}

// Valid reports whether s is one of the four tiers.
func (s Status) Valid() bool { return s.Code() >= 0 }

// Worse returns the worse of s and t.
func (s Status) Worse(t Status) Status {
	if t.Code() > s.Code() {
		return t
	}
	return s
}

// MarshalJSON encodes the status as its name.
func (s Status) MarshalJSON() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("ear: status: want none, affirming, warning or contraindicated, got %q", string(s))
	}
	return json.Marshal(string(s))
}

// UnmarshalJSON accepts the name or the integer code of a tier.
func (s *Status) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		if st := Status(name); st.Valid() {
			*s = st
			return nil
		}
		return fmt.Errorf("ear: status: want none, affirming, warning or contraindicated, got %q", name)
	}
	code, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("ear: status: want a string or an integer, got %.40s", b)
	}
	for _, st := range []Status{StatusNone, StatusAffirming, StatusWarning, StatusContraindicated} {
		if st.Code() == code {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("ear: status: want code 0, 2, 32 or 96, got %d", code)
}

// TierOf returns the tier of an AR4SI trustworthiness claim value.
func TierOf(v int8) Status {
	switch {
	case v >= -1 && v <= 1:
		return StatusNone
	case v >= 2 && v <= 31, v >= -32 && v <= -2:
		return StatusAffirming
	case v >= 32 && v <= 95, v >= -96 && v <= -33:
		return StatusWarning
	}
	return StatusContraindicated // [96,127] and [-128,-97]
}

// AR4SI claim values used by FromAppraisal and common to all categories.
const (
	NoClaim             int8 = 0
	UnexpectedEvidence  int8 = 1
	VerifierMalfunction int8 = -1
	CryptoFailed        int8 = 99
)

// TrustVector is the ear.trustworthiness-vector of a submodule. A zero
// value means "no claim" and is omitted from JSON.
type TrustVector struct {
	InstanceIdentity int8 `json:"instance-identity,omitempty"`
	Configuration    int8 `json:"configuration,omitempty"`
	Executables      int8 `json:"executables,omitempty"`
	FileSystem       int8 `json:"file-system,omitempty"`
	Hardware         int8 `json:"hardware,omitempty"`
	RuntimeOpaque    int8 `json:"runtime-opaque,omitempty"`
	StorageOpaque    int8 `json:"storage-opaque,omitempty"`
	SourcedData      int8 `json:"sourced-data,omitempty"`
}

func (tv *TrustVector) claims() []*int8 {
	return []*int8{&tv.InstanceIdentity, &tv.Configuration, &tv.Executables, &tv.FileSystem,
		&tv.Hardware, &tv.RuntimeOpaque, &tv.StorageOpaque, &tv.SourcedData}
}

// trustVectorKeys are the JSON names, in the order of claims().
var trustVectorKeys = []string{"instance-identity", "configuration", "executables", "file-system",
	"hardware", "runtime-opaque", "storage-opaque", "sourced-data"}

// Status returns the worst tier among the vector's claims.
func (tv TrustVector) Status() Status {
	st := StatusNone
	for _, c := range tv.claims() {
		st = st.Worse(TierOf(*c))
	}
	return st
}

// UnmarshalJSON is strict: only the eight AR4SI categories, integer values
// in -128..127.
func (tv *TrustVector) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("ear: trustworthiness vector: %w", err)
	}
	if m == nil {
		return fmt.Errorf("ear: trustworthiness vector: want an object, got null")
	}
	var out TrustVector
	claims := out.claims()
	for k, raw := range m {
		i := indexOf(trustVectorKeys, k)
		if i < 0 {
			return fmt.Errorf("ear: trustworthiness vector: unknown claim %q", k)
		}
		v, err := strconv.ParseInt(string(raw), 10, 8)
		if err != nil {
			return fmt.Errorf("ear: trustworthiness vector: %s: want an integer in -128..127, got %.40s", k, raw)
		}
		*claims[i] = int8(v)
	}
	*tv = out
	return nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// Package api holds the wire types of the verification service's HTTP API,
// shared by the server (package service) and its Go client (package
// service/client). The API is described in openapi.yaml, served at
// /openapi.yaml; docs/service.md shows it in use.
package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ratls/ratls/ear"
)

// Paths of the API.
const (
	PathNewSession  = "/challenge-response/v1/newSession"
	PathSession     = "/challenge-response/v1/session/" // + id
	PathDiscovery   = "/.well-known/veraison/verification"
	PathAttest      = "/v1/attest"
	PathKeys        = "/v1/keys"
	PathPolicies    = "/v1/policies"         // /{name}, /{name}/versions, /{name}/versions/{v}
	PathReferences  = "/v1/reference-values" // same shape as PathPolicies
	PathAppraisals  = "/v1/appraisals"
	PathAudit       = "/v1/audit"
	PathCollateral  = "/v1/collateral"
	PathTokens      = "/v1/tokens" // /{id}
	PathHealth      = "/healthz"
	PathReady       = "/readyz"
	PathMetrics     = "/metrics"
	PathOpenAPI     = "/openapi.yaml"
	SessionMedia    = "application/vnd.veraison.challenge-response-session+json"
	ProblemMedia    = "application/problem+json"
	DiscoveryMedia  = "application/vnd.veraison.discovery+json"
	ProblemTypeBase = "https://ratls.dev/problems/" // + Problem.Type suffix
	// ProblemCollateralUnavailable (after ProblemTypeBase) is the 503
	// answer to evidence the service could not verify because a collateral
	// source (Intel PCS, AMD KDS) is unavailable: no verdict about the
	// TEE, and no EAR; retry after Problem.RetryAfter.
	ProblemCollateralUnavailable = "collateral-unavailable"
)

// Media types of the service's other answers and JSON requests.
const (
	JSONMedia    = "application/json"
	KeysMedia    = "application/jwk-set+json" // the JWK Set at PathKeys
	OpenAPIMedia = "application/yaml"         // the description at PathOpenAPI
)

// Evidence media types the service accepts, as Content-Type of a session's
// evidence or of POST /v1/attest.
const (
	// An RA-TLS certificate (any format ratls reads), DER or PEM (the
	// first CERTIFICATE block). Not application/pem-certificate-chain,
	// which in Veraison is RIoT evidence (a DICE certificate chain).
	MediaCertificateDER = "application/pkix-cert"
	MediaCertificatePEM = "application/vnd.ratls.pem-certificate"
	// A raw Intel DCAP quote (SGX or TDX, versions 3 to 5).
	MediaDCAPQuote = "application/vnd.ratls.dcap-quote"
	// A raw AMD SEV-SNP attestation report.
	MediaSNPReport = "application/vnd.ratls.sev-snp-report"
	// An Arm CCA attestation token (CBOR tag 399 collection).
	MediaCCAToken = `application/eat-collection; profile="http://arm.com/CCA-SSD/1.0.0"`
	// A Linux configfs-tsm report as Veraison's ratsd encodes it:
	// {"auxblob","outblob","provider","manifestblob","service_provider"},
	// with unpadded base64url blobs in JSON and byte strings in CBOR.
	MediaTSMReport     = "application/vnd.veraison.tsm-report+json"
	MediaTSMReportCBOR = "application/vnd.veraison.tsm-report+cbor"
	// Tagged-CBOR RA-TLS evidence (Interoperable RA-TLS tags 60000-60002,
	// rats-tls tags) or a CMW.
	MediaTaggedEvidence = "application/vnd.ratls.evidence+cbor"
	// A CMW (RATS Conceptual Message Wrapper), under the IETF names and
	// under the names Veraison's apiclient sends (its Wrap option).
	MediaCMWCBOR         = "application/cmw+cbor"
	MediaCMWJSON         = "application/cmw+json"
	MediaVeraisonCMWCBOR = "application/vnd.veraison.cmw+cbor"
	MediaVeraisonCMWJSON = "application/vnd.veraison.cmw+json"
	// Trustee's TDX evidence JSON: {"cc_eventlog","quote"}, base64; the
	// CC event log is replayed into the quote's RTMRs (docs/cvm.md).
	MediaTrusteeTDX = "application/vnd.ratls.trustee-tdx+json"
	// Trustee's Azure vTPM CVM evidence JSON (az-snp-vtpm, az-tdx-vtpm,
	// versions 1 and 2), optionally with "tpm_eventlog" (docs/cvm.md).
	MediaAzureVTPM = "application/vnd.ratls.azure-vtpm+json"
)

// EvidenceMedia lists the accepted evidence media types, as sessions'
// accept member and the discovery document advertise them.
var EvidenceMedia = []string{
	MediaCertificateDER, MediaCertificatePEM, MediaDCAPQuote, MediaSNPReport,
	MediaCCAToken, MediaTSMReport, MediaTSMReportCBOR, MediaTaggedEvidence, MediaCMWCBOR, MediaCMWJSON,
	MediaVeraisonCMWCBOR, MediaVeraisonCMWJSON, MediaTrusteeTDX, MediaAzureVTPM,
}

// SessionLocation is the Location of a new session as Veraison sends it:
// "session/<id>", relative to the newSession URI.
func SessionLocation(id string) string { return "session/" + id }

// SessionIDFromLocation returns the ID of the session a newSession
// answer's Location names, relative (Veraison's and ratls's form) or
// absolute (a path or URL ending in PathSession + id).
func SessionIDFromLocation(loc string) (string, bool) {
	u, err := url.Parse(loc)
	if err != nil {
		return "", false
	}
	base := &url.URL{Path: PathNewSession}
	id, ok := strings.CutPrefix(base.ResolveReference(u).Path, PathSession)
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

// EAR submodule names. Veraison's names where Veraison has a scheme for
// the TEE (Arm CCA: a platform and a realm submodule; SEV-SNP); ratls's TEE
// names for the others (SGX, TDX, Azure vTPM), which Veraison does not
// verify.
const (
	SubmodCCAPlatform = "CCA_SSD_PLATFORM"
	SubmodCCARealm    = "CCA_REALM"
	SubmodSEVSNP      = "SEVSNP"
	SubmodSGX         = "sgx"
	SubmodTDX         = "tdx"
	SubmodAzureVTPM   = "azure_vtpm"
	// SubmodUnknown names the one submodule of a result about evidence
	// whose TEE could not be told (Veraison's name for a result whose
	// scheme is unknown).
	SubmodUnknown = "ERROR"
)

// SubmoduleTEE maps an EAR submodule name to the TEE (the tee member of an
// AttestResult, "sgx", "tdx", "sev_snp", "cca" or "azure_vtpm") it is
// about.
var SubmoduleTEE = map[string]string{
	SubmodCCAPlatform: "cca", SubmodCCARealm: "cca", SubmodSEVSNP: "sev_snp", SubmodSGX: "sgx", SubmodTDX: "tdx",
	SubmodAzureVTPM: "azure_vtpm",
}

// Nonce is a nonce in a JSON document. It is written as standard base64
// with padding, which Veraison's released clients (apiclient, evcli)
// decode into a []byte, and read in standard or URL-safe base64, padded or
// not: Veraison's main branch writes unpadded base64url.
type Nonce []byte

// MarshalJSON writes standard base64 with padding.
func (n Nonce) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.StdEncoding.EncodeToString(n))
}

// UnmarshalJSON reads base64 of either alphabet, padded or not.
func (n *Nonce) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("nonce: want a base64 string")
	}
	v, err := DecodeBase64(s)
	if err != nil {
		return fmt.Errorf("nonce: %w", err)
	}
	*n = v
	return nil
}

// DecodeBase64 reads standard or URL-safe base64, with correct padding or
// none; one string uses one alphabet.
func DecodeBase64(s string) ([]byte, error) {
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	if strings.HasSuffix(s, "=") {
		enc = enc.WithPadding(base64.StdPadding)
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, errors.New("want base64 or base64url, padded or not")
	}
	return b, nil
}

// Session is a challenge-response session (Veraison's
// application/vnd.veraison.challenge-response-session+json).
type Session struct {
	Nonce    Nonce            `json:"nonce"`
	Expiry   time.Time        `json:"expiry"`
	Accept   []string         `json:"accept"`
	Status   string           `json:"status"`
	Evidence *SessionEvidence `json:"evidence,omitempty"`
	// Result is the EAR (a JWT) once the session is complete.
	Result *string `json:"result,omitempty"`
	// Problem explains why a failed session failed.
	Problem *Problem `json:"problem,omitempty"`
}

// SessionEvidence echoes the evidence a session received.
type SessionEvidence struct {
	Type  string `json:"type"`
	Value []byte `json:"value"`
}

// AttestRequest is the JSON body of POST /v1/attest. The evidence may also
// be posted raw, with its media type as Content-Type and nonce and policy as
// query parameters.
type AttestRequest struct {
	MediaType string `json:"media_type"`
	Evidence  []byte `json:"evidence"`
	// Nonce, when set, must be carried by the evidence (claims buffer nonce,
	// or report data zero-padded).
	Nonce Nonce `json:"nonce,omitempty"`
	// Policy names the policy to appraise with, "name" (latest version) or
	// "name@version"; empty means the service's default.
	Policy string `json:"policy,omitempty"`
}

// AttestResult is the answer of POST /v1/attest.
type AttestResult struct {
	// EAR is the signed attestation result (a JWT).
	EAR string `json:"ear"`
	// Status is the overall EAR status (the worst submodule).
	Status   string `json:"status"`
	TEE      string `json:"tee"`
	PolicyID string `json:"policy_id"`
	// Reasons say why the status is not affirming.
	Reasons []ear.Reason `json:"reasons"`
}

// Problem is an RFC 9457 problem details document.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Check, Expected and Actual name what was wrong, when one check was.
	Check    string `json:"check,omitempty"`
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	// Reasons are the policy's reasons for a rejection.
	Reasons []ear.Reason `json:"reasons,omitempty"`
	// EAR is the signed (contraindicated) attestation result of a policy
	// rejection, for relying parties that keep negative results.
	EAR string `json:"ear,omitempty"`
	// RetryAfter is the Retry-After of the answer in seconds, when it has
	// one (collateral-unavailable).
	RetryAfter int `json:"retry_after,omitempty"`
}

func (p *Problem) Error() string {
	s := p.Title
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// Discovery is the answer of GET /.well-known/veraison/verification.
type Discovery struct {
	EARVerificationKey json.RawMessage     `json:"ear-verification-key"`
	MediaTypes         []string            `json:"media-types"`
	Version            string              `json:"version"`
	ServiceState       string              `json:"service-state"`
	APIEndpoints       map[string]string   `json:"api-endpoints"`
	AttestationSchemes map[string][]string `json:"ratls-tees,omitempty"`
}

// Document is a version of a policy or of a reference value set.
type Document struct {
	Name    string          `json:"name"`
	Version int             `json:"version"`
	Created time.Time       `json:"created"`
	Author  string          `json:"author"`
	Body    json.RawMessage `json:"body,omitempty"`
}

// Appraisal is an entry of the appraisal log.
type Appraisal struct {
	ID           int64           `json:"id"`
	Time         time.Time       `json:"time"`
	Session      string          `json:"session,omitempty"`
	Client       string          `json:"client"`
	MediaType    string          `json:"media_type"`
	TEE          string          `json:"tee,omitempty"`
	Status       string          `json:"status"`
	PolicyID     string          `json:"policy_id,omitempty"`
	Reasons      json.RawMessage `json:"reasons"`
	EvidenceHash string          `json:"evidence_sha256"`
}

// Audit is an entry of the audit log.
type Audit struct {
	ID     int64     `json:"id"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Detail string    `json:"detail,omitempty"`
}

// Collateral describes a shared collateral cache entry.
type Collateral struct {
	Key        string    `json:"key"`
	FetchedAt  time.Time `json:"fetched_at"`
	NextUpdate time.Time `json:"next_update"`
	Fresh      bool      `json:"fresh"`
}

// CollateralStatus is the answer of GET /v1/collateral.
type CollateralStatus struct {
	Entries []Collateral      `json:"entries"`
	Stats   map[string]uint64 `json:"stats"`
}

// Token describes an API token; Secret is only returned on creation.
type Token struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Created time.Time `json:"created"`
	Secret  string    `json:"token,omitempty"`
}

// NewToken is the body of POST /v1/tokens.
type NewToken struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

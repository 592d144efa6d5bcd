package service

import (
	"encoding/json"
	"encoding/pem"
	"mime"
	"net/http"
	"strings"

	"github.com/fxamacker/cbor/v2"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/cmw"
	"github.com/ratls/ratls/service/api"
)

// evidenceMedia is an evidence media type the service accepts and how a
// body of that type is read.
type evidenceMedia struct {
	// name is the media type as advertised (api.EvidenceMedia, in the same
	// order). A Content-Type matches it when its type and subtype are the
	// same and, if name has a profile parameter, so is the profile.
	name  string
	parse func(body []byte) (*parsed, error)
	// submodule names the EAR submodule of a body of this type that could
	// not be read or verified (the TEE is then unknown): the Veraison
	// scheme the type implies, else submodUnknown.
	submodule func(body []byte) string

	base, profile string // of name, parsed once
}

// evidenceMediaTypes is every evidence media type the service accepts. It
// is set in init, as parseCMW looks it up.
var evidenceMediaTypes []evidenceMedia

func init() {
	unknown := fixed(submodUnknown)
	evidenceMediaTypes = newMediaTable([]evidenceMedia{
		{name: api.MediaCertificateDER, parse: parseCertificate, submodule: unknown},
		{name: api.MediaCertificatePEM, parse: parsePEMCertificate, submodule: unknown},
		{name: api.MediaDCAPQuote, parse: rawOf(api.MediaDCAPQuote, "an Intel DCAP quote", func(it *evidence.Item) bool { return it.Quote != nil }),
			submodule: unknown},
		{name: api.MediaSNPReport, parse: rawOf(api.MediaSNPReport, "an AMD SEV-SNP report", func(it *evidence.Item) bool { return it.SNP != nil }),
			submodule: fixed(submodSNP)},
		{name: api.MediaCCAToken, parse: rawOf(api.MediaCCAToken, "an Arm CCA token", func(it *evidence.Item) bool { return it.CCA != nil }),
			submodule: fixed(submodCCA)},
		{name: api.MediaTSMReport, parse: parseTSMReportJSON, submodule: tsmSubmodule(json.Unmarshal)},
		{name: api.MediaTSMReportCBOR, parse: parseTSMReportCBOR, submodule: tsmSubmodule(cbor.Unmarshal)},
		{name: api.MediaTaggedEvidence, parse: rawOf(api.MediaTaggedEvidence, "tagged RA-TLS evidence or a CMW", notRaw), submodule: unknown},
		// Veraison's verifier takes either spelling and either serialization
		// under each name; so does this one.
		{name: api.MediaCMWCBOR, parse: parseCMW(api.MediaCMWCBOR), submodule: cmwSubmodule},
		{name: api.MediaCMWJSON, parse: parseCMW(api.MediaCMWJSON), submodule: cmwSubmodule},
		{name: api.MediaVeraisonCMWCBOR, parse: parseCMW(api.MediaVeraisonCMWCBOR), submodule: cmwSubmodule},
		{name: api.MediaVeraisonCMWJSON, parse: parseCMW(api.MediaVeraisonCMWJSON), submodule: cmwSubmodule},
		{name: api.MediaTrusteeTDX, parse: rawOf(api.MediaTrusteeTDX, "Trustee TDX evidence JSON",
			func(it *evidence.Item) bool { return it.Format == evidence.FormatTrustee && it.Quote != nil }),
			submodule: fixed(api.SubmodTDX)},
		{name: api.MediaAzureVTPM, parse: rawOf(api.MediaAzureVTPM, "Azure vTPM evidence JSON", func(it *evidence.Item) bool { return it.Azure != nil }),
			submodule: fixed(api.SubmodAzureVTPM)},
	})
}

func newMediaTable(t []evidenceMedia) []evidenceMedia {
	for i := range t {
		base, params, err := mime.ParseMediaType(t[i].name)
		if err != nil {
			panic("service: media type " + t[i].name + ": " + err.Error())
		}
		t[i].base, t[i].profile = base, params["profile"]
	}
	return t
}

// lookupMedia returns the entry a Content-Type names, or nil.
func lookupMedia(contentType string) *evidenceMedia {
	base, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil
	}
	for i := range evidenceMediaTypes {
		e := &evidenceMediaTypes[i]
		if e.base == base && (e.profile == "" || e.profile == params["profile"]) {
			return e
		}
	}
	return nil
}

// parseEvidence reads body as mediaType says.
func parseEvidence(mediaType string, body []byte) (*parsed, error) {
	e := lookupMedia(mediaType)
	if e == nil {
		return nil, unsupportedMedia(mediaType)
	}
	if len(body) == 0 {
		return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence", "the request body is empty")
	}
	return e.parse(body)
}

// unsupportedMedia refuses a media type; the answer's Accept lists the
// accepted ones, as Veraison's does.
func unsupportedMedia(mt string) error {
	p := problem(http.StatusUnsupportedMediaType, probUnsupportedMedia, "Unsupported media type",
		"evidence of type %q is not accepted; accepted: %v", clip(mt), api.EvidenceMedia)
	p.accept = strings.Join(api.EvidenceMedia, ", ")
	return p
}

func parsePEMCertificate(body []byte) (*parsed, error) {
	blk, _ := pem.Decode(body)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence", "want a PEM CERTIFICATE block")
	}
	return parseCertificate(blk.Bytes)
}

// rawOf reads raw evidence that must be what is says (see rawItem).
func rawOf(mt, what string, is func(*evidence.Item) bool) func([]byte) (*parsed, error) {
	return func(body []byte) (*parsed, error) { return rawItem(mt, body, is, what) }
}

func notRaw(it *evidence.Item) bool { return it.Format != evidence.FormatRaw }

// parseCMW reads a CMW. A record whose type is one of the evidence media
// types above is read as that type, as Veraison unwraps a CMW record
// before it dispatches on its type; any other CMW (a collection, a tag, a
// record of another type) is read for the evidence its leaves hold.
func parseCMW(mt string) func([]byte) (*parsed, error) {
	return func(body []byte) (*parsed, error) {
		if c, err := cmw.Parse(body); err == nil && c.Kind == cmw.KindRecord {
			if inner := lookupMedia(c.MediaType); inner != nil && !isCMWMedia(inner) && len(c.Value) > 0 {
				return inner.parse(c.Value)
			}
		}
		return rawItem(mt, body, notRaw, "tagged RA-TLS evidence or a CMW")
	}
}

// EAR submodules of evidence that could not be read, as Veraison names
// them: after the scheme the media type implies (Veraison's CCA scheme
// names its submodule ARM_CCA until the token is verified), else the name
// Veraison gives a result before it knows the scheme (vts/appraisal).
const (
	submodUnknown = api.SubmodUnknown
	submodCCA     = "ARM_CCA"
	submodSNP     = api.SubmodSEVSNP
)

func fixed(name string) func([]byte) string { return func([]byte) string { return name } }

// tsmProviders maps configfs-tsm providers to submodules.
var tsmProviders = map[string]string{"tdx_guest": api.SubmodTDX, "sev_guest": submodSNP, "arm_cca_guest": submodCCA}

// tsmSubmodule names the submodule after the report's provider, when it
// can be read.
func tsmSubmodule(decode func([]byte, any) error) func([]byte) string {
	return func(body []byte) string {
		var r struct {
			Provider string `json:"provider" cbor:"provider"`
		}
		if decode(body, &r) == nil {
			if name, ok := tsmProviders[strings.TrimSpace(r.Provider)]; ok {
				return name
			}
		}
		return submodUnknown
	}
}

// cmwSubmodule names the submodule after a record's media type.
func cmwSubmodule(body []byte) string {
	if c, err := cmw.Parse(body); err == nil && c.Kind == cmw.KindRecord {
		if inner := lookupMedia(c.MediaType); inner != nil && !isCMWMedia(inner) {
			return inner.submodule(c.Value)
		}
	}
	return submodUnknown
}

func isCMWMedia(e *evidenceMedia) bool {
	switch e.name {
	case api.MediaCMWCBOR, api.MediaCMWJSON, api.MediaVeraisonCMWCBOR, api.MediaVeraisonCMWJSON:
		return true
	}
	return false
}

package service

import (
	"encoding/pem"
	"mime"
	"net/http"

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

	base, profile string // of name, parsed once
}

// evidenceMediaTypes is every evidence media type the service accepts. It
// is set in init, as parseCMW looks it up.
var evidenceMediaTypes []evidenceMedia

func init() {
	evidenceMediaTypes = newMediaTable([]evidenceMedia{
		{name: api.MediaCertificateDER, parse: parseCertificate},
		{name: api.MediaCertificatePEM, parse: parsePEMCertificate},
		{name: api.MediaDCAPQuote, parse: rawOf(api.MediaDCAPQuote, "an Intel DCAP quote", func(it *evidence.Item) bool { return it.Quote != nil })},
		{name: api.MediaSNPReport, parse: rawOf(api.MediaSNPReport, "an AMD SEV-SNP report", func(it *evidence.Item) bool { return it.SNP != nil })},
		{name: api.MediaCCAToken, parse: rawOf(api.MediaCCAToken, "an Arm CCA token", func(it *evidence.Item) bool { return it.CCA != nil })},
		{name: api.MediaTSMReport, parse: parseTSMReportJSON},
		{name: api.MediaTSMReportCBOR, parse: parseTSMReportCBOR},
		{name: api.MediaTaggedEvidence, parse: rawOf(api.MediaTaggedEvidence, "tagged RA-TLS evidence or a CMW", notRaw)},
		// Veraison's verifier takes either spelling and either serialization
		// under each name; so does this one.
		{name: api.MediaCMWCBOR, parse: parseCMW(api.MediaCMWCBOR)},
		{name: api.MediaCMWJSON, parse: parseCMW(api.MediaCMWJSON)},
		{name: api.MediaVeraisonCMWCBOR, parse: parseCMW(api.MediaVeraisonCMWCBOR)},
		{name: api.MediaVeraisonCMWJSON, parse: parseCMW(api.MediaVeraisonCMWJSON)},
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

func unsupportedMedia(mt string) error {
	return problem(http.StatusUnsupportedMediaType, probUnsupportedMedia, "Unsupported media type",
		"evidence of type %q is not accepted; accepted: %v", mt, api.EvidenceMedia)
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

func isCMWMedia(e *evidenceMedia) bool {
	switch e.name {
	case api.MediaCMWCBOR, api.MediaCMWJSON, api.MediaVeraisonCMWCBOR, api.MediaVeraisonCMWJSON:
		return true
	}
	return false
}

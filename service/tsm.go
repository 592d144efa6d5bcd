package service

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/fxamacker/cbor/v2"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/internal/strictjson"
	"github.com/ratls/ratls/service/api"
)

// tsmReport is a Linux configfs-tsm report as Veraison's ratsd encodes it
// (tokens.TSMReport, docs/tsm-report.cddl there): in JSON the blobs are
// base64url strings, in CBOR byte strings.
type tsmReport struct {
	AuxBlob      tsmBlob `json:"auxblob,omitempty" cbor:"auxblob,omitempty"`
	OutBlob      tsmBlob `json:"outblob" cbor:"outblob"`
	Provider     string  `json:"provider" cbor:"provider"`
	ManifestBlob tsmBlob `json:"manifestblob,omitempty" cbor:"manifestblob,omitempty"`
	// ServiceProvider names the service that made the report, such as an
	// SVSM ("svsm"); its manifest is ManifestBlob.
	ServiceProvider *string `json:"service_provider,omitempty" cbor:"service_provider,omitempty"`
	// Generation is the configfs-tsm generation counter, a member of
	// ratls's earlier JSON form; ratsd does not send it.
	Generation uint64 `json:"generation,omitempty" cbor:"-"`
}

// tsmBlob is a blob of a JSON report: unpadded base64url as ratsd writes
// it, or the padded standard base64 of ratls's earlier documentation.
type tsmBlob []byte

func (b *tsmBlob) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.New("want a base64url string")
	}
	v, err := decodeBase64(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// tsmCBOR decodes the CBOR form strictly: a map of known, unique text
// keys, byte string blobs.
var tsmCBOR = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels:   4,
		MaxMapPairs:       16,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

func parseTSMReportJSON(body []byte) (*parsed, error) {
	var r tsmReport
	if err := strictjson.Decode(body, &r); err != nil {
		return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence", "configfs-tsm report: %v", err)
	}
	return r.parse(api.MediaTSMReport)
}

func parseTSMReportCBOR(body []byte) (*parsed, error) {
	var r tsmReport
	if err := tsmCBOR.Unmarshal(body, &r); err != nil {
		return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence", "configfs-tsm report: %v", err)
	}
	return r.parse(api.MediaTSMReportCBOR)
}

// parse checks the report as ratsd's TSMReport.Valid does and reads its
// outblob as the evidence its provider makes.
func (r *tsmReport) parse(mt string) (*parsed, error) {
	// The kernel's provider attribute ends with a newline, which ratsd
	// passes on.
	provider := strings.TrimSpace(r.Provider)
	switch {
	case len(r.OutBlob) == 0:
		return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence", `configfs-tsm report: missing mandatory member "outblob"`)
	case provider == "":
		return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence", `configfs-tsm report: missing mandatory member "provider"`)
	case len(r.ManifestBlob) > 0 && (r.ServiceProvider == nil || *r.ServiceProvider == ""):
		return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence", `configfs-tsm report: "manifestblob" without "service_provider"`)
	}
	var want func(*evidence.Item) bool
	switch provider {
	case "tdx_guest":
		want = func(it *evidence.Item) bool { return it.Quote != nil && it.Quote.TD != nil }
	case "sev_guest":
		want = func(it *evidence.Item) bool { return it.SNP != nil }
	case "arm_cca_guest":
		want = func(it *evidence.Item) bool { return it.CCA != nil }
	default:
		return nil, problem(http.StatusUnprocessableEntity, probUnsupported, "Unsupported evidence",
			"configfs-tsm provider: want tdx_guest, sev_guest or arm_cca_guest, got %q", provider)
	}
	p, err := rawItem(mt, r.OutBlob, want, "outblob of provider "+provider)
	if err != nil {
		return nil, err
	}
	if len(r.AuxBlob) > 0 && provider == "sev_guest" {
		if p.amdCerts, err = snpCertificates(r.AuxBlob); err != nil {
			return nil, problem(http.StatusBadRequest, probMalformed, "Malformed evidence", "configfs-tsm auxblob: %v", err)
		}
	}
	return p, nil
}

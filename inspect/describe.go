package inspect

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/cca"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/keybinding"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/verify/measuredboot"
)

// Quote describes the structure of a DCAP quote.
type Quote struct {
	Version               uint16 `json:"version"`
	AttKeyType            uint16 `json:"att_key_type"`
	TEEType               uint32 `json:"tee_type"`
	BodyType              uint16 `json:"body_type"`
	QESVN                 uint16 `json:"qe_svn"`
	PCESVN                uint16 `json:"pce_svn"`
	QEVendorID            string `json:"qe_vendor_id"`
	UserData              string `json:"user_data"`
	Size                  int    `json:"size"`
	TrailingBytes         int    `json:"trailing_bytes"`
	CertificationDataType uint16 `json:"certification_data_type"`
	QEReport              Fields `json:"qe_report"`
	QEAuthDataSize        int    `json:"qe_auth_data_size"`
	// PCKChain is the PCK certificate chain of the certification data,
	// leaf first; the leaf's SGX extensions are decoded.
	PCKChain []*Certificate `json:"pck_chain,omitempty"`
}

// CCAToken describes the structure of an Arm CCA attestation token.
type CCAToken struct {
	Form     string `json:"form"`
	Platform Fields `json:"platform"`
	Realm    Fields `json:"realm,omitempty"`
}

func hexs(b []byte) string { return hex.EncodeToString(b) }

func describeItem(it *evidence.Item, cert *x509.Certificate) *Evidence {
	e := &Evidence{
		Format:    string(it.Format),
		Path:      it.Path,
		MediaType: it.MediaType,
		Kind:      string(it.Kind),
		TEE:       string(it.TEE),
		Size:      len(it.Data),
	}
	if it.OID != nil {
		e.OID = it.OID.String()
	}
	if it.Tag != 0 {
		tag := it.Tag
		e.CBORTag = &tag
		if info, ok := evidence.LookupTag(tag); ok {
			e.TagName = info.Name
		}
	}
	switch {
	case it.Quote != nil:
		e.Quote = describeQuote(it.Quote)
		if it.Quote.TD != nil {
			e.Measurements = tdMeasurements(it.Quote.TD)
			if it.EventLog != nil {
				e.EventLog = describeEventLog(it.EventLog, measuredboot.TDX(it.Quote.TD.RTMR))
			}
		} else {
			e.Measurements = sgxMeasurements(it.Quote.SGX)
		}
	case it.SGXReport != nil:
		e.Report = &Fields{{"type", "sgx_report_t"}, {"key_id", hexs(it.SGXReport.KeyID[:])}, {"mac", hexs(it.SGXReport.MAC[:])}}
		e.Measurements = sgxMeasurements(&it.SGXReport.Body)
	case it.Report2 != nil:
		r := it.Report2
		e.Report = &Fields{
			{"type", "sgx_report2_t"},
			{"report_type", r.ReportType.Type},
			{"report_subtype", r.ReportType.Subtype},
			{"report_version", r.ReportType.Version},
			{"cpu_svn", hexs(r.CPUSVN[:])},
			{"tee_tcb_info_hash", hexs(r.TEETCBInfoHash[:])},
			{"tee_info_hash", hexs(r.TEEInfoHash[:])},
			{"mac", hexs(r.MAC[:])},
		}
		e.Measurements = tdMeasurements(&r.TD)
	case it.SNP != nil:
		e.SNPReport, e.Measurements = describeSNP(it.SNP)
	case it.CCA != nil:
		e.CCAToken, e.Measurements = describeCCA(it.CCA)
	case it.Azure != nil:
		describeAzure(e, it.Azure)
	default:
		if d := describer(it); d != nil {
			structure, m := d.Describe(it)
			e.Family = map[string]any{d.Name(): structure}
			e.Measurements = fieldsOf(m)
			break
		}
		e.Unsupported = fmt.Sprintf("%s evidence is carried but not parsed", it.Kind)
	}
	if rd := it.ReportData(); rd != nil {
		e.ReportData = hexs(rd)
	}
	if it.Claims != nil {
		e.Claims = describeClaims(it.Claims)
	}
	if it.OEFormatID != nil || it.OECustomClaims != nil {
		e.OE = &OpenEnclave{FormatID: hexs(it.OEFormatID), CustomClaims: string(it.OECustomClaims)}
	}
	b := keybinding.Check(it, cert)
	e.KeyBinding, e.BindingRule, e.BindingDetail = string(b.Status), b.Rule, b.Detail
	return e
}

func describeClaims(c *evidence.Claims) *Claims {
	out := &Claims{
		Raw:           hexs(c.Raw),
		PubKeyHashAlg: c.PubKeyHashAlg.String(),
		PubKeyHash:    hexs(c.PubKeyHash),
	}
	if c.Nonce != nil {
		out.Nonce = hexs(c.Nonce)
	}
	if len(c.Unknown) > 0 {
		out.Unknown = make(map[string]string, len(c.Unknown))
		for k, v := range c.Unknown {
			out.Unknown[k] = hexs(v)
		}
	}
	return out
}

func describeQuote(q *quote.Quote) *Quote {
	s := &q.Signature
	out := &Quote{
		Version:               q.Header.Version,
		AttKeyType:            q.Header.AttKeyType,
		TEEType:               q.Header.TEEType,
		BodyType:              q.BodyType,
		QESVN:                 q.Header.QESVN,
		PCESVN:                q.Header.PCESVN,
		QEVendorID:            hexs(q.Header.QEVendorID[:]),
		UserData:              hexs(q.Header.UserData[:]),
		Size:                  len(q.Raw),
		TrailingBytes:         len(q.Trailing),
		CertificationDataType: s.Certification.Type,
		QEReport: Fields{
			{"mrenclave", hexs(s.QEReport.MREnclave[:])},
			{"mrsigner", hexs(s.QEReport.MRSigner[:])},
			{"isv_prod_id", s.QEReport.ISVProdID},
			{"isv_svn", s.QEReport.ISVSVN},
			{"misc_select", fmt.Sprintf("%08x", s.QEReport.MiscSelect)},
			{"attributes", hexs(s.QEReport.Attributes[:])},
			{"cpu_svn", hexs(s.QEReport.CPUSVN[:])},
		},
		QEAuthDataSize: len(s.QEAuthData),
	}
	if ders, err := s.Certification.PCKChainDER(); err == nil {
		var certs []*x509.Certificate
		for _, der := range ders {
			if c, err := x509.ParseCertificate(der); err == nil {
				certs = append(certs, c)
			}
		}
		for i, c := range certs {
			out.PCKChain = append(out.PCKChain, describeCertificate(c, issuerOf(certs, i)))
		}
	}
	return out
}

func sgxMeasurements(b *quote.SGXReportBody) Fields {
	return Fields{
		{"mrenclave", hexs(b.MREnclave[:])},
		{"mrsigner", hexs(b.MRSigner[:])},
		{"isv_prod_id", b.ISVProdID},
		{"isv_svn", b.ISVSVN},
		{"attributes", hexs(b.Attributes[:])},
		{"debug", b.Debug()},
		{"misc_select", fmt.Sprintf("%08x", b.MiscSelect)},
		{"cpu_svn", hexs(b.CPUSVN[:])},
		{"config_id", hexs(b.ConfigID[:])},
		{"config_svn", b.ConfigSVN},
		{"isv_ext_prod_id", hexs(b.ISVExtProdID[:])},
		{"isv_family_id", hexs(b.ISVFamilyID[:])},
	}
}

func tdMeasurements(b *quote.TDReportBody) Fields {
	f := Fields{
		{"mrtd", hexs(b.MRTD[:])},
		{"rtmr0", hexs(b.RTMR[0][:])},
		{"rtmr1", hexs(b.RTMR[1][:])},
		{"rtmr2", hexs(b.RTMR[2][:])},
		{"rtmr3", hexs(b.RTMR[3][:])},
		{"mrseam", hexs(b.MRSEAM[:])},
		{"mrsigner_seam", hexs(b.MRSignerSEAM[:])},
		{"td_attributes", hexs(b.TDAttributes[:])},
		{"seam_attributes", hexs(b.SEAMAttributes[:])},
		{"xfam", hexs(b.XFAM[:])},
		{"mr_config_id", hexs(b.MRConfigID[:])},
		{"mr_owner", hexs(b.MROwner[:])},
		{"mr_owner_config", hexs(b.MROwnerConfig[:])},
		{"tee_tcb_svn", hexs(b.TEETCBSVN[:])},
		{"debug", b.Debug()},
	}
	if b.V15 {
		f = append(f, Field{"tee_tcb_svn2", hexs(b.TEETCBSVN2[:])}, Field{"mr_servicetd", hexs(b.MRServiceTD[:])})
	}
	return f
}

func describeSNP(r *snp.Report) (*Fields, Fields) {
	product, err := r.Product()
	if err != nil {
		product = "unknown (the report names its product from version 3 on)"
	}
	structure := &Fields{
		{"version", r.Version},
		{"signature_algo", r.SignatureAlgo},
		{"signing_key", r.SignerInfo.SigningKey().String()},
		{"author_key_en", r.SignerInfo.AuthorKeyEn()},
		{"mask_chip_key", r.SignerInfo.MaskChipKey()},
		{"product", product},
		{"current_version", fmt.Sprintf("%d.%d.%d", r.CurrentMajor, r.CurrentMinor, r.CurrentBuild)},
		{"committed_version", fmt.Sprintf("%d.%d.%d", r.CommittedMajor, r.CommittedMinor, r.CommittedBuild)},
	}
	p := r.Policy
	m := Fields{
		{"measurement", hexs(r.Measurement[:])},
		{"host_data", hexs(r.HostData[:])},
		{"policy", fmt.Sprintf("%016x", uint64(p))},
		{"debug", p.Debug()},
		{"migrate_ma", p.MigrateMA()},
		{"smt", p.SMT()},
		{"single_socket", p.SingleSocket()},
		{"abi", fmt.Sprintf("%d.%d", p.ABIMajor(), p.ABIMinor())},
		{"vmpl", r.VMPL},
		{"guest_svn", r.GuestSVN},
		{"family_id", hexs(r.FamilyID[:])},
		{"image_id", hexs(r.ImageID[:])},
		{"id_key_digest", hexs(r.IDKeyDigest[:])},
		{"author_key_digest", hexs(r.AuthorKeyDigest[:])},
		{"report_id", hexs(r.ReportID[:])},
		{"report_id_ma", hexs(r.ReportIDMA[:])},
		{"chip_id", hexs(r.ChipID[:])},
		{"platform_info", fmt.Sprintf("%016x", uint64(r.PlatformInfo))},
		{"current_tcb", r.CurrentTCB.String()},
		{"reported_tcb", r.ReportedTCB.String()},
		{"committed_tcb", r.CommittedTCB.String()},
		{"launch_tcb", r.LaunchTCB.String()},
	}
	return structure, m
}

func describeCCA(t *cca.Token) (*CCAToken, Fields) {
	out := &CCAToken{Form: string(t.Form)}
	pc := t.Platform.Claims
	comps := make([]Fields, 0, len(pc.SWComponents))
	for _, c := range pc.SWComponents {
		comps = append(comps, Fields{
			{"type", c.MeasurementType},
			{"measurement", hexs(c.MeasurementValue)},
			{"version", c.Version},
			{"signer_id", hexs(c.SignerID)},
			{"description", c.MeasurementDescription},
		})
	}
	out.Platform = Fields{
		{"profile", pc.Profile},
		{"challenge", hexs(pc.Challenge)},
		{"implementation_id", hexs(pc.ImplementationID)},
		{"instance_id", hexs(pc.InstanceID)},
		{"config", hexs(pc.Config)},
		{"lifecycle", pc.Lifecycle},
		{"hash_algo", pc.HashAlgo},
		{"verification_service", pc.VerificationService},
		{"sw_components", comps},
	}
	m := Fields{
		{"platform_implementation_id", hexs(pc.ImplementationID)},
		{"platform_instance_id", hexs(pc.InstanceID)},
		{"platform_lifecycle", pc.Lifecycle},
	}
	if t.Realm != nil {
		rc := t.Realm.Claims
		rems := make([]string, len(rc.ExtensibleMeasurements))
		for i, r := range rc.ExtensibleMeasurements {
			rems[i] = hexs(r)
		}
		out.Realm = Fields{
			{"profile", rc.Profile},
			{"challenge", hexs(rc.Challenge)},
			{"hash_algo", rc.HashAlgo},
			{"public_key", hexs(rc.PublicKey)},
			{"public_key_hash_algo", rc.PublicKeyHashAlgo},
		}
		m = append(Fields{
			{"realm_initial_measurement", hexs(rc.InitialMeasurement)},
			{"realm_extensible_measurements", rems},
			{"realm_personalization_value", hexs(rc.PersonalizationValue)},
		}, m...)
	}
	return out, m
}

// Measurements returns the measured identity of a piece of evidence (the
// "measurements" of its inspect report) as a map, for attestation results
// that carry what they vouch for. It is nil for evidence ratls does not parse.
func Measurements(it *evidence.Item) map[string]any {
	var fs Fields
	switch {
	case it.Quote != nil && it.Quote.TD != nil:
		fs = tdMeasurements(it.Quote.TD)
	case it.Quote != nil:
		fs = sgxMeasurements(it.Quote.SGX)
	case it.SGXReport != nil:
		fs = sgxMeasurements(&it.SGXReport.Body)
	case it.Report2 != nil:
		fs = tdMeasurements(&it.Report2.TD)
	case it.SNP != nil:
		_, fs = describeSNP(it.SNP)
	case it.CCA != nil:
		_, fs = describeCCA(it.CCA)
	case it.Azure != nil:
		var e Evidence
		describeAzure(&e, it.Azure)
		fs = e.Measurements
	default:
		if d := describer(it); d != nil {
			_, m := d.Describe(it)
			return m
		}
		return nil
	}
	m := make(map[string]any, len(fs))
	for _, f := range fs {
		m[f.Name] = f.Value
	}
	return m
}

// describer is the registered family that describes it, nil when none
// does: evidence ratls does not parse itself, claimed by a family from
// outside (tee.Describer).
func describer(it *evidence.Item) tee.Describer {
	d, _ := tee.For(it).(tee.Describer)
	return d
}

// fieldsOf orders a family's measurements by name.
func fieldsOf(m map[string]any) Fields {
	fs := make(Fields, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fs = append(fs, Field{k, m[k]})
	}
	return fs
}

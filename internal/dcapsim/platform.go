package dcapsim

import (
	"crypto/sha256"
	"crypto/sha512"
	"math/big"
	"time"

	"github.com/ratls/ratls/evidence/quote"
)

// Platform is a consistent set of options for one simulated machine: a PCK
// certificate, the quote options of its quoting enclave and application,
// and the collateral that rates it. Tests change fields and then call
// [Platform.NewQuote] and [Platform.Collateral]; nothing is cached, so
// every change takes effect. The PCK certificate is the exception: to
// change it, issue a new one with [PKI.NewPCK] (for instance from a
// modified copy of QuoteOptions.PCK.Options) and set QuoteOptions.PCK.
type Platform struct {
	// TDX reports whether this is a TDX platform.
	TDX bool
	// QuoteOptions produce the platform's quotes. QuoteOptions.PCK is the
	// platform's PCK certificate; its CA issues the PCK CRL.
	QuoteOptions QuoteOptions
	// TCBInfoOptions and QEIdentityOptions produce the signed collateral.
	TCBInfoOptions    TCBInfoOptions
	QEIdentityOptions QEIdentityOptions
	// PCKCRLRevoked and RootCRLRevoked are the serial numbers the CRLs
	// revoke (none by default).
	PCKCRLRevoked, RootCRLRevoked []*big.Int
	// CRLThisUpdate and CRLNextUpdate date both CRLs; zero means the
	// defaults of [PKI.PCKCRL].
	CRLThisUpdate, CRLNextUpdate time.Time

	pki *PKI
}

// Baseline values of DefaultPlatform, modelled on real platforms: an SGX
// platform with FMSPC 00906ED50000 behind the processor CA, and a TDX
// platform with FMSPC 00806F050000 behind the platform CA.
var (
	defaultSGXFMSPC = [6]byte{0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00}
	defaultTDXFMSPC = [6]byte{0x00, 0x80, 0x6f, 0x05, 0x00, 0x00}
)

// DefaultPlatform returns an SGX (tdx false) or TDX platform whose quotes
// verify as UpToDate against its collateral at p.Now:
//
//   - its PCK certificate (processor CA for SGX, platform CA for TDX)
//     certifies the TCB of the first TCB level, which is UpToDate, followed
//     by two older OutOfDate levels with advisories;
//   - for TDX, the TD report's TEE_TCB_SVN (05 01 07 ...) matches the first
//     level and the TDX module identity TDX_01;
//   - the QE identity matches DefaultQE, with an older OutOfDate level;
//   - quotes are version 3 (SGX) or 4 (TDX), signed with one attestation
//     key; the report data is zero;
//   - the collateral is issued a day before Now and valid for 30 days;
//     both CRLs are empty.
func (p *PKI) DefaultPlatform(tdx bool) (*Platform, error) {
	day := 24 * time.Hour
	midnight := p.Now.Truncate(day)
	current, previous, oldest := midnight.Add(-60*day), midnight.Add(-240*day), midnight.Add(-2000*day)

	var pckOpts PCKOptions
	var levels []TCBLevel
	if tdx {
		pckOpts = PCKOptions{
			CA:            CAPlatform,
			FMSPC:         defaultTDXFMSPC,
			CompSVN:       [16]uint8{7, 7, 2, 2, 3, 1, 0, 3},
			PCESVN:        11,
			SGXType:       SGXTypeScalable,
			Configuration: PlatformConfiguration{DynamicPlatform: true, CachedKeys: true, SMTEnabled: true},
		}
		levels = []TCBLevel{
			{SGXComponents: pckOpts.CompSVN, PCESVN: 11, TDXComponents: [16]uint8{5, 0, 7}, Date: current, Status: StatusUpToDate},
			{SGXComponents: [16]uint8{6, 6, 2, 2, 3, 1, 0, 3}, PCESVN: 11, TDXComponents: [16]uint8{3, 0, 6}, Date: previous,
				Status: StatusOutOfDate, Advisories: []string{"INTEL-SA-00960", "INTEL-SA-00982"}},
			{SGXComponents: [16]uint8{5, 5, 2, 2, 3, 1, 0, 3}, PCESVN: 5, TDXComponents: [16]uint8{3, 0, 5}, Date: oldest,
				Status: StatusOutOfDate, Advisories: []string{"INTEL-SA-00837", "INTEL-SA-00960", "INTEL-SA-00982"}},
		}
	} else {
		pckOpts = PCKOptions{
			CA:      CAProcessor,
			FMSPC:   defaultSGXFMSPC,
			CompSVN: [16]uint8{21, 21, 2, 4, 1, 128, 14},
			PCESVN:  13,
			SGXType: SGXTypeStandard,
		}
		levels = []TCBLevel{
			{SGXComponents: pckOpts.CompSVN, PCESVN: 13, Date: current, Status: StatusUpToDate},
			{SGXComponents: [16]uint8{20, 20, 2, 4, 1, 128, 14}, PCESVN: 13, Date: previous,
				Status: StatusOutOfDate, Advisories: []string{"INTEL-SA-00828", "INTEL-SA-00615"}},
			{SGXComponents: [16]uint8{5, 5, 2, 4, 1, 128}, PCESVN: 5, Date: oldest,
				Status: StatusOutOfDate, Advisories: []string{"INTEL-SA-00106", "INTEL-SA-00615", "INTEL-SA-00828"}},
		}
	}
	pck, err := p.NewPCK(pckOpts)
	if err != nil {
		return nil, err
	}
	attKey, err := p.newKey()
	if err != nil {
		return nil, err
	}
	qe := DefaultQE(tdx)

	pl := &Platform{
		TDX: tdx,
		QuoteOptions: QuoteOptions{
			TDX:            tdx,
			QE:             qe,
			PCK:            pck,
			AttestationKey: attKey,
		},
		TCBInfoOptions: TCBInfoOptions{
			TDX:    tdx,
			FMSPC:  pckOpts.FMSPC,
			PCEID:  pckOpts.PCEID,
			Levels: levels,
		},
		QEIdentityOptions: QEIdentityOptions{
			TDX:       tdx,
			MRSigner:  qe.MRSigner,
			ISVProdID: qe.ISVProdID,
			Levels: []IdentityLevel{
				{ISVSVN: qe.ISVSVN, Date: current, Status: StatusUpToDate},
				{ISVSVN: qe.ISVSVN - 2, Date: previous, Status: StatusOutOfDate, Advisories: []string{"INTEL-SA-00615"}},
			},
		},
		pki: p,
	}
	if err := p.randomBytes(pl.QuoteOptions.UserData[:16]); err != nil {
		return nil, err
	}

	if tdx {
		pl.QuoteOptions.Version = 4
		mask := IntelTDXModule.AttributesMask
		pl.TCBInfoOptions.TDXModuleIdentities = []ModuleIdentity{
			{ID: "TDX_03", AttributesMask: mask, Levels: []IdentityLevel{{ISVSVN: 3, Date: current, Status: StatusUpToDate}}},
			{ID: "TDX_01", AttributesMask: mask, Levels: []IdentityLevel{
				{ISVSVN: 4, Date: current, Status: StatusUpToDate},
				{ISVSVN: 2, Date: previous, Status: StatusOutOfDate, Advisories: []string{"INTEL-SA-00960"}},
			}},
		}
		td := &pl.QuoteOptions.TD
		td.TEETCBSVN = [16]byte{5, 1, 7}
		td.MRSEAM = sha512.Sum384([]byte("dcaptest TDX module"))
		td.TDAttributes = [8]byte{0, 0, 0, 0x10} // SEPT_VE_DISABLE
		td.XFAM = [8]byte{0xe7, 0x02, 0x06}
		td.MRTD = sha512.Sum384([]byte("dcaptest TD"))
	} else {
		pl.QuoteOptions.Version = 3
		body := &pl.QuoteOptions.SGX
		body.CPUSVN = pck.Options.CPUSVN
		body.Attributes[0] = byte(quote.SGXAttrInitted | quote.SGXAttrMode64Bit)
		body.Attributes[8] = 0xe7
		body.MREnclave = sha256.Sum256([]byte("dcaptest enclave"))
		body.MRSigner = sha256.Sum256([]byte("dcaptest enclave signer"))
	}
	return pl, nil
}

// PKI returns the PKI the platform belongs to.
func (pl *Platform) PKI() *PKI { return pl.pki }

// NewQuote returns a quote of the platform with the given report data.
func (pl *Platform) NewQuote(reportData [64]byte) ([]byte, error) {
	o := pl.QuoteOptions
	if pl.TDX {
		o.TD.ReportData = reportData
	} else {
		o.SGX.ReportData = reportData
	}
	return pl.pki.NewQuote(o)
}

// Collateral signs the platform's TCB Info, QE identity and CRLs.
func (pl *Platform) Collateral() (*Collateral, error) {
	p := pl.pki
	tcbInfo, err := p.TCBInfo(pl.TCBInfoOptions)
	if err != nil {
		return nil, err
	}
	qeIdentity, err := p.QEIdentity(pl.QEIdentityOptions)
	if err != nil {
		return nil, err
	}
	ca := CAPlatform
	if pl.QuoteOptions.PCK != nil {
		ca = pl.QuoteOptions.PCK.Options.CA
	}
	pckCRL, err := p.PCKCRL(ca, pl.PCKCRLRevoked, pl.CRLThisUpdate, pl.CRLNextUpdate)
	if err != nil {
		return nil, err
	}
	rootCRL, err := p.RootCRL(pl.RootCRLRevoked, pl.CRLThisUpdate, pl.CRLNextUpdate)
	if err != nil {
		return nil, err
	}
	return p.Collateral(tcbInfo, qeIdentity, pckCRL, ca, rootCRL)
}

// WriteCollateralDir writes the platform's collateral into dir; see
// [Collateral.WriteDir].
func (pl *Platform) WriteCollateralDir(dir string) error {
	c, err := pl.Collateral()
	if err != nil {
		return err
	}
	return c.WriteDir(dir)
}

// NewMachine returns another machine of the same platform, for fleets: a
// copy of pl with its own PCK certificate (the same options but a new key,
// PPID and, under the platform CA, platform instance ID), attestation key
// and QE ID. Every machine of a platform is rated by the same collateral.
func (pl *Platform) NewMachine() (*Platform, error) {
	o := pl.QuoteOptions.PCK.Options
	o.Key, o.PPID, o.PlatformInstanceID = nil, [16]byte{}, [16]byte{}
	return pl.reissue(o)
}

// WithFMSPC returns a machine of another platform family: a copy of pl
// whose PCK certificate (newly issued, as by [Platform.NewMachine]) and
// TCB Info are for fmspc.
func (pl *Platform) WithFMSPC(fmspc [6]byte) (*Platform, error) {
	o := pl.QuoteOptions.PCK.Options
	o.Key, o.PPID, o.PlatformInstanceID = nil, [16]byte{}, [16]byte{}
	o.FMSPC = fmspc
	m, err := pl.reissue(o)
	if err != nil {
		return nil, err
	}
	m.TCBInfoOptions.FMSPC = fmspc
	return m, nil
}

// reissue returns a copy of pl with a PCK certificate for o, a new
// attestation key and a new QE ID.
func (pl *Platform) reissue(o PCKOptions) (*Platform, error) {
	p := pl.pki
	pck, err := p.NewPCK(o)
	if err != nil {
		return nil, err
	}
	attKey, err := p.newKey()
	if err != nil {
		return nil, err
	}
	m := *pl
	m.QuoteOptions.PCK, m.QuoteOptions.AttestationKey = pck, attKey
	if err := p.randomBytes(m.QuoteOptions.UserData[:16]); err != nil {
		return nil, err
	}
	return &m, nil
}

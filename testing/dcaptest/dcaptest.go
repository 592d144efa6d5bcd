package dcaptest

import "github.com/ratls/ratls/internal/dcapsim"

// The test PKI and what it issues.
type (
	// PKI is a test root CA with its two PCK CAs and the TCB signer; see
	// [New].
	PKI = dcapsim.PKI
	// Options configures [New].
	Options = dcapsim.Options
	// Validity is a certificate validity period.
	Validity = dcapsim.Validity
	// PCK is a PCK certificate with its attestation key and chain.
	PCK = dcapsim.PCK
	// PCKOptions are the contents of a PCK certificate.
	PCKOptions = dcapsim.PCKOptions
	// PlatformConfiguration is the Configuration entry of PCK certificates
	// of scalable platforms.
	PlatformConfiguration = dcapsim.PlatformConfiguration
	// Platform is one simulated machine: its PCK, quote and collateral
	// settings.
	Platform = dcapsim.Platform
	// Collateral is the verification collateral of one platform.
	Collateral = dcapsim.Collateral
)

// Collateral contents.
type (
	TCBInfoOptions    = dcapsim.TCBInfoOptions
	TCBLevel          = dcapsim.TCBLevel
	TDXModule         = dcapsim.TDXModule
	ModuleIdentity    = dcapsim.ModuleIdentity
	ComponentLabel    = dcapsim.ComponentLabel
	QEIdentityOptions = dcapsim.QEIdentityOptions
	IdentityLevel     = dcapsim.IdentityLevel
)

// Quote contents.
type (
	QuoteOptions = dcapsim.QuoteOptions
	QEOptions    = dcapsim.QEOptions
	QuoteFaults  = dcapsim.QuoteFaults
)

// New creates the root, both PCK CAs and the TCB signer.
func New(opts Options) (*PKI, error) { return dcapsim.New(opts) }

// DefaultQE returns the quoting enclave of Intel's production SGX (tdx
// false) or TDX quotes: Intel's MRSIGNER and product ID, SVN 8 (SGX) or 4
// (TDX), flags INIT|MODE64BIT|PROVISION_KEY and XFRM 0xe7. MRENCLAVE is a
// made-up value, since no verifier checks it.
func DefaultQE(tdx bool) QEOptions { return dcapsim.DefaultQE(tdx) }

// SGXExtensionValue returns the DER value of the SGX extension of a PCK
// certificate for o (Intel's ASN.1 structure, OID [OIDSGXExtensions]).
// Fields are used as given: no defaults are applied, and a zero CPUSVN is
// written as zero.
func SGXExtensionValue(o PCKOptions) ([]byte, error) { return dcapsim.SGXExtensionValue(o) }

// TimeFormat is the date format of Intel collateral (always UTC).
const TimeFormat = dcapsim.TimeFormat

// TCB status values of TCB levels and enclave identity levels.
const (
	StatusUpToDate                          = dcapsim.StatusUpToDate
	StatusSWHardeningNeeded                 = dcapsim.StatusSWHardeningNeeded
	StatusConfigurationNeeded               = dcapsim.StatusConfigurationNeeded
	StatusConfigurationAndSWHardeningNeeded = dcapsim.StatusConfigurationAndSWHardeningNeeded
	StatusOutOfDate                         = dcapsim.StatusOutOfDate
	StatusOutOfDateConfigurationNeeded      = dcapsim.StatusOutOfDateConfigurationNeeded
	StatusRevoked                           = dcapsim.StatusRevoked
)

// DefaultEvaluationDataNumber is the TCB evaluation data number of
// collateral that does not set one.
const DefaultEvaluationDataNumber = dcapsim.DefaultEvaluationDataNumber

// Collateral file names written by Collateral.WriteDir.
const (
	FileTCBInfo               = dcapsim.FileTCBInfo
	FileTCBInfoIssuerChain    = dcapsim.FileTCBInfoIssuerChain
	FileQEIdentity            = dcapsim.FileQEIdentity
	FileQEIdentityIssuerChain = dcapsim.FileQEIdentityIssuerChain
	FilePCKCRL                = dcapsim.FilePCKCRL
	FilePCKCRLIssuerChain     = dcapsim.FilePCKCRLIssuerChain
	FileRootCRL               = dcapsim.FileRootCRL
)

// SGX types carried in the PCK certificate (OID suffix .5).
const (
	SGXTypeStandard              = dcapsim.SGXTypeStandard
	SGXTypeScalable              = dcapsim.SGXTypeScalable
	SGXTypeScalableWithIntegrity = dcapsim.SGXTypeScalableWithIntegrity
)

// Names of the two PCK certificate authorities, as used by Intel's PCS in
// the "ca" query parameter and in CRL distribution point URLs.
const (
	CAPlatform  = dcapsim.CAPlatform
	CAProcessor = dcapsim.CAProcessor
)

// Defaults of [Options].
const (
	DefaultCommonNamePrefix = dcapsim.DefaultCommonNamePrefix
	DefaultOrganization     = dcapsim.DefaultOrganization
	DefaultRootCRLURL       = dcapsim.DefaultRootCRLURL
	DefaultPCKCRLURLBase    = dcapsim.DefaultPCKCRLURLBase
)

// IntelQEProdID and IntelTDQEProdID are the ISV product IDs of Intel's
// SGX and TDX quoting enclaves.
const (
	IntelQEProdID   = dcapsim.IntelQEProdID
	IntelTDQEProdID = dcapsim.IntelTDQEProdID
)

// Values of Intel's production quoting enclaves and collateral. They are
// copies: changing them here does not change what [New] and [DefaultQE]
// produce.
var (
	// IntelQEVendorID is the QE vendor ID of Intel's quoting enclaves.
	IntelQEVendorID = dcapsim.IntelQEVendorID
	// IntelQEMRSigner and IntelTDQEMRSigner are the signers of Intel's SGX
	// and TDX quoting enclaves.
	IntelQEMRSigner   = dcapsim.IntelQEMRSigner
	IntelTDQEMRSigner = dcapsim.IntelTDQEMRSigner
	// IntelQEAttributes and IntelQEAttributesMask are Intel's enclave
	// identity attribute values.
	IntelQEAttributes     = dcapsim.IntelQEAttributes
	IntelQEAttributesMask = dcapsim.IntelQEAttributesMask
	// IntelTDXModule is the TDX module entry of Intel's TDX TCB Info.
	IntelTDXModule = dcapsim.IntelTDXModule
	// IntelTDXSGXComponentLabels and IntelTDXComponentLabels are the labels
	// Intel's TDX TCB Info carries for the SGX and TDX TCB components.
	IntelTDXSGXComponentLabels = dcapsim.IntelTDXSGXComponentLabels
	IntelTDXComponentLabels    = dcapsim.IntelTDXComponentLabels
	// OIDSGXExtensions is the Intel SGX Extensions certificate extension of
	// PCK certificates.
	OIDSGXExtensions = dcapsim.OIDSGXExtensions
)

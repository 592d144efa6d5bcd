package ear

import (
	"slices"
	"strings"

	"github.com/ratls/ratls/appraise"
	"github.com/ratls/ratls/verify/amd"
	"github.com/ratls/ratls/verify/arm"
	"github.com/ratls/ratls/verify/intel"
)

// AR4SI claim values FromAppraisal emits (FORMATS: AR4SI "Specific Claims").
const (
	TrustworthyInstance   int8 = 2  // instance-identity: recognized, not compromised
	UntrustworthyInstance int8 = 96 // instance-identity: recognized but untrustworthy key
	UnrecognizedInstance  int8 = 97 // instance-identity: not recognized
	ApprovedConfig        int8 = 2  // configuration: approved
	VulnerableConfig      int8 = 32 // configuration: known vulnerabilities
	UnsupportableConfig   int8 = 96 // configuration: unsupportable
	ApprovedRuntime       int8 = 2  // executables: approved boot and run-time
	OutdatedRuntime       int8 = 32 // executables: recognized but known bugs
	UnrecognizedRuntime   int8 = 33 // executables: unrecognized run-time
	ContraindicatedRun    int8 = 96 // executables: contraindicated run-time
	GenuineHardware       int8 = 2  // hardware: genuine
	VulnerableHardware    int8 = 32 // hardware: genuine but known vulnerabilities
	UnrecognizedHardware  int8 = 97 // hardware: unrecognized
	EncryptedMemory       int8 = 2  // runtime-opaque: encrypted memory
	IsolatedMemory        int8 = 32 // runtime-opaque: isolated memory
	VisibleMemory         int8 = 96 // runtime-opaque: visible
)

// verificationChecks are the checks of the verifiers: failures mean the
// evidence could not be shown to come from genuine hardware.
var verificationChecks = []string{
	"verification", "trust_anchor",
	intel.CheckQuoteFormat, intel.CheckPCKChain, intel.CheckPCKExtensions, intel.CheckQEReportBinding,
	intel.CheckCollateral, intel.CheckRootCRL, intel.CheckPCKCRL, intel.CheckRevocation, intel.CheckTCBInfoValidity,
	intel.CheckTCBInfoMatch, intel.CheckQEIDValidity, intel.CheckQEIDMatch, intel.CheckTDXModule, intel.CheckTCBLevel,
	amd.CheckReportFormat, amd.CheckProduct, amd.CheckChain, amd.CheckCRL, amd.CheckTCB, amd.CheckHWID,
	arm.CheckTokenFormat, arm.CheckPlatformKey, arm.CheckBinding, arm.CheckChallenge,
}

// tcbChecks are policy checks on the platform's TCB level.
var tcbChecks = []string{"tcb_status", "advisory_ids", "tcb_date", "tcb_evaluation_data_number"}

// configChecks are policy checks on how the TEE is set up.
var configChecks = []string{"sev_snp.vmpl", "cca.lifecycle"}

// svnChecks are minimum security versions of the workload.
var svnChecks = []string{"sgx.isv_svn", "sev_snp.guest_svn"}

// claimFor maps one reason to the trust-vector claims it lowers.
func claimFor(r appraise.Reason, tee string, tv *TrustVector) {
	bad := r.Status == appraise.Contraindicated
	pick := func(warn, contra int8) int8 {
		if bad {
			return contra
		}
		return warn
	}
	c := r.Check
	switch {
	case strings.Contains(c, "signature"):
		lower(&tv.InstanceIdentity, pick(32, CryptoFailed))
		if bad {
			lower(&tv.Hardware, UnrecognizedHardware)
		}
	case c == "key_binding" || c == "sev_snp.signing_key":
		lower(&tv.InstanceIdentity, pick(32, UntrustworthyInstance))
	case c == "debug":
		lower(&tv.RuntimeOpaque, pick(IsolatedMemory, VisibleMemory))
	case slices.Contains(tcbChecks, c) || strings.HasPrefix(c, "sev_snp.tcb."):
		lower(&tv.Configuration, pick(VulnerableConfig, UnsupportableConfig))
	case slices.Contains(verificationChecks, c):
		lower(&tv.Hardware, pick(VulnerableHardware, UnrecognizedHardware))
		if bad {
			lower(&tv.InstanceIdentity, UnrecognizedInstance)
		}
	case slices.Contains(configChecks, c) || strings.HasPrefix(c, "sev_snp.policy."):
		lower(&tv.Configuration, pick(VulnerableConfig, UnsupportableConfig))
	case slices.Contains(svnChecks, c):
		lower(&tv.Executables, pick(OutdatedRuntime, ContraindicatedRun))
	case c == tee || strings.HasPrefix(c, tee+"."), strings.Contains(c, "."):
		// A reference value (measurement, product ID, component) did
		// not match.
		lower(&tv.Executables, UnrecognizedRuntime)
	default:
		lower(&tv.Configuration, pick(VulnerableConfig, UnsupportableConfig))
	}
}

// lower sets *claim to v if v is in a worse tier (or the same tier with a
// larger magnitude, e.g. 99 over 97).
func lower(claim *int8, v int8) {
	cur, next := TierOf(*claim).Code(), TierOf(v).Code()
	if next > cur || (next == cur && abs(v) > abs(*claim)) {
		*claim = v
	}
}

func abs(v int8) int { return max(int(v), -int(v)) }

// FromAppraisal converts an appraisal of evidence from tee ("sgx", "tdx",
// "sev_snp", "cca"; also a good submodule name) into an EAR submodule.
// measurements becomes ear.veraison.annotated-evidence (not copied). The
// trust vector follows the mapping in the package documentation; the
// status is the appraisal's, or the vector's worst tier if that is worse.
func FromAppraisal(a *appraise.Appraisal, tee string, measurements map[string]any) *Appraisal {
	tv := &TrustVector{}
	genuine := true
	for _, r := range a.Reasons {
		if r.Status == appraise.Contraindicated && (strings.Contains(r.Check, "signature") || slices.Contains(verificationChecks, r.Check)) {
			genuine = false
		}
	}
	if genuine {
		// Claims established by a successful verification; nothing is
		// affirmed about evidence whose origin is unproven.
		tv.InstanceIdentity, tv.Hardware, tv.Configuration, tv.RuntimeOpaque =
			TrustworthyInstance, GenuineHardware, ApprovedConfig, EncryptedMemory
		if a.ReferenceValuesChecked {
			tv.Executables = ApprovedRuntime
		}
	}
	for _, r := range a.Reasons {
		if r.Status == appraise.Affirming {
			continue
		}
		claimFor(r, tee, tv)
	}
	var status Status
	switch a.Status {
	case appraise.Affirming:
		status = StatusAffirming
	case appraise.Warning:
		status = StatusWarning
	default: // contraindicated, or an unknown outcome: fail closed
		status = StatusContraindicated
	}
	return &Appraisal{
		Status:            status.Worse(tv.Status()),
		TrustVector:       tv,
		PolicyID:          a.PolicyID,
		AnnotatedEvidence: measurements,
		Reasons:           slices.Clone(a.Reasons),
	}
}

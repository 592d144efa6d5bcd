package pcs

import "fmt"

// Status is a TCB status as spelled in Intel's collateral JSON
// ("tcbStatus") and, for the two TD relaunch statuses, as reported by QVL.
//
// QVL defines no ordering between statuses: they are combined with the fixed
// convergence rules of ConvergeStatus and TCBInfo.MatchTDX, never by
// "worst of", so this type has no rank.
type Status string

// Statuses that appear in TCB Info levels. Enclave Identity levels use a
// subset (see EnclaveTCBLevel) and TDX module levels are evaluated only when
// UpToDate, OutOfDate or Revoked.
const (
	StatusUpToDate                          Status = "UpToDate"
	StatusSWHardeningNeeded                 Status = "SWHardeningNeeded"
	StatusConfigurationNeeded               Status = "ConfigurationNeeded"
	StatusConfigurationAndSWHardeningNeeded Status = "ConfigurationAndSWHardeningNeeded"
	StatusOutOfDate                         Status = "OutOfDate"
	StatusOutOfDateConfigurationNeeded      Status = "OutOfDateConfigurationNeeded"
	StatusRevoked                           Status = "Revoked"
)

// Statuses produced only by evaluation (TCBInfo.RelaunchStatus), never found
// in collateral: the TD runs on an out-of-date TDX module although the
// platform already has an up-to-date one, so relaunching the TD fixes it.
const (
	StatusTDRelaunchAdvised                    Status = "TDRelaunchAdvised"
	StatusTDRelaunchAdvisedConfigurationNeeded Status = "TDRelaunchAdvisedConfigurationNeeded"
)

// tcbInfoStatuses is QVL's VALID_TCB_INFO_STATUSES.
var tcbInfoStatuses = []Status{
	StatusUpToDate, StatusSWHardeningNeeded, StatusConfigurationNeeded,
	StatusConfigurationAndSWHardeningNeeded, StatusOutOfDate,
	StatusOutOfDateConfigurationNeeded, StatusRevoked,
}

// enclaveIdentityStatuses is what QVL's parseStringToTcbStatus accepts for
// Enclave Identity levels.
var enclaveIdentityStatuses = []Status{
	StatusUpToDate, StatusConfigurationNeeded, StatusOutOfDate,
	StatusOutOfDateConfigurationNeeded, StatusRevoked,
}

// moduleStatuses is QVL's VALID_MODULE_TCB_STATUSES: the statuses a matched
// TDX module level may have.
var moduleStatuses = []Status{StatusUpToDate, StatusOutOfDate, StatusRevoked}

func statusIn(s Status, set []Status) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

// String returns the status name.
func (s Status) String() string { return string(s) }

// configurationNeeded reports whether s is one of the statuses QVL's
// TDRelaunchCheck treats as "configuration needed".
func (s Status) configurationNeeded() bool {
	switch s {
	case StatusConfigurationNeeded, StatusOutOfDateConfigurationNeeded,
		StatusConfigurationAndSWHardeningNeeded, StatusTDRelaunchAdvisedConfigurationNeeded:
		return true
	}
	return false
}

// knownPlatformStatus reports whether s may be the platform side of a
// convergence (QVL convergeTcbStatusWithQeTcbStatus accepts these).
func knownPlatformStatus(s Status) bool {
	return statusIn(s, tcbInfoStatuses) ||
		s == StatusTDRelaunchAdvised || s == StatusTDRelaunchAdvisedConfigurationNeeded
}

// ConvergeStatus combines the platform TCB status (from MatchSGX, or from
// MatchTDX / RelaunchStatus) with the status of the matched QE Identity level
// exactly as QVL's convergeTcbStatusWithQeTcbStatus:
//
//   - QE UpToDate: the platform status.
//   - QE Revoked: Revoked.
//   - any other QE status (QVL maps them all to "ISVSVN out of date"):
//     UpToDate and SWHardeningNeeded become OutOfDate; ConfigurationNeeded
//     and ConfigurationAndSWHardeningNeeded become OutOfDateConfigurationNeeded;
//     every other platform status is kept.
//
// An empty qe means no QE Identity was evaluated (QVL's optional QE status);
// the platform status is returned unchanged. A QE without a matching level is
// not a status: EnclaveIdentity.MatchQE reports it as ErrNoTCBLevel, which QVL
// turns into TCB_NOT_SUPPORTED. Unknown statuses give ErrUnrecognizedStatus.
func ConvergeStatus(platform, qe Status) (Status, error) {
	if !knownPlatformStatus(platform) {
		return "", fmt.Errorf("pcs: converge: platform status %q: %w", platform, ErrUnrecognizedStatus)
	}
	switch {
	case qe == "" || qe == StatusUpToDate:
		return platform, nil
	case qe == StatusRevoked:
		return StatusRevoked, nil
	case statusIn(qe, enclaveIdentityStatuses):
		switch platform {
		case StatusUpToDate, StatusSWHardeningNeeded:
			return StatusOutOfDate, nil
		case StatusConfigurationNeeded, StatusConfigurationAndSWHardeningNeeded:
			return StatusOutOfDateConfigurationNeeded, nil
		}
		return platform, nil
	}
	return "", fmt.Errorf("pcs: converge: QE status %q: %w", qe, ErrUnrecognizedStatus)
}

// convergeWithModule is QVL's convergeTcbStatusWithTdxModuleStatus. Both
// inputs are validated by the caller.
func convergeWithModule(platform, module Status) Status {
	switch module {
	case StatusOutOfDate:
		switch platform {
		case StatusUpToDate, StatusSWHardeningNeeded:
			return StatusOutOfDate
		case StatusConfigurationNeeded, StatusConfigurationAndSWHardeningNeeded:
			return StatusOutOfDateConfigurationNeeded
		}
	case StatusRevoked:
		return StatusRevoked
	}
	return platform
}

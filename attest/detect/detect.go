// Package detect reports which TEE attestation interfaces the current
// machine offers and which ratls attester can use them.
//
// It looks for:
//
//   - configfs-tsm (/sys/kernel/config/tsm/report, Linux 6.7+): TDX,
//     SEV-SNP and Arm CCA guests; attester "tsm". Which TEE serves it (the
//     provider) is only visible inside a report entry, so Detect creates a
//     temporary entry, reads its provider and removes it again.
//   - /dev/sev-guest (Linux 5.19+ SEV-SNP guests): attester "sevguest".
//   - /dev/tdx_guest (Linux 6.2+ TDX guests): gives only a TDREPORT, which
//     a remote party cannot verify; TDX quotes need configfs-tsm.
//   - /dev/attestation (inside a Gramine SGX enclave): attester "gramine"
//     when its attestation_type is "dcap".
//   - /dev/sgx_enclave or /dev/sgx/enclave: the machine can run SGX
//     enclaves, but this process is not in one; there is no attester.
//
// Detection only reads the filesystem (and, in Detect, creates and removes
// one configfs-tsm report entry); it does not request evidence.
package detect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ratls/ratls/attest/tsm"
)

// Interface is one TEE interface and what it offers.
type Interface struct {
	// Name identifies the interface: one of the Name* constants.
	Name string `json:"name"`
	// Path is where the interface lives on a standard system.
	Path string `json:"path"`
	// Available reports whether Path exists here.
	Available bool `json:"available"`
	// Detail explains what was found, or what is needed when absent.
	Detail string `json:"detail"`
	// Attester is the ratls attester ("tsm", "gramine" or "sevguest") that
	// can produce evidence through this interface; empty when none can.
	Attester string `json:"attester,omitempty"`
}

// Interface names.
const (
	NameTSM      = "configfs-tsm"
	NameSEVGuest = "sev-guest"
	NameTDXGuest = "tdx-guest"
	NameGramine  = "gramine"
	NameSGX      = "sgx"
)

// Attester names, as accepted by "ratls attest --attester".
const (
	AttesterTSM      = "tsm"
	AttesterGramine  = "gramine"
	AttesterSEVGuest = "sevguest"
)

// Paths of the interfaces.
const (
	PathTSM            = "/sys/kernel/config/tsm/report"
	PathSEVGuest       = "/dev/sev-guest"
	PathTDXGuest       = "/dev/tdx_guest"
	PathGramine        = "/dev/attestation"
	PathSGXEnclave     = "/dev/sgx_enclave"
	PathSGXEnclaveOld  = "/dev/sgx/enclave" // out-of-tree DCAP driver
	maxAttestationType = 64
	probeTimeout       = 10 * time.Second
)

// Detect inspects this machine. When configfs-tsm is present it also
// creates a temporary report entry to read the provider (this needs root;
// without it the provider stays unknown) and removes the entry.
func Detect() []Interface {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	return detect("/", func() (string, error) {
		a, err := tsm.New(tsm.Options{})
		if err != nil {
			return "", err
		}
		return a.Provider(ctx)
	})
}

// DetectAt inspects the filesystem tree under root as if it were "/". It
// never creates configfs-tsm entries, so the provider stays unknown.
func DetectAt(root string) []Interface {
	return detect(root, nil)
}

// Recommend returns the attester to use given detected interfaces, or ""
// when none applies. configfs-tsm is preferred over the legacy SEV device
// because it is the kernel's maintained interface (it also handles the
// SVSM privilege floor and certificate blobs).
func Recommend(ifaces []Interface) string {
	for _, want := range []string{AttesterTSM, AttesterGramine, AttesterSEVGuest} {
		for _, i := range ifaces {
			if i.Available && i.Attester == want {
				return want
			}
		}
	}
	return ""
}

// detect builds the report; probe, when non-nil, reads the configfs-tsm
// provider.
func detect(root string, probe func() (string, error)) []Interface {
	return []Interface{
		detectTSM(root, probe),
		detectSEVGuest(root),
		detectTDXGuest(root),
		detectGramine(root),
		detectSGX(root),
	}
}

// exists reports whether the standard path p exists under root.
func exists(root, p string) bool {
	_, err := os.Stat(filepath.Join(root, filepath.FromSlash(p)))
	return err == nil
}

func detectTSM(root string, probe func() (string, error)) Interface {
	i := Interface{Name: NameTSM, Path: PathTSM}
	if !exists(root, PathTSM) {
		i.Detail = "not present: needs Linux 6.7+ running as a TDX, SEV-SNP or Arm CCA guest, with configfs mounted at /sys/kernel/config"
		return i
	}
	i.Available = true
	i.Attester = AttesterTSM
	if probe == nil {
		i.Detail = "present; the provider (TEE type) shows only in a report entry"
		return i
	}
	provider, err := probe()
	if err != nil {
		i.Detail = fmt.Sprintf("present; provider unknown: %v (creating a report entry needs root)", err)
		return i
	}
	switch provider {
	case tsm.ProviderTDX:
		i.Detail = "provider tdx_guest: Intel TDX DCAP quotes (the host must run a quote generation service)"
	case tsm.ProviderSEV:
		i.Detail = "provider sev_guest: AMD SEV-SNP attestation reports"
	case tsm.ProviderCCA:
		i.Detail = "provider arm_cca_guest: Arm CCA attestation tokens"
	default:
		i.Detail = fmt.Sprintf("provider %q is not supported by ratls", provider)
		i.Attester = ""
	}
	return i
}

func detectSEVGuest(root string) Interface {
	i := Interface{Name: NameSEVGuest, Path: PathSEVGuest}
	if !exists(root, PathSEVGuest) {
		i.Detail = "not present: needs an AMD SEV-SNP guest on Linux 5.19+ with the sev-guest driver"
		return i
	}
	i.Available = true
	i.Attester = AttesterSEVGuest
	i.Detail = "AMD SEV-SNP guest device: attestation reports via the SNP_GET_REPORT ioctl (needs root)"
	return i
}

func detectTDXGuest(root string) Interface {
	i := Interface{Name: NameTDXGuest, Path: PathTDXGuest}
	if !exists(root, PathTDXGuest) {
		i.Detail = "not present: needs an Intel TDX guest on Linux 6.2+"
		return i
	}
	i.Available = true
	i.Detail = "Intel TDX guest device: gives a TDREPORT only, which cannot be verified remotely; quotes need configfs-tsm (Linux 6.7+)"
	return i
}

func detectGramine(root string) Interface {
	i := Interface{Name: NameGramine, Path: PathGramine}
	dir := filepath.Join(root, filepath.FromSlash(PathGramine))
	if _, err := os.Stat(dir); err != nil {
		i.Detail = "not present: only inside a Gramine SGX enclave (gramine-sgx)"
		return i
	}
	i.Available = true
	t, err := readSmall(filepath.Join(dir, "attestation_type"), maxAttestationType)
	if err != nil {
		i.Detail = fmt.Sprintf("Gramine enclave, but attestation_type is unreadable: %v", err)
		return i
	}
	switch t {
	case "dcap":
		i.Attester = AttesterGramine
		i.Detail = "Gramine SGX enclave with DCAP remote attestation"
	case "none":
		i.Detail = `Gramine enclave without remote attestation: set sgx.remote_attestation = "dcap" in the manifest`
	default:
		i.Detail = fmt.Sprintf(`Gramine enclave with attestation_type %q; ratls needs "dcap"`, t)
	}
	return i
}

func detectSGX(root string) Interface {
	i := Interface{Name: NameSGX, Path: PathSGXEnclave}
	switch {
	case exists(root, PathSGXEnclave):
	case exists(root, PathSGXEnclaveOld):
		i.Path = PathSGXEnclaveOld
	default:
		i.Detail = "not present: no SGX driver (in-kernel since Linux 5.11)"
		return i
	}
	i.Available = true
	i.Detail = `SGX enclaves can run on this machine, but this process is not inside one: run the program under gramine-sgx with sgx.remote_attestation = "dcap"`
	return i
}

// readSmall reads at most limit bytes of a file and trims whitespace and
// NUL padding.
func readSmall(path string, limit int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return "", err
	}
	if len(b) > limit {
		return "", errors.New("longer than expected")
	}
	return string(bytes.Trim(b, " \t\r\n\x00")), nil
}

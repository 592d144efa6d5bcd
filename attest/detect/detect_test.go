package detect

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makeRoot builds a fake filesystem root: dirs are created as directories,
// files (path -> content) as regular files.
func makeRoot(t *testing.T, dirs []string, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func byName(t *testing.T, ifaces []Interface, name string) Interface {
	t.Helper()
	for _, i := range ifaces {
		if i.Name == name {
			return i
		}
	}
	t.Fatalf("interface %q missing from %v", name, ifaces)
	return Interface{}
}

func TestDetectNothing(t *testing.T) {
	ifaces := DetectAt(t.TempDir())
	want := []string{NameTSM, NameSEVGuest, NameTDXGuest, NameGramine, NameSGX}
	if len(ifaces) != len(want) {
		t.Fatalf("%d interfaces, want %d", len(ifaces), len(want))
	}
	for k, i := range ifaces {
		if i.Name != want[k] {
			t.Errorf("interface %d = %q, want %q", k, i.Name, want[k])
		}
		if i.Available || i.Attester != "" {
			t.Errorf("%s: available %v, attester %q on an empty root", i.Name, i.Available, i.Attester)
		}
		if !strings.HasPrefix(i.Detail, "not present") {
			t.Errorf("%s: detail %q does not say it is absent", i.Name, i.Detail)
		}
		if !strings.HasPrefix(i.Path, "/") {
			t.Errorf("%s: path %q is not the standard absolute path", i.Name, i.Path)
		}
	}
	if r := Recommend(ifaces); r != "" {
		t.Errorf("Recommend = %q, want none", r)
	}
}

func TestDetectTDXGuestVM(t *testing.T) {
	root := makeRoot(t, []string{"sys/kernel/config/tsm/report"}, map[string]string{"dev/tdx_guest": ""})
	ifaces := DetectAt(root)
	tsmI := byName(t, ifaces, NameTSM)
	if !tsmI.Available || tsmI.Attester != AttesterTSM || tsmI.Path != "/sys/kernel/config/tsm/report" {
		t.Errorf("configfs-tsm = %+v", tsmI)
	}
	if !strings.Contains(tsmI.Detail, "provider") {
		t.Errorf("configfs-tsm detail %q does not mention the unknown provider", tsmI.Detail)
	}
	tdx := byName(t, ifaces, NameTDXGuest)
	if !tdx.Available || tdx.Attester != "" || !strings.Contains(tdx.Detail, "TDREPORT only") {
		t.Errorf("tdx-guest = %+v, want available without attester", tdx)
	}
	if r := Recommend(ifaces); r != "tsm" {
		t.Errorf("Recommend = %q, want tsm", r)
	}
	// No configfs entries were created under the fake root.
	entries, err := os.ReadDir(filepath.Join(root, "sys/kernel/config/tsm/report"))
	if err != nil || len(entries) != 0 {
		t.Errorf("report directory changed: %v, %v", entries, err)
	}
}

func TestDetectLegacySEV(t *testing.T) {
	root := makeRoot(t, nil, map[string]string{"dev/sev-guest": ""})
	ifaces := DetectAt(root)
	sev := byName(t, ifaces, NameSEVGuest)
	if !sev.Available || sev.Attester != "sevguest" || sev.Path != "/dev/sev-guest" {
		t.Errorf("sev-guest = %+v", sev)
	}
	if r := Recommend(ifaces); r != "sevguest" {
		t.Errorf("Recommend = %q, want sevguest", r)
	}
	// With configfs-tsm also present, tsm is preferred.
	root = makeRoot(t, []string{"sys/kernel/config/tsm/report"}, map[string]string{"dev/sev-guest": ""})
	if r := Recommend(DetectAt(root)); r != "tsm" {
		t.Errorf("Recommend with both = %q, want tsm", r)
	}
}

func TestDetectGramine(t *testing.T) {
	tests := []struct {
		content  string
		attester string
		detail   string
	}{
		{"dcap", "gramine", "DCAP remote attestation"},
		{"dcap\n", "gramine", "DCAP remote attestation"},
		{"none", "", `set sgx.remote_attestation = "dcap"`},
		{"epid", "", `attestation_type "epid"; ratls needs "dcap"`},
		{strings.Repeat("x", 65), "", "unreadable: longer than expected"},
	}
	for _, tc := range tests {
		root := makeRoot(t, nil, map[string]string{"dev/attestation/attestation_type": tc.content})
		ifaces := DetectAt(root)
		g := byName(t, ifaces, NameGramine)
		if !g.Available || g.Attester != tc.attester || !strings.Contains(g.Detail, tc.detail) {
			t.Errorf("attestation_type %q: %+v, want attester %q and detail containing %q", tc.content, g, tc.attester, tc.detail)
		}
		want := tc.attester
		if r := Recommend(ifaces); r != want {
			t.Errorf("attestation_type %q: Recommend = %q, want %q", tc.content, r, want)
		}
	}
	// Directory without attestation_type.
	root := makeRoot(t, []string{"dev/attestation"}, nil)
	g := byName(t, DetectAt(root), NameGramine)
	if !g.Available || g.Attester != "" || !strings.Contains(g.Detail, "unreadable") {
		t.Errorf("no attestation_type: %+v", g)
	}
}

func TestDetectSGX(t *testing.T) {
	for _, p := range []string{"dev/sgx_enclave", "dev/sgx/enclave"} {
		root := makeRoot(t, nil, map[string]string{p: ""})
		ifaces := DetectAt(root)
		s := byName(t, ifaces, NameSGX)
		if !s.Available || s.Attester != "" || s.Path != "/"+p || !strings.Contains(s.Detail, "gramine-sgx") {
			t.Errorf("%s: %+v", p, s)
		}
		if r := Recommend(ifaces); r != "" {
			t.Errorf("%s: Recommend = %q, want none", p, r)
		}
	}
}

func TestDetectProbe(t *testing.T) {
	root := makeRoot(t, []string{"sys/kernel/config/tsm/report"}, nil)
	tests := []struct {
		provider string
		err      error
		attester string
		detail   string
	}{
		{"tdx_guest", nil, "tsm", "provider tdx_guest: Intel TDX DCAP quotes"},
		{"sev_guest", nil, "tsm", "provider sev_guest: AMD SEV-SNP"},
		{"arm_cca_guest", nil, "tsm", "provider arm_cca_guest: Arm CCA"},
		{"riscv_cove_guest", nil, "", `provider "riscv_cove_guest" is not supported`},
		{"", errors.New("permission denied"), "tsm", "provider unknown: permission denied"},
	}
	for _, tc := range tests {
		probed := false
		ifaces := detect(root, func() (string, error) { probed = true; return tc.provider, tc.err })
		if !probed {
			t.Fatal("probe not called although configfs-tsm is present")
		}
		i := byName(t, ifaces, NameTSM)
		if i.Attester != tc.attester || !strings.Contains(i.Detail, tc.detail) {
			t.Errorf("provider %q, err %v: %+v", tc.provider, tc.err, i)
		}
	}
	// No probe without configfs-tsm.
	detect(t.TempDir(), func() (string, error) { t.Error("probe called without configfs-tsm"); return "", nil })
}

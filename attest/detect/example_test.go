package detect_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/ratls/ratls/attest/detect"
)

// Detect (here DetectAt, on a directory laid out like an SEV-SNP guest of
// an older kernel) lists the TEE interfaces and Recommend names the
// attester to use: "tsm" (package attest/tsm), "sevguest"
// (attest/sevguest) or "gramine" (attest/gramine).
func ExampleDetectAt() {
	root, err := os.MkdirTemp("", "ratls-detect")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	dev := filepath.Join(root, detect.PathSEVGuest)
	if err := os.MkdirAll(filepath.Dir(dev), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		log.Fatal(err)
	}

	ifaces := detect.DetectAt(root)
	for _, i := range ifaces {
		fmt.Println(i.Name, i.Available)
	}
	fmt.Println("attester:", detect.Recommend(ifaces))
	// Output:
	// configfs-tsm false
	// sev-guest true
	// tdx-guest false
	// gramine false
	// sgx false
	// attester: sevguest
}

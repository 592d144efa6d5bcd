package azure_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/ratls/ratls/collateral/pcs"
	evazure "github.com/ratls/ratls/evidence/azure"
	"github.com/ratls/ratls/verify/amd"
	"github.com/ratls/ratls/verify/azure"
	"github.com/ratls/ratls/verify/intel"
)

// Verify checks the chain from an Azure confidential VM's hardware report
// to its vTPM quote and returns the PCRs that chain vouches for. Most
// callers use ratls.VerifyEvidence instead, which also compares the nonce,
// replays the event log (verify/measuredboot) and applies a policy. This
// example needs evidence from a real CVM (Trustee's az-tdx-vtpm or
// az-snp-vtpm JSON), so it is not run.
func ExampleVerify() {
	raw, err := os.ReadFile("evidence.json")
	if err != nil {
		log.Fatal(err)
	}
	ev, err := evazure.Parse(raw)
	if err != nil {
		log.Fatal(err)
	}
	// One verifier of each kind for the process; collateral from Intel's
	// PCS through a cache. An SEV-SNP CVM's evidence carries its VCEK; its
	// ARK's CRL goes in AMDCRLs (from kds.NewCache).
	intelCollateral := pcs.NewCache(pcs.NewClient(pcs.ClientConfig{}), pcs.CacheConfig{})
	res, err := azure.Verify(context.Background(), ev, azure.Options{
		Now:          time.Now(),
		Intel:        intel.NewVerifier(nil),
		IntelOptions: intel.Options{Provider: intelCollateral},
		AMD:          amd.NewVerifier(nil),
	})
	if err != nil {
		log.Fatal(err) // names the failed checks; res holds every fact
	}
	fmt.Println(res.TEE, "PCR 7:", res.PCRs[7])
}

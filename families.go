package ratls

// The TEE families ratls verifies. Each registers itself (tee.Register);
// a new family is one more line here, or an import in the program that
// wants it.
import (
	_ "github.com/ratls/ratls/tee/armcca"    // Arm CCA tokens
	_ "github.com/ratls/ratls/tee/azurevtpm" // Azure vTPM confidential VMs
	_ "github.com/ratls/ratls/tee/dcap"      // Intel SGX and TDX quotes
	_ "github.com/ratls/ratls/tee/sevsnp"    // AMD SEV-SNP reports
)

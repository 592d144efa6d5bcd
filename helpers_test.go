package ratls

import (
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/tee/sevsnp"
	"github.com/ratls/ratls/verify/amd"
	"github.com/ratls/ratls/verify/arm"
	azureverify "github.com/ratls/ratls/verify/azure"
	"github.com/ratls/ratls/verify/intel"
)

// The verifiers' results of a verification, nil when it holds another.
func intelOf(v *Verification) *intel.Result       { r, _ := v.Result.(*intel.Result); return r }
func amdOf(v *Verification) *amd.Result           { r, _ := v.Result.(*amd.Result); return r }
func ccaOf(v *Verification) *arm.Result           { r, _ := v.Result.(*arm.Result); return r }
func azureOf(v *Verification) *azureverify.Result { r, _ := v.Result.(*azureverify.Result); return r }

func dcapOf(o *VerifyOptions) *dcap.Options     { return tee.Edit[dcap.Options](&o.TEE) }
func sevsnpOf(o *VerifyOptions) *sevsnp.Options { return tee.Edit[sevsnp.Options](&o.TEE) }

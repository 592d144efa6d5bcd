package main

import (
	"github.com/ratls/ratls"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/armcca"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/tee/sevsnp"
)

// The options of a TEE family in opt, for the flags to fill in.
func dcapOptions(opt *ratls.VerifyOptions) *dcap.Options { return tee.Edit[dcap.Options](&opt.TEE) }
func sevsnpOptions(opt *ratls.VerifyOptions) *sevsnp.Options {
	return tee.Edit[sevsnp.Options](&opt.TEE)
}
func ccaOptions(opt *ratls.VerifyOptions) *armcca.Options { return tee.Edit[armcca.Options](&opt.TEE) }

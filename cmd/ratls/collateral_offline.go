package main

import (
	"crypto/x509"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/collateral/pcs"
)

// offlineCollateral reads --collateral: a file or directory of Intel
// collateral in any form pcs.LoadOffline recognises. The roots given with
// --trust-root complete issuer chains as Intel's certificates do. A PCK
// chain stored with the collateral (dcap-qvl's pck_certificate_chain)
// serves quotes that carry none, unless --pck-chain gives one.
func (f *verifyFlags) offlineCollateral(opt *ratls.VerifyOptions, roots []*x509.Certificate) error {
	o, err := pcs.LoadOffline(f.collateral, &pcs.OfflineOptions{Certificates: roots})
	if err != nil {
		return inputErr("--collateral: %v", err)
	}
	dcapOptions(opt).Collateral = o
	if dcapOptions(opt).PCKChainPEM == nil && o.PCKCertChain != nil {
		dcapOptions(opt).PCKChainPEM = pcs.EncodePEMChain(o.PCKCertChain)
	}
	return nil
}

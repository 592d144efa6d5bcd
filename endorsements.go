package ratls

import (
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence"
)

// EndorsementsFromCollateral packs Intel collateral into the RA-TLS
// endorsements extension, so that verifiers of the certificate need no
// network access: pass the result as CertificateOptions.Endorsements.
func EndorsementsFromCollateral(c *pcs.Collateral) *evidence.Endorsements {
	e := &evidence.Endorsements{Version: evidence.EndorsementsVersion}
	if c.TCBInfo != nil {
		e.TCBInfo = c.TCBInfo.Body()
	}
	if c.QEIdentity != nil {
		e.QEIdentity = c.QEIdentity.Body()
	}
	if c.PCKCRL != nil {
		e.PCKCRL = c.PCKCRL.Raw
	}
	if c.RootCACRL != nil {
		e.RootCACRL = c.RootCACRL.Raw
	}
	e.TCBInfoIssuerChain = pcs.EncodePEMChain(c.TCBInfoIssuerChain)
	e.QEIdentityIssuerChain = pcs.EncodePEMChain(c.QEIdentityIssuerChain)
	e.PCKCRLIssuerChain = pcs.EncodePEMChain(c.PCKCRLIssuerChain)
	return e
}

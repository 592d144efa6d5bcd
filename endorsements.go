package ratls

import (
	"github.com/ratls/ratls/collateral/kds"
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

// EndorsementsFromSNPCertificates packs the certificates that endorse a
// SEV-SNP report (VCEK or VLEK chain, and the first of c.CRLs, which is the
// leaf's CRL when c comes from kds.LoadDir, kds.Client or kds.Cache) into
// the RA-TLS endorsements extension, so verifiers need not ask AMD's KDS.
// The extension does not say which list the CRL is: a verifier takes it
// as the CRL of a VCEK chain only (see kds.WithPeer).
func EndorsementsFromSNPCertificates(c *kds.Certificates) *evidence.Endorsements {
	s := &evidence.SNPEndorsements{}
	if c.Leaf != nil {
		s.Leaf = c.Leaf.Raw
	}
	if c.Intermediate != nil {
		s.Intermediate = c.Intermediate.Raw
	}
	if c.Root != nil {
		s.Root = c.Root.Raw
	}
	if len(c.CRLs) > 0 && c.CRLs[0].List != nil {
		s.CRL = c.CRLs[0].List.Raw
	}
	return &evidence.Endorsements{Version: evidence.EndorsementsVersion, SNP: s}
}

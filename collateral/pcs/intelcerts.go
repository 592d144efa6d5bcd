package pcs

import (
	"crypto/x509"
	"embed"
	"encoding/pem"
	"io/fs"
)

// intelCertFiles are Intel's public SGX certificates: the Intel SGX Root
// CA, the TCB Signing certificate (issued in 2018 and re-issued in 2025
// with the same key) and the PCK Platform and Processor CAs.
//
//go:embed intelcerts/*.pem
var intelCertFiles embed.FS

var intelCerts = mustIntelCerts()

func mustIntelCerts() []*x509.Certificate {
	names, err := fs.Glob(intelCertFiles, "intelcerts/*.pem")
	if err != nil {
		panic(err)
	}
	var out []*x509.Certificate
	for _, n := range names {
		b, _ := intelCertFiles.ReadFile(n) // embedded: cannot fail
		blk, _ := pem.Decode(b)
		if blk == nil {
			panic("pcs: embedded " + n + " is not PEM")
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			panic("pcs: embedded " + n + ": " + err.Error())
		}
		out = append(out, c)
	}
	return out
}

// intelCertificates returns Intel's public SGX certificates that sign
// collateral or issue PCK certificates: the Intel SGX Root CA, the Intel
// SGX TCB Signing certificates and the PCK Platform and Processor CAs.
// LoadOffline completes issuer chains with them, so that collateral saved
// without its chains still verifies. They are not trust anchors: the
// verifier decides which root it trusts.
func intelCertificates() []*x509.Certificate {
	return append([]*x509.Certificate(nil), intelCerts...)
}

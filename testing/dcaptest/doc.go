// Package dcaptest is a test PKI shaped like Intel's SGX/TDX DCAP PKI. It
// lets verifier tests run against chosen, correctly signed inputs: PCK
// certificate chains, CRLs, TCB Info and QE Identity collateral, and
// SGX/TDX quotes of versions 3, 4 and 5.
//
// Everything it produces has the form of Intel's originals: certificate
// subjects with the same attributes and string types, the same extensions
// in the same order with the same criticality, the PCK SGX extension
// (OID 1.2.840.113741.1.13.1) with Intel's ASN.1 structure, CRLs with the
// same fields, and collateral JSON with Intel's key order, hex case and date
// format. Only the names differ: certificates read "Test SGX Root CA" and so
// on (see [Options.CommonNamePrefix]) and never claim to be Intel's, and the
// CRL distribution points name example.com hosts.
//
// A typical test starts from a consistent baseline and changes one thing:
//
//	pki, _ := dcaptest.New(dcaptest.Options{Now: now})
//	pl, _ := pki.DefaultPlatform(false)         // SGX; true for TDX
//	pl.TCBInfoOptions.Levels[0].Status = "OutOfDate"
//	q, _ := pl.NewQuote(reportData)
//	col, _ := pl.Collateral()
//	// verify q with col, trusting pki.Root
//
// Signatures are deterministic (RFC 6979). Keys and serial numbers are
// derived from [Options.Rand], so a deterministic reader gives byte-identical
// output across runs.
//
// The package is meant for tests only: keys are kept in memory in the clear
// and nothing here checks that the inputs make sense beyond what is needed
// to encode them.
//
// Its types, functions and values are those of an internal package that
// attest/sim shares (a simulator shipped in the CLI must not depend on a
// test helper); this package re-exports them unchanged, so the methods
// documented there are the methods of the types here.
package dcaptest

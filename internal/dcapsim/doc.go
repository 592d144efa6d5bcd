// Package dcapsim is a simulated PKI shaped like Intel's SGX/TDX DCAP PKI.
// It produces chosen, correctly signed inputs for verifiers: PCK
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
// It is the engine behind two packages: testing/dcaptest, the public helper
// for tests (which re-exports everything here), and attest/sim, the
// simulated TEE the CLI ships. It lives in internal so that attest/sim need
// not import a test-only package. Error messages and the labels hashed into
// default measurements still read "dcaptest": they are what testing/dcaptest
// and attest/sim have always produced, and measurements are pinned by tests.
//
// A typical test starts from a consistent baseline and changes one thing:
//
//	pki, _ := dcapsim.New(dcapsim.Options{Now: now})
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
// Keys are kept in memory in the clear and nothing here checks that the
// inputs make sense beyond what is needed to encode them: the output is for
// tests and simulations, never for production trust.
package dcapsim

// Package kds obtains the AMD SEV-SNP certificates that endorse an
// attestation report: the VCEK or VLEK that signed it, the intermediate that
// issued that key (ASK for a VCEK, ASVK for a VLEK), the AMD root key (ARK)
// and, when available, the ARK's certificate revocation list.
//
// Certificates come from three kinds of Provider:
//
//   - Client fetches VCEKs, certificate chains and CRLs from the AMD Key
//     Distribution Service (KDS, https://kdsintf.amd.com):
//     /vcek/v1/{product}/{hwid}?blSPL=&teeSPL=&snpSPL=&ucodeSPL=,
//     /vcek/v1/{product}/cert_chain and /vcek/v1/{product}/crl for a VCEK,
//     /vlek/v1/{product}/cert_chain and /vlek/v1/{product}/crl for a VLEK.
//     AMD publishes the revocations of ASVKs and VLEKs on the VLEK CRL, not
//     on the VCEK CRL, so each chain is checked against its own list
//     (CRLKind).
//   - LoadDir and Static supply certificates from files or carried with the
//     evidence. This is the only way to obtain a VLEK: KDS serves VLEKs only
//     to authorized cloud providers.
//   - WithPeer puts the certificates carried with the evidence behind the
//     verifier's own provider: they only fill its gaps, and their CRLs
//     add revocations but never replace the verifier's.
//   - Cache keeps what another Provider returns, in memory and optionally on
//     disk, so that KDS (which rate-limits aggressively) is asked as rarely
//     as possible.
//
// This package checks that what KDS returns answers the request (the VCEK's
// hardware ID and TCB extensions, the issuer and subject names of the
// chain and CRL) but verifies no signature and makes no trust decision: the
// verifier checks the chain against a pinned ARK.
//
// # Turin
//
// For Turin (AMD family 1Ah) KDS identifies the chip by the first 8 bytes of
// CHIP_ID, adds an fmcSPL query parameter, and the report's TCB_VERSION
// packs the SPLs differently from Milan and Genoa. Public descriptions of the
// Turin TCB_VERSION layout disagree, so Client refuses Turin VCEK requests
// with an error matching ErrUnsupported rather than query KDS with guessed
// values. Turin certificates can still be supplied with LoadDir or Static.
package kds

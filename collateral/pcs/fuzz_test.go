package pcs

import (
	"bytes"
	"errors"
	"testing"
)

func addFiles(f *testing.F, paths ...string) {
	f.Helper()
	for _, p := range paths {
		f.Add(readFile(f, p))
	}
}

func FuzzParseTCBInfo(f *testing.F) {
	for _, s := range allSignedFiles {
		if !s.identity {
			f.Add(readFile(f, s.file))
		}
	}
	f.Add(bodyOf(f, "tcbInfo", tcbInfoDoc(TCBInfoIDSGX, sgxLevel(svns(1, 2), 3, "UpToDate"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		ti, err := ParseTCBInfo(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		if !bytes.Contains(b, ti.Raw) || len(ti.Signature) != 64 || len(ti.TCBLevels) == 0 {
			t.Fatal("inconsistent result")
		}
		for i := 1; i < len(ti.TCBLevels); i++ {
			if compareTCBLevels(ti.TCBLevels[i-1], ti.TCBLevels[i]) >= 0 {
				t.Fatal("levels not strictly descending")
			}
		}
		again, err := parseBareTCBInfo(ti.Raw, ti.Signature)
		if err != nil || !bytes.Equal(again.Raw, ti.Raw) || len(again.TCBLevels) != len(ti.TCBLevels) {
			t.Fatalf("re-parse of Raw: %v", err)
		}
		if _, err := ParseTCBInfo(again.Body()); err != nil {
			t.Fatalf("re-parse of synthesized body: %v", err)
		}
		// Evaluation must not panic on any parsed document.
		for _, l := range ti.TCBLevels[:1] {
			var comp [16]uint8
			var tee [16]byte
			for i, c := range l.TCB.SGXComponents {
				comp[i] = uint8(c.SVN)
				tee[i] = uint8(c.SVN)
			}
			pce := uint16(l.TCB.PCESVN)
			if ti.ID == TCBInfoIDSGX {
				_, _ = ti.MatchSGX(comp, pce)
			} else {
				for _, v := range []byte{0, 1, 3} {
					tee[1] = v
					if res, err := ti.MatchTDX(comp, pce, tee); err == nil {
						_, _ = ti.RelaunchStatus(res, tee, "")
						_, _ = ConvergeStatus(res.Status, StatusOutOfDate)
					}
				}
			}
		}
	})
}

func FuzzParseEnclaveIdentity(f *testing.F) {
	for _, s := range allSignedFiles {
		if s.identity {
			f.Add(readFile(f, s.file))
		}
	}
	f.Add(bodyOf(f, "enclaveIdentity", qeIdentityDoc(qeLevel(3, "UpToDate"), qeLevel(1, "Revoked"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnclaveIdentity(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		again, err := ParseEnclaveIdentity(e.Body())
		if err != nil || !bytes.Equal(again.Raw, e.Raw) || len(again.TCBLevels) != len(e.TCBLevels) {
			t.Fatalf("re-parse: %v", err)
		}
		r := EnclaveReport{ISVProdID: e.ISVProdID, MRSigner: e.MRSigner, Attributes: e.Attributes, ISVSVN: e.TCBLevels[0].TCB.ISVSVN}
		r.MiscSelect = uint32(e.MiscSelect[0]) | uint32(e.MiscSelect[1])<<8 | uint32(e.MiscSelect[2])<<16 | uint32(e.MiscSelect[3])<<24
		if _, err := e.MatchQE(r); err != nil && !errors.Is(err, ErrIdentityMismatch) {
			t.Fatalf("MatchQE: %v", err)
		}
	})
}

func FuzzParsePCKExtensions(f *testing.F) {
	pckExtensionSeeds(f)
	f.Fuzz(func(t *testing.T, der []byte) {
		e, err := parsePCKExtensionsDER(der)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		enc, err := e.marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := parsePCKExtensionsDER(enc)
		if err != nil || !pckEqual(e, again) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// pckExtensionSeeds adds the SGX extensions of real PCK certificates.
func pckExtensionSeeds(f *testing.F) {
	for _, q := range []string{"dcap-qvl/tdx_quote", "dcap-qvl/sgx_quote", "trustee-dcap/tdx_quote_6.dat"} {
		leaf := leafFromQuote(f, readFile(f, q))
		for _, e := range leaf.Extensions {
			if e.Id.Equal(OIDSGXExtensions) {
				f.Add(e.Value)
			}
		}
	}
}

// FuzzCanonicalPCKExtensions checks that the reader of canonically laid
// out extensions accepts only what the general parser accepts, with the
// same result.
func FuzzCanonicalPCKExtensions(f *testing.F) {
	pckExtensionSeeds(f)
	f.Fuzz(func(t *testing.T, der []byte) {
		e, ok := parseCanonicalPCKExtensions(der)
		if !ok {
			return
		}
		g, err := parsePCKExtensionsGeneral(der)
		if err != nil || !pckEqual(e, g) {
			t.Fatalf("canonical reader accepted %x, general parser: %v (equal results: %v)", der, err, err == nil && pckEqual(e, g))
		}
	})
}

func FuzzParseDCAPQVLJSON(f *testing.F) {
	addFiles(f, "dcap-qvl/tdx_quote_collateral.json", "dcap-qvl/sgx_quote_collateral.json")
	f.Add([]byte(`{"tcb_info":"{}"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseDCAPQVLJSON(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		if len(c.Missing()) != 0 {
			t.Fatalf("parsed collateral misses %v", c.Missing())
		}
	})
}

func FuzzParsePEMChain(f *testing.F) {
	addFiles(f, "intel-qvl-sample-testroot/sgx/_fullchain.pem", "intel-roots/Intel_SGX_Root_CA.pem")
	f.Add([]byte("-----BEGIN%20CERTIFICATE-----%0AMAA%3D%0A-----END%20CERTIFICATE-----%0A"))
	f.Fuzz(func(t *testing.T, b []byte) {
		certs, err := ParsePEMChain(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		again, err := ParsePEMChain(EncodePEMChain(certs))
		if err != nil || len(again) != len(certs) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range certs {
			if !certs[i].Equal(again[i]) {
				t.Fatal("round trip changed a certificate")
			}
		}
	})
}

func FuzzParseCRL(f *testing.F) {
	addFiles(f, "intel-roots/IntelSGXRootCA_crl_2025-03-20.der", "zkdcap/pck_processor_crl.der")
	f.Add([]byte(hexs(readFile(f, "mobilecoin-sgx/root_crl.der"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		crl, err := ParseCRL(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		for _, form := range [][]byte{crl.Raw, encodeCRLPEM(crl), []byte(hexs(crl.Raw))} {
			again, err := ParseCRL(form)
			if err != nil || !bytes.Equal(again.Raw, crl.Raw) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}

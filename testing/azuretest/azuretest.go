// Package azuretest builds Azure vTPM confidential-VM evidence (Trustee's
// az-tdx-vtpm JSON) around a test-PKI TDX platform (testing/dcaptest), for
// tests of the vTPM chain and its event-log replay. Real evidence's HCL
// report is signed by nothing but the hardware report that carries its
// runtime data's hash; here that hardware report is a dcaptest TD quote,
// so the whole chain verifies against the test PKI's root.
package azuretest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/google/go-tpm/tpm2"

	"github.com/ratls/ratls/evidence/eventlog"
	"github.com/ratls/ratls/evidence/quote"
	"github.com/ratls/ratls/testing/dcaptest"
	"github.com/ratls/ratls/verify/measuredboot"
)

// Options describe one piece of evidence.
type Options struct {
	// Version is Trustee's evidence version, 1 or 2 (default 2: the
	// runtime data's user-data carries the nonce).
	Version int
	// Nonce goes to the TPM quote's extraData (and user-data in v2).
	Nonce []byte
	// AK is the attestation key the runtime data names; SignWith, when
	// set, signs the quote instead (an attacker's key).
	AK, SignWith *rsa.PrivateKey
	// PCRs are the 24 SHA-256 PCR values; nil means those EventLog
	// replays to (zero where it touches nothing).
	PCRs [][]byte
	// EventLog is sent as tpm_eventlog.
	EventLog []byte
	// RuntimeData, when set, replaces the runtime data JSON (which must
	// still name the AK for the quote to verify).
	RuntimeData []byte
	// ReportRuntimeData, when set, is hashed into the TD quote's report
	// data instead of the runtime data (runtime data of another VM).
	ReportRuntimeData []byte
}

// NewKey returns an RSA-2048 attestation key.
func NewKey() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }

// Evidence returns Trustee az-tdx-vtpm evidence JSON of the platform.
func Evidence(pl *dcaptest.Platform, o Options) ([]byte, error) {
	if o.Version == 0 {
		o.Version = 2
	}
	if o.AK == nil {
		return nil, fmt.Errorf("azuretest: no attestation key")
	}
	pcrs := o.PCRs
	if pcrs == nil {
		var err error
		if pcrs, err = ReplayPCRs(o.EventLog); err != nil {
			return nil, err
		}
	}
	runtime := o.RuntimeData
	if runtime == nil {
		runtime = RuntimeData(&o.AK.PublicKey, o.Nonce)
	}
	bound := runtime
	if o.ReportRuntimeData != nil {
		bound = o.ReportRuntimeData
	}
	var rd [64]byte
	sum := sha256.Sum256(bound)
	copy(rd[:], sum[:])
	q, err := pl.NewQuote(rd)
	if err != nil {
		return nil, err
	}
	body := pl.QuoteOptions.TD
	body.ReportData = rd
	msg := Attest(o.Nonce, pcrs)
	signer := o.AK
	if o.SignWith != nil {
		signer = o.SignWith
	}
	h := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(rand.Reader, signer, crypto.SHA256, h[:])
	if err != nil {
		return nil, err
	}
	j := map[string]any{
		"version": o.Version,
		"tpm_quote": map[string]any{
			"signature": hex.EncodeToString(sig), "message": hex.EncodeToString(msg), "pcrs": hexAll(pcrs),
		},
		"hcl_report": base64.URLEncoding.EncodeToString(HCLReport(&body, runtime)),
		"td_quote":   base64.URLEncoding.EncodeToString(q),
	}
	if o.EventLog != nil {
		j["tpm_eventlog"] = base64.StdEncoding.EncodeToString(o.EventLog)
	}
	return json.Marshal(j)
}

// RuntimeData is the HCL's runtime data JSON naming ak, with the nonce
// (zero-padded to 64 bytes) as user-data.
func RuntimeData(ak *rsa.PublicKey, nonce []byte) []byte {
	ud := make([]byte, 64)
	copy(ud, nonce)
	b, _ := json.Marshal(map[string]any{
		"keys": []map[string]any{{
			"kid": "HCLAkPub", "kty": "RSA", "key_ops": []string{"sign"},
			"n": base64.RawURLEncoding.EncodeToString(ak.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(ak.E)).Bytes()),
		}},
		"vm-configuration": map[string]any{"console-enabled": false, "secure-boot": true, "tpm-enabled": true, "vmUniqueId": "00000000-0000-0000-0000-000000000001"},
		"user-data":        hex.EncodeToString(ud),
	})
	return b
}

// HCLReport lays out an HCL report (version 2, TDX) holding the TDREPORT
// of body and the runtime data.
func HCLReport(body *quote.TDReportBody, runtime []byte) []byte {
	rep := quote.Report2{
		ReportType: quote.ReportType{Type: quote.ReportTypeTDX},
		ReportData: body.ReportData,
		TEETCBInfo: quote.TEETCBInfo{TEETCBSVN: body.TEETCBSVN, MRSEAM: body.MRSEAM, MRSignerSEAM: body.MRSignerSEAM, Attributes: body.SEAMAttributes},
		TD:         *body,
	}
	b := make([]byte, 2600)
	copy(b, "HCLA")
	le := binary.LittleEndian
	le.PutUint32(b[4:], 2)
	le.PutUint32(b[8:], uint32(0x4D4+len(runtime)))
	le.PutUint32(b[0xC:], 2)
	copy(b[0x20:], rep.Marshal())
	le.PutUint32(b[0x4C0:], uint32(20+len(runtime)))
	le.PutUint32(b[0x4C4:], 1)
	le.PutUint32(b[0x4C8:], 4) // TDX
	le.PutUint32(b[0x4CC:], 1) // SHA-256
	le.PutUint32(b[0x4D0:], uint32(len(runtime)))
	copy(b[0x4D4:], runtime)
	return b
}

// Attest marshals the TPMS_ATTEST of a quote of SHA-256 PCRs 0-23.
func Attest(nonce []byte, pcrs [][]byte) []byte {
	h := sha256.New()
	for _, p := range pcrs {
		h.Write(p)
	}
	a := tpm2.TPMSAttest{
		Magic:           tpm2.TPMGeneratedValue,
		Type:            tpm2.TPMSTAttestQuote,
		QualifiedSigner: tpm2.TPM2BName{Buffer: append([]byte{0, 0x0b}, make([]byte, 32)...)},
		ExtraData:       tpm2.TPM2BData{Buffer: nonce},
		ClockInfo:       tpm2.TPMSClockInfo{Clock: 1000, Safe: true},
		FirmwareVersion: 0x2020031200120003,
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestQuote, &tpm2.TPMSQuoteInfo{
			PCRSelect: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: []byte{0xff, 0xff, 0xff}}}},
			PCRDigest: tpm2.TPM2BDigest{Buffer: h.Sum(nil)},
		}),
	}
	return tpm2.Marshal(a)
}

// ReplayPCRs returns the 24 PCR values log replays to (zero where it
// touches nothing); nil log gives 24 zero PCRs.
func ReplayPCRs(log []byte) ([][]byte, error) {
	pcrs := make([][]byte, 24)
	for i := range pcrs {
		pcrs[i] = make([]byte, 32)
	}
	if log == nil {
		return pcrs, nil
	}
	l, err := eventlog.Parse(log)
	if err != nil {
		return nil, err
	}
	replayed, err := measuredboot.Replay(l.Events, eventlog.SHA256, true)
	if err != nil {
		return nil, err
	}
	for i, v := range replayed {
		if i < 24 {
			pcrs[i] = v
		}
	}
	return pcrs, nil
}

func hexAll(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = hex.EncodeToString(b)
	}
	return out
}

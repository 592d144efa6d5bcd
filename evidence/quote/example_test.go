package quote_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/evidence/quote"
)

// Parse turns a DCAP quote into named fields, and Marshal gives back the
// same bytes. Nothing is verified here (see verify/intel). A simulated SGX
// quote stands in for one from a real enclave.
func ExampleParse() {
	s, err := sim.New(sim.InitOptions{Seed: make([]byte, sim.SeedSize), Now: time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		log.Fatal(err)
	}
	att, err := s.Attester(sim.TEESGX, sim.Measurements{SGX: sim.SGXMeasurements{ISVProdID: 7, ISVSVN: 2}})
	if err != nil {
		log.Fatal(err)
	}
	ev, err := att.Attest(context.Background(), [64]byte{'h', 'i'})
	if err != nil {
		log.Fatal(err)
	}

	q, err := quote.Parse(ev.Data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("version", q.Header.Version, "TDX", q.IsTDX(), "debug", q.Debug())
	fmt.Println("mrenclave", hex.EncodeToString(q.SGX.MREnclave[:8])+"...")
	fmt.Println("isv_prod_id", q.SGX.ISVProdID, "isv_svn", q.SGX.ISVSVN)
	rd := q.ReportData()
	fmt.Printf("report data %q\n", rd[:2])
	fmt.Println("certification data:", quote.CertTypeName(q.Signature.Certification.Type))
	fmt.Println("re-encodes exactly:", bytes.Equal(q.Marshal(), ev.Data))

	// Parsing is strict, and errors say what was expected and found.
	_, err = quote.Parse(ev.Data[:100])
	var fe *quote.FormatError
	fmt.Println(errors.As(err, &fe), errors.Is(err, quote.ErrTruncated))
	// Output:
	// version 3 TDX false debug false
	// mrenclave a79f7c232aa48866...
	// isv_prod_id 7 isv_svn 2
	// report data "hi"
	// certification data: PCK certificate chain
	// re-encodes exactly: true
	// true true
}

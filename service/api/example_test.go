package api_test

import (
	"encoding/json"
	"fmt"
	"log"

	"github.com/ratls/ratls/service/api"
)

// The JSON body of POST /v1/attest. Byte fields travel as base64; a
// nonce is read in any base64 form Veraison's clients write.
func ExampleAttestRequest() {
	body, err := json.Marshal(&api.AttestRequest{
		MediaType: api.MediaDCAPQuote,
		Evidence:  []byte("quote bytes"),
		Nonce:     api.Nonce("nonce-01"),
		Policy:    "payments@3",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(body))

	var n api.Nonce
	if err := json.Unmarshal([]byte(`"bm9uY2UtMDE"`), &n); err != nil { // unpadded base64url
		log.Fatal(err)
	}
	fmt.Println(string(n))
	// Output:
	// {"media_type":"application/vnd.ratls.dcap-quote","evidence":"cXVvdGUgYnl0ZXM=","nonce":"bm9uY2UtMDE=","policy":"payments@3"}
	// nonce-01
}

// Errors are RFC 9457 problem documents; a policy rejection carries the
// reasons and the signed negative result.
func ExampleProblem() {
	var p api.Problem
	err := json.Unmarshal([]byte(`{"type":"https://ratls.dev/problems/policy-rejection","title":"evidence rejected by policy","status":422,
		"reasons":[{"check":"tdx.mrtd","category":"executables","state":"failed","expected":"aa","actual":"bb","message":"MRTD differs","status":"contraindicated"}]}`), &p)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Status, p.Reasons[0].Check, p.Reasons[0].Expected, p.Reasons[0].Actual)
	// Output:
	// 422 tdx.mrtd aa bb
}

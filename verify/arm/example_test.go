package arm_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/ratls/ratls/verify/arm"
)

func ExampleVerifier_VerifyBytes() {
	token, err := os.ReadFile("../../testdata/cca-tfm/cca_token.cbor")
	if err != nil {
		panic(err)
	}
	keyPEM, err := os.ReadFile("../../testdata/cca-tfm/cca_platform_CPAK.pub.pem")
	if err != nil {
		panic(err)
	}
	blk, _ := pem.Decode(keyPEM)
	cpak, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		panic(err)
	}

	v := arm.NewVerifier(nil)
	r, err := v.VerifyBytes(context.Background(), token, arm.Options{CPAK: cpak})
	if err != nil {
		fmt.Println("not verified:", err)
		return
	}
	fmt.Println(r.Form, r.PlatformAlg, r.RealmAlg, r.LifecycleState)
	for _, c := range r.Checks {
		status := "ok"
		switch {
		case c.NotApplicable:
			status = "not applicable"
		case !c.OK:
			status = "failed"
		}
		fmt.Println(c.Name, status)
	}
	// Output:
	// cmw-907 ES384 ES384 secured
	// token.format ok
	// platform.key ok
	// platform.signature ok
	// realm.signature ok
	// binding ok
	// challenge not applicable
}

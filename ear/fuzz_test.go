package ear

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"math/big"
	"reflect"
	"testing"
)

// fuzzKey is a fixed P-256 key so that committed seeds stay valid.
func fuzzKey() *ecdsa.PrivateKey {
	d, _ := new(big.Int).SetString("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721", 16)
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d.FillBytes(make([]byte, 32)))
	if err != nil {
		panic(err)
	}
	return k
}

func FuzzUnmarshalJSON(f *testing.F) {
	f.Add([]byte(draftExample))
	f.Add([]byte(ietf03Example))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e EAR
		if err := e.UnmarshalJSON(b); err != nil {
			return
		}
		out, err := e.MarshalJSON()
		if err != nil {
			t.Fatalf("parsed EAR does not re-encode: %v", err)
		}
		var back EAR
		if err := back.UnmarshalJSON(out); err != nil {
			t.Fatalf("re-encoded EAR does not parse: %v\n%s", err, out)
		}
		out2, err := back.MarshalJSON()
		if err != nil || string(out2) != string(out) {
			t.Fatalf("encoding is not stable:\n%s\n%s", out, out2)
		}
	})
}

func FuzzVerify(f *testing.F) {
	k := fuzzKey()
	keys := &JWKSet{Keys: []JWK{NewJWK(&k.PublicKey)}}
	e := testEAR()
	tok, err := e.Sign(k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add([]byte("e30.e30.")) // {}.{}.
	f.Fuzz(func(t *testing.T, token []byte) {
		got, err := Verify(token, keys, testNow)
		if err != nil {
			return
		}
		if got.IssuedAt > testNow.Add(maxClockSkew).Unix() || (got.Expiry != 0 && got.Expiry <= testNow.Unix()) {
			t.Fatalf("accepted a token outside its validity: %+v", got)
		}
		again, err := Verify(token, keys, testNow)
		if err != nil || !reflect.DeepEqual(got, again) {
			t.Fatalf("Verify is not deterministic: %v", err)
		}
		if _, err := json.Marshal(got); err != nil {
			t.Fatalf("verified EAR does not re-encode: %v", err)
		}
	})
}

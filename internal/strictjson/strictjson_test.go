package strictjson

import (
	"strings"
	"testing"
)

type inner struct {
	Values []string `json:"values,omitempty"`
	Min    *uint16  `json:"min,omitempty"`
}

type doc struct {
	ID     string            `json:"id"`
	Flag   bool              `json:"allow_debug"`
	In     *inner            `json:"inner,omitempty"`
	List   []inner           `json:"list,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	Any    any               `json:"any,omitempty"`
}

func TestDecode(t *testing.T) {
	var d doc
	if err := Decode([]byte(`{"id":"x","allow_debug":false,"inner":{"values":["a"],"min":3},"list":[{"values":[]}],"labels":{"A":"1","a":"2"},"any":{"K":1}}`), &d); err != nil {
		t.Fatal(err)
	}
	if d.ID != "x" || d.In == nil || *d.In.Min != 3 || len(d.List) != 1 || d.Labels["A"] != "1" {
		t.Fatalf("decoded %+v", d)
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"allow_debug":false,"ALLOW_DEBUG":true}`, `ALLOW_DEBUG: unknown key (keys are case-sensitive: did you mean "allow_debug"?)`},
		{`{"allow_debug":false,"allow_debug":true}`, `allow_debug: duplicate key`},
		{`{"inner":{"values":[],"values":["a"]}}`, `inner.values: duplicate key`},
		{`{"list":[{"Min":1}]}`, `list[0].Min: unknown key (keys are case-sensitive: did you mean "list[0].min"?)`},
		{`{"labels":{"a":"1","a":"2"}}`, `labels.a: duplicate key`},
		{`{"any":{"k":1,"k":2}}`, `any.k: duplicate key`},
		{`{"nope":1}`, `nope: unknown key`},
		{`{"id":"x"} {}`, `trailing data`},
		{`{"id":`, `EOF`},
		{`{"id":1}`, `cannot unmarshal number`},
	} {
		var d doc
		err := Decode([]byte(tc.in), &d)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"x","inner":{"values":["a"]},"list":[{}],"labels":{"a":"b"}}`))
	f.Add([]byte(`{"allow_debug":true,"ALLOW_DEBUG":false}`))
	f.Add([]byte(`[[[[{"a":{}}]]]]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d doc
		_ = Decode(b, &d) // must not panic
	})
}

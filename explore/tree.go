package explore

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ratls/ratls/inspect"
)

// Node is one field of the decoded structure: its name, its value (for
// scalars), what it means, and its fields (for objects and arrays).
type Node struct {
	Name     string  `json:"name"`
	Value    string  `json:"value,omitempty"`
	Explain  string  `json:"explain,omitempty"`
	Children []*Node `json:"children,omitempty"`
}

// treeOf turns an inspect report into a tree, fields in the report's
// order.
func treeOf(r *inspect.Report) []*Node {
	b, err := json.Marshal(r)
	if err != nil {
		return []*Node{{Name: "error", Value: err.Error()}}
	}
	return treeOfJSON(b)
}

// treeOfJSON turns a JSON object into a tree, keeping key order.
func treeOfJSON(b []byte) []*Node {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	root, err := decodeNode(dec, "")
	if err != nil {
		return []*Node{{Name: "error", Value: err.Error()}}
	}
	return root.Children
}

func decodeNode(dec *json.Decoder, name string) (*Node, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	n := &Node{Name: name, Explain: Explain(name)}
	switch t {
	case json.Delim('{'):
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			c, err := decodeNode(dec, k.(string))
			if err != nil {
				return nil, err
			}
			n.Children = append(n.Children, c)
		}
		_, err = dec.Token()
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			c, err := decodeNode(dec, fmt.Sprintf("%s[%d]", name, i))
			if err != nil {
				return nil, err
			}
			c.Explain = ""
			n.Children = append(n.Children, c)
		}
		if len(n.Children) == 0 {
			n.Value = "(none)"
		}
		_, err = dec.Token()
	case nil:
		n.Value = "null"
	default:
		n.Value = fmt.Sprint(t)
	}
	return n, err
}

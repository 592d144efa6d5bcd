package intel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"

	"github.com/ratls/ratls/collateral/pcs"
)

// Only "nothing for this platform" and "cannot be reached" let the
// attester's collateral stand in for the verifier's own source.
func TestCollateralGap(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		gap  bool
	}{
		{"missing", fmt.Errorf("cache: %w", &pcs.MissingError{Source: "pcs", Items: []string{pcs.FileTCBInfo}}), true},
		{"only expired collateral", fmt.Errorf("shared: no upstream to fetch from: %w", &pcs.ValidityError{What: "TCB Info"}), true},
		{"HTTP 404", &pcs.HTTPError{StatusCode: 404}, true},
		{"HTTP 429", &pcs.HTTPError{StatusCode: 429}, true},
		{"HTTP 503", fmt.Errorf("pcs: %w", &pcs.HTTPError{StatusCode: 503}), true},
		{"connection refused", &url.Error{Op: "Get", URL: "https://pcs.invalid", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, true},
		{"timeout", fmt.Errorf("fetch: %w", context.DeadlineExceeded), true},
		{"HTTP 400", &pcs.HTTPError{StatusCode: 400}, false},
		{"malformed collateral", fmt.Errorf("pcs: %w", &pcs.FieldError{Pkg: "pcs", Path: "tcbInfo", Got: "bad", Kind: pcs.ErrFormat}), false},
		{"refused collateral", errors.New("refused upstream collateral: signature"), false},
		{"cancelled", &url.Error{Op: "Get", URL: "https://pcs.invalid", Err: context.Canceled}, false},
	} {
		if got := collateralGap(tc.err); got != tc.gap {
			t.Errorf("%s (%v): gap %v, want %v", tc.name, tc.err, got, tc.gap)
		}
	}
}

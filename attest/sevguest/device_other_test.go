//go:build !linux

package sevguest

import (
	"errors"
	"testing"
)

func TestUnsupportedOS(t *testing.T) {
	_, err := New(Options{})
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("err = %v, want ErrUnsupported", err)
	}
}

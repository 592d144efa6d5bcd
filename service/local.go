package service

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"time"
)

// Throwaway completes cfg for a service whose results nobody keeps: a
// demo, a load test, a test. It gives a fresh P-256 signing key when cfg
// has no Signer, and a logger that discards when it has no Logger. EARs
// signed with such a key cannot be verified once the service stops: a
// service whose results are relied on has a key of its own.
func Throwaway(cfg Config) (Config, error) {
	if cfg.Signer == nil {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return cfg, err
		}
		cfg.Signer = key
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return cfg, nil
}

// ServeLoopback serves s on a free loopback port until ctx ends, then
// shuts down within grace. It returns the service's base URL and a function
// that waits until the service has stopped.
func (s *Server) ServeLoopback(ctx context.Context, grace time.Duration) (url string, wait func() error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, ServeConfig{ShutdownGrace: grace}) }()
	return "http://" + ln.Addr().String(), func() error { return <-done }, nil
}

package service_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/ratls/ratls/service"
	"github.com/ratls/ratls/service/api"
	"github.com/ratls/ratls/service/store/storetest"
)

// Throwaway fills only what is missing, and a throwaway service serves on
// loopback until its context ends.
func TestThrowawayServeLoopback(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	logger := slog.Default()
	cfg, err := service.Throwaway(service.Config{Signer: key, Logger: logger})
	if err != nil || cfg.Signer != key || cfg.Logger != logger {
		t.Fatalf("Throwaway replaced what was given: %v", err)
	}
	cfg, err = service.Throwaway(service.Config{Store: storetest.Open(t, storetest.SQLite(t)), Rate: -1})
	if err != nil || cfg.Signer == nil || cfg.Logger == nil {
		t.Fatalf("Throwaway left a gap: %+v, %v", cfg, err)
	}
	srv, err := service.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	url, wait, err := srv.ServeLoopback(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url + api.PathDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("discovery: %s", resp.Status)
	}
	cancel()
	if err := wait(); err != nil {
		t.Errorf("stopping: %v", err)
	}
	if _, err := http.Get(url + api.PathDiscovery); err == nil {
		t.Error("the service still answers after its context ended")
	}
}

package main

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a bytes.Buffer safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The reverse proxy of "ratls serve" logs through slog, like the rest of
// the command, not through the standard logger.
func TestServeProxyLogsWithSlog(t *testing.T) {
	var out lockedBuffer
	log := slog.New(slog.NewJSONHandler(&out, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // the upstream is down
	forward, err := forwarder(&serveFlags{upstream: "http://" + down}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		forward(server, log)
		close(done)
	}()
	go io.WriteString(client, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(client), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	client.Close()
	<-done
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("proxy to a closed upstream: %d, want 502", resp.StatusCode)
	}
	logged := out.String()
	if !strings.Contains(logged, `"level":"WARN"`) || !strings.Contains(logged, "proxy error") {
		t.Errorf("proxy error not logged as a slog record: %q", logged)
	}
}

package service

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ratls/ratls/internal/bounded"
	"golang.org/x/time/rate"
)

// maxLimitedClients bounds the clients the rate limiter remembers; a
// forgotten client starts again with a full bucket, which only ever errs
// towards serving.
const maxLimitedClients = 65536

// rateLimiter is a token bucket (golang.org/x/time/rate) per client
// address, per replica.
type rateLimiter struct {
	rate  rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

func newRateLimiter(r float64, burst int, now func() time.Time) *rateLimiter {
	if r <= 0 {
		return nil
	}
	return &rateLimiter{rate: rate.Limit(r), burst: max(burst, 1), now: now, clients: map[string]*rate.Limiter{}}
}

// allow takes a token from client's bucket. When the bucket is empty it
// returns false and how long until a token is available.
func (l *rateLimiter) allow(client string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	lim := l.clients[client]
	if lim == nil {
		bounded.MakeRoom(l.clients, maxLimitedClients)
		lim = rate.NewLimiter(l.rate, l.burst)
		l.clients[client] = lim
	}
	l.mu.Unlock()
	res := lim.ReserveN(now, 1)
	if wait := res.DelayFrom(now); wait > 0 {
		res.CancelAt(now) // the request is refused, not queued
		return false, wait
	}
	return true, 0
}

// clientAddr is the client's IP address. Forwarding headers are not
// trusted: behind a proxy, rate limits apply to the proxy.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

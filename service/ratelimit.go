package service

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ratls/ratls/internal/bounded"
)

// maxLimitedClients bounds the clients the rate limiter remembers; a
// forgotten client starts again with a full bucket, which only ever errs
// towards serving.
const maxLimitedClients = 65536

// rateLimiter is a token bucket per client address, per replica.
type rateLimiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64, burst int, now func() time.Time) *rateLimiter {
	if rate <= 0 {
		return nil
	}
	return &rateLimiter{rate: rate, burst: float64(max(burst, 1)), now: now, buckets: map[string]*bucket{}}
}

// allow takes a token from client's bucket. When the bucket is empty it
// returns false and how long until a token is available.
func (l *rateLimiter) allow(client string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[client]
	if b == nil {
		bounded.MakeRoom(l.buckets, maxLimitedClients)
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[client] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
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

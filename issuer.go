package ratls

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"sync"
	"time"
)

// IssuerOptions configures an Issuer. The zero value issues interoperable
// certificates (ECDSA P-256, interop extension) valid for DefaultValidity.
type IssuerOptions struct {
	// Certificate is the template for issued certificates (subject, names,
	// validity, legacy extension, endorsements, parent CA). Its NotBefore
	// and NotAfter are ignored: each certificate gets a fresh window.
	Certificate CertificateOptions
	// KeyAlgorithm is the key type of issued certificates (default P-256).
	// Each certificate gets a new key.
	KeyAlgorithm KeyAlgorithm
	// RenewBefore renews a certificate this long before it expires; default
	// a third of its validity.
	RenewBefore time.Duration
	// Timeout bounds one evidence generation; default 30 seconds.
	Timeout time.Duration
	// AllowNonce enables nonce mode: a client whose server name carries a
	// nonce (see NonceServerName) gets a certificate issued for it alone,
	// with the nonce in its claims. Each such handshake generates a quote,
	// so rate-limit connections where clients are not trusted.
	AllowNonce bool
}

// Generationer is implemented by attesters whose evidence can change while
// the process runs (for example a TD whose runtime measurement registers
// were extended). The Issuer reissues its certificate when the generation
// changes.
type Generationer interface {
	Generation() uint64
}

// Issuer issues RA-TLS certificates from an Attester and keeps one current:
// created on first use, cached, renewed before expiry and when the
// attester's evidence changes. Concurrent handshakes share one issuance, so
// a burst of connections never triggers more than one quote. Its
// GetCertificate and GetClientCertificate methods plug into crypto/tls.
type Issuer struct {
	att  Attester
	opts IssuerOptions

	mu       sync.Mutex
	cert     *tls.Certificate
	renewAt  time.Time
	gen      uint64
	inflight *issuance
}

type issuance struct {
	done chan struct{}
	cert *tls.Certificate
	err  error
}

// NewIssuer returns an Issuer for att; opts may be nil.
func NewIssuer(att Attester, opts *IssuerOptions) *Issuer {
	i := &Issuer{att: att}
	if opts != nil {
		i.opts = *opts
	}
	if i.opts.Timeout == 0 {
		i.opts.Timeout = 30 * time.Second
	}
	return i
}

func (i *Issuer) now() time.Time {
	if i.opts.Certificate.Now != nil {
		return i.opts.Certificate.Now()
	}
	return time.Now()
}

// Certificate returns the current certificate, issuing or renewing it when
// needed. While a renewal fails, the previous certificate is served until it
// expires.
func (i *Issuer) Certificate(ctx context.Context) (*tls.Certificate, error) {
	i.mu.Lock()
	now := i.now()
	gen := i.generation()
	if i.cert != nil && now.Before(i.renewAt) && gen == i.gen {
		c := i.cert
		i.mu.Unlock()
		return c, nil
	}
	job := i.inflight
	if job == nil {
		job = &issuance{done: make(chan struct{})}
		i.inflight = job
		go i.issue(job, gen)
	}
	current, currentGen := i.cert, i.gen
	i.mu.Unlock()

	select {
	case <-job.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if job.err != nil {
		// Keep serving a still-valid certificate while renewal fails.
		if current != nil && now.Before(current.Leaf.NotAfter) && gen == currentGen {
			return current, nil
		}
		return nil, job.err
	}
	return job.cert, nil
}

func (i *Issuer) generation() uint64 {
	if g, ok := i.att.(Generationer); ok {
		return g.Generation()
	}
	return 0
}

// issue creates a certificate outside the lock and publishes the result.
func (i *Issuer) issue(job *issuance, gen uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), i.opts.Timeout)
	defer cancel()
	job.cert, job.err = i.create(ctx, nil)
	i.mu.Lock()
	if job.err == nil {
		i.cert, i.gen = job.cert, gen
		leaf := job.cert.Leaf
		renewBefore := i.opts.RenewBefore
		if renewBefore <= 0 {
			renewBefore = leaf.NotAfter.Sub(leaf.NotBefore) / 3
		}
		i.renewAt = leaf.NotAfter.Add(-renewBefore)
	}
	i.inflight = nil
	i.mu.Unlock()
	close(job.done)
}

func (i *Issuer) create(ctx context.Context, nonce []byte) (*tls.Certificate, error) {
	key, err := GenerateKey(i.opts.KeyAlgorithm)
	if err != nil {
		return nil, err
	}
	o := i.opts.Certificate
	o.NotBefore, o.NotAfter = time.Time{}, time.Time{}
	if nonce != nil {
		o.Nonce = nonce
	}
	der, err := CreateCertificate(ctx, key, i.att, &o)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	chain := [][]byte{der}
	if o.Parent != nil {
		chain = append(chain, o.Parent.Raw)
	}
	return &tls.Certificate{Certificate: chain, PrivateKey: crypto.PrivateKey(key), Leaf: leaf}, nil
}

// GetCertificate is a tls.Config.GetCertificate callback. In nonce mode it
// issues a certificate for the client's nonce.
func (i *Issuer) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	ctx := context.Background()
	if hello != nil && hello.Context() != nil {
		ctx = hello.Context()
	}
	if hello != nil && i.opts.AllowNonce {
		if nonce, ok := NonceFromServerName(hello.ServerName); ok {
			return i.FreshCertificate(ctx, nonce)
		}
	}
	return i.Certificate(ctx)
}

// FreshCertificate issues a one-off certificate whose claims carry nonce.
// It is neither cached nor reused.
func (i *Issuer) FreshCertificate(ctx context.Context, nonce []byte) (*tls.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, i.opts.Timeout)
	defer cancel()
	return i.create(ctx, nonce)
}

// GetClientCertificate is a tls.Config.GetClientCertificate callback, for
// mutual attestation.
func (i *Issuer) GetClientCertificate(req *tls.CertificateRequestInfo) (*tls.Certificate, error) {
	ctx := context.Background()
	if req != nil && req.Context() != nil {
		ctx = req.Context()
	}
	return i.Certificate(ctx)
}

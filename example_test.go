package ratls_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"time"

	"github.com/ratls/ratls"
	"github.com/ratls/ratls/attest/sim"
	"github.com/ratls/ratls/collateral/pcs"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/keybinding"
	"github.com/ratls/ratls/tee"
	"github.com/ratls/ratls/tee/dcap"
	"github.com/ratls/ratls/verify/intel"
)

// The examples run a simulated TDX TEE (package attest/sim) so that they
// need no hardware and no network. A fixed seed and reference time make
// every run produce the same PKI and the same verdicts.
var (
	exampleSeed = make([]byte, sim.SeedSize)
	exampleNow  = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
)

// simulatedTEE returns the simulation and an attester for its TDX
// platform, with the default measurements.
func simulatedTEE() (*sim.Sim, *sim.Attester) {
	s, err := sim.New(sim.InitOptions{Seed: exampleSeed, Now: exampleNow})
	if err != nil {
		log.Fatal(err)
	}
	att, err := s.Attester("tdx", sim.Measurements{})
	if err != nil {
		log.Fatal(err)
	}
	return s, att
}

// trustSimulation makes o trust the simulation's root and fetch its
// collateral from it. Only simulations need this: the genuine Intel root
// is built in, and a real deployment gets collateral from the certificate
// (the Issuer below puts it there) or from Intel's PCS through a cache.
func trustSimulation(o *ratls.VerifyOptions, s *sim.Sim) *ratls.VerifyOptions {
	o.TEE = append(o.TEE, &dcap.Options{
		Verifier:   intel.NewVerifier(&intel.Config{ExtraRoots: []*x509.Certificate{s.Root()}}),
		Collateral: s.Provider(),
	})
	return o
}

// issuer returns an Issuer of RA-TLS certificates for att whose
// certificates carry the simulation's collateral (endorsements), so that
// verifiers need no collateral source of their own.
func issuer(s *sim.Sim, att ratls.Attester, nonces bool) *ratls.Issuer {
	coll, err := s.Collateral("tdx")
	if err != nil {
		log.Fatal(err)
	}
	return ratls.NewIssuer(att, &ratls.IssuerOptions{
		AllowNonce: nonces,
		Certificate: ratls.CertificateOptions{
			Endorsements: ratls.EndorsementsFromCollateral(coll),
			Now:          s.Now, // the simulation's clock, for reproducible examples
		},
	})
}

// serveHello accepts TLS connections on ln and greets each client.
func serveHello(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.WriteString(c, "hello from the TEE\n")
		}()
	}
}

func printVerdict(v *ratls.Verification) {
	fmt.Println("accepted:", v.Accepted())
	fmt.Println("status:", v.Appraisal.Status)
	for _, r := range v.Appraisal.Reasons {
		fmt.Printf("reason: %s (%s): expected %s, actual %s\n", r.Check, r.Status, r.Expected, r.Actual)
	}
}

// A server inside a TEE presents an RA-TLS certificate: the Issuer asks
// the attester for evidence bound to a fresh key, and renews the
// certificate before it expires. Any TLS client can connect; an RA-TLS
// client also checks the evidence.
func ExampleServerConfig() {
	s, att := simulatedTEE() // in a real TEE: tsm.New, gramine.New, sevguest.New
	iss := issuer(s, att, false)

	ln, err := tls.Listen("tcp", "127.0.0.1:0", ratls.ServerConfig(iss, nil))
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go serveHello(ln)

	// What the server presents: a certificate whose evidence binds its key.
	cert, err := iss.Certificate(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	ce, err := evidence.FromCertificate(cert.Leaf)
	if err != nil {
		log.Fatal(err)
	}
	item := tee.Preferred(ce)
	fmt.Println("evidence:", item.TEE, item.Kind)
	fmt.Println("key binding:", keybinding.Check(item, cert.Leaf).Status)
	// Output:
	// evidence: tdx intel-quote
	// key binding: ok
}

// A client accepts a server only when the server's evidence verifies and
// the policy's reference values match what runs in the TEE. The
// verification replaces certificate chain and host name checks.
func ExampleClientConfig() {
	s, att := simulatedTEE()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ratls.ServerConfig(issuer(s, att, false), nil))
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go serveHello(ln)

	// The policy holds the expected measurements; in production it is
	// usually read from a file (appraise.LoadPolicy).
	opts := trustSimulation(&ratls.VerifyOptions{
		Now:    s.Now(),
		Policy: sim.ReferencePolicy(att.Measurements()),
	}, s)
	pv := ratls.NewPeerVerifier(opts)
	conn, err := tls.Dial("tcp", ln.Addr().String(), ratls.ClientConfig(pv, nil))
	if err != nil {
		log.Fatal(err) // a *ratls.PeerError names the failed checks
	}
	defer conn.Close()
	greeting, _ := io.ReadAll(conn)
	fmt.Print(string(greeting))

	// Everything the evidence proved about the peer.
	v := pv.Verification(conn.ConnectionState())
	r := v.Result.(*intel.Result) // the Intel verifier's result, for SGX and TDX
	fmt.Println("TEE:", v.TEE, "TCB:", r.TCB.Status)
	printVerdict(v)
	// Output:
	// hello from the TEE
	// TEE: tdx TCB: UpToDate
	// accepted: true
	// status: warning
	// reason: trust_anchor (warning): expected hardware root, actual simulated
}

// A client whose reference values do not match refuses the server, and the
// error says which check failed with the expected and the actual value.
func ExampleClientConfig_rejected() {
	s, att := simulatedTEE()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ratls.ServerConfig(issuer(s, att, false), nil))
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go serveHello(ln)

	// Expect other code: the measurements of a TD that is not running.
	var other sim.Measurements
	other.TDX.MRTD[0] = 1
	pv := ratls.NewPeerVerifier(trustSimulation(&ratls.VerifyOptions{
		Now:    s.Now(),
		Policy: sim.ReferencePolicy(other),
	}, s))
	_, err = tls.Dial("tcp", ln.Addr().String(), ratls.ClientConfig(pv, nil))
	var pe *ratls.PeerError
	if errors.As(err, &pe) {
		r := pe.Verification.Appraisal.Reasons
		fmt.Println("refused:", r[len(r)-1].Check)
	}
	// Output:
	// refused: tdx.mrtd
}

// Mutual attestation: each side presents an RA-TLS certificate and
// verifies the other's. The server passes a PeerVerifier to ServerConfig,
// the client an Issuer to ClientConfig.
func ExampleServerConfig_mutual() {
	s, att := simulatedTEE()
	policy := sim.ReferencePolicy(att.Measurements())

	clients := ratls.NewPeerVerifier(trustSimulation(&ratls.VerifyOptions{Now: s.Now(), Policy: policy}, s))
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ratls.ServerConfig(issuer(s, att, false), clients))
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan *ratls.Verification, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			log.Fatal(err)
		}
		accepted <- clients.Verification(tc.ConnectionState())
		io.WriteString(c, "hello, attested client\n")
	}()

	// The client runs in a TEE too (here: a second simulated TD).
	servers := ratls.NewPeerVerifier(trustSimulation(&ratls.VerifyOptions{Now: s.Now(), Policy: policy}, s))
	conn, err := tls.Dial("tcp", ln.Addr().String(), ratls.ClientConfig(servers, issuer(s, att, false)))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	greeting, _ := io.ReadAll(conn)
	fmt.Print(string(greeting))
	fmt.Println("server verified the client:", (<-accepted).Accepted())
	fmt.Println("client verified the server:", servers.Verification(conn.ConnectionState()).Accepted())
	// Output:
	// hello, attested client
	// server verified the client: true
	// client verified the server: true
}

// Nonce mode proves that the server's evidence is fresh: the client sends
// a random nonce in the server name, and the server's Issuer (with
// AllowNonce) makes a certificate for it alone. A configuration from
// FreshClientConfig is good for one handshake; DialFresh makes a new one
// per connection.
func ExamplePeerVerifier_FreshClientConfig() {
	s, att := simulatedTEE()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ratls.ServerConfig(issuer(s, att, true), nil))
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go serveHello(ln)

	pv := ratls.NewPeerVerifier(trustSimulation(&ratls.VerifyOptions{
		Now:    s.Now(),
		Policy: sim.ReferencePolicy(att.Measurements()),
	}, s))
	cfg, err := pv.FreshClientConfig(nil)
	if err != nil {
		log.Fatal(err)
	}
	conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
	if err != nil {
		log.Fatal(err) // a server without AllowNonce, or a replayed certificate, is refused
	}
	defer conn.Close()
	v := pv.Verification(conn.ConnectionState())
	fmt.Println("accepted:", v.Accepted())
	fmt.Println("nonce in the claims:", len(v.Item.Claims.Nonce), "bytes")
	// Output:
	// accepted: true
	// nonce in the claims: 32 bytes
}

// VerifyCertificate verifies an RA-TLS certificate outside a handshake:
// its evidence, the evidence's binding of the certificate's key, and the
// certificate's own validity, appraised by the policy.
func ExampleVerifyCertificate() {
	s, att := simulatedTEE()
	key, err := ratls.GenerateKey(ratls.KeyECDSAP256)
	if err != nil {
		log.Fatal(err)
	}
	der, err := ratls.CreateCertificate(context.Background(), key, att, &ratls.CertificateOptions{Now: s.Now})
	if err != nil {
		log.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}

	v, err := ratls.VerifyCertificate(context.Background(), cert, trustSimulation(&ratls.VerifyOptions{
		Now:    s.Now(),
		Policy: sim.ReferencePolicy(att.Measurements()),
	}, s))
	if err != nil {
		log.Fatal(err) // the certificate's evidence could not be read
	}
	fmt.Println("key binding:", v.Binding.Status)
	printVerdict(v)
	// Output:
	// key binding: ok
	// accepted: true
	// status: warning
	// reason: trust_anchor (warning): expected hardware root, actual simulated
}

// VerifyEvidence verifies evidence that comes without a certificate, such
// as a quote a TEE sends to a relying party. Freshness comes from a nonce
// the relying party chose: the TEE puts it in the report data, and
// VerifyOptions.Nonce requires it there.
func ExampleVerifyEvidence() {
	s, att := simulatedTEE()

	// The relying party's challenge, and the TEE's answer.
	nonce := []byte("relying party's challenge 000001")
	var reportData [64]byte
	copy(reportData[:], nonce)
	ev, err := att.Attest(context.Background(), reportData)
	if err != nil {
		log.Fatal(err)
	}

	// The relying party parses and verifies what it received.
	items, err := evidence.ParseRaw(ev.Data)
	if err != nil {
		log.Fatal(err)
	}
	opts := trustSimulation(&ratls.VerifyOptions{
		Now:    s.Now(),
		Policy: sim.ReferencePolicy(att.Measurements()),
		Nonce:  nonce,
	}, s)
	v := ratls.VerifyEvidence(context.Background(), items[0], opts)
	printVerdict(v)

	// The same evidence does not answer another challenge.
	opts.Nonce = []byte("relying party's challenge 000002")
	v = ratls.VerifyEvidence(context.Background(), items[0], opts)
	fmt.Println("replayed:", v.Accepted(), v.Appraisal.Status)
	// Output:
	// accepted: true
	// status: warning
	// reason: trust_anchor (warning): expected hardware root, actual simulated
	// replayed: false contraindicated
}

// unavailable is a collateral source that is down, as Intel's PCS or a
// PCCS can be.
type unavailable struct{}

func (unavailable) Collateral(context.Context, pcs.Request) (*pcs.Collateral, error) {
	return nil, fmt.Errorf("PCCS answered 503: %w", pcs.ErrUnavailable)
}

// A verification that could not complete because collateral could not be
// fetched is not accepted, but it is no verdict about the TEE either:
// CollateralUnavailable tells it apart from a rejection, so that the
// caller can report an outage and try again later.
func ExampleVerification_CollateralUnavailable() {
	s, att := simulatedTEE()
	ev, err := att.Attest(context.Background(), [64]byte{})
	if err != nil {
		log.Fatal(err)
	}
	items, err := evidence.ParseRaw(ev.Data)
	if err != nil {
		log.Fatal(err)
	}
	opts := trustSimulation(&ratls.VerifyOptions{Now: s.Now(), Policy: sim.ReferencePolicy(att.Measurements())}, s)
	tee.Edit[dcap.Options](&opts.TEE).Collateral = unavailable{}

	v := ratls.VerifyEvidence(context.Background(), items[0], opts)
	fmt.Println("accepted:", v.Accepted())
	if err := v.CollateralUnavailable(); err != nil {
		fmt.Println("outage:", errors.Is(err, ratls.ErrCollateralUnavailable))
	}
	// Output:
	// accepted: false
	// outage: true
}

// A nonce travels in the TLS server name as a DNS-safe label under the
// reserved .invalid domain.
func ExampleNonceServerName() {
	name := ratls.NonceServerName([]byte("0123456789abcdef"))
	fmt.Println(name)
	nonce, ok := ratls.NonceFromServerName(name)
	fmt.Println(string(nonce), ok)
	// Output:
	// 60oj4cpk6kr3ee1pc5h66p35co.nonce.ratls.invalid
	// 0123456789abcdef true
}

// Package neterr says why a network request failed in one phrase. Go's
// errors repeat themselves: an *url.Error names the method and URL the
// caller already named, and wraps a *net.OpError that names the address
// again, which wraps a DNS error that names the resolver's address. Cause
// keeps the cause, says it once, and leaves internal addresses out.
package neterr

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"os"
	"syscall"
)

// causeError is the short message of a failure that still unwraps to the
// original error, so errors.Is and errors.As see everything.
type causeError struct {
	msg string
	err error
}

func (e *causeError) Error() string { return e.msg }
func (e *causeError) Unwrap() error { return e.err }

// Cause returns err described by its cause alone: "connection refused",
// "cannot resolve host pcs.example: no such host", "timed
// out", "the server's certificate is not trusted: …". Callers name the
// request. Errors that are not network errors are returned unchanged.
func Cause(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		if msg := describe(err); msg != "" {
			return &causeError{msg: msg, err: err}
		}
		return err
	}
	if msg := describe(ue.Err); msg != "" {
		return &causeError{msg: msg, err: err}
	}
	return &causeError{msg: ue.Err.Error(), err: err}
}

// describe names the cause of a transport error, "" when it is none that
// it knows.
func describe(err error) string {
	var dns *net.DNSError
	var op *net.OpError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &dns):
		// The resolver's address (dns.Server) is internal: left out.
		if dns.IsNotFound {
			return "cannot resolve host " + dns.Name + ": no such host"
		}
		if dns.IsTimeout {
			return "cannot resolve host " + dns.Name + ": the DNS lookup timed out"
		}
		return "cannot resolve host " + dns.Name + ": " + dns.Err
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid):
		return "the server's TLS certificate is not accepted: " + err.Error()
	case errors.As(err, &op) && op.Timeout():
		return "timed out"
	}
	return ""
}

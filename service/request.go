package service

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/ratls/ratls/internal/strictjson"
	"github.com/ratls/ratls/service/api"
)

// readBody reads the (size-limited) request body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, problem(http.StatusRequestEntityTooLarge, probTooLarge, "Request too large", "the body exceeds %d bytes", mbe.Limit)
	case err != nil:
		// The error names the connection's addresses: not for the client.
		return nil, problem(http.StatusBadRequest, probBadRequest, "Unreadable body",
			"the request body could not be read: it came too slowly, was cut short or is not valid chunked encoding")
	}
	return b, nil
}

// decodeJSON decodes a JSON body strictly.
func decodeJSON(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if err := strictJSON(b, v); err != nil {
		return problem(http.StatusBadRequest, probBadRequest, "Malformed JSON", "%v", err)
	}
	return nil
}

// strictJSON decodes exactly: keys are case-sensitive, and unknown or
// duplicate keys are errors, so a body cannot say one thing and mean
// another.
func strictJSON(b []byte, v any) error { return strictjson.Decode(b, v) }

// decodeBase64 accepts standard or URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) { return api.DecodeBase64(s) }

// decodeNonceParam reads a nonce query parameter as decodeBase64 does; a
// space is a '+' of standard base64 left unescaped in the query.
func decodeNonceParam(s string) ([]byte, error) {
	return api.DecodeBase64(strings.ReplaceAll(s, " ", "+"))
}

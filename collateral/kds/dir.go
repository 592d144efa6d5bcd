package kds

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadDir reads certificates from a directory:
//
//   - the leaf: vcek.pem or vlek.pem (PEM or DER content; vcek.der and
//     vlek.der are accepted too),
//   - the intermediate: ask.pem for a VCEK, asvk.pem for a VLEK,
//   - the root: ark.pem,
//   - optionally the ARK's CRL: crl.der or crl.pem.
//
// Every certificate file may hold PEM or DER and may be named .pem or .der.
// A directory holding both a VCEK and a VLEK, or two files for one role, is
// an error, as is a VCEK with an ASVK or a VLEK with an ASK. Missing files
// are named in an error matching ErrNotFound. LoadDir checks no signature.
func LoadDir(dir string) (*Certificates, error) {
	find := func(base string) (string, error) {
		var found []string
		for _, ext := range []string{".pem", ".der"} {
			name := base + ext
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				found = append(found, name)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("kds: %w", err)
			}
		}
		if len(found) > 1 {
			return "", fmt.Errorf("kds: %s: both %s present; keep one", dir, strings.Join(found, " and "))
		}
		if len(found) == 0 {
			return "", nil
		}
		return found[0], nil
	}
	pick := func(role string, bases ...string) (string, error) {
		var names []string
		for _, b := range bases {
			name, err := find(b)
			if err != nil {
				return "", err
			}
			if name != "" {
				names = append(names, name)
			}
		}
		switch len(names) {
		case 0:
			return "", fmt.Errorf("kds: %s: no %s certificate: want %s: %w",
				dir, role, strings.Join(withExts(bases), " or "), ErrNotFound)
		case 1:
			return names[0], nil
		}
		return "", fmt.Errorf("kds: %s: both %s present: a directory holds the certificates of one key", dir, strings.Join(names, " and "))
	}

	leafName, err := pick("leaf (VCEK or VLEK)", "vcek", "vlek")
	if err != nil {
		return nil, err
	}
	interBase := "ask"
	if strings.HasPrefix(leafName, "vlek") {
		interBase = "asvk"
	}
	other := map[string]string{"ask": "asvk", "asvk": "ask"}[interBase]
	if name, err := find(other); err != nil {
		return nil, err
	} else if name != "" {
		return nil, fmt.Errorf("kds: %s: %s does not belong with %s (a VCEK is issued by the ASK, a VLEK by the ASVK)", dir, name, leafName)
	}
	interName, err := pick("intermediate", interBase)
	if err != nil {
		return nil, err
	}
	rootName, err := pick("root", "ark")
	if err != nil {
		return nil, err
	}
	crlName, err := find("crl")
	if err != nil {
		return nil, err
	}

	certs := &Certificates{Source: "dir " + dir}
	for _, f := range []struct {
		name string
		dst  **x509.Certificate
	}{
		{leafName, &certs.Leaf},
		{interName, &certs.Intermediate},
		{rootName, &certs.Root},
	} {
		b, err := readFile(filepath.Join(dir, f.name), MaxCertSize)
		if err != nil {
			return nil, err
		}
		if *f.dst, err = ParseCertificate(filepath.Join(dir, f.name), b); err != nil {
			return nil, err
		}
	}
	if crlName != "" {
		b, err := readFile(filepath.Join(dir, crlName), MaxCRLSize)
		if err != nil {
			return nil, err
		}
		if certs.CRL, err = ParseCRL(filepath.Join(dir, crlName), b); err != nil {
			return nil, err
		}
	}
	return certs, nil
}

func withExts(bases []string) []string {
	var out []string
	for _, b := range bases {
		out = append(out, b+".pem", b+".der")
	}
	return out
}

// readFile reads at most limit bytes of name; a larger file is ErrFormat.
func readFile(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("kds: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("kds: %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, formatError(name, "larger than the limit of %d bytes", limit)
	}
	return b, nil
}

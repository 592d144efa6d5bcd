package kds

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ratls/ratls/evidence/snp"
)

// LoadDir reads certificates from a directory:
//
//   - the leaf: vcek.pem or vlek.pem (PEM or DER content; vcek.der and
//     vlek.der are accepted too),
//   - the intermediate: ask.pem for a VCEK, asvk.pem for a VLEK,
//   - the root: ark.pem,
//   - optionally the ARK's CRLs, named for the list they are (CRLKind):
//     vcek-crl.der, from https://kdsintf.amd.com/vcek/v1/{product}/crl, and
//     vlek-crl.der, from https://kdsintf.amd.com/vlek/v1/{product}/crl. A
//     VCEK needs the first, a VLEK the second; a directory may hold both.
//     In a VCEK directory crl.der (the name of earlier releases) is the
//     VCEK CRL; in a VLEK directory it is an error, since it would not say
//     which list it is.
//
// The leaf may be missing when the intermediate is there (KDS serves no
// VLEK, and no VCEK for a masked chip ID): Certificates.Leaf is then nil
// and the certificate carried with the evidence fills the gap (WithPeer).
//
// Every file may hold PEM or DER and may be named .pem or .der. A
// directory holding both a VCEK and a VLEK, or two files for one role, is
// an error, as is a VCEK with an ASVK or a VLEK with an ASK. Missing files
// are named in an error matching ErrNotFound. LoadDir checks no signature.
// The leaf's CRL comes first in Certificates.CRLs.
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
	if errors.Is(err, ErrNotFound) {
		// Without a leaf, the intermediate says which key the directory
		// is for: KDS serves no VLEK (and no VCEK for a masked chip ID),
		// so "ratls collateral fetch" writes the rest, and the evidence
		// carries the leaf.
		switch name, ierr := pick("intermediate", "ask", "asvk"); {
		case ierr == nil:
			leafName, err = map[string]string{"ask": "vcek", "asvk": "vlek"}[strings.TrimSuffix(strings.TrimSuffix(name, ".pem"), ".der")], nil
		case !errors.Is(ierr, ErrNotFound):
			err = ierr
		}
	}
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
	crls, err := dirCRLs(dir, leafName, find)
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
		if f.name == "vcek" || f.name == "vlek" {
			continue // no leaf file
		}
		b, err := readFile(filepath.Join(dir, f.name), maxCertSize)
		if err != nil {
			return nil, err
		}
		if *f.dst, err = ParseCertificate(filepath.Join(dir, f.name), b); err != nil {
			return nil, err
		}
	}
	for _, f := range crls {
		path := filepath.Join(dir, f.name)
		b, err := readFile(path, maxCRLSize)
		if err != nil {
			return nil, err
		}
		crl, err := ParseCRL(path, b)
		if err != nil {
			return nil, err
		}
		certs.CRLs = append(certs.CRLs, CRL{List: crl, Kind: f.kind, Source: path})
	}
	return certs, nil
}

type dirCRL struct {
	name string
	kind CRLKind
}

// dirCRLs finds the CRL files of a directory whose leaf is leafName, the
// leaf's kind first. find returns the one file of a base name, or "".
func dirCRLs(dir, leafName string, find func(string) (string, error)) ([]dirCRL, error) {
	leafKind, otherKind := CRLVCEK, CRLVLEK
	if strings.HasPrefix(leafName, "vlek") {
		leafKind, otherKind = CRLVLEK, CRLVCEK
	}
	var out []dirCRL
	for _, kind := range []CRLKind{leafKind, otherKind} {
		name, err := find(kind.path() + "-crl")
		if err != nil {
			return nil, err
		}
		if name != "" {
			out = append(out, dirCRL{name, kind})
		}
	}
	legacy, err := find("crl")
	if err != nil || legacy == "" {
		return out, err
	}
	if leafKind == CRLVLEK {
		return nil, fmt.Errorf("kds: %s: %s does not say which CRL it is: name the VLEK CRL "+
			"(https://kdsintf.amd.com/vlek/v1/{product}/crl) vlek-crl.der, the VCEK CRL vcek-crl.der", dir, legacy)
	}
	if len(out) > 0 && out[0].kind == CRLVCEK {
		return nil, fmt.Errorf("kds: %s: both %s and %s present: keep one VCEK CRL", dir, out[0].name, legacy)
	}
	return append([]dirCRL{{legacy, CRLVCEK}}, out...), nil
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

// WriteDir writes certs to dir (created if needed) in the layout LoadDir
// reads: vcek.pem or vlek.pem (when there is a leaf), ask.pem or asvk.pem,
// ark.pem, and each CRL of a known kind as vcek-crl.der or vlek-crl.der.
// key says which kind of leaf the certificates are for.
func WriteDir(dir string, certs *Certificates, key snp.SigningKey) error {
	if certs == nil || certs.Intermediate == nil || certs.Root == nil {
		return errors.New("kds: WriteDir: want at least the intermediate and the root certificate")
	}
	leaf, inter := "vcek.pem", "ask.pem"
	if key == snp.SigningKeyVLEK {
		leaf, inter = "vlek.pem", "asvk.pem"
	}
	files := map[string][]byte{inter: encodeCertPEM(certs.Intermediate), "ark.pem": encodeCertPEM(certs.Root)}
	if certs.Leaf != nil {
		files[leaf] = encodeCertPEM(certs.Leaf)
	}
	for _, c := range certs.CRLs {
		if c.Kind == CRLUnknown {
			return fmt.Errorf("kds: WriteDir: a CRL of unstated kind from %s", c.Source)
		}
		files[c.Kind.path()+"-crl.der"] = c.List.Raw
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("kds: WriteDir: %w", err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("kds: WriteDir: %w", err)
		}
	}
	return nil
}

func encodeCertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

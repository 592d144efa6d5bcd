package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ratls/ratls/collateral/kds"
	"github.com/ratls/ratls/evidence"
	"github.com/ratls/ratls/evidence/snp"
	"github.com/ratls/ratls/inspect"
)

// teeSNP is the --tee value of AMD SEV-SNP.
const teeSNP = "sev_snp"

// isSNPFetch reports whether "collateral fetch" is for SEV-SNP: --tee
// sev_snp, or sources that are SEV-SNP reports. Intel and AMD sources in one
// run are refused: they go to different layouts.
func isSNPFetch(f *collateralFetchFlags, args []string) (bool, error) {
	if f.tee == teeSNP {
		return true, nil
	}
	var snpSources, others []string
	for _, path := range args {
		r, err := inspect.File(path)
		if err != nil {
			return false, &exitError{code: exitInput, err: err}
		}
		if slices.ContainsFunc(r.Items, func(it *evidence.Item) bool { return it.SNP != nil }) {
			snpSources = append(snpSources, path)
		} else {
			others = append(others, path)
		}
	}
	switch {
	case len(snpSources) > 0 && f.tee != "":
		return false, inputError("%s: a SEV-SNP report, but --tee says %s", snpSources[0], f.tee)
	case len(snpSources) > 0 && len(others) > 0:
		return false, inputError("%s holds a SEV-SNP report and %s does not: fetch SEV-SNP and Intel collateral in separate runs", snpSources[0], others[0])
	}
	return len(snpSources) > 0, nil
}

// snpFetch is one set of certificates to fetch and the inputs that asked
// for it.
type snpFetch struct {
	req     kds.Request
	sources []string
}

// label names the fetch in messages: the request, or the product's chain
// when there is no report.
func (s *snpFetch) label() string {
	if s.req.ChipID == ([64]byte{}) {
		return fmt.Sprintf("%s %s chain and CRL", s.req.Product, s.req.SigningKey)
	}
	return s.req.String()
}

// dirName names the subdirectory of one fetch among several.
func (s *snpFetch) dirName() string {
	name := fmt.Sprintf("%s-%s", s.req.Product, strings.ToLower(s.req.SigningKey.String()))
	if s.req.ChipID != ([64]byte{}) {
		name += fmt.Sprintf("-%x-%016x", s.req.ChipID[:4], uint64(s.req.TCB))
	}
	return name
}

func runSNPFetch(cmd *cobra.Command, f *collateralFetchFlags, args []string) error {
	for _, n := range []string{"fmspc", "ca", "update", "pccs"} {
		if cmd.Flags().Changed(n) {
			return inputError("--%s applies to Intel collateral, not to SEV-SNP", n)
		}
	}
	if f.out == "" {
		return inputError("--out: empty directory name")
	}
	if f.amdProduct != "" && !slices.Contains([]string{snp.ProductMilan, snp.ProductGenoa, snp.ProductTurin}, f.amdProduct) {
		return inputError("--amd-product: want Milan, Genoa or Turin, got %q", f.amdProduct)
	}
	var key snp.SigningKey
	switch f.signingKey {
	case "vcek":
		key = snp.SigningKeyVCEK
	case "vlek":
		key = snp.SigningKeyVLEK
	default:
		return inputError(`--signing-key: want "vcek" or "vlek", got %q`, f.signingKey)
	}
	var fetches []*snpFetch
	add := func(req kds.Request, source string) {
		for _, s := range fetches {
			if s.req == req {
				s.sources = append(s.sources, source)
				return
			}
		}
		fetches = append(fetches, &snpFetch{req: req, sources: []string{source}})
	}
	if len(args) == 0 {
		if f.amdProduct == "" {
			return inputError("nothing to fetch: give SEV-SNP report files, or --amd-product for the chain and CRL of a product")
		}
		add(kds.Request{Product: f.amdProduct, SigningKey: key}, "--amd-product "+f.amdProduct)
	} else if cmd.Flags().Changed("signing-key") {
		return inputError("--signing-key applies without SOURCE: a report says which key signed it")
	}
	for _, path := range args {
		reqs, err := snpRequestsOf(path, f.amdProduct)
		if err != nil {
			return &exitError{code: exitInput, err: err}
		}
		for _, req := range reqs {
			add(req, path)
		}
	}

	client := kds.NewClient(kds.ClientConfig{BaseURL: f.kds, UserAgent: "ratls/" + buildVersion().Version, HTTPClient: &http.Client{Timeout: f.timeout}})
	ctx := contextOf(cmd)
	w := cmd.ErrOrStderr()
	failed := 0
	var firstErr error
	for i, s := range fetches {
		dir := f.out
		if len(fetches) > 1 {
			dir = filepath.Join(f.out, s.dirName())
		}
		stop := startProgress(w, fmt.Sprintf("[%d/%d] fetching %s from %s", i+1, len(fetches), s.label(), client.BaseURL()))
		summary, err := fetchSNPOne(ctx, client, s.req, dir, f.timeout)
		stop()
		if err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
			if len(fetches) > 1 { // a single failure is the command's error
				fmt.Fprintf(w, "%s: FAILED: %v\n", s.label(), err)
			}
			continue
		}
		fmt.Fprintf(w, "%s: %s\n", s.label(), summary)
	}
	switch {
	case failed == 0:
		return nil
	case len(fetches) == 1:
		return &exitError{code: exitInput, err: firstErr}
	}
	return &exitError{code: exitInput, err: fmt.Errorf("%d of %d fetches failed; first: %w", failed, len(fetches), firstErr)}
}

// snpRequestsOf returns the KDS request of every SEV-SNP report in a file.
func snpRequestsOf(path, product string) ([]kds.Request, error) {
	r, err := inspect.File(path)
	if err != nil {
		return nil, err
	}
	var reqs []kds.Request
	for _, it := range r.Items {
		rep := it.SNP
		if rep == nil {
			continue
		}
		p, err := rep.Product()
		switch {
		case err != nil && product == "":
			return nil, fmt.Errorf("%s: the report (version %d) does not name its product: add --amd-product Milan, Genoa or Turin", path, rep.Version)
		case err != nil:
			p = product
		case product != "" && product != p:
			return nil, fmt.Errorf("%s: the report is from a %s, but --amd-product says %s", path, p, product)
		}
		req := kds.Request{Product: p, ChipID: rep.ChipID, TCB: rep.ReportedTCB, SigningKey: rep.SignerInfo.SigningKey()}
		if !slices.Contains(reqs, req) {
			reqs = append(reqs, req)
		}
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%s: no SEV-SNP report", path)
	}
	return reqs, nil
}

// fetchSNPOne fetches and writes the certificates of one request and
// describes them.
func fetchSNPOne(ctx context.Context, client *kds.Client, req kds.Request, dir string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	certs, err := client.Certificates(ctx, req)
	if err != nil {
		return "", err
	}
	if err := kds.WriteDir(dir, certs, req.SigningKey); err != nil {
		return "", err
	}
	var parts []string
	if certs.Leaf != nil {
		parts = append(parts, fmt.Sprintf("%s valid until %s", req.SigningKey, certs.Leaf.NotAfter.UTC().Format(time.RFC3339)))
	} else {
		parts = append(parts, fmt.Sprintf("no %s (KDS does not serve it for this request: the evidence must carry it)", req.SigningKey))
	}
	parts = append(parts, certs.Intermediate.Subject.CommonName, certs.Root.Subject.CommonName)
	for _, c := range certs.CRLs {
		parts = append(parts, fmt.Sprintf("%s next update %s", c.Kind, c.List.NextUpdate.UTC().Format(time.RFC3339)))
	}
	return fmt.Sprintf("wrote %s: %s", dir, strings.Join(parts, ", ")), nil
}

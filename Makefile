# ratls build and test entry points. `make test` is what CI runs.
GO ?= go
PKGS := ./...
FUZZTIME ?= 30s

.PHONY: test fmt-check vet staticcheck unit test-examples test-differential test-browser bench fuzz build

test: fmt-check vet staticcheck unit test-examples test-differential

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) tool -modfile=tools/go.mod staticcheck $(PKGS)

# Unit tests (with the race detector) also run every fuzz target over its
# committed seed corpus in testdata/fuzz.
unit:
	$(GO) test -race -count=1 $(PKGS)
	@if [ -z "$$RATLS_TEST_POSTGRES" ]; then \
	  echo "NOTE: the PostgreSQL tests were SKIPPED: set RATLS_TEST_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them"; \
	fi

# The examples are modules of their own (they have dependencies the library
# does not), so ./... above does not reach them.
test-examples:
	cd examples/grpc && $(GO) vet ./... && $(GO) test -race -count=1 ./...

# Differential tests against google/go-tdx-guest and google/go-sev-guest: a
# module of its own, so that the library does not depend on them.
test-differential:
	cd tests/differential && $(GO) vet ./... && $(GO) test -race -count=1 ./...

# The evidence explorer in headless Chromium (apt-get install chromium);
# skipped when Chromium is missing, except with CI=true.
test-browser:
	cd tests/browser && $(GO) vet ./... && $(GO) test -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Run each fuzz target for FUZZTIME (default 30s).
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# The version and revision also when Go records no VCS information.
build:
	$(GO) build -ldflags "-X main.version=$$(git describe --tags --always --dirty 2>/dev/null || echo devel) -X main.revision=$$(git rev-parse HEAD 2>/dev/null)" -o bin/ratls ./cmd/ratls

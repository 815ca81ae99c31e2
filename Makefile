# Tocsin's build. Everything it needs comes from go.mod, tools/go.mod and
# ../shared (the pinned STIX and CSAF schemas): no tool has to be installed by hand.
GO        ?= go
# Go 1.27.3, which the go command fetches once from the module proxy: the
# machine's own Go 1.26.8 has 11 standard-library vulnerabilities that
# Tocsin's code reaches (net/http, crypto/tls, crypto/x509; make vulncheck).
export GOTOOLCHAIN ?= go1.27.3
BUF       := $(GO) tool -modfile=$(CURDIR)/tools/go.mod buf
BIN       := bin/tocsin
DATA      ?= .dev
FUZZTIME  ?= 5s
TESTFLAGS ?= -race -timeout 25m

.PHONY: all build run run-site demo test unit syslogd vet fmt-check proto proto-check fuzz fuzz-short schemas bench clean chromium web-expfmt browser chaos chaos-short

all: build

## build: the tocsin binary in bin/, and bin/tocsin-agent, the member agent alone (no server code, static, stripped: docs/PERFORMANCE.md)
build: schemas
	$(GO) build -o $(BIN) ./cmd/tocsin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o bin/tocsin-agent ./cmd/tocsin-agent

## run: a 3-node cluster in one process with the demo members (data in .dev)
run: build
	./$(BIN) dev --data $(DATA)

## run-site: make run, plus two member sites (St. Mary's on 4232, Riverside on 4233; docs/SITES.md)
run-site: build
	./$(BIN) dev --data $(DATA) --sites 2

## demo: play "the night St. Mary's went down" on a cluster of its own, every step checked (data in .demo)
demo: build
	./$(BIN) demo --data .demo

## test: everything CI checks
test: schemas proto-check vet fmt-check vulncheck browser syslogd unit fuzz-short chaos-short

# browser: Debian's chromium for the console's browser tests, installed when missing
browser:
	@./scripts/chromium.sh --install

# syslogd: Debian's rsyslog for the syslog sink's tests against a real daemon, installed when missing
syslogd:
	@./scripts/rsyslog.sh

unit: schemas
	$(GO) test $(TESTFLAGS) ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$') 2>/dev/null); \
	if [ -n "$$out" ]; then echo "not gofmt-formatted (run gofmt -w):"; echo "$$out"; exit 1; fi

## proto: regenerate the Go code from proto/
proto:
	cd proto && $(BUF) lint && $(BUF) generate

## proto-check: fail when the generated code is stale, lint fails, or the wire format broke
proto-check: proto
	@git diff --exit-code -- proto/ || { echo "generated protobuf code is stale: run 'make proto' and commit"; exit 1; }
	@tag=$$(git describe --tags --abbrev=0 --match 'v*' 2>/dev/null); \
	if [ -n "$$tag" ]; then echo "buf breaking against $$tag"; cd proto && $(BUF) breaking --against "../.git#tag=$$tag,subdir=proto"; fi

## schemas: copy and verify the pinned STIX 2.1 and CSAF 2.0 JSON schemas (and the CSAF test data)
schemas:
	@./scripts/schemas.sh
	@./scripts/csafschemas.sh

## fuzz-short: every fuzz target for $(FUZZTIME) (part of make test)
fuzz-short:
	@./scripts/fuzz.sh $(FUZZTIME)

## fuzz: every fuzz target for longer (FUZZTIME=10m make fuzz)
fuzz:
	@./scripts/fuzz.sh $(if $(filter 5s,$(FUZZTIME)),2m,$(FUZZTIME))

## chaos-short: every fault once, with bad input, on real processes (part of make test; docs/RELIABILITY.md)
chaos-short: schemas
	TOCSIN_CHAOS=short $(GO) test -v -count=1 -timeout 10m -run '^TestShortChaos$$' ./chaos

## chaos: the long chaos run, sync_interval always then 2m (make chaos DURATION=30m CHAOS_SEED=7); JSON in $(CHAOS_OUT)
DURATION  ?= 30m
CHAOS_SEED ?= 1
CHAOS_OUT ?= bin/chaos
chaos: build
	@mkdir -p $(CHAOS_OUT); rc=0; \
	for sync in always 2m; do \
		echo "== sync_interval $$sync: tocsin chaos --duration $(DURATION) --seed $(CHAOS_SEED) (JSON: $(CHAOS_OUT)/chaos-$$sync.json)"; \
		./$(BIN) chaos --duration $(DURATION) --seed $(CHAOS_SEED) --sync $$sync --json $(CHAOS_OUT)/chaos-$$sync.json || rc=$$?; \
	done; exit $$rc

## bench: the benchmarks (see docs/PERFORMANCE.md)
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 3s ./...

## vulncheck: govulncheck on every package, offline, against the vulnerability database pinned in tools/go.mod (docs/SECURITY.md)
.PHONY: vulncheck
vulncheck: schemas
	GO=$(GO) $(GO) -C tools run ./vulndb -out $(CURDIR)/bin/vulndb
	$(GO) tool -modfile=$(CURDIR)/tools/go.mod govulncheck -db file://$(CURDIR)/bin/vulndb ./...

## chromium: install Chromium if missing, run the console browser tests (screenshots in web/artifacts/browser)
chromium: schemas
	@./scripts/chromium.sh

## web-expfmt: parse a live /metrics with Prometheus's expfmt
web-expfmt: schemas
	@./scripts/web-expfmt.sh

clean:
	rm -rf bin

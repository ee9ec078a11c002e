# actlog — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/actlog
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
STATICCHECK_VERSION := v0.8.2
GOBIN := $(shell $(GO) env GOPATH)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help build run test test-short test-browser fuzz bench check clean tracker

help: ## show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

build: ## build bin/actlog
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/actlog

run: build ## run actlog with demo traffic at http://127.0.0.1:8080 (data in ./actlog-data)
	$(BIN) serve --demo $(ARGS)

test: ## run every test (race detector on; installs chromium for the browser tests), as CI does
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...
	cd tracker && npm ci --no-audit --no-fund && npm test
	$(MAKE) test-browser

test-browser: build ## the tracker in Debian's chromium against a real actlog serve (installs chromium)
	command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq -o DPkg::Lock::Timeout=600 chromium)
	cd tracker && npm ci --no-audit --no-fund && ACTLOG_BIN=$(CURDIR)/$(BIN) npm run test:browser

test-short: ## quick tests without subprocess crash tests
	$(GO) test -short -count=1 ./...

fuzz: ## fuzz the decoders of outside data for FUZZTIME each (default 60s)
	$(GO) test -run='^$$' -fuzz=FuzzDecodeBatch -fuzztime=$${FUZZTIME:-60s} ./internal/ingest/
	$(GO) test -run='^$$' -fuzz=FuzzDecodeRecord -fuzztime=$${FUZZTIME:-60s} ./internal/stream/
	$(GO) test -run='^$$' -fuzz=FuzzAnalysisRequests -fuzztime=$${FUZZTIME:-60s} ./internal/query/

bench: build ## run the benchmarks of record (see bench/README.md)
	bash bench/ingest/run.sh
	bash bench/pipeline/run.sh

check: ## go vet and staticcheck
	$(GO) vet ./...
	@test -x $(GOBIN)/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GOBIN)/staticcheck ./...

tracker: ## rebuild the web tracker and the copy the binary serves
	cd tracker && npm ci --no-audit --no-fund && npm run build
	cp tracker/dist/actlog.js internal/web/assets/actlog.js

clean: ## remove build output and the demo data
	rm -rf bin actlog-data

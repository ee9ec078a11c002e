# actlog — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
# Build with the toolchain go.mod names (downloaded through the module
# proxy when this machine's Go is older), even where GOTOOLCHAIN=local.
export GOTOOLCHAIN := auto
BIN := bin/actlog
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
STATICCHECK_VERSION := v0.8.2
GOVULNCHECK_VERSION := v1.9.0
# The Go vulnerability database, read from its module: vuln.go.dev is not
# reachable from every build machine, the module proxy is.
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
GOBIN := $(shell $(GO) env GOPATH)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

DASHBOARD := internal/web/ui/index.html
DASHBOARD_SRC := $(shell find dashboard/src dashboard/build.mjs dashboard/package-lock.json -type f 2>/dev/null)

.PHONY: help build run test test-short test-browser test-deploy test-soak fuzz bench check audit clean tracker dashboard

help: ## show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

build: $(DASHBOARD) ## build bin/actlog with the dashboard (needs npm)
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/actlog

run: build ## run actlog at http://127.0.0.1:8080 with 30 days of demo members and live demo traffic (data in ./actlog-data)
	test -e actlog-data/actlog.duckdb || $(BIN) loadgen --to-store actlog-data --events 300000 --days 30
	$(BIN) serve --demo $(ARGS)

test: ## run every test (race detector on; installs chromium for the browser tests), as CI does
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...
	cd tracker && npm ci --no-audit --no-fund && npm test
	$(MAKE) test-deploy
	$(MAKE) test-browser

test-deploy: ## the Helm chart rendered and decoded strictly, the Dockerfile linted, the Grafana board checked (own Go modules)
	cd deploy/helm/test && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd deploy/docker && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd deploy/grafana && $(GO) vet ./... && $(GO) test -count=1 ./...

test-browser: build ## the tracker and the dashboard in Debian's chromium against a real actlog serve (installs chromium and a Korean font)
	(command -v chromium && dpkg -s fonts-nanum) >/dev/null 2>&1 || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq -o DPkg::Lock::Timeout=600 chromium fonts-nanum)
	cd tracker && npm ci --no-audit --no-fund && ACTLOG_BIN=$(CURDIR)/$(BIN) npm run test:browser
	cd dashboard && (test -d node_modules || npm ci --no-audit --no-fund) && ACTLOG_BIN=$(CURDIR)/$(BIN) npm test

$(DASHBOARD): $(DASHBOARD_SRC)
	cd dashboard && npm ci --no-audit --no-fund && npm run build

dashboard: ## rebuild the dashboard the binary embeds (internal/web/ui)
	cd dashboard && npm ci --no-audit --no-fund && npm run build

test-short: ## quick tests without subprocess crash tests
	$(GO) test -short -count=1 ./...

fuzz: ## fuzz the decoders of outside data for FUZZTIME each (default 60s)
	$(GO) test -run='^$$' -fuzz=FuzzDecodeBatch -fuzztime=$${FUZZTIME:-60s} ./internal/ingest/
	$(GO) test -run='^$$' -fuzz=FuzzDecodeRecord -fuzztime=$${FUZZTIME:-60s} ./internal/stream/
	$(GO) test -run='^$$' -fuzz=FuzzAnalysisRequests -fuzztime=$${FUZZTIME:-60s} ./internal/query/
	$(GO) test -run='^$$' -fuzz=FuzzSavedFunnelBody -fuzztime=$${FUZZTIME:-60s} ./internal/web/
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$${FUZZTIME:-60s} ./internal/plan/
	$(GO) test -run='^$$' -fuzz=FuzzCheck -fuzztime=$${FUZZTIME:-60s} ./internal/plan/
	$(GO) test -run='^$$' -fuzz=FuzzSplitJSON -fuzztime=$${FUZZTIME:-60s} ./internal/importer/
	$(GO) test -run='^$$' -fuzz=FuzzCSVRow -fuzztime=$${FUZZTIME:-60s} ./internal/importer/
	$(GO) test -run='^$$' -fuzz=FuzzMapping -fuzztime=$${FUZZTIME:-60s} ./internal/importer/

bench: build ## run the benchmarks of record (see bench/README.md)
	bash bench/ingest/run.sh
	bash bench/pipeline/run.sh
	bash bench/loadtest/run.sh

check: ## go vet and staticcheck
	$(GO) vet ./...
	@test -x $(GOBIN)/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GOBIN)/staticcheck ./...

test-soak: build ## two minutes at the reference peak: fails when RSS keeps growing or a request fails (the hour: bash bench/soak/run.sh)
	DURATION=2m SAMPLE=20s CHECK=1 REBUILD=0 bash bench/soak/run.sh

audit: ## known vulnerabilities: govulncheck (reachable ones fail) and npm audit of the shipped JavaScript (high and critical fail)
	@test -x $(GOBIN)/govulncheck || $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
	db=$$(cd "$$(mktemp -d)" && $(GO) mod init vulndb >/dev/null 2>&1 && \
		$(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p') && \
		test -d "$$db/data/osv" && $(GOBIN)/govulncheck -db "file://$$db/data/osv" ./...
	cd tracker && npm audit --omit=dev --audit-level=high
	cd dashboard && npm audit --omit=dev --audit-level=high

tracker: ## rebuild the web tracker and the copy the binary serves
	cd tracker && npm ci --no-audit --no-fund && npm run build
	cp tracker/dist/actlog.js internal/web/assets/actlog.js

clean: ## remove build output and the demo data
	rm -rf bin actlog-data
	find internal/web/ui -mindepth 1 ! -name .gitkeep -delete

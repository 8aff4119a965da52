# berth: one binary, one Makefile. `make help` lists the targets.
GO       ?= go
BIN      := bin/berth
DATA_DIR ?= $(CURDIR)/.berth
PKG      := ./...

.PHONY: help build test test-short bench deps up clean fmt vet

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/berth (static: the agent builds its pause image from this binary)
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/berth

test: deps ## the whole suite: unit, end-to-end and fuzz seed corpora (installs missing packages first)
	$(GO) vet $(PKG)
	$(GO) test -count=1 -timeout 25m $(PKG)

test-short: ## unit tests only
	$(GO) test -short -count=1 $(PKG)

bench: build ## Go benchmarks plus `berth bench api`
	$(GO) test -run '^$$' -bench . -benchmem $(PKG)
	$(BIN) bench api --data-dir $(DATA_DIR)/bench

deps: ## install the Debian packages berth needs (idempotent)
	./hack/deps.sh

up: build ## start berth on this machine (API server with embedded etcd)
	$(BIN) server --data-dir $(DATA_DIR)

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build output (keeps the data dir)
	rm -rf bin

# berth: one binary, one Makefile. `make help` lists the targets.
GO       ?= go
BIN      := bin/berth
DATA_DIR ?= $(CURDIR)/.berth
PKG      := ./...

.PHONY: help build images test test-short bench deps up clean fmt vet

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/berth (a static binary: it runs on any Linux machine)
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

images: build ## build the demo images (examples-repo/images) into bin/images/*.tar
	$(BIN) images build examples-repo/images/hello  -t demo/hello:v1  -e VERSION=v1 -o bin/images/hello-v1.tar
	$(BIN) images build examples-repo/images/hello  -t demo/hello:v2  -e VERSION=v2 -o bin/images/hello-v2.tar
	$(BIN) images build examples-repo/images/worker -t demo/worker:v1 -o bin/images/worker-v1.tar

up: deps build images ## run berth on this machine, syncing DATA_DIR/repo (a git repository made from examples-repo/)
	BIN=$(BIN) DATA_DIR=$(DATA_DIR) ./hack/up.sh

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build output (keeps the data dir)
	rm -rf bin

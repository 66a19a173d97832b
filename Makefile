# protostar — see README.md. `make run` and `make test` do all setup on a
# fresh Debian 12 machine (run as root); everything else is optional.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
export PATH := /usr/local/go/bin:$(PATH)

BIN        := bin/protostar
STACK      := bash scripts/stack.sh
STACK_ENV  := eval "$$($(STACK) env)"
GO_TEST    := go test -count=1 -timeout 30m
# Fuzz budgets are execution counts (Nx): a duration races Go 1.26's fuzz
# coordinator and can fail with a bare "context deadline exceeded" and no
# crasher (go.dev/issue/75804, fixed in Go 1.27).
FUZZTIME   ?= 200000x
FAULTS_SCALE ?= full
BENCH_SCALE ?= default
BENCH_OUT   ?= bench/results.json
BENCH_ARGS  ?=
# Stamped into the binary (protostar version) and the image's labels.
export VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
export REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS    := -X github.com/protostar/protostar/internal/buildinfo.version=$(VERSION) \
              -X github.com/protostar/protostar/internal/buildinfo.revision=$(REVISION)
# The development set of `make eval` (not in the repository: CC BY-ND) and
# extra flags for `protostar eval retrieval`, e.g.
# EVAL_ARGS="--distractor-factor 10" (10× synthetic unrelated passages) or
# EVAL_ARGS="--distractors other.json,notes/" (your own).
EVAL_DATA  ?= ../shared/data/korquad-v1-dev-a.json
EVAL_ARGS  ?=
# Dev defaults for `make run`; override on the command line or in the environment.
DEMO_KEY   ?= demo-key-0123456789abcdef
export PROTOSTAR_API_KEYS ?= demo:$(DEMO_KEY)
export PROTOSTAR_HTTP_ADDR ?= 127.0.0.1:8080
export OTEL_TRACES_EXPORTER ?= none

.PHONY: help build image stack stack-down browser run test test-console test-unit test-deploy test-ts openapi fuzz bench eval test-faults lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/protostar
	go build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/protostar

image: ## build the OCI image localhost/protostar:<git describe> with buildah, no daemon (+ bin/protostar-image.oci.tar)
	bash scripts/image.sh build

openapi: ## rewrite api/openapi.json and the TypeScript client's generated types from the server's routes
	go run ./cmd/protostar openapi > api/openapi.json.tmp && mv api/openapi.json.tmp api/openapi.json
	cd clients/typescript && { test -d node_modules || npm ci --no-audit --no-fund; } && npm run --silent generate

stack: ## install and start PostgreSQL+pgvector, Redis and MinIO on loopback (idempotent)
	$(STACK) up

stack-down: ## stop the local stack (data is kept in .stack/)
	$(STACK) down

browser: ## install Debian's chromium for the console's browser tests (idempotent)
	$(STACK) browser

run: stack build ## set up everything, run `protostar all` with the demo corpus
	$(STACK_ENV); PROTOSTAR_LOG_FORMAT=$${PROTOSTAR_LOG_FORMAT:-text} \
		PROTOSTAR_SECRET_KEY=$${PROTOSTAR_SECRET_KEY:-dev-only-secret-key-not-for-production} \
		PROTOSTAR_WEBHOOK_ALLOW_HOSTS=$${PROTOSTAR_WEBHOOK_ALLOW_HOSTS:-127.0.0.1,localhost} \
		PROTOSTAR_S3_WATCH=$${PROTOSTAR_S3_WATCH:-true} scripts/demo.sh $(BIN)

test: stack browser ## set up everything and run every test against the real stack
	$(STACK_ENV); export PROTOSTAR_REQUIRE_STACK=1; $(GO_TEST) ./...
	$(MAKE) --no-print-directory test-deploy
	$(MAKE) --no-print-directory test-ts
	$(MAKE) --no-print-directory bench BENCH_SCALE=small BENCH_OUT=bin/bench-small.json
	$(MAKE) --no-print-directory fuzz FUZZTIME=20000x
	$(MAKE) --no-print-directory test-faults FAULTS_SCALE=short

test-deploy: stack image ## build the image and Helm (cached), then test the image, deploy/compose.yaml and the chart
	$(STACK_ENV); export PROTOSTAR_REQUIRE_STACK=1 PROTOSTAR_REQUIRE_DEPLOY=1 \
		PROTOSTAR_HELM="$$(bash scripts/helm.sh path)" PROTOSTAR_IMAGE="$$(bash scripts/image.sh name)"; \
		$(GO_TEST) -v ./deploy/ 2>&1 | tee bin/test-deploy.log || { bash scripts/test-failures.sh bin/test-deploy.log; exit 1; }

test-ts: stack build ## TypeScript client: lint api/openapi.json, check its generated types, typecheck, test against `protostar all` on the stack
	cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error
	cd clients/typescript && npm run --silent lint-openapi && npm run --silent check-generated && npm run --silent typecheck
	$(STACK_ENV); cd clients/typescript && PROTOSTAR_BIN=$(CURDIR)/$(BIN) npm test --silent

test-faults: stack ## fault suite: kills, outages, rolling restart, load on real processes (~10 min; FAULTS_SCALE=short ~6 min)
	mkdir -p bin; $(STACK_ENV); export PROTOSTAR_REQUIRE_STACK=1 FAULTS_SCALE=$(FAULTS_SCALE) FAULTS_REPORT=$(CURDIR)/bin/faults-$(FAULTS_SCALE).md; \
		go test -tags faults -count=1 -timeout 30m -v -run '^TestFaults$$' ./faults/ 2>&1 | tee bin/faults-$(FAULTS_SCALE).log \
		|| { bash scripts/test-failures.sh bin/faults-$(FAULTS_SCALE).log; exit 1; }

test-console: stack browser ## the operator console in real Chromium (screenshots in bin/console-shots/)
	$(STACK_ENV); export PROTOSTAR_REQUIRE_STACK=1; $(GO_TEST) ./internal/console/ && $(GO_TEST) -run '^TestConsole$$' ./e2e/

test-unit: ## run only the tests that need no services
	go test -count=1 -short ./...

fuzz: ## run each fuzz target for FUZZTIME executions (default 200000x); longer runs: see README
	@mkdir -p bin; for t in "FuzzChunker ./internal/markdown" "FuzzTerms ./internal/lexical" \
		"FuzzDecodeSubmission ./internal/httpapi" "FuzzSearchRequest ./internal/httpapi" \
		"FuzzRequest ./internal/httpapi" "FuzzValidateKey ./internal/httpapi"; do \
		set -- $$t; echo "fuzz $$1 ($(FUZZTIME))"; \
		go test -run='^$$' -fuzz="^$$1$$" -fuzztime=$(FUZZTIME) $$2 >bin/fuzz.log 2>&1 \
			&& tail -n 1 bin/fuzz.log || { cat bin/fuzz.log; exit 1; }; \
	done

bench: stack ## benchmarks on the stack, BENCH_SCALE=small|default|large|curve → table + bench/results.json (docs/benchmarks.md)
	$(STACK_ENV); go run ./bench -scale $(BENCH_SCALE) -out $(BENCH_OUT) $(BENCH_ARGS)

eval: stack build ## retrieval quality on EVAL_DATA (SQuAD format): R@1/5/10, MRR@10, queries/s per mode beside a BM25 reference; EVAL_ARGS="--distractor-factor 10" adds the drop with 10x unrelated passages (docs/benchmarks.md)
	$(STACK_ENV); bash scripts/eval.sh $(BIN) $(EVAL_DATA) $(EVAL_ARGS)

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

clean: ## remove build output (not the stack's data)
	rm -rf bin

# notification-apiserver: every routine task has a target; see README.md.
SHELL := /usr/bin/env bash
GO ?= go
BIN := bin

.PHONY: all build generate verify unit fuzz integration e2e soak test run up down clean deps bench

# A count, not a duration: a duration-bound run can end with a spurious
# "context deadline exceeded" on a loaded machine.
FUZZTIME ?= 30000x

all: build

## build: build bin/notification-apiserver (static: see hack/build.sh)
build:
	GO=$(GO) hack/build.sh

## generate: regenerate clients, deepcopy, defaults, conversion, OpenAPI and protobuf (needs protoc: make deps)
generate:
	hack/update-codegen.sh

## verify: fail when generated code is stale; go vet; gofmt
verify:
	hack/verify-codegen.sh
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd pkg test hack)" || { gofmt -l cmd pkg test hack; echo "gofmt needed"; exit 1; }

## unit: unit tests
unit:
	$(GO) test ./pkg/... ./cmd/... ./test/promtext/... ./test/bench/...

## fuzz: a short run of every fuzz target (FUZZTIME each, default 30000 inputs)
fuzz:
	@for target in $$(grep -rhoE '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' pkg | sed 's/func //'); do \
	  pkg=$$(grep -rlE "^func $$target\(" --include='*_test.go' pkg | xargs dirname); \
	  echo ">> $$target ($$pkg)"; \
	  $(GO) test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) ./$$pkg || exit 1; \
	done

## integration: the server in-process on a real embedded etcd; notifiers against real receivers
integration:
	$(GO) test ./test/integration/... ./test/peers/...

## e2e: a real local control plane driven with kubectl (its state in .local/e2e)
e2e: build
	hack/build-control-plane.sh
	@# The suite stops its control plane itself; the trap covers a panic or a timeout.
	trap 'LOCAL_DIR=$(CURDIR)/.local/e2e hack/local-down.sh' EXIT; \
	  E2E_LOCAL_DIR=$(CURDIR)/.local/e2e $(GO) test -count=1 -timeout 30m ./test/e2e/...

## soak: the fault tests at full size (SOAK=1) on a real local control plane: a 60s sink
## outage under 200 events, a SIGKILL of the server under 1,000, a kube-apiserver restart
soak: build
	hack/build-control-plane.sh
	trap 'LOCAL_DIR=$(CURDIR)/.local/e2e hack/local-down.sh' EXIT; \
	  SOAK=1 E2E_LOCAL_DIR=$(CURDIR)/.local/e2e $(GO) test -count=1 -timeout 30m -v -run 'Fault|Soak|Load|TestEtcd|TestTwoReplicas' ./test/e2e/...

## test: everything CI runs
test: deps verify unit fuzz integration e2e

## bench: measure the API and delivery beside their peers on a fresh local control plane
## (numbers in .local/bench/results.json; BENCH_FLAGS passes flags, e.g. -only=api)
BENCH_DIR := $(CURDIR)/.local/bench
# The local control plane caches authorization decisions for 1s, so that
# the e2e tests see RBAC changes at once; the bench measures the server's
# defaults (10s). With 1s each second's first batch waited ~2ms for a
# SubjectAccessReview, twice (eventbatches, then events): 4% of the
# batches at 50 events/s, most of the steady p99.
BENCH_PRODUCTION_FLAGS := --authorization-webhook-cache-authorized-ttl=10s --authorization-webhook-cache-unauthorized-ttl=10s
# ETCD_FSYNC=1: the kube-apiserver's etcd, where the CRD peer stores its
# objects, syncs its log to disk before it answers, as a production etcd
# and our embedded one do. Without it the CRD's creates never wait for the
# disk and ours do (0.3 ms a sync here): the CPU sat idle 6-8% of our
# creates, not 1% of the CRD's.
bench: deps build
	hack/build-control-plane.sh
	hack/build-flux-peer.sh
	trap 'LOCAL_DIR=$(BENCH_DIR)/cp hack/local-down.sh' EXIT; \
	  LOCAL_DIR=$(BENCH_DIR)/cp ETCD_FSYNC=1 NOTIFICATION_FLAGS="--profiling $(BENCH_PRODUCTION_FLAGS) $(BENCH_SERVER_FLAGS)" RECEIVER_FLAGS="$(BENCH_RECEIVER_FLAGS)" hack/local-up.sh && \
	  $(GO) run ./test/bench -local-dir $(BENCH_DIR)/cp -out $(BENCH_DIR)/results.json $(BENCH_FLAGS)

## deps: install what the tests need on a fresh machine
deps:
	hack/install-deps.sh

## run: bring up the local control plane with the server and the examples; Ctrl-C stops it
run: deps
	hack/local-run.sh

## up: bring up the local control plane and return once it is ready (.local/kubeconfig)
up: deps
	hack/local-up.sh

## down: stop what `make up` started
down:
	hack/local-down.sh

clean: down
	rm -rf $(BIN) .local

# uc-operator: every set-up step lives here so a fresh clone on a fresh machine works.
SHELL := /bin/bash
CARGO ?= cargo
export PATH := $(CURDIR)/bin:$(PATH)

.PHONY: all build tools deps crds test test-fast lint demo bench bench-noisy clean

all: build

build:
	$(CARGO) build --workspace

## tools: build (or reuse from ~/.cache/uc-operator) kube-apiserver, kubectl, etcd and helm; link into bin/
tools:
	@bash hack/tools.sh

## deps: Debian packages the tests run (lua5.4 for the Argo CD health check, promtool)
deps:
	@bash hack/deps.sh

## crds: regenerate crds/ (and the chart's copy) from the code
crds:
	$(CARGO) run --quiet -- crd > crds/databricksintegrations.uc-operator.dev.yaml
	cp crds/databricksintegrations.uc-operator.dev.yaml charts/uc-operator/files/

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --features uc-operator/test-hooks -- -D warnings

## test: everything the project tests (lint, unit, CRD drift, integration on a real API server)
test: tools deps lint
	$(CARGO) test --workspace --features uc-operator/test-hooks --no-fail-fast

## test-fast: the edit-compile-test loop: unit tests (decisions, status, plan, import) and the
## simulator's in-process tests, no control plane; `make test` stays the whole suite
test-fast:
	$(CARGO) test --workspace --features uc-operator/test-hooks --lib --bins \
		--test sim --test strict_compute --test strict_uc

## demo: the operator reconciling examples/ against a local control plane and the simulator
demo: tools
	$(CARGO) build --workspace --bins
	python3 hack/demo.py

## bench: the scale benchmark on a release build (docs/performance.md), not part of `make test`.
## Parameters (make variables or environment): N, LATENCY_MS, CONCURRENCY, REST_SECS, REVALIDATE,
## INTERVAL, CHUNK, TIMEOUT, OUT, KEEP; e.g. `make bench N=1000 LATENCY_MS=20`
bench: tools
	$(CARGO) build --release -p uc-operator -p databricks-sim --bins
	python3 hack/bench/run.py

## bench-noisy: the noisy-neighbour comparison (docs/performance.md): the healthy integrations'
## p50 and p99 setup time with and without NOISY percent of slow workspaces, median of RUNS
bench-noisy: tools
	$(CARGO) build --release -p uc-operator -p databricks-sim --bins
	python3 hack/bench/noisy.py

clean:
	$(CARGO) clean
	rm -rf bin

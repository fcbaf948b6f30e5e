# uc-operator: every set-up step lives here so a fresh clone on a fresh machine works.
SHELL := /bin/bash
CARGO ?= cargo
export PATH := $(CURDIR)/bin:$(PATH)

.PHONY: all build tools crds test lint demo clean

all: build

build:
	$(CARGO) build --workspace

## tools: build (or reuse from ~/.cache/uc-operator) kube-apiserver, kubectl, etcd and helm; link into bin/
tools:
	@bash hack/tools.sh

## crds: regenerate crds/ from the code
crds:
	$(CARGO) run --quiet -- crd > crds/databricksintegrations.uc-operator.dev.yaml

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## test: everything the project tests (lint, unit, CRD drift, integration on a real API server)
test: tools lint
	$(CARGO) test --workspace --no-fail-fast

## demo: the operator reconciling examples/ against a local control plane and the simulator
demo: tools
	$(CARGO) build --workspace --bins
	python3 hack/demo.py

clean:
	$(CARGO) clean
	rm -rf bin

# The two commands of the README: `make reproduce` and `make test`. Both run scripts/setup.sh first.
SHELL := /bin/bash
CARGO ?= cargo
export LIPSYNC_PYTHON := $(CURDIR)/.venv/bin/python

.PHONY: setup build test lint fmt reproduce bench

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release --workspace --bins

test: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) build --release --workspace --bins
	$(CARGO) test --release --workspace

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

reproduce: build
	@scripts/reproduce.sh

# Ours against the PyTorch baseline (bench/torch_baseline.py) in one script: ratios ours ÷ PyTorch.
bench: build
	@scripts/bench.sh

# chaperone — one Makefile for set-up, build, lint, tests, the demo and benchmarks.
# Every target installs what it needs itself and is safe to run again.

SHELL := /bin/bash
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/chaperone
STAMP := node_modules/.chaperone-deps
APT_PACKAGES := postgresql-client postgresql pgbouncer openssh-server openssh-client prometheus chromium

.PHONY: deps build lint test unit integration demo bench clean tools

# System packages (psql, pgbench, PostgreSQL server binaries, PgBouncer) and npm packages.
deps: $(STAMP)
$(STAMP): package.json package-lock.json packages/*/package.json webhook/package.json test/package.json
	@scripts/install-system-deps.sh $(APT_PACKAGES)
	npm ci --no-audit --no-fund
	@touch $@

build: deps
	npx tsc -b

lint: deps
	npx eslint .
	npx tsc -b

# The whole suite: unit tests beside the code, then integration tests under test/.
# The first run builds the Kubernetes test binaries (make tools, about 15 minutes on 2 cores; cached after).
test: build tools
	node scripts/run-tests.mjs

unit: build
	node scripts/run-tests.mjs --unit

integration: build tools
	node scripts/run-tests.mjs --integration

demo: build
	node packages/cli/bin/chaperone.js demo

bench: build
	node test/dist/bench/pgbench.js
	node test/dist/bench/webhook.js
	node test/dist/bench/mask.js
	node test/dist/bench/mask-proxy.js
	node test/dist/bench/kube.js
	node test/dist/bench/ssh.js

# kube-apiserver, etcd, kubectl and helm compiled from Go modules into $(CACHE_DIR)/tools/<tool>-<version>/
# (cached by version; KUBEBUILDER_ASSETS, when it holds the first three, is used instead).
# The first build takes many minutes.
tools:
	@scripts/build-tools.sh

clean:
	rm -rf packages/*/dist webhook/dist test/dist node_modules

# assist: build, test, benchmark and demo. `make help` lists the targets.
#
# Targets documented with `## text` on their rule line appear in `make help`.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# Prerequisites run in the order written (deps before vet before build), even
# under make -j; go parallelises inside each step.
.NOTPARALLEL:

GO      ?= go
BIN     := $(CURDIR)/bin
DIST    := $(CURDIR)/dist
OUT     := $(CURDIR)/out
CMDS    := assist assist-server assist-rep
GOOS    := $(shell $(GO) env GOOS 2>/dev/null)
GOARCH  := $(shell $(GO) env GOARCH 2>/dev/null)
NPROC   := $(shell nproc 2>/dev/null || echo 1)

# Test and bench builds use the same flags as `build` (no -trimpath), so they
# share the Go build cache; `release` has its own cache keys.
# ASSIST_REQUIRE_X=1: tests needing Xvfb/chromium fail instead of skipping.
# ASSIST_BIN: where tests find the built binaries.
# ASSIST_ICE_LOOPBACK=1: WebRTC on 127.0.0.1 only, even if the namespace is off.
TEST_ENV := ASSIST_REQUIRE_X=1 ASSIST_BIN=$(BIN) ASSIST_ICE_LOOPBACK=1

.PHONY: help
help: ## Show this help
	@echo "assist make targets:"
	@grep -hE '^[a-zA-Z_-]+:.*?## .*$$' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  %-10s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## Install Debian packages (Xvfb, X11 headers, chromium, ...) and Go modules; no-op when present
	@scripts/deps.sh

.PHONY: build
build: ## Build bin/assist, bin/assist-server, bin/assist-rep
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

.PHONY: release
release: ## Stripped builds in dist/ (+ dist/downloads/assist-linux-amd64 for the server)
	@mkdir -p $(DIST)/downloads
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags='-s -w' -o $(DIST)/ ./cmd/...
	install -m 0755 $(DIST)/assist $(DIST)/downloads/assist-$(GOOS)-$(GOARCH)
	@ls -l $(addprefix $(DIST)/,$(CMDS)) $(DIST)/downloads/assist-$(GOOS)-$(GOARCH)

.PHONY: vet
vet: ## gofmt (must list nothing) and go vet
	@unformatted=$$(find . -name '*.go' -not -path './.git/*' -not -path './node_modules/*' \
		-not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files need formatting (run gofmt -w):"; \
		echo "$$unformatted" | sed 's/^/  /'; \
		exit 1; \
	fi
	$(GO) vet ./...

.PHONY: test
# The systemd-nspawn reboot test runs in `make test-service`: a container left
# behind by an interrupted run on the same machine can stall its boot, and a
# stalled boot must not hold up every other test.
test: deps vet build ## deps, vet, build, then every test in a loopback-only network namespace (systemd: make test-service)
	node --test server/web/ chatwin/web/
	$(TEST_ENV) scripts/netns.sh $(GO) test -p 2 -count=1 -timeout 14m ./...

.PHONY: test-service
test-service: deps build ## The reboot-and-resume test against a real systemd (systemd-nspawn; the Debian root is made once, ~60 s)
	@root=$$(scripts/service-root.sh) && \
	$(TEST_ENV) ASSIST_SERVICE_ROOT=$$root ASSIST_REQUIRE_SERVICE=1 scripts/netns.sh \
		$(GO) test -count=1 -timeout 10m -run 'TestRebootAsService' -v ./e2e/

.PHONY: bench
bench: deps build ## Micro-benchmarks, then the desktop workload vs x11vnc -> out/bench.json (+ table)
	@mkdir -p $(OUT)
	@rc=0; \
	$(TEST_ENV) scripts/netns.sh $(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./... 2>&1 \
		| tee $(OUT)/bench.txt || rc=$$?; \
	awk -v procs=$(NPROC) -f scripts/bench2json.awk $(OUT)/bench.txt > $(OUT)/micro.json; \
	echo "bench: wrote $(OUT)/bench.txt and $(OUT)/micro.json"; \
	$(TEST_ENV) ASSIST_BENCH_OUT=$(OUT)/bench.json scripts/netns.sh $(GO) test -v -count=1 -run '^TestWorkload$$' \
		-timeout 20m ./bench/ 2>&1 | tee $(OUT)/workload.txt || rc=$$?; \
	exit $$rc

.PHONY: demo
demo: deps build ## Run the whole product locally (Xvfb desktop, server, session, agent); Ctrl+C stops it
	scripts/demo.sh

.PHONY: clean
clean: ## Remove bin/, dist/, out/ and cached test results
	rm -rf $(BIN) $(DIST) $(OUT)
	$(GO) clean -testcache

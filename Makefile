# vigilo — the two commands a fresh machine needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/vigilo
PKGS    := ./...
# Flags for `make run`; override e.g. `make run RUN_FLAGS="--min-period 1s"`.
RUN_FLAGS ?=

.PHONY: build run test bench lint clean tools

build:
	$(GO) build -o $(BIN) ./cmd/vigilo

run: build
	./$(BIN) serve --data ./data $(RUN_FLAGS)

# Unit and package tests, the end-to-end tests that start bin/vigilo, then the
# whole-system bench at CI size: it exits non-zero on errors, missed or false transitions.
test: tools lint build
	$(GO) test -count=1 -timeout 12m $(PKGS)
	./$(BIN) bench --quick

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s -timeout 60m ./wheel/ ./engine/store/ ./actors/... ./ingest/ ./bench/

# promtool (Debian's prometheus package) checks the /metrics exposition in e2e.
tools:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "installing promtool (Debian package prometheus)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y prometheus; }

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf bin

# vigilo — the two commands a fresh machine needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/vigilo
PKGS    := ./...
# Flags for `make run`; override e.g. `make run RUN_FLAGS="--min-period 1s"`.
RUN_FLAGS ?=

.PHONY: build run cluster test bench lint clean tools

build:
	$(GO) build -o $(BIN) ./cmd/vigilo

run: build
	./$(BIN) serve --data ./data $(RUN_FLAGS)

# Three cluster nodes on loopback, each with its own data dir (./data-cluster/nN):
# APIs and pings on 127.0.0.1:8101-8103, raft between them on 7101-7103. Ctrl-C
# stops all three. Override e.g. `make cluster RUN_FLAGS="--api-key KEY"`.
CLUSTER_PEERS := 1=127.0.0.1:7101/127.0.0.1:8101,2=127.0.0.1:7102/127.0.0.1:8102,3=127.0.0.1:7103/127.0.0.1:8103
cluster: build
	@mkdir -p data-cluster
	@trap 'kill $$(jobs -p) 2>/dev/null' INT TERM; \
	  for i in 1 2 3; do \
	    ./$(BIN) serve --cluster-id $$i --cluster-peers $(CLUSTER_PEERS) --data ./data-cluster/n$$i $(RUN_FLAGS) & \
	  done; wait

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

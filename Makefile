# Weft build, test and demo entry points. Every target installs what it needs first
# (scripts/setup.sh is idempotent), so each works by itself on a fresh machine.

NODE_TEST_FLAGS ?= --test-concurrency=1 --test-timeout=600000
# Test files are named *.test.ts. Node 20 treats every file under a `test/` directory as a test
# when given a directory, so the compiled files of the sources that exist are listed explicitly
# (a stale dist/ file of a deleted test never runs).
# Tests that need root, network namespaces, cgroups, eBPF or a bed. Every other test is a unit
# test: `make unit` runs those as an unprivileged user (nobody, when started as root), so one
# that starts needing privileges fails there instead of hiding in this list's complement.
PRIVILEGED_TESTS = test/e2e/|test/bpf/|test/image/|test/workers/|test/kit/bed/bed(-ca|-chart)?\.test|test/kit/bed/kube-proxy/|test/kit/bed/controllers/workload-controller\.test|test/kit/bed/kubelet/(kubelet-features|pod-volumes|container-mounts|container-capabilities)\.test|test/agent/(enrollment-cgroup-wait|restart-publication|check-command)\.test
UNIT_TEST_FILES = $$(find test agent -name '*.test.ts' | sort | grep -Ev '$(PRIVILEGED_TESTS)' | sed 's|^|dist/|; s|\.ts$$|.js|')
PRIVILEGED_TEST_FILES = $$(find test agent -name '*.test.ts' | sort | grep -E '$(PRIVILEGED_TESTS)' | sed 's|^|dist/|; s|\.ts$$|.js|')
UNIT_TEST_FLAGS ?= --test-concurrency=4 --test-timeout=120000
# As root, drop to nobody for the unit tests (scripts/as-unprivileged.sh).
AS_UNPRIVILEGED = ./scripts/as-unprivileged.sh

.PHONY: all setup build ts bpf dist test unit demo bench bench-scale bench-authz fuzz down clean

all: build

setup:
	@./scripts/setup.sh

build: setup ts bpf

ts:
	npx tsc -p tsconfig.json

# eBPF objects: one per hook under bpf/, built once they exist.
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,bpf/build/%.bpf.o,$(BPF_SRCS))

bpf: $(BPF_OBJS)

bpf/build/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/include/*.h)
	@mkdir -p bpf/build
	clang -O2 -g -Wall -Werror -target bpf -Ibpf/include -I/usr/include/$(shell uname -m)-linux-gnu -c $< -o $@

# The app as the image carries it (out/weft/, see Dockerfile); test/image/ checks it.
dist: build
	./scripts/stage-dist.sh

# The end-to-end tests once more on beds that install charts/weft (bed up --from-chart), so a
# missing RBAC rule, a wrong flag or a wrong mount in the chart fails CI.
CHART_E2E_FILES = dist/test/e2e/authorization.test.js dist/test/e2e/agent-restart.test.js dist/test/e2e/first-path.test.js dist/test/e2e/mtls.test.js dist/test/e2e/mtls-rotation.test.js dist/test/e2e/strict-mtls.test.js

# Unit tests first, unprivileged; then the privileged ones; then the chart-mode e2e.
test: build dist
	$(AS_UNPRIVILEGED) node --test $(UNIT_TEST_FLAGS) $(UNIT_TEST_FILES)
	node --test $(NODE_TEST_FLAGS) $(PRIVILEGED_TEST_FILES)
	WEFT_E2E_BED_MODE=chart node --test $(NODE_TEST_FLAGS) $(CHART_E2E_FILES)

# Everything that needs no root, no network namespace and no bed (about 45 s on two
# cores once built): for contributors without root. Needs `npm ci` done (and helm for the chart
# tests: scripts/setup.sh installs both).
unit: ts
	$(AS_UNPRIVILEGED) node --test $(UNIT_TEST_FLAGS) $(UNIT_TEST_FILES)

demo: build
	./scripts/demo.sh

bench: build
	node dist/test/bench/main.js $(BENCH_FLAGS)
	node dist/test/bench/authz-main.js

# Authorization alone: decision cost (in process) and policy propagation (on a two-node bed).
bench-authz: build
	node dist/test/bench/authz-main.js

# The agent at scale: 100 enrolled pods, 10 000 endpoints; memory and snapshot propagation.
bench-scale: build
	node dist/test/bench/scale-main.js

# The malformed-input fuzz test with a long budget (make test runs it with a small one).
# Reproduce a failure with the seed it prints: make fuzz FUZZ_SEED=<seed>.
FUZZ_CASES ?= 20000
fuzz: build
	WEFT_FUZZ_CASES=$(FUZZ_CASES) $(if $(FUZZ_SEED),WEFT_FUZZ_SEED=$(FUZZ_SEED)) node --test $(NODE_TEST_FLAGS) dist/test/fuzz/malformed-input.test.js

down:
	node dist/test/kit/bed/main.js down

clean:
	rm -rf dist bpf/build out

# Weft build, test and demo entry points. Every target installs what it needs first
# (scripts/setup.sh is idempotent), so each works by itself on a fresh machine.

NODE_TEST_FLAGS ?= --test-concurrency=1 --test-timeout=600000
# Test files are named *.test.ts. Node 20 treats every file under a `test/` directory as a test
# when given a directory, so the compiled files of the sources that exist are listed explicitly
# (a stale dist/ file of a deleted test never runs).
TEST_FILES = $$(find test agent -name '*.test.ts' | sort | sed 's|^|dist/|; s|\.ts$$|.js|')

.PHONY: all setup build ts bpf dist test unit demo bench bench-scale fuzz down clean

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
CHART_E2E_FILES = dist/test/e2e/agent-restart.test.js dist/test/e2e/first-path.test.js dist/test/e2e/mtls.test.js dist/test/e2e/mtls-rotation.test.js dist/test/e2e/strict-mtls.test.js

test: build dist
	node --test $(NODE_TEST_FLAGS) $(TEST_FILES)
	WEFT_E2E_BED_MODE=chart node --test $(NODE_TEST_FLAGS) $(CHART_E2E_FILES)

demo: build
	./scripts/demo.sh

bench: build
	node dist/test/bench/main.js $(BENCH_FLAGS)

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

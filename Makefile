# Cairn: the two commands of the README.
#   make demo   installs dependencies, builds, runs the end-to-end demo
#   make test   installs dependencies, builds, runs every test
#   make install [PREFIX=/usr/local] [DESTDIR=]   installs (docs/building.md)
#   make deb     builds the Debian package into $(BUILD)/ (CPack)
BUILD ?= build
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local

.PHONY: all deps build install deb test demo asan fuzz fuzz-long bench clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

# install and deb take what is built in $(BUILD) (building it first only when
# it was never configured), so `sudo make install` does not compile as root.
# DESTDIR (staging root) is honoured by cmake --install from the environment.
install:
	@[ -f $(BUILD)/cmake_install.cmake ] || $(MAKE) build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

deb:
	@[ -f $(BUILD)/CPackConfig.cmake ] || $(MAKE) build
	cd $(BUILD) && cpack -G DEB

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 300 -j$(JOBS)

demo: build
	@if [ -x samples/demo/run-demo.sh ]; then bash samples/demo/run-demo.sh $(BUILD); \
	 else echo "demo: not yet (see issue 4)"; fi

# Unit and integration tests under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	bash scripts/test-sanitizers.sh

# libFuzzer harnesses, a few seconds each (FUZZ_SECONDS=N to change).
fuzz: deps
	bash scripts/run-fuzzers.sh

# The long, resumable campaign: 10 M executions per harness, 2 at once, new
# coverage merged into tests/fuzz/corpus/ at the end (docs/fuzzing.md;
# FUZZ_TARGET_EXECS, FUZZ_JOBS, FUZZ_SLICE, FUZZ_BUDGET to change).
fuzz-long: deps
	bash scripts/fuzz-long.sh

bench: build
	@if [ -x bench/run.sh ]; then bash bench/run.sh $(BUILD); else echo "bench: not yet"; fi

clean:
	rm -rf $(BUILD) build-asan build-fuzz

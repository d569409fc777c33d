# rcgc: build, demo, tests.
#   make demo   builds the library and header, compiles and runs examples/seed.c
#   make graph  runs examples/graph.c and renders its heap to docs/heap.png (Graphviz)
#   make test   every test: Rust unit tests, C and C++ tests (also under valgrind
#               memcheck), the CPython differential tests, lint and the header check

CC      ?= cc
CFLAGS  := -std=c11 -Wall -Wextra -Werror -pedantic -g -O1
LIBS    := -lpthread -ldl -lm
TARGET  := target/debug
PYTHON  ?= python3

.PHONY: all build demo examples test test-rust test-valgrind test-stress test-python miri lint clean

all: build

build:
	cargo build

$(TARGET)/seed: examples/seed.c include/rcgc.h build
	$(CC) $(CFLAGS) -I include examples/seed.c $(TARGET)/librcgc.a $(LIBS) -o $@

demo: $(TARGET)/seed
	./$(TARGET)/seed

$(TARGET)/quickstart: examples/quickstart.c include/rcgc.h build
	$(CC) $(CFLAGS) -I include examples/quickstart.c $(TARGET)/librcgc.a $(LIBS) -o $@

# The README's quick start must compile and run.
examples: $(TARGET)/quickstart
	./$(TARGET)/quickstart && echo "examples/quickstart.c: ok"

test: lint test-rust test-valgrind test-stress test-python demo examples
	@echo "make test: all suites passed"

# Unit tests of the core, the C/C++ programs of tests/c, the header freshness check.
# The library is built first because cargo test does not build the staticlib (cargo#8311).
test-rust: build
	cargo test

# The same C programs under valgrind memcheck: zero errors, zero definite leaks.
test-valgrind: build
	VALGRIND=valgrind cargo test --test c_api

# Stress mode: the C programs against a library built with the stress-gc feature, which
# collects on every tracked allocation (the harness passes RCGC_STRESS_GC=1 to them, so
# they skip CPython's exact counts; their models follow the stress rule), and the
# model-based test (tests/model.rs), whose model knows the stress rule. It builds in
# its own target directory: the library's artifacts have no hash in their names (it is
# also a cdylib and a staticlib), so a feature build in target/debug would replace the
# library every other target links.
STRESS_TARGET := target/stress

test-stress:
	CARGO_TARGET_DIR=$(STRESS_TARGET) cargo build --features stress-gc
	CARGO_TARGET_DIR=$(STRESS_TARGET) cargo test --features stress-gc --test c_api --test model

# rcgc against real CPython on the same graphs, through ctypes.
test-python: build
	$(PYTHON) -m pytest -q tests/cpython

# Miri (needs a nightly toolchain with the miri component, so it is not part of
# `make test`: CI must not depend on nightly): the core's unit tests and a short run
# of the model test, interpreted with Tree Borrows and strict provenance, which
# report undefined behaviour, out-of-bounds or uninitialized reads and
# integer-to-pointer casts. The unit tests that need hundreds of thousands of
# objects are ignored under Miri (cfg_attr in src/tests.rs), three run smaller.
# 16.5 minutes here (unit tests 11.7, model test 4.8), measured beside a CI run.
MIRIFLAGS_RCGC := -Zmiri-tree-borrows -Zmiri-strict-provenance -Zmiri-disable-isolation
miri:
	MIRIFLAGS="$(MIRIFLAGS_RCGC)" cargo +nightly miri test --lib
	RCGC_MODEL_CASES=3 MIRIFLAGS="$(MIRIFLAGS_RCGC)" cargo +nightly miri test --test model

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps --quiet

clean:
	cargo clean

# Benchmark (issue 4), not part of `make test`: DESIGN.md's workloads in rcgc (C programs
# built -O2 against target/release/librcgc.a), CPython 3.11 and the Boehm GC; see bench/run.py.
#   make bench            REPS repetitions (default 5), every system; prints the table and
#                         writes target/bench/results.{json,md}
#   make bench QUICK=1    1 repetition, rcgc only, the same sizes (results-quick.{json,md})
#   make bench-scaling    full collections of 10^4..10^7 live objects, rcgc vs CPython;
#                         target/bench/scaling.json and docs/scaling.png
REPS  ?= 5
QUICK ?=

.PHONY: bench bench-scaling

bench:
	cargo build --release
	$(PYTHON) bench/run.py --no-cargo --reps $(REPS) $(if $(filter 1 yes true,$(QUICK)),--quick)

bench-scaling:
	cargo build --release
	$(PYTHON) bench/run.py --no-cargo --scaling --reps $(REPS)

# --- Installing (README "Installing") ----------------------------------------------
#   make install PREFIX=/usr/local      librcgc.so.VERSION + soname links, librcgc.a,
#                                       rcgc.h, rcgc.hpp, lib/pkgconfig/rcgc.pc
#   make install-static PREFIX=...      the same without the shared library
#   make uninstall PREFIX=...
# The release library is built by `make dist` into its own target directory
# (target/dist), so the soname link flag never invalidates `cargo build --release`.

PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR      ?=
VERSION      := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)
VERSION_MAJOR := $(word 1,$(subst ., ,$(VERSION)))
VERSION_MINOR := $(word 2,$(subst ., ,$(VERSION)))
# While the version is 0.x, every minor release may change the ABI (cargo-c's rule):
# the soname is librcgc.so.0.MINOR; from 1.0 on it is librcgc.so.MAJOR.
SOVERSION    := $(if $(filter 0,$(VERSION_MAJOR)),0.$(VERSION_MINOR),$(VERSION_MAJOR))
DIST_DIR     := target/dist
DIST         := $(DIST_DIR)/release

.PHONY: dist install install-static uninstall test-install test-cpp test-bindings-python test-lua

# The release cdylib with its soname and the staticlib, in one rustc run that also
# prints the system libraries a program linking librcgc.a needs (they go into
# rcgc.pc's Libs.private).
dist:
	@mkdir -p $(DIST_DIR)
	CARGO_TARGET_DIR=$(DIST_DIR) cargo rustc --release --lib --crate-type cdylib \
	  --crate-type staticlib -- -C link-arg=-Wl,-soname,librcgc.so.$(SOVERSION) \
	  --print native-static-libs > $(DIST_DIR)/rustc.log 2>&1 \
	  || { cat $(DIST_DIR)/rustc.log; exit 1; }
	@sed -n 's/^note: native-static-libs: //p' $(DIST_DIR)/rustc.log | tail -n 1 \
	  > $(DIST_DIR)/native-static-libs
	@test -s $(DIST_DIR)/native-static-libs \
	  || { echo "rustc printed no native-static-libs:"; cat $(DIST_DIR)/rustc.log; exit 1; }
	@echo "dist: $(DIST)/librcgc.so (soname librcgc.so.$(SOVERSION)), $(DIST)/librcgc.a;" \
	  "static link needs: $$(cat $(DIST_DIR)/native-static-libs)"

install-static: $(if $(DIST_DONE),,dist)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 $(DIST)/librcgc.a $(DESTDIR)$(LIBDIR)/librcgc.a
	install -m 644 include/rcgc.h include/rcgc.hpp $(DESTDIR)$(INCLUDEDIR)/
	{ echo 'prefix=$(PREFIX)'; \
	  echo 'libdir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))'; \
	  echo 'includedir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))'; \
	  echo; \
	  echo 'Name: rcgc'; \
	  echo "Description: CPython's memory manager as a C library: refcounted objects and a generational cycle collector"; \
	  echo 'Version: $(VERSION)'; \
	  echo 'Cflags: -I$${includedir}'; \
	  echo 'Libs: -L$${libdir} -lrcgc'; \
	  echo "Libs.private: $$(cat $(DIST_DIR)/native-static-libs)"; \
	} > $(DESTDIR)$(PKGCONFIGDIR)/rcgc.pc

install: install-static
	install -m 755 $(DIST)/librcgc.so $(DESTDIR)$(LIBDIR)/librcgc.so.$(VERSION)
	ln -sf librcgc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librcgc.so.$(SOVERSION)
	ln -sf librcgc.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/librcgc.so

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/librcgc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librcgc.so.$(SOVERSION) \
	  $(DESTDIR)$(LIBDIR)/librcgc.so $(DESTDIR)$(LIBDIR)/librcgc.a \
	  $(DESTDIR)$(INCLUDEDIR)/rcgc.h $(DESTDIR)$(INCLUDEDIR)/rcgc.hpp \
	  $(DESTDIR)$(PKGCONFIGDIR)/rcgc.pc

# Installs into temporary prefixes and builds examples/seed.c with nothing but
# pkg-config's flags: shared (soname checked, run with LD_LIBRARY_PATH) and static
# (an install without librcgc.so, so -lrcgc can only mean librcgc.a; the binary
# must not need librcgc.so). Also builds examples/cpp/quickstart.cpp against the
# installed rcgc.hpp, and checks that uninstall removes every file.
test-install: dist
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(MAKE) --no-print-directory -s install PREFIX=$$tmp/shared DIST_DONE=1; \
	$(MAKE) --no-print-directory -s install-static PREFIX=$$tmp/static DIST_DONE=1; \
	lib=$$tmp/shared/lib; \
	for f in $$lib/librcgc*; do \
	  echo "test-install: installed $${f#$$tmp/shared/}$$(test -L $$f && echo " -> $$(readlink $$f)")"; \
	done; \
	readelf -d $$lib/librcgc.so.$(VERSION) | grep -q 'Library soname: \[librcgc.so.$(SOVERSION)\]' \
	  || { echo "test-install: wrong soname:"; readelf -d $$lib/librcgc.so.$(VERSION) | grep SONAME; exit 1; }; \
	test "$$(readlink $$lib/librcgc.so)" = librcgc.so.$(SOVERSION); \
	test "$$(readlink $$lib/librcgc.so.$(SOVERSION))" = librcgc.so.$(VERSION); \
	export PKG_CONFIG_PATH=$$lib/pkgconfig; \
	test "$$(pkg-config --modversion rcgc)" = $(VERSION); \
	echo "test-install: pkg-config --cflags --libs rcgc: $$(pkg-config --cflags --libs rcgc)"; \
	$(CC) $(CFLAGS) examples/seed.c $$(pkg-config --cflags --libs rcgc) -o $$tmp/seed-shared; \
	readelf -d $$tmp/seed-shared | grep -q 'NEEDED.*\[librcgc.so.$(SOVERSION)\]' \
	  || { echo "test-install: seed-shared does not need librcgc.so.$(SOVERSION)"; exit 1; }; \
	LD_LIBRARY_PATH=$$lib ldd $$tmp/seed-shared | grep -q "librcgc.so.$(SOVERSION) => $$lib/librcgc.so.$(SOVERSION)"; \
	LD_LIBRARY_PATH=$$lib $$tmp/seed-shared > $$tmp/seed-shared.out \
	  || { cat $$tmp/seed-shared.out; echo "test-install: seed (shared) failed"; exit 1; }; \
	tail -n 1 $$tmp/seed-shared.out | grep -qx 'Every figure matched the walkthrough.'; \
	echo "test-install: seed built with pkg-config (shared): ok"; \
	export PKG_CONFIG_PATH=$$tmp/static/lib/pkgconfig; \
	echo "test-install: pkg-config --static --cflags --libs rcgc: $$(pkg-config --static --cflags --libs rcgc)"; \
	$(CC) $(CFLAGS) examples/seed.c $$(pkg-config --static --cflags --libs rcgc) -o $$tmp/seed-static; \
	! readelf -d $$tmp/seed-static | grep -q 'NEEDED.*librcgc' \
	  || { echo "test-install: seed-static needs librcgc.so"; exit 1; }; \
	$$tmp/seed-static > $$tmp/seed-static.out \
	  || { cat $$tmp/seed-static.out; echo "test-install: seed (static) failed"; exit 1; }; \
	cmp -s $$tmp/seed-shared.out $$tmp/seed-static.out; \
	echo "test-install: seed built with pkg-config --static: ok"; \
	export PKG_CONFIG_PATH=$$lib/pkgconfig; \
	$(CXX) $(CXXFLAGS_STRICT) examples/cpp/quickstart.cpp $$(pkg-config --cflags --libs rcgc) -o $$tmp/quickstart-cpp; \
	LD_LIBRARY_PATH=$$lib $$tmp/quickstart-cpp > $$tmp/quickstart-cpp.out; \
	printf '%s\n' 'collect() found 2 unreachable objects' \
	  'rcgc::error RCGC_ERR_INVALID_ARGUMENT: rcgc_collect: generation 3 is outside 0..=2' \
	  | diff - $$tmp/quickstart-cpp.out; \
	echo "test-install: examples/cpp/quickstart.cpp with the installed rcgc.hpp: ok"; \
	$(MAKE) --no-print-directory -s uninstall PREFIX=$$tmp/shared; \
	left=$$(find $$tmp/shared -type f -o -type l); \
	test -z "$$left" || { echo "test-install: uninstall left $$left"; exit 1; }; \
	echo "test-install: uninstall removes every file: ok"

# --- The C++ wrapper (include/rcgc.hpp): tests/cpp/test_*.cpp, natively and under
# valgrind memcheck (zero errors, zero definite leaks).
CXXFLAGS_STRICT := -std=c++17 -Wall -Wextra -Werror -pedantic -g -O1
VALGRIND_FLAGS  := --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite -q
CPP_TESTS       := $(patsubst tests/cpp/%.cpp,$(TARGET)/cpp-tests/%,$(wildcard tests/cpp/test_*.cpp))

$(TARGET)/cpp-tests/%: tests/cpp/%.cpp tests/cpp/check.hpp include/rcgc.hpp include/rcgc.h build
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS_STRICT) -I include $< $(TARGET)/librcgc.a $(LIBS) -o $@

test-cpp: $(CPP_TESTS)
	@for t in $(CPP_TESTS); do ./$$t || exit 1; done
	@for t in $(CPP_TESTS); do \
	  printf 'valgrind: '; valgrind $(VALGRIND_FLAGS) ./$$t || { echo "$$t failed under valgrind"; exit 1; }; \
	done

# --- The Python package (bindings/python): its pytest suite, seed walkthrough included.
test-bindings-python: build $(TARGET)/seed
	RCGC_LIB=$(abspath $(TARGET)/librcgc.so) RCGC_SEED_DEMO=$(abspath $(TARGET)/seed) \
	  $(PYTHON) -m pytest -q bindings/python/tests

# --- LuaJIT through its FFI (bindings/lua, examples/lua/seed.lua).
LUAJIT ?= luajit
test-lua: build $(TARGET)/seed
	RCGC_LIB=$(abspath $(TARGET)/librcgc.so) $(LUAJIT) examples/lua/seed.lua > $(TARGET)/seed-lua.out \
	  || { cat $(TARGET)/seed-lua.out; echo "examples/lua/seed.lua failed"; exit 1; }
	@echo "examples/lua/seed.lua: $$(tail -n 1 $(TARGET)/seed-lua.out)"
	RCGC_LIB=$(abspath $(TARGET)/librcgc.so) RCGC_SEED_DEMO=$(abspath $(TARGET)/seed) \
	  $(LUAJIT) bindings/lua/test_rcgc.lua

test: test-cpp test-bindings-python test-lua test-install

# An internal panic stops at the C boundary and poisons the heap instead of
# corrupting it (cargo feature fault-injection), built in a target directory of
# its own so that the feature build never replaces the library others link.
.PHONY: test-panic
test-panic:
	CARGO_TARGET_DIR=target/fault cargo test --features fault-injection --test panic_boundary
test: test-panic

# The cost of checked mode (README, Reliability).
.PHONY: bench-checked
bench-checked:
	cargo build --release
	$(CC) -O2 -I include bench/checked_mode.c target/release/librcgc.a $(LIBS) -o target/release/checked_mode
	./target/release/checked_mode

# Whether the scan pays for branches it cannot predict (docs/performance.md, live_tree).
.PHONY: bench-branches
bench-branches:
	cargo build --release
	$(CC) -O2 -I include -I bench bench/branches.c target/release/librcgc.a $(LIBS) -o target/release/branches
	./target/release/branches

# --- A picture of the heap (README): examples/graph.c writes a small heap as DOT and
# says why one object is alive; `make graph` also renders docs/heap.png with Graphviz.
# In `make test` the example must run, and its DOT must render when dot is installed.
.PHONY: graph test-graph
$(TARGET)/graph: examples/graph.c include/rcgc.h build
	$(CC) $(CFLAGS) -I include examples/graph.c $(TARGET)/librcgc.a $(LIBS) -o $@

graph: $(TARGET)/graph
	./$(TARGET)/graph target/heap.dot
	dot -Tpng target/heap.dot -o docs/heap.png

test-graph: $(TARGET)/graph
	./$(TARGET)/graph target/heap.dot > $(TARGET)/graph.out \
	  || { cat $(TARGET)/graph.out; echo "examples/graph.c failed"; exit 1; }
	@if command -v dot >/dev/null; then \
	  dot -Tpng target/heap.dot -o target/heap.png 2> $(TARGET)/dot.err && test ! -s $(TARGET)/dot.err \
	    || { cat $(TARGET)/dot.err; echo "dot cannot render target/heap.dot"; exit 1; }; \
	  echo "examples/graph.c: ok; dot renders its target/heap.dot"; \
	else \
	  echo "examples/graph.c: ok; dot is not installed, so the rendering is not checked"; \
	fi
test: test-graph

# rcgc: build, demo, tests.
#   make demo   builds the library and header, compiles and runs examples/seed.c
#   make test   every test: Rust unit tests, C and C++ tests (also under valgrind
#               memcheck), the CPython differential tests, lint and the header check

CC      ?= cc
CFLAGS  := -std=c11 -Wall -Wextra -Werror -pedantic -g -O1
LIBS    := -lpthread -ldl -lm
TARGET  := target/debug
PYTHON  ?= python3

.PHONY: all build demo examples test test-rust test-valgrind test-python lint clean

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

test: lint test-rust test-valgrind test-python demo examples
	@echo "make test: all suites passed"

# Unit tests of the core, the C/C++ programs of tests/c, the header freshness check.
# The library is built first because cargo test does not build the staticlib (cargo#8311).
test-rust: build
	cargo test

# The same C programs under valgrind memcheck: zero errors, zero definite leaks.
test-valgrind: build
	VALGRIND=valgrind cargo test --test c_api

# rcgc against real CPython on the same graphs, through ctypes.
test-python: build
	$(PYTHON) -m pytest -q tests/cpython

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

clean:
	cargo clean

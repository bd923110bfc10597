# The two commands (README): `make run` and `make test`. Everything else is a helper of theirs
# or a long run with its own target.
SHELL := /bin/bash

RELEASE_DIR := build/release
DEBUG_DIR   := build/debug
TSAN_DIR    := build/tsan
JOBS        := $(shell nproc 2>/dev/null || echo 2)

export TOKEND_DATABASE ?= sqlite:./var/tokend.db
export TOKEND_LISTEN   ?= 127.0.0.1:9000

.PHONY: run test deps release debug tsan clean bench fuzz soak format-check install
FUZZ_DIR     := build/fuzz
FUZZ_SECONDS ?= 60

deps:
	@./scripts/install-deps

release: deps
	@cmake -S . -B $(RELEASE_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(RELEASE_DIR) --target tokend -j $(JOBS)

debug: deps
	@cmake -S . -B $(DEBUG_DIR) -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(DEBUG_DIR) -j $(JOBS)

# The server under ThreadSanitizer, for the concurrency tests (ctest's tsan/concurrency).
tsan: deps
	@cmake -S . -B $(TSAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DTOKEND_TSAN=ON >/dev/null
	@cmake --build $(TSAN_DIR) --target tokend -j $(JOBS)

# Build a release binary, create or migrate the database, bootstrap, serve on TOKEND_LISTEN.
run: release
	@mkdir -p var
	@exec $(RELEASE_DIR)/tokend serve

# Debug build under ASan+UBSan (and the server under TSan), every suite through ctest.
test: debug tsan
	@cd $(DEBUG_DIR) && ctest --output-on-failure --timeout 900

bench: release
	@./scripts/install-deps --bench
	@bench/run

# The long crash-safety run: 50 SIGKILLs under load, on SQLite and on PostgreSQL.
soak: debug
	@TOKEND_BIN=$(DEBUG_DIR)/tokend TOKEND_CRASH_CYCLES=50 /usr/bin/python3 -m pytest -q -rf \
	  -p no:cacheprovider tests/api/test_crash_safety.py
	@TOKEND_BIN=$(DEBUG_DIR)/tokend TOKEND_CRASH_CYCLES=50 tests/run-api-postgres -k crash_safety

# Fuzz every target for FUZZ_SECONDS seconds each; new inputs land in build/fuzz/corpus.
fuzz: deps
	@./scripts/install-deps --fuzz
	@CC=clang cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=Debug -DTOKEND_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_DIR) -j $(JOBS)
	@for t in tests/fuzz/fuzz_*.c; do n=$$(basename $$t .c); \
	  mkdir -p $(FUZZ_DIR)/corpus/$$n && \
	  echo "== $$n ($(FUZZ_SECONDS) s)" && \
	  $(FUZZ_DIR)/$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    $(FUZZ_DIR)/corpus/$$n tests/fuzz/corpus/$$n 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' || exit 1; \
	done

# Release binary, man page and systemd unit under $(DESTDIR)$(PREFIX) (README "Operating tokend").
PREFIX  ?= /usr/local
DESTDIR ?=
install: release
	@DESTDIR="$(DESTDIR)" cmake --install $(RELEASE_DIR) --prefix "$(PREFIX)" --strip

# Every C file of the tree (src/, tests/ with its headers), as ctest's style/clang-format checks.
format-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

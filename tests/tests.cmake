# Test suites, registered with ctest. Unit tests: every tests/unit/**/test_*.c is one cmocka
# executable. API tests: pytest against a real tokend process, once per store backend.
find_package(PkgConfig REQUIRED)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

# Those named test_pg_*.c need a PostgreSQL server: they are unit-pg/NAME, each run by
# tests/run-unit-postgres on a throwaway cluster of its own (never part of unit/).
file(GLOB_RECURSE TK_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_*.c)
foreach(src ${TK_UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE tokend_core PkgConfig::CMOCKA)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
  if(name MATCHES "^test_pg_")
    add_test(NAME unit-pg/${name}
      COMMAND ${CMAKE_SOURCE_DIR}/tests/run-unit-postgres $<TARGET_FILE:${name}>)
    set_tests_properties(unit-pg/${name} PROPERTIES LABELS unit-pg TIMEOUT 300)
  else()
    add_test(NAME unit/${name} COMMAND ${name})
    set_tests_properties(unit/${name} PROPERTIES LABELS unit)
  endif()
endforeach()

# Fuzz targets are also plain regression tests over their seed corpus (README "Layout").
file(GLOB TK_FUZZ_TARGETS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
if(TOKEND_FUZZ)
  # `make fuzz`: clang with libFuzzer; each target fuzzes from a copy of its seed corpus.
  foreach(src ${TK_FUZZ_TARGETS})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE tokend_core)
    target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
  endforeach()
endif()
foreach(src ${TK_FUZZ_TARGETS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name}_replay ${src} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c)
  target_link_libraries(${name}_replay PRIVATE tokend_core)
  target_include_directories(${name}_replay PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
  add_test(NAME fuzz-replay/${name}
    COMMAND ${name}_replay ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${name})
endforeach()

set(TK_PYTHON /usr/bin/python3)
set(TK_API_ENV "TOKEND_BIN=$<TARGET_FILE:tokend>;ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")

# scripts/check-doc-refs (the references of comments, tests and docs) on small trees with bad
# references planted in them: each must fail with its message, a clean tree must pass.
add_test(NAME unit/scripts/check-doc-refs
  COMMAND ${TK_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_SOURCE_DIR}/tests/scripts)
set_tests_properties(unit/scripts/check-doc-refs PROPERTIES LABELS "unit;docs")
# ... and on this repository: every cited docs/*.md section exists, nothing names a file outside.
add_test(NAME style/doc-references COMMAND ${TK_PYTHON} ${CMAKE_SOURCE_DIR}/scripts/check-doc-refs)
set_tests_properties(style/doc-references PROPERTIES LABELS "style;docs")

add_test(NAME api/sqlite
  COMMAND ${TK_PYTHON} -m pytest -q -rf -p no:cacheprovider ${CMAKE_SOURCE_DIR}/tests/api)
set_tests_properties(api/sqlite PROPERTIES ENVIRONMENT "${TK_API_ENV};TOKEND_TEST_BACKEND=sqlite"
  LABELS api TIMEOUT 900)
# The same suite on PostgreSQL, on a cluster the script creates and removes.
add_test(NAME api/postgres COMMAND ${CMAKE_SOURCE_DIR}/tests/run-api-postgres)
set_tests_properties(api/postgres PROPERTIES ENVIRONMENT "${TK_API_ENV}"
  LABELS api TIMEOUT 900)

# Several processes on one PostgreSQL, a streaming replica, outages: clusters of their own.
add_test(NAME scaleout/postgres
  COMMAND ${TK_PYTHON} -m pytest -q -rf -p no:cacheprovider ${CMAKE_SOURCE_DIR}/tests/scaleout)
set_tests_properties(scaleout/postgres PROPERTIES ENVIRONMENT "${TK_API_ENV}"
  LABELS api TIMEOUT 600)

# Real reverse proxies in front of a small service with tokend as the authority: Debian's nginx
# (auth_request) and Caddy (forward_auth) with contrib/'s snippets. Both are installed by
# scripts/install-deps; a machine without them fails the suite, it is never skipped.
add_test(NAME gateway/sqlite
  COMMAND ${TK_PYTHON} -m pytest -q -rfEs -p no:cacheprovider ${CMAKE_SOURCE_DIR}/tests/gateway)
set_tests_properties(gateway/sqlite PROPERTIES ENVIRONMENT "${TK_API_ENV};TOKEND_TEST_BACKEND=sqlite"
  LABELS gateway TIMEOUT 300)

# authentik's official client (@goauthentik/api, pinned) and an OpenAPI validator, on both stores.
add_test(NAME compat/sqlite COMMAND ${CMAKE_SOURCE_DIR}/tests/compat/run)
add_test(NAME compat/postgres COMMAND ${CMAKE_SOURCE_DIR}/tests/compat/run postgres)
set_tests_properties(compat/sqlite compat/postgres PROPERTIES ENVIRONMENT "${TK_API_ENV}"
  LABELS compat TIMEOUT 600)

# The admin console in Debian's Chromium (playwright-core and axe-core, pinned) against a real
# tokend on SQLite: serving, headers, every page and action (tests/console).
add_test(NAME chromium/sqlite COMMAND ${CMAKE_SOURCE_DIR}/tests/console/run)
set_tests_properties(chromium/sqlite PROPERTIES ENVIRONMENT "${TK_API_ENV}"
  LABELS console TIMEOUT 900)

# The concurrency tests against the server built with ThreadSanitizer (make tsan builds it; the
# harness fails a run on any ThreadSanitizer report in the server's output).
add_test(NAME tsan/concurrency COMMAND ${CMAKE_SOURCE_DIR}/tests/run-tsan)
set_tests_properties(tsan/concurrency PROPERTIES LABELS tsan TIMEOUT 900
  ENVIRONMENT "TOKEND_BIN=${CMAKE_SOURCE_DIR}/build/tsan/tokend;TSAN_OPTIONS=halt_on_error=0")

# House rules a script keeps (scripts/checksrc, rules in its header): no sprintf, strcpy, atoi and
# the like, no limit written as a bare number outside src/util/limits.h. The second test plants
# each kind of violation in a tree of its own and checks the script names its file and line.
add_test(NAME style/checksrc COMMAND ${TK_PYTHON} ${CMAKE_SOURCE_DIR}/scripts/checksrc)
add_test(NAME style/checksrc-planted
  COMMAND ${TK_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_SOURCE_DIR}/tests/scripts/test_checksrc.py)
set_tests_properties(style/checksrc style/checksrc-planted PROPERTIES LABELS style)

# House style (.clang-format): every C file of the tree as clang-format writes it, the same list
# as `make format-check` (which this runs).
add_test(NAME style/clang-format COMMAND make -s -C ${CMAKE_SOURCE_DIR} format-check)
set_tests_properties(style/clang-format PROPERTIES LABELS style)

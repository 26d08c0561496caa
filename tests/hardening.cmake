# Hardening: fuzzing, fault and load tests, the bad-input table.
# Included at the end of tests/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/hardening.cmake)
# Paths are relative to this file.  Every test runs once per backend through
# xpoll_add_test() (ctest sets XPOLL_BACKEND).
set(_hard ${CMAKE_CURRENT_LIST_DIR})

# Stress tests scale their load by XPOLL_STRESS_SCALE (percent, default
# 100): TSan and valgrind run them at a tenth, not skipped.
set(_hard_scale 100)
if(CMAKE_C_FLAGS MATCHES "-fsanitize=thread" OR XPOLL_TEST_WRAPPER)
  set(_hard_scale 10)
endif()

# ---------------------------------------------------------------------------
# Fuzzers.  The checked-in corpus replays in every build (fuzz_*_replay
# tests, per backend); the libFuzzer binaries need clang and
# -DXPOLL_BUILD_FUZZ=ON (scripts/fuzz.sh sets the instrumentation flags).
# ---------------------------------------------------------------------------
option(XPOLL_BUILD_FUZZ "Build the libFuzzer targets (clang only)" OFF)

set(_hard_fuzzers fuzz_reactor fuzz_addr)
foreach(_f IN LISTS _hard_fuzzers)
  xpoll_add_test(${_f}_replay
    SOURCES ${_hard}/fuzz/${_f}.c ${_hard}/fuzz/replay_main.c)
  target_compile_definitions(${_f}_replay PRIVATE
    XPOLL_FUZZ_CORPUS="${_hard}/fuzz/corpus/${_f}")
endforeach()

if(XPOLL_BUILD_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "XPOLL_BUILD_FUZZ needs clang (libFuzzer); "
                        "use scripts/fuzz.sh or CC=clang")
  endif()
  foreach(_f IN LISTS _hard_fuzzers)
    add_executable(${_f} ${_hard}/fuzz/${_f}.c)
    target_compile_options(${_f} PRIVATE -fsanitize=fuzzer)
    target_link_options(${_f} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${_f} PRIVATE xpoll::xpoll_static)
    # build/fuzz/fuzz_reactor, not build/fuzz/tests/fuzz_reactor
    set_target_properties(${_f} PROPERTIES
      RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
  endforeach()
endif()

# The emulation's personality and leak counters (kqemu.h) for the fuzzers.
if(XPOLL_KQUEUE_EMULATION)
  foreach(_t fuzz_reactor_replay fuzz_reactor)
    if(TARGET ${_t})
      target_link_libraries(${_t} PRIVATE kqemu::api)
      target_compile_definitions(${_t} PRIVATE XPOLL_FUZZ_KQEMU)
    endif()
  endforeach()
endif()

# ---------------------------------------------------------------------------
# Fault and load tests (tests/stress/), each bounded well under 30 s.
# ---------------------------------------------------------------------------
function(_hard_stress name)
  xpoll_add_test(${name}
    SOURCES ${_hard}/stress/${name}.c ${_hard}/stress/stress.c ${ARGN})
  target_include_directories(${name} PRIVATE ${_hard})
  foreach(_backend IN LISTS XPOLL_TEST_BACKENDS)
    set_property(TEST ${name}.${_backend} APPEND PROPERTY
      ENVIRONMENT "XPOLL_STRESS_SCALE=${_hard_scale}")
  endforeach()
endfunction()

_hard_stress(stress_c10k)
foreach(_backend IN LISTS XPOLL_TEST_BACKENDS)
  # 20,000 descriptors and most of the ephemeral port range: alone.
  set_tests_properties(stress_c10k.${_backend} PROPERTIES RUN_SERIAL TRUE)
endforeach()
_hard_stress(stress_eintr)
_hard_stress(stress_fdlimit)
if(XPOLL_FORCE_PIPE_WAKER)
  target_compile_definitions(stress_fdlimit PRIVATE XPOLL_TEST_PIPE_WAKER)
endif()
# Runs natively even in the valgrind build: valgrind emulates the
# descriptor limit (it fakes EMFILE after the kernel's call succeeded, which
# consumes a pending connection in accept) and has no seccomp(2), so the
# exhaustion this test creates would not be the kernel's.  ASan and TSan
# cover its memory and threads.
set_target_properties(stress_fdlimit PROPERTIES CROSSCOMPILING_EMULATOR "")
_hard_stress(stress_peers)
_hard_stress(stress_close)

# ---------------------------------------------------------------------------
# The bad-input table (docs/bad-input.md): rows not proven elsewhere.
# ---------------------------------------------------------------------------
xpoll_add_test(test_badinput SOURCES ${_hard}/test_badinput.c)
if(XPOLL_KQUEUE_EMULATION)
  target_link_libraries(test_badinput PRIVATE kqemu::api)
  target_compile_definitions(test_badinput PRIVATE XPOLL_TEST_KQEMU)
endif()
# Interposes malloc: not with sanitizers (their allocator), natively under
# valgrind (which replaces malloc in the executable too).
if(NOT CMAKE_C_FLAGS MATCHES "-fsanitize")
  _hard_stress(stress_alloc ${_hard}/heap_inject.c)
  set_target_properties(stress_alloc PROPERTIES CROSSCOMPILING_EMULATOR "")
endif()

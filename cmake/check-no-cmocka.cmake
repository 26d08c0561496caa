# Configures scratch builds of xpoll the way a machine without cmocka or
# without pkg-config would, and checks what the top-level CMakeLists.txt
# promises for XPOLL_BUILD_TESTS:
#   - left at AUTO: configure succeeds, says in one line why the tests are
#     off, and the library and the examples build;
#   - ON: configure fails;
#   - the kqueue emulation (XPOLL_KQUEUE_EMULATION=ON) needs no cmocka
#     either: only its fidelity suite does, and that follows the decision.
# A positive control (AUTO with both present) must configure the tests.
#
#   cmake -DSOURCE_DIR=... -DWORK_DIR=... -DC_COMPILER=... -DGENERATOR=...
#         -P cmake/check-no-cmocka.cmake
#
# "No pkg-config" is PKG_CONFIG_EXECUTABLE naming a file that does not
# exist: FindPkgConfig then skips its search, fails to run it and reports
# PkgConfig not found, as on a machine without the package.  "No cmocka" is
# PKG_CONFIG_LIBDIR naming an empty directory: pkg-config finds no .pc file.
cmake_minimum_required(VERSION 3.25)

foreach(_var SOURCE_DIR WORK_DIR C_COMPILER GENERATOR)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "check-no-cmocka.cmake: -D${_var}=... is missing")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/empty-pc-dir")
set(_no_pkg_config -DPKG_CONFIG_EXECUTABLE=${WORK_DIR}/no-such-pkg-config)
set(_no_cmocka_env
    ${CMAKE_COMMAND} -E env --unset=PKG_CONFIG_PATH
    PKG_CONFIG_LIBDIR=${WORK_DIR}/empty-pc-dir)
set(_failures 0)

function(check_failed what)
  message(SEND_ERROR "FAILED: ${what}")
  math(EXPR _n "${_failures} + 1")
  set(_failures ${_n} PARENT_SCOPE)
endfunction()

# configure(NAME [ENV cmd...] [ARGS arg...]): sets NAME_rc and NAME_out
# (stdout and stderr together) in the caller.
function(configure name)
  cmake_parse_arguments(ARG "" "" "ENV;ARGS" ${ARGN})
  execute_process(
    COMMAND ${ARG_ENV} ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/${name}
            -G ${GENERATOR} -DCMAKE_C_COMPILER=${C_COMPILER} ${ARG_ARGS}
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE out)
  message(STATUS "configure ${name}: exit ${rc}")
  set(${name}_rc "${rc}" PARENT_SCOPE)
  set(${name}_out "${out}" PARENT_SCOPE)
endfunction()

# Lines of `text` that match `regex`, counted.
function(count_lines text regex out_var)
  string(REPLACE "\n" ";" _lines "${text}")
  set(_n 0)
  foreach(_line IN LISTS _lines)
    if(_line MATCHES "${regex}")
      math(EXPR _n "${_n} + 1")
    endif()
  endforeach()
  set(${out_var} ${_n} PARENT_SCOPE)
endfunction()

# AUTO without a prerequisite: configure succeeds, one line names it.
# Checked for both prerequisites; `reason` must appear on that line.
macro(expect_tests_off name reason)
  if(NOT ${name}_rc EQUAL 0)
    check_failed("${name}: configure failed:\n${${name}_out}")
  endif()
  count_lines("${${name}_out}" "tests are off" _off_lines)
  count_lines("${${name}_out}" "tests are off: ${reason}" _reason_lines)
  if(NOT _off_lines EQUAL 1 OR NOT _reason_lines EQUAL 1)
    check_failed("${name}: expected one 'tests are off: ${reason}' line, "
                 "got ${_off_lines} lines:\n${${name}_out}")
  endif()
  if(EXISTS ${WORK_DIR}/${name}/tests/CTestTestfile.cmake)
    check_failed("${name}: the tests were configured all the same")
  endif()
endmacro()

# ON without a prerequisite: configure fails and names it.
macro(expect_error name pattern)
  if(${name}_rc EQUAL 0)
    check_failed("${name}: configure succeeded, an error was expected")
  endif()
  if(NOT ${name}_out MATCHES "${pattern}")
    check_failed("${name}: no '${pattern}' in:\n${${name}_out}")
  endif()
endmacro()

configure(auto_no_pkg_config ARGS ${_no_pkg_config})
expect_tests_off(auto_no_pkg_config "pkg-config")

configure(auto_no_cmocka ENV ${_no_cmocka_env})
expect_tests_off(auto_no_cmocka "cmocka")

configure(emulation_no_cmocka ENV ${_no_cmocka_env}
          ARGS -DXPOLL_KQUEUE_EMULATION=ON)
expect_tests_off(emulation_no_cmocka "cmocka")
if(EXISTS ${WORK_DIR}/emulation_no_cmocka/tests/kqemu/CTestTestfile.cmake)
  check_failed("emulation_no_cmocka: the fidelity suite was configured")
endif()

configure(on_no_pkg_config ARGS ${_no_pkg_config} -DXPOLL_BUILD_TESTS=ON)
expect_error(on_no_pkg_config "Could NOT find PkgConfig")

configure(on_no_cmocka ENV ${_no_cmocka_env} ARGS -DXPOLL_BUILD_TESTS=ON)
expect_error(on_no_cmocka "cmocka")

# Positive control: both present, AUTO configures the tests and is silent.
configure(auto_with_cmocka)
if(NOT auto_with_cmocka_rc EQUAL 0
   OR auto_with_cmocka_out MATCHES "tests are off"
   OR NOT EXISTS ${WORK_DIR}/auto_with_cmocka/tests/CTestTestfile.cmake)
  check_failed("auto_with_cmocka: the tests were not configured:\n"
               "${auto_with_cmocka_out}")
endif()

# The machine without pkg-config still builds the library and the examples.
if(auto_no_pkg_config_rc EQUAL 0)
  execute_process(
    COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/auto_no_pkg_config -j2
    RESULT_VARIABLE _build_rc
    OUTPUT_VARIABLE _build_out
    ERROR_VARIABLE _build_out)
  message(STATUS "build auto_no_pkg_config: exit ${_build_rc}")
  if(NOT _build_rc EQUAL 0)
    check_failed("auto_no_pkg_config: build failed:\n${_build_out}")
  endif()
  foreach(_file libxpoll.a examples/tcp_echo_server examples/tcp_echo_client)
    if(NOT EXISTS ${WORK_DIR}/auto_no_pkg_config/${_file})
      check_failed("auto_no_pkg_config: ${_file} was not built")
    endif()
  endforeach()
  file(GLOB _shared ${WORK_DIR}/auto_no_pkg_config/libxpoll.so*)
  if(NOT _shared)
    check_failed("auto_no_pkg_config: libxpoll.so was not built")
  endif()
endif()

if(_failures GREATER 0)
  message(FATAL_ERROR "${_failures} check(s) failed")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "all checks passed")

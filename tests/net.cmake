# Socket-helper and example tests.  Included at the end of
# tests/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/net.cmake)
# Paths are relative to this file, so it works from any including scope.
if(NOT TARGET PkgConfig::CMOCKA)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

add_executable(test_net ${CMAKE_CURRENT_LIST_DIR}/test_net.c)
target_link_libraries(test_net PRIVATE xpoll::xpoll_static PkgConfig::CMOCKA)
if(XPOLL_TEST_WRAPPER)
  # e.g. valgrind, as for the rest of the suite.
  set_target_properties(test_net PROPERTIES
    CROSSCOMPILING_EMULATOR "${XPOLL_TEST_WRAPPER}")
endif()
foreach(_backend IN LISTS XPOLL_TEST_BACKENDS)
  add_test(NAME test_net.${_backend} COMMAND test_net)
  set_tests_properties(test_net.${_backend} PROPERTIES
    ENVIRONMENT "XPOLL_BACKEND=${_backend}"
    TIMEOUT 60)
endforeach()

# The examples are tested end to end when they are built.
if(XPOLL_BUILD_EXAMPLES)
  add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/examples
                   ${CMAKE_CURRENT_BINARY_DIR}/examples)
endif()

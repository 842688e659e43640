include(GoogleTest)
find_package(GTest REQUIRED)

# hashmatch_add_test(NAME SOURCES... [GPU] [LIBS libs...])
# One executable per area; each test case is registered with CTest and labelled `cpu` or `gpu`.
# GPU tests skip (with the reason) without a device and fail when HASHMATCH_REQUIRE_GPU=1.
function(hashmatch_add_test name)
  cmake_parse_arguments(ARG "GPU" "" "LIBS" ${ARGN})
  add_executable(${name} ${ARG_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} hm_testutil GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
      HASHMATCH_TESTDATA_DIR="${HASHMATCH_TESTDATA_DIR}"
      HASHMATCH_BINARY="$<TARGET_FILE:hashmatch>")
  if(ARG_GPU)
    set(label gpu)
  else()
    set(label cpu)
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST PROPERTIES LABELS ${label}
                       DISCOVERY_TIMEOUT 60)
endfunction()

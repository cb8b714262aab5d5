# Intel SGX / TDX verification benchmark (issue 5). Include from bench/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/attest_intel.cmake)
# Run: bench_attest_intel "$CAIRN_SHARED_DIR" [SECONDS]
if(TARGET cairn_attest)
  add_executable(bench_attest_intel ${CMAKE_CURRENT_LIST_DIR}/attest_intel.c)
  target_link_libraries(bench_attest_intel PRIVATE cairn_attest)
endif()

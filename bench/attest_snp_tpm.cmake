# SEV-SNP / TPM verification benchmark (issue 5). Include from bench/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/attest_snp_tpm.cmake)
# Run: bench_attest_snp_tpm "$CAIRN_SHARED_DIR" [SECONDS]
if(TARGET cairn_attest)
  add_executable(bench_attest_snp_tpm ${CMAKE_CURRENT_LIST_DIR}/attest_snp_tpm.c)
  target_link_libraries(bench_attest_snp_tpm PRIVATE cairn_attest)
endif()
